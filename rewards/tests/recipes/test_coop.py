"""The co-op recipe, played through API v1: buying the membership SKU makes a member-owner for life,
and the annual dividend pays 10% of the year's spend as store credit (members only, once)."""

from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from members.models import Member
from rewards.selectors.catalogue import store_credit_balances
from rewards.services.tiers import tier_dividends_pay
from rewards.tests.recipes.helpers import assert_audit_clean, load

pytestmark = pytest.mark.django_db


def test_a_member_owner_gets_the_dividend():
    shops = load("coop")
    online, store = shops["Co-op - Online"], shops["Co-op - Flagship store"]
    rita = online.register("web-5", "rita@example.com")["id"]
    store.register("till-5", "rita@example.com")
    assert online.tier(rita) == "Shopper"

    # The membership 30.00 and a tent 320.00: 350 points, and Member-owner for life.
    online.order(rita, [("COOP-MEMBERSHIP", "membership", 1, "30.00"), ("TENT-2P", "camping", 1, "320.00")])
    member = online.member(rita)
    assert member["tier"]["name"] == "Member-owner"
    assert member["tier_progress"]["held_reason"] == "paid"
    assert member["tier_progress"]["held_until"] is None  # lifetime
    # Boots in the store, 150.00: 150 points; 500 available (nothing pending in a co-op).
    store.order(rita, [("BOOTS-42", "footwear", 1, "150.00")])
    assert store.points(rita) == (500, 0)

    # A shopper who never bought the membership spends too, and gets no dividend.
    otto = store.register("till-6", "otto@example.com")["id"]
    store.order(otto, [("ROPE-30", "climbing", 1, "90.00")])
    assert store.tier(otto) == "Shopper"

    # The dividend for this year: 10% of Rita's 30 + 320 + 150 = 500.00 spent = 50.00 store credit.
    year = timezone.now().astimezone(ZoneInfo("America/Denver")).year
    paid = tier_dividends_pay(year=year)
    assert [(d.spend, d.amount) for d in paid] == [(D("500.00"), D("50.00"))]
    tier_dividends_pay(year=year)  # run again (the beat retries): paid once
    rita_member = Member.objects.get(public_id=rita)
    [credit] = store_credit_balances(member=rita_member)
    assert (credit.balance, credit.currency) == (D("50.00"), "USD")
    assert credit.entries.get().kind == "dividend"
    assert store_credit_balances(member=Member.objects.get(public_id=otto)) == []

    # Her 500 points go to the trail fund.
    gift = store.redeem(rita, "Give 500 points to the trail fund")
    assert gift["cause"] == "Trail fund"
    assert store.points(rita) == (0, 0)
    assert_audit_clean()
