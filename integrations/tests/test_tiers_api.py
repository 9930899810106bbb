"""Tiers through API v1: the tier's multiplier in an order's breakdown (POST /orders and the batch), the
member's `tier` and `tier_progress` (GET /members/{id}), and the queries tiers add."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection
from django.utils import timezone

from integrations.models import Order
from integrations.services.members import member_upsert
from integrations.services.orders_batch import orders_record_batch
from referrals.selectors import referral_program_get
from rewards.models import PointsAccount, Tier, TierChange
from rewards.services.events import event_first_purchase_record
from rewards.services.tiers import tier_set

ORDERS = "/api/v1/orders"
MEMBERS = "/api/v1/members"


@pytest.fixture
def tiers(db):
    bronze = Tier.objects.create(
        name="Bronze", rank=0, metric="spend", window="calendar_year", entry_threshold=0, colour="#CD7F32", icon="●"
    )
    silver = Tier.objects.create(
        name="Silver",
        rank=1,
        metric="spend",
        window="calendar_year",
        entry_threshold=D("500"),
        retention_threshold=D("400"),
        earning_multiplier=D("1.5"),
        free_shipping=True,
        colour="#A8A9AD",
        icon="https://cdn.example.com/silver.png",
    )
    gold = Tier.objects.create(
        name="Gold", rank=2, metric="spend", window="calendar_year", entry_threshold=D("1000"), earning_multiplier=2
    )
    return bronze, silver, gold


def order_body(external_id="o-1", total="100.00", **overrides):
    data = {
        "external_id": external_id,
        "member_external_id": "cust-1",
        "currency": "EUR",
        "total": total,
        "subtotal": total,
        "placed_at": (timezone.now() - dt.timedelta(minutes=1)).isoformat(),
        "lines": [{"sku": "A", "name": "Shoes", "quantity": 1, "unit_price": total, "total": total}],
    }
    data.update(overrides)
    return data


def test_the_tier_multiplier_is_in_the_order_breakdown(api, member, rules, tiers):
    _bronze, silver, _gold = tiers
    first = api.post(ORDERS, order_body("o-1", total="500.00"), format="json")
    assert first.status_code == 201, first.content
    assert first.json()["points"] == 500  # Bronze when the order was evaluated: no multiplier
    assert PointsAccount.objects.get(member=member).tier == silver  # 500.00: Silver at once

    response = api.post(ORDERS, order_body("o-2", total="10.00"), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["points"] == 15
    contributions = response.json()["lines"][0]["rules"]
    assert {"source": "tier", "ref": str(silver.public_id), "name": "Silver", "kind": "multiplier", "points": 5} in (
        contributions
    )
    stored = Order.objects.get(external_id="o-2").breakdown["multipliers"]
    assert stored == [
        {
            "source": "tier",
            "ref": str(silver.public_id),
            "name": "Silver",
            "kind": "multiplier",
            "points": 5,
            "factor": "1.500",
        }
    ]


def test_simulate_shows_the_tier_multiplier(api, member, rules, tiers):
    _bronze, silver, _gold = tiers
    tier_set(member=member, tier=silver, ends_at=timezone.now() + dt.timedelta(days=1), actor=None, reason="Test")
    response = api.post(f"{ORDERS}/simulate", order_body("o-1", total="10.00"), format="json")
    assert response.status_code == 200, response.content
    assert response.json()["points"] == 15


def test_a_batch_applies_each_members_multiplier_and_moves_them_up(api, shop, rules, tiers):
    _bronze, silver, gold = tiers
    ana, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    bob, _ = member_upsert(shop=shop, external_id="cust-2", email="bob@example.com")
    tier_set(member=ana, tier=silver, ends_at=timezone.now() + dt.timedelta(days=1), actor=None, reason="Test")
    response = api.post(
        f"{ORDERS}/batch",
        {
            "orders": [
                order_body("b-1", total="10.00"),
                order_body("b-2", total="1000.00", member_external_id="cust-2"),
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert [r["order"]["points"] for r in response.json()["results"]] == [15, 1000]
    assert PointsAccount.objects.get(member=bob).tier == gold
    assert TierChange.objects.filter(account__member=bob, reason="order").count() == 1


def test_member_detail_shows_the_tier_and_the_progress(api, member, rules, tiers):
    _bronze, silver, gold = tiers
    assert api.post(ORDERS, order_body("o-1", total="640.00"), format="json").status_code == 201
    data = api.get(f"{MEMBERS}/{member.public_id}").json()
    assert data["tier"] == {
        "id": str(silver.public_id),
        "name": "Silver",
        "rank": 1,
        "colour": "#A8A9AD",
        "icon": "https://cdn.example.com/silver.png",
        "perks": {
            "earning_multiplier": "1.500",
            "birthday_bonus_points": 0,
            "free_shipping": True,
            "early_access": False,
            "can_gift": False,
        },
    }
    progress = data["tier_progress"]
    year = timezone.now().astimezone(dt.UTC).year  # the program's zone is UTC here
    assert progress["next_tier"] == {"id": str(gold.public_id), "name": "Gold", "rank": 2}
    assert (progress["metric"], progress["window"], progress["currency"]) == ("spend", "calendar_year", "EUR")
    assert (progress["value"], progress["needed"], progress["percent"]) == ("640.00", "360.00", 64)
    assert progress["window_ends_at"].startswith(f"{year + 1}-01-01T00:00:00")
    keep = progress["keep"]
    assert (keep["threshold"], keep["value"], keep["kept"]) == ("400.00", "640.00", True)
    assert keep["by"].startswith(f"{year + 1}-01-01") and keep["until"].startswith(f"{year + 2}-01-01")
    assert (progress["held_until"], progress["held_reason"]) == (None, "")


def test_member_detail_without_tiers_has_nulls(api, member):
    data = api.get(f"{MEMBERS}/{member.public_id}").json()
    assert (data["tier"], data["tier_progress"]) == (None, None)


def test_member_detail_at_the_top_and_held_by_staff(api, member, tiers):
    _bronze, _silver, gold = tiers
    ends = timezone.now() + dt.timedelta(days=30)
    tier_set(member=member, tier=gold, ends_at=ends, actor=None, reason="VIP")
    progress = api.get(f"{MEMBERS}/{member.public_id}").json()["tier_progress"]
    assert progress["next_tier"] is None and progress["needed"] is None and progress["percent"] == 100
    assert progress["held_reason"] == "staff"
    assert progress["keep"]["kept"] is False  # on the figures alone; the override holds it until `held_until`


def test_member_detail_query_count_with_tiers(api, member, rules, tiers, django_assert_num_queries):
    assert api.post(ORDERS, order_body("o-1", total="640.00"), format="json").status_code == 201
    api.get(f"{MEMBERS}/{member.public_id}")  # the key's last-used time is written once a minute
    # key, link with member/user/account, program, grouped expiring lots, the tiers (cached per process in
    # production), the member's metrics with their tier holds (one query), the referral program (cached per
    # process in production; the program is off, so no referral code or referral is read)
    with django_assert_num_queries(7):
        assert api.get(f"{MEMBERS}/{member.public_id}").status_code == 200


@pytest.mark.parametrize("n", [5, 30])
def test_batch_queries_with_tiers_do_not_grow(shop, rules, tiers, n, django_assert_num_queries):
    from integrations.tests.test_orders_batch import BATCH_QUERIES, _validated

    referral_program_get()  # made on first use; BATCH_QUERIES counts its read, not its making
    members = []
    for i in range(n):
        member, _ = member_upsert(shop=shop, external_id=f"cust-{i}", email=f"m{i}@example.com")
        event_first_purchase_record(member=member, shop=shop, occurred_at=timezone.now())
        members.append(member)
    orders = _validated([order_body(f"o-{i}", total="600.00", member_external_id=f"cust-{i}") for i in range(n)])
    if connection.vendor == "sqlite" and n > 20:
        pytest.skip("SQLite: Django splits a bulk insert at 999 parameters, so big batches take a few more inserts")
    # BATCH_QUERIES (without lookups by member id or e-mail: -2), the members' metrics, and as every member
    # moves up (Silver): one INSERT of the tier changes and one UPDATE of the accounts.
    with django_assert_num_queries(BATCH_QUERIES - 2 + 3):
        results = orders_record_batch(shop=shop, orders=orders)
    assert [r.status for r in results] == [201] * n
    assert {a.tier.name for a in PointsAccount.objects.filter(member__in=members).select_related("tier")} == {"Silver"}
    # Once they hold the tier, a batch only reads their metrics.
    orders = _validated([order_body(f"p-{i}", total="1.00", member_external_id=f"cust-{i}") for i in range(n)])
    with django_assert_num_queries(BATCH_QUERIES - 2 + 1):
        orders_record_batch(shop=shop, orders=orders)


def test_the_tier_multiplier_rounds_as_the_program_says(api, member, rules, tiers):
    from rewards.tests.helpers import set_program

    _bronze, silver, _gold = tiers
    set_program(rounding="half_up")
    tier_set(member=member, tier=silver, ends_at=timezone.now() + dt.timedelta(days=1), actor=None, reason="Test")
    response = api.post(ORDERS, order_body("o-1", total="11.00"), format="json")
    assert response.json()["points"] == 17  # 11 x 1.5 = 16.5, half up


def test_tiers_add_one_query_to_an_order_that_moves_no_one(api, member, rules):
    """POST /orders with tiers defined: the members' metrics are one query more than without tiers (the tiers
    themselves are loaded either way: cached per process in production, every time in the tests)."""
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    assert api.post(ORDERS, order_body("o-0"), format="json").status_code == 201  # first purchase, key use
    with CaptureQueriesContext(conn) as without_tiers:
        assert api.post(ORDERS, order_body("o-1"), format="json").status_code == 201
    Tier.objects.create(name="Member", rank=0, metric="spend", entry_threshold=0)
    Tier.objects.create(name="Plus", rank=1, metric="spend", entry_threshold=D("10000"))
    assert api.post(ORDERS, order_body("o-2"), format="json").status_code == 201  # records the first tier
    with CaptureQueriesContext(conn) as with_tiers:
        assert api.post(ORDERS, order_body("o-3"), format="json").status_code == 201
    assert len(with_tiers) == len(without_tiers) + 1
