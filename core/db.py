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
