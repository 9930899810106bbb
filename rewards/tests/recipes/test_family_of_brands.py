"""The family of brands recipe, played through API v1: 3 points per 1.00 in every brand's shop, one
balance, spent as money off in another brand's shop and as store credit."""

from decimal import Decimal as D

import pytest

from members.models import Member
from rewards.selectors.catalogue import store_credit_balances
from rewards.tests.recipes.helpers import assert_audit_clean, days_later, load

pytestmark = pytest.mark.django_db


def test_earn_in_two_brands_spend_in_a_third():
    shops = load("family_of_brands")
    outdoor = shops["Family - Outdoor brand"]
    home = shops["Family - Home brand"]
    kitchen = shops["Family - Kitchen brand store"]
    erik = outdoor.register("o-1", "erik@example.com")["id"]
    kitchen.register("k-1", "erik@example.com")
    home.register("h-1", "erik@example.com")

    # A jacket 199.90 x 3 = 599.7 -> 599 points; a pan 45.00 x 3 = 135; pending 14 days.
    assert outdoor.order(erik, [("JACKET", "outerwear", 1, "199.90")])["points"] == 599
    assert kitchen.order(erik, [("PAN-28", "cookware", 1, "45.00")])["points"] == 135
    assert home.points(erik) == (0, 734)
    days_later(15)
    assert home.points(erik) == (734, 0)

    # In the home brand's shop: 700 points = 7.00 off (100 points per 1.00).
    paid = home.redeem(erik, "Pay with points", points=700)
    assert paid["coupon"]["value"] == "7.00"
    code = paid["coupon"]["code"]
    assert home.validate(code, "50.00")["discount"]["amount"] == "7.00"
    assert kitchen.validate(code, "50.00")["valid"] is True  # any shop of the family takes it
    assert home.rewards(erik)["10.00 store credit"]["short_by"] == 1000 - 34

    # A dinner service 400.00 in the kitchen store: 1,200 points; two weeks on, 34 + 1,200 = 1,234, and
    # 1,000 of them become 10.00 of store credit, in the outdoor shop.
    assert kitchen.order(erik, [("DINNER-SET", "tableware", 1, "400.00")])["points"] == 1200
    days_later(15)
    credit = outdoor.redeem(erik, "10.00 store credit")
    assert credit["store_credit"] == {"amount": "10.00", "currency": "EUR"}
    assert credit["coupon"] is None
    assert credit["balance"] == {"available": 234, "pending": 0}
    [account] = store_credit_balances(member=Member.objects.get(public_id=erik))
    assert account.balance == D("10.00")
    assert_audit_clean()
