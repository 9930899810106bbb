"""Insights in the admin: the dashboard (the InsightsDashboard entry of the admin index opens it) and the
member scores, read-only. The page reads only rollups (insights.selectors.dashboard_data)."""

from zoneinfo import ZoneInfo

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from insights.models import InsightsDashboard, MemberScore
from insights.selectors import PERIOD_DEFAULT, PERIOD_PRESETS, dashboard_data
from insights.services.rollups import local_today
from rewards.admin import ReadOnlyAdminMixin
from rewards.selectors import program_cached


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Rows only the services write."""


def _url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


@admin.register(InsightsDashboard)
class InsightsDashboardAdmin(ReadOnlyAdmin):
    """The entry's list page is the dashboard: period presets of 30, 90 or 365 days (?days=)."""

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = int(request.GET.get("days", PERIOD_DEFAULT))
        except ValueError:
            days = PERIOD_DEFAULT
        if days not in PERIOD_PRESETS:
            days = PERIOD_DEFAULT
        program = program_cached()
        today = local_today(ZoneInfo(program.time_zone or "UTC"))
        data = dashboard_data(days=days, today=today, currency=program.currency)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Insights"),
            "data": data,
            "summary": data["summary"],
            "buyers": data["buyers"],
            "campaigns": data["campaigns"],
            "segments": data["segments"],
            "days": days,
            "presets": PERIOD_PRESETS,
            "scores_url": _url("admin:insights_memberscore_changelist"),
            "liability_url": _url("admin:accounting_rollforward"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/insights/dashboard.html", context)


@admin.register(MemberScore)
class MemberScoreAdmin(ReadOnlyAdmin):
    list_display = ("member", "segment", "churn_risk", "recency", "frequency", "monetary", "last_order_at")
    list_filter = ("segment",)
    list_select_related = ("member__user",)
    search_fields = ("member__number",)
    ordering = ("-churn_risk",)
    show_full_result_count = False
