"""POST /api/v1/coupons/{code}/validate and /redeem, and cancelling the order that used a coupon."""

# ruff: noqa: E402
import pytest

# These tests borrow the rewards tests' helpers: rewrite their asserts, as rewards/tests/conftest.py asks (it is
# loaded after this app's tests are collected, too late for a module imported here first).
pytest.register_assert_rewrite("rewards.tests.helpers")

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from integrations.services.shops import shop_create
from integrations.tests.helpers import api_client
from rewards.models import Coupon
from rewards.services.redemptions import reward_redeem
from rewards.tests.helpers import set_program
from rewards.tests.test_catalogue import points_for, reward_make

CART = {
    "total": "60.00",
    "currency": "EUR",
    "lines": [{"sku": "MUG", "quantity": 1, "unit_price": "8.50", "total": "8.50"}],
}


@pytest.fixture
def rich(member):
    return points_for(member, 5000)


def coupon_of(member, kind="fixed_amount", **fields) -> Coupon:
    redemption, _ = reward_redeem(
        member=member, reward=reward_make(kind, **fields), idempotency_key=f"k-{Coupon.objects.count()}", channel="web"
    )
    return redemption.coupon


def validate(api, code, cart=CART):
    return api.post(f"/api/v1/coupons/{code}/validate", cart, format="json")


def redeem(api, code, order="order-1"):
    return api.post(f"/api/v1/coupons/{code}/redeem", {"order_external_id": order}, format="json")


def test_validate_answers_the_discount(api, rich):
    coupon = coupon_of(rich, value=Decimal("5.00"))
    response = validate(api, coupon.code.lower())
    assert response.status_code == 200
    assert response.json() == {
        "code": coupon.code,
        "valid": True,
        "discount": {"kind": "fixed_amount", "amount": "5.00", "currency": "EUR", "free_shipping": False, "sku": ""},
        "reason": None,
        "message": None,
    }
    product = validate(api, coupon_of(rich, "free_product", sku="MUG").code).json()
    assert product["discount"]["sku"] == "MUG" and product["discount"]["amount"] == "8.50"
    shipping = validate(api, coupon_of(rich, "free_shipping").code).json()
    assert shipping["discount"]["free_shipping"] is True
    percent = validate(api, coupon_of(rich, "percentage", value=Decimal(10), max_discount=Decimal("4.00")).code)
    assert percent.json()["discount"]["amount"] == "4.00"


def test_validate_says_why_not(api, rich, shop):
    assert validate(api, "NOPE-NOPE-NOPE-NOPE").json()["reason"] == "unknown_code"
    low = validate(api, coupon_of(rich, min_order=Decimal("100.00")).code).json()
    assert low["valid"] is False and low["discount"] is None
    assert low["reason"] == "below_minimum_order" and "100.00" in low["message"]
    other = shop_create(name="Other shop")
    assert validate(api, coupon_of(rich, shops=[other]).code).json()["reason"] == "wrong_shop"
    used = coupon_of(rich)
    redeem(api, used.code)
    assert validate(api, used.code).json()["reason"] == "coupon_used"
    missing = validate(api, coupon_of(rich, "free_product", sku="TEE").code).json()
    assert missing["reason"] == "product_not_in_cart"


def test_validate_checks_the_cart(api, rich):
    code = coupon_of(rich).code
    assert validate(api, code, {"total": "-1", "currency": "EUR"}).status_code == 400
    assert validate(api, code, {"total": "10", "currency": "eur"}).status_code == 400
    assert validate(api, code, {"currency": "EUR"}).status_code == 400


def test_validate_needs_read_or_write(shop, rich):
    code = coupon_of(rich).code
    assert validate(api_client(shop, "read"), code).status_code == 200
    assert validate(api_client(shop, "write"), code).status_code == 200
    assert validate(api_client(shop, "adjust"), code).status_code == 403


def test_redeem_consumes_once_idempotently(api, rich):
    coupon = coupon_of(rich)
    first = redeem(api, coupon.code)
    assert first.status_code == 200
    assert first.json()["status"] == "used" and first.json()["order_external_id"] == "order-1"
    again = redeem(api, coupon.code)
    assert again.status_code == 200 and again.json() == first.json()
    other = redeem(api, coupon.code, order="order-2")
    assert other.status_code == 409 and other.json()["error"]["code"] == "coupon_used"


def test_redeem_errors(api, rich):
    assert redeem(api, "NOPE-NOPE-NOPE-NOPE").status_code == 404
    other = shop_create(name="Other shop")
    assert redeem(api, coupon_of(rich, shops=[other]).code).status_code == 404
    expired = coupon_of(rich, coupon_valid_days=1)
    Coupon.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = redeem(api, expired.code)
    assert response.status_code == 422 and response.json()["error"]["code"] == "coupon_expired"
    assert api.post(f"/api/v1/coupons/{expired.code}/redeem", {}, format="json").status_code == 400


ORDER = {
    "external_id": "order-1",
    "member_external_id": "cust-1",
    "currency": "EUR",
    "total": "60.00",
    "placed_at": "2026-11-01T10:00:00Z",
    "coupon_codes": [],
}


@pytest.mark.parametrize("policy", ["release", "refund_points"])
def test_cancelling_the_order_releases_or_refunds(api, rich, policy):
    set_program(cancelled_order_coupons=policy)
    coupon = coupon_of(rich, points=700)
    assert api.post("/api/v1/orders", {**ORDER, "coupon_codes": [coupon.code]}, format="json").status_code == 201
    assert redeem(api, coupon.code).status_code == 200
    account = rich.points_account
    account.refresh_from_db()
    before = account.available

    assert api.post("/api/v1/orders/order-1/cancel", format="json").status_code == 200

    coupon.refresh_from_db()
    account.refresh_from_db()
    if policy == "release":
        assert coupon.status == "issued"
        assert redeem(api, coupon.code, order="order-2").status_code == 200
        assert account.available == before - 60  # the order's own points only
    else:
        assert coupon.status == "void"
        assert account.available == before - 60 + 700
        assert redeem(api, coupon.code, order="order-2").json()["error"]["code"] == "coupon_void"
