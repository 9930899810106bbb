"""Member emails: derived from the ledger's and the program's append-only facts by a periodic collector
(services.emails_collect), one row per event (unique kind + source key), then sent by Celery (docs/emails.md)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


class Category(models.TextChoices):
    ACCOUNT = "account", _("Account (always sent)")
    ACTIVITY = "activity", _("Activity")
    MARKETING = "marketing", _("Offers and reminders")


class MemberEmail(BaseModel):
    """One email to one member about one event. Written once by the collector; only its sending state changes."""

    class Kind(models.TextChoices):
        WELCOME = "welcome", _("Welcome")
        POINTS_EARNED = "points_earned", _("Points earned")
        POINTS_RELEASED = "points_released", _("Points released")
        REWARD_REDEEMED = "reward_redeemed", _("Reward redeemed")
        POINTS_EXPIRING = "points_expiring", _("Points expiring")
        TIER_UP = "tier_up", _("Tier up")
        TIER_DOWN = "tier_down", _("Tier down")
        REFERRAL_REWARD = "referral_reward", _("Referral reward")
        BIRTHDAY = "birthday", _("Birthday")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="emails")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    source_key = models.CharField(max_length=200, help_text=_("The event it is about; one email per event."))
    context = models.JSONField(default=dict, blank=True, help_text=_("The facts the templates show."))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=500, blank=True, help_text=_("Why it was skipped, or the last error."))
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    to_email = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "source_key"], name="memberemail_once_per_event"),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "sent", "skipped", "failed"]), name="memberemail_status_valid"
            ),
        ]
        indexes = [
            # The sender reads only queued rows that are due: a partial index stays small.
            models.Index(fields=["next_attempt_at"], condition=Q(status="queued"), name="memberemail_due_idx"),
            models.Index(fields=["member", "-created_at"], name="memberemail_member_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"


class EmailPreferences(models.Model):
    """A member's e-mail choices, made on first change; without a row every category is on."""

    member = models.OneToOneField("members.Member", on_delete=models.CASCADE, related_name="email_preferences")
    activity = models.BooleanField(default=True, help_text=_("Points earned and released, tiers, referral rewards."))
    marketing = models.BooleanField(
        default=True, help_text=_("Birthday and expiring points; also needs the member's marketing consent.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = _("email preferences")

    def __str__(self) -> str:
        return f"activity={self.activity} marketing={self.marketing}"


class EmailCursor(models.Model):
    """How far the collector has read one source: the last id, or (last_at, last_id) for sources read by time."""

    source = models.CharField(max_length=32, unique=True)
    last_id = models.BigIntegerField(default=0)
    last_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.source} @ {self.last_id}"
