"""A make-believe third-party shop for local mode (/demo/shop/): what a merchant's server does to use the
loyalty program, done the way docs/widget.md and docs/integration.md tell a merchant to do it.

- It embeds the widget with the shop's public key, and signs the shopper token on the server with the
  shop's widget secret (PyJWT, HS256, an hour at most).
- Its checkout talks to API v1 over HTTP with an API key that never leaves the server: it validates a
  coupon against the cart, posts the order, then redeems the coupon with the order.

Nothing here is for production: loyalty_site/urls.py includes it only when DEBUG is on.
"""

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

import jwt
import requests
from django.core.cache import cache
from django.db import transaction

from integrations.models import ApiKey, Shop, ShopCustomer
from integrations.selectors import api_key_authenticate
from integrations.services.shops import api_key_create, api_key_revoke, shop_create

DEMO_SHOP = "Demo Webshop"  # the shop rewards/management/commands/demo_load.py makes, if it ran
API_KEY_NAME = "Demo shop page (local mode)"
API_KEY_CACHE = "demo-shop:api-key"
TOKEN_LIFETIME = dt.timedelta(hours=1)
CUSTOMERS_SHOWN = 6


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price: Decimal


PRODUCTS = {
    p.sku: p
    for p in (
        Product("MUG", "Stoneware mug", "home", Decimal("12.50")),
        Product("TSHIRT", "Organic T-shirt", "apparel", Decimal("25.00")),
        Product("BEANS", "Coffee beans, 500 g", "coffee", Decimal("9.90")),
        Product("TOTE", "Canvas tote bag", "accessories", Decimal("15.00")),
    )
}


def demo_shop_ready(*, origin: str) -> Shop:
    """The demo shop with its widget switched on for `origin` (the portal's, where the demo page is served)."""
    with transaction.atomic():
        shop = Shop.objects.select_for_update().filter(name=DEMO_SHOP).first()
        if shop is None:
            shop = shop_create(name=DEMO_SHOP, currency="EUR", time_zone="Europe/Amsterdam")
        changed = []
        if not shop.widget_enabled:
            shop.widget_enabled = True
            changed.append("widget_enabled")
        if origin not in shop.allowed_origins:
            shop.allowed_origins = [*shop.allowed_origins, origin]
            changed.append("allowed_origins")
        if changed:
            shop.save(update_fields=[*changed, "updated_at"])
    return shop


def demo_customers(*, shop: Shop) -> list[ShopCustomer]:
    """The shop's first customers with an id of the shop's (demo_load's demo-customer-1 to -3)."""
    return list(
        ShopCustomer.objects.filter(shop=shop, external_id__isnull=False)
        .select_related("member__user")
        .order_by("external_id")[:CUSTOMERS_SHOWN]
    )


def shopper_token_sign(*, shop: Shop, customer: ShopCustomer) -> str:
    """What a merchant's server does for a signed-in shopper: a JWT for the widget, signed with the secret."""
    now = int(time.time())
    claims = {
        "iss": shop.widget_key,
        "sub": customer.external_id,
        "email": customer.member.user.email,
        "iat": now,
        "exp": now + int(TOKEN_LIFETIME.total_seconds()),
    }
    return jwt.encode(claims, shop.widget_secret, algorithm="HS256")


def demo_api_key(*, shop: Shop) -> str:
    """The demo server's API key: kept in the server's cache (a real shop keeps it in its settings). Keys are
    stored hashed, so when the cache has lost it, the old demo key is revoked and a new one made."""
    plaintext = cache.get(API_KEY_CACHE)
    if plaintext:
        known = api_key_authenticate(plaintext)
        if known is not None and known.shop_id == shop.pk:
            return plaintext  # else the database was reset since: make a new one
    for old in ApiKey.objects.filter(shop=shop, name=API_KEY_NAME, revoked_at__isnull=True):
        api_key_revoke(api_key=old)
    _, plaintext = api_key_create(shop=shop, name=API_KEY_NAME, scopes=("read", "write"))
    cache.set(API_KEY_CACHE, plaintext, timeout=None)
    return plaintext


@dataclass
class CheckoutResult:
    ok: bool
    message: str
    order_id: str = ""
    points: int | None = None
    points_status: str = ""
    discount: Decimal = Decimal(0)


def cart_lines(cart: dict) -> list[dict]:
    lines = []
    for sku, quantity in cart.items():
        product = PRODUCTS.get(sku)
        if product is None or quantity <= 0:
            continue
        lines.append({"product": product, "quantity": quantity, "total": product.price * quantity})
    return lines


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def checkout(*, api_base: str, api_key: str, cart: dict, customer_id: str | None, coupon: str) -> CheckoutResult:
    """The shop's server at checkout: validate the coupon on the cart, post the order, redeem the coupon."""
    lines = cart_lines(cart)
    if not lines:
        return CheckoutResult(ok=False, message="Your cart is empty.")
    subtotal = sum((line["total"] for line in lines), Decimal(0))
    body_lines = [
        {
            "sku": line["product"].sku,
            "name": line["product"].name,
            "category": line["product"].category,
            "quantity": str(line["quantity"]),
            "unit_price": _money(line["product"].price),
            "total": _money(line["total"]),
        }
        for line in lines
    ]
    session = requests.Session()
    session.headers["X-Api-Key"] = api_key
    discount = Decimal(0)
    if coupon:
        answer = session.post(
            f"{api_base}coupons/{requests.utils.quote(coupon, safe='')}/validate",
            json={"total": _money(subtotal), "currency": "EUR", "lines": body_lines},
            timeout=10,
        )
        data = answer.json()
        if answer.status_code != 200 or not data.get("valid"):
            message = data.get("message") or data.get("error", {}).get("message") or "This coupon is not valid."
            return CheckoutResult(ok=False, message=f"Coupon {coupon}: {message}")
        discount = min(Decimal(data["discount"]["amount"] or "0"), subtotal)
    order_id = f"demo-{uuid.uuid4().hex[:10]}"
    order = {
        "external_id": order_id,
        "currency": "EUR",
        "subtotal": _money(subtotal),
        "discount": _money(discount),
        "total": _money(subtotal - discount),
        "tax": "0.00",
        "shipping": "0.00",
        "lines": body_lines,
        "coupon_codes": [coupon] if coupon else [],
        "placed_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    if customer_id:
        order["member_external_id"] = customer_id
    answer = session.post(f"{api_base}orders", json=order, timeout=10)
    data = answer.json()
    if answer.status_code not in (200, 201):
        error = data.get("error", {})
        return CheckoutResult(
            ok=False, message=f"{error.get('message', 'The order was refused.')} {error.get('details', '')}"
        )
    if coupon:
        redeemed = session.post(
            f"{api_base}coupons/{requests.utils.quote(coupon, safe='')}/redeem",
            json={"order_external_id": order_id},
            timeout=10,
        )
        if redeemed.status_code != 200:
            error = redeemed.json().get("error", {}).get("message", "")
            return CheckoutResult(ok=False, message=f"Order {order_id} placed, but the coupon failed: {error}")
    return CheckoutResult(
        ok=True,
        message="Thank you for your order!",
        order_id=order_id,
        points=data.get("points"),
        points_status=data.get("points_status") or "",
        discount=discount,
    )
