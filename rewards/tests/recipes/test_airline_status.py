"""The airline-style recipe, played through API v1: miles per 1.00 of fare, Silver after 15 flights in a
year (reported in one batch), bonus miles as Silver, an upgrade bought with miles, and a Platinum member
gifting Gold status (the service: there is no API for gifts yet)."""

import datetime as dt

import pytest
from django.utils import timezone

from core.exceptions import ApplicationError
from members.models import Member
from rewards.models import Tier
from rewards.services.tiers import tier_gift, tier_set
from rewards.tests.helpers import staff_user
from rewards.tests.recipes.helpers import assert_audit_clean, load

pytestmark = pytest.mark.django_db


def test_status_by_flights_an_upgrade_and_a_status_gift():
    (shop,) = load("airline_status").values()
    nina = shop.register("ff-1", "nina@example.com")["id"]
    assert shop.tier(nina) == "Blue"

    # 15 flights of 100.00, reported together: 500 miles each = 7,500, and Silver (15 flights this year).
    flights = [shop.order_body(nina, [("AMS-LHR", "fare", 1, "100.00")]) for _ in range(15)]
    assert shop.batch(flights)["created"] == 15
    assert shop.points(nina) == (7500, 0)
    member = shop.member(nina)
    assert member["tier"]["name"] == "Silver"
    assert member["tier_progress"]["next_tier"]["name"] == "Gold"
    assert member["tier_progress"]["needed"] == "15.00"  # flights to Gold

    # As Silver (x1.25): a 200.00 fare, 1,000 miles x 1.25 = 1,250 -> 8,750.
    assert shop.order(nina, [("AMS-JFK", "fare", 1, "200.00")])["points"] == 1250

    # An upgrade for 5,000 miles (Silver and above): a coupon for the CABIN-UPGRADE item.
    upgrade = shop.redeem(nina, "Cabin upgrade")
    assert upgrade["coupon"]["sku"] == "CABIN-UPGRADE"
    assert upgrade["balance"]["available"] == 3750
    assert shop.rewards(nina)["50.00 off a fare"]["short_by"] == 10000 - 3750

    # Omar holds Platinum (set by staff here) and gives Gold to Nina for 12 months, once a year.
    omar = shop.register("ff-2", "omar@example.com")["id"]
    omar_member = Member.objects.get(public_id=omar)
    tier_set(
        member=omar_member,
        tier=Tier.objects.get(name="Platinum"),
        ends_at=timezone.now() + dt.timedelta(days=365),
        actor=staff_user(),
        reason="Million-mile flyer",
    )
    gold = Tier.objects.get(name="Gold")
    tier_gift(giver=omar_member, friend_email_or_member="nina@example.com", tier=gold)
    member = shop.member(nina)
    assert member["tier"]["name"] == "Gold"
    assert member["tier_progress"]["held_reason"] == "gift"
    with pytest.raises(ApplicationError) as refused:
        tier_gift(giver=omar_member, friend_email_or_member="nina@example.com", tier=gold)
    assert refused.value.code == "gift_limit_reached"  # once a year
    assert_audit_clean()
