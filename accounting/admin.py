"""The accounting in the admin: the chart (codes and names per role), the policy, periods (closing them),
the journal (read-only), the changes of estimate, and the report pages of accounting.admin_views."""

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounting.admin_views import accounting_urls
from accounting.models import (
    Account,
    AccountingPeriod,
    AccountingPolicy,
    CurrencyFaceValue,
    EstimateChange,
    JournalEntry,
    JournalLine,
)
from accounting.services.common import policy_get
from accounting.services.policy import period_close
from rewards.admin import ReadOnlyAdminMixin


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Rows only the services write."""


@admin.register(Account)
class AccountAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "role")
    readonly_fields = ("role",)

    def has_add_permission(self, request):
        return False  # one account per role, made by the migration

    def has_delete_permission(self, request, obj=None):
        return False


class CurrencyFaceValueInline(admin.TabularInline):
    """Shops selling in other currencies than the program's: what a point is worth in each of them."""

    model = CurrencyFaceValue
    extra = 0
    fields = ("currency", "point_face_value", "points_ssp_per_point")


@admin.register(AccountingPolicy)
class AccountingPolicyAdmin(SimpleHistoryAdmin):
    readonly_fields = ("expected_redemption_rate", "rate_overridden", "updated_at")
    inlines = [CurrencyFaceValueInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        return redirect(reverse("admin:accounting_accountingpolicy_change", args=[policy_get().pk]))


@admin.register(AccountingPeriod)
class AccountingPeriodAdmin(admin.ModelAdmin):
    list_display = ("__str__", "closed", "closed_at", "closed_by", "journal_csv")
    readonly_fields = ("start", "closed", "closed_at", "closed_by")
    actions = ["close_periods"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Journal"))
    def journal_csv(self, obj):
        return format_html('<a href="{}">CSV</a>', reverse("admin:accounting_journal_csv", args=[obj.pk]))

    @admin.action(description=_("Close the selected periods"), permissions=["change"])
    def close_periods(self, request, queryset):
        for period in queryset.order_by("start"):
            period_close(start=period.start, user=request.user)
        messages.success(request, _("Closed: later postings dated in them go to the next open month."))


class LineInline(admin.TabularInline):
    model = JournalLine
    fields = readonly_fields = ("account", "debit", "credit", "currency", "member", "shop")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ("date", "period", "kind", "description", "currency", "source_kind", "source_id")
    list_filter = ("kind", "period", "currency")
    list_select_related = ("period",)
    readonly_fields = (
        "date",
        "period",
        "kind",
        "description",
        "source_kind",
        "source_id",
        "member",
        "shop",
        "currency",
    )
    inlines = [LineInline]
    show_full_result_count = False

    def get_urls(self):
        return [*accounting_urls(self.admin_site), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "title": _("Journal"),
        }
        return super().changelist_view(request, extra_context)


@admin.register(EstimateChange)
class EstimateChangeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "old_rate", "new_rate", "source", "user", "reason")
