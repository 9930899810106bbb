"""Admin screens for the rewards catalogue, redemptions, coupons and store credit.

Staff edit rewards and causes. Redemptions, coupons and store credit are records of what happened: they are
shown read-only (every change goes through rewards.services: reward_redeem, coupon_redeem, store_credit_*).
"""

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from rewards.admin import (
    LatestInlineFormSet,
    MemberSearchMixin,
    ProgramTimeZoneMixin,
    ReadOnlyAdminMixin,
    admin_link,
    member_label,
)
from rewards.admin.history import ConfigHistoryAdmin
from rewards.models import Cause, Coupon, Redemption, Reward, StoreCreditAccount, StoreCreditEntry
from rewards.selectors.catalogue import coupon_display_status

Kind = Reward.Kind

# The fields each kind uses besides the common ones; the others are cleared when the form is saved.
KIND_FIELDS = {
    Kind.FIXED_AMOUNT: {"value", "currency", "min_order", "coupon_valid_days"},
    Kind.PERCENTAGE: {"value", "max_discount", "currency", "min_order", "coupon_valid_days"},
    Kind.FREE_SHIPPING: {"currency", "min_order", "coupon_valid_days"},
    Kind.FREE_PRODUCT: {"sku", "currency", "min_order", "coupon_valid_days"},
    Kind.STORE_CREDIT: {"value", "currency"},
    Kind.PAY_WITH_POINTS: {"points_per_unit", "min_points", "max_points", "currency", "min_order", "coupon_valid_days"},
    Kind.DONATION: {"cause"},
    Kind.PERK: set(),
}
KIND_SPECIFIC = set().union(*KIND_FIELDS.values())
EMPTY = {"sku": "", "currency": ""}


class RewardAdminForm(forms.ModelForm):
    """Checks that a reward has what its kind needs, and clears what its kind does not use."""

    image_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label=_("Image URL"),
        help_text=Reward._meta.get_field("image_url").help_text,
    )
    no_cap = forms.BooleanField(
        required=False,
        label=_("No cap"),
        help_text=_("Percentage: tick to give the percentage on any cart total, without a largest discount."),
    )

    class Meta:
        model = Reward
        fields = [  # noqa: RUF012
            "kind",
            "title",
            "description",
            "image_url",
            "points",
            "position",
            "value",
            "currency",
            "max_discount",
            "sku",
            "points_per_unit",
            "min_points",
            "max_points",
            "cause",
            "active",
            "active_from",
            "active_until",
            "visible_from",
            "visible_until",
            "stock_total",
            "limit_per_member",
            "limit_period",
            "min_tier",
            "segments",
            "min_order",
            "coupon_valid_days",
            "shops",
        ]

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind not in KIND_FIELDS:
            return data
        errors = {}
        value = data.get("value")
        if kind in (Kind.FIXED_AMOUNT, Kind.STORE_CREDIT) and (value is None or value <= 0):
            errors["value"] = _("Give the amount, above 0.")
        if kind == Kind.PERCENTAGE:
            if value is None or not Decimal(0) < value <= 100:
                errors["value"] = _("Give the percentage, above 0 and at most 100.")
            if data.get("max_discount") is None and not data.get("no_cap"):
                errors["max_discount"] = _("Give the largest discount, or tick 'No cap'.")
        if kind == Kind.FREE_PRODUCT and not (data.get("sku") or "").strip():
            errors["sku"] = _("Give the SKU of the free product.")
        if kind == Kind.DONATION and data.get("cause") is None:
            errors["cause"] = _("Choose the cause the points go to.")
        if kind == Kind.PAY_WITH_POINTS:
            for name in ("points_per_unit", "min_points", "max_points"):
                if not data.get(name):
                    errors[name] = _("Pay with points needs this (above 0).")
            low, high = data.get("min_points"), data.get("max_points")
            if low and high and low > high:
                errors["max_points"] = _("The maximum is below the minimum.")
            data["points"] = 0
        elif not data.get("points"):
            errors["points"] = _("Give the points it costs (above 0).")
        currency = data.get("currency") or ""
        if currency and (len(currency) != 3 or not currency.isalpha() or not currency.isupper()):
            errors["currency"] = _("Enter a three-letter ISO 4217 code in capitals, e.g. EUR; or leave it empty.")
        for start, end in (("active_from", "active_until"), ("visible_from", "visible_until")):
            if data.get(start) and data.get(end) and data[end] <= data[start]:
                errors[end] = _("The end is before the start.")
        stock = data.get("stock_total")
        issued = self.instance.units_issued if self.instance.pk else 0
        if stock is not None and stock < issued:
            errors["stock_total"] = _("%(issued)d units were already issued; the stock cannot be less.") % {
                "issued": issued
            }
        if errors:
            raise forms.ValidationError(errors)
        for name in KIND_SPECIFIC - KIND_FIELDS[kind]:
            data[name] = EMPTY.get(name)
        return data


@admin.register(Reward)
class RewardAdmin(ProgramTimeZoneMixin, ConfigHistoryAdmin):
    form = RewardAdminForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # noqa: RUF012
    list_display = ("title", "kind", "points", "stock_left_display", "units_issued", "active", "active_until")
    list_filter = ("kind", "active", "limit_period", "min_tier")
    list_editable = ("active",)
    search_fields = ("title", "sku")
    list_select_related = ("min_tier", "cause")
    filter_horizontal = ("segments", "shops")
    readonly_fields = ("units_issued", "public_id", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("kind", "title", "description", "image_url", "points", "position")}),
        (
            _("What it gives (by kind)"),
            {
                "fields": (
                    "value",
                    "currency",
                    "max_discount",
                    "no_cap",
                    "sku",
                    "points_per_unit",
                    "min_points",
                    "max_points",
                    "cause",
                ),
                "description": _(
                    "Fixed amount and store credit: value. Percentage: value (the percentage) and max discount "
                    "(or No cap). Free product: SKU. Pay with points: points per unit, min and max points (leave "
                    "points 0). Donation: cause. Currency: empty for the program's."
                ),
            },
        ),
        (_("When"), {"fields": ("active", "active_from", "active_until", "visible_from", "visible_until")}),
        (
            _("Limits and who may redeem"),
            {"fields": ("stock_total", "units_issued", "limit_per_member", "limit_period", "min_tier", "segments")},
        ),
        (_("The coupon"), {"fields": ("min_order", "coupon_valid_days", "shops")}),
        (None, {"fields": ("public_id", "created_at", "updated_at")}),
    )

    @admin.display(description=_("stock left"))
    def stock_left_display(self, reward):
        left = reward.stock_left
        return _("unlimited") if left is None else left


@admin.register(Cause)
class CauseAdmin(ConfigHistoryAdmin):
    list_display = ("name", "active", "donations", "donated_points")
    list_filter = ("active",)
    search_fields = ("name",)

    def get_queryset(self, request):
        done = Q(redemptions__status=Redemption.Status.COMPLETED)
        return (
            super()
            .get_queryset(request)
            .annotate(
                donated_points_total=Sum("redemptions__points", filter=done, default=0),
                donations_total=Count("redemptions", filter=done),
            )
        )

    @admin.display(description=_("donations"), ordering="donations_total")
    def donations(self, cause):
        return cause.donations_total

    @admin.display(description=_("points donated"), ordering="donated_points_total")
    def donated_points(self, cause):
        return cause.donated_points_total


class _ReadOnly(ReadOnlyAdminMixin, ProgramTimeZoneMixin, MemberSearchMixin, admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + list(self.extra_readonly)

    extra_readonly: tuple = ()


@admin.register(Redemption)
class RedemptionAdmin(_ReadOnly):
    list_display = (
        "created_at",
        "member_display",
        "reward",
        "points",
        "kind",
        "value",
        "currency",
        "status",
        "channel",
        "shop",
    )
    list_filter = ("status", "channel", "kind")
    search_fields = ("member__number", "member__user__email", "coupon__code", "idempotency_key", "reward__title")
    list_select_related = ("member__user", "reward", "shop")
    date_hierarchy = "created_at"
    extra_readonly = ("member_link",)

    @admin.display(description=_("member"), ordering="member__number")
    def member_display(self, redemption):
        return member_label(redemption.member)

    @admin.display(description=_("member"))
    def member_link(self, redemption):
        return admin_link(redemption.member, member_label(redemption.member))


@admin.register(Coupon)
class CouponAdmin(_ReadOnly):
    list_display = (
        "code",
        "member_display",
        "reward",
        "kind",
        "value",
        "currency",
        "status_display",
        "expires_at",
        "used_order_external_id",
    )
    list_filter = ("status", "kind")
    search_fields = ("code", "member__number", "member__user__email", "used_order_external_id")
    list_select_related = ("member__user", "reward")

    @admin.display(description=_("member"), ordering="member__number")
    def member_display(self, coupon):
        return member_label(coupon.member)

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, coupon):
        return coupon_display_status(coupon)

    def get_search_results(self, request, queryset, search_term):
        # A code as typed (lower case, spaces) finds the coupon too.
        from rewards.services.coupons import coupon_code_normalize

        return super().get_search_results(request, queryset, coupon_code_normalize(search_term) or search_term)


class StoreCreditEntryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StoreCreditEntry
    formset = LatestInlineFormSet
    fields = ("created_at", "amount", "balance_after", "kind", "reason", "source_ref", "idempotency_key")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    extra = 0
    max_num = 0
    can_delete = False


@admin.register(StoreCreditAccount)
class StoreCreditAccountAdmin(_ReadOnly):
    list_display = ("member_display", "currency", "balance", "updated_at")
    list_filter = ("currency",)
    search_fields = ("member__number", "member__user__email")
    list_select_related = ("member__user",)
    inlines = [StoreCreditEntryInline]
    extra_readonly = ("member_link",)

    @admin.display(description=_("member"), ordering="member__number")
    def member_display(self, account):
        return member_label(account.member)

    @admin.display(description=_("member"))
    def member_link(self, account):
        return admin_link(account.member, member_label(account.member))
