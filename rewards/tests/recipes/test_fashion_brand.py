"""The fashion brand recipe, played through API v1: points for joining, following (once), the newsletter
and bringing a friend (the `referral` event), points per 1.00 on orders, and points paid at checkout
within the cap of 1,000 points (50.00) an order."""

import pytest

from rewards.tests.recipes.helpers import assert_audit_clean, days_later, load

pytestmark = pytest.mark.django_db


def test_engagement_points_and_paying_with_points_up_to_the_cap():
    (shop,) = load("fashion_brand").values()
    zoe = shop.register("f-1", "zoe@example.com")["id"]
    assert shop.points(zoe) == (100, 0)  # welcome bonus

    assert shop.event(zoe, "social_follow")["points"] == 50  # 150
    again = shop.event(zoe, "social_follow")
    assert (again["status"], again["points"]) == ("limit_reached", 0)  # once ever
    assert shop.event(zoe, "newsletter_signup")["points"] == 100  # 250
    assert shop.event(zoe, "referral")["points"] == 250  # a friend she brought ordered: 500
    assert shop.points(zoe) == (500, 0)

    # Jeans 89.95 -> 89 points, pending for the 30-day return window; the gift card beside them earns none.
    order = shop.order(zoe, [("JEANS-32", "denim", 1, "89.95"), ("GIFT-20", "gift card", 1, "20.00")])
    assert order["points"] == 89
    assert shop.points(zoe) == (500, 89)

    # Pay with points: 500 points at 20 points per 1.00 = 25.00 off.
    paid = shop.redeem(zoe, "Pay with points", points=500)
    assert (paid["points"], paid["coupon"]["value"]) == (500, "25.00")
    check = shop.validate(paid["coupon"]["code"], "20.00")
    assert check["discount"]["amount"] == "20.00"  # never more than the cart

    days_later(31)
    assert shop.points(zoe) == (89, 0)
    # Above the cap of 1,000 points an order: refused whatever the balance.
    refused = shop.redeem(zoe, "Pay with points", points=1200, expect=422)
    assert refused["error"]["code"] == "invalid_points"
    assert refused["error"]["details"]["max_points"] == 1000
    assert shop.rewards(zoe)["15% off (up to 30.00)"]["short_by"] == 600 - 89
    assert_audit_clean()
