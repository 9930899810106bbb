"""rollups_refresh on three known days made through the real services: members, points, activity, orders
of members and non-members, customers, tiers, referrals; a second refresh changes nothing."""

import datetime as dt
from decimal import Decimal

import pytest

from insights.models import DailyOrderStats, DailyProgramStats, PeriodCustomerStats
from insights.services.rollups import rollups_refresh
from insights.tests.conftest import at, clock, order, today
from referrals.models import ReferralProgram
from referrals.services import referral_click, referral_code_get_or_create, referral_join
from rewards.models import PointLot, Tier
from rewards.services.ledger import Actor, lots_expire_due, points_redeem

D = Decimal


@pytest.fixture
def program(shop, make_member):
    """Day 1: Ana and Ben join; Ana buys for 100.00, Ben for 20.00, a guest (no member) for 50.00.
    Day 2: Ana buys for 60.00 and redeems 40 points; the guest buys again (30.00); a click on Ana's link,
    Cleo joins through it. Day 3: Ben's 20 points expire; Cleo's first order (10.00) qualifies the referral."""
    d1, d2, d3 = (today() - dt.timedelta(days=2 - i) for i in range(3))
    Tier.objects.create(name="Bronze", rank=0, entry_threshold=0, window="lifetime")
    Tier.objects.create(name="Silver", rank=1, entry_threshold=150, window="lifetime")
    ReferralProgram.objects.update_or_create(pk=1, defaults={"active": True, "friend_reward": "none"})
    with clock(at(d1, 9)):
        ana, ben = make_member(), make_member()
    with clock(at(d1, 10)):
        order(shop, total="100.00", placed_at=at(d1, 10), member=ana)
        order(shop, total="20.00", placed_at=at(d1, 10), member=ben)
        order(shop, total="50.00", placed_at=at(d1, 10), email="Guest@example.com")
    with clock(at(d2, 10)):
        order(shop, total="60.00", placed_at=at(d2, 10), member=ana)
        points_redeem(
            account=ana.points_account, points=40, reason="Reward", actor=Actor.system("t"), idempotency_key="r1"
        )
        order(shop, total="30.00", placed_at=at(d2, 10), email="guest@example.com")
        code = referral_code_get_or_create(member=ana).code
        _referral, cookie = referral_click(code=code)
        cleo = make_member()
        referral_join(friend=cleo, cookie=cookie, channel="link")
    PointLot.objects.filter(account=ben.points_account).update(expires_at=at(d3, 8))
    with clock(at(d3, 9)):
        lots_expire_due()
    with clock(at(d3, 10)):
        order(shop, total="10.00", placed_at=at(d3, 10), member=cleo)
    return d1, d2, d3


def _figures(day):
    row = DailyProgramStats.objects.get(day=day)
    return {
        f.name: getattr(row, f.name)
        for f in DailyProgramStats._meta.concrete_fields
        if f.name not in ("id", "day", "refreshed_at", "member_scores")
    }


def test_rollups_of_three_known_days(program):
    d1, d2, d3 = program
    with clock(at(d3, 23)):
        result = rollups_refresh(since=d1 - dt.timedelta(days=1))
    assert (result.first, result.last, result.days) == (d1 - dt.timedelta(days=1), d3, 4)

    day0 = _figures(d1 - dt.timedelta(days=1))
    assert day0["members_total"] == 0 and day0["points_outstanding"] == 0 and day0["tier_distribution"] == {}
    assert _figures(d1) == {
        "members_enrolled": 2,
        "members_total": 2,
        "active_30": 2,
        "active_90": 2,
        "points_issued": 120,
        "points_redeemed": 0,
        "points_expired": 0,
        "points_reversed": 0,
        "points_outstanding": 120,
        "tier_distribution": {"Bronze": 2},
        "tier_up": 0,
        "tier_down": 0,
        "referral_clicks": 0,
        "referral_signups": 0,
        "referral_qualified": 0,
    }
    assert _figures(d2) | {"tier_distribution": None} == _figures(d1) | {
        "members_enrolled": 1,
        "members_total": 3,
        "points_issued": 60,
        "points_redeemed": 40,
        "points_outstanding": 140,
        "tier_distribution": None,
        "tier_up": 1,
        "referral_clicks": 1,
        "referral_signups": 1,
    }
    assert _figures(d2)["tier_distribution"] == {"Bronze": 1, "Silver": 1, "": 1}  # Cleo: no tier yet
    assert _figures(d3) == _figures(d1) | {
        "members_enrolled": 0,
        "members_total": 3,
        "active_30": 3,
        "active_90": 3,
        "points_issued": 10,
        "points_expired": 20,
        "points_outstanding": 130,
        "tier_distribution": {"Bronze": 2, "Silver": 1},
        "referral_qualified": 1,
    }
    orders = {(r.day, r.members): (r.orders, r.revenue) for r in DailyOrderStats.objects.all()}
    assert orders == {
        (d1, True): (2, D("120.00")),
        (d1, False): (1, D("50.00")),
        (d2, True): (1, D("60.00")),
        (d2, False): (1, D("30.00")),
        (d3, True): (1, D("10.00")),
    }
    customers = {
        (r.days, r.members): (r.customers, r.repeat_customers, r.orders, r.revenue)
        for r in PeriodCustomerStats.objects.filter(day=d3, currency="EUR")
    }
    # The guest's two orders (the e-mail in two spellings) are one repeat customer.
    assert customers[(30, True)] == (3, 1, 4, D("190.00"))
    assert customers[(30, False)] == (1, 1, 2, D("80.00"))
    assert customers[(365, True)] == customers[(30, True)]


def test_active_members_count_the_window_ending_that_day(program):
    """Ben earned only on day 1: active on the 30 days from day 1, not on the 31st."""
    d1, _d2, d3 = program
    day30, day31 = d1 + dt.timedelta(days=29), d1 + dt.timedelta(days=30)
    with clock(at(day31, 23)):
        rollups_refresh(since=day30, until=day31)
    # Ana (days 1-2) and Cleo (day 3) are still active on both days; Ben drops out on the 31st.
    assert DailyProgramStats.objects.get(day=day30).active_30 == 3
    assert DailyProgramStats.objects.get(day=day31).active_30 == 2
    assert DailyProgramStats.objects.get(day=day31).active_90 == 3


def test_refresh_is_idempotent(program):
    d1, _d2, d3 = program

    def snapshot():
        return (
            [_figures(r.day) | {"day": r.day} for r in DailyProgramStats.objects.order_by("day")],
            list(DailyOrderStats.objects.order_by("day", "members").values("day", "members", "orders", "revenue")),
            list(PeriodCustomerStats.objects.order_by("days", "members").values_list("days", "members", "customers")),
        )

    with clock(at(d3, 23)):
        rollups_refresh(since=d1)
        first = snapshot()
        rollups_refresh(since=d1)
        rollups_refresh(since=None)  # the hourly run: yesterday and today
    assert snapshot() == first
    assert DailyProgramStats.objects.count() == 3
