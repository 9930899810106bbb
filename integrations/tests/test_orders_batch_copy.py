"""The batch's orders written with core.db.sql_copy_many (COPY FROM STDIN) on PostgreSQL: a duplicate order that
another transaction commits meanwhile surfaces as Django's IntegrityError, as from an INSERT, so the batch falls back
to order_record one by one (the batch's own races: test_orders_batch)."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from core.db import sql_copy_many
from core.tests.concurrency import TIMEOUT, run_at_once
from integrations.models import Order
from integrations.services import orders_batch
from integrations.services.members import member_upsert
from integrations.services.orders import order_record
from integrations.services.orders_batch import orders_record_batch
from integrations.tests.test_orders_batch import _validated, body
from rewards.models import PointEntry
from rewards.selectors import ledger_audit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _order(shop, external_id: str) -> Order:
    from core.db import model_new

    return model_new(
        Order,
        shop=shop,
        external_id=external_id,
        member=None,
        currency="EUR",
        total=10,
        subtotal=10,
        placed_at="2026-11-01T10:00:00+00:00",
        status=Order.Status.UNMATCHED,
        fingerprint="f" * 64,
    )


def test_a_duplicate_committed_meanwhile_is_an_integrity_error(shop):
    inserted, committed = threading.Event(), threading.Event()

    def first():
        try:
            with transaction.atomic():
                sql_copy_many([_order(shop, "o-1")])
                inserted.set()
                assert committed.wait(TIMEOUT)  # holds its row until the second copy waits on it
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert inserted.wait(TIMEOUT)
    timer = threading.Timer(0.5, committed.set)  # the second copy below waits on the first's row, then fails
    timer.start()
    with pytest.raises(IntegrityError), transaction.atomic():
        sql_copy_many([_order(shop, "o-2"), _order(shop, "o-1")])
    thread.join(TIMEOUT)
    timer.cancel()
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["o-1"]


def test_a_batch_that_meets_a_committed_order_falls_back_to_one_by_one(shop, rules):
    member_upsert(shop=shop, external_id="cust-1", email="m1@example.com")
    orders = _validated([body(f"o-{i}") for i in range(3)])
    first = orders_batch._orders_insert

    def insert_after_a_rival(*, shop, accepted):  # o-1 lands between the batch's look for it and its insert
        run_at_once(1, lambda _: order_record(shop=shop, data=orders[1]))
        return first(shop=shop, accepted=accepted)

    orders_batch._orders_insert = insert_after_a_rival
    try:
        results = orders_record_batch(shop=shop, orders=orders)
    finally:
        orders_batch._orders_insert = first
    assert [(r.external_id, r.status) for r in results] == [("o-0", 201), ("o-1", 200), ("o-2", 201)]
    assert Order.objects.count() == 3 and PointEntry.objects.filter(kind="earn").count() == 3
    assert ledger_audit() == []
