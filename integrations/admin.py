"""The staff side of shops, their API keys, their customers and their orders.

Keys are made, rotated and revoked only through integrations.services.shops, here by admin actions: "Create an
API key" on the shop list, "Rotate" and "Revoke" on the key list. A new key's plaintext is shown once, on
the page the action answers with (never stored, never sent in a cookie); the hash is never shown. After
creation only a key's name can be changed; keys are revoked, not deleted.

Orders, their refunds and shop customers are read-only here: they change only through the API (the shop is
the source of truth for an order; a correction is a refund or a cancel, which reverse points in the ledger).
"""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.exceptions import ApplicationError
from integrations.forms import ApiKeyCreateForm, ApiKeyRotateForm, ShopAdminForm
from integrations.models import ApiKey, Order, Refund, Shop, ShopCustomer
from integrations.services.shops import api_key_create, api_key_revoke, api_key_rotate, shop_widget_secret_rotate
from rewards.admin import (
    MemberSearchMixin,
    ProgramTimeZoneMixin,
    ReadOnlyAdminMixin,
    admin_link,
    member_label,
    short_datetime,
    signed,
)
from rewards.admin.history import ConfigHistoryAdmin


def key_status(api_key: ApiKey) -> str:
    now = timezone.now()
    if api_key.revoked_at is None:
        return str(_("Live"))
    if api_key.revoked_at > now:
        return str(_("Live until %(when)s") % {"when": short_datetime(api_key.revoked_at)})
    return str(_("Revoked"))


def _form_page(model_admin, request, *, form, title, action, intro, selected, submit, objects):
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "opts": model_admin.model._meta,
        "form": form,
        "adminform": helpers.AdminForm(
            form, [(None, {"fields": [f.name for f in form.visible_fields()]})], {}, model_admin=model_admin
        ),
        "objects": objects,
        "selected": selected,
        "action": action,
        "submit": submit,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": model_admin.media + form.media,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/integrations/api_key_form.html", context)


def _plaintext_page(model_admin, request, *, title, created: list[tuple[ApiKey, str]]):
    """The one and only time the plaintext keys are shown: in a message rendered on this very page."""
    for api_key, plaintext in created:
        model_admin.message_user(
            request,
            _("New API key for %(shop)s (%(name)s): %(key)s — copy it now; it cannot be shown again.")
            % {"shop": api_key.shop.name, "name": api_key.name, "key": plaintext},
            messages.SUCCESS,
        )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "created": created,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/integrations/api_key_plaintext.html", context)


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fk_name = "shop"
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("API keys (create them with the action on the shop list)")
    fields = readonly_fields = ("prefix", "name", "scopes_display", "status", "last_used", "created")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("scopes"))
    def scopes_display(self, api_key):
        return ", ".join(api_key.scopes)

    @admin.display(description=_("status"))
    def status(self, api_key):
        return key_status(api_key)

    @admin.display(description=_("last used"))
    def last_used(self, api_key):
        return short_datetime(api_key.last_used_at)

    @admin.display(description=_("created"))
    def created(self, api_key):
        return short_datetime(api_key.created_at)


class ShopWidgetAdminForm(ShopAdminForm):
    """The shop form with the widget's look optional: left empty, a field takes its default."""

    DEFAULTED = ("widget_colour", "widget_text_colour", "widget_position")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.DEFAULTED:
            if name in self.fields:
                self.fields[name].required = False

    def _clean_defaulted(self, name: str) -> str:
        return self.cleaned_data.get(name) or Shop._meta.get_field(name).get_default()

    def clean_widget_colour(self) -> str:
        return self._clean_defaulted("widget_colour")

    def clean_widget_text_colour(self) -> str:
        return self._clean_defaulted("widget_text_colour")

    def clean_widget_position(self) -> str:
        return self._clean_defaulted("widget_position")


@admin.register(Shop)
class ShopAdmin(ProgramTimeZoneMixin, ConfigHistoryAdmin):
    form = ShopWidgetAdminForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # the widget's join and sign-in links
    actions = ["create_api_key", "rotate_widget_secret"]
    list_display = ("name", "kind", "currency", "time_zone", "active", "widget_enabled", "live_keys")
    list_filter = ("kind", "active", "currency")
    search_fields = ("name",)
    ordering = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "kind", "active")}),
        (_("Money and time"), {"fields": ("currency", "time_zone")}),
        (
            _("Storefront widget"),
            {
                "fields": (
                    "widget_enabled",
                    "allowed_origins",
                    "widget_auto_join",
                    "widget_key",
                    "widget_secret_hint",
                    "widget_snippet",
                ),
                "description": _("How to install it and sign shopper tokens: docs/widget.md."),
            },
        ),
        (
            _("Widget look and words"),
            {
                "classes": ("collapse",),
                "fields": (
                    ("widget_colour", "widget_text_colour"),
                    "widget_position",
                    "widget_launcher_label",
                    "widget_title",
                    "widget_welcome_guest",
                    "widget_welcome_member",
                    "widget_join_url",
                    "widget_signin_url",
                ),
            },
        ),
        (_("Customers and orders"), {"fields": ("customers_and_orders",)}),
        (_("Technical"), {"fields": ("public_id", "created_at", "updated_at")}),
    )
    readonly_fields = (
        "customers_and_orders",
        "widget_key",
        "widget_secret_hint",
        "widget_snippet",
        "public_id",
        "created_at",
        "updated_at",
    )
    inlines = [ApiKeyInline]

    @admin.display(description=_("widget secret"))
    def widget_secret_hint(self, shop):
        if shop.pk is None:
            return "–"
        return format_html(
            "<code>{}…</code> {}",
            shop.widget_secret[:8],
            _("Shown only when made: use the action “Rotate the widget secret” on the shop list to get one."),
        )

    @admin.display(description=_("snippet for the shop's pages"))
    def widget_snippet(self, shop):
        if shop.pk is None:
            return "–"
        src = settings.SITE_URL.rstrip("/") + static("widget/loyalty.js")  # the portal's address, not the admin's
        return format_html(
            '<code style="user-select: all">&lt;script src="{}" data-shop="{}" async&gt;&lt;/script&gt;</code>',
            src,
            shop.widget_key,
        )

    @admin.display(description=_("customers and orders"))
    def customers_and_orders(self, shop):
        # Links, not inlines: a shop may have hundreds of thousands of customers and orders.
        if shop.pk is None:
            return "–"
        customers = ShopCustomer.objects.filter(shop=shop).count()
        orders = Order.objects.filter(shop=shop).count()
        narrowed = "?" + urlencode({"shop__id__exact": shop.pk})
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:integrations_shopcustomer_changelist") + narrowed,
            ngettext("%(count)d customer", "%(count)d customers", customers) % {"count": customers},
            reverse("admin:integrations_order_changelist") + narrowed,
            ngettext("%(count)d order", "%(count)d orders", orders) % {"count": orders},
        )

    def get_queryset(self, request):
        now = timezone.now()
        live = Q(api_keys__revoked_at__isnull=True) | Q(api_keys__revoked_at__gt=now)
        return super().get_queryset(request).annotate(live_key_count=Count("api_keys", filter=live))

    @admin.display(description=_("live API keys"), ordering="live_key_count")
    def live_keys(self, shop):
        return shop.live_key_count

    def has_create_key_permission(self, request) -> bool:
        return request.user.has_perm("integrations.add_apikey")

    @admin.action(description=_("Create an API key for the selected shop"), permissions=["create_key"])
    def create_api_key(self, request, queryset):
        """First call: the form (name, scopes). Second call (posted back with "apply"): create and show once."""
        shops = list(queryset[:2])
        if len(shops) != 1:
            self.message_user(request, _("Select exactly one shop to create an API key for."), messages.ERROR)
            return None
        shop = shops[0]
        form = ApiKeyCreateForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            if not form.claim():
                self.message_user(
                    request,
                    _("This form was already submitted and its key shown then; it is not created twice."),
                    messages.WARNING,
                )
                return None
            try:
                api_key, plaintext = api_key_create(
                    shop=shop,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    created_by=request.user,
                )
            except ApplicationError as error:
                self.message_user(request, error.message, messages.ERROR)
                return None
            return _plaintext_page(self, request, title=_("New API key"), created=[(api_key, plaintext)])
        return _form_page(
            self,
            request,
            form=form,
            title=_("Create an API key"),
            action="create_api_key",
            intro=_("A new key for %(shop)s. Its secret is shown once, on the next page.") % {"shop": shop.name},
            selected=[shop.pk],
            submit=_("Create the key"),
            objects=[],
        )

    def has_rotate_widget_secret_permission(self, request) -> bool:
        return request.user.has_perm("integrations.change_shop")

    @admin.action(
        description=_("Rotate the widget secret (shows the new one once)"), permissions=["rotate_widget_secret"]
    )
    def rotate_widget_secret(self, request, queryset):
        """A new secret per selected shop, shown on the page this answers with (never in a message cookie)."""
        rotated = [(shop, shop_widget_secret_rotate(shop=shop)) for shop in queryset.order_by("name")]
        context = {
            **self.admin_site.each_context(request),
            "title": _("New widget secrets"),
            "opts": self.model._meta,
            "rotated": rotated,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/integrations/widget_secret.html", context)


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("live", _("Live")), ("ending", _("Live until a set time")), ("revoked", _("Revoked"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        match self.value():
            case "live":
                return queryset.filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=now))
            case "ending":
                return queryset.filter(revoked_at__gt=now)
            case "revoked":
                return queryset.filter(revoked_at__lte=now)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(ProgramTimeZoneMixin, admin.ModelAdmin):
    """No add page (keys are made by the shop action, which shows the secret once) and no delete (revoke)."""

    actions = ["rotate_api_keys", "revoke_api_keys"]
    list_display = ("prefix", "name", "shop", "scopes_display", "status", "last_used", "created")
    list_select_related = ("shop",)
    list_filter = (StatusFilter, "shop")
    search_fields = ("prefix", "name", "shop__name")
    ordering = ("-created_at", "-id")
    fieldsets = (
        (None, {"fields": ("name", "shop_link", "prefix", "scopes_display", "status")}),
        (_("History"), {"fields": ("created_at", "created_by_display", "last_used_at", "revoked_at", "rotation")}),
        (_("Technical"), {"fields": ("public_id",)}),
    )
    readonly_fields = (
        "shop_link",
        "prefix",
        "scopes_display",
        "status",
        "created_at",
        "created_by_display",
        "last_used_at",
        "revoked_at",
        "rotation",
        "public_id",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("shop", "created_by", "rotated_from")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_rotate_permission(self, request) -> bool:
        return request.user.has_perm("integrations.add_apikey") and request.user.has_perm("integrations.change_apikey")

    @admin.display(description=_("scopes"))
    def scopes_display(self, api_key):
        return ", ".join(api_key.scopes)

    @admin.display(description=_("status"), ordering="revoked_at")
    def status(self, api_key):
        return key_status(api_key)

    @admin.display(description=_("last used"), ordering="last_used_at")
    def last_used(self, api_key):
        return short_datetime(api_key.last_used_at)

    @admin.display(description=_("created"), ordering="created_at")
    def created(self, api_key):
        return short_datetime(api_key.created_at)

    @admin.display(description=_("shop"))
    def shop_link(self, api_key):
        return admin_link(api_key.shop, api_key.shop.name)

    @admin.display(description=_("created by"))
    def created_by_display(self, api_key):
        return api_key.created_by.email if api_key.created_by_id else "–"

    @admin.display(description=_("rotation"))
    def rotation(self, api_key):
        parts = []
        if api_key.rotated_from_id:
            parts.append(_("replaces %(key)s") % {"key": api_key.rotated_from.prefix})
        successor = ApiKey.objects.filter(rotated_from=api_key).first()
        if successor:
            parts.append(_("replaced by %(key)s") % {"key": successor.prefix})
        return "; ".join(str(p) for p in parts) or "–"

    @admin.action(description=_("Rotate the selected API keys (new secret, same scopes)"), permissions=["rotate"])
    def rotate_api_keys(self, request, queryset):
        keys = list(queryset.select_related("shop").order_by("pk"))
        form = ApiKeyRotateForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            created, refused = [], []
            for api_key in keys:
                try:
                    created.append(
                        api_key_rotate(api_key=api_key, grace=form.cleaned_data["grace"], created_by=request.user)
                    )
                except ApplicationError as error:
                    refused.append(f"{api_key.prefix}: {error.message}")
            for reason in refused:
                self.message_user(request, _("Not rotated: %(reason)s") % {"reason": reason}, messages.ERROR)
            if not created:
                return None
            return _plaintext_page(self, request, title=_("Rotated API keys"), created=created)
        return _form_page(
            self,
            request,
            form=form,
            title=_("Rotate API keys"),
            action="rotate_api_keys",
            intro=_(
                "Each key gets a replacement with the same shop, name and scopes; the new secrets are shown "
                "once, on the next page. Choose when the old keys stop working."
            ),
            selected=[k.pk for k in keys],
            submit=_("Rotate"),
            objects=keys,
        )

    @admin.action(description=_("Revoke the selected API keys now"), permissions=["change"])
    def revoke_api_keys(self, request, queryset):
        now = timezone.now()
        keys = list(queryset.order_by("pk"))
        live = [k for k in keys if not k.is_revoked(now)]
        for api_key in live:
            api_key_revoke(api_key=api_key)
        self.message_user(
            request,
            ngettext("Revoked %(count)d API key.", "Revoked %(count)d API keys.", len(live)) % {"count": len(live)},
            messages.SUCCESS,
        )
        if len(keys) > len(live):
            self.message_user(
                request,
                ngettext(
                    "%(count)d key was already revoked.", "%(count)d keys were already revoked.", len(keys) - len(live)
                )
                % {"count": len(keys) - len(live)},
                messages.WARNING,
            )


# --- shop customers and orders (read-only) ------------------------------------------------------------


@admin.register(ShopCustomer)
class ShopCustomerAdmin(ProgramTimeZoneMixin, MemberSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who each shop knows as a customer, under which id. A list of its own rather than an inline on the shop
    page: a shop may have far more customers than a page can hold. Links are made by POST /members."""

    list_display = ("shop", "external_id_display", "member_display", "email", "linked")
    list_select_related = ("shop", "member__user")
    list_filter = ("shop",)
    search_fields = ("=external_id", "member__number", "member__user__email")
    ordering = ("-created_at", "-id")
    list_per_page = 50
    show_full_result_count = False
    fields = readonly_fields = ("shop_link", "external_id_display", "member_link", "created_at", "public_id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("shop", "member__user")

    @admin.display(description=_("customer id at the shop"), ordering="external_id")
    def external_id_display(self, link):
        return link.external_id or _("(none: known by e-mail)")

    @admin.display(description=_("member"), ordering="member__number")
    def member_display(self, link):
        return member_label(link.member)

    @admin.display(description=_("e-mail"), ordering="member__user__email")
    def email(self, link):
        return link.member.user.email

    @admin.display(description=_("linked"), ordering="created_at")
    def linked(self, link):
        return short_datetime(link.created_at)

    @admin.display(description=_("shop"))
    def shop_link(self, link):
        return admin_link(link.shop, link.shop.name)

    @admin.display(description=_("member"))
    def member_link(self, link):
        return admin_link(link.member, member_label(link.member))


def lot_status(order: Order) -> str:
    """Where the order's points are in the ledger: the state of its lot (pending, available, spent...)."""
    if order.lot_id is None:
        return str(_("none (unmatched)") if order.status == Order.Status.UNMATCHED else _("none"))
    lot = order.lot
    if lot.state == lot.State.PENDING:
        return str(_("Pending until %(when)s") % {"when": short_datetime(lot.available_at)})
    return lot.get_state_display()


def money(amount, currency: str) -> str:
    return f"{amount:.2f}\u00a0{currency}"


class RefundInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Refund
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("refunds (recorded through the API)")
    fields = readonly_fields = ("external_id", "created", "refunded", "points")

    @admin.display(description=_("when"))
    def created(self, refund):
        return short_datetime(refund.created_at)

    @admin.display(description=_("refunded"))
    def refunded(self, refund):
        if refund.amount is not None:
            return money(refund.amount, refund.order.currency)
        return ", ".join(f"{line['quantity']} × {line['sku']}" for line in refund.lines or ())

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")


def _rules_cell(rules: list[dict]):
    if not rules:
        return "–"
    named = ((rule.get("name") or rule.get("kind", ""), signed(int(rule.get("points", 0)))) for rule in rules)
    return format_html_join(mark_safe("<br>"), "{}: {}", named)


def breakdown_table(breakdown: dict) -> str:
    """The stored breakdown as staff read it: one row per order line with the rules that earned its points."""
    if not breakdown:
        return "–"
    rows = [
        format_html(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            line.get("sku", ""),
            line.get("name", ""),
            line.get("category", ""),
            line.get("quantity", ""),
            line.get("total", ""),
            _rules_cell(line.get("rules", []))
            if not line.get("excluded_by")
            else format_html("{} {}", _("excluded by"), line["excluded_by"]),
            line.get("points", 0),
        )
        for line in breakdown.get("lines", [])
    ]
    if breakdown.get("unallocated_points") or breakdown.get("unallocated_rules"):
        rows.append(
            format_html(
                '<tr><td colspan="5">{}</td><td>{}</td><td>{}</td></tr>',
                _("the order as a whole (it has no lines)"),
                _rules_cell(breakdown.get("unallocated_rules", [])),
                breakdown.get("unallocated_points", 0),
            )
        )
    notes = format_html_join("", "<li>{}</li>", ((note.get("message", ""),) for note in breakdown.get("notes", [])))
    return format_html(
        '<table class="order-breakdown"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>'
        "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody>"
        '<tfoot><tr><th colspan="6">{}</th><th>{}</th></tr></tfoot></table>{}<p class="help">{}</p>',
        _("SKU"),
        _("name"),
        _("category"),
        _("quantity"),
        _("total"),
        _("rules applied"),
        _("points"),
        format_html_join("", "{}", ((row,) for row in rows)),
        _("points the order earned"),
        breakdown.get("points", 0),
        format_html("<ul>{}</ul>", notes) if notes else "",
        _("Evaluated %(when)s by the rules then active; refunds reverse points from this table.")
        % {"when": breakdown.get("evaluated_at", "?")},
    )


@admin.register(Order)
class OrderAdmin(ProgramTimeZoneMixin, MemberSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Orders as the shops reported them, with the points each earned and how. Read-only: the shop's API
    calls (refunds, cancel) are the only way an order changes, so the ledger and the shop never disagree."""

    list_display = (
        "external_id",
        "shop",
        "customer",
        "status",
        "total_display",
        "points",
        "points_reversed",
        "points_status",
        "placed",
    )
    list_select_related = ("shop", "member__user", "lot")
    list_filter = ("shop", "status", "placed_at")
    search_fields = ("=external_id", "email", "member__number", "member__user__email")
    ordering = ("-placed_at", "-id")
    list_per_page = 50
    show_full_result_count = False  # orders grow without bound; one COUNT per page is enough
    fieldsets = (
        (None, {"fields": ("external_id", "shop_link", "status", "member_link", "placed_at")}),
        (_("Customer as the shop gave it"), {"fields": ("member_external_id", "email")}),
        (
            _("Money"),
            {"fields": ("total_display", "subtotal", "tax", "shipping", "discount", "coupon_codes_display")},
        ),
        (_("Points"), {"fields": ("points", "points_reversed", "points_status", "lot_link")}),
        (_("How the points were earned"), {"fields": ("breakdown_display",)}),
        (_("Technical"), {"classes": ("collapse",), "fields": ("public_id", "created_at", "updated_at")}),
    )
    readonly_fields = (
        "external_id",
        "shop_link",
        "status",
        "member_link",
        "placed_at",
        "member_external_id",
        "email",
        "total_display",
        "subtotal",
        "tax",
        "shipping",
        "discount",
        "coupon_codes_display",
        "points",
        "points_reversed",
        "points_status",
        "lot_link",
        "breakdown_display",
        "public_id",
        "created_at",
        "updated_at",
    )
    inlines = [RefundInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("shop", "member__user", "lot")

    @admin.display(description=_("customer"), ordering="member__number")
    def customer(self, order):
        if order.member_id is not None:
            return member_label(order.member)
        return order.email or order.member_external_id or "–"

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, order):
        return money(order.total, order.currency)

    @admin.display(description=_("points status"))
    def points_status(self, order):
        return lot_status(order)

    @admin.display(description=_("placed"), ordering="placed_at")
    def placed(self, order):
        return short_datetime(order.placed_at)

    @admin.display(description=_("shop"))
    def shop_link(self, order):
        return admin_link(order.shop, order.shop.name)

    @admin.display(description=_("member"))
    def member_link(self, order):
        if order.member_id is None:
            return _("None yet: it is matched when this customer joins (see the customer as the shop gave it).")
        return admin_link(order.member, member_label(order.member))

    @admin.display(description=_("point lot"))
    def lot_link(self, order):
        if order.lot_id is None:
            return "–"
        return admin_link(order.lot, f"{order.lot} · {order.lot.get_state_display()}")

    @admin.display(description=_("coupon codes"))
    def coupon_codes_display(self, order):
        return ", ".join(order.coupon_codes) or "–"

    @admin.display(description=_("breakdown"))
    def breakdown_display(self, order):
        return breakdown_table(order.breakdown)
