"""The department store recipe, played through API v1: points on everything paid (tax included, gift
cards not), pending for the 28-day return window, Silver at 500.00 spent in the year, a voucher."""

import pytest

from rewards.tests.recipes.helpers import assert_audit_clean, days_later, load

pytestmark = pytest.mark.django_db


def test_a_customer_earns_reaches_silver_and_spends_a_voucher():
    shops = load("department_store")
    store, online = shops["Store - City centre"], shops["Department store - Online"]
    ann = store.register("card-1001", "ann@example.com")["id"]
    online.register("web-1001", "ann@example.com")
    assert store.tier(ann) == "Member"  # nobody below the lowest tier

    # A coat: 400.00 + 80.00 VAT = 480.00 paid -> 480 points (tax counts), pending for 28 days.
    assert store.order(ann, [("COAT-1", "coats", 1, "400.00")], tax="80.00")["points"] == 480
    assert store.points(ann) == (0, 480)
    assert store.tier(ann) == "Member"  # 480.00 spent, Silver needs 500.00

    # Online: shoes 100.00 and a gift card 50.00, 20.00 VAT: 170.00 paid, shared by line: the shoes'
    # share is 170 x 100/150 = 113.33 -> 113 points; the gift card's 56.67 earns nothing.
    # Spend 480 + 170 = 650.00: Silver from now on (this order earned at the Member rate).
    order = online.order(ann, [("SHOES-9", "shoes", 1, "100.00"), ("GC-50", "gift card", 1, "50.00")], tax="20.00")
    assert order["points"] == 113
    assert order["lines"][1]["excluded_by"] == "Gift cards never earn"
    assert store.tier(ann) == "Silver"

    # As Silver (x1.25): a scarf 80.00 + 16.00 VAT = 96 points x 1.25 = 120.
    assert store.order(ann, [("SCARF-2", "accessories", 1, "80.00")], tax="16.00")["points"] == 120
    progress = store.member(ann)["tier_progress"]
    assert progress["next_tier"]["name"] == "Gold"
    assert progress["value"] == "746.00"  # 480 + 170 + 96 spent this year
    assert progress["needed"] == "754.00"  # to 1,500.00

    # The return window closes: 480 + 113 + 120 = 713 available.
    assert store.points(ann) == (0, 713)
    days_later(29)
    assert store.points(ann) == (713, 0)

    catalogue = store.rewards(ann)
    assert catalogue["5.00 off"]["available"] is True
    assert catalogue["25.00 off"]["short_by"] == 2500 - 713
    assert catalogue["Private shopping evening"]["reason"]["details"] == {"reason": "tier", "tier": "Gold"}

    # 500 points for 5.00 off, redeemed at the till; the code works online too.
    redemption = store.redeem(ann, "5.00 off")
    assert redemption["coupon"]["value"] == "5.00"
    assert redemption["coupon"]["currency"] == "GBP"
    assert redemption["balance"] == {"available": 213, "pending": 0}
    check = online.validate(redemption["coupon"]["code"], "30.00")
    assert check["valid"] is True
    assert check["discount"]["amount"] == "5.00"
    assert_audit_clean()
