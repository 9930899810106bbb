"""Record many orders of a shop at once (POST /api/v1/orders/batch), set-based.

Each order gets what order_record would give it (same checks, rules, idempotency on the shop's order id,
unknown customers kept unmatched), but the database work is done for the whole batch in a constant number
of queries: the orders already recorded, the members, the rules, then one transaction that inserts the
orders, earns through rewards.services.ledger.points_earn_many_lots, links the orders to their lots and writes the
`order.points_awarded` webhooks. Only a member's first purchase (the `first_purchase` event) and an account
that owes a debt take queries of their own. On PostgreSQL the orders are written with COPY (core.db.sql_copy_many),
already naming their lots (ids taken in advance from the orders' and lots' sequences in one query; the foreign
key is checked at commit) and with their points, and the ledger inserts the lots under those ids: the order rows
are not updated afterwards.

Locks are taken in the order order_record takes them (the order row first, then the member's account), so
a batch and single POSTs cannot deadlock: orders are inserted sorted by external_id, then the accounts are
locked in pk order. When an order of the batch is being recorded by another request at the same moment
(the (shop, external_id) constraint) or the ledger refuses an earning under its locks, the fast path is
rolled back and those orders go through order_record one by one, which answers each race as it should.
"""

import contextlib
import gc
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from core.db import sql_copy_many, sql_next_ids_for, sql_update_from_values, sql_value
from core.exceptions import ApplicationError
from integrations.models import Order, Shop
from integrations.selectors import (
    MEMBER_TIMES_NOT_READ,
    members_trusted_by_email,
    order_data_clean,
    order_evaluate,
    order_placed_at,
)
from integrations.services.orders import (
    ORDER_POINTS_MAX,
    _canonical,
    _fingerprint_of_canonical,
    _idempotency_conflict,
    _order_build,
    order_record,
    order_referral_join,
)
from members.models import Member
from rewards.models import EarningRule, EventRule, MemberEvent, PointLot
from rewards.selectors import program_cached
from rewards.services.boosts import Earned, boosts_load, orders_earned
from rewards.services.earning import Breakdown
from rewards.services.events import event_first_purchase_record
from rewards.services.ledger import Actor, Earning, points_earn_many_lots
from rewards.services.program import pending_until
from webhooks.services import events_publish, order_points_awarded_data, shop_known_without_endpoints

ORDERS_BATCH_MAX = 500


@dataclass(frozen=True)
class OrderBatchResult:
    """One order's outcome: the order (created now, or recorded before and replayed) or why it was refused."""

    external_id: str
    order: Order | None = None
    created: bool = False
    error: ApplicationError | None = None

    @property
    def status(self) -> int:
        if self.error is not None:
            return self.error.status
        return 201 if self.created else 200


@dataclass(frozen=True)
class _Accepted:
    """An order that passed every check and is about to be inserted."""

    index: int
    data: dict
    fingerprint: str
    member: Member | None
    breakdown: Breakdown
    lines: list  # as stored: _canonical(data["lines"])


@contextlib.contextmanager
def gc_paused():
    """Python's cyclic garbage collector off for the block (then on again, if it was on). A batch keeps
    hundreds of thousands of new objects alive until it is done (every order's data, breakdown and rows), so
    the collector, run every 700 allocations, went through them again and again: a third of a batch's CPU,
    for no garbage (what a batch drops, reference counting frees at once). Collecting is only put off: the
    next allocation after the block may collect. Threads: whoever turned it off turns it on again, so it never
    stays off, and another thread's block at the same time only shortens this one's pause."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def orders_record_batch(*, shop: Shop, orders: Sequence[dict]) -> list[OrderBatchResult]:
    """Record each order (validated data, as order_record takes it) as order_record would, set-based; returns
    one result per order, in the same order. A refused order fails alone and the others are recorded. More
    than ORDERS_BATCH_MAX orders, or one external_id twice, is a 400 and nothing is written."""
    with gc_paused():
        return _orders_record_batch(shop=shop, orders=orders)


def _orders_record_batch(*, shop: Shop, orders: Sequence[dict]) -> list[OrderBatchResult]:
    if len(orders) > ORDERS_BATCH_MAX:
        raise ApplicationError(
            f"A batch holds at most {ORDERS_BATCH_MAX} orders.",
            code="validation_error",
            status=400,
            extra={"orders": [f"At most {ORDERS_BATCH_MAX} orders."]},
        )
    cleaned = [order_data_clean(data) for data in orders]
    repeated = sorted(eid for eid, n in Counter(d["external_id"] for d in cleaned if d["external_id"]).items() if n > 1)
    if repeated:
        raise duplicate_external_ids(repeated)

    results: list[OrderBatchResult | None] = [None] * len(cleaned)
    # Each order's canonical form once: its fingerprint (as _fingerprint makes it) and its stored lines.
    canonical = [_canonical(data) for data in cleaned]
    fingerprints = [_fingerprint_of_canonical(c) for c in canonical]
    recorded = {
        order.external_id: order
        for order in Order.objects.select_related("lot", "member").filter(
            shop=shop, external_id__any_of=[d["external_id"] for d in cleaned if d["external_id"]]
        )
    }
    todo = []
    for i, data in enumerate(cleaned):
        external_id = data["external_id"]
        if not external_id:
            error = ApplicationError("An order needs its external_id.", code="validation_error", status=400)
            results[i] = OrderBatchResult(external_id="", error=error)
        elif (order := recorded.get(external_id)) is not None:
            if order.fingerprint == fingerprints[i]:
                results[i] = OrderBatchResult(external_id=external_id, order=order)
            else:
                results[i] = OrderBatchResult(
                    external_id=external_id, error=_idempotency_conflict("order", external_id)
                )
        else:
            todo.append(i)

    members = _members_find(shop=shop, orders=[cleaned[i] for i in todo])
    rules_for = _rules_by_order(
        list(
            EarningRule.objects.filter(is_active=True, currency__in={cleaned[i]["currency"] for i in todo}).order_by(
                "-priority", "id"
            )
            if todo
            else []
        ),
        shop=shop,
    )
    boosts = boosts_load()
    accepted = []
    for i, member in zip(todo, members, strict=True):
        data = cleaned[i]
        try:
            if isinstance(member, ApplicationError):
                raise member
            breakdown = order_evaluate(shop=shop, data=data, member=member, rules=rules_for(data), boosts=boosts)
            _check_earnable(breakdown, member)
        except ApplicationError as error:
            results[i] = OrderBatchResult(external_id=data["external_id"], error=error)
            continue
        accepted.append(_Accepted(i, data, fingerprints[i], member, breakdown, canonical[i]["lines"]))

    for a in accepted:
        if a.data.get("referral_code") and a.member is not None:  # before the batch's transaction, as order_record
            order_referral_join(member=a.member, code=a.data["referral_code"])
    if accepted:
        try:
            with transaction.atomic():
                for i, order in _orders_insert(shop=shop, accepted=accepted):
                    results[i] = OrderBatchResult(external_id=order.external_id, order=order, created=True)
        except (IntegrityError, ApplicationError):
            # Some order is being recorded by another request right now, or the ledger refused an earning
            # under its locks (a member closed meanwhile): order_record sorts each of them out.
            for a in accepted:
                results[a.index] = _order_record_one(shop=shop, data=orders[a.index])
    return results


def duplicate_external_ids(external_ids: list[str]) -> ApplicationError:
    return ApplicationError(
        "Each order of a batch needs its own external_id.",
        code="duplicate_external_id",
        status=400,
        extra={"external_ids": external_ids},
    )


def _order_record_one(*, shop: Shop, data: dict) -> OrderBatchResult:
    try:
        order, created = order_record(shop=shop, data=data)
    except ApplicationError as error:
        return OrderBatchResult(external_id=(data.get("external_id") or "").strip(), error=error)
    return OrderBatchResult(external_id=order.external_id, order=order, created=created)


def _members_find(*, shop: Shop, orders: list[dict]) -> list[Member | ApplicationError | None]:
    """What integrations.selectors.order_member_find answers for each order, in at most three queries: by
    member_id (unknown: a 422), else by the shop's customer id, else by e-mail (members it trusts), else None
    (unmatched)."""
    by_id, by_customer, by_email = set(), set(), set()
    for data in orders:
        if data["member_id"] is not None:
            by_id.add(data["member_id"])
            continue
        if data["member_external_id"]:
            by_customer.add(data["member_external_id"])
        if data["email"]:
            by_email.add(data["email"])  # looked up even when the customer id finds them: one query either way
    members = Member.objects.select_related("points_account").defer(*MEMBER_TIMES_NOT_READ)
    found_by_id = {m.public_id: m for m in members.filter(public_id__any_of=by_id)} if by_id else {}
    found_by_customer = (
        {  # the members themselves, not their links: one model instance less per order
            member.customer_id: member
            for member in members.filter(shop_links__shop=shop, shop_links__external_id__any_of=by_customer).annotate(
                customer_id=F("shop_links__external_id")
            )
        }
        if by_customer
        else {}
    )
    found_by_email: dict[str, Member] = {}
    if by_email:
        # Only the members an e-mail may find (as order_member_find); e-mails are stored and cleaned in lower
        # case, and of two logins differing in case, its iexact finds the lowest pk first too.
        trusted = (
            members_trusted_by_email()
            .select_related("points_account")
            .defer(*MEMBER_TIMES_NOT_READ)
            .annotate(login_email=Lower("user__email"))
        )
        for member in trusted.filter(login_email__any_of=by_email).order_by("pk"):
            found_by_email.setdefault(member.login_email, member)
    answers: list[Member | ApplicationError | None] = []
    for data in orders:
        if data["member_id"] is not None:
            member = found_by_id.get(data["member_id"])
            answers.append(
                member
                or ApplicationError(
                    "No member has this member_id.", code="unknown_member", extra={"member_id": str(data["member_id"])}
                )
            )
            continue
        member = found_by_customer.get(data["member_external_id"]) if data["member_external_id"] else None
        if member is None and data["email"]:
            member = found_by_email.get(data["email"])
        answers.append(member)
    return answers


def _rules_by_order(rules: list[EarningRule], *, shop: Shop) -> Callable[[dict], list[EarningRule]]:
    """Of the batch's active rules, those rewards.selectors.earning_rules_active would load for an order: its
    currency, in their window at the placing time, for this shop; highest priority first. The shop and currency
    are sorted out once for the batch; only rules with a window are looked at per order."""
    shop_id = str(shop.public_id).strip().casefold()
    by_currency: dict[str, list[EarningRule]] = {}
    for rule in rules:
        if not rule.shop_ids or shop_id in {str(s).strip().casefold() for s in rule.shop_ids}:
            by_currency.setdefault(rule.currency, []).append(rule)
    if not any(rule.starts_at or rule.ends_at for rule in rules):
        return lambda data: by_currency.get(data["currency"], [])

    def rules_for(data: dict) -> list[EarningRule]:
        at = order_placed_at(data["placed_at"])
        return [
            rule
            for rule in by_currency.get(data["currency"], [])
            if (rule.starts_at is None or rule.starts_at <= at) and (rule.ends_at is None or rule.ends_at > at)
        ]

    return rules_for


def _check_earnable(breakdown: Breakdown, member: Member | None) -> None:
    """The refusals order_record meets after evaluating: too many points, or a closed member's points."""
    if breakdown.points > ORDER_POINTS_MAX:
        raise ApplicationError(
            f"This order would earn {breakdown.points} points, more than the {ORDER_POINTS_MAX} one order may earn.",
            code="order_points_too_large",
            extra={"points": breakdown.points, "max": ORDER_POINTS_MAX},
        )
    if member is not None and breakdown.points > 0 and member.status == Member.Status.CLOSED:
        # The ledger refuses it too, under the account's lock; refusing here keeps the rest of the batch fast.
        raise ApplicationError(f"The member's account is {member.status}.", code="member_not_active")


def _after_earning(*, shop: Shop, earning: list[tuple[Order, _Accepted]]) -> None:
    """What order_record does once an order has earned, for the whole batch: the webhook
    `order.points_awarded` per order (the balance in it is the member's once all the batch's orders earned),
    and the member's `first_purchase` event for the first of their orders in the request, unless they had
    one before (one query finds those; each first purchase is then recorded by rewards.services.events)."""
    if not shop_known_without_endpoints(shop.pk):  # most shops have none: no data to build for nobody
        events_publish(
            (
                shop.pk,
                "order.points_awarded",
                order_points_awarded_data(order=order, member=a.member, account=a.member.points_account),
            )
            for order, a in earning
        )
    members = {a.member.pk: a.member for _, a in earning}
    purchased_before = set(
        MemberEvent.objects.filter(member__any_of=members, event=EventRule.Event.FIRST_PURCHASE).values_list(
            "member_id", flat=True
        )
    )
    for _, a in sorted(earning, key=lambda pair: pair[1].index):
        if a.member.pk in purchased_before:
            continue
        purchased_before.add(a.member.pk)
        event_first_purchase_record(member=a.member, shop=shop, occurred_at=order_placed_at(a.data["placed_at"]))


def _orders_insert(*, shop: Shop, accepted: list[_Accepted]) -> list[tuple[int, Order]]:
    """Inside the caller's transaction: insert the orders, earn their points, link each to its lot. Returns
    (index in the batch, order) pairs."""
    # Sorted by external_id: two batches sharing orders wait on each other in the same order (no deadlock).
    accepted = sorted(accepted, key=lambda a: a.data["external_id"])
    orders = []
    for a in accepted:
        data = a.data
        order = _order_build(
            shop=shop, data=data, member=a.member, lines=a.lines, breakdown=a.breakdown, fingerprint=a.fingerprint
        )
        orders.append(order)
    earning = [(order, a) for order, a in zip(orders, accepted, strict=True) if a.member and a.breakdown.points > 0]
    if connection.vendor == "postgresql":
        # Each earning order names its lot from the start (module docstring), and the orders take their own ids
        # from the same query: COPY, which writes them, returns none.
        lot_ids, order_ids = sql_next_ids_for((PointLot, len(earning)), (Order, len(orders)))
        for order, pk in zip(orders, order_ids, strict=True):
            order.pk = pk
        for (order, a), lot_id in zip(earning, lot_ids, strict=True):
            order.lot_id = lot_id
            order.points = a.breakdown.points
    sql_copy_many(orders)

    if earning:
        _orders_earn(shop=shop, earning=earning)
    # Every order of a known member, also one without points: it may count for tiers (a paid membership's
    # SKU, spend), as in order_record. Before the webhooks: a campaign's budget may cap an order's points.
    orders_earned(
        [
            Earned(member=a.member, order=order, breakdown=order.breakdown)
            for order, a in zip(orders, accepted, strict=True)
            if a.member
        ]
    )
    if earning:
        _after_earning(shop=shop, earning=earning)
    return [(a.index, order) for order, a in zip(orders, accepted, strict=True)]


def _orders_earn(*, shop: Shop, earning: list[tuple[Order, _Accepted]]) -> None:
    """Earn the orders' points (set-based) and link each order to its lot: on PostgreSQL the new lots take the
    ids the orders were inserted with; an order whose lot has another id (SQLite, or a replayed key's first
    lot) is updated."""
    program = program_cached()
    shop_uid = str(shop.public_id)
    actor = Actor.shop(shop_uid)
    lots = points_earn_many_lots(
        items=[
            Earning(
                account=a.member.points_account,
                points=a.breakdown.points,
                source=PointLot.Source.ORDER,
                actor=actor,
                idempotency_key=f"order:{shop_uid}:{order.external_id}",
                source_ref=order.external_id,
                reason=f"Order {order.external_id}",
                available_at=(
                    pending_until(program=program, placed_at=order_placed_at(a.data["placed_at"]))
                    if program.pending_days
                    else None
                ),
                lot_id=order.lot_id,
            )
            for order, a in earning
        ]
    )
    now = timezone.now()
    stale = []  # orders not inserted with their lot's id and points
    for (order, a), lot in zip(earning, lots, strict=True):
        if order.lot_id != lot.pk or order.points != a.breakdown.points:
            stale.append(order)
            order.points = a.breakdown.points
            order.updated_at = now
        order.lot = lot
    sql_update_from_values(
        Order._meta.db_table,
        columns=["lot_id", "points"],
        types=["bigint", "bigint", "integer"],
        rows=[(order.pk, order.lot.pk, order.points) for order in stale],
        set_sql="lot_id = v.lot_id, points = v.points, updated_at = %s",
        params=[sql_value(now)],
    )
