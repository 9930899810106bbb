"""The accounting's staff pages in the admin (the pattern of rewards/admin/history.py): the liability
roll-forward with its chart and CSV, the journal export of a period, and the breakage estimate."""

import csv
import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from accounting.models import AccountingPeriod, EstimateChange, Kind
from accounting.selectors import (
    ROLLFORWARD_COLUMNS,
    breakage_estimate,
    coalition_settlement,
    journal_lines_for,
    liability_rollforward,
    points_outstanding_report,
)
from accounting.services.common import policy_get
from accounting.services.policy import redemption_rate_set
from core.exceptions import ApplicationError

JOURNAL_CSV_HEADER = [
    "date",
    "entry",
    "kind",
    "description",
    "source_kind",
    "source_id",
    "account_code",
    "account_name",
    "debit",
    "credit",
    "currency",
    "member",
    "shop",
]
BAR_WIDTH = 300  # pixels of the largest closing balance in the chart


def accounting_urls(admin_site) -> list:
    """The pages' URLs, for a ModelAdmin's get_urls (accounting.admin.JournalEntryAdmin adds them)."""

    def wrap(view):
        return admin_site.admin_view(lambda request, **kw: view(request, admin_site=admin_site, **kw))

    return [
        path("rollforward/", wrap(rollforward_view), name="accounting_rollforward"),
        path("rollforward.csv", wrap(rollforward_csv_view), name="accounting_rollforward_csv"),
        path("period/<int:period_id>/journal.csv", wrap(journal_csv_view), name="accounting_journal_csv"),
        path("breakage/", wrap(breakage_view), name="accounting_breakage"),
        path("outstanding/", wrap(outstanding_view), name="accounting_outstanding"),
        path("outstanding.csv", wrap(outstanding_csv_view), name="accounting_outstanding_csv"),
        path("settlement/", wrap(settlement_view), name="accounting_settlement"),
        path("settlement.csv", wrap(settlement_csv_view), name="accounting_settlement_csv"),
    ]


def _require(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def rollforward_view(request, *, admin_site):
    """Per period: opening + issued - redeemed - expired ... = closing, the reconciliation with the lots, and
    bars of the closing balance (inline SVG, no script)."""
    _require(request, "accounting.view_journalentry")
    report = liability_rollforward()
    largest = max((abs(row.closing) for row in report.rows), default=Decimal(0)) or Decimal(1)
    rows = [
        {
            "row": row,
            "movements": [row.movements[kind] for kind in ROLLFORWARD_COLUMNS],
            "bar": int(BAR_WIDTH * abs(row.closing) / largest),
        }
        for row in report.rows
    ]
    context = {
        **admin_site.each_context(request),
        "title": _("Loyalty liability roll-forward"),
        "columns": [Kind(kind).label for kind in ROLLFORWARD_COLUMNS],
        "rows": rows,
        "report": report,
        "reconciliation": [
            {
                "currency": c,
                "journal": report.journal_closing.get(c, Decimal(0)),
                "lots": report.lots_outstanding.get(c, Decimal(0)),
                "difference": report.journal_closing.get(c, Decimal(0)) - report.lots_outstanding.get(c, Decimal(0)),
            }
            for c in sorted(set(report.journal_closing) | set(report.lots_outstanding))
        ],
        "bar_width": BAR_WIDTH,
        "periods": AccountingPeriod.objects.order_by("-start")[:24],
    }
    request.current_app = admin_site.name
    return TemplateResponse(request, "admin/accounting/rollforward.html", context)


def rollforward_csv_view(request, *, admin_site):
    _require(request, "accounting.view_journalentry")
    report = liability_rollforward()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="liability-rollforward.csv"'
    writer = csv.writer(response)
    writer.writerow(["period", "currency", "opening", *ROLLFORWARD_COLUMNS, "closing"])
    for row in report.rows:
        movements = [row.movements[kind] for kind in ROLLFORWARD_COLUMNS]
        writer.writerow([row.period.strftime("%Y-%m"), row.currency, row.opening, *movements, row.closing])
    return response


class _Echo:
    def write(self, value):
        return value


def journal_csv_view(request, *, admin_site, period_id: int):
    """One row per journal line of the period, streamed; the debits and the credits add up to the same."""
    _require(request, "accounting.view_journalentry")
    period = get_object_or_404(AccountingPeriod, pk=period_id)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(JOURNAL_CSV_HEADER)
        for line in journal_lines_for(period=period):
            yield writer.writerow(["" if value is None else value for value in line])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="journal-{period}.csv"'
    return response


class RateForm(forms.Form):
    rate = forms.DecimalField(
        label=_("Expected redemption rate"), min_value=Decimal("0.0001"), max_value=Decimal(1), decimal_places=4
    )
    reason = forms.CharField(label=_("Reason"), max_length=500)


def breakage_view(request, *, admin_site):
    """The estimate by issuance cohort; staff apply it or set their own rate (each change posts a catch-up)."""
    _require(request, "accounting.view_estimatechange")
    estimate = breakage_estimate()
    policy = policy_get()
    if request.method == "POST":
        _require(request, "accounting.change_accountingpolicy")
        form = RateForm(request.POST)
        if form.is_valid():
            source = (
                EstimateChange.Source.ESTIMATE
                if estimate.rate is not None and form.cleaned_data["rate"] == estimate.rate
                else EstimateChange.Source.OVERRIDE
            )
            try:
                change = redemption_rate_set(
                    rate=form.cleaned_data["rate"], source=source, reason=form.cleaned_data["reason"], user=request.user
                )
            except ApplicationError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, _("Expected redemption rate set to %(rate)s.") % {"rate": change.new_rate})
                return redirect(reverse("admin:accounting_breakage"))
    else:
        form = RateForm(initial={"rate": estimate.rate or policy.expected_redemption_rate})
    context = {
        **admin_site.each_context(request),
        "title": _("Breakage estimate"),
        "estimate": estimate,
        "policy": policy,
        "form": form,
        "changes": EstimateChange.objects.select_related("user")[:20],
    }
    request.current_app = admin_site.name
    return TemplateResponse(request, "admin/accounting/breakage.html", context)


# --- points outstanding by age and expiry month ------------------------------------------------------


def _bars(cells, width: int = BAR_WIDTH) -> list[int]:
    largest = max((cell.points for cell in cells), default=0) or 1
    return [int(width * cell.points / largest) for cell in cells]


def outstanding_view(request, *, admin_site):
    """The live points by the lot's age and by expiry month, per currency, in points and money, with bars of
    the points and the total reconciled to the ledger (inline SVG, no script)."""
    _require(request, "accounting.view_journalentry")
    report = points_outstanding_report()
    tables = []
    for currency in report.currencies:
        for title, labels, cells in (
            (_("By age (months since earned)"), report.age_labels, report.by_age[currency]),
            (_("By expiry month"), report.expiry_labels, report.by_expiry[currency]),
        ):
            tables.append(
                {
                    "currency": currency,
                    "title": title,
                    "rows": [
                        {"label": label, "cell": cell, "bar": bar}
                        for label, cell, bar in zip(labels, cells, _bars(cells), strict=True)
                    ],
                    "total": report.totals[currency],
                }
            )
    context = {
        **admin_site.each_context(request),
        "title": _("Points outstanding by age and expiry"),
        "report": report,
        "tables": tables,
        "bar_width": BAR_WIDTH,
    }
    request.current_app = admin_site.name
    return TemplateResponse(request, "admin/accounting/outstanding.html", context)


OUTSTANDING_CSV_HEADER = ["table", "bucket", "currency", "points", "value", "unposted_points"]


def outstanding_csv_view(request, *, admin_site):
    """One row per (table, bucket, currency), then a total row per currency and the ledger's total."""
    _require(request, "accounting.view_journalentry")
    report = points_outstanding_report()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="points-outstanding.csv"'
    writer = csv.writer(response)
    writer.writerow(OUTSTANDING_CSV_HEADER)
    for table, labels, cells in (
        ("age", report.age_labels, report.by_age),
        ("expiry", report.expiry_labels, report.by_expiry),
    ):
        for currency in report.currencies:
            for label, cell in zip(labels, cells[currency], strict=True):
                writer.writerow([table, label, currency, cell.points, cell.value, cell.unposted_points])
    for currency in report.currencies:
        total = report.totals[currency]
        writer.writerow(["total", "all", currency, total.points, total.value, total.unposted_points])
    writer.writerow(["ledger", "available+pending", "", report.ledger_points, "", ""])
    return response


# --- coalition settlement ----------------------------------------------------------------------------


class PeriodForm(forms.Form):
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Until (excluded)"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise forms.ValidationError(_("The end comes after the start."))
        return data


def _settlement_period(request) -> tuple[PeriodForm, dt.date, dt.date]:
    """The period asked for (?start=&end=, dates in the program's time zone), this month by default."""
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from accounting.services.common import month_start, next_month
    from rewards.selectors import program_get

    first = month_start(timezone.now().astimezone(ZoneInfo(program_get().time_zone)).date())
    default = {"start": first, "end": next_month(first)}
    form = PeriodForm(request.GET if "start" in request.GET else None, initial=default)
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data["start"], form.cleaned_data["end"]
    return form, default["start"], default["end"]


def settlement_view(request, *, admin_site):
    """Per shop: points issued there vs honoured there, their value and the net each owes the program, with
    bars of the nets (inline SVG: right of the axis owes the program, left is owed)."""
    _require(request, "accounting.view_journalentry")
    form, start, end = _settlement_period(request)
    settlement = coalition_settlement(start=start, end=end)
    half = BAR_WIDTH // 2
    largest = max((abs(row.net) for row in settlement.rows), default=Decimal(0)) or Decimal(1)
    rows = []
    for row in settlement.rows:
        width = int(half * abs(row.net) / largest)
        rows.append({"row": row, "width": width, "x": half if row.net >= 0 else half - width})
    context = {
        **admin_site.each_context(request),
        "title": _("Coalition settlement"),
        "form": form,
        "settlement": settlement,
        "rows": rows,
        "totals": list(settlement.totals().values()),
        "bar_width": BAR_WIDTH,
        "half": half,
        "query": f"start={start.isoformat()}&end={end.isoformat()}",
    }
    request.current_app = admin_site.name
    return TemplateResponse(request, "admin/accounting/settlement.html", context)


SETTLEMENT_CSV_HEADER = [
    "start",
    "end",
    "shop",
    "shop_name",
    "shop_kind",
    "currency",
    "issued_points",
    "issued_value",
    "unposted_points",
    "honoured_points",
    "honoured_value",
    "net",
]


def settlement_csv_view(request, *, admin_site):
    """One row per shop and currency (the program's own row has no shop id), then a total row per currency."""
    _require(request, "accounting.view_journalentry")
    _, start, end = _settlement_period(request)
    settlement = coalition_settlement(start=start, end=end)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="settlement-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(SETTLEMENT_CSV_HEADER)
    for row in [*settlement.rows, *settlement.totals().values()]:
        writer.writerow(
            [
                start,
                end,
                row.public_id,
                row.name,
                row.kind,
                row.currency,
                row.issued_points,
                row.issued_value,
                row.unposted_points,
                row.honoured_points,
                row.honoured_value,
                row.net,
            ]
        )
    return response
