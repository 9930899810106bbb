"""Shops (web stores, tills, apps, partners) and their API keys.

An API key looks like `lk_live_ab12cd34_<40 letters and digits>`. Its first 16 characters
(`lk_live_ab12cd34`) are the **prefix**: stored in clear, unique, shown to staff
so they can tell keys apart, and used to find the row. The whole key is stored only as its SHA-256 hash:
the secret part is ~238 random bits, so a fast hash is as safe as a slow one and keeps every request cheap.
"""

import re
import secrets
import string
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import BaseModel

SCOPES = ("read", "write", "adjust")
SCOPE_LABELS = {
    "read": _("read: look up members, orders and rewards"),
    "write": _("write: register members, post orders, refunds and events"),
    "adjust": _("adjust: change a member's points by hand"),
}

currency_validator = RegexValidator(r"^[A-Z]{3}\Z", _("Enter a three-letter ISO 4217 code in capitals, e.g. EUR."))


def time_zone_validator(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("Unknown time zone %(name)s; use an IANA name such as Europe/Amsterdam."), params={"name": value}
        ) from None


ORIGIN_RE = re.compile(r"^https?://[^/?#\s]+\Z")


def origins_validator(value) -> None:
    """A list of origins as browsers send them: scheme, host and optional port, no path."""
    if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
        raise ValidationError(_("Enter a list of origins."))
    url = URLValidator(schemes=["http", "https"])
    for origin in value:
        try:
            url(origin)
        except ValidationError:
            ok = False
        else:
            ok = bool(ORIGIN_RE.match(origin))
        if not ok:
            raise ValidationError(
                _("%(origin)s is not an origin; write it as https://shop.example.com (no path)."),
                params={"origin": origin},
            )


WIDGET_KEY_TAG = "pk_"
WIDGET_SECRET_TAG = "wsk_"  # noqa: S105  a prefix, not a secret
colour_validator = RegexValidator(r"^#[0-9A-Fa-f]{6}\Z", _("Enter a colour as #RRGGBB, e.g. #1F6FEB."))


def widget_key_new() -> str:
    """The widget's public key: `pk_` + 24 lowercase letters and digits (on every shop page; not a secret)."""
    return WIDGET_KEY_TAG + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(24))


def widget_secret_new() -> str:
    """The secret a shop's server signs shopper tokens with (HS256): 256 random bits."""
    return WIDGET_SECRET_TAG + secrets.token_urlsafe(32)


class Shop(BaseModel):
    """A place where members earn and spend points: a web store, a till, an app or a partner business.

    The storefront widget (docs/widget.md): `widget_key` is public (the snippet's data-shop); the shop's
    server signs shopper tokens with `widget_secret`. The secret is kept in clear, like a webhook
    endpoint's, because the server must verify HMACs with it (a one-way hash cannot); staff see it once,
    when the shop is made or the secret rotated, and it is left out of the shop's history."""

    class WidgetPosition(models.TextChoices):
        BOTTOM_RIGHT = "bottom-right", _("Bottom right")
        BOTTOM_LEFT = "bottom-left", _("Bottom left")

    class Kind(models.TextChoices):
        WEB = "web", _("Web store")
        STORE = "store", _("Physical store")
        APP = "app", _("App")
        PARTNER = "partner", _("Partner")

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WEB)
    currency = models.CharField(
        max_length=3, default="EUR", validators=[currency_validator], help_text=_("ISO 4217 code, e.g. EUR, USD, GBP.")
    )
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[time_zone_validator], help_text=_("IANA name, e.g. Europe/Amsterdam.")
    )
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        validators=[origins_validator],
        help_text=_("Web origins allowed to embed the widget, e.g. https://shop.example.com."),
    )
    active = models.BooleanField(default=True, help_text=_("An inactive shop's API keys are refused."))
    widget_key = models.CharField(
        max_length=40,
        default=widget_key_new,
        editable=False,
        help_text=_("Public: the data-shop of the widget's snippet."),
    )
    widget_secret = models.CharField(max_length=80, default=widget_secret_new, editable=False)
    widget_enabled = models.BooleanField(
        default=False, help_text=_("Show the loyalty widget on the shop's pages (the allowed origins below).")
    )
    widget_auto_join = models.BooleanField(
        default=True,
        help_text=_("A signed-in shopper who is not a member yet becomes one when the widget first sees them."),
    )
    widget_colour = models.CharField(
        max_length=7, default="#1F6FEB", validators=[colour_validator], help_text=_("Buttons and header, #RRGGBB.")
    )
    widget_text_colour = models.CharField(
        max_length=7,
        default="#FFFFFF",
        validators=[colour_validator],
        help_text=_("Text on the colour above, #RRGGBB."),
    )
    widget_position = models.CharField(
        max_length=16, choices=WidgetPosition.choices, default=WidgetPosition.BOTTOM_RIGHT
    )
    widget_launcher_label = models.CharField(
        max_length=40, blank=True, help_text=_("The button's text; empty: “Rewards” in the shopper's language.")
    )
    widget_title = models.CharField(
        max_length=80, blank=True, help_text=_("The panel's title; empty: the program's name.")
    )
    widget_welcome_guest = models.TextField(
        max_length=500, blank=True, help_text=_("What a guest reads first; empty: a standard invitation to join.")
    )
    widget_welcome_member = models.TextField(
        max_length=500, blank=True, help_text=_("What a member reads first; empty: a standard greeting.")
    )
    widget_join_url = models.URLField(
        blank=True, help_text=_("Where guests join (your sign-up page); empty: the loyalty portal's sign-up page.")
    )
    widget_signin_url = models.URLField(
        blank=True, help_text=_("Where guests sign in (your login page); empty: the loyalty portal's login page.")
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at", "widget_secret"])

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(fields=["name"], name="shop_name_unique"),
            models.CheckConstraint(condition=Q(kind__in=["web", "store", "app", "partner"]), name="shop_kind_valid"),
            models.UniqueConstraint(fields=["widget_key"], name="shop_widget_key_unique"),
            models.CheckConstraint(
                condition=Q(widget_position__in=["bottom-right", "bottom-left"]), name="shop_widget_position_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ApiKey(BaseModel):
    """A shop's key to API v1. Made by integrations.services.shops (which returns the plaintext once), never edited
    afterwards except its name; it stops working at `revoked_at` (which may lie in the future after a rotation)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text=_("A label for staff, e.g. 'Checkout server'."))
    prefix = models.CharField(max_length=16, editable=False, help_text=_("The visible start of the key."))
    key_hash = models.CharField(max_length=64, editable=False)
    scope_read = models.BooleanField(default=False)
    scope_write = models.BooleanField(default=False)
    scope_adjust = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text=_("When the key stops (or stopped) working.")
    )
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text=_("Updated at most once a minute.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    rotated_from = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rotated_to",
        editable=False,
        help_text=_("The key this one replaced."),
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["prefix"], name="apikey_prefix_unique"),
            models.UniqueConstraint(fields=["key_hash"], name="apikey_hash_unique"),
            models.CheckConstraint(
                condition=Q(scope_read=True) | Q(scope_write=True) | Q(scope_adjust=True), name="apikey_has_a_scope"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(scope for scope in SCOPES if getattr(self, f"scope_{scope}"))

    def has_scope(self, scope: str) -> bool:
        return scope in SCOPES and getattr(self, f"scope_{scope}")

    def is_revoked(self, now=None) -> bool:
        return self.revoked_at is not None and self.revoked_at <= (now or timezone.now())


class ShopCustomer(BaseModel):
    """A member as one shop knows them: the link that lets the shop see the member, and the shop's own
    customer id for them (`external_id`, optional: a shop may know a customer by e-mail only).

    One row per (shop, member); an external id names at most one member per shop. Made by
    integrations.services.members.member_upsert."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="customers")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="shop_links")
    external_id = models.CharField(
        max_length=200, null=True, blank=True, help_text=_("The shop's own id for this customer.")
    )

    class Meta:
        verbose_name = _("shop customer")
        constraints = [
            # NULL external ids do not clash (both PostgreSQL and SQLite treat NULLs as distinct).
            models.UniqueConstraint(fields=["shop", "external_id"], name="shopcustomer_shop_external_id_unique"),
            models.UniqueConstraint(fields=["shop", "member"], name="shopcustomer_shop_member_unique"),
            models.CheckConstraint(condition=~Q(external_id=""), name="shopcustomer_external_id_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.shop} / {self.external_id or '-'}"


# --- orders -----------------------------------------------------------------------------------------

EXTERNAL_ID_MAX = 150  # keeps the ledger's idempotency keys ("order:<shop uuid>:<id>") within 200 characters


class Order(BaseModel):
    """An order a shop reported, with the points it earned (integrations.services.orders.order_record).

    One row per (shop, external_id): the unique constraint is what makes "one earn per (shop, order)" hold
    when two copies of the same request race. `breakdown` is the evaluation stored as it was, so refunds
    reverse what was awarded even after the earning rules changed. `fingerprint` (SHA-256 of the canonical
    request) tells a replay from a different order reusing the id."""

    class Status(models.TextChoices):
        AWARDED = "awarded", _("Matched (points awarded)")
        UNMATCHED = "unmatched", _("Unmatched (customer unknown)")
        CANCELLED = "cancelled", _("Cancelled")

    # No index of its own: order_shop_external_id_unique (shop, external_id) serves every lookup by shop.
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="orders", db_index=False)
    external_id = models.CharField(max_length=EXTERNAL_ID_MAX, help_text=_("The shop's own order id."))
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    member_external_id = models.CharField(
        max_length=200, blank=True, help_text=_("The shop's customer id as given, for matching later.")
    )
    email = models.CharField(max_length=254, blank=True, help_text=_("The customer's e-mail as given."))
    currency = models.CharField(max_length=3, validators=[currency_validator])
    total = models.DecimalField(max_digits=14, decimal_places=2)
    subtotal = models.DecimalField(max_digits=14, decimal_places=2)
    tax = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    shipping = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    discount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    placed_at = models.DateTimeField()
    lines = models.JSONField(default=list, blank=True)
    coupon_codes = models.JSONField(default=list, blank=True)
    breakdown = models.JSONField(default=dict, blank=True)
    points = models.PositiveIntegerField(default=0, help_text=_("Points awarded (0 while unmatched)."))
    points_reversed = models.PositiveIntegerField(default=0, help_text=_("Points refunds and cancelling took back."))
    lot = models.ForeignKey(
        "rewards.PointLot", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    fingerprint = models.CharField(max_length=64, editable=False)
    # For the referral fraud checks: keyed hashes of what the shop sent, never the address or card itself.
    shipping_hash = models.CharField(max_length=64, blank=True, editable=False)
    payment_hash = models.CharField(max_length=64, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="order_shop_external_id_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["awarded", "unmatched", "cancelled"]), name="order_status_valid"
            ),
            models.CheckConstraint(condition=Q(points_reversed__lte=F("points")), name="order_reversed_within_points"),
            models.CheckConstraint(condition=Q(points=0) | Q(lot__isnull=False), name="order_points_have_a_lot"),
        ]
        indexes = [
            # orders_match_for runs on every POST /members: partial indexes keep that lookup to the few
            # unmatched orders (PostgreSQL ORs the two), however many orders there are.
            models.Index(fields=["email"], condition=Q(status="unmatched"), name="order_unmatched_email_idx"),
            models.Index(
                fields=["shop", "member_external_id"], condition=Q(status="unmatched"), name="order_unmatched_cust_idx"
            ),
            # The insights' hourly refresh reads the last days' orders by placed_at (insights/services/rollups.py).
            models.Index(fields=["placed_at"], name="order_placed_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.shop} / {self.external_id}"


class Refund(BaseModel):
    """A refund of part of an order (by `amount` or by `lines` [{sku, quantity}]) and the points it took
    back, computed from the order's stored breakdown. One row per (order, external_id)."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    external_id = models.CharField(max_length=EXTERNAL_ID_MAX, help_text=_("The shop's own refund id."))
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    lines = models.JSONField(null=True, blank=True)
    points = models.PositiveIntegerField(default=0, help_text=_("Points reversed."))
    fingerprint = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ("created_at", "id")
        constraints = [
            models.UniqueConstraint(fields=["order", "external_id"], name="refund_order_external_id_unique"),
            models.CheckConstraint(
                condition=Q(amount__isnull=True, lines__isnull=False) | Q(amount__isnull=False, lines__isnull=True),
                name="refund_amount_xor_lines",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order} / refund {self.external_id}"
