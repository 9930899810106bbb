"""core.db: json_text (orjson's speed, json's answers), model_new, and the set-based writes (sql_copy_many stores what
sql_insert_many stores)."""

import datetime as dt
import json

import pytest
from django.test.utils import CaptureQueriesContext
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


def _model_new_pair():
    from decimal import Decimal

    from core.db import model_new
    from integrations.models import Order, Shop

    shop = Shop(pk=7, name="Shop")
    values = {"external_id": "A-1", "currency": "EUR", "total": Decimal("9.50"), "subtotal": Decimal("8")}
    return shop, model_new(Order, shop=shop, member=None, **values), Order(shop=shop, member=None, **values)


def _same_instance(fast, slow) -> None:
    """Every attribute the same, but the public id (each its own default); unsaved, the same related objects
    cached (the keyword path also picks the related object's database, which the insert sets)."""
    assert type(fast) is type(slow)
    assert {k: v for k, v in vars(fast).items() if k not in ("_state", "public_id")} == {
        k: v for k, v in vars(slow).items() if k not in ("_state", "public_id")
    }
    assert list(vars(fast)) == list(vars(slow))
    assert fast._state.adding and slow._state.adding and fast._state.fields_cache == slow._state.fields_cache
    assert fast.public_id != slow.public_id


def test_model_new_is_the_keyword_instance():
    shop, fast, slow = _model_new_pair()
    _same_instance(fast, slow)
    assert fast.shop is shop and fast.member is None and fast._state.adding and fast._state.db is None


def test_model_new_calls_init_when_someone_listens():
    from django.db.models.signals import post_init

    from integrations.models import Order

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Order)
    try:
        _shop, fast, slow = _model_new_pair()
    finally:
        post_init.disconnect(receiver, sender=Order)
    assert len(seen) == 2 and seen[0] is fast and seen[1] is slow
    _same_instance(fast, slow)


def test_model_new_refuses_unknown_names_and_a_field_given_twice():
    from core.db import model_new
    from integrations.models import Order, Shop

    with pytest.raises(TypeError, match="no field tax_, totl"):
        model_new(Order, totl=1, total=1, tax_=2)
    with pytest.raises(TypeError, match="shop is given twice"):
        model_new(Order, shop=Shop(pk=1), shop_id=1)


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


def _orders(shop, prefix: str, n: int = 3) -> list:
    """Unsaved orders whose values COPY's text format must escape or convert: tabs, newlines, backslashes,
    non-ASCII text, \\N, JSON with all of those, decimals, times in another zone with microseconds."""
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from core.db import model_new
    from integrations.models import Order

    odd = 'tab\there\nnew line\r\\back\\slash \\N café \U0001f600 "quoted"'
    return [
        model_new(
            Order,
            shop=shop,
            external_id=f"{prefix}-{i}",
            member=None,
            email=odd if i == 0 else "",
            currency="EUR",
            total=Decimal("12.30") + i,
            subtotal=Decimal("10"),
            tax=Decimal("2.3"),
            placed_at=dt.datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=ZoneInfo("Europe/Amsterdam")),
            lines=[{"sku": odd, "quantity": "1.5", "nested": {"n": 2**63 - 1, "none": None, "list": [1, "\\"]}}],
            coupon_codes=[odd] if i == 1 else [],
            breakdown={"points": 0, "note": odd, "int keys": {1: "one"}},
            status=Order.Status.UNMATCHED,
            fingerprint=f"{i:064d}",
        )
        for i in range(n)
    ]


def _stored(orders) -> list[dict]:
    from integrations.models import Order

    rows = Order.objects.filter(pk__in=[o.pk for o in orders]).order_by("pk").values()
    skip = {"id", "public_id", "external_id", "created_at", "updated_at"}
    return [{k: v for k, v in row.items() if k not in skip} for row in rows]


@pytest.mark.django_db
def test_copy_many_stores_what_insert_many_stores():
    from core.db import sql_copy_many, sql_insert_many
    from integrations.models import Shop

    shop = Shop.objects.create(name="Shop")
    inserted, copied = _orders(shop, "insert"), _orders(shop, "copy")
    sql_insert_many(inserted)
    sql_copy_many(copied)
    assert _stored(copied) == _stored(inserted)
    assert len(_stored(copied)) == 3
    assert [o.pk for o in copied] == sorted(o.pk for o in copied)  # in the objects' order, as RETURNING gave them
    assert all(not o._state.adding and o._state.db == "default" for o in copied)
    for order in copied:  # each instance names its own row
        stored = type(order).objects.get(pk=order.pk)
        assert (stored.external_id, stored.public_id, stored.created_at) == (
            order.external_id,
            order.public_id,
            order.created_at,
        )


@pytest.mark.postgres
@pytest.mark.django_db
def test_copy_many_keeps_the_pks_given_and_takes_the_others_from_the_sequence():
    from core.db import sql_copy_many, sql_next_ids
    from integrations.models import Order, Shop

    shop = Shop.objects.create(name="Shop")
    orders = _orders(shop, "mixed", 4)
    given = sql_next_ids(Order, 2)
    orders[1].pk, orders[3].pk = given
    sql_copy_many(orders)
    assert [orders[1].pk, orders[3].pk] == given
    assert len({o.pk for o in orders}) == 4
    assert set(Order.objects.filter(shop=shop).values_list("pk", "external_id")) == {
        (o.pk, o.external_id) for o in orders
    }


@pytest.mark.django_db
def test_copy_many_meets_a_duplicate_as_an_integrity_error_and_saves_nothing():
    from django.db import IntegrityError, transaction

    from core.db import sql_copy_many
    from integrations.models import Order, Shop

    shop = Shop.objects.create(name="Shop")
    sql_copy_many(_orders(shop, "dup", 1))
    again = _orders(shop, "dup", 2)  # dup-0 again, and a new dup-1
    with pytest.raises(IntegrityError), transaction.atomic():
        sql_copy_many(again)
    assert all(o.pk is None and o._state.adding for o in again)
    assert list(Order.objects.filter(shop=shop).values_list("external_id", flat=True)) == ["dup-0"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_copy_many_is_the_sequence_query_and_one_logged_copy():
    from django.db import connection

    from core.db import sql_copy_many
    from integrations.models import Shop

    shop = Shop.objects.create(name="Shop")
    with CaptureQueriesContext(connection) as queries:
        sql_copy_many(_orders(shop, "logged"))
    assert len(queries) == 2 and "nextval" in queries[0]["sql"]
    assert queries[1]["sql"].startswith('COPY "integrations_order" (') and queries[1]["sql"].endswith("FROM STDIN")


@pytest.mark.postgres
@pytest.mark.django_db
def test_next_ids_for_several_models_in_one_query(django_assert_num_queries):
    from core.db import sql_copy_many, sql_next_ids_for
    from integrations.models import Order, Shop
    from rewards.models import PointLot

    shop = Shop.objects.create(name="Shop")
    orders = _orders(shop, "ids", 3)
    with django_assert_num_queries(1):
        lot_ids, order_ids, none = sql_next_ids_for((PointLot, 2), (Order, 3), (Order, 0))
    assert len(set(lot_ids)) == 2 and len(set(order_ids)) == 3 and none == []
    assert order_ids == sorted(order_ids)
    for order, pk in zip(orders, order_ids, strict=True):
        order.pk = pk
    with django_assert_num_queries(1):  # the COPY alone: every pk given
        sql_copy_many(orders)
    assert sorted(Order.objects.filter(shop=shop).values_list("pk", flat=True)) == order_ids
    assert sql_next_ids_for((Order, 0)) == [[]]
