"""Campaigns through the orders API: each kind in the breakdown of POST /orders, /orders/simulate and
/orders/batch (a batch gives what single orders give), budgets and per-member limits capping what orders
get (also when many orders race on PostgreSQL), refunds and cancels taking the campaign part back."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from core.tests.concurrency import run_at_once
from integrations.models import Order
from integrations.services.members import member_upsert
from integrations.services.orders import order_cancel, order_record, order_refund
from integrations.services.shops import shop_create
from integrations.tests.helpers import api_client
from rewards.models import Campaign, CampaignMember, PointEntry, Segment
from rewards.selectors import ledger_audit

URL = "/api/v1/orders"
PLACED_AT = dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _audit(db):
    yield
    assert ledger_audit() == []


def body(external_id="o-1", *, customer="cust-1", placed_at=PLACED_AT, **overrides):
    """125.00 paid, 21.00 tax, 4.00 shipping: 80 base points (shoes 50, socks 30; the gift card never earns)."""
    data = {
        "external_id": external_id,
        "member_external_id": customer,
        "currency": "EUR",
        "total": "125.00",
        "subtotal": "100.00",
        "tax": "21.00",
        "shipping": "4.00",
        "discount": "0.00",
        "placed_at": placed_at.isoformat(),
        "lines": [
            {"sku": "A", "name": "Shoes", "category": "shoes", "quantity": 2, "unit_price": "25.00", "total": "50.00"},
            {"sku": "B", "name": "Socks", "category": "socks", "quantity": 3, "unit_price": "10.00", "total": "30.00"},
            {
                "sku": "GC",
                "name": "Gift card",
                "category": "gift card",
                "quantity": 1,
                "unit_price": "20",
                "total": "20",
            },
        ],
    }
    data.update(overrides)
    return data


def campaign(**fields) -> Campaign:
    defaults = {
        "name": "Double points weekend",
        "kind": Campaign.Kind.ORDER_MULTIPLIER,
        "factor": Decimal(2),
        "starts_at": PLACED_AT - dt.timedelta(days=1),
        "ends_at": PLACED_AT + dt.timedelta(days=1),
    }
    defaults.update(fields)
    segments = defaults.pop("segments", ())
    made = Campaign.objects.create(**defaults)
    made.segments.set(segments)
    return made


def _campaign_parts(breakdown: dict) -> list[dict]:
    return [s for s in (*breakdown["rules"], *breakdown["multipliers"]) if s["source"] == "campaign"]


def test_double_points_doubles_the_order_and_shows_in_the_breakdown(api, member, rules):
    double = campaign()
    response = api.post(URL, body(), format="json")
    assert response.status_code == 201, response.content
    order = Order.objects.get(external_id="o-1")
    assert order.points == 160
    assert order.breakdown["multipliers"] == [
        {
            "source": "campaign",
            "ref": str(double.public_id),
            "name": "Double points weekend",
            "kind": "multiplier",
            "points": 80,
            "factor": "2.0000",
        }
    ]
    shoes = order.breakdown["lines"][0]
    assert shoes["points"] == 100
    assert [(c["source"], c["points"]) for c in shoes["rules"]] == [("rule", 50), ("campaign", 50)]
    usage = CampaignMember.objects.get(campaign=double, member=member)
    assert (usage.points, usage.times) == (80, 1)
    assert member.points_account.lots.get().points == 160


def test_simulate_shows_the_campaign_without_using_its_budget(api, member, rules):
    double = campaign(budget=1000)
    response = api.post(f"{URL}/simulate", body(), format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["points"] == 160
    double.refresh_from_db()
    assert double.points_given == 0 and not CampaignMember.objects.exists()


def test_a_category_multiplier_and_fixed_points_per_unit_are_campaign_rules(api, member, rules):
    shoes = campaign(name="Triple on shoes", kind=Campaign.Kind.PRODUCT_MULTIPLIER, factor=3, categories=["Shoes"])
    socks = campaign(name="5 per pair of socks", kind=Campaign.Kind.PRODUCT_POINTS, points=5, skus=["B"])
    assert api.post(URL, body(), format="json").status_code == 201
    breakdown = Order.objects.get().breakdown
    parts = {s["ref"]: s for s in _campaign_parts(breakdown)}
    assert parts[str(shoes.public_id)]["points"] == 100  # (3 - 1) x 50
    assert parts[str(socks.public_id)]["points"] == 15  # 3 pairs x 5
    assert parts[str(shoes.public_id)]["kind"] == "multiplier" and parts[str(socks.public_id)]["kind"] == "fixed"
    assert breakdown["points"] == 80 + 100 + 15
    # The gift card is excluded by the earning rules: no campaign gives it anything either.
    assert breakdown["lines"][2]["points"] == 0


@pytest.mark.parametrize(
    ("starts", "ends", "applies"),
    [
        (PLACED_AT, PLACED_AT + dt.timedelta(hours=1), True),  # starts exactly when the order is placed
        (PLACED_AT - dt.timedelta(hours=1), PLACED_AT, False),  # ends exactly then: over
        (PLACED_AT + dt.timedelta(seconds=1), PLACED_AT + dt.timedelta(days=1), False),  # not yet
    ],
)
def test_the_window_is_start_inclusive_and_end_exclusive(api, member, rules, starts, ends, applies):
    campaign(starts_at=starts, ends_at=ends)
    assert api.post(URL, body(), format="json").status_code == 201
    assert Order.objects.get().points == (160 if applies else 80)


def test_inactive_campaigns_other_currencies_and_other_shops_do_not_apply(api, shop, member, rules):
    other = shop_create(name="Store", currency="EUR", time_zone="Europe/Amsterdam")
    campaign(name="Paused", is_active=False)
    campaign(name="In dollars", currency="USD")
    campaign(name="The store only", shop_ids=[str(other.public_id)])
    assert api.post(URL, body(), format="json").status_code == 201
    assert Order.objects.get().points == 80
    campaign(name="This shop", shop_ids=[str(shop.public_id)], currency="EUR")
    assert api.post(URL, body("o-2"), format="json").status_code == 201
    assert Order.objects.get(external_id="o-2").points == 160


def test_a_targeted_offer_only_reaches_its_segment(api, shop, member, rules):
    other, _ = member_upsert(shop=shop, external_id="cust-2", email="bo@example.com")
    vip = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC)
    vip.static_members.create(member=member)
    campaign(name="VIP double", segments=[vip])
    assert api.post(URL, body("o-1"), format="json").status_code == 201
    assert api.post(URL, body("o-2", customer="cust-2"), format="json").status_code == 201
    assert Order.objects.get(external_id="o-1").points == 160
    assert Order.objects.get(external_id="o-2").points == 80
    assert other.campaigns_reached.count() == 0


def test_the_budget_caps_the_order_that_would_exceed_it(api, member, rules):
    double = campaign(budget=100)
    assert api.post(URL, body("o-1"), format="json").status_code == 201
    response = api.post(URL, body("o-2"), format="json")
    assert response.status_code == 201
    second = Order.objects.get(external_id="o-2")
    # 80 of the budget went to the first order; the second gets the 20 left, not 80.
    assert second.points == 100 and response.json()["points"] == 100
    assert second.breakdown["points"] == 100
    assert sum(line["points"] for line in second.breakdown["lines"]) == 100
    assert _campaign_parts(second.breakdown)[0]["points"] == 20
    assert second.breakdown["notes"][-1]["code"] == "campaign_capped"
    lot = second.lot
    assert lot.points - lot.reversed_points == 100
    assert PointEntry.objects.filter(idempotency_key=f"campaign-cap:{second.public_id}").exists()
    double.refresh_from_db()
    assert double.points_given == 100
    # Spent: the next order does not even see the campaign.
    assert api.post(URL, body("o-3"), format="json").status_code == 201
    assert Order.objects.get(external_id="o-3").points == 80
    assert "campaign_capped" not in str(Order.objects.get(external_id="o-3").breakdown["notes"])


def test_the_member_limit_caps_each_member_separately(api, shop, member, rules):
    member_upsert(shop=shop, external_id="cust-2", email="bo@example.com")
    double = campaign(member_limit=100)
    for external_id, customer in [("o-1", "cust-1"), ("o-2", "cust-1"), ("o-3", "cust-2"), ("o-4", "cust-1")]:
        assert api.post(URL, body(external_id, customer=customer), format="json").status_code == 201
    points = dict(Order.objects.values_list("external_id", "points"))
    assert points == {"o-1": 160, "o-2": 100, "o-3": 160, "o-4": 80}
    usage = dict(CampaignMember.objects.filter(campaign=double).values_list("member__number", "points"))
    assert sorted(usage.values()) == [80, 100]


def test_a_refund_and_a_cancel_take_the_campaign_part_back_and_the_budget_keeps_it(shop, member, rules):
    double = campaign(budget=1000)
    order, _ = order_record(shop=shop, data=body() | {"placed_at": PLACED_AT})
    assert order.points == 160
    refund, _ = order_refund(order=order, external_id="r-1", lines=[{"sku": "A", "quantity": 1}])
    assert refund.points == 50  # half the shoes line: 25 base + 25 campaign
    order, reversed_now = order_cancel(order=order)
    assert reversed_now == 110
    double.refresh_from_db()
    assert double.points_given == 80  # a budget counts what the campaign gave; refunds do not give it back


def test_a_refund_of_a_capped_order_reverses_from_the_capped_breakdown(shop, member, rules):
    campaign(budget=20)
    order, _ = order_record(shop=shop, data=body() | {"placed_at": PLACED_AT})
    assert order.points == 100
    _, reversed_now = order_cancel(order=order)
    assert reversed_now == 100
    order.lot.refresh_from_db()
    assert order.lot.reversed_points == order.lot.points == 160 and order.lot.remaining == 0


def test_an_unmatched_order_gets_its_campaign_points_when_matched(api, shop, rules):
    double = campaign(budget=100)
    assert api.post(URL, body(customer="later"), format="json").status_code == 201
    order = Order.objects.get()
    assert order.status == Order.Status.UNMATCHED and order.breakdown["points"] == 160
    member, _ = member_upsert(shop=shop, external_id="later", email="late@example.com")
    order.refresh_from_db()
    assert order.member == member
    double.refresh_from_db()
    assert double.points_given == CampaignMember.objects.get(campaign=double).points == 80


def _batch(api, orders):
    response = api.post(f"{URL}/batch", {"orders": orders}, format="json")
    assert response.status_code in (200, 201, 207), response.content
    return response


def test_a_batch_gives_what_single_orders_give(rules):
    shops = {name: shop_create(name=name, currency="EUR", time_zone="Europe/Amsterdam") for name in ("single", "batch")}
    for s in shops.values():
        for i in range(3):
            member_upsert(shop=s, external_id=f"cust-{i}", email=f"c{i}-{s.pk}@example.com")
        # The same campaigns for each shop, so each shop's orders use up their own budgets and limits.
        scope = [str(s.public_id)]
        campaign(name=f"Double {s.name}", budget=250, shop_ids=scope)
        campaign(
            name=f"Socks {s.name}",
            kind=Campaign.Kind.PRODUCT_POINTS,
            points=5,
            skus=["B"],
            member_limit=20,
            shop_ids=scope,
        )
    orders = [body(f"o-{i}", customer=f"cust-{i % 3}") for i in range(5)]
    single = api_client(shops["single"], "read", "write")
    for data in orders:
        assert single.post(URL, data, format="json").status_code == 201
    answer = _batch(api_client(shops["batch"], "read", "write"), orders).json()

    def results(s):
        return [
            (o.external_id, o.points, o.breakdown["points"], [p["points"] for p in _campaign_parts(o.breakdown)])
            for o in Order.objects.filter(shop=s).order_by("external_id")
        ]

    assert results(shops["single"]) == results(shops["batch"])
    # Both budgets run out within the five orders (5 x 80 wanted), and neither is exceeded.
    assert [c.points_given for c in Campaign.objects.filter(budget=250)] == [250, 250]
    # 80 base + 15 socks, doubled; the budget's last 60; cust-0's socks limit (20) leaves 5 for o-3.
    assert [o[1] for o in results(shops["batch"])] == [190, 190, 155, 85, 85]
    # The batch's answer shows the capped points, as POST /orders does.
    assert [r["order"]["points"] for r in answer["results"]] == [190, 190, 155, 85, 85]


@pytest.mark.parametrize("n", [3, 12])
def test_a_batch_with_campaigns_costs_the_same_queries_whatever_its_size(api, shop, rules, n):
    from django.test.utils import CaptureQueriesContext

    for i in range(n):
        member_upsert(shop=shop, external_id=f"cust-{i}", email=f"c{i}@example.com")
    _batch(api, [body(f"first-{i}", customer=f"cust-{i}") for i in range(n)])  # first purchases recorded
    campaign(budget=100_000, member_limit=10_000)
    campaign(name="Socks", kind=Campaign.Kind.PRODUCT_POINTS, points=5, skus=["B"])
    with CaptureQueriesContext(connection) as queries:
        _batch(api, [body(f"o-{i}", customer=f"cust-{i}") for i in range(n)])
    assert CampaignMember.objects.filter(times=1).count() == 2 * n
    # The batch's own 22 queries (with the referral program's read, cached per process in production: 23; on
    # PostgreSQL two fewer: the ledger's lots, entries and movements are one statement), and for the campaigns:
    # read them, lock the budgeted one, the members' usage, the usage upsert, the budget counter.
    assert len(queries) == (21 if connection.vendor == "postgresql" else 23) + 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_orders_at_once_never_exceed_a_small_budget():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks and parallel transactions")
    from rewards.models import EarningRule

    shop = shop_create(name="Webshop", currency="EUR", time_zone="Europe/Amsterdam")
    EarningRule.objects.all().delete()
    EarningRule.objects.create(name="Base", kind="base_rate", currency="EUR", points=1, amount=1)
    members = [member_upsert(shop=shop, external_id=f"c{i}", email=f"r{i}@example.com")[0] for i in range(8)]
    now = timezone.now()
    double = campaign(
        budget=250, member_limit=1000, starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=1)
    )
    results = run_at_once(
        len(members),
        lambda i: order_record(
            shop=shop, data=body(f"race-{i}", customer=f"c{i}", lines=[]) | {"placed_at": timezone.now()}
        ),
    )
    assert [r for r in results if isinstance(r, Exception)] == []
    double.refresh_from_db()
    given = CampaignMember.objects.filter(campaign=double).values_list("points", flat=True)
    campaign_points = sum(p["points"] for o in Order.objects.all() for p in _campaign_parts(o.breakdown))
    assert double.points_given == sum(given) == campaign_points == 250  # 8 x 100 wanted, 250 given
    assert ledger_audit() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_members_orders_at_once_never_exceed_the_member_limit():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks and parallel transactions")
    from rewards.models import EarningRule

    shop = shop_create(name="Webshop", currency="EUR", time_zone="Europe/Amsterdam")
    EarningRule.objects.all().delete()
    EarningRule.objects.create(name="Base", kind="base_rate", currency="EUR", points=1, amount=1)
    member, _ = member_upsert(shop=shop, external_id="c1", email="one@example.com")
    now = timezone.now()
    double = campaign(member_limit=150, starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=1))
    results = run_at_once(
        6, lambda i: order_record(shop=shop, data=body(f"same-{i}", customer="c1", lines=[]) | {"placed_at": now})
    )
    assert [r for r in results if isinstance(r, Exception)] == []
    assert double.members_reached.get(member=member).points == 150  # 6 x 100 wanted
    assert sorted(o.points for o in Order.objects.all()) == [100, 100, 100, 100, 150, 200]
    assert ledger_audit() == []
