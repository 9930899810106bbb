"""Referrals: a member's code and link, each friend they bring, and the rewards both sides get.

How the pieces fit (docs/referrals.md):
- ReferralProgram: the settings staff edit (one row, pk 1): when a referral qualifies, what each side
  gets, the return window, the fraud rules and limits.
- ReferralCode: a member's code (the link is /r/<code>), and hashes of the devices and IPs the member
  was seen on, for the fraud checks. No IP or device id is stored in the clear.
- Referral: one friend brought (or one browser that clicked a link and may still sign up). Its status
  moves clicked -> signed up -> qualified -> rewarded, or to rejected with the reason. `facts` keeps what
  the checks saw, so every decision can be explained and the rules' preview can decide it again.
- ReferralReward: what one side gets for one referral (one row per qualifying order for "each of the
  first N orders"). The referrer's stays pending until its order's return window has passed.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import BaseModel

__all__ = ["ReferralProgram", "ReferralCode", "Referral", "ReferralReward", "ReferralInvite"]

MONEY = {"max_digits": 14, "decimal_places": 2}


class ReferralProgram(models.Model):
    """The referral program's settings (a single row, pk 1), edited in the admin."""

    class Attribution(models.TextChoices):
        FIRST_CLICK = "first_click", _("First click: the first link a visitor followed keeps the credit")
        LAST_CLICK = "last_click", _("Last click: the latest link a visitor followed takes the credit")

    class Trigger(models.TextChoices):
        SIGNUP = "signup", _("When the friend signs up")
        FIRST_ORDER = "first_order", _("On the friend's first qualifying order")
        EACH_ORDER = "each_order", _("On each of the friend's first N qualifying orders within M days")

    class FriendReward(models.TextChoices):
        NONE = "none", _("Nothing")
        POINTS = "points", _("Points")
        REWARD = "reward", _("A reward from the catalogue (e.g. a welcome discount code)")

    class ReferrerReward(models.TextChoices):
        POINTS = "points", _("Points")
        STORE_CREDIT = "store_credit", _("Store credit")
        REWARD = "reward", _("A reward from the catalogue")

    class Check(models.TextChoices):
        FLAG = "flag", _("Hold for review")
        REJECT = "reject", _("Reject")
        IGNORE = "ignore", _("Ignore")

    active = models.BooleanField(default=False, help_text=_("Members get a referral link and rewards are given."))
    attribution_days = models.PositiveIntegerField(
        default=30, help_text=_("How long a followed link counts (the cookie's lifetime), in days.")
    )
    attribution = models.CharField(max_length=16, choices=Attribution.choices, default=Attribution.FIRST_CLICK)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.FIRST_ORDER)
    min_order_total = models.DecimalField(
        **MONEY, default=0, help_text=_("An order qualifies from this total (in the order's currency).")
    )
    orders_count = models.PositiveIntegerField(
        default=1, help_text=_("N: for 'each of the first N orders', how many orders are rewarded.")
    )
    orders_within_days = models.PositiveIntegerField(
        default=90, help_text=_("M: orders count within this many days of the friend's sign-up.")
    )
    return_window_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("The referrer's reward waits this long after the order; empty: the program's pending days."),
    )
    friend_reward = models.CharField(max_length=16, choices=FriendReward.choices, default=FriendReward.POINTS)
    friend_points = models.PositiveIntegerField(default=0)
    friend_reward_item = models.ForeignKey(
        "rewards.Reward",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("friend's catalogue reward"),
    )
    referrer_reward = models.CharField(max_length=16, choices=ReferrerReward.choices, default=ReferrerReward.POINTS)
    referrer_points = models.PositiveIntegerField(default=0)
    referrer_store_credit = models.DecimalField(**MONEY, default=0)
    referrer_reward_item = models.ForeignKey(
        "rewards.Reward",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("referrer's catalogue reward"),
    )
    same_device = models.CharField(
        max_length=8,
        choices=Check.choices,
        default=Check.FLAG,
        help_text=_("The friend used a device the referrer used."),
    )
    same_ip = models.CharField(
        max_length=8, choices=Check.choices, default=Check.FLAG, help_text=_("The friend came from the referrer's IP.")
    )
    same_address = models.CharField(
        max_length=8,
        choices=Check.choices,
        default=Check.FLAG,
        help_text=_("The friend's order ships to an address the referrer's orders shipped to."),
    )
    same_payment = models.CharField(
        max_length=8,
        choices=Check.choices,
        default=Check.FLAG,
        help_text=_("The friend's order was paid with the referrer's payment method (the shop's fingerprint)."),
    )
    max_per_day = models.PositiveIntegerField(
        default=5, help_text=_("Sign-ups per referrer per day before the next is held for review; 0: no limit.")
    )
    max_per_week = models.PositiveIntegerField(
        default=15, help_text=_("Sign-ups per referrer per 7 days before the next is held for review; 0: no limit.")
    )
    max_rewarded = models.PositiveIntegerField(
        default=50, help_text=_("Rewarded referrals per referrer, ever; the ones after are rejected. 0: no cap.")
    )
    invites_per_day = models.PositiveIntegerField(
        default=10, help_text=_("Invitations by e-mail a member may send per day.")
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("referral program")
        verbose_name_plural = _("referral program")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="referralprogram_single_row"),
            models.CheckConstraint(condition=Q(orders_count__gte=1), name="referralprogram_orders_count_positive"),
            models.CheckConstraint(condition=Q(min_order_total__gte=0), name="referralprogram_min_order_not_negative"),
            models.CheckConstraint(
                condition=Q(referrer_store_credit__gte=0), name="referralprogram_store_credit_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return str(_("Referral program"))


class ReferralCode(BaseModel):
    """A member's referral code. `seen_ips`/`seen_devices`: keyed hashes (never the values) of where the
    member was last seen, newest first, for the same-IP and same-device checks."""

    member = models.OneToOneField("members.Member", on_delete=models.PROTECT, related_name="referral_code")
    code = models.CharField(max_length=16, unique=True)
    seen_ips = models.JSONField(default=list, blank=True)
    seen_devices = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return self.code


class Referral(BaseModel):
    """One friend a member brought, from the click on their link to the reward."""

    class Status(models.TextChoices):
        CLICKED = "clicked", _("Clicked")
        SIGNED_UP = "signed_up", _("Signed up")
        QUALIFIED = "qualified", _("Qualified")
        REWARDED = "rewarded", _("Rewarded")
        REJECTED = "rejected", _("Rejected")

    class Review(models.TextChoices):
        NONE = "", _("Not needed")
        PENDING = "pending", _("Waiting for review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    class Channel(models.TextChoices):
        LINK = "link", _("Link")
        CODE = "code", _("Code typed at sign-up")
        API = "api", _("Shop API")

    referrer = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="referrals_made")
    friend = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="referrals_received"
    )
    code = models.CharField(max_length=16, help_text=_("The code the friend came with."))
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    reason_code = models.CharField(max_length=32, blank=True, help_text=_("Why it was rejected or held."))
    reason = models.CharField(max_length=500, blank=True)
    review = models.CharField(max_length=8, choices=Review.choices, default=Review.NONE, blank=True)
    review_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    facts = models.JSONField(default=dict, blank=True, help_text=_("What the fraud checks saw."))
    decisions = models.JSONField(default=list, blank=True, help_text=_("Each check that fired: code, action, why."))
    email_hash = models.CharField(
        max_length=64, blank=True, help_text=_("Keyed hash of the friend's canonical e-mail.")
    )
    ip_hash = models.CharField(max_length=64, blank=True)
    device_hash = models.CharField(max_length=64, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    signed_up_at = models.DateTimeField(null=True, blank=True)
    qualified_at = models.DateTimeField(null=True, blank=True)
    rewarded_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    orders_rewarded = models.PositiveIntegerField(default=0, help_text=_("Qualifying orders counted so far."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["clicked", "signed_up", "qualified", "rewarded", "rejected"]),
                name="referral_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(review__in=["", "pending", "approved", "rejected"]), name="referral_review_valid"
            ),
            models.CheckConstraint(condition=Q(status="clicked") | Q(friend__isnull=False), name="referral_has_friend"),
            models.CheckConstraint(condition=~Q(friend=models.F("referrer")), name="referral_not_self"),
            # A friend is referred at most once: the race of two sign-up paths lets one in.
            models.UniqueConstraint(fields=["friend"], condition=~Q(status="rejected"), name="referral_friend_once"),
        ]
        indexes = [
            models.Index(fields=["referrer", "signed_up_at"], name="referral_referrer_signup_idx"),
            models.Index(fields=["review"], condition=Q(review="pending"), name="referral_review_pending_idx"),
            models.Index(fields=["email_hash"], name="referral_email_hash_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.get_status_display()}"


class ReferralReward(BaseModel):
    """What one side of a referral gets, once: points, store credit or a catalogue reward."""

    class Side(models.TextChoices):
        REFERRER = "referrer", _("Referrer")
        FRIEND = "friend", _("Friend")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending (return window)")
        GRANTED = "granted", _("Granted")
        REVERSED = "reversed", _("Reversed (order refunded or cancelled)")
        CANCELLED = "cancelled", _("Cancelled (referral rejected)")

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="rewards")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="referral_rewards")
    side = models.CharField(max_length=8, choices=Side.choices)
    sequence = models.PositiveIntegerField(default=1, help_text=_("The friend's Nth qualifying order (1 otherwise)."))
    order = models.ForeignKey(
        "integrations.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="referral_rewards"
    )
    kind = models.CharField(max_length=16)
    points = models.PositiveIntegerField(default=0)
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    reward = models.ForeignKey("rewards.Reward", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField()
    granted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text=_("When it was reversed or cancelled."))
    end_reason = models.CharField(max_length=500, blank=True)
    grant_ref = models.CharField(max_length=200, blank=True, help_text=_("The lot, credit entry or redemption."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["referral", "side", "sequence"], name="referralreward_once"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "granted", "reversed", "cancelled"]),
                name="referralreward_status_valid",
            ),
            models.CheckConstraint(condition=Q(side__in=["referrer", "friend"]), name="referralreward_side_valid"),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="referralreward_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_side_display()} reward ({self.get_status_display()})"


class ReferralInvite(BaseModel):
    """An invitation a member sent by e-mail from their referral page (for the daily limit and to send
    one address at most one invitation from one member). The address is kept only as a keyed hash."""

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="referral_invites")
    email_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "email_hash"], name="referralinvite_once_per_address"),
        ]
        indexes = [models.Index(fields=["member", "created_at"], name="referralinvite_member_day_idx")]
