"""Refunds never take points twice: what expired from a lot is not charged again, and transferred
points, fully refunded spent lots and closed accounts are treated the way a member would expect."""

import datetime as dt

import pytest
from django.utils import timezone

from members.services import member_close
from rewards.models import PointEntry, PointLot, Program
from rewards.selectors import ledger_audit
from rewards.services.ledger import Actor, lots_expire_due, points_reverse, points_transfer
from rewards.tests.helpers import balances, earn, lot_of, new_key, redeem, set_program

pytestmark = pytest.mark.django_db


def refund(lot: PointLot, points: int | None = None):
    return points_reverse(lot=lot, points=points, reason="Refund", actor=Actor.shop("shop"), idempotency_key=new_key())


def expire_all_due_in(days: int) -> int:
    return lots_expire_due(now=timezone.now() + dt.timedelta(days=days))


@pytest.mark.parametrize("policy", ["balance", "debt"])
def test_refunding_an_expired_lot_takes_nothing_else(account, policy):
    set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=30, reversal_policy=policy)
    order = earn(account, 100)
    set_program(expiry_policy=Program.Expiry.NEVER)
    earn(account, 50)  # a later order whose points do not expire
    assert expire_all_due_in(31) == 1

    entry = refund(order)

    assert (entry.available_change, entry.debt_change) == (0, 0)
    assert entry.details["already_lost"] == 100
    assert balances(account)["available"] == 50
    assert ledger_audit() == []


def test_a_refund_charges_only_the_part_that_was_spent_not_the_part_that_expired(account):
    set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=30, reversal_policy="debt")
    order = earn(account, 100)
    redeem(account, 60)
    expire_all_due_in(31)  # the other 40 expire
    set_program(expiry_policy=Program.Expiry.NEVER)
    earn(account, 25)

    first = refund(order, 30)  # covered by the 40 that expired
    second = refund(order, 70)  # 10 more expired points, then 60 that were spent

    assert (first.details["already_lost"], first.available_change, first.debt_change) == (30, 0, 0)
    assert second.details["already_lost"] == 10
    assert (second.details["from_balance"], second.details["debt"]) == (25, 35)
    assert balances(account)["debt"] == 35
    order.refresh_from_db()
    assert order.state == "expired"
    assert ledger_audit() == []


def test_a_spent_lot_refunded_in_full_is_marked_reversed(account):
    order = earn(account, 100)
    redeem(account, 100)
    refund(order)
    order.refresh_from_db()
    assert (order.state, order.remaining, order.reversed_points) == ("reversed", 0, 100)


def test_reversing_transferred_points_does_not_unearn_them(account, other_account):
    set_program(transfers_enabled=True)
    earn(account, 80)
    points_transfer(
        source=account, target=other_account, points=80, reason="Gift", actor=Actor.system(), idempotency_key="gift"
    )
    gift = lot_of(PointEntry.objects.get(idempotency_key="gift:in"))
    refund(gift)
    assert balances(other_account)["lifetime_earned"] == 0
    assert balances(other_account)["available"] == 0


def test_transferred_points_without_expiry_do_not_gain_one(account, other_account):
    earn(account, 80)  # earned while points never expire
    set_program(transfers_enabled=True, expiry_policy=Program.Expiry.DAYS, expiry_period=30)
    points_transfer(
        source=account, target=other_account, points=80, reason="Gift", actor=Actor.system(), idempotency_key="g"
    )
    assert PointLot.objects.get(account=other_account).expires_at is None


def test_a_refund_on_a_closed_account_records_no_debt(account):
    set_program(reversal_policy="debt")
    order = earn(account, 100)
    redeem(account, 100)
    member_close(member=account.member, actor=Actor.system())

    entry = refund(order)

    assert (entry.debt_change, entry.details["written_off"]) == (0, 100)
    assert balances(account)["debt"] == 0


def test_joining_counts_as_activity_for_the_inactivity_policy(account):
    assert account.last_activity_at is not None
