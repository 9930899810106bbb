"""Small database helpers that the ORM does not offer on both SQLite and PostgreSQL."""

import contextlib
import datetime as dt
import functools
import json
import operator
import uuid
from decimal import Decimal

import orjson
import psycopg
from django.db import connection
from django.db.models import DateField, DateTimeField, Field, Model
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init


def sql_random_uuid() -> str:
    """SQL that makes a fresh UUID per row, stored the way Django's UUIDField stores it on this backend."""
    if connection.vendor == "postgresql":
        return "gen_random_uuid()"
    return "lower(hex(randomblob(16)))"  # SQLite keeps UUIDs as 32 hex characters


@contextlib.contextmanager
def server_bound_cursor():
    """PostgreSQL: a cursor whose parameters travel apart from the SQL (server-side binding), wrapped as
    connection.cursor() wraps its own (queries counted and logged, errors translated). Django's cursors quote
    every parameter into the SQL text in Python; for a batch's few big statements (a 1.5 MB JSON payload, arrays
    of 500 values) that quoting, and PostgreSQL reading it back out of the SQL, cost more than the values'
    own conversion. Same SQL, same %s placeholders."""
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = psycopg.Cursor(connection.connection)
    wrapped = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    with wrapped as cursor:
        yield cursor


def sql_value(value):
    """A Python value adapted for a raw query parameter (SQLite keeps datetimes as UTC text)."""
    if hasattr(value, "tzinfo"):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, uuid.UUID):
        return value if connection.vendor == "postgresql" else value.hex
    return value


def sql_update_from_values(
    table: str, *, columns: list[str], rows: list[tuple], set_sql: str, params=(), types: list[str] | None = None
) -> int:
    """Update many rows of `table`, each with its own values, in one statement:
    `WITH v (id, <columns>) AS (VALUES ...) UPDATE <table> AS t SET <set_sql> FROM v WHERE t.id = v.id`.
    Each row is (id, *values); `set_sql` names the old row `t` and the new values `v` (e.g.
    "points = t.points + v.points") and may take `params`. PostgreSQL, and SQLite from 3.33. Returns rows updated.
    With `types` (the PostgreSQL types of id and each column), on PostgreSQL the rows travel as one JSON
    parameter (json_to_recordset): one parameter instead of one per value, which psycopg splits and quotes one
    by one."""
    if not rows:
        return 0
    names = ", ".join(columns)
    if types is not None and connection.vendor == "postgresql":
        if len(types) != len(columns) + 1:
            raise ValueError("give a type for id and for each column")
        keys = ["id", *columns]
        record = ", ".join(f"{key} {t}" for key, t in zip(keys, types, strict=True))
        with server_bound_cursor() as cursor:
            cursor.execute(
                f"WITH v AS (SELECT * FROM json_to_recordset(%s::json) AS v ({record})) "
                f"UPDATE {table} AS t SET {set_sql} FROM v WHERE t.id = v.id",
                [sql_json_rows([dict(zip(keys, row, strict=True)) for row in rows]), *params],
            )
            return cursor.rowcount
    row_sql = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v (id, {names}) AS (VALUES {', '.join([row_sql] * len(rows))}) "
            f"UPDATE {table} AS t SET {set_sql} FROM v WHERE t.id = v.id",
            [value for row in rows for value in row] + list(params),
        )
        return cursor.rowcount


def sql_json_rows(rows: list[dict]) -> str:
    """Rows for PostgreSQL's json_to_recordset, as JSON text: ids, numbers, texts, None, UUIDs and aware
    datetimes as orjson writes them (PostgreSQL reads them back exactly), Decimals as their text. For rows by
    the hundred, cheaper to send and to read than an array per column."""
    return orjson.dumps(rows, default=_json_decimal).decode()


def _json_decimal(value) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not sent as JSON")


def sql_insert_many(objs: list) -> None:
    """Insert unsaved instances of one model as bulk_create does (pre_save, each field's database value, the
    pks set from RETURNING, in the objects' order), cheaper in Python for hundreds of JSON-heavy rows. On
    PostgreSQL the rows travel as one JSON parameter (jsonb_to_recordset): bulk_create sends each column as
    an array, and psycopg quotes every JSON value into its array text with a regular expression per quote
    (more time than the rest of a batch's insert), and 10,000 placeholders take psycopg long to split. On
    SQLite: multi-row VALUES, split where bulk_create splits (its parameter limit)."""
    if not objs:
        return
    opts = objs[0]._meta
    pk = opts.pk
    fields = [
        f for f in opts.concrete_fields if not f.generated and not (f is pk and getattr(objs[0], f.attname) is None)
    ]
    returning = pk not in fields
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # related objects saved since
    rows = [[f.pre_save(obj, True) for f in fields] for obj in objs]
    table = connection.ops.quote_name(opts.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    suffix = f" RETURNING {connection.ops.quote_name(pk.column)}" if returning else ""
    pks = []
    if connection.vendor == "postgresql" and not any(getattr(f, "encoder", None) for f in fields):
        names = [f"c{i}" for i in range(len(fields))]
        record = ", ".join(f"{name} {f.db_type(connection)}" for name, f in zip(names, fields, strict=True))
        convert = [_json_value_of(f) for f in fields]
        payload = [
            {name: to_json(value) for name, to_json, value in zip(names, convert, row, strict=True)} for row in rows
        ]
        with server_bound_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {', '.join(names)} "
                f"FROM jsonb_to_recordset(%s::jsonb) AS r({record}){suffix}",
                [json_text(payload)],
            )
            pks = cursor.fetchall() if returning else []
    else:
        size = connection.ops.bulk_batch_size(fields, objs) or len(objs)
        row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        with connection.cursor() as cursor:
            for start in range(0, len(rows), size):
                chunk = rows[start : start + size]
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_sql] * len(chunk))}{suffix}",
                    [f.get_db_prep_save(v, connection) for row in chunk for f, v in zip(fields, row, strict=True)],
                )
                if returning:
                    pks += cursor.fetchall()
    for i, obj in enumerate(objs):
        if returning:
            setattr(obj, pk.attname, pks[i][0])
        obj._state.adding = False
        obj._state.db = connection.alias


def sql_copy_many(objs: list) -> None:
    """Insert unsaved instances of one model as sql_insert_many does (pre_save, each field's database value,
    pks set in the objects' order), with PostgreSQL's COPY FROM STDIN: rows as text, each JSON value parsed once
    by the server, where sql_insert_many's one big JSON parameter is parsed whole and then taken apart again
    (for a batch's 500 orders, 1.5 MB). COPY returns nothing: instances without a pk get theirs from the
    model's sequence beforehand (sql_next_ids: one query more, ascending in the objects' order). Errors are
    Django's (a duplicate key is an IntegrityError, as from an INSERT), and the COPY is logged as a query when
    queries are. SQLite, and JSON fields with an encoder of their own: sql_insert_many."""
    if not objs:
        return
    opts = objs[0]._meta
    fields = [f for f in opts.concrete_fields if not f.generated]
    if connection.vendor != "postgresql" or any(getattr(f, "encoder", None) for f in fields):
        sql_insert_many(objs)
        return
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # related objects saved since
    pk = opts.pk
    pk_attname = pk.attname
    unsaved = [i for i, obj in enumerate(objs) if getattr(obj, pk_attname) is None]
    new_pks = dict(zip(unsaved, sorted(sql_next_ids(type(objs[0]), len(unsaved))), strict=True))
    columns = []
    for f in fields:
        if f is pk and new_pks:
            values = [new_pks.get(i, getattr(obj, pk_attname)) for i, obj in enumerate(objs)]
        elif _pre_save_reads(f):
            values = list(map(operator.attrgetter(f.attname), objs))
        else:
            values = [f.pre_save(obj, True) for obj in objs]
        columns.append(_copy_text(f, values))
    quote = connection.ops.quote_name
    sql = f"COPY {quote(opts.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    connection.validate_no_broken_transaction()
    with server_bound_cursor() as cursor:
        logged = cursor.debug_sql(sql) if connection.queries_logged else contextlib.nullcontext()
        with logged, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            for row in zip(*columns, strict=True):
                copy.write_row(row)
    for i, obj in enumerate(objs):
        if i in new_pks:
            setattr(obj, pk_attname, new_pks[i])
        obj._state.adding = False
        obj._state.db = connection.alias


def _pre_save_reads(field) -> bool:
    """Whether field.pre_save(obj, add=True) only reads the attribute (no auto_now time to fill in)."""
    pre_save = type(field).pre_save
    if pre_save is Field.pre_save:
        return True
    dated = pre_save is DateTimeField.pre_save or pre_save is DateField.pre_save
    return dated and not field.auto_now and not field.auto_now_add


_COPY_AS_IS = frozenset({int, str, type(None)})  # written by psycopg as PostgreSQL reads them, for any column


def _copy_text(field, values: list) -> list:
    """A column's values for COPY's text format: JSON as json_text writes it (None: NULL, as Django stores it),
    the rest as in sql_insert_many's JSON (the field's database value, in text PostgreSQL reads back exactly).
    A column of one common type is converted at once, without a call per value of ours."""
    if field.get_internal_type() == "JSONField":
        return [None if value is None else json_text(value) for value in values]
    kinds = set(map(type, values))
    if kinds <= _COPY_AS_IS and (str not in kinds or not field.is_relation):
        return values
    if kinds == {Decimal} or kinds == {uuid.UUID}:
        return list(map(str, values))
    if kinds == {dt.datetime} and None not in map(dt.datetime.utcoffset, values):
        return list(map(dt.datetime.isoformat, values))
    to_text = _json_value_of(field)
    return [to_text(value) for value in values]


_AS_IS = frozenset({int, str, bool, type(None)})
_ORJSON_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS  # as json: refused


def json_text(value) -> str:
    """Compact JSON text of `value` for PostgreSQL to read, as json.dumps(value, separators=(",", ":")) would
    give it but for the spelling of non-ASCII text (UTF-8 here, escapes there: the same JSON). orjson writes a
    batch's payload several times faster; what it refuses (integer keys, integers beyond 64 bits, types json
    refuses too) goes to json, which converts or refuses it as before."""
    try:
        return orjson.dumps(value, option=_ORJSON_STRICT).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))


def _json_value_of(field):
    """How a value of `field` travels inside sql_insert_many's JSON: JSON columns as they are, the rest as the
    field's database value in text that PostgreSQL's input functions read back exactly. Values of the common
    types skip the field's conversion, which would hand them back unchanged (it took half the insert's time)."""
    if field.get_internal_type() == "JSONField":
        return lambda value: value

    def to_json(value):
        kind = type(value)
        if kind is int or value is None or (kind in _AS_IS and not field.is_relation):
            return value
        if kind is dt.datetime and value.tzinfo is not None:
            return value.isoformat()
        if kind is Decimal or kind is uuid.UUID:
            return str(value)
        value = field.get_db_prep_save(value, connection)
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, dt.datetime | dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, Decimal | uuid.UUID):
            return str(value)
        raise TypeError(f"sql_insert_many cannot send {type(value).__name__} ({field})")

    return to_json


def model_new(model, **values):
    """A new, unsaved instance of `model`, as model(**values) makes it (defaults for what is not given), for
    rows written by the hundred (a batch's orders): no keyword checks, no related-object descriptors. Values are
    by attname, and a related object by its field's name (shop=shop): it is cached on the instance and its pk
    taken, as the keyword path does. When nothing can tell (no pre_init or post_init receivers, fields stored
    as they are set), the instance is filled in as Model.__init__ fills it, without calling it: that call was
    a third of the time left (500 orders: 10.7 -> 7.0 ms)."""
    fields, attnames, by_name, fill_in = _model_parts(model)
    given = [_UNSET] * len(fields)
    related = []
    for name, value in values.items():
        if name not in by_name:
            unknown = ", ".join(sorted(set(values) - by_name.keys()))
            raise TypeError(f"{model.__name__} has no field {unknown}")
        i, relation = by_name[name]
        if given[i] is not _UNSET:
            raise TypeError(f"{model.__name__}.{fields[i].name} is given twice")
        if relation is not None:
            related.append((relation, value))
            value = None if value is None else value.pk
        given[i] = value
    for i, value in enumerate(given):
        if value is _UNSET:
            given[i] = fields[i].get_default()
    if fill_in and not pre_init.receivers and not post_init.receivers:
        obj = model.__new__(model)
        obj._state = ModelState()
        obj.__dict__.update(zip(attnames, given, strict=True))
    else:
        obj = model(*given)  # positional: no keyword checks, no related-object descriptors
    for field, related_obj in related:
        field.set_cached_value(obj, related_obj)
    return obj


_UNSET = object()
_STORED_AS_SET = (DeferredAttribute, ForeignKeyDeferredAttribute)


@functools.cache
def _model_parts(model) -> tuple:
    """model_new's view of a model (its fields never change): the concrete fields, their attnames, each
    field's position by attname and a relation's by name (with the field), and whether an instance may be
    filled in directly: Model's own __init__ and __setattr__, and every field stored as it is set (Django's
    DeferredAttribute; a foreign key's descriptor only drops a cached object, which a new instance has not)."""
    fields = tuple(model._meta.concrete_fields)
    by_name = {}
    for i, field in enumerate(fields):
        by_name[field.attname] = (i, None)
        if field.is_relation:
            by_name[field.name] = (i, field)
    fill_in = (
        model.__init__ is Model.__init__
        and model.__setattr__ is object.__setattr__
        and not model._meta.abstract
        and all(type(getattr(model, f.attname, None)) in _STORED_AS_SET for f in fields)
    )
    return fields, tuple(f.attname for f in fields), by_name, fill_in


def sql_insert_parts(obj, *, sql_for: dict[str, str] | None = None) -> tuple[str, list]:
    """`INSERT INTO <table> (<columns>) VALUES (<placeholders>)` and its parameters for one unsaved instance,
    as save() would write it (pre_save fills auto_now fields), for composing one statement out of several
    inserts. The pk is left to the database unless the instance has one already. `sql_for` maps a field's
    attname to an SQL expression written in place of its value (no parameter). After running it,
    sql_inserted() gives the instance its pk."""
    opts = obj._meta
    fields = [
        f for f in opts.concrete_fields if not f.generated and not (f is opts.pk and getattr(obj, f.attname) is None)
    ]
    obj._prepare_related_fields_for_save(operation_name="save")
    sql_for = sql_for or {}
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields if f.attname not in sql_for]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(sql_for.get(f.attname, "%s") for f in fields)
    return f"INSERT INTO {connection.ops.quote_name(opts.db_table)} ({columns}) VALUES ({placeholders})", params


def sql_inserted(obj, pk: int) -> None:
    """Mark an instance inserted by raw SQL as saved, with its new pk."""
    setattr(obj, obj._meta.pk.attname, pk)
    obj._state.adding = False
    obj._state.db = connection.alias


def sql_insert(obj, *, sql_for: dict[str, str] | None = None) -> None:
    """Insert a new instance as obj.save(force_insert=True) would, but with no ORM compiling and no
    signals: for rows every request writes (an order), whose models no receiver listens to. `sql_for`: as
    sql_insert_parts; the values those expressions gave are read back into the instance."""
    sql, params = sql_insert_parts(obj, sql_for=sql_for)
    given = list(sql_for or ())
    quote = connection.ops.quote_name
    returning = ", ".join(quote(obj._meta.get_field(name).column) for name in [obj._meta.pk.name, *given])
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {returning}", params)
        pk, *values = cursor.fetchone()
    for name, value in zip(given, values, strict=True):
        setattr(obj, name, value)
    sql_inserted(obj, pk)


def sql_next_ids(model, n: int) -> list[int]:
    """PostgreSQL: `n` ids taken in advance from the sequence of `model`'s pk, for rows inserted later in the
    transaction (an id taken and never used only leaves a gap)."""
    if n <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql_next_id(model)} FROM generate_series(1, %s)",
            [n],
        )
        return [row[0] for row in cursor.fetchall()]


def sql_next_ids_for(*wanted: tuple) -> list[list[int]]:
    """PostgreSQL: sql_next_ids for several models in one query: sql_next_ids_for((PointLot, 3), (Order, 500))
    gives [3 lot ids, 500 order ids], each list ascending (e.g. orders given their pks before sql_copy_many,
    which then needs no query of its own for them)."""
    parts, params = [], []
    for i, (model, n) in enumerate(wanted):
        if n > 0:
            parts.append(f"SELECT {i}, {sql_next_id(model)} FROM generate_series(1, %s)")
            params.append(n)
    ids: list[list[int]] = [[] for _ in wanted]
    if not parts:
        return ids
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for i, pk in cursor.fetchall():
            ids[i].append(pk)
    return [sorted(each) for each in ids]


def sql_next_id(model) -> str:
    """PostgreSQL: the SQL expression that takes the next id of `model`'s pk from its sequence."""
    opts = model._meta
    return f"nextval(pg_get_serial_sequence('{opts.db_table}', '{opts.pk.column}'))"


def rows_older_than(rows, cutoff, field: str = "created_at") -> list[dict]:
    """The rows (read in id order, e.g. after a cursor) up to the first one written after `cutoff`. Readers that
    follow a table by id stop there: a transaction that took an earlier id may still commit, and reading past
    it would skip that row for good."""
    kept = []
    for row in rows:
        if row[field] > cutoff:
            break
        kept.append(row)
    return kept
