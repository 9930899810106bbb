"""Period close, the report pages and their CSV exports, the journal_post command and audit_ledger's part."""

import csv
import datetime as dt
import io
from decimal import Decimal

from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounting.models import AccountingPeriod, AccountingPolicy, EstimateChange, JournalEntry, JournalLine
from accounting.selectors import breakage_estimate
from accounting.services.common import month_start, next_month
from accounting.services.policy import period_close
from accounting.tests.conftest import sale
from accounting.tests.helpers import post
from rewards.models import PointLot
from rewards.services.ledger import Actor, points_earn, points_redeem

SYSTEM = Actor.system("tests")


def _some_activity(shop, member):
    AccountingPolicy.objects.update_or_create(pk=1, defaults={"point_face_value": Decimal("0.10")})
    sale(shop, Decimal(1000))
    sale(shop, Decimal("259.90"))
    points_earn(
        account=member.points_account, points=300, source=PointLot.Source.SIGNUP, actor=SYSTEM, idempotency_key="s"
    )
    points_redeem(account=member.points_account, points=150, reason="Reward", actor=SYSTEM, idempotency_key="r")
    post()


def test_nothing_posts_into_a_closed_period(shop, member, rules):
    this_month = month_start(timezone.localdate())
    period_close(start=this_month)
    sale(shop, Decimal(100))
    post()
    entry = JournalEntry.objects.get()
    assert entry.period.start == next_month(this_month)  # the first open period after the closed one
    assert entry.date == next_month(this_month)
    assert not JournalLine.objects.filter(period__closed=True).exists()
    assert period_close(start=this_month).closed  # closing twice changes nothing


def test_journal_csv_parses_back_to_balanced_totals(admin_client, shop, member, rules):
    _some_activity(shop, member)
    period = AccountingPeriod.objects.get()
    response = admin_client.get(reverse("admin:accounting_journal_csv", args=[period.pk]))
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == JournalLine.objects.count() >= 6
    debits = sum(Decimal(r["debit"]) for r in rows)
    credits = sum(Decimal(r["credit"]) for r in rows)
    assert debits == credits > 0
    by_entry: dict[str, Decimal] = {}
    for r in rows:
        by_entry[r["entry"]] = by_entry.get(r["entry"], Decimal(0)) + Decimal(r["debit"]) - Decimal(r["credit"])
    assert set(by_entry.values()) == {Decimal(0)}


def test_rollforward_page_and_csv(admin_client, shop, member, rules):
    _some_activity(shop, member)
    page = admin_client.get(reverse("admin:accounting_rollforward"))
    assert page.status_code == 200
    assert "<svg" in page.text and "0.00 ✓" in page.text  # reconciled to the cent
    response = admin_client.get(reverse("admin:accounting_rollforward_csv"))
    (row,) = list(csv.DictReader(io.StringIO(response.content.decode())))
    movements = sum(Decimal(row[k]) for k in ("issue", "redeem", "expire", "reverse", "transfer", "estimate"))
    assert Decimal(row["opening"]) + movements == Decimal(row["closing"]) > 0


def test_breakage_page_warns_on_thin_history_and_staff_override_posts_a_catch_up(admin_client, shop, member, rules):
    _some_activity(shop, member)
    page = admin_client.get(reverse("admin:accounting_breakage"))
    assert page.status_code == 200 and 'id="thin-history"' in page.text
    response = admin_client.post(reverse("admin:accounting_breakage"), {"rate": "0.6", "reason": "Pilot year"})
    assert response.status_code == 302
    change = EstimateChange.objects.get()
    assert (change.new_rate, change.source, change.user.email) == (Decimal("0.6"), "override", "admin@example.com")
    assert JournalEntry.objects.filter(kind="estimate", source_id=change.pk).exists()
    assert AccountingPolicy.objects.get().rate_overridden


def test_breakage_estimate_from_closed_cohorts(member):
    from rewards.services.ledger import points_expire

    for i in range(4):
        points_earn(account=member.points_account, points=5000, source="bonus", actor=SYSTEM, idempotency_key=f"b{i}")
    points_redeem(account=member.points_account, points=15000, reason="r", actor=SYSTEM, idempotency_key="r")
    points_expire(account=member.points_account, actor=SYSTEM, idempotency_key="x", reason="end", everything=True)
    estimate = breakage_estimate()
    assert estimate.rate == Decimal("0.75")
    assert estimate.thin  # one cohort (this month) only


def test_journal_post_command_reports_progress(shop, member, rules):
    sale(shop, Decimal(100))
    out = io.StringIO()
    call_command("journal_post", "--lag-seconds=0", stdout=out)
    assert "point_entry: 1 read, 1 journal entries written" in out.getvalue()
    assert "Posted 1 point entries" in out.getvalue()


def test_audit_ledger_reports_the_journal_too(shop, member, rules):
    sale(shop, Decimal(100))
    post()
    out = io.StringIO()
    call_command("audit_ledger", stdout=out)
    assert "Journal is consistent" in out.getvalue()


def test_old_unposted_entries_are_reported(shop, member, rules):
    from accounting.selectors import accounting_audit
    from rewards.models import PointEntry

    sale(shop, Decimal(100))
    assert accounting_audit() == []
    later = timezone.now() + dt.timedelta(hours=2)
    assert [v.invariant for v in accounting_audit(now=later)] == ["posting_current"]
    assert PointEntry.objects.count() == 1


def test_the_periodic_task_is_scheduled_and_posts_only_entries_past_the_lag(shop, member, rules, settings):
    from accounting.tasks import journal_post

    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "accounting.tasks.journal_post" in schedule
    sale(shop, Decimal(100))
    assert journal_post.delay().get() == 0  # a minute's lag: the sale is too new
    assert post().journal_entries == 1


def test_admin_lists_link_the_reports_and_show_entries_with_their_lines(admin_client, shop, member, rules):
    _some_activity(shop, member)
    listing = admin_client.get(reverse("admin:accounting_journalentry_changelist"))
    assert listing.status_code == 200
    assert reverse("admin:accounting_rollforward") in listing.text
    assert reverse("admin:accounting_breakage") in listing.text
    entry = JournalEntry.objects.first()
    page = admin_client.get(reverse("admin:accounting_journalentry_change", args=[entry.pk]))
    assert page.status_code == 200 and "2450" in page.text
    assert admin_client.get(reverse("admin:accounting_accountingperiod_changelist")).status_code == 200
    policy = admin_client.get(reverse("admin:accounting_accountingpolicy_changelist"))
    assert policy.status_code == 302
    assert admin_client.get(policy.url).status_code == 200
