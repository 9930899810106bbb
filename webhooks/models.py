"""Webhook endpoints of shops and the outbox of deliveries to them.

A `WebhookDelivery` is written in the same transaction as the change it reports (webhooks.services), so an
event exists exactly when its change committed. Delivery happens afterwards, from Celery, and a periodic
sweep re-queues whatever is still due: the outbox row, not the broker, is the source of truth.
"""

import ipaddress
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel

# The events a shop can subscribe to, and what each means (docs/webhooks.md has the payloads).
EVENTS = {
    "member.created": _("A member became this shop's customer"),
    "member.updated": _("A linked member's profile changed"),
    "order.points_awarded": _("An order of this shop earned points"),
    "order.refunded": _("An order of this shop was refunded or cancelled"),
    "points.released": _("A linked member's pending points became available"),
    "points.expiring": _("A linked member's points expire soon"),
    "points.expired": _("A linked member's points expired"),
    "reward.redeemed": _("A linked member redeemed a reward"),
    "referral.qualified": _("A friend a linked member referred qualified (signed up or ordered)"),
    "referral.rewarded": _("A linked member got their referral reward"),
}
# Sent by staff from the admin to check an endpoint; every endpoint gets it, subscribed or not.
PING = "ping"

SECRET_PREFIX = "whsec_"  # noqa: S105  a prefix, not a secret
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def host_is_loopback(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_url_validator(value: str) -> None:
    """https anywhere; plain http only in DEBUG, or to this machine when private targets are allowed (tests)."""
    URLValidator(schemes=["http", "https"])(value)
    parts = urlsplit(value)
    if parts.scheme == "https" or settings.DEBUG:
        return
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS and host_is_loopback(parts.hostname or ""):
        return
    raise ValidationError(_("Webhook URLs must use https."), code="https_required")


def events_validator(value) -> None:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError(_("Enter a list of event names."))
    unknown = sorted(set(value) - set(EVENTS))
    if unknown:
        raise ValidationError(
            _("Unknown events: %(names)s. Known: %(known)s."),
            params={"names": ", ".join(unknown), "known": ", ".join(EVENTS)},
        )
    if not value:
        raise ValidationError(_("Subscribe to at least one event."))


class WebhookEndpoint(BaseModel):
    """Where a shop wants its events POSTed, signed with `secret`. The secret is kept in clear because we
    sign with it; staff see it once, when the endpoint is made or its secret rotated."""

    shop = models.ForeignKey("integrations.Shop", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500, validators=[endpoint_url_validator])
    secret = models.CharField(max_length=100, default=secret_new, editable=False)
    events = models.JSONField(default=list, validators=[events_validator], help_text=_("The events to send here."))
    active = models.BooleanField(default=True, help_text=_("An inactive endpoint gets nothing."))
    description = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        ordering = ("shop__name", "created_at", "id")

    def __str__(self) -> str:
        return f"{self.shop} → {self.url}"

    @property
    def secret_hint(self) -> str:
        return f"{self.secret[:10]}…"


class WebhookDelivery(BaseModel):
    """One event for one endpoint (the outbox row). `payload` is the envelope as it will be sent, frozen when
    the change committed; `event_id` is the event's id, the same for every endpoint that gets that event."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(db_index=True)
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(help_text=_("When it is due (again); a claim pushes it ahead."))
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays", editable=False
    )

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivered", "failed"]), name="webhookdelivery_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="delivered", delivered_at__isnull=False) | ~Q(status="delivered"),
                name="webhookdelivery_delivered_has_time",
            ),
        ]
        indexes = [
            # The sweep and the claim look only at pending rows: the index holds the few that are due.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhookdelivery_due_idx"),
            models.Index(fields=["endpoint", "-created_at"], name="webhookdelivery_endpoint_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} → {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery, for the admin's delivery log."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    response_snippet = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ("-at", "-id")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"


class LotExpiryNotice(models.Model):
    """A lot whose `points.expiring` event was written: the daily task writes each lot's notice once."""

    lot = models.OneToOneField("rewards.PointLot", on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"lot {self.lot_id} expiring {self.expires_at:%Y-%m-%d}"
