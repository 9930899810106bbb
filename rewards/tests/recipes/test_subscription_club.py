"""The subscription club recipe, played through API v1: the CLUB-ANNUAL line makes a club member for 12
months (free shipping, double points, the member week's triple points on electronics), a member offer,
a guest's free-shipping code, and the membership running out a year later."""

import datetime as dt

import pytest
from django.utils import timezone

from rewards.services.tiers import tiers_recalculate
from rewards.tests.recipes.helpers import assert_audit_clean, days_later, load

pytestmark = pytest.mark.django_db


def test_club_membership_perks_offers_and_expiry():
    (shop,) = load("subscription_club").values()
    mia = shop.register("c-1", "mia@example.com")["id"]
    assert shop.tier(mia) == "Guest"

    # The membership 49.00 and a TV 800.00: 849 points at the Guest rate (the order that buys the
    # membership earns as before it), pending 14 days; then Club member with free shipping.
    assert (
        shop.order(mia, [("CLUB-ANNUAL", "membership", 1, "49.00"), ("TV-55", "electronics", 1, "800.00")])["points"]
        == 849
    )
    member = shop.member(mia)
    assert member["tier"]["name"] == "Club member"
    assert member["tier"]["perks"]["free_shipping"] is True
    assert member["tier_progress"]["held_reason"] == "paid"

    # As a club member: a charger 25.00 and a book 10.00 = 35 base points, member week triples the
    # charger's 25 (+50), then x2 for the club: (35 + 50) x 2 = 170.
    order = shop.order(mia, [("CHARGER", "electronics", 1, "25.00"), ("NOVEL", "books", 1, "10.00")])
    assert order["points"] == 170
    days_later(15)
    assert shop.points(mia) == (849 + 170, 0)

    # The member offer: 15.00 off for 1,000 points.
    offer = shop.redeem(mia, "Member offer: 15.00 off")
    assert offer["coupon"]["value"] == "15.00"
    assert offer["balance"]["available"] == 19

    # A guest earns at the plain rate, without the member week, and cannot take the member offer.
    leo = shop.register("c-2", "leo@example.com")["id"]
    assert shop.order(leo, [("LAPTOP", "electronics", 1, "400.00")])["points"] == 400
    days_later(15)
    catalogue = shop.rewards(leo)
    assert catalogue["Member offer: 15.00 off"]["reason"]["details"] == {"reason": "tier", "tier": "Club member"}
    shipping = shop.redeem(leo, "Free shipping on one order")
    assert shipping["coupon"]["kind"] == "free_shipping"
    assert shipping["balance"]["available"] == 100

    # Not renewed: the night after the 12 months the membership ends and Mia is a guest again.
    tiers_recalculate(at=timezone.now() + dt.timedelta(days=370))
    assert shop.tier(mia) == "Guest"
    assert_audit_clean()
