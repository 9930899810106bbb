"""The catalogue's models and reads: constraints, what a member sees and why not, coupons, cause totals.

`reward_make` and `points_for` are shared with the redemption, coupon and API tests."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.tests.factories import member_create
from rewards.models import Cause, Coupon, Redemption, Reward, Segment, Tier
from rewards.selectors.catalogue import (
    cause_totals,
    coupon_display_status,
    member_coupons,
    rewards_for_member,
    rewards_visible,
)
from rewards.services.redemptions import reward_redeem
from rewards.tests.helpers import earn, new_key

pytestmark = pytest.mark.django_db

KINDS = {
    "fixed_amount": {"value": Decimal("5.00")},
    "percentage": {"value": Decimal("15"), "max_discount": Decimal("20.00")},
    "free_shipping": {},
    "free_product": {"sku": "MUG"},
    "store_credit": {"value": Decimal("10.00")},
    "pay_with_points": {"points": 0, "points_per_unit": 100, "min_points": 100, "max_points": 5000},
    "perk": {},
}


def reward_make(kind: str = "fixed_amount", *, shops=(), segments=(), **fields) -> Reward:
    """A reward of `kind` costing 100 points, with the fields that kind needs (override any)."""
    values = {"title": f"{kind} reward", "points": 100, **KINDS.get(kind, {}), **fields}
    if kind == "donation" and "cause" not in values:
        values["cause"] = Cause.objects.get_or_create(name="Food bank")[0]
    reward = Reward.objects.create(kind=kind, **values)
    reward.shops.set(shops)
    reward.segments.set(segments)
    return reward


def points_for(member, points: int):
    """Give `member` `points` available points."""
    earn(member.points_account, points)
    member.points_account.refresh_from_db()
    return member


def redeem(member, reward, **kwargs):
    kwargs.setdefault("idempotency_key", new_key("redeem"))
    kwargs.setdefault("channel", "web")
    return reward_redeem(member=member, reward=reward, **kwargs)


def _violates(**fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Reward.objects.create(**{"title": "x", "points": 100, **fields})


def test_constraints_refuse_impossible_rewards():
    _violates(kind="nonsense")
    _violates(kind="fixed_amount", value=None)
    _violates(kind="fixed_amount", value=Decimal(5), points=0)
    _violates(kind="percentage", value=Decimal(150))
    _violates(kind="free_product", sku="")
    _violates(kind="donation")
    _violates(kind="pay_with_points", points=0, points_per_unit=100, min_points=500, max_points=100)
    _violates(kind="perk", stock_total=1, units_issued=2)


def test_coupon_codes_are_unique_in_the_database():
    member = points_for(member_create(), 300)
    reward = reward_make()
    first, _ = redeem(member, reward)
    second, _ = redeem(member, reward)
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.filter(pk=second.coupon.pk).update(code=first.coupon.code)


def test_a_member_sees_what_they_can_redeem_and_why_not_the_rest():
    gold = Tier.objects.create(name="Gold", rank=2)
    member = points_for(member_create(), 150)
    cheap = reward_make(title="Cheap", points=100)
    dear = reward_make(title="Dear", points=400)
    gone = reward_make(title="Gone", stock_total=1, units_issued=1)
    once = reward_make(title="Once", limit_per_member=1)
    exclusive = reward_make(title="Gold only", min_tier=gold)
    later = reward_make(title="Later", active_from=timezone.now() + dt.timedelta(days=1))
    reward_make(title="Hidden", visible_from=timezone.now() + dt.timedelta(days=1))
    reward_make(title="Off", active=False)
    reward_make(title="Segment", segments=[Segment.objects.create(name="VIP", kind="static")])
    redeem(member, once)  # 50 points left
    points_for(member, 100)  # 150 again

    options = {o.reward.title: o for o in rewards_for_member(member=member)}

    assert set(options) == {"Cheap", "Dear", "Gone", "Once", "Gold only", "Later"}
    assert options["Cheap"].available and options["Cheap"].refusal is None
    assert options["Dear"].refusal.code == "insufficient_points"
    assert options["Dear"].refusal.details["short_by"] == 250
    assert options["Gone"].refusal.code == "out_of_stock"
    assert options["Once"].refusal.code == "limit_reached"
    assert options["Gold only"].refusal.details == {"reason": "tier", "tier": "Gold"}
    assert options["Later"].refusal.code == "reward_inactive"
    assert cheap.pk and dear.pk and gone.pk and exclusive.pk and later.pk


def test_the_members_tier_at_or_above_the_minimum_qualifies():
    silver = Tier.objects.create(name="Silver", rank=1)
    gold = Tier.objects.create(name="Gold", rank=2)
    member = points_for(member_create(), 500)
    reward = reward_make(min_tier=silver)
    account = member.points_account
    account.tier = gold
    account.save(update_fields=["tier"])
    [option] = rewards_for_member(member=member)
    assert option.reward == reward and option.available


def test_a_shops_catalogue_has_the_rewards_for_every_shop_and_its_own():
    from integrations.services.shops import shop_create

    here, there = shop_create(name="Here"), shop_create(name="There")
    everywhere = reward_make(title="Everywhere")
    mine = reward_make(title="Mine", shops=[here])
    reward_make(title="Theirs", shops=[there])
    both = reward_make(title="Both", shops=[here, there])
    assert list(rewards_visible(shop=here)) == [everywhere, mine, both] or set(rewards_visible(shop=here)) == {
        everywhere,
        mine,
        both,
    }
    assert rewards_visible(shop=here).count() == 3  # no duplicates from the join


def test_listing_takes_a_fixed_number_of_queries(django_assert_num_queries):
    member = points_for(member_create(), 500)
    for i in range(3):
        reward_make(title=f"R{i}", limit_per_member=2, segments=[Segment.objects.create(name=f"S{i}", kind="static")])
    # program, account with tier, rewards, their segments, the member's redemptions, and what
    # member_segment_ids asks (its own count, pinned by the segments' tests)
    with CaptureQueriesContext(connection) as few:
        rewards_for_member(member=member)
    assert len(few.captured_queries) <= 8
    for i in range(3, 20):
        redeem(member, reward_make(title=f"R{i}", limit_per_member=2, limit_period="month", points=10))
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(rewards_for_member(member=member)) == 17  # the 3 for segments are left out


def test_member_coupons_and_their_display_status():
    member = points_for(member_create(), 500)
    fresh, _ = redeem(member, reward_make(coupon_valid_days=30))
    old, _ = redeem(member, reward_make(coupon_valid_days=1))
    Coupon.objects.filter(pk=old.coupon.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert [c.pk for c in member_coupons(member=member, usable_only=True)] == [fresh.coupon.pk]
    statuses = {c.pk: coupon_display_status(c) for c in member_coupons(member=member)}
    assert statuses == {fresh.coupon.pk: "issued", old.coupon.pk: "expired"}


def test_cause_totals_sum_the_donations_not_refunded():
    member = points_for(member_create(), 1000)
    reward = reward_make("donation", points=200)
    first, _ = redeem(member, reward)
    redeem(member, reward)
    Redemption.objects.filter(pk=first.pk).update(status="completed")
    [cause] = cause_totals()
    assert (cause.name, cause.donated_points, cause.donations) == ("Food bank", 400, 2)
