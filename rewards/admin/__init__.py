"""The staff side of the loyalty engine: program settings, points accounts and the read-only ledger.

The ledger (entries, lots, movements) is append-only, so its admins can look but never add, change or
delete; every change of points goes through rewards.services.ledger, here via the "Adjust points"
action that members and points accounts share.
"""

import re
import uuid
from collections import defaultdict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.exceptions import ApplicationError
from rewards.admin.history import ConfigHistoryAdmin, config_changes_urls
from rewards.forms import PointsAdjustForm, ProgramAdminForm
from rewards.models import (
    EarningRule,
    EventAward,
    EventRule,
    MemberEvent,
    PointEntry,
    PointLot,
    PointMovement,
    PointsAccount,
    Program,
)
from rewards.selectors import program_get
from rewards.services.ledger import Actor, points_adjust

admin.site.site_header = _("Loyalty administration")
admin.site.site_title = _("Loyalty administration")
admin.site.index_title = _("Program, members and points")

ADJUST_MAX_SELECTED = 200  # one ledger transaction per member; beyond this, use a campaign or a bonus
INLINE_LIMIT = 20  # latest rows shown on a change page; the full list is one link away


# --- shared display helpers ----------------------------------------------------------------------


def member_label(member) -> str:
    """How staff recognise a member everywhere in the admin: card number, then name (or e-mail)."""
    return f"{number_nowrap(member)} · {member.full_name or member.user.email}"


def number_nowrap(member) -> str:
    return member.number_display.replace(" ", "\u00a0")  # a card number never breaks across lines


def short_datetime(value) -> str:
    return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT") if value else "–"


def admin_link(obj, text) -> str:
    """A link to `obj`'s admin change page."""
    opts = obj._meta
    return format_html(
        '<a href="{}">{}</a>', reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]), text
    )


def ledger_url(model, account_id: int) -> str:
    """The changelist of `model` (entries or lots) narrowed to one account by AccountFilter."""
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") + "?" + urlencode({"account": account_id})


def signed(points: int) -> str:
    return f"{points:+d}" if points else "0"


class ProgramTimeZoneMixin:
    """Pages show times in the program's time zone (where "end of the year" is decided), not the server's."""

    def _in_program_time_zone(self, view, request, *args, **kwargs):
        try:
            zone = ZoneInfo(program_get().time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = timezone.get_default_timezone()  # a bad setting must not lock staff out of fixing it
        with timezone.override(zone):
            response = view(request, *args, **kwargs)
            if hasattr(response, "render"):
                response.render()  # a TemplateResponse renders lazily, after this block otherwise
            return response

    def changelist_view(self, request, extra_context=None):
        return self._in_program_time_zone(super().changelist_view, request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._in_program_time_zone(super().changeform_view, request, object_id, form_url, extra_context)


class MemberSearchMixin:
    """Search accepts a member number as printed on the card ("1234 5678 9012") as well as typed."""

    def get_search_results(self, request, queryset, search_term):
        compact = re.sub(r"[\s-]", "", search_term)
        if compact.isdigit():
            search_term = compact
        return super().get_search_results(request, queryset, search_term)


class AccountFilter(admin.SimpleListFilter):
    """`?account=<id>` narrows the ledger to one member; the sidebar names the member and offers "All"."""

    title = _("member")
    parameter_name = "account"

    def lookups(self, request, model_admin):
        value = self.value()
        if not value or not value.isdigit():
            return []
        account = PointsAccount.objects.select_related("member__user").filter(pk=value).first()
        return [(value, member_label(account.member))] if account else []

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(account_id=value)
        return queryset


class ReadOnlyAdminMixin:
    """The ledger is append-only: nobody adds, changes or deletes rows here (PostgreSQL also refuses)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LatestInlineFormSet(BaseInlineFormSet):
    """Shows only the newest INLINE_LIMIT rows (in the inline's ordering); the changelist has the rest."""

    def get_queryset(self):
        if not hasattr(self, "_latest"):
            self._latest = super().get_queryset()[:INLINE_LIMIT]
        return self._latest


class LedgerInline(ReadOnlyAdminMixin, admin.TabularInline):
    formset = LatestInlineFormSet
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True


# --- the "Adjust points" action --------------------------------------------------------------------


class PointsAdjustActionMixin:
    """The "Adjust points" action for any admin whose rows map to points accounts (`accounts_for`)."""

    def accounts_for(self, queryset):
        raise NotImplementedError

    def has_adjust_points_permission(self, request) -> bool:
        return request.user.has_perm("rewards.adjust_points")

    @admin.action(description=_("Adjust points"), permissions=["adjust_points"])
    def adjust_points(self, request, queryset):
        """First call: show the form with a fresh token. Second call (the form posted back): adjust."""
        selected = list(queryset.values_list("pk", flat=True)[: ADJUST_MAX_SELECTED + 1])
        if len(selected) > ADJUST_MAX_SELECTED:
            self.message_user(
                request,
                _("Select at most %(max)d at a time to adjust points.") % {"max": ADJUST_MAX_SELECTED},
                messages.ERROR,
            )
            return None
        accounts = list(
            self.accounts_for(queryset.model.objects.filter(pk__in=selected))
            .select_related("member__user")
            .order_by("member__number")
        )
        if "apply" in request.POST:
            form = PointsAdjustForm(request.POST)
            if form.is_valid():
                _adjust(self, request, accounts, form)
                return None  # back to the changelist, which shows the messages
        else:
            form = PointsAdjustForm()
        program = program_get()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust points"),
            "opts": self.model._meta,
            "form": form,
            "adminform": helpers.AdminForm(form, [(None, {"fields": ["points", "reason"]})], {}, model_admin=self),
            "accounts": accounts,
            "skipped": len(selected) - len(accounts),
            "selected": selected,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "staff_limit": program.staff_adjust_limit,
            "unlimited": request.user.has_perm("rewards.adjust_points_unlimited"),
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/rewards/adjust_points.html", context)


def _names(accounts, limit: int = 10) -> str:
    names = [member_label(a.member) for a in accounts[:limit]]
    if len(accounts) > limit:
        names.append(_("and %(count)d more") % {"count": len(accounts) - limit})
    return ", ".join(str(n) for n in names)


def _refusal(error: ApplicationError) -> str:
    if error.code == "idempotency_conflict":  # the same page posted again with other points
        return str(_("This form was already submitted with a different number of points; start again from the list."))
    return error.message


def _adjust(model_admin, request, accounts: list[PointsAccount], form: PointsAdjustForm) -> None:
    """One ledger call per member, each with its own key; a business refusal becomes an error message."""
    points, reason = form.cleaned_data["points"], form.cleaned_data["reason"]
    actor = Actor.staff(request.user)
    keys = {account.pk: form.idempotency_key(account) for account in accounts}
    submitted_before = set(
        PointEntry.objects.filter(idempotency_key__in=keys.values()).values_list("idempotency_key", flat=True)
    )
    adjusted, repeated, refused = [], [], defaultdict(list)
    for account in accounts:
        key = keys[account.pk]
        try:
            points_adjust(account=account, points=points, reason=reason, actor=actor, idempotency_key=key)
        except ApplicationError as error:
            refused[_refusal(error)].append(account)
            continue
        (repeated if key in submitted_before else adjusted).append(account)

    if adjusted:
        model_admin.message_user(
            request,
            ngettext(
                "Adjusted the points of %(count)d member by %(points)s: %(names)s.",
                "Adjusted the points of %(count)d members by %(points)s: %(names)s.",
                len(adjusted),
            )
            % {"count": len(adjusted), "points": signed(points), "names": _names(adjusted)},
            messages.SUCCESS,
        )
    if repeated:
        model_admin.message_user(
            request,
            _("This form was already submitted; not adjusted again: %(names)s.") % {"names": _names(repeated)},
            messages.WARNING,
        )
    for message, accounts_refused in refused.items():
        model_admin.message_user(
            request,
            _("Not adjusted: %(names)s. %(message)s") % {"names": _names(accounts_refused), "message": message},
            messages.ERROR,
        )


# --- program settings ------------------------------------------------------------------------------


@admin.register(Program)
class ProgramAdmin(ProgramTimeZoneMixin, ConfigHistoryAdmin):
    """One row (pk 1): the changelist goes straight to it; it cannot be added or deleted."""

    form = ProgramAdminForm
    fieldsets = (
        (None, {"fields": ("name", "currency", "time_zone")}),
        (_("Earning"), {"fields": ("pending_days", "rounding", "signup_bonus")}),
        (_("Expiry"), {"fields": ("expiry_policy", "expiry_period")}),
        (_("Refunds and transfers"), {"fields": ("reversal_policy", "transfers_enabled", "cancelled_order_coupons")}),
        (_("Staff"), {"fields": ("staff_adjust_limit",)}),
        (None, {"fields": ("updated_at",)}),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        # Lots carry their money value in the program's currency; switching it later would mix currencies.
        if obj is not None and PointLot.objects.exists():
            return ("updated_at", "currency")
        return ("updated_at",)

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return redirect(reverse("admin:rewards_program_change", args=[program_get().pk]))

    def get_urls(self):
        return [*config_changes_urls(self.admin_site), *super().get_urls()]  # "Configuration changes"


# --- points accounts -------------------------------------------------------------------------------


class EntryInline(LedgerInline):
    model = PointEntry
    verbose_name_plural = _("latest point entries")
    ordering = ("-created_at", "-id")
    fields = readonly_fields = (
        "created",
        "kind",
        "points_display",
        "available_change",
        "pending_change",
        "debt_change",
        "actor_display",
        "reason",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor_user")

    @admin.display(description=_("when"))
    def created(self, entry):
        return short_datetime(entry.created_at)

    @admin.display(description=_("points"))
    def points_display(self, entry):
        return signed(entry.points)

    @admin.display(description=_("by"))
    def actor_display(self, entry):
        return actor_label(entry)


class LotInline(LedgerInline):
    model = PointLot
    verbose_name_plural = _("latest point lots")
    ordering = ("-earned_at", "-id")
    fields = readonly_fields = (
        "earned_at",
        "points",
        "remaining",
        "state",
        "source",
        "source_ref",
        "available_at",
        "expires_at",
    )


def actor_label(entry: PointEntry) -> str:
    """Who made the change: a staff user's e-mail, a shop's reference, or the system."""
    who = entry.actor_user.email if entry.actor_user_id else entry.actor_ref
    return f"{entry.get_actor_kind_display()}: {who}" if who else entry.get_actor_kind_display()


class BalanceFilter(admin.SimpleListFilter):
    title = _("balance")
    parameter_name = "balance"

    def lookups(self, request, model_admin):
        return [
            ("available", _("Has available points")),
            ("pending", _("Has pending points")),
            ("debt", _("Owes points (debt)")),
            ("empty", _("No points")),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "available":
                return queryset.filter(available__gt=0)
            case "pending":
                return queryset.filter(pending__gt=0)
            case "debt":
                return queryset.filter(debt__gt=0)
            case "empty":
                return queryset.filter(available=0, pending=0)
        return queryset


@admin.register(PointsAccount)
class PointsAccountAdmin(
    ProgramTimeZoneMixin, PointsAdjustActionMixin, MemberSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    """Balances are cached by the ledger services; here they are read, and changed only by the action."""

    actions = ["adjust_points"]
    list_display = (
        "member_display",
        "member_status",
        "available",
        "pending",
        "debt",
        "lifetime_earned",
        "last_activity",
    )
    list_select_related = ("member__user",)
    list_filter = (BalanceFilter, "member__status")
    search_fields = ("member__number", "member__user__email", "member__first_name", "member__last_name")
    ordering = ("-created_at", "-id")
    fieldsets = (
        (None, {"fields": ("member_link", "member_status")}),
        (_("Balance"), {"fields": ("available", "pending", "debt", "ledger_links")}),
        (_("Lifetime"), {"fields": ("lifetime_earned", "lifetime_redeemed", "lifetime_expired")}),
        (_("Dates"), {"fields": ("last_activity_at", "created_at", "updated_at", "public_id")}),
    )
    readonly_fields = (
        "member_link",
        "member_status",
        "available",
        "pending",
        "debt",
        "ledger_links",
        "lifetime_earned",
        "lifetime_redeemed",
        "lifetime_expired",
        "last_activity_at",
        "created_at",
        "updated_at",
        "public_id",
    )
    inlines = [EntryInline, LotInline]

    def accounts_for(self, queryset):
        return queryset

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member__user")

    @admin.display(description=_("member"), ordering="member__number")
    def member_display(self, account):
        return member_label(account.member)

    @admin.display(description=_("member"))
    def member_link(self, account):
        return admin_link(account.member, member_label(account.member))

    @admin.display(description=_("last activity"), ordering="last_activity_at")
    def last_activity(self, account):
        return short_datetime(account.last_activity_at)

    @admin.display(description=_("status"), ordering="member__status")
    def member_status(self, account):
        return account.member.get_status_display()

    @admin.display(description=_("ledger"))
    def ledger_links(self, account):
        entries = PointEntry.objects.filter(account=account).count()
        lots = PointLot.objects.filter(account=account).count()
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            ledger_url(PointEntry, account.pk),
            ngettext("%(count)d entry", "all %(count)d entries", entries) % {"count": entries},
            ledger_url(PointLot, account.pk),
            ngettext("%(count)d lot", "all %(count)d lots", lots) % {"count": lots},
        )


# --- the ledger: entries, lots and their movements (read-only) ---------------------------------------


class LedgerAdmin(ProgramTimeZoneMixin, MemberSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_per_page = 50
    show_full_result_count = False  # the ledger grows without bound; one COUNT per page is enough
    date_hierarchy = "created_at"
    search_fields = ("account__member__number", "account__member__user__email", "account__member__last_name")

    @admin.display(description=_("member"), ordering="account__member__number")
    def member_display(self, obj):
        return member_label(obj.account.member)

    @admin.display(description=_("member"))
    def member_link(self, obj):
        return format_html(
            "{} · {}",
            admin_link(obj.account.member, member_label(obj.account.member)),
            admin_link(obj.account, _("points account")),
        )


class EntryMovementInline(LedgerInline):
    model = PointMovement
    fk_name = "entry"
    verbose_name_plural = _("lots this entry changed")
    show_change_link = False
    fields = readonly_fields = ("lot_link", "available_change", "pending_change")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("lot").order_by("lot__earned_at", "lot_id")

    @admin.display(description=_("lot"))
    def lot_link(self, movement):
        return admin_link(movement.lot, f"{movement.lot} · {movement.lot.earned_at:%Y-%m-%d}")


@admin.register(PointEntry)
class PointEntryAdmin(LedgerAdmin):
    list_display = (
        "created",
        "member_display",
        "kind",
        "points_display",
        "available_change",
        "pending_change",
        "actor_display",
        "reason_display",
    )
    list_filter = (AccountFilter, "kind", "actor_kind")
    list_select_related = ("account__member__user", "actor_user")
    search_fields = (*LedgerAdmin.search_fields, "reason", "=idempotency_key")
    fieldsets = (
        (None, {"fields": ("member_link", "kind", "points_display", "reason", "created_at")}),
        (_("Changes"), {"fields": ("available_change", "pending_change", "debt_change")}),
        (_("Actor"), {"fields": ("actor_kind", "actor_user_display", "actor_ref")}),
        (_("Technical"), {"fields": ("idempotency_key", "public_id", "details")}),
    )
    readonly_fields = (
        "member_link",
        "kind",
        "points_display",
        "reason",
        "created_at",
        "available_change",
        "pending_change",
        "debt_change",
        "actor_kind",
        "actor_user_display",
        "actor_ref",
        "idempotency_key",
        "public_id",
        "details",
    )
    inlines = [EntryMovementInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__member__user", "actor_user")

    @admin.display(description=_("when"), ordering="created_at")
    def created(self, entry):
        return short_datetime(entry.created_at)

    @admin.display(description=_("points"))
    def points_display(self, entry):
        return signed(entry.points)

    @admin.display(description=_("by"), ordering="actor_kind")
    def actor_display(self, entry):
        return actor_label(entry)

    @admin.display(description=_("staff user"))
    def actor_user_display(self, entry):
        return entry.actor_user.email if entry.actor_user_id else "–"

    @admin.display(description=_("reason"))
    def reason_display(self, entry):
        return entry.reason if len(entry.reason) <= 60 else entry.reason[:59] + "…"


class LotMovementInline(LedgerInline):
    model = PointMovement
    fk_name = "lot"
    verbose_name_plural = _("entries that changed this lot")
    show_change_link = False
    fields = readonly_fields = ("entry_link", "available_change", "pending_change")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("entry").order_by("entry__created_at", "entry_id")

    @admin.display(description=_("entry"))
    def entry_link(self, movement):
        entry = movement.entry
        return format_html(
            "{} · {}", admin_link(entry, str(entry)), f"{entry.created_at:%Y-%m-%d %H:%M} · {entry.reason}"
        )


@admin.register(PointLot)
class PointLotAdmin(LedgerAdmin):
    list_display = (
        "earned",
        "member_display",
        "points",
        "remaining",
        "state",
        "source",
        "available",
        "expires",
        "value_display",
    )
    list_filter = (AccountFilter, "state", "source")
    list_select_related = ("account__member__user",)
    search_fields = (*LedgerAdmin.search_fields, "source_ref")
    fieldsets = (
        (None, {"fields": ("member_link", "source", "source_ref", "state")}),
        (_("Points"), {"fields": ("points", "remaining", "reversed_points", "value_display")}),
        (_("Dates"), {"fields": ("earned_at", "available_at", "expires_at", "updated_at", "public_id")}),
    )
    readonly_fields = (
        "member_link",
        "source",
        "source_ref",
        "state",
        "points",
        "remaining",
        "reversed_points",
        "value_display",
        "earned_at",
        "available_at",
        "expires_at",
        "updated_at",
        "public_id",
    )
    inlines = [LotMovementInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__member__user")

    @admin.display(description=_("earned"), ordering="earned_at")
    def earned(self, lot):
        return short_datetime(lot.earned_at)

    @admin.display(description=_("available from"), ordering="available_at")
    def available(self, lot):
        return short_datetime(lot.available_at)

    @admin.display(description=_("expires"), ordering="expires_at")
    def expires(self, lot):
        return short_datetime(lot.expires_at) if lot.expires_at else _("never")

    @admin.display(description=_("value"), ordering="value")
    def value_display(self, lot):
        return f"{lot.value:.2f}\u00a0{lot.value_currency}"


# --- earning rules and event rules -------------------------------------------------------------------


class NamesField(forms.CharField):
    """A list typed one per line (or separated by commas), stored as a JSON list of strings."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 40})

    def prepare_value(self, value):
        return "\n".join(str(v) for v in value) if isinstance(value, list | tuple) else value

    def to_python(self, value):
        if isinstance(value, list | tuple):
            value = "\n".join(str(v) for v in value)
        parts = (part.strip() for part in re.split(r"[\n,]", super().to_python(value)))
        return list(dict.fromkeys(part for part in parts if part))


class ShopIdsField(NamesField):
    def to_python(self, value):
        ids = super().to_python(value)
        try:
            return [str(uuid.UUID(shop_id)) for shop_id in ids]
        except ValueError:
            raise forms.ValidationError(_("Enter the shops' ids (UUIDs), one per line.")) from None


def _window_errors(cleaned: dict) -> dict:
    starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
    if starts and ends and ends <= starts:
        return {"ends_at": _("The rule must end after it starts.")}
    return {}


class EarningRuleForm(forms.ModelForm):
    categories = NamesField(
        required=False,
        help_text=_("One per line, as your shops name them (capitals do not matter). Empty: every product."),
    )
    skus = NamesField(required=False, help_text=_("One per line. Empty: every product."))
    shop_ids = ShopIdsField(required=False, label=_("shops"), help_text=_("Shop ids, one per line. Empty: every shop."))

    class Meta:
        model = EarningRule
        fields = (
            "name",
            "kind",
            "is_active",
            "currency",
            "points",
            "amount",
            "multiplier",
            "rounding",
            "scope",
            "include_tax",
            "include_shipping",
            "subtract_discounts",
            "minimum_order_value",
            "categories",
            "skus",
            "shop_ids",
            "starts_at",
            "ends_at",
            "priority",
            "stop_after",
        )

    def clean_currency(self):
        currency = self.cleaned_data["currency"].strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise forms.ValidationError(_("Enter a three-letter ISO 4217 code, e.g. EUR."))
        return currency

    def clean(self):
        cleaned = super().clean()
        errors = _window_errors(cleaned)
        kind = cleaned.get("kind")
        names_products = cleaned.get("categories") or cleaned.get("skus")
        if kind in (EarningRule.Kind.EXCLUSION, EarningRule.Kind.FIXED) and not names_products:
            errors["categories"] = _("Name the categories or SKUs this rule is for.")
        if kind == EarningRule.Kind.MULTIPLIER and cleaned.get("multiplier") == 1:
            errors["multiplier"] = _("A multiplier of 1 changes nothing; use 2 for double points.")
        for name, error in errors.items():
            self.add_error(name, error)
        return cleaned


@admin.register(EarningRule)
class EarningRuleAdmin(ProgramTimeZoneMixin, ConfigHistoryAdmin):
    """Order earning rules; docs/earning.md explains them. Changes apply to orders evaluated afterwards."""

    form = EarningRuleForm
    list_display = (
        "name",
        "kind",
        "rate_display",
        "products_display",
        "currency",
        "scope",
        "priority",
        "stop_after",
        "window_display",
        "is_active",
    )
    list_filter = ("is_active", "kind", "currency", "scope")
    search_fields = ("name",)
    ordering = ("currency", "-priority", "id")
    readonly_fields = ("public_id", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "is_active", "currency")}),
        (
            _("Points"),
            {
                "description": _(
                    "Base rate: <b>points</b> per <b>amount</b> (1 per 1.00, 1 per 10.00, 5 per 1.00). "
                    "Fixed: <b>points</b> for every unit bought. Multiplier: <b>multiplier</b> times the "
                    "base-rate points. Exclusion: the products never earn, whatever other rules say."
                ),
                "fields": ("points", "amount", "multiplier", "rounding", "scope"),
            },
        ),
        (
            _("What the order is worth"),
            {"fields": ("include_tax", "include_shipping", "subtract_discounts", "minimum_order_value")},
        ),
        (_("Products"), {"fields": ("categories", "skus")}),
        (_("Shops and dates"), {"fields": ("shop_ids", "starts_at", "ends_at")}),
        (_("Order of the rules"), {"fields": ("priority", "stop_after")}),
        (_("Technical"), {"classes": ("collapse",), "fields": ("public_id", "created_at", "updated_at")}),
    )

    @admin.display(description=_("points"))
    def rate_display(self, rule):
        match rule.kind:
            case EarningRule.Kind.BASE_RATE:
                return _("%(points)s per %(amount)s %(currency)s") % {
                    "points": rule.points.normalize(),
                    "amount": rule.amount,
                    "currency": rule.currency,
                }
            case EarningRule.Kind.FIXED:
                return _("%(points)s per unit") % {"points": rule.points.normalize()}
            case EarningRule.Kind.MULTIPLIER:
                return f"×{rule.multiplier.normalize()}"
        return _("never earn")

    @admin.display(description=_("products"))
    def products_display(self, rule):
        names = [*rule.categories, *rule.skus]
        if not names:
            return _("all products")
        text = ", ".join(str(n) for n in names)
        return text if len(text) <= 60 else text[:59] + "…"

    @admin.display(description=_("active dates"), ordering="starts_at")
    def window_display(self, rule):
        return window_label(rule)


def window_label(rule) -> str:
    if not rule.starts_at and not rule.ends_at:
        return _("always")
    starts = short_datetime(rule.starts_at) if rule.starts_at else "…"
    return f"{starts} – {short_datetime(rule.ends_at) if rule.ends_at else '…'}"


class EventRuleForm(forms.ModelForm):
    shop_ids = ShopIdsField(required=False, label=_("shops"), help_text=_("Shop ids, one per line. Empty: every shop."))

    class Meta:
        model = EventRule
        fields = (
            "name",
            "event",
            "is_active",
            "points",
            "limit_count",
            "limit_period",
            "shop_ids",
            "starts_at",
            "ends_at",
        )

    def clean_event(self):
        event = self.cleaned_data["event"].strip().lower()
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.:-]*", event):
            raise forms.ValidationError(_("Use lower-case letters, digits and _ . : - only, e.g. review_written."))
        return event

    def clean(self):
        cleaned = super().clean()
        for name, error in _window_errors(cleaned).items():
            self.add_error(name, error)
        return cleaned


@admin.register(EventRule)
class EventRuleAdmin(ProgramTimeZoneMixin, ConfigHistoryAdmin):
    """Points for actions: sign-up, birthday, reviews, custom events the shops send."""

    form = EventRuleForm
    list_display = ("name", "event", "points", "limit_display", "window_display", "is_active")
    list_filter = ("is_active", "event", "limit_period")
    search_fields = ("name", "event")
    ordering = ("event", "id")
    readonly_fields = ("public_id", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "event", "is_active", "points")}),
        (
            _("Limit per member"),
            {
                "description": _("For example 1 per day for reviews, or 1 ever for the newsletter sign-up."),
                "fields": ("limit_count", "limit_period"),
            },
        ),
        (_("Shops and dates"), {"fields": ("shop_ids", "starts_at", "ends_at")}),
        (_("Technical"), {"classes": ("collapse",), "fields": ("public_id", "created_at", "updated_at")}),
    )

    @admin.display(description=_("limit"), ordering="limit_count")
    def limit_display(self, rule):
        if rule.limit_count is None:
            return _("no limit")
        return f"{rule.limit_count} {rule.get_limit_period_display()}"

    @admin.display(description=_("active dates"), ordering="starts_at")
    def window_display(self, rule):
        return window_label(rule)


# --- events and what the rules gave for them (read-only: written by rewards.services.events) ---------


class EventAwardInline(LedgerInline):
    model = EventAward
    fk_name = "member_event"
    verbose_name_plural = _("what each matching rule gave")
    show_change_link = False
    fields = readonly_fields = ("rule_link", "status", "points", "entry_link")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("rule", "entry").order_by("id")

    @admin.display(description=_("rule"))
    def rule_link(self, award):
        return admin_link(award.rule, award.rule_name) if award.rule else award.rule_name

    @admin.display(description=_("ledger entry"))
    def entry_link(self, award):
        return admin_link(award.entry, award.entry) if award.entry else "–"


@admin.register(MemberEvent)
class MemberEventAdmin(ProgramTimeZoneMixin, MemberSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every event reported for a member, by shops or the platform, with the points it earned or why not."""

    list_display = ("occurred_at", "member_display", "event", "shop", "status", "points")
    list_filter = ("status", "event")
    list_select_related = ("member__user", "shop")
    list_per_page = 50
    show_full_result_count = False  # grows like the ledger
    date_hierarchy = "occurred_at"
    search_fields = ("member__number", "member__user__email", "external_id", "event")
    fields = readonly_fields = (
        "member_link",
        "event",
        "status",
        "points",
        "occurred_at",
        "shop",
        "external_id",
        "idempotency_key",
        "public_id",
        "created_at",
    )
    inlines = [EventAwardInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member__user", "shop")

    @admin.display(description=_("member"), ordering="member__number")
    def member_display(self, event):
        return member_label(event.member)

    @admin.display(description=_("member"))
    def member_link(self, event):
        return admin_link(event.member, member_label(event.member))


# The admin screens of each part of the engine register themselves on import.
from rewards.admin import campaigns, catalogue, tiers  # noqa: E402, F401
