"""Coupons at checkout: validate against a cart (changes nothing), redeem once, and what cancelling the order
that used one does (release it, or refund its points, as the program says)."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from integrations.models import Order
from integrations.services.members import member_upsert
from integrations.services.orders import order_cancel, order_record
from integrations.services.shops import shop_create
from rewards.models import Coupon, PointLot, Redemption, Reward
from rewards.selectors import ledger_audit
from rewards.services.coupons import coupon_redeem, coupon_validate
from rewards.tests.helpers import balances, refused, set_program
from rewards.tests.test_catalogue import points_for, redeem, reward_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return shop_create(name="Webshop", currency="EUR")


@pytest.fixture
def member(shop):
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    return points_for(member, 2000)


def cart(total="100.00", lines=(), currency="EUR"):
    return {"total": Decimal(total), "currency": currency, "lines": list(lines)}


def coupon_of(member, kind="fixed_amount", **fields) -> Coupon:
    redemption, _ = redeem(member, reward_make(kind, **fields))
    return redemption.coupon


def check(coupon, shop, basket=None, **kwargs):
    return coupon_validate(code=coupon.code, shop=shop, cart=basket or cart(), **kwargs)


def test_a_fixed_amount_is_capped_at_the_cart_total(member, shop):
    coupon = coupon_of(member, value=Decimal("25.00"))
    result = check(coupon, shop, cart("100.00"))
    assert (result.valid, result.kind, result.amount, result.free_shipping) == (
        True,
        "fixed_amount",
        Decimal("25.00"),
        False,
    )
    assert check(coupon, shop, cart("19.99")).amount == Decimal("19.99")


def test_a_percentage_is_capped(member, shop):
    coupon = coupon_of(member, "percentage", value=Decimal("15"), max_discount=Decimal("20.00"))
    assert check(coupon, shop, cart("100.00")).amount == Decimal("15.00")
    assert check(coupon, shop, cart("33.33")).amount == Decimal("5.00")  # 4.9995 rounds half up
    assert check(coupon, shop, cart("500.00")).amount == Decimal("20.00")
    uncapped = coupon_of(member, "percentage", value=Decimal("10"), max_discount=None)
    assert check(uncapped, shop, cart("500.00")).amount == Decimal("50.00")


def test_free_shipping_and_free_product(member, shop):
    shipping = check(coupon_of(member, "free_shipping"), shop)
    assert (shipping.valid, shipping.free_shipping, shipping.amount) == (True, True, Decimal("0.00"))
    product = coupon_of(member, "free_product", sku="MUG")
    lines = [{"sku": "MUG", "quantity": 2, "unit_price": Decimal("8.50"), "total": Decimal("17.00")}]
    result = check(product, shop, cart("40.00", lines))
    assert (result.valid, result.sku, result.amount) == (True, "MUG", Decimal("8.50"))
    no_unit_price = [{"sku": "MUG", "quantity": 2, "total": Decimal("17.00")}]
    assert check(product, shop, cart("40.00", no_unit_price)).amount == Decimal("8.50")
    missing = check(product, shop, cart("40.00", [{"sku": "TEE", "quantity": 1, "total": Decimal("40")}]))
    assert (missing.valid, missing.reason) == (False, "product_not_in_cart")


def test_reasons_a_coupon_is_not_valid(member, shop):
    other_shop = shop_create(name="Elsewhere")
    coupon = coupon_of(member, min_order=Decimal("50.00"))
    assert check(coupon, shop, cart("49.99")).reason == "below_minimum_order"
    assert check(coupon, shop, cart("80.00", currency="USD")).reason == "currency_mismatch"
    assert coupon_validate(code="AAAA-BBBB-CCCC-DDDD", shop=shop, cart=cart()).reason == "unknown_code"
    assert coupon_validate(code="not a code", shop=shop, cart=cart()).reason == "unknown_code"
    limited = coupon_of(member, shops=[other_shop])
    assert check(limited, shop).reason == "wrong_shop"
    assert check(limited, other_shop).valid
    expired = coupon_of(member, coupon_valid_days=1)
    assert check(expired, shop, now=timezone.now() + dt.timedelta(days=2)).reason == "coupon_expired"
    coupon_redeem(code=coupon.code, shop=shop, order_external_id="o-1")
    assert check(coupon, shop, cart("80.00")).reason == "coupon_used"


def test_validate_changes_nothing_and_accepts_the_code_as_typed(member, shop):
    coupon = coupon_of(member)
    before = Coupon.objects.values().get(pk=coupon.pk)
    assert coupon_validate(code=f" {coupon.code.lower().replace('-', ' ')} ", shop=shop, cart=cart()).valid
    assert Coupon.objects.values().get(pk=coupon.pk) == before


def test_redeem_consumes_once_and_the_same_order_replays(member, shop):
    coupon = coupon_of(member)

    used, consumed = coupon_redeem(code=coupon.code, shop=shop, order_external_id="o-1")
    again, consumed_again = coupon_redeem(code=coupon.code.lower(), shop=shop, order_external_id="o-1")

    assert consumed and not consumed_again and again.pk == used.pk
    assert (used.status, used.used_shop, used.used_order_external_id) == ("used", shop, "o-1")
    with refused("coupon_used", 409):
        coupon_redeem(code=coupon.code, shop=shop, order_external_id="o-2")


def test_redeem_refusals(member, shop):
    other_shop = shop_create(name="Elsewhere")
    with refused("not_found", 404):
        coupon_redeem(code="AAAA-BBBB-CCCC-DDDD", shop=shop, order_external_id="o-1")
    with refused("not_found", 404):
        coupon_redeem(code=coupon_of(member, shops=[other_shop]).code, shop=shop, order_external_id="o-1")
    expired = coupon_of(member, coupon_valid_days=1)
    with refused("coupon_expired", 422):
        coupon_redeem(code=expired.code, shop=shop, order_external_id="o-1", now=timezone.now() + dt.timedelta(days=2))
    with refused("validation_error", 400):
        coupon_redeem(code=expired.code, shop=shop, order_external_id=" ")
    assert not Coupon.objects.filter(status="used").exists()


def _order(shop, external_id="o-1"):
    order, _ = order_record(
        shop=shop,
        data={
            "external_id": external_id,
            "member_external_id": "cust-1",
            "currency": "EUR",
            "total": Decimal("50.00"),
            "subtotal": Decimal("50.00"),
            "tax": Decimal(0),
            "shipping": Decimal(0),
            "discount": Decimal(0),
            "placed_at": timezone.now() - dt.timedelta(minutes=5),
            "lines": [],
            "coupon_codes": [],
        },
    )
    return order


def test_cancelling_the_order_releases_its_coupon_by_default(member, shop):
    coupon = coupon_of(member)
    order = _order(shop)
    coupon_redeem(code=coupon.code, shop=shop, order_external_id=order.external_id)

    order_cancel(order=order)

    coupon.refresh_from_db()
    assert (coupon.status, coupon.used_order_external_id, coupon.used_shop) == ("issued", "", None)
    assert coupon.released_at is not None
    assert coupon_redeem(code=coupon.code, shop=shop, order_external_id="o-2")[1]
    with refused("order_cancelled", 422):
        coupon_redeem(code=coupon_of(member).code, shop=shop, order_external_id="o-1")


def test_cancelling_the_order_refunds_the_points_when_the_program_says_so(member, shop):
    set_program(cancelled_order_coupons="refund_points")
    reward = reward_make(points=300, stock_total=5)
    redemption, _ = redeem(member, reward)
    order = _order(shop)
    coupon_redeem(code=redemption.coupon.code, shop=shop, order_external_id=order.external_id)
    available = balances(member.points_account)["available"]

    order_cancel(order=order)
    order_cancel(order=Order.objects.get(pk=order.pk))  # twice: nothing more

    redemption.refresh_from_db()
    assert redemption.status == "refunded" and redemption.refund_entry.points == 300
    assert Coupon.objects.get(pk=redemption.coupon.pk).status == "void"
    assert (
        balances(member.points_account)["available"] == available - order.points + 300
    )  # the order's own points go too
    assert Reward.objects.get(pk=reward.pk).units_issued == 0
    lot = PointLot.objects.get(source_ref=f"redemption:{redemption.public_id}")
    assert lot.points == 300
    with refused("coupon_void", 422):
        coupon_redeem(code=redemption.coupon.code, shop=shop, order_external_id="o-9")
    out = StringIO()
    call_command("audit_ledger", stdout=out)
    assert ledger_audit() == []
    assert Redemption.objects.filter(status="completed").count() == 0


def test_cancelling_an_order_without_coupons_is_unchanged(member, shop):
    order = _order(shop)
    coupon = coupon_of(member)
    coupon_redeem(code=coupon.code, shop=shop, order_external_id="another-order")
    order_cancel(order=order)
    assert Coupon.objects.get(pk=coupon.pk).status == "used"


def test_one_pay_with_points_coupon_of_a_reward_per_order(member, shop):
    reward = reward_make("pay_with_points", points_per_unit=100, min_points=100, max_points=500)
    first, _ = redeem(member, reward, points=500)
    second, _ = redeem(member, reward, points=500)
    coupon_redeem(code=first.coupon.code, shop=shop, order_external_id="o-1")
    with refused("one_per_order", 422):
        coupon_redeem(code=second.coupon.code, shop=shop, order_external_id="o-1")
    assert coupon_redeem(code=second.coupon.code, shop=shop, order_external_id="o-2")[1]
