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
