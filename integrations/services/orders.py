"""Writes for orders: record one (and earn its points), refund, cancel, and match unmatched orders to a member."""

import contextlib
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal

import orjson
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.db import model_new, sql_insert, sql_next_id, sql_value
from core.exceptions import ApplicationError
from integrations.models import Order, Refund, Shop, ShopCustomer
from integrations.selectors import order_data_clean, order_evaluate, order_member_find, order_placed_at
from members.models import Member
from referrals.models import Referral
from referrals.selectors import referral_program_cached
from referrals.services import referral_join, referral_order_reversed
from rewards.models import PointLot, PointsAccount
from rewards.selectors import program_cached
from rewards.services.boosts import Earned, order_earned
from rewards.services.coupons import coupons_order_cancelled
from rewards.services.earning import points_to_reverse
from rewards.services.events import event_first_purchase_record
from rewards.services.ledger import Actor, points_earn_with_lot, points_reverse
from rewards.services.program import pending_until
from webhooks.services import event_publish, order_points_awarded_data, order_refunded_data


def _canonical(value):
    """The same request always gives the same JSON: decimals without trailing zeros, times in UTC."""
    # An order's dozens of values: the plain ones kept and decimals converted without a call of _canonical each
    # (one look-up by exact type); containers, subclasses and the rare types go through the checks below.
    kind = type(value)
    if kind is dict or isinstance(value, dict):
        return {
            k if type(k) is str else str(k): v if (convert := _CONVERT.get(type(v), _canonical)) is None else convert(v)
            for k, v in value.items()
        }
    if kind is list or isinstance(value, list | tuple):
        return [v if (convert := _CONVERT.get(type(v), _canonical)) is None else convert(v) for v in value]
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


_DECIMAL_TEXTS: dict[Decimal, str] = {}
_DECIMAL_TEXTS_MAX = 4096


def _decimal_text(value: Decimal) -> str:
    """A decimal without trailing zeros, remembered: quantities and prices repeat from order to order (equal
    decimals, 2 and 2.00, are one key and have one text). A plain dict: a look-up in it costs a fraction of
    lru_cache's; it is emptied when full."""
    text = _DECIMAL_TEXTS.get(value)
    if text is None:
        if len(_DECIMAL_TEXTS) >= _DECIMAL_TEXTS_MAX:
            _DECIMAL_TEXTS.clear()
        text = _DECIMAL_TEXTS[value] = format(value.normalize(), "f") if value else "0"
    return text


# What _canonical does with a value of each exact type: None keeps it; a type not here goes to _canonical.
_CONVERT = {str: None, int: None, bool: None, float: None, type(None): None, Decimal: _decimal_text}


def _fingerprint(data: dict) -> str:
    return _fingerprint_of_canonical(_canonical(data))


def _fingerprint_of_canonical(canonical) -> str:
    """sha256 of the canonical JSON as json.dumps writes it (keys sorted, compact, non-ASCII and DEL escaped),
    the text every stored fingerprint was made from. orjson writes the same text ten times faster when it is
    plain ASCII without DEL, as nearly every order is; anything else is written by json as before."""
    try:
        text = orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME)
    except TypeError:  # integers beyond 64 bits, or what json refuses too
        text = None
    if text is None or not text.isascii() or b"\x7f" in text:
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(text).hexdigest()


def _idempotency_conflict(what: str, external_id: str) -> ApplicationError:
    return ApplicationError(
        f"This {what} external_id was already used with a different body.",
        code="idempotency_conflict",
        status=409,
        extra={"external_id": external_id},
    )


ORDER_POINTS_MAX = 10_000_000  # points one order may earn; keeps the ledger's integer columns far from overflow


def _order_replayed(*, shop: Shop, external_id: str, fingerprint: str) -> Order | None:
    order = Order.objects.select_related("lot", "member").filter(shop=shop, external_id=external_id).first()
    if order is not None and order.fingerprint != fingerprint:
        raise _idempotency_conflict("order", external_id)
    return order


def _order_build(*, shop: Shop, data: dict, member: Member | None, lines: list, breakdown, fingerprint: str) -> Order:
    """The unsaved order row for cleaned order data: one place for both order_record and the batch."""
    return model_new(
        Order,
        shop=shop,
        external_id=data["external_id"],
        member=member,
        member_external_id=data["member_external_id"] or "",
        email=data["email"] or "",
        currency=data["currency"],
        total=data["total"],
        subtotal=data["subtotal"],
        tax=data["tax"],
        shipping=data["shipping"],
        discount=data["discount"],
        placed_at=data["placed_at"],
        lines=lines,
        coupon_codes=data["coupon_codes"],
        breakdown=breakdown.as_dict(),
        status=Order.Status.AWARDED if member is not None else Order.Status.UNMATCHED,
        fingerprint=fingerprint,
        shipping_hash=data.get("shipping_hash", ""),
        payment_hash=data.get("payment_hash", ""),
    )


def order_record(*, shop: Shop, data: dict) -> tuple[Order, bool]:
    """Record a shop's order and earn its points (one lot, pending for the program's return window), all in
    one transaction; returns (order, created). The same external_id with the same body returns the first
    order and changes nothing (also when the copies race: the (shop, external_id) constraint lets one in);
    with another body it is a 409. An unknown customer's order is kept unmatched, with 0 points."""
    data = order_data_clean(data)
    external_id = data["external_id"]
    if not external_id:
        raise ApplicationError("An order needs its external_id.", code="validation_error", status=400)
    fingerprint = _fingerprint(data)
    # No look for a replay first: a new order (nearly every call) then costs one query less, and a replay
    # is found when its insert meets the (shop, external_id) constraint.
    try:
        member = order_member_find(
            shop=shop, member_id=data["member_id"], member_external_id=data["member_external_id"], email=data["email"]
        )
        breakdown = order_evaluate(shop=shop, data=data, member=member)
        if breakdown.points > ORDER_POINTS_MAX:
            raise ApplicationError(
                f"This order would earn {breakdown.points} points, more than the {ORDER_POINTS_MAX} one order "
                "may earn.",
                code="order_points_too_large",
                extra={"points": breakdown.points, "max": ORDER_POINTS_MAX},
            )
    except ApplicationError:
        # A replay answers as the first call did, even when its member or today's rules would refuse it now.
        if order := _order_replayed(shop=shop, external_id=external_id, fingerprint=fingerprint):
            return order, False
        raise
    if data.get("referral_code") and member is not None:
        order_referral_join(member=member, code=data["referral_code"])
    placed_at = order_placed_at(data["placed_at"])
    earns = member is not None and breakdown.points > 0
    # PostgreSQL: the order's row is written once, already naming its lot (an id taken from the lots'
    # sequence by the insert itself; the foreign key is checked at commit) and its points, and the ledger
    # inserts the lot under that id. No update of the wide order row afterwards, which (lot_id being indexed)
    # would not be a HOT update and would add an entry to every index of the table.
    lot_first = earns and connection.vendor == "postgresql"
    try:
        with transaction.atomic():
            # The order's row first, then the member's account (the lock order orders_batch relies on): a
            # copy of this request in flight waits here and then fails on the constraint.
            order = _order_build(
                shop=shop,
                data=data,
                member=member,
                lines=_canonical(data["lines"]),
                breakdown=breakdown,
                fingerprint=fingerprint,
            )
            if lot_first:
                order.points = breakdown.points
                sql_insert(order, sql_for={"lot_id": sql_next_id(PointLot)})
            else:
                sql_insert(order)
            if earns:
                program = program_cached()
                available_at = pending_until(program=program, placed_at=placed_at) if program.pending_days else None
                _entry, order.lot = points_earn_with_lot(
                    account=member.points_account,
                    points=breakdown.points,
                    source=PointLot.Source.ORDER,
                    actor=Actor.shop(str(shop.public_id)),
                    idempotency_key=f"order:{shop.public_id}:{external_id}",
                    source_ref=external_id,
                    reason=f"Order {external_id}",
                    available_at=available_at,
                    program=program,
                    key_is_new=True,  # this order's row, inserted above, is the only one that earns under it
                    lot_id=order.lot_id if lot_first else None,  # with key_is_new, never another lot
                )
                if not lot_first:
                    order.points = breakdown.points
                    _order_lot_set(order)
                order_earned(Earned(member=member, order=order, breakdown=order.breakdown))
                _points_awarded_publish(order, member)
                if not getattr(member, "first_purchase_recorded", False):  # one query spared on every later order
                    event_first_purchase_record(member=member, shop=shop, occurred_at=placed_at)
            elif member is not None:  # no points, but it may still count: a paid membership's SKU, spend
                order_earned(Earned(member=member, order=order, breakdown=order.breakdown))
    except IntegrityError:
        # Another copy of this request inserted the order first and has committed: answer with its result.
        if order := _order_replayed(shop=shop, external_id=external_id, fingerprint=fingerprint):
            return order, False
        raise
    return order, True


def order_referral_join(*, member: Member, code: str) -> None:
    """A referral code given with a known member's order, before the order's transaction (so the order can
    qualify the referral): a member who was never referred is referred by it. A new customer at checkout
    (joined within the program's attribution window, no order before this one) joins as new; anyone else as
    an existing member, whom the checks reject (stored with the reason). Never fails the order: an unknown
    code, an inactive program or a refused referral leave the order as it would be without the code."""
    rules = referral_program_cached()
    if not rules.active or member.status != Member.Status.ACTIVE:
        return
    if Referral.objects.filter(friend=member).exists():  # referred (or refused) before: the first code stays
        return
    new_customer = (
        member.joined_at >= timezone.now() - dt.timedelta(days=rules.attribution_days)
        and not Order.objects.filter(member=member).exists()
    )
    # An unknown code (or a referral that cannot be made now): the order counts as if it had none.
    with contextlib.suppress(ApplicationError):
        referral_join(friend=member, code=code, channel=Referral.Channel.API, existed=not new_customer)


def _refund_lines_clean(lines: Sequence[dict]) -> list[dict]:
    return [{"sku": str(line["sku"]).strip(), "quantity": Decimal(line["quantity"])} for line in lines]


def order_refund(
    *, order: Order, external_id: str, amount: Decimal | None = None, lines: Sequence[dict] | None = None
) -> tuple[Refund, bool]:
    """Refund part of an order, by `amount` or by `lines` [{sku, quantity}], and reverse the points that
    part earned, computed from the order's stored breakdown and its earlier refunds (never today's rules);
    pending points go first. Returns (refund, created); the same external_id with the same body returns the
    first refund, with another body it is a 409. Impossible refunds (unknown SKU, more than was bought,
    more money than the total, a cancelled order) are 422s and change nothing."""
    external_id = (external_id or "").strip()
    if not external_id or (amount is None) == (lines is None):
        raise ApplicationError(
            "A refund needs its external_id and either an amount or lines.", code="validation_error", status=400
        )
    clean_lines = None if lines is None else _refund_lines_clean(lines)
    amount = None if amount is None else Decimal(amount)
    fingerprint = _fingerprint({"amount": amount, "lines": clean_lines})
    with transaction.atomic():
        # The order's row lock queues refunds and cancels of one order, so each sees the ones before it.
        order = Order.objects.select_for_update().select_related("shop").get(pk=order.pk)
        refund = Refund.objects.filter(order=order, external_id=external_id).first()
        if refund is not None:
            if refund.fingerprint != fingerprint:
                raise _idempotency_conflict("refund", external_id)
            return refund, False
        if order.status == Order.Status.CANCELLED:
            raise ApplicationError(
                "This order was cancelled; there is nothing left to refund.",
                code="order_cancelled",
                extra={"order_external_id": order.external_id},
            )
        earlier = list(order.refunds.all())
        earlier_lines = [(x["sku"], Decimal(x["quantity"])) for r in earlier if r.lines is not None for x in r.lines]
        points = points_to_reverse(
            order.breakdown,
            lines=None if clean_lines is None else [(line["sku"], line["quantity"]) for line in clean_lines],
            amount=amount,
            refunded_lines=earlier_lines,
            refunded_amount=sum((r.amount for r in earlier if r.amount is not None), Decimal(0)),
            already_reversed=order.points_reversed,
        )
        if order.lot_id is None:
            points = 0  # unmatched (or earned nothing): the refund is recorded, nothing to take back
        refund = Refund.objects.create(
            order=order,
            external_id=external_id,
            amount=amount,
            lines=None if clean_lines is None else _canonical(clean_lines),
            points=points,
            fingerprint=fingerprint,
        )
        if points:
            points_reverse(
                lot=order.lot,
                points=points,
                reason=f"Refund {external_id} of order {order.external_id}",
                actor=Actor.shop(str(order.shop.public_id)),
                idempotency_key=f"refund:{order.public_id}:{external_id}",
            )
            order.points_reversed += points
            order.save(update_fields=["points_reversed", "updated_at"])
        referral_order_reversed(order=order)  # a referrer's pending reward for this order may go
        _refunded_publish(order, refund=refund, points=points)
    return refund, True


def order_cancel(*, order: Order) -> tuple[Order, int]:
    """Cancel the order: reverse every point of it not reversed yet and mark it cancelled. Returns (order,
    points reversed now); cancelling a cancelled order changes nothing and reverses 0."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("shop").get(pk=order.pk)
        if order.status == Order.Status.CANCELLED:
            return order, 0
        left = order.points - order.points_reversed
        if left and order.lot_id is not None:
            points_reverse(
                lot=order.lot,
                points=left,
                reason=f"Order {order.external_id} cancelled",
                actor=Actor.shop(str(order.shop.public_id)),
                idempotency_key=f"cancel:{order.public_id}",
            )
            order.points_reversed = order.points
        order.status = Order.Status.CANCELLED
        order.save(update_fields=["points_reversed", "status", "updated_at"])
        coupons_order_cancelled(order=order)  # the rewards' coupons it used: released, or their points refunded
        referral_order_reversed(order=order)  # a referrer's pending reward for this order goes
        _refunded_publish(order, refund=None, points=left)
    return order, left


def _order_lot_set(order: Order) -> None:
    """Store the order's lot and points (what Order.objects.filter(pk=).update() does, without compiling)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(Order._meta.db_table)} SET lot_id = %s, points = %s, updated_at = %s "
            "WHERE id = %s",
            [order.lot.pk, order.points, sql_value(order.updated_at), order.pk],
        )


def _points_awarded_publish(order: Order, member: Member) -> None:
    """Webhook `order.points_awarded` to the order's shop, in the transaction that earned the points."""
    data = order_points_awarded_data(order=order, member=member, account=member.points_account)
    event_publish(shop=order.shop, event="order.points_awarded", data=data)


def _refunded_publish(order: Order, *, refund: Refund | None, points: int) -> None:
    """Webhook `order.refunded` (a refund, or the cancellation when `refund` is None), in its transaction."""
    account = None
    if order.member_id is not None:
        account = PointsAccount.objects.select_related("member").filter(member_id=order.member_id).first()
    data = order_refunded_data(
        order=order, member=account and account.member, refund=refund, points_reversed=points, account=account
    )
    event_publish(shop=order.shop, event="order.refunded", data=data)


def _order_earn(order: Order, member: Member) -> None:
    """Credit an order's stored points to `member` (inside the caller's transaction, order row locked)."""
    points = int(order.breakdown.get("points", 0))
    if points <= 0:
        order_earned(Earned(member=member, order=order, breakdown=order.breakdown))  # as order_record does
        return
    program = program_cached()
    placed_at = order_placed_at(order.placed_at, now=order.created_at)
    available_at = pending_until(program=program, placed_at=placed_at) if program.pending_days else None
    _entry, order.lot = points_earn_with_lot(
        account=member.points_account,
        points=points,
        source=PointLot.Source.ORDER,
        actor=Actor.shop(str(order.shop.public_id)),
        idempotency_key=f"order:{order.shop.public_id}:{order.external_id}",
        source_ref=order.external_id,
        reason=f"Order {order.external_id}",
        available_at=available_at,
        program=program,
    )
    order.points = points
    order_earned(Earned(member=member, order=order, breakdown=order.breakdown))
    event_first_purchase_record(member=member, shop=order.shop, occurred_at=placed_at)
    # Refunds recorded while the order was unmatched took back nothing then; they take their share now.
    lines_before: list[tuple[str, Decimal]] = []
    amount_before, reversed_total = Decimal(0), 0
    for refund in order.refunds.all():
        lines = None if refund.lines is None else [(x["sku"], Decimal(x["quantity"])) for x in refund.lines]
        refund.points = points_to_reverse(
            order.breakdown,
            lines=lines,
            amount=refund.amount,
            refunded_lines=lines_before,
            refunded_amount=amount_before,
            already_reversed=reversed_total,
        )
        lines_before += lines or []
        amount_before += refund.amount or 0
        reversed_total += refund.points
        refund.save(update_fields=["points"])
    if reversed_total:
        points_reverse(
            lot=order.lot,
            points=reversed_total,
            reason=f"Refunds of order {order.external_id} before it was matched",
            actor=Actor.shop(str(order.shop.public_id)),
            idempotency_key=f"match:{order.public_id}:refunds",
        )
    order.points_reversed = reversed_total


def orders_match_for(*, member: Member, shop: Shop | None = None, email: str | None = None) -> list[Order]:
    """Give `member` the unmatched orders that were for them: `shop`'s orders under the member's customer id
    there, and any shop's orders under the member's e-mail (or under `email`, another address the member
    has verified). Each earns the points its stored breakdown says (the rules when it was placed), pending
    until its return window closes. Safe to call again and from two places at once: each order is locked
    and re-checked before it earns."""
    email = (email or member.user.email).strip().lower()
    wanted = Q(email=email)
    if shop is not None:
        external_id = (
            ShopCustomer.objects.filter(shop=shop, member=member).values_list("external_id", flat=True).first()
        )
        if external_id:
            wanted |= Q(shop=shop, member_external_id=external_id)
    candidates = list(
        Order.objects.filter(wanted, status=Order.Status.UNMATCHED).order_by("pk").values_list("pk", flat=True)
    )
    matched = []
    for pk in candidates:
        with transaction.atomic():
            order = Order.objects.select_for_update().select_related("shop").get(pk=pk)
            if order.status != Order.Status.UNMATCHED:
                continue  # matched (or cancelled) by another call meanwhile
            if member.status == Member.Status.CLOSED:
                break
            order.member = member
            order.status = Order.Status.AWARDED
            order.breakdown = {**order.breakdown, "member_id": str(member.public_id)}
            _order_earn(order, member)
            order.save(
                update_fields=["member", "status", "breakdown", "lot", "points", "points_reversed", "updated_at"]
            )
            if order.points:
                if order.points_reversed:  # refunds made meanwhile changed the balance after the earn
                    member.points_account.refresh_from_db(fields=["available", "pending"])
                _points_awarded_publish(order, member)
        matched.append(order)
    return matched
