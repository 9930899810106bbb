"""The points ledger services (rewards.services.ledger), one class per service.

Each service: the happy path with its side effects on the account, lots, entries and movements; each
refusal (nothing changes); the idempotent replay (same key: same entry, nothing changes) and the key
reused for something else (409 idempotency_conflict).
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from members.services import member_close
from members.tests.factories import member_create
from rewards.models import PointEntry, PointLot, Program
from rewards.selectors import ledger_audit
from rewards.services.ledger import (
    Actor,
    points_adjust,
    points_earn,
    points_expire,
    points_redeem,
    points_release,
    points_reverse,
    points_transfer,
)
from rewards.tests.helpers import (
    SHOP,
    SYSTEM,
    balances,
    counters,
    earn,
    ledger_counts,
    lot_of,
    new_key,
    redeem,
    refused,
    set_program,
    staff_user,
)

pytestmark = pytest.mark.django_db

INVALID_POINTS = [0, -5, 2.5, True, "10", None]


def moves(entry: PointEntry) -> dict:
    """{lot pk: (available change, pending change)} of one entry."""
    return {m.lot_id: (m.available_change, m.pending_change) for m in entry.movements.all()}


def refresh(*lots: PointLot) -> None:
    for lot in lots:
        lot.refresh_from_db()


def set_status(account, status: str) -> None:
    member = account.member
    member.status = status
    member.save()


# --- points_earn ---------------------------------------------------------------------------------


class TestEarn:
    def test_available_points_make_one_lot_one_entry_and_one_movement(self, account):
        set_program(currency="GBP")
        entry = points_earn(
            account=account,
            points=120,
            source=PointLot.Source.ORDER,
            source_ref="order-1",
            actor=SHOP,
            idempotency_key="shop:order-1",
            reason="Order #1",
            value=Decimal("1.2"),
        )

        lot = lot_of(entry)
        assert (entry.kind, entry.available_change, entry.pending_change, entry.points) == ("earn", 120, 0, 120)
        assert (entry.actor_kind, entry.actor_ref, entry.reason) == ("shop", "web-shop", "Order #1")
        assert (lot.state, lot.points, lot.remaining, lot.source, lot.source_ref) == (
            "available",
            120,
            120,
            "order",
            "order-1",
        )
        assert (lot.value, lot.value_currency, lot.expires_at) == (Decimal("1.2"), "GBP", None)
        assert lot.available_at == lot.earned_at
        assert moves(entry) == {lot.pk: (120, 0)}
        assert account.available == 120  # the caller's object shows the new balance
        assert balances(account) == counters(
            available=120, pending=0, debt=0, lifetime_earned=120, lifetime_redeemed=0, lifetime_expired=0
        )
        assert account.last_activity_at == lot.earned_at
        assert ledger_audit() == []

    def test_points_in_the_return_window_are_pending_until_it_closes(self, account):
        until = timezone.now() + dt.timedelta(days=14)
        entry = points_earn(
            account=account, points=80, source="order", actor=SHOP, idempotency_key=new_key(), available_at=until
        )

        lot = lot_of(entry)
        assert (lot.state, lot.available_at) == ("pending", until)
        assert (entry.available_change, entry.pending_change) == (0, 80)
        assert moves(entry) == {lot.pk: (0, 80)}
        assert balances(account) == counters(
            available=0, pending=80, debt=0, lifetime_earned=80, lifetime_redeemed=0, lifetime_expired=0
        )
        assert ledger_audit() == []

    def test_a_return_window_already_closed_gives_available_points(self, account):
        past = timezone.now() - dt.timedelta(days=1)
        entry = points_earn(
            account=account, points=30, source="order", actor=SHOP, idempotency_key=new_key(), available_at=past
        )
        assert lot_of(entry).state == "available"
        assert (balances(account)["available"], balances(account)["pending"]) == (30, 0)

    def test_the_lot_expires_as_the_program_says(self, account):
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=30)
        lot = earn(account, 10)
        assert lot.expires_at == lot.earned_at + dt.timedelta(days=30)

    @pytest.mark.parametrize("points", INVALID_POINTS)
    def test_points_must_be_a_whole_number_above_zero(self, account, points):
        with refused("invalid_points", 400):
            points_earn(account=account, points=points, source="order", actor=SHOP, idempotency_key=new_key())
        assert ledger_counts() == (0, 0, 0)

    def test_a_closed_member_earns_nothing(self, account):
        earn(account, 10)
        member_close(member=account.member, actor=SYSTEM)
        before = ledger_counts()
        with refused("member_not_active", 422):
            earn(account, 50)
        assert ledger_counts() == before
        assert balances(account)["available"] == 0

    def test_a_suspended_member_still_earns(self, account):
        set_status(account, "suspended")
        earn(account, 50)
        assert balances(account)["available"] == 50

    def test_replaying_the_key_returns_the_first_entry_and_changes_nothing(self, account):
        first = points_earn(account=account, points=70, source="order", actor=SHOP, idempotency_key="shop:order-9")
        before, counters = ledger_counts(), balances(account)

        again = points_earn(account=account, points=70, source="order", actor=SHOP, idempotency_key="shop:order-9")

        assert again.pk == first.pk
        assert ledger_counts() == before
        assert balances(account) == counters

    def test_the_key_reused_for_other_points_another_account_or_another_operation_is_a_conflict(
        self, account, other_account
    ):
        points_earn(account=account, points=70, source="order", actor=SHOP, idempotency_key="shop:order-9")
        redeem(account, 5, key="redeem-1")
        before = ledger_counts()

        with refused("idempotency_conflict", 409) as info:
            points_earn(account=account, points=71, source="order", actor=SHOP, idempotency_key="shop:order-9")
        assert info.value.extra == {"idempotency_key": "shop:order-9"}
        with refused("idempotency_conflict", 409):
            points_earn(account=other_account, points=70, source="order", actor=SHOP, idempotency_key="shop:order-9")
        with refused("idempotency_conflict", 409):
            points_earn(account=account, points=5, source="order", actor=SHOP, idempotency_key="redeem-1")

        assert ledger_counts() == before
        assert balances(account)["available"] == 65 and balances(other_account)["available"] == 0


# --- points_redeem -------------------------------------------------------------------------------


class TestRedeem:
    def test_soonest_expiring_lots_are_spent_first_and_lots_without_expiry_last(self, account):
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=30)
        late = earn(account, 100)
        set_program(expiry_policy=Program.Expiry.NEVER)
        never = earn(account, 100)
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=10)
        soon = earn(account, 50)

        first = redeem(account, 120)
        refresh(late, never, soon)
        assert moves(first) == {soon.pk: (-50, 0), late.pk: (-70, 0)}
        assert (soon.state, soon.remaining) == ("spent", 0)
        assert (late.state, late.remaining) == ("available", 30)
        assert never.remaining == 100

        second = redeem(account, 60)
        refresh(late, never)
        assert moves(second) == {late.pk: (-30, 0), never.pk: (-30, 0)}
        assert (late.state, never.remaining) == ("spent", 70)
        assert ledger_audit() == []

    def test_lots_expiring_at_the_same_time_are_spent_oldest_first(self, account):
        set_program(expiry_policy=Program.Expiry.END_OF_MONTH, expiry_period=3)
        older, newer = earn(account, 40), earn(account, 40)
        assert older.expires_at == newer.expires_at

        entry = redeem(account, 50)
        assert moves(entry) == {older.pk: (-40, 0), newer.pk: (-10, 0)}

    def test_redemption_debits_the_account_and_counts_as_activity(self, account):
        earn(account, 100)
        account.refresh_from_db()
        active_before = account.last_activity_at

        entry = points_redeem(
            account=account,
            points=35,
            reason="5 EUR off",
            actor=Actor.member(account.member.user),
            idempotency_key="r1",
        )

        assert (entry.kind, entry.available_change, entry.reason, entry.actor_kind) == (
            "redeem",
            -35,
            "5 EUR off",
            "member",
        )
        assert entry.actor_user == account.member.user
        assert account.available == 65  # the caller's object shows the new balance
        assert balances(account) == counters(
            available=65, pending=0, debt=0, lifetime_earned=100, lifetime_redeemed=35, lifetime_expired=0
        )
        assert account.last_activity_at > active_before
        assert ledger_audit() == []

    def test_pending_points_cannot_be_spent_and_a_refusal_changes_nothing(self, account):
        earn(account, 100)
        earn(account, 500, pending_days=14)
        before, counters = ledger_counts(), balances(account)

        with refused("insufficient_points", 422) as info:
            redeem(account, 150)

        assert info.value.extra == {"available": 100, "requested": 150}
        assert ledger_counts() == before and balances(account) == counters

    def test_all_available_points_can_be_spent(self, account):
        lot = earn(account, 100)
        redeem(account, 100)
        lot.refresh_from_db()
        assert (lot.state, lot.remaining, balances(account)["available"]) == ("spent", 0, 0)

    @pytest.mark.parametrize("status", ["suspended", "closed"])
    def test_a_suspended_or_closed_member_cannot_redeem(self, account, status):
        earn(account, 100)
        set_status(account, status)
        with refused("member_not_active", 422):
            redeem(account, 10)
        assert balances(account)["available"] == 100

    @pytest.mark.parametrize("points", INVALID_POINTS)
    def test_points_must_be_a_whole_number_above_zero(self, account, points):
        earn(account, 100)
        with refused("invalid_points", 400):
            redeem(account, points)
        assert balances(account)["available"] == 100

    def test_replay_returns_the_first_entry_and_debits_once(self, account):
        earn(account, 100)
        first = redeem(account, 30, key="basket-1")
        before = ledger_counts()

        again = redeem(account, 30, key="basket-1")

        assert again.pk == first.pk
        assert ledger_counts() == before
        assert balances(account)["available"] == 70 and balances(account)["lifetime_redeemed"] == 30

    def test_the_key_reused_for_another_amount_or_account_is_a_conflict(self, account, other_account):
        earn(account, 100)
        earn(other_account, 100)
        redeem(account, 30, key="basket-1")

        with refused("idempotency_conflict", 409):
            redeem(account, 31, key="basket-1")
        with refused("idempotency_conflict", 409):
            redeem(other_account, 30, key="basket-1")
        assert balances(account)["available"] == 70 and balances(other_account)["available"] == 100


# --- points_reverse ------------------------------------------------------------------------------


def reverse(lot: PointLot, points: int | None = None, *, key: str | None = None) -> PointEntry:
    return points_reverse(lot=lot, points=points, reason="Refund", actor=SHOP, idempotency_key=key or new_key("rev"))


@pytest.fixture
def partly_spent(account):
    """An order's lot of 100 of which 70 were spent, and a later lot of 50 untouched."""
    order = earn(account, 100, source_ref="order-1")
    later = earn(account, 50)
    redeem(account, 70)
    order.refresh_from_db()
    assert order.remaining == 30
    return order, later


class TestReverse:
    def test_reversing_an_unspent_lot_takes_its_points_back(self, account):
        lot = earn(account, 100)

        entry = reverse(lot)

        lot.refresh_from_db()
        assert (entry.kind, entry.available_change, entry.debt_change) == ("reverse", -100, 0)
        assert entry.details == {
            "requested": None,
            "lot": str(lot.public_id),
            "reversed": 100,
            "from_lot": 100,
            "already_lost": 0,
            "from_balance": 0,
            "debt": 0,
            "written_off": 0,
        }
        assert moves(entry) == {lot.pk: (-100, 0)}
        assert (lot.state, lot.remaining, lot.reversed_points) == ("reversed", 0, 100)
        assert balances(account) == counters(
            available=0, pending=0, debt=0, lifetime_earned=0, lifetime_redeemed=0, lifetime_expired=0
        )
        assert ledger_audit() == []

    def test_a_partial_refund_leaves_the_rest_of_the_lot_spendable(self, account):
        lot = earn(account, 100)

        reverse(lot, 40)
        lot.refresh_from_db()
        assert (lot.state, lot.remaining, lot.reversed_points) == ("available", 60, 40)
        assert balances(account)["available"] == 60

        rest = reverse(lot)  # None: all that is left to reverse
        lot.refresh_from_db()
        assert rest.details["reversed"] == 60
        assert (lot.state, lot.remaining, lot.reversed_points) == ("reversed", 0, 100)
        assert balances(account)["available"] == 0 and balances(account)["lifetime_earned"] == 0

    def test_reversing_a_pending_lot_takes_pending_points(self, account):
        lot = earn(account, 80, pending_days=14)
        entry = reverse(lot, 30)
        assert moves(entry) == {lot.pk: (0, -30)}
        assert (balances(account)["pending"], balances(account)["available"]) == (50, 0)
        assert ledger_audit() == []

    def test_lot_policy_writes_off_what_was_spent(self, account, partly_spent):
        set_program(reversal_policy=Program.ReversalPolicy.LOT)
        order, later = partly_spent

        entry = reverse(order)

        refresh(order, later)
        assert {k: entry.details[k] for k in ("reversed", "from_lot", "from_balance", "debt", "written_off")} == {
            "reversed": 100,
            "from_lot": 30,
            "from_balance": 0,
            "debt": 0,
            "written_off": 70,
        }
        assert moves(entry) == {order.pk: (-30, 0)}
        assert (order.state, order.remaining, order.reversed_points) == ("reversed", 0, 100)
        assert later.remaining == 50
        assert (balances(account)["available"], balances(account)["debt"]) == (50, 0)
        assert ledger_audit() == []

    def test_balance_policy_takes_the_rest_from_other_points_down_to_zero(self, account, partly_spent):
        set_program(reversal_policy=Program.ReversalPolicy.BALANCE)
        order, later = partly_spent

        entry = reverse(order)

        refresh(later)
        assert {k: entry.details[k] for k in ("from_lot", "from_balance", "debt", "written_off")} == {
            "from_lot": 30,
            "from_balance": 50,
            "debt": 0,
            "written_off": 20,
        }
        assert moves(entry) == {order.pk: (-30, 0), later.pk: (-50, 0)}
        assert (later.state, later.remaining) == ("spent", 0)
        assert balances(account) == counters(
            available=0, pending=0, debt=0, lifetime_earned=50, lifetime_redeemed=70, lifetime_expired=0
        )
        assert ledger_audit() == []

    def test_balance_policy_when_the_balance_covers_the_whole_shortfall(self, account):
        set_program(reversal_policy=Program.ReversalPolicy.BALANCE)
        order = earn(account, 100)
        later = earn(account, 200)
        redeem(account, 70)

        entry = reverse(order)

        assert (entry.details["from_lot"], entry.details["from_balance"], entry.details["written_off"]) == (30, 70, 0)
        assert moves(entry) == {order.pk: (-30, 0), later.pk: (-70, 0)}
        assert balances(account)["available"] == 130

    def test_balance_policy_does_not_touch_pending_points(self, account, partly_spent):
        set_program(reversal_policy=Program.ReversalPolicy.BALANCE)
        order, _ = partly_spent
        pending = earn(account, 500, pending_days=14)

        entry = reverse(order)

        pending.refresh_from_db()
        assert entry.details["written_off"] == 20 and pending.remaining == 500
        assert (balances(account)["available"], balances(account)["pending"]) == (0, 500)

    def test_debt_policy_records_what_is_still_missing_as_debt(self, account, partly_spent):
        set_program(reversal_policy=Program.ReversalPolicy.DEBT)
        order, later = partly_spent

        entry = reverse(order)

        assert {k: entry.details[k] for k in ("from_lot", "from_balance", "debt", "written_off")} == {
            "from_lot": 30,
            "from_balance": 50,
            "debt": 20,
            "written_off": 0,
        }
        assert (entry.available_change, entry.debt_change) == (-80, 20)
        assert balances(account) == counters(
            available=0, pending=0, debt=20, lifetime_earned=50, lifetime_redeemed=70, lifetime_expired=0
        )
        assert ledger_audit() == []

    def test_later_earnings_pay_off_the_debt_first(self, account, partly_spent):
        set_program(reversal_policy=Program.ReversalPolicy.DEBT)
        order, _ = partly_spent
        reverse(order)  # debt of 20

        earned = points_earn(account=account, points=50, source="order", actor=SHOP, idempotency_key="order-2")

        lot = lot_of(earned)
        settle = PointEntry.objects.get(idempotency_key="order-2:settle")
        assert (settle.kind, settle.available_change, settle.debt_change, settle.account_id) == (
            "settle",
            -20,
            -20,
            account.pk,
        )
        assert moves(settle) == {lot.pk: (-20, 0)}
        assert (lot.state, lot.remaining) == ("available", 30)
        assert account.available == 30  # the caller's object includes the settlement
        assert balances(account) == counters(
            available=30, pending=0, debt=0, lifetime_earned=100, lifetime_redeemed=70, lifetime_expired=0
        )
        assert ledger_audit() == []

        # Paid off: the next earning is not touched.
        earn(account, 10)
        assert balances(account)["available"] == 40
        assert PointEntry.objects.filter(kind="settle").count() == 1

    def test_a_debt_larger_than_the_earning_is_paid_off_over_several_earnings_pending_ones_included(self, account):
        set_program(reversal_policy=Program.ReversalPolicy.DEBT)
        order = earn(account, 100)
        redeem(account, 100)
        reverse(order)  # nothing left anywhere: debt of 100
        assert balances(account)["debt"] == 100

        small = earn(account, 60)
        small.refresh_from_db()
        assert (small.state, small.remaining) == ("spent", 0)
        assert (balances(account)["available"], balances(account)["debt"]) == (0, 40)

        pending = earn(account, 100, pending_days=14)
        pending.refresh_from_db()
        assert (pending.state, pending.remaining) == ("pending", 60)
        assert balances(account) == counters(
            available=0, pending=60, debt=0, lifetime_earned=160, lifetime_redeemed=100, lifetime_expired=0
        )
        assert ledger_audit() == []

    def test_a_lot_earned_before_the_debt_does_not_pay_it_off_when_released(self, account):
        set_program(reversal_policy=Program.ReversalPolicy.DEBT)
        pending = earn(account, 50, pending_days=14)
        order = earn(account, 100)
        redeem(account, 100)
        reverse(order)

        points_release(lot=pending, actor=SYSTEM, idempotency_key=new_key())

        assert (balances(account)["available"], balances(account)["debt"]) == (50, 100)
        assert ledger_audit() == []

    @pytest.mark.parametrize(
        ("policy", "available", "debt", "written_off"),
        [("lot", 50, 0, 100), ("balance", 0, 0, 50), ("debt", 0, 50, 0)],
    )
    def test_reversing_a_fully_spent_lot(self, account, policy, available, debt, written_off):
        set_program(reversal_policy=policy)
        order = earn(account, 100)
        earn(account, 100)
        redeem(account, 150)  # the order's lot first, then 50 of the other

        entry = reverse(order)

        order.refresh_from_db()
        assert (entry.details["from_lot"], entry.details["written_off"]) == (0, written_off)
        assert order.reversed_points == 100 and order.remaining == 0
        assert (balances(account)["available"], balances(account)["debt"]) == (available, debt)
        assert ledger_audit() == []

    def test_points_already_reversed_cannot_be_reversed_again(self, account):
        lot = earn(account, 100)
        reverse(lot)
        before = ledger_counts()
        with refused("already_reversed", 409):
            reverse(lot)
        with refused("already_reversed", 409):
            reverse(lot, 1)  # asking for some when nothing is left is the same answer
        assert ledger_counts() == before

    def test_more_than_the_lot_has_left_to_reverse_is_refused(self, account):
        lot = earn(account, 100)
        reverse(lot, 60)
        before = ledger_counts()
        with refused("reversal_exceeds_lot", 422) as info:
            reverse(lot, 41)
        assert info.value.extra == {"reversible": 40, "requested": 41}
        assert ledger_counts() == before and balances(account)["available"] == 40

    @pytest.mark.parametrize("points", [0, -5, 2.5, True])
    def test_points_must_be_a_whole_number_above_zero(self, account, points):
        lot = earn(account, 100)
        with refused("invalid_points", 400):
            reverse(lot, points)
        assert balances(account)["available"] == 100

    def test_replay_returns_the_first_entry_and_reverses_once(self, account):
        lot = earn(account, 100)
        first = reverse(lot, 30, key="refund-1")
        before = ledger_counts()

        again = reverse(lot, 30, key="refund-1")

        lot.refresh_from_db()
        assert again.pk == first.pk and ledger_counts() == before
        assert (lot.reversed_points, balances(account)["available"]) == (30, 70)

    def test_the_key_reused_for_another_lot_or_amount_is_a_conflict(self, account):
        lot, other = earn(account, 100), earn(account, 100)
        reverse(lot, 30, key="refund-1")
        before = ledger_counts()

        with refused("idempotency_conflict", 409):
            reverse(other, 30, key="refund-1")
        with refused("idempotency_conflict", 409):
            reverse(lot, 31, key="refund-1")

        other.refresh_from_db()
        assert ledger_counts() == before
        assert (other.reversed_points, balances(account)["available"]) == (0, 170)


# --- points_adjust -------------------------------------------------------------------------------


def adjust(account, points, *, user=None, actor=None, reason="Goodwill", key=None) -> PointEntry:
    return points_adjust(
        account=account,
        points=points,
        reason=reason,
        actor=actor or Actor.staff(user),
        idempotency_key=key or new_key("adj"),
    )


class TestAdjust:
    def test_staff_add_points_as_a_new_lot_with_the_reason(self, account):
        agent = staff_user("adjust_points")

        entry = adjust(account, 50, user=agent, reason="  Parcel arrived late  ")

        lot = lot_of(entry)
        assert (entry.kind, entry.available_change, entry.reason) == ("adjust", 50, "Parcel arrived late")
        assert (entry.actor_kind, entry.actor_user) == ("staff", agent)
        assert (lot.source, lot.source_ref, lot.state, lot.remaining) == (
            "adjustment",
            "Parcel arrived late",
            "available",
            50,
        )
        assert account.available == 50
        assert balances(account)["lifetime_earned"] == 50
        assert ledger_audit() == []

    def test_staff_remove_points_soonest_expiring_first(self, account):
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=30)
        late = earn(account, 100)
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=5)
        soon = earn(account, 40)

        entry = adjust(account, -60, user=staff_user("adjust_points"))

        assert (entry.available_change, moves(entry)) == (-60, {soon.pk: (-40, 0), late.pk: (-20, 0)})
        assert balances(account) == counters(
            available=80, pending=0, debt=0, lifetime_earned=140, lifetime_redeemed=0, lifetime_expired=0
        )
        assert ledger_audit() == []

    def test_removing_more_than_is_available_is_refused(self, account):
        earn(account, 30)
        with refused("insufficient_points", 422) as info:
            adjust(account, -31, user=staff_user("adjust_points"))
        assert info.value.extra == {"available": 30, "requested": 31}
        assert balances(account)["available"] == 30 and not PointEntry.objects.filter(kind="adjust").exists()

    def test_staff_without_the_permission_may_not_adjust(self, account):
        before = ledger_counts()
        with refused("permission_denied", 403):
            adjust(account, 10, user=staff_user())
        with refused("permission_denied", 403):
            adjust(account, 10, user=staff_user("adjust_points_unlimited"))  # unlimited alone is not enough
        with refused("permission_denied", 403):
            adjust(account, 10, user=None)
        assert ledger_counts() == before

    @pytest.mark.parametrize("points", [1001, -1001])
    def test_beyond_the_staff_limit_needs_the_unlimited_permission(self, account, points):
        earn(account, 5000)
        before = ledger_counts()
        with refused("adjustment_over_limit", 422) as info:
            adjust(account, points, user=staff_user("adjust_points"))
        assert info.value.extra == {"limit": 1000}
        assert ledger_counts() == before

        adjust(account, points, user=staff_user("adjust_points", "adjust_points_unlimited"))
        assert balances(account)["available"] == 5000 + points

    def test_the_limit_itself_is_allowed_and_follows_the_program_setting(self, account):
        agent = staff_user("adjust_points")
        adjust(account, 1000, user=agent)
        set_program(staff_adjust_limit=100)
        with refused("adjustment_over_limit", 422):
            adjust(account, 101, user=agent)
        adjust(account, -100, user=agent)
        assert balances(account)["available"] == 900

    def test_the_system_adjusts_without_a_staff_permission(self, account):
        adjust(account, 5000, actor=SYSTEM, reason="Migration from the old program")
        assert balances(account)["available"] == 5000

    @pytest.mark.parametrize("reason", ["", "   ", None])
    def test_a_reason_is_mandatory(self, account, reason):
        with refused("reason_required", 400):
            adjust(account, 10, user=staff_user("adjust_points"), reason=reason)
        assert ledger_counts() == (0, 0, 0)

    @pytest.mark.parametrize("points", [0, 2.5, True, "5"])
    def test_an_adjustment_is_a_whole_number_not_zero(self, account, points):
        with refused("invalid_points", 400):
            adjust(account, points, user=staff_user("adjust_points"))

    def test_adding_points_pays_off_a_debt(self, account):
        set_program(reversal_policy=Program.ReversalPolicy.DEBT)
        order = earn(account, 100)
        redeem(account, 100)
        reverse(order)

        adjust(account, 150, actor=SYSTEM, key="goodwill-1")

        assert PointEntry.objects.get(idempotency_key="goodwill-1:settle").debt_change == -100
        assert (balances(account)["available"], balances(account)["debt"]) == (50, 0)
        assert ledger_audit() == []

    def test_replay_returns_the_first_entry_and_adjusts_once(self, account):
        agent = staff_user("adjust_points")
        first = adjust(account, 25, user=agent, key="ticket-7")
        before = ledger_counts()

        again = adjust(account, 25, user=agent, key="ticket-7")

        assert again.pk == first.pk and ledger_counts() == before
        assert balances(account)["available"] == 25

    def test_the_key_reused_for_another_amount_is_a_conflict(self, account):
        agent = staff_user("adjust_points")
        adjust(account, 25, user=agent, key="ticket-7")
        with refused("idempotency_conflict", 409):
            adjust(account, -25, user=agent, key="ticket-7")
        assert balances(account)["available"] == 25


# --- points_transfer -----------------------------------------------------------------------------


def transfer(source, target, points, *, key=None) -> PointEntry:
    return points_transfer(
        source=source,
        target=target,
        points=points,
        reason="Gift",
        actor=Actor.member(source.member.user),
        idempotency_key=key or new_key("gift"),
    )


class TestTransfer:
    def test_transfers_are_off_by_default(self, account, other_account):
        earn(account, 100)
        before = ledger_counts()
        with refused("transfers_disabled", 422):
            transfer(account, other_account, 10)
        assert ledger_counts() == before
        assert (balances(account)["available"], balances(other_account)["available"]) == (100, 0)

    def test_the_receiver_gets_a_lot_with_the_earliest_expiry_and_the_value_of_the_points(self, account, other_account):
        set_program(transfers_enabled=True, expiry_policy=Program.Expiry.DAYS, expiry_period=10)
        soon = earn(account, 20, value=Decimal("4.00"))
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=90)
        late = earn(account, 50, value=Decimal("5.00"))

        out = transfer(account, other_account, 30, key="gift-1")

        incoming = PointEntry.objects.get(idempotency_key="gift-1:in")
        lot = lot_of(incoming)
        assert (out.kind, out.account_id, out.available_change) == ("transfer", account.pk, -30)
        assert moves(out) == {soon.pk: (-20, 0), late.pk: (-10, 0)}
        assert out.details["to"] == str(other_account.member.public_id)
        assert (incoming.kind, incoming.account_id, incoming.available_change) == ("transfer", other_account.pk, 30)
        assert (lot.source, lot.state, lot.points, lot.remaining) == ("transfer", "available", 30, 30)
        assert lot.expires_at == soon.expires_at
        assert lot.value == Decimal("5.0000")  # 20/20 of 4.00 and 10/50 of 5.00
        assert lot.source_ref == str(account.member.public_id)
        assert (account.available, other_account.available) == (40, 30)  # the caller's objects are up to date
        assert (balances(account)["available"], balances(other_account)["available"]) == (40, 30)
        assert ledger_audit() == []

    def test_points_without_expiry_stay_without_expiry(self, account, other_account):
        set_program(transfers_enabled=True)
        earn(account, 100)
        out = transfer(account, other_account, 100)
        lot = PointLot.objects.get(account=other_account)
        assert lot.expires_at is None
        assert PointLot.objects.get(pk=next(iter(moves(out)))).state == "spent"

    def test_the_transfer_counts_as_the_givers_activity(self, account, other_account):
        set_program(transfers_enabled=True)
        earn(account, 100)
        account.refresh_from_db()
        before = account.last_activity_at
        transfer(account, other_account, 10)
        account.refresh_from_db()
        assert account.last_activity_at > before

    def test_an_incoming_transfer_pays_off_the_receivers_debt(self, account, other_account):
        set_program(transfers_enabled=True, reversal_policy=Program.ReversalPolicy.DEBT)
        order = earn(other_account, 40)
        redeem(other_account, 40)
        reverse(order)
        earn(account, 100)

        transfer(account, other_account, 50, key="gift-2")

        assert PointEntry.objects.get(idempotency_key="gift-2:in:settle").debt_change == -40
        assert (balances(other_account)["available"], balances(other_account)["debt"]) == (10, 0)
        assert ledger_audit() == []

    def test_refusals_change_nothing(self, account, other_account):
        set_program(transfers_enabled=True)
        earn(account, 100)
        earn(account, 100, pending_days=3)
        before = ledger_counts()

        with refused("same_account", 400):
            transfer(account, account, 10)
        with refused("insufficient_points", 422) as info:
            transfer(account, other_account, 101)
        assert info.value.extra == {"available": 100, "requested": 101}
        with refused("invalid_points", 400):
            transfer(account, other_account, 0)
        set_status(other_account, "suspended")
        with refused("member_not_active", 422):
            transfer(account, other_account, 10)
        set_status(other_account, "active")
        set_status(account, "suspended")
        with refused("member_not_active", 422):
            transfer(account, other_account, 10)

        assert ledger_counts() == before
        assert (balances(account)["available"], balances(other_account)["available"]) == (100, 0)

    def test_replay_returns_the_first_entry_and_moves_the_points_once(self, account, other_account):
        set_program(transfers_enabled=True)
        earn(account, 100)
        first = transfer(account, other_account, 30, key="gift-1")
        before = ledger_counts()

        again = transfer(account, other_account, 30, key="gift-1")

        assert again.pk == first.pk and ledger_counts() == before
        assert (balances(account)["available"], balances(other_account)["available"]) == (70, 30)

    def test_the_key_reused_for_another_amount_or_receiver_is_a_conflict(self, account, other_account):
        set_program(transfers_enabled=True)
        third = member_create().points_account
        earn(account, 100)
        transfer(account, other_account, 30, key="gift-1")
        before = ledger_counts()

        with refused("idempotency_conflict", 409):
            transfer(account, other_account, 31, key="gift-1")
        with refused("idempotency_conflict", 409):
            transfer(account, third, 30, key="gift-1")

        assert ledger_counts() == before
        assert (balances(account)["available"], balances(third)["available"]) == (70, 0)


# --- points_release ------------------------------------------------------------------------------


class TestRelease:
    def test_a_pending_lot_becomes_available_now(self, account):
        lot = earn(account, 80, pending_days=14)
        other = earn(account, 20, pending_days=14)
        agent = staff_user()

        entry = points_release(lot=lot, actor=Actor.staff(agent), idempotency_key="early-1")

        refresh(lot, other)
        assert (entry.kind, entry.available_change, entry.pending_change, entry.reason) == (
            "release",
            80,
            -80,
            "Released early",
        )
        assert (entry.actor_kind, entry.actor_user, entry.account_id) == ("staff", agent, account.pk)
        assert moves(entry) == {lot.pk: (80, -80)}
        assert (lot.state, lot.remaining, other.state) == ("available", 80, "pending")
        assert balances(account) == counters(
            available=80, pending=20, debt=0, lifetime_earned=100, lifetime_redeemed=0, lifetime_expired=0
        )
        assert ledger_audit() == []

    def test_releasing_a_partly_settled_lot_releases_what_is_left(self, account):
        set_program(reversal_policy=Program.ReversalPolicy.DEBT)
        order = earn(account, 30)
        redeem(account, 30)
        reverse(order)  # debt 30
        lot = earn(account, 100, pending_days=14)  # 30 of it pays off the debt

        entry = points_release(lot=lot, actor=SYSTEM, idempotency_key=new_key())

        assert moves(entry) == {lot.pk: (70, -70)}
        assert (balances(account)["available"], balances(account)["pending"]) == (70, 0)
        assert ledger_audit() == []

    def test_a_lot_that_is_not_pending_is_refused(self, account):
        lot = earn(account, 80)
        before = ledger_counts()
        with refused("nothing_to_do", 409):
            points_release(lot=lot, actor=SYSTEM, idempotency_key=new_key())
        assert ledger_counts() == before

    def test_replay_returns_the_first_entry_and_releases_once(self, account):
        lot = earn(account, 80, pending_days=14)
        first = points_release(lot=lot, actor=SYSTEM, idempotency_key="early-1")
        before = ledger_counts()

        again = points_release(lot=lot, actor=SYSTEM, idempotency_key="early-1")

        assert again.pk == first.pk and ledger_counts() == before
        assert balances(account)["available"] == 80

    def test_the_key_reused_for_another_lot_or_operation_is_a_conflict(self, account):
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=0)  # lots are due to expire at once
        lot, other = earn(account, 80, pending_days=14), earn(account, 20, pending_days=14)
        earn(account, 5)
        points_release(lot=lot, actor=SYSTEM, idempotency_key="early-1")
        points_expire(account=account, actor=SYSTEM, idempotency_key="expire-1", reason="Expired")
        before = ledger_counts()

        with refused("idempotency_conflict", 409):
            points_release(lot=other, actor=SYSTEM, idempotency_key="early-1")
        with refused("idempotency_conflict", 409):
            points_release(lot=other, actor=SYSTEM, idempotency_key="expire-1")
        earn(account, 1, key="order-5")
        before = ledger_counts()
        with refused("idempotency_conflict", 409):
            points_release(lot=other, actor=SYSTEM, idempotency_key="order-5")  # a key another service used

        other.refresh_from_db()
        assert other.state == "pending" and ledger_counts() == before


# --- points_expire -------------------------------------------------------------------------------


class TestExpire:
    def test_due_available_lots_expire_and_the_others_stay(self, account):
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=0)  # expires the moment it is earned
        due = earn(account, 40)
        redeem(account, 15)
        due_pending = earn(account, 30, pending_days=3)
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=30)
        fresh = earn(account, 60)

        entry = points_expire(account=account, actor=SYSTEM, idempotency_key="exp-1", reason="Points expired")

        refresh(due, due_pending, fresh)
        assert (entry.kind, entry.available_change, entry.pending_change, entry.reason) == (
            "expire",
            -25,
            0,
            "Points expired",
        )
        assert moves(entry) == {due.pk: (-25, 0)}
        assert (due.state, due.remaining) == ("expired", 0)
        assert (due_pending.state, fresh.state) == ("pending", "available")
        assert balances(account) == counters(
            available=60, pending=30, debt=0, lifetime_earned=130, lifetime_redeemed=15, lifetime_expired=25
        )
        assert ledger_audit() == []

    def test_everything_expires_pending_points_too(self, account):
        lot = earn(account, 40)
        pending = earn(account, 30, pending_days=3)

        entry = points_expire(
            account=account, actor=SYSTEM, idempotency_key="close-1", reason="Closed", everything=True
        )

        assert moves(entry) == {lot.pk: (-40, 0), pending.pk: (0, -30)}
        assert balances(account) == counters(
            available=0, pending=0, debt=0, lifetime_earned=70, lifetime_redeemed=0, lifetime_expired=70
        )
        assert set(PointLot.objects.values_list("state", flat=True)) == {"expired"}
        assert ledger_audit() == []

    def test_nothing_due_is_refused(self, account):
        set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=30)
        earn(account, 40)
        with refused("nothing_to_do", 409):
            points_expire(account=account, actor=SYSTEM, idempotency_key=new_key(), reason="Expired")
        assert balances(account)["available"] == 40 and not PointEntry.objects.filter(kind="expire").exists()

    def test_replay_returns_the_first_entry_and_expires_once(self, account):
        earn(account, 40)
        first = points_expire(account=account, actor=SYSTEM, idempotency_key="close-1", reason="x", everything=True)
        earn(account, 10)
        before = ledger_counts()

        again = points_expire(account=account, actor=SYSTEM, idempotency_key="close-1", reason="x", everything=True)

        assert again.pk == first.pk and ledger_counts() == before
        assert balances(account)["available"] == 10

    def test_the_key_reused_for_another_operation_is_a_conflict(self, account):
        lot = earn(account, 40, pending_days=3)
        points_release(lot=lot, actor=SYSTEM, idempotency_key="ops-1")
        with refused("idempotency_conflict", 409):
            points_expire(account=account, actor=SYSTEM, idempotency_key="ops-1", reason="x", everything=True)
        assert balances(account)["available"] == 40


def test_every_change_is_one_entry_with_one_movement_per_lot_touched(account):
    """Across all services the entries add up to the account and the movements to the entries."""
    set_program(transfers_enabled=True, reversal_policy=Program.ReversalPolicy.DEBT)
    other = member_create().points_account
    a = earn(account, 100)
    earn(account, 50, pending_days=2)
    redeem(account, 30)
    transfer(account, other, 20)
    reverse(a)
    adjust(account, 5, actor=SYSTEM)
    for entry in PointEntry.objects.all():
        moved = list(entry.movements.values_list("available_change", "pending_change"))
        assert (entry.available_change, entry.pending_change) == (sum(m[0] for m in moved), sum(m[1] for m in moved))
    assert ledger_audit() == []
