"""Staff configure earning rules and event rules in the admin."""

import uuid
from decimal import Decimal

import pytest

from members.models import User
from rewards.models import EarningRule, EventRule

RULES_URL = "/admin/rewards/earningrule/"
EVENTS_URL = "/admin/rewards/eventrule/"
SHOP_ID = str(uuid.uuid4())


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin@example.com", "admin-correct-horse"))
    return client


def rule_form(**changes) -> dict:
    data = {
        "name": "Double points on shoes",
        "kind": "multiplier",
        "is_active": "on",
        "currency": "eur",
        "points": "1",
        "amount": "1.00",
        "multiplier": "2",
        "rounding": "down",
        "scope": "line",
        "subtract_discounts": "on",
        "minimum_order_value": "",
        "categories": "Shoes\nboots, sandals",
        "skus": "",
        "shop_ids": SHOP_ID,
        "starts_at_0": "2026-12-01",
        "starts_at_1": "00:00:00",
        "ends_at_0": "2027-01-01",
        "ends_at_1": "00:00:00",
        "priority": "10",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_earning_rule_pages_render(admin_client):
    rule = EarningRule.objects.create(
        name="Shoes x2", kind="multiplier", currency="EUR", multiplier=Decimal(2), categories=["shoes"]
    )
    EarningRule.objects.create(name="Later", currency="EUR", starts_at="2030-01-01T00:00Z")
    changelist = admin_client.get(RULES_URL)
    assert changelist.status_code == 200
    text = changelist.text
    assert "Shoes x2" in text and "×2" in text and "1 per 1.00 EUR" in text  # the default base rate
    assert "Gift cards never earn" in text and "never earn" in text
    assert admin_client.get(f"{RULES_URL}add/").status_code == 200
    page = admin_client.get(f"{RULES_URL}{rule.pk}/change/")
    assert page.status_code == 200 and "shoes" in page.text
    assert admin_client.get(RULES_URL, {"kind": "exclusion", "is_active__exact": "1"}).status_code == 200


def test_staff_add_a_rule_typing_products_and_shops_one_per_line(admin_client):
    response = admin_client.post(f"{RULES_URL}add/", rule_form())
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = EarningRule.objects.get(name="Double points on shoes")
    assert (rule.currency, rule.categories, rule.skus, rule.shop_ids) == (
        "EUR",
        ["Shoes", "boots", "sandals"],
        [],
        [SHOP_ID],
    )
    assert rule.multiplier == 2 and rule.starts_at.year == 2026 and rule.ends_at.year == 2027
    page = admin_client.get(f"{RULES_URL}{rule.pk}/change/")
    assert "Shoes\nboots\nsandals" in page.text  # shown back one per line


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "euro"}, "currency"),
        ({"kind": "exclusion", "categories": ""}, "categories"),
        ({"kind": "fixed", "categories": ""}, "categories"),
        ({"multiplier": "1"}, "multiplier"),
        ({"multiplier": "0"}, None),  # the database constraint, reported by the form
        ({"shop_ids": "shop one"}, "shop_ids"),
        ({"ends_at_0": "2026-11-30"}, "ends_at"),
        ({"amount": "0"}, None),
        ({"points": "-1"}, None),
    ],
)
def test_the_rule_form_explains_what_is_wrong(admin_client, changes, field):
    response = admin_client.post(f"{RULES_URL}add/", rule_form(**changes))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors and (field is None or field in errors), errors
    assert not EarningRule.objects.filter(name="Double points on shoes").exists()


def test_event_rule_pages_render_and_staff_add_a_custom_event(admin_client):
    EventRule.objects.create(name="Review", event="review_written", points=50, limit_count=1, limit_period="day")
    changelist = admin_client.get(EVENTS_URL)
    assert changelist.status_code == 200 and "1 per day" in changelist.text
    assert admin_client.get(f"{EVENTS_URL}add/").status_code == 200
    data = {
        "name": "Store visit",
        "event": " Store_Visit ",
        "is_active": "on",
        "points": "20",
        "limit_count": "2",
        "limit_period": "week",
        "shop_ids": "",
    }
    response = admin_client.post(f"{EVENTS_URL}add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = EventRule.objects.get(name="Store visit")
    assert (rule.event, rule.points, rule.limit_count, rule.limit_period, rule.shop_ids) == (
        "store_visit",
        20,
        2,
        "week",
        [],
    )
    assert admin_client.get(f"{EVENTS_URL}{rule.pk}/change/").status_code == 200
    bad = admin_client.post(f"{EVENTS_URL}add/", {**data, "name": "Bad", "event": "store visit!", "limit_count": "0"})
    assert set(bad.context["adminform"].form.errors) == {"event", "limit_count"}
