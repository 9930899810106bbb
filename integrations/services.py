"""Writes for shops and API keys. Every function that makes a key returns its plaintext exactly once;
only the SHA-256 hash is stored."""

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.exceptions import ApplicationError
from integrations.keys import key_generate
from integrations.models import SCOPES, ApiKey, Order, Refund, Shop, ShopCustomer
from integrations.selectors import order_data_clean, order_evaluate, order_member_find, order_placed_at
from members.models import Member, User
from members.services import member_preferences_update, member_profile_update, member_signup
from rewards.models import PointEntry, PointLot
from rewards.selectors import program_get
from rewards.services.earning import points_to_reverse
from rewards.services.ledger import Actor, points_adjust, points_earn, points_reverse
from rewards.services.program import pending_until

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)  # last_used_at is written at most this often per key
ROTATION_GRACE_MAX = dt.timedelta(days=7)
_PREFIX_ATTEMPTS = 5  # a prefix clash among 36**8 ids is rare; a few retries make it impossible in practice


def shop_create(
    *,
    name: str,
    kind: str = Shop.Kind.WEB,
    currency: str = "EUR",
    time_zone: str = "UTC",
    allowed_origins: Iterable[str] = (),
    active: bool = True,
) -> Shop:
    """Create a validated shop (unique name, ISO currency, IANA time zone); raises ValidationError otherwise."""
    shop = Shop(
        name=name.strip(),
        kind=kind,
        currency=currency.strip().upper(),
        time_zone=time_zone.strip(),
        allowed_origins=[origin.strip().rstrip("/") for origin in allowed_origins if origin.strip()],
        active=active,
    )
    shop.full_clean()
    shop.save()
    return shop


def _scopes_clean(scopes: Iterable[str]) -> set[str]:
    wanted = {scope.strip() for scope in scopes if scope.strip()}
    unknown = wanted - set(SCOPES)
    if unknown or not wanted:
        raise ApplicationError(
            f"Give one or more of the scopes {', '.join(SCOPES)}.",
            code="invalid_scopes",
            extra={"unknown": sorted(unknown)},
        )
    return wanted


def api_key_create(*, shop: Shop, name: str, scopes: Iterable[str], created_by=None) -> tuple[ApiKey, str]:
    """Make a key for `shop`; returns (key, plaintext). The plaintext is not stored and cannot be shown again."""
    wanted = _scopes_clean(scopes)
    name = name.strip() or "API key"
    return _api_key_insert(shop=shop, name=name, scopes=wanted, created_by=created_by, rotated_from=None)


def _api_key_insert(*, shop, name, scopes, created_by, rotated_from) -> tuple[ApiKey, str]:
    for attempt in range(_PREFIX_ATTEMPTS):
        new = key_generate()
        key = ApiKey(
            shop=shop,
            name=name[:100],
            prefix=new.prefix,
            key_hash=new.key_hash,
            created_by=created_by,
            rotated_from=rotated_from,
            **{f"scope_{scope}": scope in scopes for scope in SCOPES},
        )
        try:
            with transaction.atomic():  # a savepoint, so a clash does not spoil an outer transaction
                key.save()
        except IntegrityError:
            if attempt == _PREFIX_ATTEMPTS - 1 or ApiKey.objects.filter(prefix=new.prefix).first() is None:
                raise  # not a prefix clash, or clashing again and again: something else is wrong
            continue
        return key, new.plaintext
    raise AssertionError("unreachable")


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """The key stops working now; revoking a revoked key changes nothing (and keeps its first revocation time)."""
    now = timezone.now()
    # Conditional UPDATE: a key in a rotation's grace period (revoked_at in the future) is cut short too.
    ApiKey.objects.filter(pk=api_key.pk).filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)).update(
        revoked_at=now
    )
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def api_key_rotate(*, api_key: ApiKey, grace: dt.timedelta = dt.timedelta(0), created_by=None) -> tuple[ApiKey, str]:
    """Replace a live key by a new one with the same shop, name and scopes; the old key keeps working for
    `grace` (0: it stops at once, at most ROTATION_GRACE_MAX). Returns (new key, plaintext). A key is
    rotated at most once: two staff rotating the same key at the same time make one new key, not two."""
    if grace < dt.timedelta(0) or grace > ROTATION_GRACE_MAX:
        raise ApplicationError(
            "The grace period must be between 0 and 7 days.",
            code="invalid_grace_period",
            extra={"max_seconds": int(ROTATION_GRACE_MAX.total_seconds())},
        )
    with transaction.atomic():
        # The row lock makes concurrent rotations of one key queue up; the second sees it rotated and stops.
        old = ApiKey.objects.select_for_update().select_related("shop").get(pk=api_key.pk)
        now = timezone.now()
        if old.is_revoked(now):
            raise ApplicationError(
                "This API key is revoked; create a new key instead.", code="api_key_revoked", status=409
            )
        if ApiKey.objects.filter(rotated_from=old).exists():
            raise ApplicationError(
                "This API key was already rotated; rotate its replacement instead.",
                code="api_key_already_rotated",
                status=409,
            )
        new_key, plaintext = _api_key_insert(
            shop=old.shop, name=old.name, scopes=set(old.scopes), created_by=created_by, rotated_from=old
        )
        ends = now + grace
        if old.revoked_at is None or old.revoked_at > ends:
            old.revoked_at = ends
            old.save(update_fields=["revoked_at"])
    api_key.revoked_at = old.revoked_at
    return new_key, plaintext


def api_key_mark_used(*, api_key: ApiKey, now: dt.datetime | None = None) -> None:
    """Record that the key was used, at most once a minute per key, without a write on every request."""
    now = now or timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return  # fresh enough: no query at all
    # The condition in the WHERE keeps N processes that saw the same stale value from all writing:
    # after the first UPDATE commits, the others' WHERE no longer matches the row.
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    api_key.last_used_at = now


# --- members as shops see them ----------------------------------------------------------------------

_UPSERT_ATTEMPTS = 3  # a lost race re-reads what the winner wrote; a third clash means something else


def member_upsert(
    *,
    shop: Shop,
    external_id: str | None = None,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    birthday: dt.date | None = None,
    marketing_consent: bool | None = None,
    referral_code: str | None = None,
) -> tuple[Member, bool]:
    """Find the shop's customer (by its external id, else by e-mail), create the member if neither finds one,
    link it to the shop and apply the given profile fields (None: unchanged). Returns (member, created);
    two identical calls at the same moment make one member and one link.

    The e-mail is the member's login: it finds a member and is set on creation, never changed here.
    `referral_code` is accepted for the contract and not stored yet (referrals come later)."""
    external_id = (external_id or "").strip() or None
    email = (email or "").strip().lower() or None
    if external_id is None and email is None:
        raise ApplicationError(
            "Give the customer's external_id, email or both.",
            code="validation_error",
            status=400,
            extra={"non_field_errors": ["Give external_id, email or both."]},
        )
    for attempt in range(_UPSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                member, created = _member_resolve(shop=shop, external_id=external_id, email=email)
                _member_profile_apply(
                    member,
                    first_name=first_name,
                    last_name=last_name,
                    birthday=birthday,
                    marketing_consent=marketing_consent,
                    created=created,
                )
            break
        except IntegrityError:
            # Another request created the same user or link first (unique constraints on the e-mail, on
            # (shop, external_id) and on (shop, member)); its transaction has committed, so read again.
            if attempt == _UPSERT_ATTEMPTS - 1:
                raise
    # After the upsert's own transaction: a failure here leaves the orders unmatched for the next call.
    orders_match_for(member=member, shop=shop)
    return member, created


def _identity_conflict(message: str, **extra) -> ApplicationError:
    return ApplicationError(message, code="identity_conflict", status=409, extra=extra)


def _member_resolve(*, shop: Shop, external_id: str | None, email: str | None) -> tuple[Member, bool]:
    link = None
    if external_id is not None:
        link = ShopCustomer.objects.select_related("member__user").filter(shop=shop, external_id=external_id).first()
    by_email = None
    if email is not None:
        by_email = Member.objects.select_related("user").filter(user__email__iexact=email).first()

    if link is not None:
        member = link.member
        if by_email is not None and by_email.pk != member.pk:
            raise _identity_conflict(
                "This external_id belongs to another member than this email.", external_id=external_id, email=email
            )
        _require_not_closed(member)
        return member, False

    if by_email is not None:
        member = by_email
        _require_not_closed(member)
        existing = ShopCustomer.objects.filter(shop=shop, member=member).first()
        if existing is None:
            ShopCustomer.objects.create(shop=shop, member=member, external_id=external_id)
        elif external_id is not None:
            if existing.external_id is None:
                existing.external_id = external_id
                existing.save(update_fields=["external_id"])
            elif existing.external_id != external_id:
                raise _identity_conflict(
                    "This email's member is already linked to another external_id of this shop.",
                    external_id=external_id,
                    email=email,
                    linked_external_id=existing.external_id,
                )
        return member, False

    if email is None:
        raise ApplicationError(
            "No member has this external_id; give the customer's email to register them.",
            code="email_required",
            extra={"external_id": external_id},
        )
    # A staff login that is not a member. (A user whose member another request committed since the lookup
    # above does not match: the insert below then clashes on the e-mail and the retry finds that member.)
    if User.objects.filter(email__iexact=email, member__isnull=True).exists():
        raise _identity_conflict("This email belongs to a login that is not a member.", email=email)
    user = User(email=email)
    user.set_unusable_password()  # they set one through "forgot password" if they want to log in
    member = member_signup(user=user, joined_via=shop.name[:64])
    ShopCustomer.objects.create(shop=shop, member=member, external_id=external_id)
    return member, True


def _require_not_closed(member: Member) -> None:
    if member.status == Member.Status.CLOSED:
        raise ApplicationError("This member's account is closed.", code="member_closed", status=422)


def _member_profile_apply(member: Member, *, first_name, last_name, birthday, marketing_consent, created) -> None:
    names = {
        "first_name": member.first_name if first_name is None else first_name.strip(),
        "last_name": member.last_name if last_name is None else last_name.strip(),
        "birthday": member.birthday if birthday is None else birthday,
    }
    if any(getattr(member, name) != value for name, value in names.items()):
        member_profile_update(member=member, **names)
    if marketing_consent is not None:
        member_preferences_update(member=member, marketing_consent=marketing_consent)


def member_points_adjust(*, shop: Shop, member: Member, points: int, reason: str, idempotency_key: str) -> PointEntry:
    """Adjust the member's points on behalf of `shop` (rewards.services.ledger.points_adjust). The key is
    the shop's own: it is namespaced per shop, and replaying it with another body is a 409."""
    reason = (reason or "").strip()
    key = f"shop:{shop.public_id}:adjust:{idempotency_key}"
    entry = points_adjust(
        account=member.points_account,
        points=points,
        reason=reason,
        actor=Actor.shop(str(shop.public_id)),
        idempotency_key=key,
    )
    if entry.reason != reason:  # the ledger compares the points; a different reason is another request too
        raise ApplicationError(
            "This idempotency key was already used for a different adjustment.",
            code="idempotency_conflict",
            status=409,
            extra={"idempotency_key": idempotency_key},
        )
    return entry


# --- orders -----------------------------------------------------------------------------------------


def _canonical(value):
    """The same request always gives the same JSON: decimals without trailing zeros, times in UTC."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _fingerprint(data: dict) -> str:
    text = json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


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
    if order := _order_replayed(shop=shop, external_id=external_id, fingerprint=fingerprint):
        return order, False
    member = order_member_find(
        shop=shop, member_id=data["member_id"], member_external_id=data["member_external_id"], email=data["email"]
    )
    breakdown = order_evaluate(shop=shop, data=data, member=member)
    if breakdown.points > ORDER_POINTS_MAX:
        raise ApplicationError(
            f"This order would earn {breakdown.points} points, more than the {ORDER_POINTS_MAX} one order may earn.",
            code="order_points_too_large",
            extra={"points": breakdown.points, "max": ORDER_POINTS_MAX},
        )
    placed_at = order_placed_at(data["placed_at"])
    try:
        with transaction.atomic():
            order = Order.objects.create(
                shop=shop,
                external_id=external_id,
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
                lines=_canonical(data["lines"]),
                coupon_codes=data["coupon_codes"],
                breakdown=breakdown.as_dict(),
                status=Order.Status.AWARDED if member is not None else Order.Status.UNMATCHED,
                fingerprint=fingerprint,
            )
            if member is not None and breakdown.points > 0:
                program = program_get()
                available_at = pending_until(program=program, placed_at=placed_at) if program.pending_days else None
                entry = points_earn(
                    account=member.points_account,
                    points=breakdown.points,
                    source=PointLot.Source.ORDER,
                    actor=Actor.shop(str(shop.public_id)),
                    idempotency_key=f"order:{shop.public_id}:{external_id}",
                    source_ref=external_id,
                    reason=f"Order {external_id}",
                    available_at=available_at,
                )
                order.lot = PointLot.objects.get(public_id=entry.details["lot"])
                order.points = breakdown.points
                order.save(update_fields=["lot", "points", "updated_at"])
    except IntegrityError:
        # Another copy of this request inserted the order first and has committed: answer with its result.
        if order := _order_replayed(shop=shop, external_id=external_id, fingerprint=fingerprint):
            return order, False
        raise
    return order, True


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
    return order, left


def _order_earn(order: Order, member: Member) -> None:
    """Credit an order's stored points to `member` (inside the caller's transaction, order row locked)."""
    points = int(order.breakdown.get("points", 0))
    if points <= 0:
        return
    program = program_get()
    placed_at = order_placed_at(order.placed_at, now=order.created_at)
    available_at = pending_until(program=program, placed_at=placed_at) if program.pending_days else None
    entry = points_earn(
        account=member.points_account,
        points=points,
        source=PointLot.Source.ORDER,
        actor=Actor.shop(str(order.shop.public_id)),
        idempotency_key=f"order:{order.shop.public_id}:{order.external_id}",
        source_ref=order.external_id,
        reason=f"Order {order.external_id}",
        available_at=available_at,
    )
    order.lot = PointLot.objects.get(public_id=entry.details["lot"])
    order.points = points
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


def orders_match_for(*, member: Member, shop: Shop | None = None) -> list[Order]:
    """Give `member` the unmatched orders that were for them: `shop`'s orders under the member's customer id
    there, and any shop's orders under the member's e-mail. Each earns the points its stored breakdown
    says (the rules when it was placed), pending until its return window closes. Safe to call again and
    from two places at once: each order is locked and re-checked before it earns."""
    email = member.user.email.strip().lower()
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
        matched.append(order)
    return matched
