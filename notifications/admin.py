from django.contrib import admin

from notifications.models import EmailPreferences, MemberEmail


@admin.register(MemberEmail)
class MemberEmailAdmin(admin.ModelAdmin):
    """Read-only: support sees what was sent, skipped (and why) or failed; nobody edits it."""

    list_display = ("created_at", "kind", "status", "member", "to_email", "attempts", "sent_at", "reason")
    list_filter = ("kind", "status")
    search_fields = ("member__user__email", "to_email")
    list_select_related = ("member__user",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EmailPreferences)
class EmailPreferencesAdmin(admin.ModelAdmin):
    list_display = ("member", "activity", "marketing", "updated_at")
    search_fields = ("member__user__email",)
    list_select_related = ("member__user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
