"""core.db.json_text: orjson's speed, json's answers."""

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.db import json_text

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_reads_back_as_json_writes_it(value):
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


def test_what_orjson_refuses_goes_to_json():
    assert json_text({1: "integer key"}) == '{"1":"integer key"}'
    assert json_text([2**70]) == f"[{2**70}]"


def test_what_json_refuses_is_refused():
    with pytest.raises(TypeError):
        json_text({"at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)})


def test_text_choices_are_their_values():
    from integrations.models import Order

    assert json_text([Order.Status.AWARDED]) == '["awarded"]'


def test_model_new_is_the_keyword_instance():
    from decimal import Decimal

    from core.db import model_new
    from integrations.models import Order, Shop

    shop = Shop(pk=7, name="Shop")
    values = {"external_id": "A-1", "currency": "EUR", "total": Decimal("9.50"), "subtotal": Decimal("8")}
    fast, slow = model_new(Order, shop=shop, member=None, **values), Order(shop=shop, member=None, **values)
    same = [f.attname for f in Order._meta.concrete_fields if f.attname != "public_id"]
    assert [getattr(fast, name) for name in same] == [getattr(slow, name) for name in same]
    assert fast.shop is shop and fast.member is None and fast._state.adding
    assert fast.public_id != slow.public_id  # each its own default


def test_model_new_refuses_unknown_names():
    from core.db import model_new
    from integrations.models import Order

    with pytest.raises(TypeError, match="no field totl"):
        model_new(Order, totl=1)


def test_json_rows_are_what_postgresql_reads_back():
    import uuid
    from decimal import Decimal

    from core.db import sql_json_rows

    at, uid = dt.datetime(2026, 11, 23, 3, 4, 5, 6, tzinfo=dt.UTC), uuid.uuid4()
    rows = json.loads(sql_json_rows([{"id": 1, "uid": uid, "at": at, "value": Decimal("1.50"), "none": None}]))
    assert rows == [{"id": 1, "uid": str(uid), "at": "2026-11-23T03:04:05.000006+00:00", "value": "1.50", "none": None}]
    with pytest.raises(TypeError):
        sql_json_rows([{"x": object()}])


@pytest.mark.django_db
def test_update_from_values_with_types(django_user_model):
    from core.db import sql_update_from_values

    users = [django_user_model.objects.create(email=f"u{i}@example.com") for i in range(3)]
    updated = sql_update_from_values(
        django_user_model._meta.db_table,
        columns=["email"],
        types=["bigint", "text"],
        rows=[(users[0].pk, "ann@example.com"), (users[2].pk, "céline@example.com")],
        set_sql="email = v.email",
    )
    from django.db import connection

    if connection.vendor == "postgresql":  # SQLite's driver gives no count for an UPDATE under WITH
        assert updated == 2
    emails = [u.email for u in django_user_model.objects.filter(pk__in=[u.pk for u in users]).order_by("pk")]
    assert emails == ["ann@example.com", "u1@example.com", "céline@example.com"]
