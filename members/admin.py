"""The staff side of members: logins (e-mail, no username) and member profiles with their points."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from members.models import Member, User
from rewards.admin import (
    MemberSearchMixin,
    PointsAdjustActionMixin,
    ProgramTimeZoneMixin,
    admin_link,
    ledger_url,
    member_label,
    number_nowrap,
    short_datetime,
)
from rewards.models import PointEntry, PointLot, PointsAccount


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()  # as sign-up stores it, so logins match


class UserChangeForm(DjangoUserChangeForm):
    class Meta:
        model = User
        fields = ("email", "password", "is_active", "is_staff", "is_superuser", "groups", "user_permissions")

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


@admin.register(User)
class UserAdmin(ProgramTimeZoneMixin, DjangoUserAdmin):
    """Logins of members and staff. Staff get their rights from a group (Program manager, Support agent...)."""

    form = UserChangeForm
    add_form = UserCreationForm
    add_form_template = "admin/members/user/add_form.html"
    fieldsets = (
        (None, {"fields": ("email", "password", "member_link")}),
        (
            _("Permissions"),
            {
                "fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
                "description": _(
                    "Staff log into this admin; their group decides what they may see and do. "
                    "Members use the member pages and need neither."
                ),
            },
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),)
    readonly_fields = ("member_link", "last_login", "date_joined")
    list_display = ("email", "member_number", "is_staff", "is_superuser", "is_active", "last_login", "date_joined")
    list_select_related = ("member",)
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "member__number")
    ordering = ("email",)
    date_hierarchy = "date_joined"

    @admin.display(description=_("member number"), ordering="member__number")
    def member_number(self, user):
        member = getattr(user, "member", None)
        return member.number_display if member else "–"

    @admin.display(description=_("member"))
    def member_link(self, user):
        member = getattr(user, "member", None)
        return admin_link(member, member_label(member)) if member else _("None (a staff-only login)")


@admin.register(Member)
class MemberAdmin(ProgramTimeZoneMixin, PointsAdjustActionMixin, MemberSearchMixin, admin.ModelAdmin):
    """Members join by signing up (or through a shop), so there is no add; closing goes through its service,
    so there is no delete and "closed" cannot be picked here. A closed member is read-only."""

    actions = ["adjust_points"]
    list_display = (
        "number_display",
        "name",
        "email",
        "status",
        "available_points",
        "pending_points",
        "joined_via",
        "joined",
    )
    list_select_related = ("user", "points_account")
    list_filter = ("status", "joined_via", "marketing_consent")
    search_fields = ("number", "user__email", "first_name", "last_name")
    ordering = ("-joined_at", "-id")
    date_hierarchy = "joined_at"
    fieldsets = (
        (None, {"fields": ("number_display", "email", "status")}),
        (_("Profile"), {"fields": ("first_name", "last_name", "birthday")}),
        (_("Points"), {"fields": ("points_summary",)}),
        (_("Consent"), {"fields": ("marketing_consent", "marketing_consent_at")}),
        (_("Joined"), {"fields": ("joined_via", "joined_at", "updated_at", "public_id")}),
    )
    readonly_fields = (
        "number_display",
        "email",
        "points_summary",
        "marketing_consent",
        "marketing_consent_at",
        "joined_via",
        "joined_at",
        "updated_at",
        "public_id",
    )

    def accounts_for(self, queryset):
        return PointsAccount.objects.filter(member__in=queryset)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "points_account")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status == Member.Status.CLOSED:
            return False
        return super().has_change_permission(request, obj)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "status":
            kwargs["choices"] = [(value, label) for value, label in db_field.choices if value != Member.Status.CLOSED]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    @admin.display(description=_("member number"), ordering="number")
    def number_display(self, member):
        return number_nowrap(member)

    @admin.display(description=_("joined"), ordering="joined_at")
    def joined(self, member):
        return short_datetime(member.joined_at)

    @admin.display(description=_("name"), ordering="last_name")
    def name(self, member):
        return member.full_name or "–"

    @admin.display(description=_("e-mail"), ordering="user__email")
    def email(self, member):
        return member.user.email

    @admin.display(description=_("available"), ordering="points_account__available")
    def available_points(self, member):
        account = getattr(member, "points_account", None)
        return account.available if account else "–"

    @admin.display(description=_("pending"), ordering="points_account__pending")
    def pending_points(self, member):
        account = getattr(member, "points_account", None)
        return account.pending if account else "–"

    @admin.display(description=_("points"))
    def points_summary(self, member):
        account = getattr(member, "points_account", None)
        if account is None:
            return _("No points account.")
        balance = _("%(available)d available, %(pending)d pending") % {
            "available": account.available,
            "pending": account.pending,
        }
        if account.debt:
            balance += ", " + _("%(debt)d owed") % {"debt": account.debt}
        return format_html(
            '{} — {} · <a href="{}">{}</a> · <a href="{}">{}</a>',
            balance,
            admin_link(account, _("points account")),
            ledger_url(PointEntry, account.pk),
            _("history"),
            ledger_url(PointLot, account.pk),
            _("lots"),
        )
