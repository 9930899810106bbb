"""Reads for shops and API keys."""

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.db import connection
from django.db.models import BooleanField, Case, Exists, IntegerField, OuterRef, Q, QuerySet, Sum, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core.exceptions import ApplicationError
from core.prepared import PreparedSelect
from integrations.keys import key_hash_matches, key_prefix
from integrations.models import ApiKey, Order, Shop, ShopCustomer
from members.models import Member
from referrals import checks
from referrals.models import Referral
from referrals.services import code_clean
from rewards.models import EarningRule, EventRule, MemberEvent, PointEntry, PointLot, PointsAccount
from rewards.selectors import account_entries, earning_rules_active, next_expiry_get, program_get
from rewards.services.boosts import BoostsConfig, boosts_load, order_boosts
from rewards.services.earning import Breakdown, MemberContext, OrderInput, OrderLine, evaluate_order
from rewards.services.program import pending_until

# Every API request runs this lookup, and compiling it through the ORM cost more CPU than the query
# (profiled: 0.87 vs 0.18 ms): its SQL is compiled once per connection (core.prepared).
_API_KEY_WITH_SHOP = PreparedSelect(
    lambda prefix: ApiKey.objects.select_related("shop").filter(prefix=prefix)[:1], "\x00sample prefix\x00"
)


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The live key (with its shop) that `raw` is, or None: malformed, unknown, wrong secret, revoked, or its
    shop inactive. One indexed query by the unique prefix, then a constant-time comparison of hashes."""
    raw = (raw or "").strip()
    prefix = key_prefix(raw)
    if prefix is None:
        return None
    api_key = _API_KEY_WITH_SHOP.first(prefix)
    if api_key is None or not key_hash_matches(raw, api_key.key_hash):
        return None
    if api_key.is_revoked(timezone.now()) or not api_key.shop.active:
        return None
    return api_key


# --- members as shops see them ----------------------------------------------------------------------

EXPIRING_DATES = 3  # how many upcoming expiry dates a member's summary lists


def shop_customer_get(
    *,
    shop: Shop,
    member_id: uuid.UUID | None = None,
    external_id: str | None = None,
    email: str | None = None,
    with_referral_code: bool = False,
) -> ShopCustomer | None:
    """The shop's link to a member found by the member's public id, the shop's external id or the e-mail,
    with the member, login and points account (and the member's referral code if asked and made) in one
    query; None if that member is not the shop's customer."""
    related = ["member__user", "member__points_account"] + (["member__referral_code"] if with_referral_code else [])
    links = ShopCustomer.objects.select_related(*related).filter(shop=shop)
    if member_id is not None:
        links = links.filter(member__public_id=member_id)
    elif external_id is not None:
        links = links.filter(external_id=external_id.strip())
    elif email is not None:
        links = links.filter(member__user__email__iexact=email.strip())
    else:
        return None
    return links.first()


def member_referred_get(*, member: Member) -> Referral | None:
    """How the member was referred: their referral as a friend (the live one, else the latest refused one);
    None if they never were. One query."""
    refused_last = Case(When(status=Referral.Status.REJECTED, then=1), default=0, output_field=IntegerField())
    return Referral.objects.filter(friend=member).order_by(refused_last, "-created_at", "-id").first()


@dataclass(frozen=True)
class Expiring:
    points: int
    expires_at: dt.datetime


def points_expiring(*, account: PointsAccount, limit: int = EXPIRING_DATES) -> list[Expiring]:
    """The next `limit` dates on which some of the member's points expire, with how many: from the live
    (pending and available) lots in one grouped query, or, under the inactivity policy, all available points
    at the end of the inactivity period (rewards.selectors.next_expiry_get)."""
    program = program_get()
    if program.expiry_policy == program.Expiry.INACTIVITY:
        nxt = next_expiry_get(account=account)
        return [] if nxt is None else [Expiring(points=nxt.points, expires_at=nxt.expires_at)]
    rows = (
        PointLot.objects.filter(
            account=account, state__in=[PointLot.State.PENDING, PointLot.State.AVAILABLE], expires_at__isnull=False
        )
        .values("expires_at")
        .annotate(points=Sum("remaining"))
        .order_by("expires_at")[:limit]
    )
    return [Expiring(points=row["points"], expires_at=row["expires_at"]) for row in rows]


def member_activity(*, account: PointsAccount) -> QuerySet[PointEntry]:
    """The member's ledger entries, newest first (rewards.selectors.account_entries)."""
    return account_entries(account=account)


# --- orders -----------------------------------------------------------------------------------------


def order_data_clean(data: dict) -> dict:
    """The order's fields with defaults filled in and identifiers trimmed, so a replay compares equal."""
    lines = [
        {
            "sku": str(line["sku"]).strip(),
            "name": (line.get("name") or "").strip(),
            "category": (line.get("category") or "").strip(),
            "quantity": Decimal(line["quantity"]),
            "unit_price": Decimal(line.get("unit_price") or 0),
            "total": Decimal(line["total"]),
        }
        for line in data.get("lines") or ()
    ]
    subtotal = data.get("subtotal")
    if subtotal is None:
        subtotal = sum((line["total"] for line in lines), Decimal(0)) if lines else Decimal(data["total"])
    cleaned = {
        "external_id": (data.get("external_id") or "").strip(),
        "member_id": data.get("member_id"),
        "member_external_id": (data.get("member_external_id") or "").strip() or None,
        "email": (data.get("email") or "").strip().lower() or None,
        "currency": data["currency"].strip().upper(),
        "total": Decimal(data["total"]),
        "subtotal": Decimal(subtotal),
        "tax": Decimal(data.get("tax") or 0),
        "shipping": Decimal(data.get("shipping") or 0),
        "discount": Decimal(data.get("discount") or 0),
        "placed_at": data["placed_at"],
        "lines": lines,
        "coupon_codes": [str(code).strip() for code in data.get("coupon_codes") or ()],
    }
    # The referral fields, only when given: an order without them keeps the fingerprint it always had. The
    # address and the payment fingerprint are kept (and fingerprinted) only as keyed hashes.
    if (raw_code := data.get("referral_code")) and (code := code_clean(raw_code)):  # most orders have none
        cleaned["referral_code"] = code
    address = data.get("shipping_address")
    if address and (shipping_hash := checks.keyed_hash("address", checks.address_normalised(address))):
        cleaned["shipping_hash"] = shipping_hash
    if payment := (data.get("payment_fingerprint") or "").strip():
        cleaned["payment_hash"] = checks.keyed_hash("payment", payment)
    return cleaned


def members_trusted_by_email() -> QuerySet[Member]:
    """Members an order may find by e-mail alone: those a shop registered (the shop vouches for the address)
    and those who confirmed their address. An unconfirmed web sign-up claims nothing, since anyone can type
    someone else's address into a sign-up form; its orders wait unmatched until the address is confirmed."""
    confirmed = EmailAddress.objects.filter(user=OuterRef("user"), email__iexact=OuterRef("user__email"), verified=True)
    return Member.objects.filter(~Q(joined_via="web") | Exists(confirmed))


def _first_purchase_recorded(member_column: str) -> RawSQL:
    """Whether the member whose pk is in `member_column` has their `first_purchase` event recorded
    (rewards.services.events), as an EXISTS over the events' (member, event) index. Raw SQL because the
    ORM's Exists costs as much CPU to compile as a query of its own (profiled: 0.6-0.9 ms per order)."""
    quote, events = connection.ops.quote_name, MemberEvent._meta
    # Only table and column names from the models go into the text; the one value is a parameter.
    return RawSQL(  # noqa: S611
        f"EXISTS (SELECT 1 FROM {quote(events.db_table)} fp WHERE fp.{quote(events.get_field('member').column)} = "
        f"{member_column} AND fp.{quote(events.get_field('event').column)} = %s)",
        (EventRule.Event.FIRST_PURCHASE,),
        output_field=BooleanField(),
    )


def _column(model, field: str) -> str:
    return f"{connection.ops.quote_name(model._meta.db_table)}.{connection.ops.quote_name(field)}"


def _members_with_first_purchase():
    return Member.objects.select_related("points_account").annotate(
        first_purchase_recorded=_first_purchase_recorded(_column(Member, "id"))
    )


# Times an order never reads of its member and their account, left unread by the order lookups here and in
# integrations.services.orders_batch (each a datetime to make per member; one read later would cost a query,
# which the pinned query counts of test_orders_api and test_orders_batch would show).
MEMBER_TIMES_NOT_READ = (
    "created_at",
    "updated_at",
    "marketing_consent_at",
    "points_account__created_at",
    "points_account__updated_at",
)
_MEMBER_BY_ID = PreparedSelect(
    lambda public_id: _members_with_first_purchase().filter(public_id=public_id)[:1], uuid.UUID(int=1)
)
_CUSTOMER_BY_EXTERNAL_ID = PreparedSelect(
    lambda shop_pk, external_id: (
        ShopCustomer.objects.select_related("member__points_account")
        .defer("created_at", *(f"member__{name}" for name in MEMBER_TIMES_NOT_READ))
        .annotate(first_purchase_recorded=_first_purchase_recorded(_column(ShopCustomer, "member_id")))
        .filter(shop_id=shop_pk, external_id=external_id)
        .order_by("pk")[:1]
    ),
    -1,
    "\x00sample external id\x00",
)


def order_member_find(
    *, shop: Shop, member_id: uuid.UUID | None = None, member_external_id: str | None = None, email: str | None = None
) -> Member | None:
    """The member an order is for, with their points account: by `member_id` (the member's public id; an
    unknown one is a 422 `unknown_member`), else by the shop's customer id, else by e-mail (only members
    trusted by it); None when the customer is not known yet (the order is then kept unmatched). One query;
    the member carries `first_purchase_recorded` (whether their first_purchase event is recorded already,
    read without a lock: True stays true, False is checked again when the event is recorded)."""
    if member_id is not None:
        member = _MEMBER_BY_ID.first(member_id)
        if member is None:
            raise ApplicationError(
                "No member has this member_id.", code="unknown_member", extra={"member_id": str(member_id)}
            )
        return member
    if member_external_id:
        link = _CUSTOMER_BY_EXTERNAL_ID.first(shop.pk, member_external_id)
        if link is not None:
            link.member.first_purchase_recorded = link.first_purchase_recorded
            return link.member
    if email:
        trusted = members_trusted_by_email().select_related("points_account")
        trusted = trusted.annotate(first_purchase_recorded=_first_purchase_recorded(_column(Member, "id")))
        return trusted.filter(user__email__iexact=email).first()
    return None


def order_placed_at(placed_at: dt.datetime, now: dt.datetime | None = None) -> dt.datetime:
    """When an order counts as placed: as the shop says, but never after it was received (a shop cannot
    date an order into a campaign that has not started)."""
    return min(placed_at, now or timezone.now())


def order_evaluate(
    *,
    shop: Shop,
    data: dict,
    member: Member | None,
    rules: list[EarningRule] | None = None,
    boosts: BoostsConfig | None = None,
) -> Breakdown:
    """The points an order (validated data as integrations.services.orders.order_record takes it) earns under
    today's rules for this shop, its currency and its placing time, with the member's tier and the campaigns
    in force (rewards.services.boosts). `rules` and `boosts`: those when the caller already has them (a batch
    loads them once: integrations.services.orders_batch)."""
    at = order_placed_at(data["placed_at"])
    shop_id = str(shop.public_id)
    if rules is None:
        rules = earning_rules_active(currency=data["currency"], shop_id=shop_id, at=at)
    # By position, which costs less than by keyword (cleaned data has every key).
    order = OrderInput(
        data["currency"],
        data["total"],
        data["subtotal"],
        data["tax"],
        data["shipping"],
        data["discount"],
        at,
        tuple(
            [
                OrderLine(
                    line["sku"],
                    line.get("name", ""),
                    line.get("category", ""),
                    line["quantity"],
                    line.get("unit_price") or 0,
                    line["total"],
                )
                for line in data["lines"]
            ]
        ),
        shop_id,
    )
    if boosts is None:
        boosts = boosts_load()
    extra = order_boosts(boosts, account=member and member.points_account, order=order, at=at, shop_id=shop_id)
    context = MemberContext(None if member is None else str(member.public_id))
    if extra.rules:  # campaigns' bonus rules after the earning rules (most orders have none: no copy)
        rules = [*rules, *extra.rules]
    return evaluate_order(order, rules, member=context, now=at, multipliers=extra.multipliers)


def order_get(*, shop: Shop, external_id: str) -> Order | None:
    """The shop's order with this external id (with its lot and member), or None: another shop's orders are
    never found."""
    return Order.objects.select_related("lot", "member").filter(shop=shop, external_id=external_id).first()


def order_simulate(*, shop: Shop, data: dict) -> dict:
    """What POST /orders would answer for this order now, without writing anything: the points, whether they
    would be pending and until when, the customer if known, and the per-line breakdown; or the 422 it would
    give (unknown member_id, a closed member's points)."""
    data = order_data_clean(data)
    member = order_member_find(
        shop=shop, member_id=data["member_id"], member_external_id=data["member_external_id"], email=data["email"]
    )
    breakdown = order_evaluate(shop=shop, data=data, member=member).as_dict()
    points = breakdown["points"] if member is not None else 0
    if points and member.status == Member.Status.CLOSED:  # as order_record: the ledger refuses a closed member
        raise ApplicationError(f"The member's account is {member.status}.", code="member_not_active")
    available_at = None
    if points:
        program = program_get()
        at = order_placed_at(data["placed_at"])
        later = pending_until(program=program, placed_at=at) if program.pending_days else None
        available_at = later if later is not None and later > timezone.now() else timezone.now()
    return {
        "points": points,
        "points_status": "none" if not points else ("pending" if available_at > timezone.now() else "available"),
        "available_at": available_at,
        "member_id": None if member is None else member.public_id,
        "matched": member is not None,
        "currency": data["currency"],
        "total": data["total"],
        "lines": breakdown["lines"],
        "unallocated_points": breakdown["unallocated_points"],
        "notes": breakdown["notes"],
    }
