"""What the accounting services share: the chart's defaults, the policy row, periods, and writing a batch of
balanced journal entries."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from accounting.models import Account, AccountingPeriod, AccountingPolicy, JournalEntry, JournalLine, PeriodTotal
from core.exceptions import ApplicationError

Role = Account.Role

DEFAULT_ACCOUNTS = {
    Role.REVENUE: ("4000", "Revenue"),
    Role.BREAKAGE_REVENUE: ("4050", "Breakage revenue"),
    Role.CONTRACT_LIABILITY: ("2450", "Contract liability: loyalty points"),
    Role.PROVISION: ("2460", "Provision for loyalty rewards"),
    Role.STORE_CREDIT_LIABILITY: ("2470", "Store credit liability"),
    Role.REWARDS_CLEARING: ("2480", "Rewards given: clearing"),
    Role.LOYALTY_EXPENSE: ("6100", "Loyalty and marketing expense"),
}


def accounts_by_role() -> dict[str, Account]:
    """Every role's account; a role missing (a fresh test database) gets its default code and name."""
    accounts = {a.role: a for a in Account.objects.all()}
    for role, (code, name) in DEFAULT_ACCOUNTS.items():
        if role not in accounts:
            accounts[role], _ = Account.objects.get_or_create(role=role, defaults={"code": code, "name": name})
    return accounts


def policy_get(*, lock: bool = False) -> AccountingPolicy:
    """The accounting policy row (made with its defaults when missing); `lock` inside a transaction."""
    AccountingPolicy.objects.get_or_create(pk=1)
    rows = AccountingPolicy.objects.select_for_update() if lock else AccountingPolicy.objects
    return rows.get(pk=1)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def local_date(at: dt.datetime, tz: ZoneInfo) -> dt.date:
    return at.astimezone(tz).date()


class Periods:
    """Periods looked up (and made) once per batch. A date in a closed period posts on the first day of the
    first open period after it: nothing ever lands in a closed month."""

    def __init__(self):
        self._by_start: dict[dt.date, AccountingPeriod] = {}

    def _get(self, start: dt.date) -> AccountingPeriod:
        if start not in self._by_start:
            self._by_start[start], _ = AccountingPeriod.objects.get_or_create(start=start)
        return self._by_start[start]

    def place(self, day: dt.date) -> tuple[AccountingPeriod, dt.date]:
        """The (period, date) a posting dated `day` goes to."""
        period = self._get(month_start(day))
        while period.closed:
            period = self._get(next_month(period.start))
            day = period.start
        return period, day


@dataclass
class Posting:
    """A journal entry being built: net amounts per (role, member, shop), debit positive."""

    date: dt.date
    kind: str
    description: str
    source_kind: str
    source_id: int
    currency: str
    member_id: int | None = None
    shop_id: int | None = None
    amounts: dict = field(default_factory=lambda: defaultdict(Decimal))

    def move(self, amount: Decimal, *, debit: str, credit: str, member_id=None, shop_id=None, debit_member=None):
        """Debit one role and credit another by `amount` (nothing for zero; a negative amount swaps them).
        `debit_member`: the member of the debit line when it differs (transfers)."""
        if not amount:
            return
        self.amounts[(debit, member_id if debit_member is None else debit_member, shop_id)] += amount
        self.amounts[(credit, member_id, shop_id)] -= amount


def postings_write(postings: list[Posting], *, periods: Periods, accounts: dict[str, Account]) -> int:
    """Insert the postings that move money as balanced journal entries with their lines, in the caller's
    transaction; returns the entries written. Raises if one does not balance. On PostgreSQL two statements
    from plain arrays (unnest), the lines finding their entry by its unique source: building tens of thousands
    of model instances for bulk_create took most of a chunk's time."""
    entries, lines = [], []
    for p in postings:
        nets = {key: amount for key, amount in p.amounts.items() if amount}
        if not nets:
            continue
        if sum(nets.values()) != 0:
            raise ApplicationError(
                f"Unbalanced posting for {p.source_kind} {p.source_id}.", code="unbalanced_posting", status=500
            )
        period, day = periods.place(p.date)
        source = (p.source_kind, p.source_id, p.currency)
        entries.append((day, period.pk, p.kind, p.description[:300], *source, p.member_id, p.shop_id))
        for (role, member_id, shop_id), amount in sorted(nets.items(), key=lambda kv: -kv[1]):
            debit, credit = (amount, Decimal(0)) if amount > 0 else (Decimal(0), -amount)
            lines.append((*source, accounts[role].pk, debit, credit, period.pk, p.kind, member_id, shop_id))
    if not entries:
        return 0
    assert transaction.get_connection().in_atomic_block, "postings are written inside the caller's transaction"
    if connection.vendor == "postgresql":
        _write_pg(entries, lines)
    else:
        _write_orm(entries, lines)
    _totals_add(lines)
    return len(entries)


def _totals_add(lines: list[tuple]) -> None:
    """Add the lines to their PeriodTotal rows (one upsert per chunk; the rows are few: period x account x kind)."""
    totals: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for _sk, _sid, currency, account_id, debit, credit, period_id, kind, _m, _s in lines:
        total = totals[(period_id, account_id, kind, currency)]
        total[0] += debit
        total[1] += credit
    table = PeriodTotal._meta.db_table
    row_sql = "(%s, %s, %s, %s, %s, %s)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (period_id, account_id, kind, currency, debit, credit) "
            f"VALUES {', '.join([row_sql] * len(totals))} "
            "ON CONFLICT (period_id, account_id, kind, currency) DO UPDATE "
            f"SET debit = {table}.debit + excluded.debit, credit = {table}.credit + excluded.credit",
            [value for key, (debit, credit) in totals.items() for value in (*key, debit, credit)],
        )


_ENTRY_COLUMNS = (
    "date",
    "period_id",
    "kind",
    "description",
    "source_kind",
    "source_id",
    "currency",
    "member_id",
    "shop_id",
)
_ENTRY_TYPES = ("date", "bigint", "text", "text", "text", "bigint", "text", "bigint", "bigint")
_LINE_COLUMNS = ("account_id", "debit", "credit", "period_id", "kind", "member_id", "shop_id")
_LINE_TYPES = ("bigint", "numeric", "numeric", "bigint", "text", "bigint", "bigint")


def _write_pg(entries: list[tuple], lines: list[tuple]) -> None:
    entry_t, line_t = JournalEntry._meta.db_table, JournalLine._meta.db_table
    arrays = ", ".join(f"%s::{t}[]" for t in _ENTRY_TYPES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {entry_t} (public_id, created_at, {', '.join(_ENTRY_COLUMNS)}) "
            f"SELECT gen_random_uuid(), now(), * FROM unnest({arrays})",
            [list(column) for column in zip(*entries, strict=True)],
        )
        columns = ("source_kind", "source_id", "currency", *_LINE_COLUMNS)
        types = ("text", "bigint", "text", *_LINE_TYPES)
        arrays = ", ".join(f"%s::{t}[]" for t in types)
        cursor.execute(
            f"INSERT INTO {line_t} (entry_id, currency, {', '.join(_LINE_COLUMNS)}) "
            f"SELECT e.id, v.currency, {', '.join('v.' + c for c in _LINE_COLUMNS)} "
            f"FROM unnest({arrays}) AS v ({', '.join(columns)}) "
            f"JOIN {entry_t} e ON e.source_kind = v.source_kind AND e.source_id = v.source_id "
            "AND e.currency = v.currency",
            [list(column) for column in zip(*lines, strict=True)],
        )


def _write_orm(entries: list[tuple], lines: list[tuple]) -> None:
    made = JournalEntry.objects.bulk_create(
        [JournalEntry(**dict(zip(_ENTRY_COLUMNS, row, strict=True))) for row in entries]
    )
    by_source = {(e.source_kind, e.source_id, e.currency): e.pk for e in made}
    JournalLine.objects.bulk_create(
        [
            JournalLine(entry_id=by_source[row[:3]], currency=row[2], **dict(zip(_LINE_COLUMNS, row[3:], strict=True)))
            for row in lines
        ],
        batch_size=2000,
    )
