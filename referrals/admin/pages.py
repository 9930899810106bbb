"""The referral admin's own pages: the preview of a change of the fraud rules, and the referral stats with
their CSV export. Both only read (referrals/selectors/staff.py); nothing on them is saved.

- Preview (from the program's page, "Preview a change"): the fraud and limit settings, prefilled with
  today's; submitted (a GET: it changes nothing), every referral whose friend signed up in the last 90 days
  is decided again from its stored facts under today's rules and under the proposal.
- Stats (from the referrals' list): a period (the last 30, 90 or 365 days, or dates), the figures of the
  friends who signed up in it, a chart per week, the top referrers, and the referrals as CSV.
"""

import csv
import datetime as dt

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from referrals.models import ReferralProgram
from referrals.selectors import referral_program_get
from referrals.selectors.staff import PREVIEW_DAYS, referral_rules_preview, referral_stats, referrals_export

PREVIEW_FIELDS = (
    "same_device",
    "same_ip",
    "same_address",
    "same_payment",
    "max_per_day",
    "max_per_week",
    "max_rewarded",
)
PERIOD_PRESETS = (30, 90, 365)
PERIOD_DEFAULT = 90
PERIOD_MAX_DAYS = 5 * 366


def review_queue_url() -> str:
    return reverse("admin:referrals_referral_changelist") + "?review__exact=pending"


def stats_url() -> str:
    return reverse("admin:referrals_stats")


def _page(request, model_admin, template: str, context: dict):
    context = {**model_admin.admin_site.each_context(request), "opts": model_admin.model._meta, **context}
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, template, context)


# --- the preview -------------------------------------------------------------------------------------------


class PreviewForm(forms.Form):
    """The fraud rules and limits of ReferralProgram, as its change form has them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(forms.fields_for_model(ReferralProgram, fields=PREVIEW_FIELDS))


def rules_proposed(rules: ReferralProgram, changes: dict) -> ReferralProgram:
    """An unsaved copy of `rules` (no pk: it can never overwrite the row) with `changes`."""
    values = {f.attname: getattr(rules, f.attname) for f in ReferralProgram._meta.concrete_fields if not f.primary_key}
    return ReferralProgram(**{**values, **changes})


def preview_view(request, *, model_admin):
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    rules = referral_program_get()
    submitted = any(name in request.GET for name in PREVIEW_FIELDS)
    form = PreviewForm(
        request.GET if submitted else None, initial={name: getattr(rules, name) for name in PREVIEW_FIELDS}
    )
    preview, changes = None, []
    if form.is_valid():
        proposed = rules_proposed(rules, form.cleaned_data)
        preview = referral_rules_preview(rules=rules, proposed=proposed)
        for name in PREVIEW_FIELDS:
            if getattr(rules, name) != getattr(proposed, name):
                field = ReferralProgram._meta.get_field(name)
                changes.append(
                    {
                        "field": field.verbose_name,
                        "now": _display(rules, field),
                        "proposed": _display(proposed, field),
                    }
                )
    return _page(
        request,
        model_admin,
        "admin/referrals/preview.html",
        {
            "title": _("Preview a change of the fraud rules"),
            "form": form,
            "preview": preview,
            "changes": changes,
            "days": PREVIEW_DAYS,
            "program_url": reverse("admin:referrals_referralprogram_change", args=[rules.pk]),
        },
    )


def _display(rules: ReferralProgram, field) -> str:
    if field.choices:
        return str(dict(field.flatchoices).get(getattr(rules, field.name), getattr(rules, field.name)))
    value = getattr(rules, field.name)
    return str(value) if value else str(_("no limit"))


# --- stats -------------------------------------------------------------------------------------------------


class PeriodForm(forms.Form):
    days = forms.TypedChoiceField(
        choices=[(days, days) for days in PERIOD_PRESETS], coerce=int, required=False, empty_value=None
    )
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if end and not start:
            self.add_error("start", _("Give the first day too."))
        if start and end and end < start:
            self.add_error("end", _("The last day cannot be before the first."))
        if start and (end or timezone.localdate()) - start > dt.timedelta(days=PERIOD_MAX_DAYS):
            self.add_error("start", _("Choose at most five years."))
        return cleaned


def stats_period(request) -> tuple[dt.datetime, dt.datetime, int | None, PeriodForm]:
    """[start, end) from the request: the last `days` (30, 90 or 365; 90 by default) up to now, or whole
    days from `start` to `end` (inclusive, in the current time zone: the program's)."""
    form = PeriodForm(request.GET)
    if form.is_valid() and form.cleaned_data["start"]:
        first = form.cleaned_data["start"]
        last = form.cleaned_data["end"] or timezone.localdate()
        start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
        end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min))
        return start, end, None, form
    days = (form.cleaned_data.get("days") if form.is_valid() else None) or PERIOD_DEFAULT
    end = timezone.now()
    return end - dt.timedelta(days=days), end, days, form


CHART_HEIGHT = 120
CHART_BAR = 9
CHART_GROUP = 2 * CHART_BAR + 8


def weekly_chart(weeks: list[dict]) -> dict:
    """Bar positions for the inline SVG (sign-ups and qualified per week, one pair of bars per week)."""
    peak = max((week["signups"] for week in weeks), default=0) or 1
    bars = []
    for i, week in enumerate(weeks):
        x = i * CHART_GROUP
        signups_h = round(week["signups"] / peak * CHART_HEIGHT)
        qualified_h = round(week["qualified"] / peak * CHART_HEIGHT)
        bars.append(
            {
                **week,
                "x": x,
                "x2": x + CHART_BAR,
                "signups_y": CHART_HEIGHT - signups_h,
                "signups_h": signups_h,
                "qualified_y": CHART_HEIGHT - qualified_h,
                "qualified_h": qualified_h,
                "label": i % 4 == 0,  # a date under every fourth week
            }
        )
    return {
        "bars": bars,
        "peak": peak if any(week["signups"] for week in weeks) else 0,
        "width": len(weeks) * CHART_GROUP + 40,  # room for the last week's date
        "height": CHART_HEIGHT,
        "bar": CHART_BAR,
        "total_height": CHART_HEIGHT + 34,
    }


def _period_query(start, end, days, form) -> str:
    if days is not None:
        return urlencode({"days": days})
    return urlencode({"start": form.cleaned_data["start"].isoformat(), "end": (end - dt.timedelta(days=1)).date()})


def stats_view(request, *, model_admin):
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    start, end, days, form = stats_period(request)
    stats = referral_stats(start=start, end=end)
    query = _period_query(start, end, days, form)
    return _page(
        request,
        model_admin,
        "admin/referrals/stats.html",
        {
            "title": _("Referral stats"),
            "stats": stats,
            "chart": weekly_chart(stats.weeks),
            "form": form,
            "days": days,
            "presets": PERIOD_PRESETS,
            "last_day": end - dt.timedelta(microseconds=1),
            "csv_url": reverse("admin:referrals_stats_csv") + "?" + query,
            "review_url": review_queue_url(),
        },
    )


class _Echo:
    def write(self, value):
        return value


CSV_HEADER = (
    "id",
    "code",
    "channel",
    "referrer_email",
    "friend_id",
    "status",
    "review",
    "reason_code",
    "clicked_at",
    "signed_up_at",
    "qualified_at",
    "rewarded_at",
    "rejected_at",
    "friend_rewards",
    "referrer_rewards",
)


def _cell(value) -> str:
    """A CSV cell; text a spreadsheet would run as a formula (=, +, -, @) is quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat()
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _rewards_cell(rewards, side: str) -> str:
    from referrals.admin.referrals import reward_value

    return "; ".join(
        f"{reward_value(r)} ({r.status})" for r in sorted(rewards, key=lambda r: r.sequence) if r.side == side
    )


def stats_csv_view(request, *, model_admin):
    """The referrals of the period, one row each, streamed (a query per 1,000 rows and one for their rewards)."""
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    start, end, _days, _form = stats_period(request)
    zone = timezone.get_current_timezone()

    def rows():
        writer = csv.writer(_Echo())
        yield writer.writerow(CSV_HEADER)
        with timezone.override(zone):  # the response streams after the view (and its time zone) returned
            for referral in referrals_export(start=start, end=end).iterator(chunk_size=1000):
                rewards = list(referral.rewards.all())
                yield writer.writerow(
                    [
                        _cell(value)
                        for value in (
                            referral.public_id,
                            referral.code,
                            referral.channel,
                            referral.referrer.user.email,
                            referral.friend.public_id,
                            referral.status,
                            referral.review,
                            referral.reason_code,
                            referral.clicked_at,
                            referral.signed_up_at,
                            referral.qualified_at,
                            referral.rewarded_at,
                            referral.rejected_at,
                            _rewards_cell(rewards, "friend"),
                            _rewards_cell(rewards, "referrer"),
                        )
                    ]
                )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    first, last = timezone.localdate(start), timezone.localdate(end - dt.timedelta(microseconds=1))
    filename = f"referrals-{first:%Y%m%d}-{last:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
