"""PostgreSQL's own guards on the journal (migration 0002): a deferred balance check at commit, append-only
entries and lines, and no insert into a closed period. Skipped on SQLite."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from accounting.models import AccountingPeriod, JournalEntry, JournalLine
from accounting.services.common import accounts_by_role

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _entry(period, source_id: int = 1) -> JournalEntry:
    return JournalEntry.objects.create(
        date=period.start,
        period=period,
        kind="issue",
        description="test",
        source_kind="point_entry",
        source_id=source_id,
        currency="EUR",
    )


def _line(entry, account, *, debit="0", credit="0") -> JournalLine:
    return JournalLine.objects.create(
        entry=entry,
        account=account,
        debit=Decimal(debit),
        credit=Decimal(credit),
        currency="EUR",
        period=entry.period,
        kind=entry.kind,
    )


@pytest.fixture
def period():
    return AccountingPeriod.objects.create(start=dt.date(2026, 1, 1))


def test_an_unbalanced_entry_is_refused_at_commit(period):
    accounts = accounts_by_role()
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        entry = _entry(period)
        _line(entry, accounts["revenue"], debit="10.00")
        _line(entry, accounts["contract_liability"], credit="9.99")
        # Inside the transaction the lines may be unbalanced for a while: the check waits for the commit.
    assert not JournalEntry.objects.exists()


def test_a_balanced_entry_commits_and_cannot_be_changed(period):
    accounts = accounts_by_role()
    with transaction.atomic():
        entry = _entry(period)
        _line(entry, accounts["revenue"], debit="10.00")
        line = _line(entry, accounts["contract_liability"], credit="10.00")
    assert JournalLine.objects.count() == 2
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        JournalLine.objects.filter(pk=line.pk).update(credit=Decimal("11.00"))
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        JournalLine.objects.filter(entry=entry).delete()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        JournalEntry.objects.filter(pk=entry.pk).update(description="changed")


def test_nothing_is_inserted_into_a_closed_period(period):
    AccountingPeriod.objects.filter(pk=period.pk).update(closed=True)
    with pytest.raises(IntegrityError, match="closed"), transaction.atomic():
        _entry(period)


def test_the_triggers_exist_only_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'accounting_%%' ORDER BY tgname")
        names = [row[0] for row in cursor.fetchall()]
    assert names == [
        "accounting_journalentry_append_only",
        "accounting_journalentry_period_open",
        "accounting_journalline_append_only",
        "accounting_journalline_balanced",
    ]
