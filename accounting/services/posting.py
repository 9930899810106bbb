"""Posting: the journal derived from the ledger, after the fact, set-based (docs/accounting.md, "Postings").

The order path and the ledger services know nothing of the accounting. journal_post_pending() reads the point
entries and store-credit entries written since its cursor, in id order, a chunk per transaction: per chunk a
fixed number of queries reads the entries, their movements, the lots' valuations, the new lots and their
orders, and two bulk inserts write the journal. The cursor row is locked for the chunk, so two runs at once
take turns; the unique (source kind, source id, currency) of journal entries backs that up.

Entries are read only once they are `lag` old: a ledger transaction that took its id earlier may commit
later, and reading past it would skip it forever. The ledger's transactions are milliseconds long; the default
lag is a minute, and accounting_audit() reports any entry behind the cursor that should have posted and did not.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounting.ifrs15 import CENT, allocate, points_ssp, revenue_cumulative, share
from accounting.models import (
    Account,
    AccountingPolicy,
    CurrencyFaceValue,
    JournalLine,
    Kind,
    LotValuation,
    PostingCursor,
    SourceKind,
)
from accounting.services.common import Periods, Posting, accounts_by_role, local_date, policy_get, postings_write
from core.db import rows_older_than
from integrations.models import Order
from rewards.models import PointEntry, PointLot, PointMovement, Redemption, StoreCreditEntry
from rewards.selectors import program_get

Role = Account.Role
Basis = LotValuation.Basis
EntryKind = PointEntry.Kind

CHUNK_SIZE = 2000
POSTING_LAG = dt.timedelta(seconds=getattr(settings, "ACCOUNTING_POSTING_LAG_SECONDS", 60))

# Where a lot's value goes when points leave it other than by redemption, per basis: (debit, credit).
_FORFEIT = {
    Basis.DEFERRAL: (Role.CONTRACT_LIABILITY, Role.BREAKAGE_REVENUE),
    Basis.PROVISION: (Role.PROVISION, Role.LOYALTY_EXPENSE),
}
_REVERSE = {
    Basis.DEFERRAL: (Role.CONTRACT_LIABILITY, Role.REVENUE),
    Basis.PROVISION: (Role.PROVISION, Role.LOYALTY_EXPENSE),
}
_ISSUE = {
    Basis.DEFERRAL: (Role.REVENUE, Role.CONTRACT_LIABILITY),
    Basis.PROVISION: (Role.LOYALTY_EXPENSE, Role.PROVISION),
}
LIABILITY_OF = {Basis.DEFERRAL: Role.CONTRACT_LIABILITY, Basis.PROVISION: Role.PROVISION}

_KIND_OF = {
    EntryKind.EARN: Kind.ISSUE,
    EntryKind.REDEEM: Kind.REDEEM,
    EntryKind.EXPIRE: Kind.EXPIRE,
    EntryKind.REVERSE: Kind.REVERSE,
    EntryKind.SETTLE: Kind.REVERSE,
    EntryKind.TRANSFER: Kind.TRANSFER,
}


@dataclass(frozen=True)
class PostResult:
    point_entries: int
    store_credit_entries: int
    journal_entries: int


def journal_post_pending(
    *, lag: dt.timedelta = POSTING_LAG, chunk_size: int = CHUNK_SIZE, progress=None, limit: int | None = None
) -> PostResult:
    """Post every ledger and store-credit entry older than `lag` not posted yet, in id order, one chunk per
    transaction; idempotent and safe to run twice at once. `progress(source, rows_read, journal_entries)`."""
    cutoff = timezone.now() - lag
    read = {SourceKind.POINT_ENTRY: 0, SourceKind.STORE_CREDIT_ENTRY: 0}
    written = 0
    for source, step in ((SourceKind.POINT_ENTRY, _point_chunk), (SourceKind.STORE_CREDIT_ENTRY, _credit_chunk)):
        PostingCursor.objects.get_or_create(source_kind=source)
        while limit is None or read[source] < limit:
            with transaction.atomic():
                cursor = PostingCursor.objects.select_for_update().get(source_kind=source)
                rows, journal = step(cursor, cutoff=cutoff, chunk_size=chunk_size)
            if not rows:
                break
            read[source] += rows
            written += journal
            if progress:
                progress(source, read[source], written)
    return PostResult(read[SourceKind.POINT_ENTRY], read[SourceKind.STORE_CREDIT_ENTRY], written)


# --- point entries ------------------------------------------------------------------------------------


class _Chunk:
    """One chunk's context: the policy and its face values per currency, the program's zone, and the lots'
    valuations (old and new)."""

    def __init__(self, policy: AccountingPolicy, tz: ZoneInfo):
        self.policy = policy
        self.tz = tz
        self.rate = policy.expected_redemption_rate
        self.faces = {f.currency: f for f in CurrencyFaceValue.objects.filter(policy=policy)}
        self.valuations: dict[int, LotValuation] = {}
        self.new: set[int] = set()
        self.changed: set[int] = set()
        # Redemptions given back: refund entry -> redemption entry, the redemptions' journal lines as
        # (currency, role, member, shop, net debit) read from the journal, and this chunk's redemptions' postings.
        self.refund_of: dict[int, int] = {}
        self.redeemed_lines: dict[int, list[tuple]] = defaultdict(list)
        self.redemptions: dict[int, list[Posting]] = {}

    def face(self, currency: str) -> Decimal:
        """What a point is worth in `currency`: its own face value, else the policy's."""
        other = self.faces.get(currency)
        return other.point_face_value if other else self.policy.point_face_value

    def ssp_per_point(self, currency: str) -> Decimal | None:
        """The stand-alone selling price of a point in `currency` when staff set one; None: face x rate."""
        other = self.faces.get(currency)
        return other.points_ssp_per_point if other else self.policy.points_ssp_per_point

    def unit_cost(self, currency: str) -> Decimal:
        return self.face(currency) * self.policy.reward_cost_ratio

    def lines_of_redemption(self, entry_id: int) -> list[tuple] | None:
        """The journal lines of the redemption the entry `entry_id` gives back, or None (not a refund, or the
        redemption was never posted: older than the accounting)."""
        redemption = self.refund_of.get(entry_id)
        if redemption is None:
            return None
        if redemption in self.redemptions:
            return [
                (p.currency, role, member_id, shop_id, net)
                for p in self.redemptions[redemption]
                for (role, member_id, shop_id), net in p.amounts.items()
                if net
            ]
        return self.redeemed_lines.get(redemption)


def _point_chunk(cursor: PostingCursor, *, cutoff: dt.datetime, chunk_size: int) -> tuple[int, int]:
    # By id alone (the primary key's index), then cut at the first entry younger than the cutoff: a filter on
    # created_at in the query let PostgreSQL scan the created_at index instead, slower with every chunk.
    entries = rows_older_than(
        PointEntry.objects.filter(id__gt=cursor.last_id)
        .order_by("id")
        .values("id", "kind", "created_at", "idempotency_key", "details", "reason", "account__member_id")[:chunk_size],
        cutoff,
    )
    if not entries:
        return 0, 0
    moves: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for entry_id, lot_id, available, pending in PointMovement.objects.filter(
        entry_id__in=[e["id"] for e in entries]
    ).values_list("entry_id", "lot_id", "available_change", "pending_change"):
        if available + pending:
            moves[entry_id].append((lot_id, available + pending))
    # Transfers: the receiving entry (key + ":in") is written with the giving one; read it with the chunk.
    incoming_keys = [f"{e['idempotency_key']}:in" for e in entries if e["kind"] == EntryKind.TRANSFER]
    incoming = dict(
        PointMovement.objects.filter(entry__idempotency_key__in=incoming_keys).values_list(
            "entry__idempotency_key", "lot_id"
        )
    )
    lot_ids = {lot_id for ms in moves.values() for lot_id, _ in ms} | set(incoming.values())
    chunk = _Chunk(policy_get(), ZoneInfo(program_get().time_zone))
    chunk.valuations = {v.lot_id: v for v in LotValuation.objects.filter(lot_id__in=lot_ids)}
    unknown = lot_ids - chunk.valuations.keys()
    lots = {
        lot["id"]: lot
        for lot in PointLot.objects.filter(id__in=unknown).values(
            "id", "points", "remaining", "source", "source_ref", "earned_at", "value_currency", "account__member_id"
        )
    }
    orders = {
        o["lot_id"]: o
        for o in Order.objects.filter(lot_id__in=[i for i, lot in lots.items() if lot["source"] == "order"]).values(
            "lot_id", "shop_id", "total", "tax", "shipping", "currency"
        )
    }
    _redemptions_refunded(entries, chunk)
    postings = []
    for entry in entries:
        posting = _post_entry(entry, moves.get(entry["id"], []), chunk, lots=lots, orders=orders, incoming=incoming)
        if posting is not None:
            postings.extend(posting)
            if entry["kind"] == EntryKind.REDEEM:
                chunk.redemptions[entry["id"]] = posting
    written = postings_write(postings, periods=Periods(), accounts=accounts_by_role())
    valuations_insert([chunk.valuations[i] for i in chunk.new])
    valuations_update([chunk.valuations[i] for i in chunk.changed - chunk.new])
    cursor.last_id = entries[-1]["id"]
    cursor.save(update_fields=["last_id", "updated_at"])
    return len(entries), written


def _redemptions_refunded(entries: list[dict], chunk: _Chunk) -> None:
    """Find the chunk's entries that give a redemption's points back (rewards.services.coupons'
    redemption_points_refund) and the journal lines of those redemptions posted in earlier chunks: two queries,
    none when the chunk has no such entry."""
    candidates = [
        e["id"]
        for e in entries
        if e["kind"] == EntryKind.EARN and (e["idempotency_key"] or "").startswith("redemption-refund:")
    ]
    if not candidates:
        return
    chunk.refund_of = dict(
        Redemption.objects.filter(refund_entry_id__in=candidates, points_entry__isnull=False).values_list(
            "refund_entry_id", "points_entry_id"
        )
    )
    for source_id, currency, role, member_id, shop_id, debit, credit in JournalLine.objects.filter(
        entry__source_kind=SourceKind.POINT_ENTRY, entry__source_id__in=set(chunk.refund_of.values())
    ).values_list("entry__source_id", "entry__currency", "account__role", "member_id", "shop_id", "debit", "credit"):
        chunk.redeemed_lines[source_id].append((currency, role, member_id, shop_id, debit - credit))


_NEW_FIELDS = {
    "lot_id": "bigint",
    "basis": "text",
    "points": "integer",
    "remaining": "integer",
    "redeemed": "integer",
    "value": "numeric",
    "unit_cost": "numeric",
    "recognised": "numeric",
    "released": "numeric",
    "currency": "text",
    "member_id": "bigint",
    "shop_id": "bigint",
    "issued_on": "date",
}


def _typed(value, sql_type: str):
    """psycopg dumps a list as one array type: numeric columns get Decimals only (a default 0 is an int)."""
    return Decimal(value) if sql_type == "numeric" and value is not None else value


def valuations_insert(valuations: list[LotValuation]) -> None:
    """Insert new valuations: on PostgreSQL one statement from arrays (no model instance per row to prepare)."""
    if not valuations:
        return
    if connection.vendor != "postgresql":
        LotValuation.objects.bulk_create(valuations, batch_size=2000)
        return
    arrays = ", ".join(f"%s::{t}[]" for t in _NEW_FIELDS.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LotValuation._meta.db_table} ({', '.join(_NEW_FIELDS)}) SELECT * FROM unnest({arrays})",
            [[_typed(getattr(v, name), t) for v in valuations] for name, t in _NEW_FIELDS.items()],
        )


VALUATION_FIELDS = ("remaining", "redeemed", "value", "recognised", "released")


def valuations_update(valuations: list[LotValuation]) -> None:
    """Write the valuations' changing fields: on PostgreSQL one UPDATE ... FROM unnest(arrays) (bulk_update's
    CASE per column, and thousands of placeholders, cost more); elsewhere bulk_update."""
    if not valuations:
        return
    if connection.vendor != "postgresql":
        LotValuation.objects.bulk_update(valuations, list(VALUATION_FIELDS), batch_size=500)
        return
    types = {
        "remaining": "integer",
        "redeemed": "integer",
        "value": "numeric",
        "recognised": "numeric",
        "released": "numeric",
    }
    arrays = ", ".join(["%s::bigint[]", *(f"%s::{types[name]}[]" for name in VALUATION_FIELDS)])
    sets = ", ".join(f"{name} = v.{name}" for name in VALUATION_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {LotValuation._meta.db_table} AS t SET {sets} "
            f"FROM unnest({arrays}) AS v (id, {', '.join(VALUATION_FIELDS)}) WHERE t.lot_id = v.id",
            [
                [v.lot_id for v in valuations],
                *([_typed(getattr(v, name), types[name]) for v in valuations] for name in VALUATION_FIELDS),
            ],
        )


def _valuation_new(lot: dict, chunk: _Chunk, *, order: dict | None, issued_on: dt.date) -> LotValuation:
    """A new lot's valuation under the policy: IFRS 15 allocation for a sale, a provision or nothing."""
    policy, rate = chunk.policy, chunk.rate
    points = lot["points"]
    currency = order["currency"] if order else lot["value_currency"]
    v = LotValuation(
        lot_id=lot["id"],
        points=points,
        remaining=points,
        value=Decimal("0.00"),
        currency=currency,
        member_id=lot["account__member_id"],
        shop_id=order["shop_id"] if order else None,
        issued_on=issued_on,
    )
    purchase = lot["source"] == PointLot.Source.ORDER and order is not None
    basis = policy.purchase_policy if purchase else policy.no_sale_policy
    if basis == AccountingPolicy.Purchase.DEFERRAL:
        v.basis = Basis.DEFERRAL
        price = order["total"] - order["tax"] - (Decimal(0) if policy.include_shipping else order["shipping"])
        per_point = chunk.ssp_per_point(currency)
        ssp = (
            Decimal(points) * per_point
            if per_point is not None
            else points_ssp(points=points, face_value=chunk.face(currency), expected_rate=rate)
        )
        v.value = allocate(price=price, goods_ssp=price, points_ssp=ssp)[1]
    elif basis in (AccountingPolicy.Purchase.COST_ACCRUAL, AccountingPolicy.NoSale.PROVISION):
        v.basis = Basis.PROVISION
        v.unit_cost = chunk.unit_cost(currency)
        v.value = (v.unit_cost * points * rate).quantize(CENT)
    else:
        v.basis = Basis.EXPENSE
        v.unit_cost = chunk.unit_cost(currency)
    return v


def _post_entry(entry: dict, moves, chunk: _Chunk, *, lots, orders, incoming) -> list[Posting] | None:
    kind = entry["kind"]
    if kind == EntryKind.RELEASE or not moves:
        return None
    day = local_date(entry["created_at"], chunk.tz)
    if kind == EntryKind.EARN and (lines := chunk.lines_of_redemption(entry["id"])):
        refunded = _redemption_refund(entry, moves, chunk, lines, lots=lots, day=day)
        if refunded is not None:
            return [refunded]
    member_id = entry["account__member_id"]
    by_currency: dict[str, Posting] = {}

    def posting_in(currency: str, shop_id=None) -> Posting:
        if currency not in by_currency:
            jkind = _KIND_OF.get(kind) or (Kind.ISSUE if moves[0][1] > 0 else Kind.EXPIRE)  # adjustments
            by_currency[currency] = Posting(
                date=day,
                kind=jkind,
                description=f"{entry['kind'].capitalize()}: {entry['reason'] or entry['idempotency_key']}",
                source_kind=SourceKind.POINT_ENTRY,
                source_id=entry["id"],
                currency=currency,
                member_id=member_id,
                shop_id=shop_id,
            )
        return by_currency[currency]

    transfer_out: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )  # currency -> basis -> amount
    for lot_id, change in moves:
        v = chunk.valuations.get(lot_id)
        if change > 0:
            if v is not None:  # a transfer's receiving lot, valued with its giving entry
                continue
            lot = lots[lot_id]
            order = orders.get(lot_id)
            v = _valuation_new(lot, chunk, order=order, issued_on=day)
            chunk.valuations[lot_id] = v
            chunk.new.add(lot_id)
            if v.basis in _ISSUE:
                debit, credit = _ISSUE[v.basis]
                posting_in(v.currency, v.shop_id).move(
                    v.value, debit=debit, credit=credit, member_id=member_id, shop_id=v.shop_id
                )
            continue
        q = -change
        if v is None:  # a lot older than the accounting: it carries no value
            lot = lots[lot_id]
            v = LotValuation(
                lot_id=lot_id,
                basis=Basis.EXPENSE,
                points=lot["points"],
                remaining=q,
                value=Decimal("0.00"),
                currency=lot["value_currency"],
                member_id=lot["account__member_id"],
                issued_on=day,
                unit_cost=chunk.unit_cost(lot["value_currency"]),
            )
            chunk.valuations[lot_id] = v
            chunk.new.add(lot_id)
        chunk.changed.add(lot_id)
        q = min(q, v.remaining)
        before, outstanding = v.remaining, v.outstanding
        v.remaining -= q
        p = posting_in(v.currency, v.shop_id)
        if kind == EntryKind.REDEEM:
            _redeem(v, q, emptied=v.remaining == 0, posting=p, chunk=chunk, member_id=member_id)
        elif kind == EntryKind.TRANSFER:
            amount = share(outstanding, part=q, whole=before)
            v.released += amount
            if amount:
                transfer_out[v.currency][v.basis] += amount
        elif v.basis in _FORFEIT:
            amount = share(outstanding, part=q, whole=before)
            v.released += amount
            debit, credit = (_REVERSE if kind in (EntryKind.REVERSE, EntryKind.SETTLE) else _FORFEIT)[v.basis]
            p.move(amount, debit=debit, credit=credit, member_id=member_id, shop_id=v.shop_id)
    if kind == EntryKind.TRANSFER and moves[0][1] < 0:
        _transfer_in(entry, moves, chunk, transfer_out, lots=lots, incoming=incoming, posting_in=posting_in, day=day)
    return list(by_currency.values())


def _redeem(v: LotValuation, q: int, *, emptied: bool, posting: Posting, chunk: _Chunk, member_id) -> None:
    """Redeeming `q` points of a lot: IFRS 15 revenue in proportion to expected redemptions, or the provision
    used (any cost beyond it expensed), or the cost expensed."""
    v.redeemed += q
    shop_id = v.shop_id
    if v.basis == Basis.DEFERRAL:
        cap = v.value - v.released
        target = min(cap, revenue_cumulative(allocated=v.value, redeemed=v.redeemed, expected=v.points * chunk.rate))
        amount = (cap if emptied else max(target, v.recognised)) - v.recognised
        v.recognised += amount
        posting.move(amount, debit=Role.CONTRACT_LIABILITY, credit=Role.REVENUE, member_id=member_id, shop_id=shop_id)
        return
    cost = (v.unit_cost * q).quantize(CENT)
    if v.basis == Basis.PROVISION:
        outstanding = v.outstanding
        used = min(cost, outstanding)
        v.recognised += used
        posting.move(used, debit=Role.PROVISION, credit=Role.REWARDS_CLEARING, member_id=member_id, shop_id=shop_id)
        posting.move(
            cost - used, debit=Role.LOYALTY_EXPENSE, credit=Role.REWARDS_CLEARING, member_id=member_id, shop_id=shop_id
        )
        if emptied and outstanding - used:  # provided for points that were never redeemed after all
            v.released += outstanding - used
            posting.move(
                outstanding - used,
                debit=Role.PROVISION,
                credit=Role.LOYALTY_EXPENSE,
                member_id=member_id,
                shop_id=shop_id,
            )
        return
    posting.move(cost, debit=Role.LOYALTY_EXPENSE, credit=Role.REWARDS_CLEARING, member_id=member_id, shop_id=shop_id)


def _redemption_refund(entry, moves, chunk: _Chunk, lines: list[tuple], *, lots, day) -> Posting | None:
    """A redemption's points given back: its journal lines reversed exactly (revenue or the provision used
    reinstated, the reward's cost taken out of the clearing account), dated today, as a negative redemption;
    the new lot carries what the redemption took out of the liabilities, under the basis that carried most of
    it (value of the other basis is reclassified, as a transfer's). None when that cannot be exact (the
    redemption drew on lots in several currencies, or the points came back in more than one lot): the lot is
    then valued as points given without a sale."""
    currencies = {line[0] for line in lines}
    if len(moves) != 1 or moves[0][1] <= 0 or len(currencies) != 1 or moves[0][0] in chunk.valuations:
        return None
    lot_id, currency = moves[0][0], currencies.pop()
    lot = lots[lot_id]
    member_id = entry["account__member_id"]
    posting = Posting(
        date=day,
        kind=Kind.REDEEM,
        description=f"Redemption given back: {entry['reason'] or entry['idempotency_key']}",
        source_kind=SourceKind.POINT_ENTRY,
        source_id=entry["id"],
        currency=currency,
        member_id=member_id,
    )
    back: dict[str, Decimal] = defaultdict(Decimal)  # basis -> value the redemption took out of its liability
    for _currency, role, line_member, shop_id, net in lines:
        posting.amounts[(role, line_member, shop_id)] -= net
        for basis, liability in LIABILITY_OF.items():
            if role == liability:
                back[basis] += net
    amounts = {basis: amount for basis, amount in back.items() if amount}
    basis = max(amounts, key=amounts.get) if amounts else Basis.EXPENSE
    for other, amount in amounts.items():
        if other != basis:
            posting.move(amount, debit=LIABILITY_OF[other], credit=LIABILITY_OF[basis], member_id=member_id)
    chunk.valuations[lot_id] = LotValuation(
        lot_id=lot_id,
        basis=basis,
        points=lot["points"],
        remaining=lot["points"],
        value=sum(amounts.values(), Decimal("0.00")),
        unit_cost=chunk.unit_cost(currency),
        currency=currency,
        member_id=lot["account__member_id"],
        shop_id=None,
        issued_on=day,
    )
    chunk.new.add(lot_id)
    return posting


def _transfer_in(entry, moves, chunk: _Chunk, transfer_out, *, lots, incoming, posting_in, day) -> None:
    """The receiving lot of a transfer takes the value that left the giver's lots, under the basis that carried
    most of it; value moved under the other basis is reclassified, so each liability account stays the sum of
    its lots."""
    lot_id = incoming.get(f"{entry['idempotency_key']}:in")
    if lot_id is None or lot_id in chunk.valuations:
        return
    lot = lots[lot_id]
    first = chunk.valuations[moves[0][0]]
    amounts = transfer_out.get(first.currency, {})
    basis = max(amounts, key=amounts.get) if amounts else first.basis
    v = LotValuation(
        lot_id=lot_id,
        basis=basis,
        points=lot["points"],
        remaining=lot["points"],
        value=sum(amounts.values(), Decimal("0.00")),
        unit_cost=first.unit_cost,
        currency=first.currency,
        member_id=lot["account__member_id"],
        shop_id=None,
        issued_on=day,
    )
    chunk.valuations[lot_id] = v
    chunk.new.add(lot_id)
    for currency, per_basis in transfer_out.items():
        p = posting_in(currency)
        for from_basis, amount in per_basis.items():
            p.move(
                amount,
                debit=LIABILITY_OF[from_basis],
                credit=LIABILITY_OF[basis],
                member_id=v.member_id,
                debit_member=entry["account__member_id"],
            )


# --- store credit ------------------------------------------------------------------------------------

_CREDIT_IN = {
    StoreCreditEntry.Kind.REWARD: Role.REWARDS_CLEARING,
    StoreCreditEntry.Kind.REFUND: Role.REWARDS_CLEARING,
}


def _credit_chunk(cursor: PostingCursor, *, cutoff: dt.datetime, chunk_size: int) -> tuple[int, int]:
    """Store credit is a liability at face value: credit given is expensed (cashback, dividends, adjustments)
    or comes from a redemption or a refund (clearing); credit spent or removed leaves the liability."""
    rows = rows_older_than(
        StoreCreditEntry.objects.filter(id__gt=cursor.last_id)
        .order_by("id")
        .values("id", "amount", "kind", "reason", "created_at", "account__member_id", "account__currency")[:chunk_size],
        cutoff,
    )
    if not rows:
        return 0, 0
    tz = ZoneInfo(program_get().time_zone)
    postings = []
    for row in rows:
        amount, member_id = row["amount"], row["account__member_id"]
        p = Posting(
            date=local_date(row["created_at"], tz),
            kind=Kind.STORE_CREDIT,
            description=f"Store credit {row['kind']}: {row['reason']}",
            source_kind=SourceKind.STORE_CREDIT_ENTRY,
            source_id=row["id"],
            currency=row["account__currency"],
            member_id=member_id,
        )
        if amount > 0:
            other = _CREDIT_IN.get(row["kind"], Role.LOYALTY_EXPENSE)
            p.move(amount, debit=other, credit=Role.STORE_CREDIT_LIABILITY, member_id=member_id)
        else:
            other = Role.LOYALTY_EXPENSE if row["kind"] == StoreCreditEntry.Kind.ADJUST else Role.REWARDS_CLEARING
            p.move(-amount, debit=Role.STORE_CREDIT_LIABILITY, credit=other, member_id=member_id)
        postings.append(p)
    written = postings_write(postings, periods=Periods(), accounts=accounts_by_role())
    cursor.last_id = rows[-1]["id"]
    cursor.save(update_fields=["last_id", "updated_at"])
    return len(rows), written
