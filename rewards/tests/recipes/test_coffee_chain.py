"""The coffee chain recipe, played through API v1: stars for joining and buying (none for loading a gift
card), free items at 25, 100 and 200 stars."""

import pytest

from rewards.tests.recipes.helpers import assert_audit_clean, load

pytestmark = pytest.mark.django_db


def test_stars_buy_an_extra_shot_then_a_coffee():
    shops = load("coffee_chain")
    app, store = shops["Coffee house - App"], shops["Coffee house - Main street"]
    sam = app.register("app-7", "sam@example.com")["id"]
    store.register("till-7", "sam@example.com")
    assert app.points(sam) == (25, 0)  # the welcome bonus, available at once

    # Latte 5.45 and a croissant 3.20 = 8.65 (+0.71 tax, not counted) x 2 stars = 17.3 -> 17.
    assert (
        store.order(sam, [("LATTE", "drinks", 1, "5.45"), ("CROISSANT", "bakery", 1, "3.20")], tax="0.71")["points"]
        == 17
    )
    assert app.points(sam) == (42, 0)

    # 25 stars: an extra shot, a coupon for the ADD-ON item, usable at the till.
    shot = app.redeem(sam, "Extra shot or syrup")
    assert shot["coupon"]["kind"] == "free_product"
    assert shot["coupon"]["sku"] == "ADD-ON"
    assert shot["balance"]["available"] == 17
    check = store.validate(shot["coupon"]["code"], "6.10", [("LATTE", 1, "5.45"), ("ADD-ON", 1, "0.65")])
    assert check["valid"] is True
    assert check["discount"]["sku"] == "ADD-ON"

    # A 25.00 gift card load earns nothing; the cold brew beside it 4.95 x 2 = 9.9 -> 9 stars.
    order = app.order(sam, [("GIFT-25", "gift card", 1, "25.00"), ("COLD-BREW", "drinks", 1, "4.95")])
    assert order["points"] == 9
    # A bag of beans 45.00 -> 90 stars: 17 + 9 + 90 = 116.
    assert app.order(sam, [("BEANS-1KG", "coffee beans", 1, "45.00")])["points"] == 90
    catalogue = app.rewards(sam)
    assert catalogue["Brewed coffee or bakery item"]["available"] is True
    assert catalogue["Handcrafted drink"]["short_by"] == 200 - 116

    coffee = store.redeem(sam, "Brewed coffee or bakery item")
    assert coffee["points"] == 100
    assert coffee["coupon"]["sku"] == "BREWED-OR-BAKERY"
    assert app.points(sam) == (16, 0)
    assert_audit_clean()
