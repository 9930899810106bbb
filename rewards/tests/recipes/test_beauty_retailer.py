"""The beauty retailer recipe, played through API v1 in its two shops: one account online and in store,
double points on skincare during the campaign, Plus at 350.00 spent in the year and its birthday
points, a catalogue reward
redeemed in store and used online, a donation."""

from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from rewards.models import Cause
from rewards.selectors.catalogue import cause_totals
from rewards.services.events import birthday_points_award
from rewards.tests.recipes.helpers import assert_audit_clean, days_later, load

pytestmark = pytest.mark.django_db


def test_one_account_in_both_shops_with_tiers_and_catalogue():
    shops = load("beauty_retailer")
    online, store = shops["Beauty - Online"], shops["Beauty - Flagship store"]
    today = timezone.now().astimezone(ZoneInfo("Europe/Paris")).date()
    # Her birthday is today (1992 was a leap year, so any day is a date).
    chloe = online.register("web-31", "chloe@example.com", birthday=f"1992-{today:%m-%d}")["id"]
    assert online.points(chloe) == (100, 0)  # welcome bonus

    # Online: lipstick 30.00 + serum 60.00 = 90 points, and the skincare fortnight doubles the serum's
    # 60: +60 -> 150, pending 30 days.
    order = online.order(chloe, [("LIP-RED", "makeup", 1, "30.00"), ("SERUM-30", "skincare", 1, "60.00")])
    assert order["points"] == 150
    assert [r["source"] for r in order["lines"][1]["rules"]] == ["rule", "campaign"]

    # The flagship store registers her by e-mail: the same member, the same points.
    assert store.register("store-77", "chloe@example.com")["id"] == chloe
    assert store.points(chloe) == (100, 150)

    # In store: perfume 280.00 -> 280 points; spend 90 + 280 = 370.00 >= 350.00: Plus.
    assert store.order(chloe, [("EDP-50", "fragrance", 1, "280.00")])["points"] == 280
    assert store.tier(chloe) == "Plus"
    # As Plus (x1.25): a cream 40.00 on skincare: (40 + 40 campaign) x 1.25 = 100.
    assert store.order(chloe, [("CREAM-50", "skincare", 1, "40.00")])["points"] == 100
    assert store.points(chloe) == (100, 530)
    # Her birthday as Plus: 100 points, available at once (the nightly birthday task).
    assert birthday_points_award() == 1
    assert store.points(chloe) == (200, 530)
    days_later(31)
    assert store.points(chloe) == (730, 0)

    catalogue = store.rewards(chloe)
    assert catalogue["Make-up lesson in store"]["reason"]["details"] == {"reason": "tier", "tier": "Premier"}
    assert "Make-up lesson in store" not in online.rewards(chloe)  # offered in the store only

    # 10.00 off for 500 points, redeemed at the store's till, used online on a cart of 30.00 or more.
    voucher = store.redeem(chloe, "10.00 off")
    assert voucher["balance"]["available"] == 230
    code = voucher["coupon"]["code"]
    assert online.validate(code, "35.00")["discount"]["amount"] == "10.00"
    assert online.validate(code, "20.00")["reason"] == "below_minimum_order"

    # 100 points to the community fund.
    gift = online.redeem(chloe, "Give 100 points to the community fund")
    assert gift["cause"] == "Community fund"
    assert online.points(chloe) == (130, 0)
    totals = {c.name: c for c in cause_totals()}
    assert totals["Community fund"].donated_points == 100
    assert Cause.objects.count() == 1
    assert_audit_clean()
