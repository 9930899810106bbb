"""Tiers: the levels members climb, what qualifies for them, and each member's tier and its history.

- Tier: a level with its qualification (metric, threshold, window), how it is kept (retention threshold,
  downgrade policy), its perks, and optionally a paid membership (an order line with its SKU grants it).
- PointsAccount.tier (rewards.models.ledger) is the member's tier now; NULL means "not evaluated yet" and
  counts as the lowest tier (rewards.services.tiers sets it on the member's first order or the next night).
- TierHold: what the nightly job must respect for one account: a staff override (exactly that tier until
  its end), a paid membership or gift (at least that tier until its end), and since when the member has
  been below what keeps their tier (the grace period counts from there).
- TierChange: append-only history of every change of a member's tier, with its reason and actor.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import BaseModel

__all__ = ["Tier", "TierHold", "TierChange"]

colour_validator = RegexValidator(r"^#[0-9A-Fa-f]{6}\Z", _("Enter a colour as #RRGGBB, e.g. #C9A227."))


class Tier(BaseModel):
    """A level of the program; a higher `rank` is a better tier."""

    class Metric(models.TextChoices):
        POINTS = "points", _("Points earned on orders")
        SPEND = "spend", _("Amount spent (program currency)")
        ORDERS = "orders", _("Number of orders")

    class Window(models.TextChoices):
        LIFETIME = "lifetime", _("Lifetime")
        CALENDAR_YEAR = "calendar_year", _("Calendar year")
        ROLLING_12_MONTHS = "rolling_12_months", _("Rolling 12 months")
        MEMBERSHIP_YEAR = "membership_year", _("Membership year (from the join date)")

    class Downgrade(models.TextChoices):
        NEVER = "never", _("Never: once reached, kept for good")
        END_OF_WINDOW = "end_of_window", _("At the end of the window, to the tier then earned")
        GRACE = "grace", _("At the end of the window plus a grace period")

    name = models.CharField(max_length=80, unique=True)
    rank = models.PositiveIntegerField(unique=True, help_text=_("Higher is better; the entry tier is usually 0."))
    icon = models.CharField(
        max_length=300, blank=True, help_text=_("A short text or emoji (e.g. ★), or the URL of an image.")
    )
    colour = models.CharField(max_length=7, default="#8A8A8A", validators=[colour_validator])
    metric = models.CharField(max_length=16, choices=Metric.choices, default=Metric.POINTS)
    entry_threshold = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=0,
        help_text=_("The metric's value in the window that qualifies for this tier (points, money or orders)."),
    )
    window = models.CharField(max_length=24, choices=Window.choices, default=Window.CALENDAR_YEAR)
    retention_threshold = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("What keeps the tier in the next window; empty: the entry threshold."),
    )
    downgrade_policy = models.CharField(max_length=16, choices=Downgrade.choices, default=Downgrade.END_OF_WINDOW)
    grace_days = models.PositiveIntegerField(default=0, help_text=_("For the grace policy: days before the downgrade."))
    # Perks
    earning_multiplier = models.DecimalField(
        max_digits=6, decimal_places=3, default=1, help_text=_("Points on orders are multiplied by this (1: none).")
    )
    birthday_bonus_points = models.PositiveIntegerField(default=0)
    free_shipping = models.BooleanField(default=False)
    early_access = models.BooleanField(default=False)
    can_gift = models.BooleanField(
        default=False, help_text=_("Members of this tier may give a lower tier to a friend once a year.")
    )
    # Paid membership
    membership_sku = models.CharField(
        max_length=100, blank=True, help_text=_("An order line with this SKU grants the tier (paid membership).")
    )
    membership_months = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("How long a paid membership lasts; empty: for life.")
    )
    dividend_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Paid members get this % of last year's qualifying spend back as store credit each year."),
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(condition=Q(entry_threshold__gte=0), name="tier_entry_threshold_not_negative"),
            models.CheckConstraint(
                condition=Q(retention_threshold__isnull=True) | Q(retention_threshold__gte=0),
                name="tier_retention_threshold_not_negative",
            ),
            models.CheckConstraint(condition=Q(earning_multiplier__gt=0), name="tier_multiplier_positive"),
            models.CheckConstraint(
                condition=Q(dividend_percent__isnull=True) | Q(dividend_percent__gte=0, dividend_percent__lte=100),
                name="tier_dividend_percent_range",
            ),
            models.CheckConstraint(condition=Q(colour__regex=r"^#[0-9A-Fa-f]{6}$"), name="tier_colour_hex"),
            models.CheckConstraint(condition=Q(metric__in=["points", "spend", "orders"]), name="tier_metric_valid"),
            models.CheckConstraint(
                condition=Q(window__in=["lifetime", "calendar_year", "rolling_12_months", "membership_year"]),
                name="tier_window_valid",
            ),
            models.CheckConstraint(
                condition=Q(downgrade_policy__in=["never", "end_of_window", "grace"]), name="tier_downgrade_valid"
            ),
            models.UniqueConstraint(
                fields=["membership_sku"], condition=~Q(membership_sku=""), name="tier_membership_sku_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def keep_threshold(self):
        """What keeps the tier: the retention threshold, or the entry threshold when none is set."""
        return self.entry_threshold if self.retention_threshold is None else self.retention_threshold


class TierHold(models.Model):
    """The tier state of one account that the nightly job respects (one row per account, made when needed)."""

    account = models.OneToOneField(
        "rewards.PointsAccount", on_delete=models.CASCADE, primary_key=True, related_name="tier_hold"
    )
    override_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text=_("Set by staff.")
    )
    override_until = models.DateTimeField(null=True, blank=True)
    floor_tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("A paid membership or a gift: at least this tier."),
    )
    floor_until = models.DateTimeField(null=True, blank=True, help_text=_("Empty with a floor tier: for life."))
    floor_reason = models.CharField(max_length=16, blank=True)
    below_since = models.DateTimeField(
        null=True, blank=True, help_text=_("Since when the member no longer meets what keeps their tier.")
    )
    last_gift_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(override_tier__isnull=True) | Q(override_until__isnull=False),
                name="tierhold_override_has_end",
            ),
        ]

    def __str__(self) -> str:
        return f"Tier hold of account {self.account_id}"


class TierChange(BaseModel):
    """One change of a member's tier. Append-only: never updated or deleted."""

    class Reason(models.TextChoices):
        QUALIFIED = "qualified", _("Qualified (nightly)")
        ORDER = "order", _("Qualified on an order")
        DOWNGRADE = "downgrade", _("Nightly downgrade")
        STAFF = "staff", _("Set by staff")
        PAID = "paid", _("Paid membership")
        GIFT = "gift", _("Gift")
        EXPIRED = "expired", _("Override or membership ended")

    account = models.ForeignKey(
        "rewards.PointsAccount", on_delete=models.PROTECT, related_name="tier_changes", db_index=False
    )
    # No indexes of their own: a handful of tiers, and the nightly job inserts a row per change.
    from_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", db_index=False)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True, help_text=_("Staff's reason, the order or the SKU."))
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text=_("For staff overrides, memberships and gifts."))

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reason__in=["qualified", "order", "downgrade", "staff", "paid", "gift", "expired"]),
                name="tierchange_reason_valid",
            ),
        ]
        indexes = [models.Index(fields=["account", "-at"], name="tierchange_account_at_idx")]

    def __str__(self) -> str:
        return f"{self.from_tier or '–'} → {self.to_tier} ({self.get_reason_display()})"
