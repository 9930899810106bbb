"""The program's settings and the points ledger: accounts, lots, append-only entries and their movements.

How the pieces fit (see DESIGN.md, "The points ledger"):
- A PointLot holds points earned together; `remaining` is what is left of it.
- A PointEntry is one change of a member's points; it is never updated or deleted.
- A PointMovement says how much one entry changed one lot, split into the available and pending
  buckets, so every number on an account can be rebuilt from entries and movements by `audit_ledger`.
- PointsAccount keeps the cached balances, changed only by the ledger services under its row lock.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import BaseModel

__all__ = ["Program", "PointsAccount", "PointLot", "PointEntry", "PointMovement"]


class Program(models.Model):
    """The one loyalty program of this deployment (a single row, pk 1), edited in the admin."""

    class Expiry(models.TextChoices):
        NEVER = "never", _("Points never expire")
        DAYS = "days", _("N days after earning")
        END_OF_MONTH = "end_of_month", _("At the end of the month, N months after earning")
        END_OF_YEAR = "end_of_year", _("At the end of the year, N months after earning")
        INACTIVITY = "inactivity", _("All points after N months without activity")

    class Rounding(models.TextChoices):
        DOWN = "down", _("Round down")
        HALF_UP = "half_up", _("Round half up")
        UP = "up", _("Round up")

    class ReversalPolicy(models.TextChoices):
        LOT = "lot", _("Reverse only what is left of the refunded order's points")
        BALANCE = "balance", _("Then take the rest from the available balance, stopping at zero")
        DEBT = "debt", _("Then take from the balance and record the rest as a debt future earnings pay off")

    name = models.CharField(max_length=120, default="Loyalty program")
    currency = models.CharField(max_length=3, default="EUR", help_text=_("ISO 4217 code, e.g. EUR, USD, GBP."))
    time_zone = models.CharField(max_length=64, default="UTC", help_text=_("Decides when a day, month or year ends."))
    expiry_policy = models.CharField(max_length=16, choices=Expiry.choices, default=Expiry.NEVER)
    expiry_period = models.PositiveIntegerField(
        default=12, help_text=_("The N of the expiry policy: days for 'N days', months for the others.")
    )
    pending_days = models.PositiveIntegerField(
        default=0, help_text=_("Points from orders stay pending this many days (the return window).")
    )
    rounding = models.CharField(max_length=8, choices=Rounding.choices, default=Rounding.DOWN)
    signup_bonus = models.PositiveIntegerField(default=0, help_text=_("Points given on sign-up; 0 for none."))
    reversal_policy = models.CharField(
        max_length=8,
        choices=ReversalPolicy.choices,
        default=ReversalPolicy.BALANCE,
        help_text=_("What a refund does when the points it reverses were already spent."),
    )
    transfers_enabled = models.BooleanField(default=False, help_text=_("Members may give points to other members."))
    cancelled_order_coupons = models.CharField(
        max_length=16,
        choices=[("release", _("Release the coupon (usable again)")), ("refund_points", _("Refund the points"))],
        default="release",
        help_text=_("When an order that used a reward's coupon is cancelled."),
    )
    staff_adjust_limit = models.PositiveIntegerField(
        default=1000,
        help_text=_("Largest adjustment (either sign) a staff user without the unlimited permission may make."),
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("program settings")
        verbose_name_plural = _("program settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="program_single_row")]

    def __str__(self) -> str:
        return self.name


class PointsAccount(BaseModel):
    """One per member: cached balances, changed only by rewards.services.ledger under this row's lock."""

    member = models.OneToOneField("members.Member", on_delete=models.PROTECT, related_name="points_account")
    available = models.IntegerField(default=0)
    pending = models.IntegerField(default=0)
    debt = models.IntegerField(default=0, help_text=_("Points owed from reversals; future earnings pay it off."))
    lifetime_earned = models.IntegerField(default=0)
    lifetime_redeemed = models.IntegerField(default=0)
    lifetime_expired = models.IntegerField(default=0)
    # Not indexed: every ledger movement sets it, and an index on it made each balance update write all the
    # account's indexes anew (no HOT update). The inactivity sweep walks accounts in pk order instead.
    last_activity_at = models.DateTimeField(null=True, blank=True)
    tier = models.ForeignKey(
        "rewards.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
        help_text=_("The member's tier now; rewards.services.tiers keeps it and its history."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("adjust_points", _("Can adjust points, up to the program's staff limit")),
            ("adjust_points_unlimited", _("Can adjust points beyond the staff limit")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(available__gte=0), name="account_available_not_negative"),
            models.CheckConstraint(condition=Q(pending__gte=0), name="account_pending_not_negative"),
            models.CheckConstraint(condition=Q(debt__gte=0), name="account_debt_not_negative"),
        ]

    def __str__(self) -> str:
        return f"Points of {self.member}"


class PointLot(BaseModel):
    """Points earned together. Redemptions consume lots soonest-expiring first."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        AVAILABLE = "available", _("Available")
        SPENT = "spent", _("Spent")
        EXPIRED = "expired", _("Expired")
        REVERSED = "reversed", _("Reversed")

    class Source(models.TextChoices):
        ORDER = "order", _("Order")
        BONUS = "bonus", _("Bonus")
        SIGNUP = "signup", _("Sign-up bonus")
        EVENT = "event", _("Action")
        REFERRAL = "referral", _("Referral")
        ADJUSTMENT = "adjustment", _("Staff adjustment")
        TRANSFER = "transfer", _("Transfer")

    # No index of its own: lot_account_spend_idx starts with the account.
    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="lots", db_index=False)
    points = models.PositiveIntegerField()
    remaining = models.IntegerField()
    reversed_points = models.IntegerField(default=0, help_text=_("How much of `points` refunds have reversed."))
    state = models.CharField(max_length=16, choices=State.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    source_ref = models.CharField(max_length=200, blank=True, help_text=_("The order, bonus or referral it came from."))
    earned_at = models.DateTimeField()
    available_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    value = models.DecimalField(
        max_digits=14, decimal_places=4, default=0, help_text=_("Money value allocated to these points.")
    )
    value_currency = models.CharField(max_length=3)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="lot_points_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0, remaining__lte=F("points")), name="lot_remaining_within_points"
            ),
            models.CheckConstraint(
                condition=Q(reversed_points__gte=0, reversed_points__lte=F("points")),
                name="lot_reversed_within_points",
            ),
            # A lot is live (pending or available) exactly while it holds points; spent, expired and
            # reversed lots hold none, so the sweeps and redemption never scan empty lots.
            models.CheckConstraint(
                condition=Q(state__in=["pending", "available"], remaining__gt=0)
                | (~Q(state__in=["pending", "available"]) & Q(remaining=0)),
                name="lot_live_iff_holds_points",
            ),
        ]
        indexes = [
            # The periodic sweeps look up only live lots: partial indexes stay small as lots are used up,
            # and a lot leaves them when it is turned (bench/expiry_sweep.py measured the difference).
            models.Index(fields=["available_at"], condition=Q(state="pending"), name="lot_release_due_idx"),
            models.Index(fields=["expires_at"], condition=Q(state="available"), name="lot_expire_due_idx"),
            # Redemption's soonest-expiring-first order; it also serves lookups by account.
            models.Index(fields=["account", "state", "expires_at"], name="lot_account_spend_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.points} pts ({self.get_source_display()}, {self.get_state_display()})"


class PointEntry(BaseModel):
    """One change of a member's points. Append-only: a correction is a new entry (PostgreSQL enforces it)."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        RELEASE = "release", _("Became available")
        REDEEM = "redeem", _("Redeemed")
        REVERSE = "reverse", _("Reversed")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Adjusted")
        TRANSFER = "transfer", _("Transferred")
        SETTLE = "settle", _("Debt paid off")

    class Actor(models.TextChoices):
        MEMBER = "member", _("Member")
        SHOP = "shop", _("Shop")
        STAFF = "staff", _("Staff")
        SYSTEM = "system", _("System")

    # No index of its own: entry_account_history_idx (account, created_at) serves every lookup by account.
    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="entries", db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    available_change = models.IntegerField(default=0)
    pending_change = models.IntegerField(default=0)
    debt_change = models.IntegerField(default=0)
    reason = models.CharField(max_length=500, blank=True)
    actor_kind = models.CharField(max_length=16, choices=Actor.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_ref = models.CharField(max_length=200, blank=True, help_text=_("Who acted when not a user, e.g. a shop."))
    idempotency_key = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)
    lots = models.ManyToManyField(PointLot, through="PointMovement", related_name="entries")

    class Meta:
        verbose_name_plural = _("point entries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="entry_idempotency_key_unique"),
            models.CheckConstraint(condition=~Q(reason="") | ~Q(kind="adjust"), name="entry_adjust_has_reason"),
        ]
        indexes = [models.Index(fields=["account", "-created_at"], name="entry_account_history_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points:+d}"

    @property
    def points(self) -> int:
        """The change of the member's total (available + pending); 0 for a release."""
        return self.available_change + self.pending_change


class PointMovement(models.Model):
    """How one entry changed one lot. A lot's `remaining` is the sum of its movements."""

    # No index of its own: movement_entry_lot_unique starts with the entry.
    entry = models.ForeignKey(PointEntry, on_delete=models.PROTECT, related_name="movements", db_index=False)
    lot = models.ForeignKey(PointLot, on_delete=models.PROTECT, related_name="movements")
    available_change = models.IntegerField(default=0)
    pending_change = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entry", "lot"], name="movement_entry_lot_unique")]

    def __str__(self) -> str:
        return f"{self.available_change:+d} available, {self.pending_change:+d} pending"


# --- earning rules -------------------------------------------------------------------------------------
