"""What the accounting services share: the chart's defaults, the policy row, periods, and writing a batch of
balanced journal entries."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction

from accounting.models import Account, AccountingPeriod, AccountingPolicy, JournalEntry, JournalLine
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
    """Insert the postings that move money as balanced journal entries with their lines (two bulk inserts, in
    the caller's transaction); returns the entries written. Raises if one does not balance."""
    entries, lines_of = [], []
    for p in postings:
        nets = {key: amount for key, amount in p.amounts.items() if amount}
        if not nets:
            continue
        if sum(nets.values()) != 0:
            raise ApplicationError(
                f"Unbalanced posting for {p.source_kind} {p.source_id}.", code="unbalanced_posting", status=500
            )
        period, day = periods.place(p.date)
        entry = JournalEntry(
            date=day,
            period=period,
            kind=p.kind,
            description=p.description[:300],
            source_kind=p.source_kind,
            source_id=p.source_id,
            member_id=p.member_id,
            shop_id=p.shop_id,
            currency=p.currency,
        )
        entries.append(entry)
        lines_of.append(
            [
                JournalLine(
                    account=accounts[role],
                    debit=amount if amount > 0 else Decimal(0),
                    credit=-amount if amount < 0 else Decimal(0),
                    currency=p.currency,
                    period=period,
                    kind=p.kind,
                    member_id=member_id,
                    shop_id=shop_id,
                )
                for (role, member_id, shop_id), amount in sorted(nets.items(), key=lambda kv: -kv[1])
            ]
        )
    if not entries:
        return 0
    assert transaction.get_connection().in_atomic_block, "postings are written inside the caller's transaction"
    JournalEntry.objects.bulk_create(entries)
    lines = []
    for entry, entry_lines in zip(entries, lines_of, strict=True):
        for line in entry_lines:
            line.entry = entry
            lines.append(line)
    JournalLine.objects.bulk_create(lines, batch_size=2000)
    return len(entries)
