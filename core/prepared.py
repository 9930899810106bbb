"""Reads that every order makes, with their SQL compiled once per database connection.

Turning a queryset into SQL costs Django more CPU than PostgreSQL spends running a lookup by a unique
key (profiled: 0.5-0.9 ms per select_related query, most of an order's database-layer time). A
PreparedSelect compiles its queryset once per connection, with sample values standing in for the real
ones, and then only swaps the values in: the same SQL, the same model instances (select_related objects
and annotations included) as the queryset gives.

On PostgreSQL the statement is also prepared on the server (PREPARE, once per connection, sent with the first
EXECUTE in one round trip), so PostgreSQL plans it once too: planning the customer lookup (three tables and
a subquery) took 0.6 ms of the server's CPU, running it by its unique key less than 0.1 ms. A prepared
statement outlives a rolled-back transaction; one whose PREPARE failed is prepared again under a new name.
Behind a pooler that hands one client's statements to several server sessions (PgBouncer in transaction
mode), set DATABASE_SERVER_PREPARE=0 (the setting PREPARED_SELECTS_ON_SERVER).
"""

import itertools
import uuid
from collections.abc import Callable
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet
from django.db.models.query import get_related_populators


class PreparedSelect:
    """`build(*values)` returns the queryset for those values; `samples` are values of the same types that
    no real lookup uses, to find where each value goes in the SQL's parameters. Values may be int, str or
    UUID, each compared by equality as the database receives it."""

    def __init__(self, build: Callable[..., QuerySet], *samples):
        self.build = build
        self.samples = samples
        self._plans: WeakKeyDictionary = WeakKeyDictionary()
        self._prepared: WeakKeyDictionary = WeakKeyDictionary()  # server connection -> statement name

    def first(self, *values):
        """The first instance the queryset for `values` gives, or None."""
        rows = self.all(*values)
        return rows[0] if rows else None

    def all(self, *values) -> list:
        db = connections[DEFAULT_DB_ALIAS]
        plan = self._plans.get(db) or self._prepare(db)
        sql, params, slots, compiler, converters, model, init_list, populators, annotations, on_server = plan
        with db.cursor() as cursor:
            if on_server is None:
                params = list(params)
                for position, index, as_hex in slots:
                    value = values[index]
                    params[position] = value.hex if as_hex else value
                cursor.execute(sql, params)
            else:
                self._execute_prepared(db, cursor, on_server, [values[index] for _, index, _ in slots])
            rows = cursor.fetchall()
        if converters:
            rows = list(compiler.apply_converters(rows, converters))
        start, end = init_list[0], init_list[1]
        objects = []
        for row in rows:
            obj = model.from_db(db.alias, init_list[2], row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in annotations:
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects

    def _execute_prepared(self, db, cursor, on_server: tuple[str, list], values: list) -> None:
        """EXECUTE the statement with the slots' values, after its PREPARE in the same query the first time on
        this server connection (the cursor is then moved to the EXECUTE's rows)."""
        prepare_sql, constants = on_server
        server = db.connection
        name = self._prepared.get(server)
        arguments = ", ".join(["%s"] * len(values))
        if name is not None:
            cursor.execute(f"EXECUTE {name}({arguments})", values)
            return
        name = f"prepared_select_{next(_names)}"
        cursor.execute(f"PREPARE {name} AS {prepare_sql}; EXECUTE {name}({arguments})", [*constants, *values])
        cursor.nextset()
        self._prepared[server] = name

    def _prepare(self, db) -> tuple:
        compiler = self.build(*self.samples).query.get_compiler(connection=db)
        sql, params = compiler.as_sql()  # also fills compiler.select, klass_info and annotation_col_map
        slots = []
        for index, sample in enumerate(self.samples):
            found = [
                (position, index, isinstance(sample, uuid.UUID) and param == sample.hex)
                for position, param in enumerate(params)
                if param == sample or (isinstance(sample, uuid.UUID) and param == sample.hex)
            ]
            if len(found) != 1:
                raise ValueError(f"sample {sample!r} appears {len(found)} times in the parameters of {sql}")
            slots += found
        select, klass_info = compiler.select, compiler.klass_info
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        init_list = (start, end, [column[0].target.attname for column in select[start:end]])
        converters = compiler.get_converters([column[0] for column in select])
        plan = (
            sql,
            tuple(params),
            slots,
            compiler,
            converters,
            klass_info["model"],
            init_list,
            get_related_populators(klass_info, select, db.alias),
            tuple(compiler.annotation_col_map.items()),
            _on_server(sql, params, slots) if _on_server_wanted(db) else None,
        )
        self._plans[db] = plan
        return plan


_names = itertools.count(1)  # statement names, unique in the process


def _on_server_wanted(db) -> bool:
    return db.vendor == "postgresql" and settings.PREPARED_SELECTS_ON_SERVER


def _on_server(sql: str, params, slots) -> tuple[str, list]:
    """The statement to PREPARE, with $1, $2... for the slots (in slot order) and %s for the other parameters,
    and those parameters' values (constants of the query, quoted into the PREPARE)."""
    numbers = {position: n for n, (position, _, _) in enumerate(slots, start=1)}
    pieces = sql.replace("%%", "\0").split("%s")
    if len(pieces) != len(params) + 1:
        raise ValueError(f"cannot find the parameters of {sql}")
    out = [pieces[0]]
    for position, piece in enumerate(pieces[1:]):
        out.append(f"${numbers[position]}" if position in numbers else "%s")
        out.append(piece)
    constants = [value for position, value in enumerate(params) if position not in numbers]
    return "".join(out).replace("\0", "%%"), constants
