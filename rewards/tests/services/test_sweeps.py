"""The periodic sweeps (lots_release_due, lots_expire_due) and the release_expire command that runs them.

They are set-based: one entry per account, one movement per lot. Time moves by passing `now`."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from members.tests.factories import member_create
from rewards.models import PointEntry, PointLot, PointMovement, PointsAccount, Program
from rewards.selectors import ledger_audit
from rewards.services.ledger import lots_expire_due, lots_release_due, points_release
from rewards.tests.helpers import SYSTEM, balances, counters, earn, new_key, redeem, set_program

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def later(days: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=days)


def entries(kind: str) -> dict[int, PointEntry]:
    """{account pk: entry} of one kind (the sweeps write at most one per account and run)."""
    found = list(PointEntry.objects.filter(kind=kind))
    assert len({e.account_id for e in found}) == len(found)
    return {e.account_id: e for e in found}


def movement_of(lot: PointLot, kind: str) -> tuple[int, int]:
    m = PointMovement.objects.get(lot=lot, entry__kind=kind)
    return m.available_change, m.pending_change


class TestReleaseDue:
    def test_lots_whose_return_window_closed_become_available(self, account, other_account):
        due_a, due_b = earn(account, 30, pending_days=14), earn(account, 20, pending_days=7)
        not_yet = earn(account, 500, pending_days=30)
        due_c = earn(other_account, 40, pending_days=14)
        earn(other_account, 5)
        third = member_create().points_account
        earn(third, 70, pending_days=30)  # nothing due here

        released = lots_release_due(now=later(15))

        assert released == 3
        for lot in (due_a, due_b, due_c, not_yet):
            lot.refresh_from_db()
        assert (due_a.state, due_b.state, due_c.state, not_yet.state) == ("available",) * 3 + ("pending",)
        assert movement_of(due_a, "release") == (30, -30) and movement_of(due_c, "release") == (40, -40)
        by_account = entries("release")
        assert set(by_account) == {account.pk, other_account.pk}
        release = by_account[account.pk]
        assert (release.available_change, release.pending_change) == (50, -50)
        assert (release.actor_kind, release.reason) == ("system", "Return window closed")
        assert release.movements.count() == 2
        assert balances(account) == counters(available=50, pending=500, lifetime_earned=550)
        assert balances(other_account) == counters(available=45, lifetime_earned=45)
        assert balances(third) == counters(pending=70, lifetime_earned=70)
        assert ledger_audit() == []

    def test_running_again_changes_nothing(self, account):
        earn(account, 30, pending_days=14)
        now = later(15)
        assert lots_release_due(now=now) == 1
        before = (PointEntry.objects.count(), PointMovement.objects.count())

        assert lots_release_due(now=now) == 0
        assert (PointEntry.objects.count(), PointMovement.objects.count()) == before
        assert balances(account)["available"] == 30

    def test_a_lot_is_due_at_the_very_instant_its_window_closes(self, account):
        lot = earn(account, 30, pending_days=14)
        assert lots_release_due(now=lot.available_at - dt.timedelta(microseconds=1)) == 0
        assert lots_release_due(now=lot.available_at) == 1

    def test_a_lot_released_early_is_not_released_again(self, account):
        early, due = earn(account, 30, pending_days=14), earn(account, 20, pending_days=14)
        points_release(lot=early, actor=SYSTEM, idempotency_key=new_key())

        assert lots_release_due(now=later(15)) == 1

        assert movement_of(early, "release") == (30, -30)  # exactly one release movement each
        assert movement_of(due, "release") == (20, -20)
        assert balances(account) == counters(available=50, lifetime_earned=50)
        assert ledger_audit() == []

    def test_many_accounts_are_done_in_chunks_with_progress(self):
        accounts = [member_create().points_account for _ in range(7)]
        for i, account in enumerate(accounts):
            for _ in range(i % 3 + 1):
                earn(account, 10, pending_days=2)
        total = sum(i % 3 + 1 for i in range(7))
        seen = []

        assert lots_release_due(now=later(3), chunk_size=2, progress=seen.append) == total

        assert seen == sorted(seen) and seen[-1] == total and len(seen) > 1
        assert not PointLot.objects.filter(state="pending").exists()
        assert [balances(a)["available"] for a in accounts] == [(i % 3 + 1) * 10 for i in range(7)]
        assert ledger_audit() == []


class TestExpireDue:
    def test_available_lots_past_their_expiry_expire(self, account, other_account):
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=30)
        spent_part = earn(account, 100)
        redeem(account, 60)
        whole = earn(account, 25)
        pending = earn(account, 50, pending_days=40)  # past its expiry but never released: not expired
        spent = earn(other_account, 10)
        redeem(other_account, 10)
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=90)
        fresh = earn(account, 70)

        expired = lots_expire_due(now=later(31))

        assert expired == 2
        for lot in (spent_part, whole, pending, spent, fresh):
            lot.refresh_from_db()
        assert [(lot.state, lot.remaining) for lot in (spent_part, whole, pending, spent, fresh)] == [
            ("expired", 0),
            ("expired", 0),
            ("pending", 50),
            ("spent", 0),
            ("available", 70),
        ]
        assert movement_of(spent_part, "expire") == (-40, 0) and movement_of(whole, "expire") == (-25, 0)
        assert set(entries("expire")) == {account.pk}
        entry = entries("expire")[account.pk]
        assert (entry.available_change, entry.reason, entry.actor_kind) == (-65, "Points expired", "system")
        assert balances(account) == counters(
            available=70, pending=50, lifetime_earned=245, lifetime_redeemed=60, lifetime_expired=65
        )
        assert balances(other_account) == counters(lifetime_earned=10, lifetime_redeemed=10)
        assert ledger_audit() == []

    def test_a_lot_expires_at_the_very_instant_of_its_expiry_and_only_once(self, account):
        set_program(expiry_policy=Program.Expiry.END_OF_MONTH, expiry_period=0)
        lot = earn(account, 30)
        assert lots_expire_due(now=lot.expires_at - dt.timedelta(microseconds=1)) == 0
        assert lots_expire_due(now=lot.expires_at) == 1
        assert lots_expire_due(now=lot.expires_at + DAY) == 0
        assert balances(account) == counters(lifetime_earned=30, lifetime_expired=30)
        assert PointEntry.objects.filter(kind="expire").count() == 1

    def test_a_pending_lot_released_after_its_expiry_expires_on_the_next_run(self, account):
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=10)
        lot = earn(account, 30, pending_days=20)
        assert lots_expire_due(now=later(15)) == 0
        lots_release_due(now=later(21))
        assert lots_expire_due(now=later(21)) == 1
        lot.refresh_from_db()
        assert lot.state == "expired" and balances(account)["lifetime_expired"] == 30

    def test_points_that_never_expire_stay(self, account):
        earn(account, 30)
        assert lots_expire_due(now=later(3650)) == 0
        assert balances(account)["available"] == 30

    def test_chunks_cover_every_account(self):
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=1)
        accounts = [member_create().points_account for _ in range(5)]
        for account in accounts:
            earn(account, 10)
            earn(account, 5)
        seen = []
        assert lots_expire_due(now=later(2), chunk_size=3, progress=seen.append) == 10
        assert seen[-1] == 10 and len(seen) > 1
        assert all(balances(a) == counters(lifetime_earned=15, lifetime_expired=15) for a in accounts)
        assert ledger_audit() == []


class TestInactivityExpiry:
    def make_inactive(self, account, months: int = 13) -> None:
        """The member was last active `months` months ago (nothing else about the account changes)."""
        PointsAccount.objects.filter(pk=account.pk).update(last_activity_at=later(-31 * months))

    def test_all_available_points_of_an_inactive_member_expire_and_pending_ones_stay(self, account, other_account):
        set_program(expiry_policy=Program.Expiry.INACTIVITY, expiry_period=12)
        a, b, pending = earn(account, 100), earn(account, 40), earn(account, 60, pending_days=3)
        redeem(account, 30)
        earn(other_account, 80)  # active now
        self.make_inactive(account)

        expired = lots_expire_due()

        assert expired == 2
        for lot in (a, b, pending):
            lot.refresh_from_db()
        assert (a.state, b.state, pending.state) == ("expired", "expired", "pending")
        entry = entries("expire")[account.pk]
        assert (entry.available_change, entry.reason) == (-110, "Expired after inactivity")
        assert balances(account) == counters(
            pending=60, lifetime_earned=200, lifetime_redeemed=30, lifetime_expired=110
        )
        assert balances(other_account) == counters(available=80, lifetime_earned=80)
        assert set(entries("expire")) == {account.pk}
        assert ledger_audit() == []

    def test_a_member_active_within_the_period_keeps_the_points(self, account):
        set_program(expiry_policy=Program.Expiry.INACTIVITY, expiry_period=12)
        earn(account, 100)
        self.make_inactive(account, months=11)
        assert lots_expire_due() == 0
        assert balances(account)["available"] == 100

    def test_spending_counts_as_activity(self, account):
        set_program(expiry_policy=Program.Expiry.INACTIVITY, expiry_period=12)
        earn(account, 100)
        self.make_inactive(account)
        redeem(account, 10)  # back after 13 months
        assert lots_expire_due() == 0
        assert balances(account)["available"] == 90

    def test_an_inactive_member_with_nothing_available_gets_no_entry(self, account):
        set_program(expiry_policy=Program.Expiry.INACTIVITY, expiry_period=12)
        earn(account, 100)
        redeem(account, 100)
        earn(account, 20, pending_days=3)
        self.make_inactive(account)
        assert lots_expire_due() == 0
        assert not PointEntry.objects.filter(kind="expire").exists()

    def test_chunks_cover_every_inactive_member(self):
        set_program(expiry_policy=Program.Expiry.INACTIVITY, expiry_period=12)
        accounts = [member_create().points_account for _ in range(5)]
        for account in accounts:
            earn(account, 10)
            self.make_inactive(account)
        assert lots_expire_due(chunk_size=2) == 5
        assert all(balances(a)["available"] == 0 for a in accounts)
        assert ledger_audit() == []


def test_release_expire_command_runs_both_sweeps_and_reports(account):
    set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=0)  # due to expire when earned
    earn(account, 30)
    earn(account, 20)
    set_program(expiry_policy=Program.Expiry.NEVER)
    pending = earn(account, 50, pending_days=1)
    PointLot.objects.filter(pk=pending.pk).update(available_at=later(-1))  # its return window has closed
    out = StringIO()

    call_command("release_expire", stdout=out)

    assert "Released 1 lots, expired 2 lots." in out.getvalue()
    assert balances(account) == counters(available=50, lifetime_earned=100, lifetime_expired=50)
    assert ledger_audit() == []
