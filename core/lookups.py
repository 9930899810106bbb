"""`field__any_of=values`: `field IN values` for lists by the hundred (a batch's orders, members, events).

Django writes `field__in` with one placeholder per value; for 500 values, building those and psycopg splitting
them out of the SQL again cost the Python process more than the query itself. On PostgreSQL `any_of` sends
the list as one array parameter (`field = ANY(%s)`); elsewhere it is `field__in`. Same rows either way.
"""

from django.db.models import Field, ForeignObject, Lookup
from django.db.models.lookups import In


class AnyOf(Lookup):
    lookup_name = "any_of"

    def get_prep_lookup(self):
        field = self.lhs.output_field
        # Model instances by their pk, as __in takes them.
        return [field.get_prep_value(v.pk if hasattr(v, "_meta") else v) for v in self.rhs]

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql":
            return In(self.lhs, self.rhs).as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(v, connection, prepared=True) for v in self.rhs]
        return f"{lhs} = ANY(%s)", [*lhs_params, values]


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)  # related fields look lookups up on their own class
