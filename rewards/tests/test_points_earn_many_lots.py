"""rewards.services.ledger.points_earn_many_lots: the lots of points_earn_many_with_lots, field by field, from the
same stored rows and in as many queries, without the entries; and the lots and entries both hand back are complete
saved instances (times in UTC, nothing left to load)."""

import datetime as dt
import uuid
import zoneinfo
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models.signals import post_init, pre_init
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.tests.factories import member_create
from rewards.models import PointEntry, PointLot, PointMovement, PointsAccount, Program
from rewards.selectors import ledger_audit
from rewards.services import ledger
from rewards.services.ledger import (
    Earning,
    _random_uuids,
    points_earn_many_lots,
    points_earn_many_with_lots,
    points_reverse,
)
from rewards.tests.helpers import SHOP, earn, redeem, set_program

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")


@pytest.fixture(autouse=True)
def _audit(db):
    yield
    assert ledger_audit() == []


def _fields(obj, *leave_out: str) -> dict:
    """Every column's value but `leave_out`, and the time zone of each time."""
    values = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.attname not in leave_out}
    return {**values, "zones": {k: v.tzinfo for k, v in values.items() if isinstance(v, dt.datetime)}}


def _stored() -> tuple[list, list, list]:
    """The ledger's rows, without ids and public ids (each call makes its own)."""
    lots = list(
        PointLot.objects.order_by("pk").values_list(
            "account_id", "points", "remaining", "state", "source", "source_ref", "available_at", "expires_at", "value"
        )
    )
    entries = list(
        PointEntry.objects.order_by("pk").values_list(
            "account_id", "kind", "available_change", "pending_change", "debt_change", "idempotency_key", "reason"
        )
    )
    movements = list(
        PointMovement.objects.order_by("pk").values_list(
            "entry__idempotency_key", "lot__points", "available_change", "pending_change"
        )
    )
    return lots, entries, movements


def _items(ana, piet, debtor, now) -> list[Earning]:
    later = (now + dt.timedelta(days=7)).astimezone(AMSTERDAM)  # given in another zone: handed back in UTC
    return [
        Earning(account=ana, points=10, source="order", actor=SHOP, idempotency_key="k1", reason="Order 1"),
        Earning(account=piet, points=20, source="order", actor=SHOP, idempotency_key="k2", available_at=later),
        Earning(account=ana, points=30, source="order", actor=SHOP, idempotency_key="first"),  # replayed
        Earning(account=debtor, points=50, source="order", actor=SHOP, idempotency_key="k4"),  # pays a debt
        Earning(account=piet, points=5, source="order", actor=SHOP, idempotency_key="k5", source_ref="o-5"),
    ]


@pytest.mark.parametrize("expiry", [Program.Expiry.END_OF_MONTH, Program.Expiry.NEVER])
def test_the_same_lots_rows_and_queries_as_with_lots(monkeypatch, expiry):
    set_program(
        pending_days=7,
        expiry_policy=expiry,
        expiry_period=3,
        time_zone="Europe/Amsterdam",
        reversal_policy=Program.ReversalPolicy.DEBT,
    )
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    ana, piet, debtor = (member_create().points_account for _ in range(3))
    earn(ana, 30, key="first")
    lot = earn(debtor, 30, key="d:earn")
    redeem(debtor, 30, key="d:spend")
    points_reverse(lot=lot, reason="refund", actor=SHOP, idempotency_key="d:rev")
    debtor.refresh_from_db()  # the caller's accounts say who owes a debt (checked again under the locks)

    def run(function) -> tuple:
        with transaction.atomic():
            with CaptureQueriesContext(connection) as queries:
                result = function(items=_items(ana, piet, debtor, now))
            lots = [lot for _, lot in result] if function is points_earn_many_with_lots else result
            # A new lot's id and public id differ from call to call (a sequence is not rolled back).
            seen = (
                [_fields(lot, "id", "public_id") for lot in lots],
                [lot.account for lot in lots],
                _stored(),
                len(queries),
            )
            transaction.set_rollback(True)
        for account in (ana, piet, debtor):
            account.refresh_from_db()
        return seen

    expected = run(points_earn_many_with_lots)
    assert run(points_earn_many_lots) == expected
    lots = expected[0]
    assert lots[1]["available_at"] == now + dt.timedelta(days=7) and lots[1]["state"] == PointLot.State.PENDING
    assert all(zone == dt.UTC for lot in lots for zone in lot["zones"].values())
    assert expected[1] == [ana, piet, ana, debtor, piet]


def test_the_new_lots_and_entries_are_saved_instances_with_nothing_left_to_load(django_assert_num_queries):
    set_program(pending_days=7, expiry_policy=Program.Expiry.DAYS, expiry_period=90)
    account = member_create().points_account
    items = [
        Earning(account=account, points=3, source="order", actor=SHOP, idempotency_key="k1"),
        Earning(
            account=account,
            points=4,
            source="order",
            actor=SHOP,
            idempotency_key="k2",
            available_at=timezone.now() + dt.timedelta(days=1),
        ),
    ]
    earned = points_earn_many_with_lots(items=items[:1])
    lots = points_earn_many_lots(items=items[1:])
    objects = [*earned[0], *lots]
    with django_assert_num_queries(0):
        for obj in objects:
            assert obj.get_deferred_fields() == set()
            assert (obj._state.adding, obj._state.db) == (False, connection.alias)
            assert obj.account is account
        assert earned[0][0].actor_user is None
    for obj in objects:
        assert _fields(obj) == _fields(type(obj).objects.get(pk=obj.pk))


def test_no_receiver_waits_for_the_ledgers_instances_being_made():
    """rewards.services.ledger._loaded makes the new lots and entries without __init__: no pre_init or post_init
    receiver may expect them."""
    for model in (PointLot, PointEntry):
        assert not pre_init.has_listeners(model) and not post_init.has_listeners(model)


def test_the_public_ids_made_for_a_batch_are_random_version_4_uuids():
    texts = _random_uuids(1000)
    uuids = [uuid.UUID(text) for text in texts]
    assert len(set(uuids)) == 1000 and all(len(text) == 32 for text in texts)
    assert {(u.version, u.variant) for u in uuids} == {(4, uuid.RFC_4122)}
    assert len({text[0] for text in texts}) == 16  # the bits left random take every value


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_accounts_are_locked_and_read_as_the_queryset_does():
    accounts = [member_create().points_account for _ in range(3)]
    pks = {account.pk for account in accounts[:2]}
    earn(accounts[0], 7)
    queryset = (
        PointsAccount.objects.filter(pk__in=pks).order_by("pk").values_list("pk", "member__status", *ledger._BALANCES)
    )
    with transaction.atomic():
        assert ledger._accounts_lock(pks) == list(queryset)

        def lock_from_elsewhere(pk) -> bool:
            try:
                with transaction.atomic():
                    PointsAccount.objects.select_for_update(no_key=True, nowait=True).get(pk=pk)
                return True
            except DatabaseError:
                return False
            finally:
                connection.close()

        with ThreadPoolExecutor(1) as pool:
            free = [pool.submit(lock_from_elsewhere, account.pk).result() for account in accounts]
    assert free == [False, False, True]  # the two asked for are held until the transaction ends


@pytest.mark.postgres
def test_on_postgresql_the_keys_used_are_found_as_the_queryset_finds_them():
    account = member_create().points_account
    earn(account, 5, key="used-1")
    earn(account, 6, key="used-2")
    assert ledger._keys_used(["used-2", "free", "used-1", 'it\'s "quoted"']) == {"used-1", "used-2"}
    assert ledger._keys_used([]) == set()
