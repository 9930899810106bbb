"""The batch picks each order's earning rules as the single path does (rewards.selectors.earning_rules_active)."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from integrations.services.orders_batch import _rules_by_order
from integrations.services.shops import shop_create
from rewards.models import EarningRule
from rewards.selectors import earning_rules_active

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_default_rules():
    EarningRule.objects.all().delete()


def _rule(name, currency="EUR", **fields):
    return EarningRule.objects.create(name=name, kind="base_rate", currency=currency, points=1, amount=1, **fields)


def _loaded():
    return list(EarningRule.objects.filter(is_active=True).order_by("-priority", "id"))


def test_without_windows_every_order_of_a_currency_gets_the_same_rules():
    shop, other = shop_create(name="Shop"), shop_create(name="Other")
    _rule("Everywhere", priority=1)
    _rule("Here only", shop_ids=[f" {str(shop.public_id).upper()} "])
    _rule("Elsewhere", shop_ids=[str(other.public_id)])
    _rule("Dollars", currency="USD")
    rules_for = _rules_by_order(_loaded(), shop=shop)
    now = timezone.now()
    assert [r.name for r in rules_for({"currency": "EUR", "placed_at": now})] == ["Everywhere", "Here only"]
    assert [r.name for r in rules_for({"currency": "USD", "placed_at": now})] == ["Dollars"]
    assert rules_for({"currency": "GBP", "placed_at": now}) == []


def test_windows_are_checked_at_each_orders_placing_time_as_the_single_path_does():
    shop = shop_create(name="Shop")
    now = timezone.now()
    day = dt.timedelta(days=1)
    _rule("Always")
    _rule("Started yesterday", starts_at=now - day)
    _rule("Ends tomorrow", ends_at=now + day, priority=5)
    _rule("Last week only", starts_at=now - 8 * day, ends_at=now - 6 * day)
    _rule("Not yet", starts_at=now + day)
    _rule("Other shop, started", starts_at=now - day, shop_ids=[str(shop_create(name="Other").public_id)])
    rules_for = _rules_by_order(_loaded(), shop=shop)
    for placed_at in (now - 7 * day, now - 2 * day, now - day, now, now + 2 * day):
        expected = earning_rules_active(currency="EUR", shop_id=str(shop.public_id), at=min(placed_at, now))
        got = rules_for({"currency": "EUR", "placed_at": placed_at})
        assert [r.pk for r in got] == [r.pk for r in expected], placed_at
    assert any(
        len(rules_for({"currency": "EUR", "placed_at": a})) != len(rules_for({"currency": "EUR", "placed_at": b}))
        for a, b in itertools.combinations((now - 7 * day, now - 2 * day, now), 2)
    )
