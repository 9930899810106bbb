"""Earning rules for orders and events, and the record of each event a member took part in."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import BaseModel
from rewards.models.ledger import PointEntry, Program

__all__ = ["EarningRule", "EventRule", "MemberEvent", "EventAward"]


def _window_constraint(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
        name=f"{prefix}_ends_after_starts",
    )


class EarningRule(BaseModel):
    """How orders earn points; rewards.services.earning.evaluate_order applies them (docs/earning.md).

    `shop_ids` lists the public ids (UUID strings) of the shops the rule is limited to, empty for every
    shop. It is a list, not a relation, while the integrations app and its Shop model are being built.
    """

    class Kind(models.TextChoices):
        BASE_RATE = "base_rate", _("Base rate: points per amount spent")
        MULTIPLIER = "multiplier", _("Multiplier: more (or fewer) points for some products")
        FIXED = "fixed", _("Fixed points per unit bought")
        EXCLUSION = "exclusion", _("Exclusion: these products never earn")

    class Scope(models.TextChoices):
        ORDER = "order", _("Per order: add up the order, then round once")
        LINE = "line", _("Per line: round each order line on its own")

    name = models.CharField(max_length=120, help_text=_("Shown to staff and in each order's points breakdown."))
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.BASE_RATE)
    is_active = models.BooleanField(default=True, help_text=_("Untick to pause the rule without deleting it."))
    currency = models.CharField(max_length=3, help_text=_("Orders in this currency only (ISO 4217, e.g. EUR)."))
    points = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        default=1,
        validators=[MinValueValidator(0)],
        help_text=_("Base rate: points earned per amount below. Fixed: points per unit bought."),
    )
    amount = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=1,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("Base rate only: per how much money the points are earned, e.g. 1 point per 10.00."),
    )
    multiplier = models.DecimalField(
        max_digits=8,
        decimal_places=4,
        default=1,
        validators=[MinValueValidator(Decimal("0.0001"))],
        help_text=_("Multiplier only: 2 doubles the base-rate points of matching products, 0.5 halves them."),
    )
    include_tax = models.BooleanField(default=False, help_text=_("Tax earns points too."))
    include_shipping = models.BooleanField(default=False, help_text=_("Shipping costs earn points too."))
    subtract_discounts = models.BooleanField(
        default=True, help_text=_("Points on what the customer paid after discounts (untick: on the price before).")
    )
    minimum_order_value = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("The rule applies only to orders worth at least this, counted as the rule counts (tax etc.)."),
    )
    rounding = models.CharField(
        max_length=8,
        choices=Program.Rounding.choices,
        default=Program.Rounding.DOWN,
        help_text=_("Points are whole numbers: how a fraction of a point is rounded."),
    )
    scope = models.CharField(
        max_length=8,
        choices=Scope.choices,
        default=Scope.ORDER,
        help_text=_("Per order rounds once for the whole order; per line rounds every line on its own."),
    )
    categories = models.JSONField(
        default=list, blank=True, help_text=_("Product categories the rule is for, as the shops send them; empty: all.")
    )
    skus = models.JSONField(default=list, blank=True, help_text=_("Product SKUs the rule is for; empty: all."))
    shop_ids = models.JSONField(default=list, blank=True, help_text=_("Ids of the shops the rule is for; empty: all."))
    starts_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty: already started."))
    ends_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty: never ends."))
    priority = models.IntegerField(default=0, help_text=_("Rules with a higher priority are applied first."))
    stop_after = models.BooleanField(
        default=False, help_text=_("Products this rule applies to get no points from the rules after it.")
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-priority", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(points__gte=0), name="earningrule_points_not_negative"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="earningrule_amount_positive"),
            models.CheckConstraint(condition=Q(multiplier__gt=0), name="earningrule_multiplier_positive"),
            models.CheckConstraint(
                condition=Q(minimum_order_value__isnull=True) | Q(minimum_order_value__gte=0),
                name="earningrule_minimum_not_negative",
            ),
            _window_constraint("earningrule"),
        ]
        indexes = [models.Index(fields=["currency", "-priority"], name="earningrule_currency_idx")]

    def __str__(self) -> str:
        return self.name


class EventRule(BaseModel):
    """Points for an action (sign-up, review, birthday, a custom event), at most `limit_count` per period.

    `shop_ids`: as on EarningRule, the shops' public ids, empty for every shop.
    """

    class Event(models.TextChoices):
        SIGN_UP = "sign_up", _("Sign-up")
        FIRST_PURCHASE = "first_purchase", _("First purchase")
        BIRTHDAY = "birthday", _("Birthday")
        NEWSLETTER_SIGNUP = "newsletter_signup", _("Newsletter sign-up")
        REVIEW_WRITTEN = "review_written", _("Review written")
        SOCIAL_FOLLOW = "social_follow", _("Social follow")
        SOCIAL_SHARE = "social_share", _("Social share")

    class Period(models.TextChoices):
        DAY = "day", _("per day")
        WEEK = "week", _("per week")
        MONTH = "month", _("per month")
        YEAR = "year", _("per year")
        EVER = "ever", _("ever")

    name = models.CharField(max_length=120, help_text=_("Shown to staff and in the member's history."))
    event = models.CharField(
        max_length=64,
        help_text=_(
            "A built-in event (sign_up, first_purchase, birthday, newsletter_signup, review_written, "
            "social_follow, social_share) or your own name, as your shop sends it."
        ),
    )
    is_active = models.BooleanField(default=True, help_text=_("Untick to pause the rule without deleting it."))
    points = models.PositiveIntegerField(help_text=_("Points given each time the event counts."))
    limit_count = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("At most this many times per member in the period below; empty: no limit."),
    )
    limit_period = models.CharField(max_length=8, choices=Period.choices, default=Period.EVER)
    shop_ids = models.JSONField(default=list, blank=True, help_text=_("Ids of the shops the rule is for; empty: all."))
    starts_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty: already started."))
    ends_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty: never ends."))
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["event", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(points__gte=0), name="eventrule_points_not_negative"),
            models.CheckConstraint(
                condition=Q(limit_count__isnull=True) | Q(limit_count__gte=1), name="eventrule_limit_positive"
            ),
            models.CheckConstraint(condition=~Q(event=""), name="eventrule_event_named"),
            _window_constraint("eventrule"),
        ]
        indexes = [models.Index(fields=["event"], name="eventrule_event_idx")]

    def __str__(self) -> str:
        return self.name


class MemberEvent(BaseModel):
    """One event reported for a member (by a shop, or by the platform: sign-up, first purchase, birthday)
    and what the event rules gave for it; written by rewards.services.events.event_record.

    Refused events (no matching rule, limit reached) are recorded too, with 0 points, so a replay answers
    exactly what the first call did. `idempotency_key` is unique: for a shop's event it is derived from
    (shop, external_id), for a built-in event from the member (and year, for birthdays)."""

    class Status(models.TextChoices):
        AWARDED = "awarded", _("Points awarded")
        LIMIT_REACHED = "limit_reached", _("Limit reached")
        NO_MATCHING_RULE = "no_matching_rule", _("No matching rule")

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="events", db_index=False)
    event = models.CharField(max_length=64)
    shop = models.ForeignKey(
        "integrations.Shop", null=True, blank=True, on_delete=models.PROTECT, related_name="member_events"
    )
    external_id = models.CharField(
        max_length=150, null=True, blank=True, help_text=_("The shop's own id of the event, if a shop sent it.")
    )
    idempotency_key = models.CharField(max_length=200, editable=False)
    fingerprint = models.CharField(
        max_length=64, blank=True, editable=False, help_text=_("Tells a replay from another event reusing the id.")
    )
    occurred_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices)
    points = models.PositiveIntegerField(default=0, help_text=_("Points awarded for it, all rules together."))

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="memberevent_idempotency_key_unique"),
            # NULL external ids (built-in events) never clash.
            models.UniqueConstraint(
                fields=["shop", "external_id"],
                condition=Q(external_id__isnull=False),
                name="memberevent_shop_external_id_unique",
            ),
            models.CheckConstraint(condition=~Q(external_id=""), name="memberevent_external_id_not_blank"),
            models.CheckConstraint(
                condition=Q(status__in=["awarded", "limit_reached", "no_matching_rule"]),
                name="memberevent_status_valid",
            ),
            models.CheckConstraint(condition=Q(points=0) | Q(status="awarded"), name="memberevent_points_if_awarded"),
        ]
        # The member's history, and the birthday task's "already this year?".
        indexes = [models.Index(fields=["member", "event", "occurred_at"], name="memberevent_member_event_idx")]

    def __str__(self) -> str:
        return f"{self.event} ({self.get_status_display()})"


class EventAward(BaseModel):
    """What one event rule gave for one event: its points, or 0 and the reason it refused (the limit).

    Awarded rows are what a rule's limit counts: the member's awards of the rule whose `occurred_at` falls
    in the period (rewards.services.events). `rule` may be deleted later; `rule_name` keeps the history."""

    class Status(models.TextChoices):
        AWARDED = "awarded", _("Awarded")
        LIMIT_REACHED = "limit_reached", _("Limit reached")

    member_event = models.ForeignKey(MemberEvent, on_delete=models.PROTECT, related_name="awards", db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+", db_index=False)
    rule = models.ForeignKey(EventRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="awards")
    rule_name = models.CharField(max_length=120)
    status = models.CharField(max_length=16, choices=Status.choices)
    points = models.PositiveIntegerField(default=0)
    entry = models.OneToOneField(
        PointEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="event_award", editable=False
    )
    occurred_at = models.DateTimeField(help_text=_("The event's time, copied here for the limit count."))

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["member_event", "rule"], name="eventaward_event_rule_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["awarded", "limit_reached"]), name="eventaward_status_valid"
            ),
            models.CheckConstraint(condition=Q(points=0) | Q(status="awarded"), name="eventaward_points_if_awarded"),
            models.CheckConstraint(condition=Q(points=0) | Q(entry__isnull=False), name="eventaward_points_have_entry"),
        ]
        indexes = [
            # A rule's limit: the member's awards of that rule in a period.
            models.Index(
                fields=["member", "rule", "occurred_at"],
                condition=Q(status="awarded"),
                name="eventaward_limit_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_name}: {self.points} ({self.get_status_display()})"
