"""Locking on PostgreSQL: real threads, each with its own database connection, hitting the ledger at once.

On SQLite these tests skip (conftest.py): its writers are serialised by the database file lock."""

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.tests.concurrency import TIMEOUT, run_at_once
from members.tests.factories import member_create
from rewards.models import PointEntry, PointLot, PointMovement, PointsAccount, Program
from rewards.selectors import ledger_audit
from rewards.services.ledger import (
    Actor,
    lots_expire_due,
    lots_release_due,
    points_earn,
    points_redeem,
    points_transfer,
)
from rewards.tests.helpers import SHOP, balances, counters, earn, set_program

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def codes(results: list) -> Counter:
    """How the calls ended: 'ok', an ApplicationError code, or the type of any other exception."""
    return Counter(
        "ok" if not isinstance(r, Exception) else r.code if isinstance(r, ApplicationError) else type(r).__name__
        for r in results
    )


def in_days(days: int) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=days)


def test_twenty_redemptions_at_once_spend_exactly_the_balance(account):
    earn(account, 30)
    earn(account, 20)  # 50 points in two lots: enough for 5 redemptions of 10

    results = run_at_once(
        20,
        lambda i: points_redeem(account=account, points=10, reason="Reward", actor=SHOP, idempotency_key=f"r-{i}"),
    )

    assert codes(results) == {"ok": 5, "insufficient_points": 15}
    assert balances(account) == counters(lifetime_earned=50, lifetime_redeemed=50)
    assert PointEntry.objects.filter(kind="redeem").count() == 5
    assert set(PointLot.objects.values_list("state", flat=True)) == {"spent"}
    assert ledger_audit() == []


def test_twenty_replays_of_one_earn_write_one_entry(account):
    def earn_once(i):
        return points_earn(
            account=account, points=100, source="order", actor=SHOP, idempotency_key="shop-1:order-42"
        ).pk

    results = run_at_once(20, earn_once)

    assert codes(results) == {"ok": 20}
    assert len(set(results)) == 1
    assert PointEntry.objects.filter(idempotency_key="shop-1:order-42").count() == 1
    assert PointLot.objects.count() == 1
    assert balances(account) == counters(available=100, lifetime_earned=100)
    assert ledger_audit() == []


def test_twenty_replays_of_one_redemption_debit_once(account):
    earn(account, 100)

    def redeem_once(i):
        return points_redeem(account=account, points=30, reason="Reward", actor=SHOP, idempotency_key="basket-7").pk

    results = run_at_once(20, redeem_once)

    assert codes(results) == {"ok": 20}
    assert len(set(results)) == 1
    assert PointEntry.objects.filter(kind="redeem").count() == 1
    assert balances(account) == counters(available=70, lifetime_earned=100, lifetime_redeemed=30)
    assert ledger_audit() == []


@pytest.fixture
def many_accounts(db):
    """40 members with 8 lots each (320 lots): pending 14 days, expiring 30 days after earning."""
    set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=30)
    with transaction.atomic():  # one commit for the set-up
        accounts = [member_create().points_account for _ in range(40)]
        for account in accounts:
            for points in range(1, 9):
                earn(account, points, pending_days=14)
    return accounts


def test_two_release_sweeps_at_once_release_each_lot_once(many_accounts):
    now = in_days(15)

    results = run_at_once(2, lambda i: lots_release_due(now=now, chunk_size=40))

    assert codes(results) == {"ok": 2}
    assert sum(results) == 320
    assert_each_lot_moved_once("release")
    assert not PointLot.objects.filter(state="pending").exists()
    assert PointEntry.objects.filter(kind="release").count() == 40  # one per account: its lots went together
    for account in many_accounts:
        assert balances(account) == counters(available=36, lifetime_earned=36)  # 1 + 2 + ... + 8
    assert ledger_audit() == []


def test_two_expiry_sweeps_at_once_expire_each_lot_once(many_accounts):
    lots_release_due(now=in_days(15))
    now = in_days(31)

    results = run_at_once(2, lambda i: lots_expire_due(now=now, chunk_size=40))

    assert codes(results) == {"ok": 2}
    assert sum(results) == 320
    assert_each_lot_moved_once("expire")
    assert set(PointLot.objects.values_list("state", flat=True)) == {"expired"}
    for account in many_accounts:
        assert balances(account) == counters(lifetime_earned=36, lifetime_expired=36)
    assert PointEntry.objects.filter(kind="expire").count() == 40  # one per account: its lots went together
    assert ledger_audit() == []


def assert_each_lot_moved_once(kind: str) -> None:
    per_lot = Counter(PointMovement.objects.filter(entry__kind=kind).values_list("lot_id", flat=True))
    assert len(per_lot) == PointLot.objects.count() == 320
    assert set(per_lot.values()) == {1}


def test_opposite_transfers_at_once_do_not_deadlock(account, other_account):
    set_program(transfers_enabled=True)
    earn(account, 1000)
    earn(other_account, 1000)
    pair = [(account, other_account), (other_account, account)]

    def send(i):
        giver, receiver = pair[i % 2]
        for n in range(10):
            points_transfer(
                source=giver,
                target=receiver,
                points=7,
                reason="Gift",
                actor=Actor.member(giver.member.user),
                idempotency_key=f"gift-{i}-{n}",
            )

    results = run_at_once(4, send)

    assert codes(results) == {"ok": 4}
    assert PointEntry.objects.filter(kind="transfer").count() == 4 * 10 * 2  # an out and an in entry each
    assert (balances(account)["available"], balances(other_account)["available"]) == (1000, 1000)
    assert ledger_audit() == []


def wait_for_lock_waiters(n: int = 1) -> None:
    """Until `n` other connections are waiting on a row lock."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= n:
                return
        time.sleep(0.02)
    raise AssertionError("nobody ever waited on the lock")


@pytest.mark.parametrize("chunk_size", [5000, 1])
def test_an_inactive_member_who_comes_back_while_the_sweep_waits_keeps_the_points(account, other_account, chunk_size):
    """The sweep picks the inactive accounts, then waits for the lock of one whose member is spending
    right now: under the lock it sees the activity, leaves that account alone and carries on."""
    set_program(expiry_policy=Program.Expiry.INACTIVITY, expiry_period=12)
    back, away = sorted([account, other_account], key=lambda a: a.pk)  # the sweep reaches `back` first
    earn(back, 100)
    earn(away, 100)
    PointsAccount.objects.update(last_activity_at=in_days(-400))
    locked, sweep_waits = threading.Event(), threading.Event()
    results = {}

    def member_comes_back():
        try:
            with transaction.atomic():
                PointsAccount.objects.select_for_update(no_key=True).get(pk=back.pk)
                locked.set()
                assert sweep_waits.wait(TIMEOUT)
                points_redeem(account=back, points=10, reason="Reward", actor=SHOP, idempotency_key="back")
        finally:
            connection.close()

    def sweep():
        try:
            results["expired"] = lots_expire_due(chunk_size=chunk_size)
        finally:
            connection.close()

    member = threading.Thread(target=member_comes_back)
    member.start()
    assert locked.wait(TIMEOUT)
    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    wait_for_lock_waiters()
    sweep_waits.set()
    member.join(TIMEOUT)
    sweeper.join(TIMEOUT)

    assert results["expired"] == 1
    assert balances(back) == counters(available=90, lifetime_earned=100, lifetime_redeemed=10)
    assert balances(away) == counters(lifetime_earned=100, lifetime_expired=100)
    assert ledger_audit() == []


@pytest.mark.parametrize("table", ["rewards_pointentry", "rewards_pointmovement"])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET entry_id = entry_id", "DELETE FROM {table}"])
def test_the_database_refuses_to_change_or_delete_ledger_rows(account, table, statement):
    earn(account, 10)
    sql = statement.format(table=table)
    if table == "rewards_pointentry":
        sql = sql.replace("entry_id = entry_id", "reason = 'rewritten'")

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)

    assert PointEntry.objects.filter(reason="rewritten").count() == 0
    assert PointMovement.objects.count() == PointEntry.objects.count() == 1


def test_the_orm_cannot_rewrite_an_entry_either(account):
    earn(account, 10)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PointEntry.objects.update(available_change=1000)
    assert PointEntry.objects.get().available_change == 10
