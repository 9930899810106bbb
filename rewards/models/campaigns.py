"""Campaigns (time-boxed earning boosts) and segments (groups of members they and rewards can target).

docs/campaigns.md explains both to staff, and how budgets and per-member limits hold under concurrency.
"""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import BaseModel

__all__ = ["Segment", "SegmentMember", "Campaign", "CampaignMember"]


class Segment(BaseModel):
    """A group of members, defined by rules over their data or by a list of member numbers.

    A rule segment's `rules` is a list of conditions that must all hold (AND); each is a dict with a
    "rule" key (rewards.services.segments lists them and their fields). A static segment holds the
    members uploaded from a CSV of member numbers (SegmentMember rows); its `rules` are ignored."""

    class Kind(models.TextChoices):
        RULES = "rules", _("Rules: members matching every condition, as of now")
        STATIC = "static", _("Static: a list of members uploaded as a CSV of member numbers")

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, help_text=_("For staff: who this segment is meant to hold."))
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.RULES)
    rules = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Rule segments: the conditions, all of which must hold (see the help below the form)."),
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["rules", "static"]), name="segment_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """One member of a static segment (from an uploaded CSV)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="static_members", db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="static_segments")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "member"], name="segmentmember_unique")]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.member_id}"


class Campaign(BaseModel):
    """A time-boxed boost to earning: a multiplier on orders, a bonus on some products, or extra points
    for an action; optionally only for some segments and shops, within a budget and a per-member limit.

    `shop_ids`: as on EarningRule, the shops' public ids (UUID strings), empty for every shop.
    `points_given` counts the points given so far, kept under the row lock only for campaigns with a
    budget (rewards.services.campaigns); reports add up CampaignMember rows instead."""

    class Kind(models.TextChoices):
        ORDER_MULTIPLIER = "order_multiplier", _("Points multiplier on whole orders (e.g. double points)")
        PRODUCT_MULTIPLIER = "product_multiplier", _("Multiplier on some categories or SKUs")
        PRODUCT_POINTS = "product_points", _("Fixed bonus points per unit of some categories or SKUs")
        ACTION_BONUS = "action_bonus", _("Extra points for an action (an event such as review_written)")

    name = models.CharField(max_length=120, help_text=_("Shown to members and in each order's points breakdown."))
    description = models.TextField(
        blank=True, help_text=_("Shown to members under 'how to earn'; empty: a description is written for you.")
    )
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.ORDER_MULTIPLIER)
    is_active = models.BooleanField(default=True, help_text=_("Untick to pause the campaign."))
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text=_("The campaign stops at this moment (orders placed before it count)."))
    factor = models.DecimalField(
        max_digits=8,
        decimal_places=4,
        default=2,
        validators=[MinValueValidator(Decimal("1.0001"))],
        help_text=_("Multipliers: 2 doubles the points (whole orders, or the matching products' base points)."),
    )
    points = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        default=0,
        validators=[MinValueValidator(0)],
        help_text=_("Fixed bonus: points per unit bought. Action bonus: points each time (whole points)."),
    )
    categories = models.JSONField(
        default=list, blank=True, help_text=_("Product bonuses: the categories it is for, as the shops send them.")
    )
    skus = models.JSONField(default=list, blank=True, help_text=_("Product bonuses: the SKUs it is for."))
    event = models.CharField(
        max_length=64, blank=True, help_text=_("Action bonus: the event, e.g. review_written, as your shop sends it.")
    )
    currency = models.CharField(
        max_length=3, blank=True, help_text=_("Orders in this currency only (ISO 4217); empty: every currency.")
    )
    shop_ids = models.JSONField(default=list, blank=True, help_text=_("Ids of the shops it is for; empty: all."))
    segments = models.ManyToManyField(
        Segment,
        blank=True,
        related_name="campaigns",
        help_text=_("A targeted offer: only members in one of these segments; none: every member."),
    )
    budget = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("The most points the campaign gives in all; empty: no budget.")
    )
    member_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("The most points one member gets from the campaign over its whole run; empty: no limit."),
    )
    points_given = models.PositiveIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["points_given", "updated_at"], m2m_fields=["segments"])

    class Meta:
        ordering = ["-starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="campaign_ends_after_starts"),
            models.CheckConstraint(condition=Q(factor__gt=1), name="campaign_factor_above_one"),
            models.CheckConstraint(condition=Q(points__gte=0), name="campaign_points_not_negative"),
            models.CheckConstraint(
                condition=Q(member_limit__isnull=True) | Q(member_limit__gte=1), name="campaign_member_limit_positive"
            ),
            # The budget is never exceeded: rewards.services.campaigns caps what it gives under the row lock.
            models.CheckConstraint(
                condition=Q(budget__isnull=True) | Q(points_given__lte=F("budget")), name="campaign_within_budget"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["order_multiplier", "product_multiplier", "product_points", "action_bonus"]),
                name="campaign_kind_valid",
            ),
        ]
        indexes = [models.Index(fields=["ends_at"], name="campaign_ends_at_idx")]

    def __str__(self) -> str:
        return self.name


class CampaignMember(models.Model):
    """What one campaign gave one member: the per-member limit counts it, reports add it up."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members_reached", db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="campaigns_reached")
    points = models.PositiveIntegerField(default=0)
    times = models.PositiveIntegerField(default=0, help_text=_("Orders and actions that got points from it."))
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "member"], name="campaignmember_unique")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.member_id} {self.points}"
