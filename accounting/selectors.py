"""Reads of the accounting: the liability roll-forward, the journal for export, the breakage estimate by
cohort, and accounting_audit() (which `manage.py audit_ledger` runs too)."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, Sum
from django.db.models.functions import Round

from accounting.models import (
    Account,
    AccountingPeriod,
    JournalLine,
    Kind,
    LotValuation,
    PeriodTotal,
    PostingCursor,
    SourceKind,
)
from rewards.models import PointEntry, PointLot, PointMovement

Role = Account.Role
ZERO = Decimal("0.00")
LIABILITY_ROLES = (Role.CONTRACT_LIABILITY, Role.PROVISION)
ROLLFORWARD_COLUMNS = (Kind.ISSUE, Kind.REDEEM, Kind.EXPIRE, Kind.REVERSE, Kind.TRANSFER, Kind.ESTIMATE)


def _cents(amount) -> Decimal:
    """A sum as money: SQLite adds decimals as floats (a few 1e-18 off), PostgreSQL exactly."""
    return Decimal(amount or 0).quantize(ZERO)


@dataclass
class RollforwardRow:
    period: dt.date
    currency: str
    opening: Decimal = ZERO
    movements: dict = field(default_factory=lambda: dict.fromkeys(ROLLFORWARD_COLUMNS, ZERO))
    closing: Decimal = ZERO

    @property
    def balances(self) -> bool:
        return self.opening + sum(self.movements.values()) == self.closing


@dataclass
class Rollforward:
    rows: list[RollforwardRow]
    lots_outstanding: dict[str, Decimal] | None  # currency -> the live lots' value now (None: not compared)
    journal_closing: dict[str, Decimal]  # currency -> the liability accounts' balance after the last period

    @property
    def differences(self) -> dict[str, Decimal]:
        """Journal minus lots, per currency; empty when they agree to the cent (or were not compared)."""
        if self.lots_outstanding is None:
            return {}
        currencies = set(self.lots_outstanding) | set(self.journal_closing)
        diffs = {c: self.journal_closing.get(c, ZERO) - self.lots_outstanding.get(c, ZERO) for c in currencies}
        return {c: d for c, d in diffs.items() if d}


def liability_rollforward(
    *, roles=LIABILITY_ROLES, start: dt.date | None = None, end: dt.date | None = None, reconcile: bool = True
) -> Rollforward:
    """Per period and currency: opening + issued - redeemed - expired - reversed +/- transfers and estimate
    changes = closing (liability kept positive: credits minus debits), from the period totals the posting keeps
    (a few rows per month, whatever the journal's size; accounting_audit() checks them against the lines), and
    the live lots' value now to reconcile the last closing with (`reconcile=False` skips that sum over the
    lots). `start`/`end` (first days of months) limit the rows shown, not the opening balance."""
    account_ids = list(Account.objects.filter(role__in=roles).values_list("pk", flat=True))
    starts = dict(AccountingPeriod.objects.values_list("pk", "start"))
    sums = (
        PeriodTotal.objects.filter(account_id__in=account_ids)
        .values("period_id", "currency", "kind")
        .annotate(debit=Sum("debit"), credit=Sum("credit"))
        .order_by()
    )
    per: dict[tuple[dt.date, str], dict[str, Decimal]] = defaultdict(dict)
    for row in sums:
        per[(starts[row["period_id"]], row["currency"])][row["kind"]] = row["credit"] - row["debit"]
    rows, running = [], defaultdict(lambda: ZERO)
    for period, currency in sorted(per):
        row = RollforwardRow(period=period, currency=currency, opening=running[currency])
        for kind, amount in per[(period, currency)].items():
            row.movements[kind] = row.movements.get(kind, ZERO) + amount
        running[currency] = row.closing = row.opening + sum(row.movements.values())
        if (start is None or period >= start) and (end is None or period <= end):
            rows.append(row)
    basis = [
        b
        for b, r in (
            (LotValuation.Basis.DEFERRAL, Role.CONTRACT_LIABILITY),
            (LotValuation.Basis.PROVISION, Role.PROVISION),
        )
        if r in roles
    ]
    lots = (
        LotValuation.objects.filter(remaining__gt=0, basis__in=basis)
        .values("currency")
        .annotate(total=Sum(F("value") - F("recognised") - F("released")))
        .order_by()
    )
    return Rollforward(
        rows=rows,
        lots_outstanding={r["currency"]: _cents(r["total"]) for r in lots} if reconcile else None,
        journal_closing=dict(running),
    )


def journal_lines_for(*, period: AccountingPeriod):
    """The period's journal lines, one per row, in entry order, with what an export needs (an iterator)."""
    return (
        JournalLine.objects.filter(period=period)
        .order_by("entry_id", "id")
        .values_list(
            "entry__date",
            "entry__public_id",
            "entry__kind",
            "entry__description",
            "entry__source_kind",
            "entry__source_id",
            "account__code",
            "account__name",
            "debit",
            "credit",
            "currency",
            "member__public_id",
            "shop__public_id",
        )
        .iterator(chunk_size=5000)
    )


# --- breakage ----------------------------------------------------------------------------------------

THIN_COHORTS = 3  # fewer closed cohorts than this: the estimate is shown with a warning
THIN_POINTS = 10_000  # or fewer points than this in them


@dataclass
class BreakageEstimate:
    cohorts: list[dict]  # month, points, redeemed, expired, live, closed
    redeemed: int
    expired: int
    rate: Decimal | None  # expected redemption rate the closed cohorts show
    thin: bool
    warning: str


def breakage_estimate() -> BreakageEstimate:
    """Redemption rate by issuance cohort (month of the earn): of the points that left closed cohorts (none
    left in them), the share redeemed rather than expired. Transfers and refunds count as neither."""
    lot_t, move_t, entry_t = PointLot._meta.db_table, PointMovement._meta.db_table, PointEntry._meta.db_table
    month = (
        "to_char(l.earned_at, 'YYYY-MM')" if connection.vendor == "postgresql" else "strftime('%%Y-%%m', l.earned_at)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {month} AS cohort, SUM(l.points), SUM(l.remaining)
            FROM {lot_t} l WHERE l.source NOT IN ('transfer') GROUP BY 1 ORDER BY 1
            """
        )
        lots = {c: (int(p), int(r)) for c, p, r in cursor.fetchall()}
        cursor.execute(
            f"""
            SELECT {month} AS cohort, e.kind, -SUM(m.available_change + m.pending_change)
            FROM {move_t} m JOIN {entry_t} e ON e.id = m.entry_id JOIN {lot_t} l ON l.id = m.lot_id
            WHERE e.kind IN ('redeem', 'expire') AND l.source NOT IN ('transfer')
            GROUP BY 1, 2
            """
        )
        used = defaultdict(dict)
        for cohort, kind, points in cursor.fetchall():
            used[cohort][kind] = int(points)
    cohorts, redeemed, expired = [], 0, 0
    for cohort, (points, remaining) in lots.items():
        r, x = used[cohort].get("redeem", 0), used[cohort].get("expire", 0)
        closed = remaining == 0
        cohorts.append(
            {"month": cohort, "points": points, "redeemed": r, "expired": x, "live": remaining, "closed": closed}
        )
        if closed:
            redeemed += r
            expired += x
    closed_count = sum(1 for c in cohorts if c["closed"])
    rate = (Decimal(redeemed) / Decimal(redeemed + expired)).quantize(Decimal("0.0001")) if redeemed + expired else None
    thin = closed_count < THIN_COHORTS or redeemed + expired < THIN_POINTS or rate is None
    warning = (
        f"History too thin: {closed_count} closed cohort(s), {redeemed + expired} points redeemed or expired in them "
        f"(at least {THIN_COHORTS} cohorts and {THIN_POINTS} points are needed). Set the rate by hand."
        if thin
        else ""
    )
    return BreakageEstimate(cohorts=cohorts, redeemed=redeemed, expired=expired, rate=rate, thin=thin, warning=warning)


# --- audit -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountingViolation:
    invariant: str
    detail: str


def accounting_audit(*, now: dt.datetime | None = None) -> list[AccountingViolation]:
    """The journal's invariants: every entry balances; each liability account equals its lots' outstanding
    value; an empty lot holds no value; the posting is not behind (nothing older than its lag left unposted)."""
    out = []
    unbalanced = (  # rounded: SQLite sums decimals as floats
        JournalLine.objects.values("entry_id", "currency")
        .annotate(d=Sum("debit"), c=Sum("credit"), diff=Round(Sum("debit") - Sum("credit"), 2))
        .exclude(diff=0)
        .order_by("entry_id")[:20]
    )
    for row in unbalanced:
        out.append(
            AccountingViolation(
                "entry_balances", f"journal entry {row['entry_id']}: Dr {row['d']} Cr {row['c']} {row['currency']}"
            )
        )
    for role, basis in (
        (Role.CONTRACT_LIABILITY, LotValuation.Basis.DEFERRAL),
        (Role.PROVISION, LotValuation.Basis.PROVISION),
    ):
        journal = {
            r["currency"]: r["c"] - r["d"]
            for r in JournalLine.objects.filter(account__role=role)
            .values("currency")
            .annotate(d=Sum("debit"), c=Sum("credit"))
            .order_by()
        }
        lots = {
            r["currency"]: r["t"]
            for r in LotValuation.objects.filter(basis=basis)
            .values("currency")
            .annotate(t=Sum(F("value") - F("recognised") - F("released")))
            .order_by()
        }
        for currency in set(journal) | set(lots):
            j, lv = _cents(journal.get(currency)), _cents(lots.get(currency))
            if j != lv:
                out.append(AccountingViolation("liability_equals_lots", f"{role} {currency}: journal {j}, lots {lv}"))
    empty_with_value = (
        LotValuation.objects.filter(remaining=0)
        .annotate(left=Round(F("value") - F("recognised") - F("released"), 2))
        .exclude(left=0)
    )
    if n := empty_with_value.count():
        out.append(AccountingViolation("empty_lot_no_value", f"{n} lot(s) with no points left still carry value"))
    cursor = PostingCursor.objects.filter(source_kind=SourceKind.POINT_ENTRY).first()
    last = cursor.last_id if cursor else 0
    if last:
        # What the posting has seen of each lot matches the ledger, for lots no unposted entry touched.
        touched_later = PointMovement.objects.filter(entry_id__gt=last).values("lot_id")
        mismatched = (
            LotValuation.objects.exclude(lot_id__in=touched_later).exclude(remaining=F("lot__remaining")).count()
        )
        if mismatched:
            out.append(
                AccountingViolation(
                    "lots_match_ledger", f"{mismatched} lot valuation(s) disagree with the ledger's remaining points"
                )
            )
    from django.utils import timezone

    from accounting.services.posting import POSTING_LAG

    behind = PointEntry.objects.filter(
        id__gt=last, created_at__lt=(now or timezone.now()) - POSTING_LAG * 10
    ).aggregate(n=Count("id"))["n"]
    if behind:
        out.append(
            AccountingViolation(
                "posting_current",
                f"{behind} point entries older than {POSTING_LAG * 10} are not posted yet (run journal_post)",
            )
        )
    return out


# --- points outstanding by age and by expiry month ---------------------------------------------------

AGE_BUCKETS = ((0, 3), (3, 6), (6, 12), (12, 24), (24, None))  # months since the lot was earned
EXPIRY_MONTHS = 12  # the next twelve months one by one, then "later" and "never"


@dataclass
class OutstandingCell:
    points: int = 0
    value: Decimal = ZERO  # the posted lots' outstanding value (value - recognised - released)
    unposted_points: int = 0  # points of lots the posting has not valued yet (no value counted for them)

    def add(self, points: int, value, unposted: int) -> None:
        self.points += points
        self.value = _cents(self.value + Decimal(value or 0))
        self.unposted_points += unposted


@dataclass
class OutstandingReport:
    today: dt.date
    currencies: list[str]
    age_labels: list[str]
    expiry_labels: list[str]
    by_age: dict[str, list[OutstandingCell]]  # currency -> one cell per age bucket
    by_expiry: dict[str, list[OutstandingCell]]  # currency -> one cell per expiry column
    totals: dict[str, OutstandingCell]  # currency -> all its live lots
    ledger_points: int  # the accounts' available + pending: what the lots must add up to

    @property
    def total_points(self) -> int:
        return sum(cell.points for cell in self.totals.values())

    @property
    def difference(self) -> int:
        """Lots minus ledger; 0 when they reconcile."""
        return self.total_points - self.ledger_points


def _months_back(day: dt.date, months: int) -> dt.date:
    """The same day `months` earlier (the month's last day when it has fewer days)."""
    import calendar

    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _midnight(day: dt.date, tz) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


def points_outstanding_report(*, now: dt.datetime | None = None) -> OutstandingReport:
    """The live lots' points (and, where posted, their outstanding value) per currency, by the lot's age (months
    since earned, in the program's time zone) and by the month it expires (the next 12, later, never), in one
    grouped query; the totals reconcile to the accounts' available + pending (a second, one-row query)."""
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from accounting.services.common import month_start, next_month
    from rewards.models import PointsAccount
    from rewards.selectors import program_get

    tz = ZoneInfo(program_get().time_zone)
    today = (now or timezone.now()).astimezone(tz).date()
    # Age: bucket i holds lots earned on or after cut[i] (and before cut[i-1]); the last bucket is the rest.
    age_cuts = [_midnight(_months_back(today, upper), tz) for _, upper in AGE_BUCKETS if upper is not None]
    age_case = " ".join(f"WHEN l.earned_at >= %s THEN {i}" for i in range(len(age_cuts)))
    # Expiry: column i holds lots expiring before the first day of month i+1 from now (earlier months too:
    # a lot past its date that the sweep has not expired yet counts in this month).
    first = month_start(today)
    bounds, month = [], first
    for _ in range(EXPIRY_MONTHS):
        month = next_month(month)
        bounds.append(_midnight(month, tz))
    expiry_case = " ".join(f"WHEN l.expires_at < %s THEN {i}" for i in range(len(bounds)))
    lot_t, val_t = PointLot._meta.db_table, LotValuation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT COALESCE(v.currency, l.value_currency) AS currency,
                   CASE {age_case} ELSE {len(age_cuts)} END AS age,
                   CASE WHEN l.expires_at IS NULL THEN {len(bounds) + 1} {expiry_case} ELSE {len(bounds)} END AS expiry,
                   SUM(l.remaining),
                   SUM(v.value - v.recognised - v.released),
                   SUM(CASE WHEN v.lot_id IS NULL THEN l.remaining ELSE 0 END)
            FROM {lot_t} l LEFT JOIN {val_t} v ON v.lot_id = l.id
            WHERE l.state IN ('pending', 'available')
            GROUP BY 1, 2, 3
            """,
            [*age_cuts, *bounds],
        )
        rows = cursor.fetchall()
    ledger_points = PointsAccount.objects.aggregate(t=Sum(F("available") + F("pending")))["t"] or 0
    currencies = sorted({r[0] for r in rows})
    n_age, n_exp = len(AGE_BUCKETS), len(bounds) + 2
    by_age = {c: [OutstandingCell() for _ in range(n_age)] for c in currencies}
    by_expiry = {c: [OutstandingCell() for _ in range(n_exp)] for c in currencies}
    totals = {c: OutstandingCell() for c in currencies}
    for currency, age, expiry, points, value, unposted in rows:
        points, unposted = int(points or 0), int(unposted or 0)
        for cell in (by_age[currency][int(age)], by_expiry[currency][int(expiry)], totals[currency]):
            cell.add(points, value, unposted)
    age_labels = [f"{lo}–{hi} months" if hi is not None else f"{lo}+ months" for lo, hi in AGE_BUCKETS]
    expiry_labels, month = [], first
    for _ in range(EXPIRY_MONTHS):
        expiry_labels.append(month.strftime("%Y-%m"))
        month = next_month(month)
    expiry_labels += ["later", "never"]
    return OutstandingReport(
        today=today,
        currencies=currencies,
        age_labels=age_labels,
        expiry_labels=expiry_labels,
        by_age=by_age,
        by_expiry=by_expiry,
        totals=totals,
        ledger_points=int(ledger_points),
    )


# --- coalition settlement ----------------------------------------------------------------------------


@dataclass
class SettlementRow:
    shop_id: int | None  # None: the program's own channel (bonuses without a shop, the member pages)
    name: str
    kind: str  # the shop's kind (web, store, app, partner); "program" for the program's own row
    currency: str
    issued_points: int = 0
    issued_value: Decimal = ZERO  # the lots' value at issue (LotValuation.value), posted lots only
    unposted_points: int = 0  # issued points the posting has not valued yet (no value counted)
    honoured_points: int = 0
    honoured_value: Decimal = ZERO  # the redemptions' money value (points x face value when none was recorded)
    public_id: str = ""  # the shop's public id ("" for the program's own row and the totals)

    @property
    def net(self) -> Decimal:
        """What this shop owes the program (negative: what the program owes the shop)."""
        return self.issued_value - self.honoured_value


@dataclass
class Settlement:
    start: dt.date
    end: dt.date  # exclusive
    rows: list[SettlementRow]  # per currency: the shops by name, then the program's own row

    def totals(self) -> dict[str, SettlementRow]:
        """Per currency, every row added up; its net is what the clearing house keeps for the period."""
        out: dict[str, SettlementRow] = {}
        for row in self.rows:
            t = out.setdefault(row.currency, SettlementRow(None, "Total", "total", row.currency))
            t.issued_points += row.issued_points
            t.issued_value += row.issued_value
            t.unposted_points += row.unposted_points
            t.honoured_points += row.honoured_points
            t.honoured_value += row.honoured_value
        return out


def coalition_settlement(*, start: dt.date, end: dt.date) -> Settlement:
    """Per shop and currency, for lots earned and redemptions made in [start, end) (the program's time zone):
    points issued there (lots of its orders, or earned with the shop as the actor) and their value at issue,
    against points honoured there (completed redemptions through its API or widget) and their value; the
    member pages' redemptions and the lots no shop issued are the program's own row. Two grouped queries."""
    from zoneinfo import ZoneInfo

    from integrations.models import Order, Shop
    from rewards.models import Redemption
    from rewards.selectors import program_get

    program = program_get()
    tz = ZoneInfo(program.time_zone)
    since, until = _midnight(start, tz), _midnight(end, tz)
    face, faces = _face_values()
    lot_t, val_t, order_t = PointLot._meta.db_table, LotValuation._meta.db_table, Order._meta.db_table
    move_t, entry_t, red_t = PointMovement._meta.db_table, PointEntry._meta.db_table, Redemption._meta.db_table
    with connection.cursor() as cursor:
        # The issuing shop: the lot's valuation (its order's shop), else the order that points at the lot, else
        # the shop that acted on the earn entry (its public id in actor_ref, matched below).
        cursor.execute(
            f"""
            SELECT shop_id, actor_ref, currency, SUM(points), SUM(value), SUM(unposted) FROM (
                SELECT COALESCE(v.shop_id, o.shop_id) AS shop_id,
                       CASE WHEN v.shop_id IS NULL AND o.shop_id IS NULL THEN (
                           SELECT e.actor_ref FROM {move_t} m JOIN {entry_t} e ON e.id = m.entry_id
                           WHERE m.lot_id = l.id AND e.kind = 'earn' AND e.actor_kind = 'shop' LIMIT 1
                       ) END AS actor_ref,
                       COALESCE(v.currency, l.value_currency) AS currency,
                       l.points AS points, v.value AS value,
                       CASE WHEN v.lot_id IS NULL THEN l.points ELSE 0 END AS unposted
                FROM {lot_t} l
                LEFT JOIN {val_t} v ON v.lot_id = l.id
                LEFT JOIN {order_t} o ON o.lot_id = l.id
                WHERE l.earned_at >= %s AND l.earned_at < %s AND l.source <> 'transfer'
            ) issued GROUP BY shop_id, actor_ref, currency
            """,
            [since, until],
        )
        issued = cursor.fetchall()
        # Honoured: completed redemptions that cost points; the member pages' ones are the program's own.
        cursor.execute(
            f"""
            SELECT CASE WHEN r.channel = 'web' THEN NULL ELSE r.shop_id END AS shop_id,
                   CASE WHEN r.currency = '' THEN %s ELSE r.currency END AS currency,
                   SUM(r.points), SUM(r.value), SUM(CASE WHEN r.value IS NULL THEN r.points ELSE 0 END)
            FROM {red_t} r
            WHERE r.created_at >= %s AND r.created_at < %s AND r.status = 'completed' AND r.channel <> 'gift'
            GROUP BY 1, 2
            """,
            [program.currency, since, until],
        )
        honoured = cursor.fetchall()
    refs = {ref for _, ref, *_ in issued if ref}
    shop_ids = {s for s, *_ in issued if s} | {s for s, *_ in honoured if s}
    shops = {s.pk: s for s in Shop.objects.filter(pk__in=shop_ids)}
    if refs:
        for shop in Shop.objects.filter(public_id__in=refs):
            shops[shop.pk] = shop
    by_ref = {str(s.public_id): s.pk for s in shops.values()}
    rows: dict[tuple, SettlementRow] = {}

    def row_for(shop_id, currency) -> SettlementRow:
        key = (shop_id, currency)
        if key not in rows:
            shop = shops.get(shop_id)
            rows[key] = (
                SettlementRow(shop_id, shop.name, shop.kind, currency, public_id=str(shop.public_id))
                if shop
                else SettlementRow(None, "Program (own channel)", "program", currency)
            )
        return rows[key]

    for shop_id, ref, currency, points, value, unposted in issued:
        row = row_for(shop_id or by_ref.get(ref), currency)
        row.issued_points += int(points or 0)
        row.issued_value = _cents(row.issued_value + Decimal(value or 0))
        row.unposted_points += int(unposted or 0)
    for shop_id, currency, points, value, unvalued in honoured:
        row = row_for(shop_id, currency)
        row.honoured_points += int(points or 0)
        worth = Decimal(value or 0) + int(unvalued or 0) * faces.get(currency, face)
        row.honoured_value = _cents(row.honoured_value + worth)
    ordered = sorted(rows.values(), key=lambda r: (r.currency, r.shop_id is None, r.name, r.shop_id or 0))
    return Settlement(start=start, end=end, rows=ordered)


def _face_values() -> tuple[Decimal, dict[str, Decimal]]:
    """What a point is worth when redeemed: the policy's face value, and the face values of other currencies."""
    from accounting.models import AccountingPolicy, CurrencyFaceValue

    face = AccountingPolicy.objects.filter(pk=1).values_list("point_face_value", flat=True).first()
    faces = dict(CurrencyFaceValue.objects.filter(policy_id=1).values_list("currency", "point_face_value"))
    return (face if face is not None else AccountingPolicy._meta.get_field("point_face_value").default), faces
