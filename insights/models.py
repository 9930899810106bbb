"""Program KPIs: daily rollups, member scores (RFM, churn risk) and the staff dashboard (docs/insights.md).

- DailyProgramStats: one row per day of the program's time zone: members, points, tiers, referrals.
- DailyOrderStats: one row per day, currency and buyer kind (member or not): orders and revenue.
- PeriodCustomerStats: per buyer kind and currency, for the 30, 90 and 365 days ending on a day: customers,
  repeat customers, orders, revenue (distinct customers cannot be added up from daily rows).
- CampaignImpact: per campaign, its points cost and the revenue of the members it reached against a
  comparable group (insights.services.rollups explains the comparison).
- MemberScore: per member, RFM quintiles, a named RFM segment and a churn-risk score (insights.services.scores).

All of them are derived: insights.services rebuilds any of them from the ledger, orders, tiers and referrals.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

__all__ = ["DailyProgramStats", "DailyOrderStats", "PeriodCustomerStats", "CampaignImpact", "MemberScore"]


class DailyProgramStats(models.Model):
    """The program on one day (the program's time zone); rewritten by rollups_refresh."""

    day = models.DateField(unique=True)
    members_enrolled = models.PositiveIntegerField(default=0, help_text=_("Members who joined that day."))
    members_total = models.PositiveIntegerField(default=0, help_text=_("Members joined by the end of the day."))
    active_30 = models.PositiveIntegerField(default=0, help_text=_("Members who earned or redeemed in 30 days."))
    active_90 = models.PositiveIntegerField(default=0, help_text=_("Members who earned or redeemed in 90 days."))
    points_issued = models.BigIntegerField(default=0, help_text=_("Points earned (earn entries)."))
    points_redeemed = models.BigIntegerField(default=0)
    points_expired = models.BigIntegerField(default=0)
    points_reversed = models.BigIntegerField(default=0, help_text=_("Points refunds took back."))
    points_outstanding = models.BigIntegerField(default=0, help_text=_("Available + pending at the end of the day."))
    tier_distribution = models.JSONField(
        default=dict, blank=True, help_text=_("Members per tier name at the end of the day ('' : no tier yet).")
    )
    tier_up = models.PositiveIntegerField(default=0)
    tier_down = models.PositiveIntegerField(default=0)
    referral_clicks = models.PositiveIntegerField(default=0)
    referral_signups = models.PositiveIntegerField(default=0)
    referral_qualified = models.PositiveIntegerField(default=0)
    member_scores = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Members per RFM segment and at high churn risk, from the scores computed that day (nightly)."),
    )
    refreshed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("daily program stats")
        verbose_name_plural = _("daily program stats")
        ordering = ["day"]

    def __str__(self) -> str:
        return str(self.day)


class InsightsDashboard(DailyProgramStats):
    """The dashboard's entry in the admin (a proxy: no table); its view permission opens the page."""

    class Meta:
        proxy = True
        verbose_name = _("insights dashboard")
        verbose_name_plural = _("insights dashboard")


class DailyOrderStats(models.Model):
    """Orders (not cancelled) placed on one day in one currency, by members or by customers without one."""

    day = models.DateField()
    currency = models.CharField(max_length=3)
    members = models.BooleanField(help_text=_("Orders of members; false: orders without a member."))
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        ordering = ["day", "currency", "-members"]
        constraints = [
            models.UniqueConstraint(fields=["day", "currency", "members"], name="dailyorderstats_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.currency} {'members' if self.members else 'non-members'}"


class PeriodCustomerStats(models.Model):
    """The `days` days ending on `day` (inclusive), per currency and buyer kind: customers told apart (members
    by member, others by their e-mail or shop customer id), those with two orders or more, orders, revenue."""

    day = models.DateField()
    days = models.PositiveSmallIntegerField()
    currency = models.CharField(max_length=3)
    members = models.BooleanField()
    customers = models.PositiveIntegerField(default=0)
    repeat_customers = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0, help_text=_("Orders of the customers counted."))
    revenue = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "days", "currency", "members"], name="periodcustomerstats_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} ({self.days} days) {self.currency}"


class CampaignImpact(models.Model):
    """One campaign's points cost against the revenue of the members it reached and of a comparable group."""

    campaign = models.OneToOneField("rewards.Campaign", on_delete=models.CASCADE, related_name="impact")
    points = models.BigIntegerField(default=0, help_text=_("Points the campaign gave."))
    reached = models.PositiveIntegerField(default=0, help_text=_("Members who earned from it."))
    compared = models.PositiveIntegerField(default=0, help_text=_("Members of the comparable group."))
    currency = models.CharField(max_length=3)
    reached_before = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    reached_during = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    compared_before = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    compared_during = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    incremental_revenue = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Impact of campaign {self.campaign_id}"


class MemberScore(models.Model):
    """A member's RFM quintiles (1-5, 5 best; empty without an order in the last 365 days), RFM segment and
    churn risk (0-100; empty for members who never ordered). Rewritten nightly by member_scores_refresh."""

    class Segment(models.TextChoices):
        CHAMPIONS = "champions", _("Champions")
        LOYAL = "loyal", _("Loyal")
        NEW = "new", _("New")
        PROMISING = "promising", _("Promising")
        AT_RISK = "at_risk", _("At risk")
        HIBERNATING = "hibernating", _("Hibernating")
        LAPSED = "lapsed", _("Lapsed (no order in 365 days)")
        NO_ORDERS = "no_orders", _("No orders yet")

    member = models.OneToOneField("members.Member", on_delete=models.CASCADE, primary_key=True, related_name="score")
    recency = models.PositiveSmallIntegerField(null=True, blank=True)
    frequency = models.PositiveSmallIntegerField(null=True, blank=True)
    monetary = models.PositiveSmallIntegerField(null=True, blank=True)
    segment = models.CharField(max_length=16, choices=Segment.choices)
    churn_risk = models.PositiveSmallIntegerField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    orders_365 = models.PositiveIntegerField(default=0)
    spend_365 = models.DecimalField(
        max_digits=18, decimal_places=2, default=0, help_text=_("In the program's currency.")
    )
    expected_interval_days = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(churn_risk__isnull=True) | Q(churn_risk__lte=100), name="memberscore_churn_risk_range"
            ),
            models.CheckConstraint(
                condition=Q(
                    segment__in=[
                        "champions",
                        "loyal",
                        "new",
                        "promising",
                        "at_risk",
                        "hibernating",
                        "lapsed",
                        "no_orders",
                    ]
                ),
                name="memberscore_segment_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["segment"], name="memberscore_segment_idx"),
            models.Index(fields=["churn_risk"], name="memberscore_churn_idx"),
        ]

    def __str__(self) -> str:
        return f"Score of member {self.member_id}"
