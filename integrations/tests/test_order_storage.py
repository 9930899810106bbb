"""How orders are stored on PostgreSQL (integrations/0013)."""

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's column compression"),
]


def test_the_breakdown_and_lines_are_compressed_with_lz4():
    if connection.pg_version < 140000:
        pytest.skip("PostgreSQL 13 has one compression method")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, attcompression FROM pg_attribute "
            "WHERE attrelid = 'integrations_order'::regclass AND attname IN ('breakdown', 'lines')"
        )
        assert dict(cursor.fetchall()) == {"breakdown": "l", "lines": "l"}
