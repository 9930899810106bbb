"""The staff side of webhooks: endpoints (the secret shown once, on the page after creating the endpoint
or rotating its secret; never again afterwards), a test ping, and the delivery log with its attempts and
a "Replay" action. Deliveries are written only by the services; the log is read-only."""

import json

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from rewards.admin import ProgramTimeZoneMixin, ReadOnlyAdminMixin, admin_link, short_datetime
from webhooks.models import EVENTS, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import delivery_replay, endpoint_ping, endpoint_secret_rotate


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_("Where the shop receives events, e.g. https://shop.example.com/loyalty/webhooks (https)."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[(name, f"{name}: {label}") for name, label in EVENTS.items()],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["shop", "url", "events", "active", "description"]


def _secrets_page(model_admin, request, *, title, endpoints):
    """The one page that shows endpoints' secrets: rendered directly, never put in a message or a cookie."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "endpoints": endpoints,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/webhooks/endpoint_secret.html", context)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ProgramTimeZoneMixin, admin.ModelAdmin):
    form = WebhookEndpointForm
    actions = ["rotate_secret", "send_ping"]
    list_display = ("url", "shop", "events_display", "active", "description", "created")
    list_select_related = ("shop",)
    list_filter = ("active", "shop")
    search_fields = ("url", "description", "shop__name")
    ordering = ("shop__name", "created_at", "id")
    fieldsets = (
        (None, {"fields": ("shop", "url", "events", "active", "description")}),
        (_("Signing"), {"fields": ("secret_hint",)}),
        (_("Technical"), {"fields": ("public_id", "created_at", "updated_at", "deliveries_link")}),
    )
    readonly_fields = ("secret_hint", "public_id", "created_at", "updated_at", "deliveries_link")

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # the secret is made on saving and shown on the next page
            return ((None, {"fields": ("shop", "url", "events", "active", "description")}),)
        return super().get_fieldsets(request, obj)

    def response_add(self, request, obj, post_url_continue=None):
        return _secrets_page(self, request, title=_("New webhook endpoint"), endpoints=[obj])

    @admin.display(description=_("events"))
    def events_display(self, endpoint):
        return ", ".join(endpoint.events)

    @admin.display(description=_("created"), ordering="created_at")
    def created(self, endpoint):
        return short_datetime(endpoint.created_at)

    @admin.display(description=_("secret"))
    def secret_hint(self, endpoint):
        return _("%(start)s (shown in full only when made; rotate it to get a new one)") % {
            "start": endpoint.secret_hint
        }

    @admin.display(description=_("deliveries"))
    def deliveries_link(self, endpoint):
        url = reverse("admin:webhooks_webhookdelivery_changelist") + f"?endpoint__id__exact={endpoint.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Delivery log"))

    @admin.action(
        description=_("Rotate the secret of the selected endpoints (the old one stops at once)"), permissions=["change"]
    )
    def rotate_secret(self, request, queryset):
        endpoints = list(queryset.select_related("shop").order_by("pk"))
        for endpoint in endpoints:
            endpoint_secret_rotate(endpoint=endpoint)
        return _secrets_page(self, request, title=_("Rotated webhook secrets"), endpoints=endpoints)

    @admin.action(description=_("Send a test ping to the selected endpoints"), permissions=["change"])
    def send_ping(self, request, queryset):
        endpoints = list(queryset.order_by("pk"))
        for endpoint in endpoints:
            endpoint_ping(endpoint=endpoint)
        self.message_user(
            request,
            ngettext(
                "Queued a ping to %(count)d endpoint; see the delivery log.",
                "Queued a ping to %(count)d endpoints; see the delivery log.",
                len(endpoints),
            )
            % {"count": len(endpoints)},
            messages.SUCCESS,
        )


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    max_num = 0
    can_delete = False
    fields = readonly_fields = ("at", "status_code", "duration_ms", "error", "response_snippet")
    ordering = ("-at", "-id")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ProgramTimeZoneMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The outbox as a log. "Replay": a pending delivery is made due now; a delivered or failed one gets a
    new pending copy with the same event id and payload (the original stays as it was)."""

    actions = ["replay"]
    list_display = (
        "created",
        "event",
        "shop",
        "endpoint_url",
        "status",
        "attempts",
        "last_status_code",
        "error_short",
        "delivered",
    )
    list_select_related = ("endpoint__shop",)
    list_filter = ("status", "event", "endpoint__shop", "endpoint")
    search_fields = ("=event_id",)
    ordering = ("-created_at", "-id")
    list_per_page = 50
    show_full_result_count = False
    fields = readonly_fields = (
        "event",
        "event_id",
        "endpoint_link",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "replay_of_link",
        "payload_display",
    )
    inlines = [WebhookAttemptInline]

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("webhooks.change_webhookdelivery")

    @admin.display(description=_("created"), ordering="created_at")
    def created(self, delivery):
        return short_datetime(delivery.created_at)

    @admin.display(description=_("delivered"), ordering="delivered_at")
    def delivered(self, delivery):
        return short_datetime(delivery.delivered_at)

    @admin.display(description=_("shop"), ordering="endpoint__shop__name")
    def shop(self, delivery):
        return delivery.endpoint.shop.name

    @admin.display(description=_("URL"))
    def endpoint_url(self, delivery):
        return delivery.endpoint.url

    @admin.display(description=_("last error"))
    def error_short(self, delivery):
        return delivery.last_error[:60] or "–"

    @admin.display(description=_("endpoint"))
    def endpoint_link(self, delivery):
        return admin_link(delivery.endpoint, str(delivery.endpoint))

    @admin.display(description=_("replay of"))
    def replay_of_link(self, delivery):
        return admin_link(delivery.replay_of, str(delivery.replay_of_id)) if delivery.replay_of_id else "–"

    @admin.display(description=_("payload (as sent)"))
    def payload_display(self, delivery):
        return format_html("<pre>{}</pre>", json.dumps(delivery.payload, indent=2, ensure_ascii=False))

    @admin.action(description=_("Replay the selected deliveries"), permissions=["replay"])
    def replay(self, request, queryset):
        deliveries = list(queryset.order_by("pk"))
        with transaction.atomic():
            copies = [delivery_replay(delivery=delivery) for delivery in deliveries]
        new = sum(1 for delivery, copy in zip(deliveries, copies, strict=True) if copy.pk != delivery.pk)
        self.message_user(
            request,
            _("Replayed %(count)d deliveries: %(new)d as new deliveries, %(due)d pending ones made due now.")
            % {"count": len(deliveries), "new": new, "due": len(deliveries) - new},
            messages.SUCCESS,
        )
