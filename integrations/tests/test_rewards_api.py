"""GET /api/v1/rewards and POST /api/v1/members/{id}/redemptions."""

# ruff: noqa: E402
import pytest

# These tests borrow the rewards tests' helpers: rewrite their asserts, as rewards/tests/conftest.py asks (it is
# loaded after this app's tests are collected, too late for a module imported here first).
pytest.register_assert_rewrite("rewards.tests.helpers")

import uuid
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.services.members import member_upsert
from integrations.services.shops import shop_create
from integrations.tests.helpers import api_client
from rewards.models import Coupon, Redemption, Tier
from rewards.tests.test_catalogue import points_for, reward_make
from webhooks.models import WebhookDelivery, WebhookEndpoint


@pytest.fixture
def rich(member):
    return points_for(member, 1000)


def _list(api, **params):
    return api.get("/api/v1/rewards", params)


def test_the_catalogue_without_a_member_is_the_shops(api, shop):
    other = shop_create(name="Other shop")
    reward_make(title="Everywhere", points=100, value=Decimal("5.00"), image_url="https://cdn.example.com/a.png")
    reward_make(title="Here", shops=[shop])
    reward_make(title="Not here", shops=[other])
    reward_make(title="Switched off", active=False)

    response = _list(api)

    assert response.status_code == 200
    body = response.json()
    assert body["member"] is None
    assert [r["title"] for r in body["results"]] == ["Everywhere", "Here"]
    first = body["results"][0]
    assert first["value"] == "5.00" and first["currency"] == "EUR" and first["points"] == 100
    assert first["image_url"] == "https://cdn.example.com/a.png"
    assert first["available"] is None and first["reason"] is None


def test_for_a_member_each_reward_says_whether_and_why_not(api, rich):
    gold = Tier.objects.create(name="Gold", rank=3)
    can = reward_make(title="Can", points=400)
    reward_make(title="Short", points=1500)
    reward_make(title="Gold", min_tier=gold)
    reward_make(title="Gone", stock_total=1, units_issued=1)
    reward_make("pay_with_points", title="Pay")

    body = _list(api, member_id=rich.public_id).json()

    assert body["member"] == {"id": str(rich.public_id), "available": 1000, "pending": 0}
    results = {r["title"]: r for r in body["results"]}
    assert results["Can"]["available"] is True and results["Can"]["id"] == str(can.public_id)
    assert results["Short"]["available"] is False and results["Short"]["short_by"] == 500
    assert results["Short"]["reason"]["code"] == "insufficient_points"
    assert results["Gold"]["reason"]["code"] == "not_eligible"
    assert results["Gold"]["reason"]["details"] == {"reason": "tier", "tier": "Gold"}
    assert results["Gone"]["reason"]["code"] == "out_of_stock" and results["Gone"]["stock_left"] == 0
    assert results["Pay"]["pay_with_points"] == {"points_per_unit": 100, "min_points": 100, "max_points": 5000}


def test_another_shops_member_is_not_found(api, shop):
    other = shop_create(name="Other shop")
    stranger, _ = member_upsert(shop=other, external_id="x", email="x@example.com")
    assert _list(api, member_id=stranger.public_id).status_code == 404
    assert _list(api, member_id="not-a-uuid").status_code == 400


def test_the_listing_takes_the_same_queries_for_three_or_thirty_rewards(api, rich):
    for i in range(3):
        reward_make(title=f"R{i}", limit_per_member=1, stock_total=5)
    _list(api, member_id=rich.public_id)  # warm the per-process caches (API key lookup SQL)
    with CaptureQueriesContext(connection) as few:
        assert _list(api, member_id=rich.public_id).status_code == 200
    for i in range(3, 30):
        reward_make(title=f"R{i}", limit_per_member=1, limit_period="month", points=10 + i)
    with CaptureQueriesContext(connection) as many:
        assert len(_list(api, member_id=rich.public_id).json()["results"]) == 30
    # key, program, customer link, account with tier, segments (member_segment_ids), rewards, their segments,
    # the member's redemptions of limited rewards
    assert len(many.captured_queries) == len(few.captured_queries) <= 9


def test_reading_needs_the_read_scope(shop):
    assert api_client(shop, "write").get("/api/v1/rewards").status_code == 403
    assert api_client(shop, "read").post("/api/v1/coupons/X/redeem", {}, format="json").status_code == 403


def _redeem(api, member, reward, key="cart-1", **body):
    return api.post(
        f"/api/v1/members/{member.public_id}/redemptions",
        {"reward_id": str(reward.public_id), **body},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_redeeming_answers_201_with_the_coupon_and_200_on_replay(api, rich, shop):
    reward = reward_make(points=300, value=Decimal("5.00"), coupon_valid_days=30, min_order=Decimal("25.00"))

    response = _redeem(api, rich, reward)

    assert response.status_code == 201, response.json()
    body = response.json()
    coupon = Coupon.objects.get()
    assert body["points"] == 300 and body["value"] == "5.00" and body["currency"] == "EUR"
    assert body["reward"] == {"id": str(reward.public_id), "kind": "fixed_amount", "title": reward.title}
    assert body["coupon"]["code"] == coupon.code and body["coupon"]["value"] == "5.00"
    assert body["coupon"]["min_order"] == "25.00" and body["coupon"]["status"] == "issued"
    assert body["coupon"]["expires_at"].endswith("Z")
    assert body["balance"] == {"available": 700, "pending": 0}
    redemption = Redemption.objects.get()
    assert (redemption.channel, redemption.shop) == ("api", shop)

    again = _redeem(api, rich, reward)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert again.json()["coupon"]["code"] == coupon.code and Redemption.objects.count() == 1


def test_the_key_in_the_body_works_and_is_required(api, rich):
    reward = reward_make(points=10)
    url = f"/api/v1/members/{rich.public_id}/redemptions"
    ok = api.post(url, {"reward_id": str(reward.public_id), "idempotency_key": "k1"}, format="json")
    assert ok.status_code == 201
    missing = api.post(url, {"reward_id": str(reward.public_id)}, format="json")
    assert missing.status_code == 400 and "idempotency_key" in missing.json()["error"]["details"]
    differ = api.post(
        url, {"reward_id": str(reward.public_id), "idempotency_key": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="b"
    )
    assert differ.status_code == 400


def test_refusals(api, rich, shop):
    dear = reward_make(title="Dear", points=5000)
    response = _redeem(api, rich, dear)
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "insufficient_points",
        "message": "Not enough points: 1000 available, 5000 needed.",
        "details": {"available": 1000, "required": 5000, "short_by": 4000},
    }
    assert _redeem(api, rich, reward_make(title="Gone", stock_total=0), key="k2").json()["error"]["code"] == (
        "out_of_stock"
    )
    once = reward_make(title="Once", points=10, limit_per_member=1)
    assert _redeem(api, rich, once, key="k3").status_code == 201
    assert _redeem(api, rich, once, key="k4").json()["error"]["code"] == "limit_reached"
    conflict = _redeem(api, rich, reward_make(title="Other", points=10), key="k3")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_conflict"
    assert _redeem(api, rich, type("R", (), {"public_id": uuid.uuid4()})(), key="k5").status_code == 404
    other = shop_create(name="Other shop")
    stranger, _ = member_upsert(shop=other, external_id="x", email="x@example.com")
    assert _redeem(api, stranger, once, key="k6").status_code == 404


def test_pay_with_points_takes_the_points_given(api, rich):
    reward = reward_make("pay_with_points", points_per_unit=50, min_points=100, max_points=800)
    response = _redeem(api, rich, reward, points=250)
    assert response.status_code == 201
    assert response.json()["coupon"]["value"] == "5.00" and response.json()["points"] == 250
    assert _redeem(api, rich, reward, key="k2", points=900).json()["error"]["code"] == "invalid_points"
    assert _redeem(api, rich, reward, key="k3").json()["error"]["code"] == "invalid_points"
    assert _redeem(api, rich, reward, key="k4", points=0).status_code == 400


def test_store_credit_donation_and_perk_answers(api, rich):
    credit = _redeem(api, rich, reward_make("store_credit", value=Decimal("7.50")), key="a").json()
    assert credit["coupon"] is None and credit["store_credit"] == {"amount": "7.50", "currency": "EUR"}
    donation = _redeem(api, rich, reward_make("donation"), key="b").json()
    assert donation["coupon"] is None and donation["cause"] == "Food bank"
    perk = _redeem(api, rich, reward_make("perk"), key="c").json()
    assert perk["coupon"] is None and perk["store_credit"] is None and perk["value"] is None


def test_the_webhook_goes_out_with_the_shops_id_for_the_member(api, rich, shop):
    WebhookEndpoint.objects.create(shop=shop, url="https://hooks.example.com/x", events=["reward.redeemed"])
    _redeem(api, rich, reward_make(points=100))
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.payload["data"]["member"]["external_id"] == "cust-1"
    assert delivery.payload["data"]["redemption"]["channel"] == "api"
    assert delivery.payload["data"]["redemption"]["shop_id"] == str(shop.public_id)
