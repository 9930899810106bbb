"""LoyaltyClient: the shop's side of REST API v1 (/api/v1/), one method per endpoint.

Every write of the API is idempotent by a key the caller gives (an order's or refund's `external_id`, an
`idempotency_key`), so the client can send the very same request again after a 429, a 5xx, a timeout or a
refused connection. It does so only for calls marked retry-safe: all of its own methods are (each carries
its key, or writes nothing, or is idempotent by nature); a raw `request()` POST is not, unless told.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypedDict
from urllib.parse import quote

import httpx

from loyalty_client.errors import LoyaltyError, RateLimited, ServerError, TransportError, error_for
from loyalty_client.models import (
    BatchResult,
    Coupon,
    CouponValidation,
    EventResult,
    LedgerEntry,
    Member,
    OrderResult,
    Page,
    Redemption,
    Refund,
    Reward,
    StoreCreditSpend,
)

__all__ = ["CartLine", "LoyaltyClient", "Order", "OrderLine", "RefundLine"]

Money = Decimal | str | int


class OrderLine(TypedDict, total=False):
    sku: str  # required
    name: str
    category: str
    quantity: Decimal | str | int  # required
    unit_price: Money
    total: Money  # required; before order-level discounts


class Order(TypedDict, total=False):
    """The body of orders_create (see docs/integration.md): `external_id`, one of `member_id`,
    `member_external_id` or `email`, `currency`, `total` and `placed_at` are required."""

    external_id: str
    member_id: str
    member_external_id: str
    email: str
    currency: str
    total: Money
    subtotal: Money
    tax: Money
    shipping: Money
    discount: Money
    placed_at: dt.datetime | str  # an aware datetime, or ISO 8601 with an offset
    lines: list[OrderLine]
    coupon_codes: list[str]
    referral_code: str
    shipping_address: str | dict[str, Any]
    payment_fingerprint: str


class RefundLine(TypedDict):
    sku: str
    quantity: Decimal | str | int


class CartLine(TypedDict, total=False):
    sku: str  # required
    quantity: Decimal | str | int  # required
    unit_price: Money
    total: Money  # required


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{value!r} is a naive datetime; give a time zone (e.g. datetime.timezone.utc)")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None  # absent, or an HTTP date (the API sends seconds)


def _segment(value: str | uuid.UUID) -> str:
    """A path segment: an order id with "/" in it goes as %2F."""
    return quote(str(value), safe="")


class LoyaltyClient:
    """A client of one shop's API key.

    `base_url` is the portal's address (`https://loyalty.example.com`); `timeout` is in seconds;
    `retries` is how many times a retry-safe call is sent again after a 429, 5xx or connection failure,
    waiting `backoff` seconds doubling each time (and at least the 429's Retry-After). A wait longer than
    `max_retry_wait` is not made: the error is raised instead. Use it as a context manager, or `close()` it.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_retry_wait: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        root = base_url.rstrip("/").removesuffix("/api/v1")
        self.retries = retries
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self._http = httpx.Client(
            base_url=root + "/api/v1/",
            headers={"X-Api-Key": api_key, "Accept": "application/json", "User-Agent": "loyalty-client-python/0.1"},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __enter__(self) -> LoyaltyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- the transport ----------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        retry_safe: bool | None = None,
    ) -> tuple[int, Any]:
        """Send one API call (`path` under /api/v1/, e.g. "shop") and return (status, parsed JSON).

        Raises a LoyaltyError subclass for an error answer. `retry_safe` defaults to True for GET and for a
        call with an idempotency key, False otherwise: a retried POST without a key could act twice.
        """
        if retry_safe is None:
            retry_safe = method.upper() == "GET" or idempotency_key is not None
        headers = {}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body, default=_json_default, separators=(",", ":")).encode()
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        query = {name: value for name, value in (params or {}).items() if value is not None}
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, content=content, params=query, headers=headers)
            except httpx.TransportError as exc:  # refused, reset, timed out: no answer
                error: LoyaltyError = TransportError(f"{type(exc).__name__}: {exc}", code="transport_error")
                error.__cause__ = exc
            else:
                if response.status_code < 300:  # a redirect is not followed: it raises, as an error does
                    return response.status_code, (response.json() if response.content else None)
                error = error_for(
                    response.status_code,
                    _safe_json(response),
                    retry_after=_retry_after(response),
                    text=response.text,
                )
            wait = self._retry_wait(error, attempt) if retry_safe else None
            if wait is None:
                raise error
            time.sleep(wait)
            attempt += 1

    def _retry_wait(self, error: LoyaltyError, attempt: int) -> float | None:
        """Seconds to wait before sending again, or None to give up."""
        if attempt >= self.retries or not isinstance(error, RateLimited | ServerError | TransportError):
            return None
        wait = self.backoff * 2**attempt
        if isinstance(error, RateLimited) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait if wait <= self.max_retry_wait else None

    def _get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)[1]

    def _post(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> tuple[int, Any]:
        # Every POST of this client is safe to resend: see the module's docstring and each method.
        return self.request("POST", path, body=body, idempotency_key=idempotency_key, retry_safe=True)

    # --- shop and members -------------------------------------------------------------------------------

    def shop_get(self) -> dict[str, Any]:
        """The shop the key belongs to (id, name, kind, currency, time_zone): a cheap check of the key."""
        shop: dict[str, Any] = self._get("shop")
        return shop

    def members_upsert(
        self,
        *,
        external_id: str | None = None,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        birthday: dt.date | str | None = None,
        marketing_consent: bool | None = None,
        referral_code: str | None = None,
    ) -> Member:
        """Register or update a customer, found by `external_id` (your customer id), else `email`.
        Fields left None are unchanged. `created` tells whether the member was new (201). Idempotent by
        nature: it finds before it creates."""
        fields = {
            "external_id": external_id,
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "birthday": birthday,
            "marketing_consent": marketing_consent,
            "referral_code": referral_code,
        }
        status, data = self._post("members", {name: value for name, value in fields.items() if value is not None})
        return Member.from_json(data, created=status == 201)

    def member_get(self, member_id: str | uuid.UUID) -> Member:
        """A customer by the member's id; NotFound when they are not the shop's customer."""
        return Member.from_json(self._get(f"members/{_segment(member_id)}"))

    def member_find(self, *, external_id: str | None = None, email: str | None = None) -> Member:
        """A customer by your customer id or by email (exactly one); NotFound when there is none."""
        if (external_id is None) == (email is None):
            raise ValueError("give exactly one of external_id and email")
        return Member.from_json(self._get("members", external_id=external_id, email=email))

    def member_activity(self, member_id: str | uuid.UUID, *, page: int = 1, page_size: int = 50) -> Page[LedgerEntry]:
        """One page of the member's points history, newest first (page_size at most 200)."""
        data = self._get(f"members/{_segment(member_id)}/activity", page=page, page_size=page_size)
        return Page(
            count=data["count"],
            next=data["next"],
            previous=data["previous"],
            results=[LedgerEntry.from_json(row) for row in data["results"]],
        )

    def adjustments_create(
        self, member_id: str | uuid.UUID, *, points: int, reason: str, idempotency_key: str
    ) -> LedgerEntry:
        """Add (positive) or remove (negative) points by hand; needs the `adjust` scope. The same key again
        returns the first entry; with other points or reason it is a Conflict."""
        _, data = self._post(
            f"members/{_segment(member_id)}/adjustments",
            {"points": points, "reason": reason},
            idempotency_key=idempotency_key,
        )
        return LedgerEntry.from_json(data)

    # --- orders and events ------------------------------------------------------------------------------

    def orders_create(self, order: Order | Mapping[str, Any]) -> OrderResult:
        """Record an order; its `external_id` is the idempotency key (a replay answers the first result with
        `created` False; the same id with another body is a Conflict)."""
        status, data = self._post("orders", dict(order))
        return OrderResult.from_json(data, created=status == 201)

    def orders_batch(self, orders: Sequence[Order | Mapping[str, Any]]) -> BatchResult:
        """Record up to 500 orders in one call; each succeeds or fails alone (see BatchItem)."""
        _, data = self._post("orders/batch", {"orders": [dict(order) for order in orders]})
        return BatchResult.from_json(data)

    def orders_simulate(self, order: Order | Mapping[str, Any]) -> OrderResult:
        """What the order would earn; writes nothing (`external_id` optional)."""
        _, data = self._post("orders/simulate", dict(order))
        return OrderResult.from_json(data)

    def refunds_create(
        self,
        order_external_id: str,
        *,
        external_id: str,
        amount: Money | None = None,
        lines: Iterable[RefundLine] | None = None,
    ) -> Refund:
        """Refund part of an order by `amount` or by `lines` (not both); the refund's `external_id` is its
        idempotency key within the order."""
        if (amount is None) == (lines is None):
            raise ValueError("give either amount or lines")
        body: dict[str, Any] = {"external_id": external_id}
        if amount is not None:
            body["amount"] = amount
        else:
            body["lines"] = list(lines or ())
        status, data = self._post(f"orders/{_segment(order_external_id)}/refunds", body)
        return Refund.from_json(data, created=status == 201)

    def orders_cancel(self, order_external_id: str) -> OrderResult:
        """Take back all the order's points and mark it cancelled; cancelling again changes nothing."""
        _, data = self._post(f"orders/{_segment(order_external_id)}/cancel")
        return OrderResult.from_json(data)

    def events_create(
        self,
        *,
        event: str,
        external_id: str,
        member_id: str | uuid.UUID | None = None,
        member_external_id: str | None = None,
        occurred_at: dt.datetime | None = None,
    ) -> EventResult:
        """Report what a customer did (`review_written`, your own `store_visit`, ...); exactly one of
        `member_id` and `member_external_id`. The event's `external_id` is its idempotency key."""
        if (member_id is None) == (member_external_id is None):
            raise ValueError("give exactly one of member_id and member_external_id")
        body = {
            "event": event,
            "external_id": external_id,
            "member_id": member_id,
            "member_external_id": member_external_id,
            "occurred_at": occurred_at,
        }
        status, data = self._post("events", {name: value for name, value in body.items() if value is not None})
        return EventResult.from_json(data, created=status == 201)

    # --- rewards, coupons, store credit -----------------------------------------------------------------

    def rewards_list(self, *, member_id: str | uuid.UUID | None = None) -> list[Reward]:
        """The shop's catalogue; with `member_id`, each reward says whether that customer can redeem it."""
        return [Reward.from_json(row) for row in self._get("rewards", member_id=member_id)["results"]]

    def redemptions_create(
        self, member_id: str | uuid.UUID, *, reward_id: str, idempotency_key: str, points: int | None = None
    ) -> Redemption:
        """Redeem a reward for a customer (points for `pay_with_points`). The key (per member) makes it safe
        to send again: a replay returns the first redemption with `created` False."""
        body: dict[str, Any] = {"reward_id": str(reward_id)}
        if points is not None:
            body["points"] = points
        status, data = self._post(f"members/{_segment(member_id)}/redemptions", body, idempotency_key=idempotency_key)
        return Redemption.from_json(data, created=status == 201)

    def coupons_validate(
        self, code: str, *, total: Money, currency: str, lines: Iterable[CartLine] = ()
    ) -> CouponValidation:
        """The discount a coupon gives on this cart, or why none (`valid` False and a `reason`); writes
        nothing. Send the cart's `lines` for a free-product coupon."""
        _, data = self._post(
            f"coupons/{_segment(code)}/validate", {"total": total, "currency": currency, "lines": list(lines)}
        )
        return CouponValidation.from_json(data)

    def coupons_redeem(self, code: str, *, order_external_id: str) -> Coupon:
        """Consume a coupon with your order; the same order again answers the same, another order is a
        Conflict (`coupon_used`)."""
        _, data = self._post(f"coupons/{_segment(code)}/redeem", {"order_external_id": order_external_id})
        return Coupon.from_json(data)

    def store_credit_get(self, member_id: str | uuid.UUID) -> dict[str, Decimal]:
        """The member's store credit by currency, e.g. {"EUR": Decimal("12.50")}."""
        data = self._get(f"members/{_segment(member_id)}/store-credit")
        return {row["currency"]: Decimal(row["balance"]) for row in data["balances"]}

    def store_credit_spend(
        self,
        member_id: str | uuid.UUID,
        *,
        amount: Money,
        idempotency_key: str,
        currency: str | None = None,
        order_external_id: str | None = None,
    ) -> StoreCreditSpend:
        """Take store credit at checkout (never below zero: BusinessRuleError `insufficient_store_credit`).
        The key (per shop) makes it safe to send again; another amount under it is a Conflict."""
        body: dict[str, Any] = {"amount": amount}
        if currency is not None:
            body["currency"] = currency
        if order_external_id is not None:
            body["order_external_id"] = order_external_id
        status, data = self._post(
            f"members/{_segment(member_id)}/store-credit/spend", body, idempotency_key=idempotency_key
        )
        return StoreCreditSpend.from_json(data, created=status == 201)


def _safe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
