"""The staff side of shops and their API keys.

Keys are made, rotated and revoked only through integrations.services.shops, here by admin actions: "Create an
API key" on the shop list, "Rotate" and "Revoke" on the key list. A new key's plaintext is shown once, on
the page the action answers with (never stored, never sent in a cookie); the hash is never shown. After
creation only a key's name can be changed; keys are revoked, not deleted.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.exceptions import ApplicationError
from integrations.forms import ApiKeyCreateForm, ApiKeyRotateForm, ShopAdminForm
from integrations.models import ApiKey, Shop
from integrations.services.shops import api_key_create, api_key_revoke, api_key_rotate
from rewards.admin import ProgramTimeZoneMixin, admin_link, short_datetime


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


@admin.register(Shop)
class ShopAdmin(ProgramTimeZoneMixin, admin.ModelAdmin):
    form = ShopAdminForm
    actions = ["create_api_key"]
    list_display = ("name", "kind", "currency", "time_zone", "active", "live_keys")
    list_filter = ("kind", "active", "currency")
    search_fields = ("name",)
    ordering = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "kind", "active")}),
        (_("Money and time"), {"fields": ("currency", "time_zone")}),
        (_("Storefront widget"), {"fields": ("allowed_origins",)}),
        (_("Technical"), {"fields": ("public_id", "created_at", "updated_at")}),
    )
    readonly_fields = ("public_id", "created_at", "updated_at")
    inlines = [ApiKeyInline]

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
