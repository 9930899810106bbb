"""Points outstanding by age and by expiry month: figures from data made through the order intake and the ledger,
the reconciliation with the accounts, the CSV, the page's queries and who may open it."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db.models import F, Sum
from django.urls import reverse
from django.utils import timezone

from accounting.models import AccountingPolicy, LotValuation
from accounting.selectors import liability_rollforward, points_outstanding_report
from accounting.services.common import month_start, next_month
from accounting.tests.conftest import sale
from accounting.tests.helpers import post
from accounting.tests.test_staff_groups import _grant
from members.tests.test_staff_groups import staff_user
from rewards.models import PointLot, PointsAccount
from rewards.services.ledger import Actor, points_earn, points_expire

SYSTEM = Actor.system("tests")


def _lot(order) -> PointLot:
    order.refresh_from_db()
    return order.lot


def _outstanding_value(*lots) -> Decimal:
    total = LotValuation.objects.filter(lot__in=lots).aggregate(t=Sum(F("value") - F("recognised") - F("released")))
    return Decimal(total["t"]).quantize(Decimal("0.01"))


@pytest.fixture
def book(shop, member, other_member, rules):
    """Four lots: a sale 4 months old expiring in 2 months (100 points), a sign-up bonus 13 months old that never
    expires (300), a sale whose lot expired (50, gone), and a sale not posted yet (20, earned now)."""
    AccountingPolicy.objects.update_or_create(pk=1, defaults={"point_face_value": Decimal("0.10")})
    now = timezone.now()
    old_sale = _lot(sale(shop, Decimal(1000)))
    points_earn(
        account=member.points_account, points=300, source=PointLot.Source.SIGNUP, actor=SYSTEM, idempotency_key="s"
    )
    signup = PointLot.objects.get(source=PointLot.Source.SIGNUP)
    expiring = _lot(sale(shop, Decimal(500), customer="cust-2"))
    post()
    in_two_months = next_month(next_month(month_start(now.date()))) + dt.timedelta(days=9)
    PointLot.objects.filter(pk=old_sale.pk).update(
        earned_at=now - dt.timedelta(days=125),
        expires_at=dt.datetime.combine(in_two_months, dt.time(12), tzinfo=dt.UTC),
    )
    PointLot.objects.filter(pk=signup.pk).update(earned_at=now - dt.timedelta(days=400))
    PointLot.objects.filter(pk=expiring.pk).update(expires_at=now - dt.timedelta(days=1))
    points_expire(account=other_member.points_account, actor=SYSTEM, idempotency_key="x", reason="due")
    post()
    fresh = _lot(sale(shop, Decimal(200)))  # not posted: points only
    return {"old_sale": old_sale, "signup": signup, "expiring": expiring, "fresh": fresh, "month": in_two_months}


def test_outstanding_by_age_and_expiry_reconciles_to_the_ledger(book):
    report = points_outstanding_report()
    assert report.currencies == ["EUR"]
    by_age = dict(zip(report.age_labels, report.by_age["EUR"], strict=True))
    assert [c.points for c in by_age.values()] == [20, 100, 0, 300, 0]  # 0-3, 3-6, 6-12, 12-24, 24+
    assert by_age["0–3 months"].unposted_points == 20 and by_age["0–3 months"].value == 0
    assert by_age["3–6 months"].value == _outstanding_value(book["old_sale"]) > 0
    assert by_age["12–24 months"].value == _outstanding_value(book["signup"]) > 0
    by_expiry = dict(zip(report.expiry_labels, report.by_expiry["EUR"], strict=True))
    assert by_expiry[book["month"].strftime("%Y-%m")].points == 100
    assert by_expiry["never"].points == 320
    assert sum(c.points for c in by_expiry.values()) == 420
    total = report.totals["EUR"]
    ledger = PointsAccount.objects.aggregate(t=Sum(F("available") + F("pending")))["t"]
    assert total.points == report.ledger_points == ledger == 420 and report.difference == 0
    # the money equals what the journal holds for the live lots (the roll-forward's reconciliation)
    assert (
        total.value
        == liability_rollforward().lots_outstanding["EUR"]
        == _outstanding_value(book["old_sale"], book["signup"])
    )
    assert sum((c.value for c in by_age.values()), Decimal(0)) == total.value


def test_outstanding_csv_parses_back_to_the_totals(admin_client, book):
    response = admin_client.get(reverse("admin:accounting_outstanding_csv"))
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    (total,) = [r for r in rows if r["table"] == "total"]
    (ledger,) = [r for r in rows if r["table"] == "ledger"]
    for table in ("age", "expiry"):
        part = [r for r in rows if r["table"] == table]
        assert sum(int(r["points"]) for r in part) == int(total["points"]) == int(ledger["points"]) == 420
        assert sum(Decimal(r["value"]) for r in part) == Decimal(total["value"]) > 0
        assert sum(int(r["unposted_points"]) for r in part) == int(total["unposted_points"]) == 20


def test_outstanding_page_charts_and_reconciles_in_pinned_queries(admin_client, book, django_assert_num_queries):
    url = reverse("admin:accounting_outstanding")
    # session, user, the program (its time zone), the grouped lots, the accounts' total, the program (admin header)
    with django_assert_num_queries(6):
        page = admin_client.get(url)
    assert page.status_code == 200
    assert "<svg" in page.text and "0 ✓" in page.text
    listing = admin_client.get(reverse("admin:accounting_journalentry_changelist"))
    assert url in listing.text
    assert url in admin_client.get(reverse("admin:accounting_rollforward")).text


@pytest.mark.django_db
def test_staff_without_accounting_permissions_cannot_open_it(client):
    support = staff_user("Support agent")
    manager = staff_user("Program manager")
    _grant()
    client.force_login(support)
    assert client.get(reverse("admin:accounting_outstanding")).status_code == 403
    assert client.get(reverse("admin:accounting_outstanding_csv")).status_code == 403
    client.force_login(manager)
    assert client.get(reverse("admin:accounting_outstanding")).status_code == 200
