"""Tiers: qualification at the edges (exactly at the threshold, rolling windows, the program's time zone at
the end of the year), moving up on orders (single and batch), the nightly re-evaluation with its downgrade
policies, staff overrides and paid memberships, and the multiplier. Orders go through the order intake
(integrations.services.orders), so the metrics are read from the rows production writes."""

import datetime as dt
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from core.exceptions import ApplicationError
from integrations.models import Order
from integrations.services.members import member_upsert
from integrations.services.orders import order_cancel, order_record, order_refund
from integrations.services.orders_batch import orders_record_batch
from integrations.services.shops import shop_create
from members.tests.factories import member_create
from rewards.models import EarningRule, PointLot, PointsAccount, Tier, TierChange, TierHold
from rewards.selectors import ledger_audit
from rewards.services.tiers import (
    tier_gift,
    tier_set,
    tiers_recalculate,
    window_bounds,
)
from rewards.tests.helpers import set_program, staff_user

AMS = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def shop(db):
    set_program(time_zone="Europe/Amsterdam", currency="EUR")
    EarningRule.objects.all().delete()
    EarningRule.objects.create(name="Base rate", kind="base_rate", currency="EUR", points=1, amount=1)
    return shop_create(name="Webshop NL", currency="EUR", time_zone="Europe/Amsterdam")


def tiers_by_spend(window="calendar_year", policy="end_of_window", grace=0, **gold):
    bronze = Tier.objects.create(name="Bronze", rank=0, metric="spend", window=window, entry_threshold=0)
    silver = Tier.objects.create(
        name="Silver",
        rank=1,
        metric="spend",
        window=window,
        entry_threshold=D("500"),
        downgrade_policy=policy,
        grace_days=grace,
    )
    gold_tier = Tier.objects.create(
        name="Gold",
        rank=2,
        metric="spend",
        window=window,
        entry_threshold=D("1000"),
        retention_threshold=gold.pop("retention", None),
        downgrade_policy=policy,
        grace_days=grace,
        earning_multiplier=gold.pop("multiplier", D("1.5")),
        **gold,
    )
    return bronze, silver, gold_tier


_ids = iter(range(10**9))


def customer(shop, name="ana"):
    member, _ = member_upsert(shop=shop, external_id=f"cust-{name}", email=f"{name}@example.com")
    return member


def buy(shop, member, total, *, at=None, lines=None, external_id=None):
    """Record an order of `total` EUR (no tax or shipping) placed at `at` (default: a minute ago)."""
    total = D(total)
    data = {
        "external_id": external_id or f"o-{next(_ids)}",
        "member_id": member.public_id,
        "currency": "EUR",
        "total": total,
        "subtotal": total,
        "placed_at": at or timezone.now() - dt.timedelta(minutes=1),
        "lines": lines or [],
    }
    order, created = order_record(shop=shop, data=data)
    assert created
    return order


def tier_of(member) -> str | None:
    account = PointsAccount.objects.select_related("tier").get(member=member)
    return account.tier and account.tier.name


def history(member) -> list[tuple]:
    return [
        (c.from_tier and c.from_tier.name, c.to_tier.name, c.reason)
        for c in TierChange.objects.filter(account__member=member).select_related("from_tier", "to_tier").order_by("id")
    ]


@pytest.fixture(autouse=True)
def _audit(db):
    yield
    assert ledger_audit() == []


# --- thresholds and windows --------------------------------------------------------------------------


def test_exactly_at_the_threshold_qualifies_at_once_and_a_cent_less_does_not(shop):
    tiers_by_spend()
    ana, bob = customer(shop, "ana"), customer(shop, "bob")
    buy(shop, ana, "499.00")
    buy(shop, bob, "498.99")
    assert (tier_of(ana), tier_of(bob)) == ("Bronze", "Bronze")  # the first order sets the entry tier
    buy(shop, ana, "1.00")  # 500.00: exactly Silver's threshold
    buy(shop, bob, "1.00")  # 499.99
    assert (tier_of(ana), tier_of(bob)) == ("Silver", "Bronze")
    assert history(ana) == [(None, "Bronze", "order"), ("Bronze", "Silver", "order")]
    tiers_recalculate()
    assert (tier_of(ana), tier_of(bob)) == ("Silver", "Bronze")


def test_new_members_have_no_tier_until_evaluated_and_count_as_the_lowest(shop):
    tiers_by_spend()
    ana = member_create()
    assert tier_of(ana) is None
    result = tiers_recalculate()
    assert result.changed == 1 and tier_of(ana) == "Bronze"
    assert history(ana) == [(None, "Bronze", "qualified")]
    assert tiers_recalculate().changed == 0  # idempotent


def test_the_program_time_zone_decides_the_year_an_order_counts_for(shop):
    tiers_by_spend()
    ana, bob = customer(shop, "ana"), customer(shop, "bob")
    # 23:30 on 31 December in Amsterdam is 22:30 UTC: it counts for 2025 there.
    buy(shop, ana, "600", at=dt.datetime(2025, 12, 31, 23, 30, tzinfo=AMS))
    # 00:30 on 1 January in Amsterdam (23:30 UTC on 31 December): 2026.
    buy(shop, bob, "600", at=dt.datetime(2026, 1, 1, 0, 30, tzinfo=AMS))
    at = dt.datetime(2025, 12, 31, 23, 59, tzinfo=AMS)
    tiers_recalculate(at=at)
    assert (tier_of(ana), tier_of(bob)) == ("Silver", "Bronze")
    # In 2026 (the orders' placing times are past), bob enters Silver on 2026's spend and ana keeps it on
    # 2025's (the previous window); in 2027 ana's 2025 no longer counts.
    tiers_recalculate(at=dt.datetime(2026, 6, 1, tzinfo=AMS))
    assert (tier_of(ana), tier_of(bob)) == ("Silver", "Silver")
    tiers_recalculate(at=dt.datetime(2027, 1, 1, 0, 0, 1, tzinfo=AMS))
    assert (tier_of(ana), tier_of(bob)) == ("Bronze", "Silver")
    assert history(ana)[-1] == ("Silver", "Bronze", "downgrade")


def test_rolling_window_boundaries(shop):
    tiers_by_spend(window="rolling_12_months")
    ana = customer(shop, "ana")
    placed = dt.datetime(2025, 3, 10, 12, 0, tzinfo=AMS)
    buy(shop, ana, "600", at=placed)
    # Twelve months later to the microsecond the order has left the window; a moment before, it is in.
    tiers_recalculate(at=placed + dt.timedelta(days=1))
    assert tier_of(ana) == "Silver"
    tiers_recalculate(at=dt.datetime(2026, 3, 10, 11, 59, 59, tzinfo=AMS))
    assert tier_of(ana) == "Silver"
    tiers_recalculate(at=dt.datetime(2026, 3, 10, 12, 0, tzinfo=AMS))
    assert tier_of(ana) == "Bronze"


def test_membership_year_counts_from_the_join_date(shop):
    Tier.objects.create(name="Base", rank=0, metric="orders", window="membership_year", entry_threshold=0)
    Tier.objects.create(name="Regular", rank=1, metric="orders", window="membership_year", entry_threshold=2)
    ana = customer(shop, "ana")
    ana.joined_at = dt.datetime(2025, 5, 20, 10, 0, tzinfo=AMS)
    ana.save(update_fields=["joined_at"])
    buy(shop, ana, "10", at=dt.datetime(2025, 5, 19, 12, 0, tzinfo=AMS))  # the membership year before
    buy(shop, ana, "10", at=dt.datetime(2025, 5, 20, 9, 0, tzinfo=AMS))  # the first day of this one
    tiers_recalculate(at=dt.datetime(2025, 9, 1, tzinfo=AMS))
    assert tier_of(ana) == "Base"
    buy(shop, ana, "10", at=dt.datetime(2026, 5, 19, 23, 0, tzinfo=AMS))  # the last day of the same year
    tiers_recalculate(at=dt.datetime(2026, 5, 19, 23, 30, tzinfo=AMS))
    assert tier_of(ana) == "Regular"
    start, end, prev = window_bounds(
        window="membership_year",
        at=dt.datetime(2026, 5, 19, tzinfo=AMS),
        time_zone="Europe/Amsterdam",
        joined_at=ana.joined_at,
    )
    assert (start, end, prev) == (
        dt.datetime(2025, 5, 20, tzinfo=AMS),
        dt.datetime(2026, 5, 20, tzinfo=AMS),
        dt.datetime(2024, 5, 20, tzinfo=AMS),
    )


def test_points_metric_counts_order_lots_less_what_refunds_reversed(shop):
    Tier.objects.create(name="Base", rank=0, metric="points", window="lifetime", entry_threshold=0)
    Tier.objects.create(name="Plus", rank=1, metric="points", window="lifetime", entry_threshold=100)
    ana = customer(shop, "ana")
    order = buy(shop, ana, "100")
    assert tier_of(ana) == "Plus"
    order_refund(order=order, external_id="r-1", amount=D("1.00"))
    tiers_recalculate()
    assert tier_of(ana) == "Base"
    assert PointLot.objects.get(pk=order.lot_id).reversed_points == 1


def test_spend_less_refunds_and_cancelled_orders(shop):
    tiers_by_spend(window="lifetime")
    ana = customer(shop, "ana")
    buy(shop, ana, "300")
    second = buy(shop, ana, "300")
    assert tier_of(ana) == "Silver"
    order_refund(order=second, external_id="r-1", amount=D("100.01"))
    tiers_recalculate()
    assert tier_of(ana) == "Bronze"  # 499.99
    third = buy(shop, ana, "1.00")
    assert tier_of(ana) == "Silver"
    order_cancel(order=third)
    tiers_recalculate()
    assert tier_of(ana) == "Bronze"


# --- downgrades --------------------------------------------------------------------------------------


def test_downgrade_with_grace(shop):
    tiers_by_spend(window="rolling_12_months", policy="grace", grace=30)
    ana = customer(shop, "ana")
    buy(shop, ana, "1000", at=dt.datetime(2025, 1, 15, tzinfo=AMS))
    assert tier_of(ana) == "Bronze"  # recorded now: a 2025 order is outside today's rolling window
    tiers_recalculate(at=dt.datetime(2025, 1, 16, tzinfo=AMS))
    assert tier_of(ana) == "Gold"
    out = dt.datetime(2026, 1, 16, 1, 0, tzinfo=AMS)  # the order has left the rolling window
    tiers_recalculate(at=out)
    assert tier_of(ana) == "Gold"
    assert TierHold.objects.get(account__member=ana).below_since == out
    tiers_recalculate(at=out + dt.timedelta(days=29, hours=23))
    assert tier_of(ana) == "Gold"
    tiers_recalculate(at=out + dt.timedelta(days=30))
    assert tier_of(ana) == "Bronze"  # nothing kept: to the lowest tier
    assert TierHold.objects.get(account__member=ana).below_since is None
    assert history(ana)[-1] == ("Gold", "Bronze", "downgrade")


def test_grace_ends_when_the_member_qualifies_again(shop):
    tiers_by_spend(window="rolling_12_months", policy="grace", grace=30)
    ana = customer(shop, "ana")
    buy(shop, ana, "1000", at=timezone.now() - dt.timedelta(days=370))
    tiers_recalculate(at=timezone.now() - dt.timedelta(days=369))
    assert tier_of(ana) == "Gold"
    tiers_recalculate()
    assert TierHold.objects.get(account__member=ana).below_since is not None
    buy(shop, ana, "1000")
    tiers_recalculate()
    assert TierHold.objects.get(account__member=ana).below_since is None
    assert tier_of(ana) == "Gold"


def test_end_of_window_drops_to_the_tier_kept_and_retention_threshold(shop):
    tiers_by_spend(retention=D("800"))
    ana, bob = customer(shop, "ana"), customer(shop, "bob")
    buy(shop, ana, "1000", at=dt.datetime(2025, 2, 1, tzinfo=AMS))
    buy(shop, bob, "1000", at=dt.datetime(2025, 2, 1, tzinfo=AMS))
    buy(shop, ana, "800", at=dt.datetime(2026, 2, 1, tzinfo=AMS))  # keeps Gold: 800 is the retention
    buy(shop, bob, "600", at=dt.datetime(2026, 2, 1, tzinfo=AMS))  # below: Silver's threshold only
    tiers_recalculate(at=dt.datetime(2026, 12, 31, tzinfo=AMS))
    assert (tier_of(ana), tier_of(bob)) == ("Gold", "Gold")  # 2025 keeps both through 2026
    tiers_recalculate(at=dt.datetime(2027, 1, 2, tzinfo=AMS))
    assert (tier_of(ana), tier_of(bob)) == ("Gold", "Silver")


def test_never_downgrade(shop):
    tiers_by_spend(window="rolling_12_months", policy="never")
    ana = customer(shop, "ana")
    buy(shop, ana, "1000", at=dt.datetime(2024, 1, 1, tzinfo=AMS))
    tiers_recalculate(at=dt.datetime(2024, 1, 2, tzinfo=AMS))
    tiers_recalculate()
    assert tier_of(ana) == "Gold"


# --- staff overrides and paid memberships ------------------------------------------------------------


def test_staff_override_holds_until_its_end_then_the_nightly_job_re_evaluates(shop):
    _bronze, _silver, gold = tiers_by_spend()
    ana = customer(shop, "ana")
    staff = staff_user()
    ends = timezone.now() + dt.timedelta(days=10)
    change = tier_set(member=ana, tier=gold, ends_at=ends, actor=staff, reason="Complaint #42")
    assert (change.reason, change.actor_user, change.ends_at, change.note) == ("staff", staff, ends, "Complaint #42")
    assert tier_of(ana) == "Gold"
    tiers_recalculate()
    assert tier_of(ana) == "Gold"
    tiers_recalculate(at=ends + dt.timedelta(seconds=1))
    assert tier_of(ana) == "Bronze"
    assert history(ana)[-1] == ("Gold", "Bronze", "expired")
    assert TierHold.objects.get(account__member=ana).override_tier is None


def test_staff_override_is_not_undone_by_an_order(shop):
    bronze, _silver, _gold = tiers_by_spend()
    ana = customer(shop, "ana")
    tier_set(member=ana, tier=bronze, ends_at=timezone.now() + dt.timedelta(days=1), actor=None, reason="Fraud check")
    buy(shop, ana, "2000")
    assert tier_of(ana) == "Bronze"


def test_tier_set_needs_a_reason_and_a_future_end(shop):
    _bronze, _silver, gold = tiers_by_spend()
    ana = customer(shop, "ana")
    with pytest.raises(ApplicationError) as info:
        tier_set(member=ana, tier=gold, ends_at=timezone.now() + dt.timedelta(days=1), actor=None, reason=" ")
    assert info.value.code == "reason_required"
    with pytest.raises(ApplicationError) as info:
        tier_set(member=ana, tier=gold, ends_at=timezone.now() - dt.timedelta(days=1), actor=None, reason="x")
    assert info.value.code == "invalid_end_date"


def test_paid_membership_grants_the_tier_renews_from_its_end_and_expires(shop):
    tiers_by_spend(membership_sku="GOLD-CLUB", membership_months=12)
    ana = customer(shop, "ana")
    club = [{"sku": "GOLD-CLUB", "quantity": "1", "total": "50.00"}]
    before = timezone.now()
    buy(shop, ana, "50", lines=club)
    hold = TierHold.objects.get(account__member=ana)
    assert tier_of(ana) == "Gold" and hold.floor_reason == "paid"
    first_end = hold.floor_until
    assert before + dt.timedelta(days=364) < first_end < timezone.now() + dt.timedelta(days=367)
    assert history(ana)[-1][1:] == ("Gold", "paid")
    buy(shop, ana, "50", lines=club)  # renewal: twelve more months from the current end
    hold.refresh_from_db()
    assert dt.timedelta(days=364) < hold.floor_until - first_end < dt.timedelta(days=367)
    assert history(ana)[-1] == ("Gold", "Gold", "paid")
    tiers_recalculate(at=hold.floor_until - dt.timedelta(days=1))
    assert tier_of(ana) == "Gold"
    tiers_recalculate(at=hold.floor_until + dt.timedelta(days=1))
    assert tier_of(ana) == "Bronze"
    assert history(ana)[-1] == ("Gold", "Bronze", "expired")


def test_a_membership_bought_with_an_order_that_earns_nothing_still_counts(shop):
    """The earning rules may exclude the membership fee (or anything): the tier comes all the same, for a
    single order and in a batch."""
    tiers_by_spend(membership_sku="GOLD-CLUB", membership_months=12)
    EarningRule.objects.update(is_active=False)  # no order earns a point
    ana, bo = customer(shop, "ana"), customer(shop, "bo")
    club = [{"sku": "GOLD-CLUB", "quantity": "1", "total": "50.00"}]
    assert buy(shop, ana, "50", lines=club).points == 0
    assert tier_of(ana) == "Gold"
    batch = [
        {
            "external_id": "club-bo",
            "member_id": bo.public_id,
            "currency": "EUR",
            "total": D("50"),
            "subtotal": D("50"),
            "placed_at": timezone.now() - dt.timedelta(minutes=1),
            "lines": club,
        }
    ]
    (result,) = orders_record_batch(shop=shop, orders=batch)
    assert result.status == 201 and result.order.points == 0
    assert tier_of(bo) == "Gold"


def test_lifetime_membership_never_expires(shop):
    tiers_by_spend(membership_sku="GOLD-LIFE", membership_months=None)
    ana = customer(shop, "ana")
    buy(shop, ana, "50", lines=[{"sku": "gold-life", "quantity": "1", "total": "50.00"}])
    assert TierHold.objects.get(account__member=ana).floor_until is None
    tiers_recalculate(at=timezone.now() + dt.timedelta(days=3650))
    assert tier_of(ana) == "Gold"


# --- batches -----------------------------------------------------------------------------------------


def test_a_batch_moves_its_members_up(shop):
    tiers_by_spend(membership_sku="GOLD-CLUB", membership_months=12)
    members = [customer(shop, f"m{i}") for i in range(4)]
    buy(shop, members[0], "400")
    orders = [
        {"external_id": "b-0", "member_id": members[0].public_id, "total": "100"},  # 500: Silver
        {"external_id": "b-1", "member_id": members[1].public_id, "total": "1000"},  # Gold
        {"external_id": "b-2", "member_id": members[2].public_id, "total": "10"},  # Bronze
        {
            "external_id": "b-3",
            "member_id": members[3].public_id,
            "total": "50",
            "lines": [{"sku": "GOLD-CLUB", "quantity": "1", "total": "50"}],
        },
    ]
    for o in orders:
        o.update(currency="EUR", placed_at=timezone.now() - dt.timedelta(minutes=1))
    results = orders_record_batch(shop=shop, orders=orders)
    assert [r.status for r in results] == [201] * 4
    assert [tier_of(m) for m in members] == ["Silver", "Gold", "Bronze", "Gold"]
    assert history(members[3])[-1] == (None, "Gold", "paid")
    assert Order.objects.count() == 5


# --- gifts -------------------------------------------------------------------------------------------


def test_gift_a_lower_tier_once_a_year(shop):
    _bronze, silver, gold = tiers_by_spend(can_gift=True)
    ana, bob, cy = customer(shop, "ana"), customer(shop, "bob"), customer(shop, "cy")
    buy(shop, ana, "1000")
    change = tier_gift(giver=ana, friend_email_or_member="BOB@example.com", tier=silver)
    assert (change.reason, change.to_tier) == ("gift", silver)
    assert tier_of(bob) == "Silver"
    with pytest.raises(ApplicationError) as info:
        tier_gift(giver=ana, friend_email_or_member=cy, tier=silver)
    assert info.value.code == "gift_limit_reached"
    with pytest.raises(ApplicationError) as info:
        tier_gift(giver=bob, friend_email_or_member=cy, tier=silver)
    assert info.value.code == "gift_not_allowed"
    tiers_recalculate()
    assert tier_of(bob) == "Silver"  # the gift is a floor for twelve months


def test_an_order_moving_a_member_up_during_the_nightly_run_is_not_undone(shop, monkeypatch):
    """The nightly job evaluates first and applies afterwards: a member an order moved up in between keeps
    the new tier (their account no longer has the tier the evaluation started from)."""
    from rewards.services import tiers as tiers_service

    tiers_by_spend(window="rolling_12_months")
    ana = customer(shop, "ana")
    buy(shop, ana, "600", at=timezone.now() - dt.timedelta(days=400))
    tiers_recalculate(at=timezone.now() - dt.timedelta(days=399))
    assert tier_of(ana) == "Silver"  # the order has left the rolling window since: tonight she goes down
    real_apply = tiers_service._apply_chunk

    def apply_after_an_order(*args, **kwargs):
        buy(shop, ana, "1000")  # meanwhile: Gold at once
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(tiers_service, "_apply_chunk", apply_after_an_order)
    result = tiers_recalculate()
    assert result.changed == 0
    assert tier_of(ana) == "Gold"
    assert history(ana)[-1] == ("Silver", "Gold", "order")
