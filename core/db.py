"""Small database helpers that the ORM does not offer on both SQLite and PostgreSQL."""

import uuid

from django.db import connection


def sql_random_uuid() -> str:
    """SQL that makes a fresh UUID per row, stored the way Django's UUIDField stores it on this backend."""
    if connection.vendor == "postgresql":
        return "gen_random_uuid()"
    return "lower(hex(randomblob(16)))"  # SQLite keeps UUIDs as 32 hex characters


def sql_value(value):
    """A Python value adapted for a raw query parameter (SQLite keeps datetimes as UTC text)."""
    if hasattr(value, "tzinfo"):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, uuid.UUID):
        return value if connection.vendor == "postgresql" else value.hex
    return value


def sql_update_from_values(table: str, *, columns: list[str], rows: list[tuple], set_sql: str, params=()) -> int:
    """Update many rows of `table`, each with its own values, in one statement:
    `WITH v (id, <columns>) AS (VALUES ...) UPDATE <table> AS t SET <set_sql> FROM v WHERE t.id = v.id`.
    Each row is (id, *values); `set_sql` names the old row `t` and the new values `v` (e.g.
    "points = t.points + v.points") and may take `params`. PostgreSQL, and SQLite from 3.33. Returns rows updated."""
    if not rows:
        return 0
    row_sql = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v (id, {', '.join(columns)}) AS (VALUES {', '.join([row_sql] * len(rows))}) "
            f"UPDATE {table} AS t SET {set_sql} FROM v WHERE t.id = v.id",
            [value for row in rows for value in row] + list(params),
        )
        return cursor.rowcount
