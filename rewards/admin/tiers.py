"""Admin screens for tiers and members' tier history (docs/tiers.md).

- Tiers: list and edit; the form checks that ranks are unique, that the lowest tier starts at 0, that
  entry thresholds rise with rank among tiers of the same metric, and the colour's format.
- Tier history: read-only, every change with its reason and who made it. Its "add" page is where staff set
  a member's tier by hand, with an end date and a reason (rewards.services.tiers.tier_set, actor recorded).
- Tier holds: read-only, the staff overrides, paid memberships and gifts in force.
"""

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rewards.admin import ProgramTimeZoneMixin, ReadOnlyAdminMixin, member_label, short_datetime
from rewards.admin.history import ConfigHistoryAdmin
from rewards.models import Tier, TierChange, TierHold
from rewards.services.tiers import tier_set


def tier_definition_errors(tier: Tier, others) -> dict[str, str]:
    """What is wrong with `tier` beside the other tiers: the lowest tier must start at 0, and entry
    thresholds must rise with rank among tiers of the same metric."""
    errors: dict[str, str] = {}
    others = [t for t in others if t.pk != tier.pk]
    if tier.rank is None or tier.entry_threshold is None:
        return errors
    if all(t.rank > tier.rank for t in others) and tier.entry_threshold != 0:
        errors["entry_threshold"] = _("The lowest tier is where every member starts: its threshold must be 0.")
    for t in others:
        if t.metric != tier.metric or t.rank == tier.rank:
            continue
        if t.rank < tier.rank and t.entry_threshold >= tier.entry_threshold:
            errors["entry_threshold"] = _(
                "Must be above %(name)s's threshold (%(value)s): a higher rank needs more of the same metric."
            ) % {"name": t.name, "value": t.entry_threshold}
        elif t.rank > tier.rank and t.entry_threshold <= tier.entry_threshold:
            errors["entry_threshold"] = _(
                "Must be below %(name)s's threshold (%(value)s): a lower rank needs less of the same metric."
            ) % {"name": t.name, "value": t.entry_threshold}
    return errors


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = (
            "name",
            "rank",
            "icon",
            "colour",
            "metric",
            "entry_threshold",
            "window",
            "retention_threshold",
            "downgrade_policy",
            "grace_days",
            "earning_multiplier",
            "birthday_bonus_points",
            "free_shipping",
            "early_access",
            "can_gift",
            "membership_sku",
            "membership_months",
            "dividend_percent",
        )
        widgets = {"colour": forms.TextInput(attrs={"type": "color"})}

    def clean_membership_sku(self):
        return (self.cleaned_data.get("membership_sku") or "").strip()

    def clean(self):
        cleaned = super().clean()
        tier = Tier(
            pk=self.instance.pk,
            rank=cleaned.get("rank"),
            metric=cleaned.get("metric"),
            entry_threshold=cleaned.get("entry_threshold"),
        )
        for name, message in tier_definition_errors(tier, Tier.objects.all()).items():
            self.add_error(name, message)
        if cleaned.get("downgrade_policy") == Tier.Downgrade.GRACE and not cleaned.get("grace_days"):
            self.add_error("grace_days", _("Give the grace period in days (or choose another policy)."))
        if cleaned.get("dividend_percent") and not cleaned.get("membership_sku"):
            self.add_error("dividend_percent", _("A dividend goes to paid members: set the membership SKU too."))
        return cleaned


@admin.register(Tier)
class TierAdmin(ProgramTimeZoneMixin, ConfigHistoryAdmin):
    form = TierForm
    list_display = (
        "name",
        "rank",
        "metric",
        "entry_threshold",
        "window",
        "downgrade_policy",
        "earning_multiplier",
        "membership_sku",
        "members",
    )
    ordering = ("rank",)
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "rank", "icon", "colour")}),
        (
            _("Qualification"),
            {
                "fields": (
                    "metric",
                    "entry_threshold",
                    "window",
                    "retention_threshold",
                    "downgrade_policy",
                    "grace_days",
                )
            },
        ),
        (
            _("Perks"),
            {"fields": ("earning_multiplier", "birthday_bonus_points", "free_shipping", "early_access", "can_gift")},
        ),
        (_("Paid membership"), {"fields": ("membership_sku", "membership_months", "dividend_percent")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("accounts"))

    @admin.display(description=_("members"), ordering="member_count")
    def members(self, tier):
        return tier.member_count


class TierSetForm(forms.ModelForm):
    """Set a member's tier by hand until a date, with a reason."""

    class Meta:
        model = TierChange
        fields = ("account", "to_tier", "ends_at", "note")
        labels = {"account": _("Member"), "to_tier": _("Tier"), "note": _("Reason")}
        help_texts = {
            "ends_at": _("The tier holds until then; afterwards the nightly job re-evaluates it."),
            "note": _("Why (kept in the member's tier history)."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ends_at"].required = True
        self.fields["note"].required = True

    def clean_ends_at(self):
        ends_at = self.cleaned_data["ends_at"]
        if ends_at <= timezone.now():
            raise forms.ValidationError(_("The end date must be in the future."))
        return ends_at


@admin.register(TierChange)
class TierChangeAdmin(ProgramTimeZoneMixin, admin.ModelAdmin):
    """The history is read-only; "add" sets a member's tier by hand through tier_set."""

    list_display = ("at_display", "member_display", "from_tier", "to_tier", "reason", "actor_user", "ends_display")
    list_filter = ("reason", "to_tier")
    list_select_related = ("account__member__user", "from_tier", "to_tier", "actor_user")
    search_fields = ("account__member__number", "account__member__user__email")
    autocomplete_fields = ("account",)
    ordering = ("-at", "-id")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = TierSetForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("account", "to_tier", "ends_at", "note")
        return ("account", "from_tier", "to_tier", "reason", "note", "actor_user", "at", "ends_at", "public_id")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # The form checked what tier_set refuses (a reason, an end in the future).
        made = tier_set(
            member=obj.account.member, tier=obj.to_tier, ends_at=obj.ends_at, actor=request.user, reason=obj.note
        )
        obj.pk, obj.public_id, obj.at, obj.reason = made.pk, made.public_id, made.at, made.reason
        obj._state.adding = False

    @admin.display(description=_("when"), ordering="at")
    def at_display(self, change):
        return short_datetime(change.at)

    @admin.display(description=_("member"))
    def member_display(self, change):
        return member_label(change.account.member)

    @admin.display(description=_("until"), ordering="ends_at")
    def ends_display(self, change):
        return short_datetime(change.ends_at) if change.ends_at else "–"


@admin.register(TierHold)
class TierHoldAdmin(ProgramTimeZoneMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Staff overrides, paid memberships and gifts; changed only through the services."""

    list_display = ("member_display", "override_tier", "override_until", "floor_tier", "floor_until", "floor_reason")
    list_select_related = ("account__member__user", "override_tier", "floor_tier")
    list_filter = ("floor_reason",)
    search_fields = ("account__member__number", "account__member__user__email")

    @admin.display(description=_("member"))
    def member_display(self, hold):
        return member_label(hold.account.member)
