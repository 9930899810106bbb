"""Coupons: the codes redemptions issue, checked against a shop's cart and consumed by one order.

- A code is 16 characters from an alphabet without look-alikes (no 0/O, 1/I), drawn with `secrets`: 80 random
  bits, so codes cannot be guessed or enumerated. It is shown and stored in groups of four (ABCD-EFGH-JKMN-PQRS);
  lookups accept any case, spaces and dashes.
- `coupon_validate` changes nothing. `coupon_redeem` consumes a coupon under its row lock, once: the same order
  again gets the same answer, another order a 409.
- When the order that used a coupon is cancelled, `coupons_order_cancelled` (called by
  integrations.services.orders.order_cancel) releases it or refunds its points, as the program says.
"""

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.exceptions import ApplicationError
from rewards.models import Coupon, PointLot, PointMovement, Redemption, Reward
from rewards.selectors import program_get
from rewards.selectors.catalogue import reward_shop_ids
from rewards.services.ledger import Actor, points_earn

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: 5 bits each, no 0/O or 1/I
CODE_LENGTH = 16
GROUP = 4
CENT = Decimal("0.01")
Kind = Reward.Kind


def coupon_code_new() -> str:
    """A fresh random code, grouped for reading: e.g. 7KQM-XR2D-HN4P-WB9T."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def coupon_code_normalize(code: str) -> str:
    """A code as typed (any case, spaces or dashes) in its stored form; "" when it cannot be a code."""
    raw = re.sub(r"[\s-]", "", str(code or "")).upper()
    if len(raw) != CODE_LENGTH or any(c not in ALPHABET for c in raw):
        return ""
    return "-".join(raw[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def coupon_issue(*, redemption: Redemption, reward: Reward, value: Decimal | None, now: dt.datetime) -> Coupon:
    """The coupon of a new redemption (inside reward_redeem's transaction); its terms are copied from the
    reward so later edits of the reward do not change codes already issued."""
    expires_at = None if reward.coupon_valid_days is None else now + dt.timedelta(days=reward.coupon_valid_days)
    kind = Kind.FIXED_AMOUNT if reward.kind == Kind.PAY_WITH_POINTS else reward.kind
    for attempt in range(3):  # 80 random bits: a clash is all but impossible, but never a 500 for it
        code = coupon_code_new()
        if attempt == 2 or not Coupon.objects.filter(code=code).exists():
            break
    return Coupon.objects.create(
        redemption=redemption,
        member=redemption.member,
        reward=reward,
        code=code,
        kind=kind,
        value=value,
        max_discount=reward.max_discount if reward.kind == Kind.PERCENTAGE else None,
        currency=redemption.currency,
        sku=reward.sku if reward.kind == Kind.FREE_PRODUCT else "",
        min_order=reward.min_order,
        expires_at=expires_at,
    )


# --- checking a coupon against a cart -------------------------------------------------------------------


@dataclass(frozen=True)
class CouponCheck:
    """What coupon_validate found: the discount to apply, or the reason (a code) and message why not."""

    valid: bool
    coupon: Coupon | None = None
    reason: str = ""
    message: str = ""
    kind: str = ""
    amount: Decimal = Decimal("0.00")
    free_shipping: bool = False
    sku: str = ""


def _refused(coupon: Coupon | None, reason: str, message: str) -> CouponCheck:
    return CouponCheck(valid=False, coupon=coupon, reason=reason, message=message, kind=coupon.kind if coupon else "")


def _coupon_find(code: str, *, lock: bool = False) -> Coupon | None:
    code = coupon_code_normalize(code)
    if not code:
        return None
    coupons = Coupon.objects.select_related("reward", "used_shop")
    if lock:
        coupons = coupons.select_for_update(of=("self",))
    return coupons.filter(code=code).first()


def _usable_at(coupon: Coupon, shop) -> bool:
    shops = reward_shop_ids(coupon.reward)
    return not shops or shop.pk in shops


def _state_refusal(coupon: Coupon, *, now: dt.datetime) -> CouponCheck | None:
    if coupon.status == Coupon.Status.USED:
        return _refused(coupon, "coupon_used", "This coupon was already used.")
    if coupon.status == Coupon.Status.VOID:
        return _refused(coupon, "coupon_void", "This coupon was cancelled and its points refunded.")
    if coupon.expires_at is not None and coupon.expires_at <= now:
        return _refused(coupon, "coupon_expired", "This coupon has expired.")
    return None


def _line_unit_price(line: dict) -> Decimal:
    if line.get("unit_price") is not None:
        return Decimal(line["unit_price"])
    quantity = Decimal(line.get("quantity") or 0)
    return (Decimal(line.get("total") or 0) / quantity).quantize(CENT) if quantity > 0 else Decimal(0)


def coupon_validate(*, code: str, shop, cart: dict, now: dt.datetime | None = None) -> CouponCheck:
    """The discount `code` gives on `cart` ({total, currency, lines: [{sku, quantity, unit_price, total}]}) at
    `shop`, or why it gives none. Changes nothing. Fixed amounts are capped at the cart's total, percentages
    at the coupon's cap (rounded half up to the cent); a free product needs its SKU in the cart."""
    now = now or timezone.now()
    coupon = _coupon_find(code)
    if coupon is None:
        return _refused(None, "unknown_code", "No coupon has this code.")
    if not _usable_at(coupon, shop):
        return _refused(coupon, "wrong_shop", "This coupon cannot be used at this shop.")
    if refusal := _state_refusal(coupon, now=now):
        return refusal
    total = Decimal(cart["total"])
    money_terms = coupon.kind in (Kind.FIXED_AMOUNT, Kind.PERCENTAGE, Kind.FREE_PRODUCT) or coupon.min_order is not None
    if money_terms and coupon.currency and cart.get("currency") and cart["currency"] != coupon.currency:
        return _refused(coupon, "currency_mismatch", f"This coupon is in {coupon.currency}.")
    if coupon.min_order is not None and total < coupon.min_order:
        return _refused(
            coupon,
            "below_minimum_order",
            f"This coupon needs an order of at least {coupon.min_order} {coupon.currency}.",
        )
    amount, free_shipping, sku = Decimal(0), False, ""
    if coupon.kind == Kind.FIXED_AMOUNT:
        amount = min(coupon.value, total)
    elif coupon.kind == Kind.PERCENTAGE:
        amount = (total * coupon.value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        if coupon.max_discount is not None:
            amount = min(amount, coupon.max_discount)
    elif coupon.kind == Kind.FREE_SHIPPING:
        free_shipping = True
    elif coupon.kind == Kind.FREE_PRODUCT:
        line = next((x for x in cart.get("lines") or [] if str(x.get("sku", "")).strip() == coupon.sku), None)
        if line is None or Decimal(line.get("quantity") or 0) <= 0:
            return _refused(coupon, "product_not_in_cart", f"Put {coupon.sku} in the cart to get it free.")
        sku = coupon.sku
        amount = min(_line_unit_price(line), total)
    return CouponCheck(
        valid=True,
        coupon=coupon,
        kind=coupon.kind,
        amount=max(amount, Decimal(0)).quantize(CENT),
        free_shipping=free_shipping,
        sku=sku,
    )


# --- consuming a coupon ---------------------------------------------------------------------------------


def coupon_redeem(*, code: str, shop, order_external_id: str, now: dt.datetime | None = None) -> tuple[Coupon, bool]:
    """Consume the coupon for `shop`'s order `order_external_id`; returns (coupon, consumed now). The same order
    again returns it unchanged (False); another order is 409 coupon_used. Unknown, or not usable at `shop`:
    404. Expired or void: 422. Locks: the order's row if the shop reported it already, then the coupon's
    (the order then the coupon, as order_cancel takes them)."""
    from integrations.models import Order  # integrations' services import rewards: imported when called

    now = now or timezone.now()
    order_external_id = (order_external_id or "").strip()
    if not order_external_id or len(order_external_id) > 150:
        raise ApplicationError(
            "Give the order's external_id (1 to 150 characters).", code="validation_error", status=400
        )
    not_found = ApplicationError("No coupon has this code.", code="not_found", status=404)
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(shop=shop, external_id=order_external_id).first()
        coupon = _coupon_find(code, lock=True)
        if coupon is None or not _usable_at(coupon, shop):
            raise not_found
        if coupon.status == Coupon.Status.USED:
            if coupon.used_shop_id == shop.pk and coupon.used_order_external_id == order_external_id:
                return coupon, False
            raise ApplicationError(
                "This coupon was already used by another order.",
                code="coupon_used",
                status=409,
                extra={"code": coupon.code},
            )
        if refusal := _state_refusal(coupon, now=now):
            raise ApplicationError(refusal.message, code=refusal.reason, extra={"code": coupon.code})
        if order is not None and order.status == Order.Status.CANCELLED:
            raise ApplicationError(
                "This order was cancelled.", code="order_cancelled", extra={"order_external_id": order_external_id}
            )
        if coupon.reward.kind == Kind.PAY_WITH_POINTS and _pay_with_points_used(coupon, shop, order_external_id):
            # Its min and max are per order: a second coupon of it on the same order would pass the max.
            raise ApplicationError(
                "This order already uses a pay-with-points coupon of this reward.",
                code="one_per_order",
                extra={"code": coupon.code, "order_external_id": order_external_id},
            )
        coupon.status = Coupon.Status.USED
        coupon.used_at = now
        coupon.used_shop = shop
        coupon.used_order_external_id = order_external_id
        coupon.save(update_fields=["status", "used_at", "used_shop", "used_order_external_id", "updated_at"])
    return coupon, True


def _pay_with_points_used(coupon: Coupon, shop, order_external_id: str) -> bool:
    return Coupon.objects.filter(
        reward_id=coupon.reward_id,
        status=Coupon.Status.USED,
        used_shop=shop,
        used_order_external_id=order_external_id,
    ).exists()


def _points_value(redemption: Redemption) -> Decimal:
    """The money value of the lots the redemption's points came from (refunded points carry it back)."""
    value = Decimal(0)
    moves = PointMovement.objects.filter(entry_id=redemption.points_entry_id).select_related("lot")
    for move in moves.only("available_change", "lot__value", "lot__points"):
        value += move.lot.value * -move.available_change / move.lot.points
    return value.quantize(Decimal("0.0001"))


def redemption_points_refund(*, redemption: Redemption, actor: Actor, reason: str) -> Redemption:
    """Give a redemption's points back as a new lot (its coupon void, its unit back in stock); inside the
    caller's transaction. Idempotent: a refunded redemption is returned as it is."""
    redemption = Redemption.objects.select_for_update().select_related("member").get(pk=redemption.pk)
    if redemption.status == Redemption.Status.REFUNDED:
        return redemption
    entry = points_earn(
        account=redemption.member.points_account,
        points=redemption.points,
        source=PointLot.Source.ADJUSTMENT,
        source_ref=f"redemption:{redemption.public_id}",
        actor=actor,
        reason=reason,
        idempotency_key=f"redemption-refund:{redemption.public_id}",
        value=_points_value(redemption),
    )
    redemption.status = Redemption.Status.REFUNDED
    redemption.refund_entry = entry
    redemption.save(update_fields=["status", "refund_entry"])
    Coupon.objects.filter(redemption=redemption).update(status=Coupon.Status.VOID, updated_at=timezone.now())
    Reward.objects.filter(pk=redemption.reward_id, units_issued__gt=0).update(units_issued=F("units_issued") - 1)
    return redemption


def coupons_order_cancelled(*, order) -> list[Coupon]:
    """The coupons `order` (an integrations Order, locked by the caller) used: released, usable again, or with
    the program's `refund_points` setting voided and their points refunded (a closed member's are released:
    there is no account to refund to). Inside order_cancel's transaction; returns the coupons it changed."""
    coupons = list(
        Coupon.objects.select_for_update(of=("self",))
        .select_related("redemption__member")
        .filter(used_shop_id=order.shop_id, used_order_external_id=order.external_id, status=Coupon.Status.USED)
        .order_by("pk")
    )
    if not coupons:
        return []
    refund = program_get().cancelled_order_coupons == "refund_points"
    now = timezone.now()
    for coupon in coupons:
        member = coupon.redemption.member
        # A gift's coupon cost no points: there is nothing to refund, so it is released.
        if refund and member.status != member.Status.CLOSED and coupon.redemption.points:
            redemption_points_refund(
                redemption=coupon.redemption,
                actor=Actor.shop(str(order.shop.public_id)),
                reason=f"Order {order.external_id} cancelled: points of the coupon returned",
            )
            coupon.status = Coupon.Status.VOID
        else:
            coupon.status = Coupon.Status.ISSUED
            coupon.used_at = None
            coupon.used_shop = None
            coupon.used_order_external_id = ""
            coupon.released_at = now
            coupon.save(
                update_fields=["status", "used_at", "used_shop", "used_order_external_id", "released_at", "updated_at"]
            )
    return coupons
