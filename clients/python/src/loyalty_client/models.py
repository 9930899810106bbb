"""Typed views of the API's answers. Each keeps the whole JSON in `raw` (repr and == leave it out), since
the API may add fields; money is `Decimal`, times are aware `datetime`s, ids are strings (UUIDs)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

from loyalty_client.errors import LoyaltyError, error_for

T = TypeVar("T")
JSON = dict[str, Any]


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))  # 3.10's fromisoformat rejects "Z"


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else _when(value)


def _money(value: str | int | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True, kw_only=True)
class Points:
    available: int
    pending: int

    @classmethod
    def from_json(cls, data: JSON) -> Points:
        return cls(available=data["available"], pending=data["pending"])


@dataclass(frozen=True, kw_only=True)
class Member:
    """A customer as the shop sees them. `status`, `member_number` and `lifetime_earned` come with
    member_get/member_find, not with members_upsert; `created` is True when members_upsert registered them."""

    id: str
    external_id: str | None
    email: str | None
    first_name: str
    last_name: str
    points: Points
    tier: JSON | None = None
    status: str | None = None
    member_number: str | None = None
    lifetime_earned: int | None = None
    created: bool = False
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON, *, created: bool = False) -> Member:
        return cls(
            id=data["id"],
            external_id=data.get("external_id"),
            email=data.get("email"),
            first_name=data.get("first_name") or "",
            last_name=data.get("last_name") or "",
            points=Points.from_json(data["points"]),
            tier=data.get("tier"),
            status=data.get("status"),
            member_number=data.get("member_number"),
            lifetime_earned=(data.get("lifetime") or {}).get("earned"),
            created=created,
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class OrderResult:
    """An order as recorded (orders_create, orders_cancel) or as it would be (orders_simulate: `id`,
    `external_id` and `status` are None and `matched` says whether the customer is known).

    `points_status` is pending, available, reversed or none; `status` awarded, unmatched or cancelled;
    `created` is False for a replay (the first result again)."""

    points: int
    points_status: str
    available_at: dt.datetime | None
    member_id: str | None
    currency: str
    total: Decimal
    lines: list[JSON]
    unallocated_points: int
    notes: list[JSON]
    id: str | None = None
    external_id: str | None = None
    status: str | None = None
    points_reversed: int = 0
    matched: bool | None = None
    created: bool = False
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON, *, created: bool = False) -> OrderResult:
        return cls(
            points=data["points"],
            points_status=data["points_status"],
            available_at=_time(data.get("available_at")),
            member_id=data.get("member_id"),
            currency=data["currency"],
            total=Decimal(data["total"]),
            lines=data.get("lines") or [],
            unallocated_points=data.get("unallocated_points", 0),
            notes=data.get("notes") or [],
            id=data.get("id"),
            external_id=data.get("external_id"),
            status=data.get("status"),
            points_reversed=data.get("points_reversed", 0),
            matched=data.get("matched"),
            created=created,
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class BatchItem:
    """One order of orders_batch: `status` 201, 200 (replay) or the error's status, with `order` or `error`."""

    index: int
    external_id: str | None
    status: int
    order: OrderResult | None
    error: LoyaltyError | None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, kw_only=True)
class BatchResult:
    results: list[BatchItem]
    created: int
    replayed: int
    failed: int

    @classmethod
    def from_json(cls, data: JSON) -> BatchResult:
        items = []
        for item in data["results"]:
            status = item["status"]
            items.append(
                BatchItem(
                    index=item["index"],
                    external_id=item.get("external_id"),
                    status=status,
                    order=OrderResult.from_json(item["order"], created=status == 201) if item.get("order") else None,
                    error=error_for(status, item) if item.get("error") else None,
                )
            )
        return cls(results=items, created=data["created"], replayed=data["replayed"], failed=data["failed"])


@dataclass(frozen=True, kw_only=True)
class Refund:
    id: str
    external_id: str
    order_external_id: str
    amount: Decimal | None
    lines: list[JSON] | None
    points_reversed: int
    order_points_left: int
    created: bool = False
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON, *, created: bool = False) -> Refund:
        return cls(
            id=data["id"],
            external_id=data["external_id"],
            order_external_id=data["order_external_id"],
            amount=_money(data.get("amount")),
            lines=data.get("lines"),
            points_reversed=data["points_reversed"],
            order_points_left=data["order_points_left"],
            created=created,
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class LedgerEntry:
    """A line of a member's points history (member_activity) or a manual adjustment (adjustments_create).
    `kind`: earn, release, redeem, reverse, expire, adjust or transfer."""

    id: str
    kind: str
    points: int
    available_change: int
    pending_change: int
    reason: str
    created_at: dt.datetime
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> LedgerEntry:
        return cls(
            id=data["id"],
            kind=data["kind"],
            points=data["points"],
            available_change=data["available_change"],
            pending_change=data["pending_change"],
            reason=data["reason"],
            created_at=_when(data["created_at"]),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class Page(Generic[T]):
    """A page of a list: `count` rows in all; `next`/`previous` are full URLs or None at the ends."""

    count: int
    next: str | None
    previous: str | None
    results: list[T]


@dataclass(frozen=True, kw_only=True)
class EventResult:
    """`status`: awarded, limit_reached or no_matching_rule (none is an error); `points` this event earned."""

    id: str
    external_id: str
    event: str
    member_id: str
    occurred_at: dt.datetime | None
    status: str
    points: int
    balance: Points
    created: bool = False
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON, *, created: bool = False) -> EventResult:
        return cls(
            id=data["id"],
            external_id=data["external_id"],
            event=data["event"],
            member_id=data["member_id"],
            occurred_at=_time(data.get("occurred_at")),
            status=data["status"],
            points=data["points"],
            balance=Points.from_json(data["balance"]),
            created=created,
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class Reward:
    """A reward of the catalogue. With a member asked about, `available` says whether they can redeem it now,
    else `reason` ({code, message, details}) says why not; both are None without a member."""

    id: str
    kind: str
    title: str
    points: int
    value: Decimal | None
    currency: str
    available: bool | None = None
    short_by: int | None = None
    reason: JSON | None = None
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> Reward:
        return cls(
            id=data["id"],
            kind=data["kind"],
            title=data["title"],
            points=data["points"],
            value=_money(data.get("value")),
            currency=data["currency"],
            available=data.get("available"),
            short_by=data.get("short_by"),
            reason=data.get("reason"),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class Coupon:
    """A coupon code. `status`: issued, used, void or expired; `order_external_id` and `used_at` are set in
    coupons_redeem's answer."""

    code: str
    kind: str
    value: Decimal | None
    currency: str
    max_discount: Decimal | None
    sku: str
    min_order: Decimal | None
    expires_at: dt.datetime | None
    status: str
    order_external_id: str | None = None
    used_at: dt.datetime | None = None
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> Coupon:
        return cls(
            code=data["code"],
            kind=data["kind"],
            value=_money(data.get("value")),
            currency=data["currency"],
            max_discount=_money(data.get("max_discount")),
            sku=data.get("sku") or "",
            min_order=_money(data.get("min_order")),
            expires_at=_time(data.get("expires_at")),
            status=data["status"],
            order_external_id=data.get("order_external_id"),
            used_at=_time(data.get("used_at")),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class Redemption:
    """A reward redeemed: its `coupon` (discount rewards), `store_credit` amount, or `cause` (donations);
    `balance` is the member's points after it. `created` is False for a replay of the idempotency key."""

    id: str
    reward_id: str
    reward_kind: str
    points: int
    value: Decimal | None
    currency: str
    status: str
    coupon: Coupon | None
    store_credit: Decimal | None
    cause: str | None
    balance: Points
    created_at: dt.datetime | None
    created: bool = False
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON, *, created: bool = False) -> Redemption:
        credit = data.get("store_credit")
        return cls(
            id=data["id"],
            reward_id=data["reward"]["id"],
            reward_kind=data["reward"]["kind"],
            points=data["points"],
            value=_money(data.get("value")),
            currency=data["currency"],
            status=data["status"],
            coupon=Coupon.from_json(data["coupon"]) if data.get("coupon") else None,
            store_credit=_money(credit["amount"]) if credit else None,
            cause=data.get("cause"),
            balance=Points.from_json(data["balance"]),
            created_at=_time(data.get("created_at")),
            created=created,
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class Discount:
    """What a valid coupon takes off this cart: `amount` (0.00 with `free_shipping`), or one unit of `sku`."""

    kind: str
    amount: Decimal
    currency: str
    free_shipping: bool
    sku: str


@dataclass(frozen=True, kw_only=True)
class CouponValidation:
    """coupons_validate's answer: `valid` with a `discount`, or a `reason` (unknown_code, wrong_shop,
    coupon_used, coupon_void, coupon_expired, currency_mismatch, below_minimum_order, product_not_in_cart)."""

    code: str
    valid: bool
    discount: Discount | None
    reason: str | None
    message: str | None
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> CouponValidation:
        discount = data.get("discount")
        return cls(
            code=data["code"],
            valid=data["valid"],
            discount=None
            if discount is None
            else Discount(
                kind=discount["kind"],
                amount=Decimal(discount["amount"]),
                currency=discount["currency"],
                free_shipping=discount["free_shipping"],
                sku=discount.get("sku") or "",
            ),
            reason=data.get("reason"),
            message=data.get("message"),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class StoreCreditSpend:
    """Store credit taken at checkout; `balance` is what is left in `currency`."""

    id: str
    amount: Decimal
    currency: str
    balance: Decimal
    order_external_id: str
    created_at: dt.datetime | None
    created: bool = False
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON, *, created: bool = False) -> StoreCreditSpend:
        return cls(
            id=data["id"],
            amount=Decimal(data["amount"]),
            currency=data["currency"],
            balance=Decimal(data["balance"]),
            order_external_id=data.get("order_external_id") or "",
            created_at=_time(data.get("created_at")),
            created=created,
            raw=data,
        )
