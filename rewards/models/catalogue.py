"""The rewards catalogue, redemptions and their coupons, causes for donations, and store credit.

How the pieces fit (docs/rewards.md):
- A Reward is what points buy; its `kind` says what a redemption hands out (a coupon, store credit, a
  donation to a Cause, or a perk without a code).
- A Redemption is one member's purchase of one reward, idempotent per (member, idempotency key). It keeps
  the points it cost and the money value it gave (for the accounting).
- A Coupon is the code a redemption issued; shops validate it against a cart and consume it once.
- A StoreCreditAccount is a member's money balance in one currency, changed only by
  rewards.services.store_credit under its row lock, with one append-only StoreCreditEntry per change.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import BaseModel

__all__ = ["Cause", "Reward", "Redemption", "Coupon", "StoreCreditAccount", "StoreCreditEntry"]

MONEY = {"max_digits": 14, "decimal_places": 2}


class Cause(BaseModel):
    """A charity or good cause that donation rewards give to; its running total is summed from redemptions."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Reward(BaseModel):
    """Something members redeem points for. Changed by staff in the admin; `units_issued` only by redemptions."""

    class Kind(models.TextChoices):
        FIXED_AMOUNT = "fixed_amount", _("Discount code: fixed amount")
        PERCENTAGE = "percentage", _("Discount code: percentage (with a cap)")
        FREE_SHIPPING = "free_shipping", _("Discount code: free shipping")
        FREE_PRODUCT = "free_product", _("Discount code: free product (SKU)")
        STORE_CREDIT = "store_credit", _("Store credit")
        PAY_WITH_POINTS = "pay_with_points", _("Pay with points at checkout")
        DONATION = "donation", _("Donation to a cause")
        PERK = "perk", _("Perk without a code (invitation, early access)")

    class Period(models.TextChoices):
        DAY = "day", _("per day")
        WEEK = "week", _("per week (from Monday)")
        MONTH = "month", _("per month")
        YEAR = "year", _("per year")
        EVER = "ever", _("ever")

    COUPON_KINDS = (Kind.FIXED_AMOUNT, Kind.PERCENTAGE, Kind.FREE_SHIPPING, Kind.FREE_PRODUCT, Kind.PAY_WITH_POINTS)

    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    image_url = models.URLField(
        max_length=500, blank=True, help_text=_("An image of the reward (a URL; uploads need Pillow, not installed).")
    )
    points = models.PositiveIntegerField(
        default=0, help_text=_("What it costs. Pay with points: leave 0; the member chooses between min and max.")
    )
    active = models.BooleanField(default=True, help_text=_("Switch it off to stop redemptions at once."))
    active_from = models.DateTimeField(null=True, blank=True, help_text=_("Redeemable from; empty: now."))
    active_until = models.DateTimeField(null=True, blank=True, help_text=_("Redeemable until; empty: no end."))
    visible_from = models.DateTimeField(
        null=True, blank=True, help_text=_("Shown to members from (may be before it is redeemable); empty: now.")
    )
    visible_until = models.DateTimeField(null=True, blank=True, help_text=_("Shown until; empty: no end."))
    stock_total = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Units that can ever be issued; empty: unlimited.")
    )
    units_issued = models.PositiveIntegerField(
        default=0, help_text=_("Units redeemed so far (a refunded redemption gives its unit back).")
    )
    limit_per_member = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Redemptions per member per period; empty: no limit.")
    )
    limit_period = models.CharField(max_length=8, choices=Period.choices, default=Period.EVER)
    min_tier = models.ForeignKey(
        "rewards.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Only members in this tier or a higher one (by rank); empty: everyone."),
    )
    segments = models.ManyToManyField(
        "rewards.Segment",
        blank=True,
        related_name="+",
        help_text=_("Only members in at least one of these segments; none: everyone."),
    )
    shops = models.ManyToManyField(
        "integrations.Shop",
        blank=True,
        related_name="+",
        help_text=_("Where it is offered and its code can be used; none: every shop."),
    )
    min_order = models.DecimalField(
        **MONEY, null=True, blank=True, help_text=_("The coupon needs a cart of at least this total; empty: none.")
    )
    coupon_valid_days = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("A coupon expires this many days after it is issued; empty: never.")
    )
    currency = models.CharField(
        max_length=3, blank=True, help_text=_("ISO 4217 code of the value; empty: the program's currency.")
    )
    value = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text=_("Fixed amount and store credit: the amount. Percentage: the percentage (e.g. 15)."),
    )
    max_discount = models.DecimalField(
        **MONEY, null=True, blank=True, help_text=_("Percentage: the largest discount; empty: no cap.")
    )
    sku = models.CharField(max_length=100, blank=True, help_text=_("Free product: the product's SKU."))
    points_per_unit = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Pay with points: points per 1.00 of the currency.")
    )
    min_points = models.PositiveIntegerField(null=True, blank=True, help_text=_("Pay with points: at least."))
    max_points = models.PositiveIntegerField(null=True, blank=True, help_text=_("Pay with points: at most."))
    cause = models.ForeignKey(
        Cause,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rewards",
        help_text=_("Donation: to whom."),
    )
    position = models.PositiveIntegerField(default=0, help_text=_("Lower comes first in lists."))
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["units_issued", "updated_at"], m2m_fields=["segments", "shops"])

    class Meta:
        ordering = ["position", "points", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "fixed_amount",
                        "percentage",
                        "free_shipping",
                        "free_product",
                        "store_credit",
                        "pay_with_points",
                        "donation",
                        "perk",
                    ]
                ),
                name="reward_kind_valid",
            ),
            # Stock holds: the conditional UPDATE in reward_redeem never issues past it, and this backs it up.
            models.CheckConstraint(
                condition=Q(stock_total__isnull=True) | Q(units_issued__lte=F("stock_total")),
                name="reward_issued_within_stock",
            ),
            models.CheckConstraint(
                condition=Q(kind="pay_with_points") | Q(points__gt=0), name="reward_points_positive"
            ),
            models.CheckConstraint(
                condition=~Q(kind="pay_with_points")
                | Q(
                    points_per_unit__isnull=False,
                    points_per_unit__gt=0,
                    min_points__isnull=False,
                    min_points__gt=0,
                    max_points__isnull=False,
                    max_points__gte=F("min_points"),
                ),
                name="reward_pay_with_points_range",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["fixed_amount", "store_credit", "percentage"])
                | Q(value__isnull=False, value__gt=0),
                name="reward_value_positive",
            ),
            models.CheckConstraint(condition=~Q(kind="percentage") | Q(value__lte=100), name="reward_percentage_max"),
            models.CheckConstraint(condition=~Q(kind="free_product") | ~Q(sku=""), name="reward_free_product_sku"),
            models.CheckConstraint(
                condition=~Q(kind="donation") | Q(cause__isnull=False), name="reward_donation_cause"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def issues_coupon(self) -> bool:
        return self.kind in self.COUPON_KINDS

    @property
    def stock_left(self) -> int | None:
        return None if self.stock_total is None else max(0, self.stock_total - self.units_issued)


class Redemption(BaseModel):
    """One member's redemption of one reward: the points it cost and what it gave, kept for the accounting."""

    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        REFUNDED = "refunded", _("Points refunded")

    class Channel(models.TextChoices):
        WEB = "web", _("Member pages")
        WIDGET = "widget", _("Shop widget")
        API = "api", _("Shop API")
        GIFT = "gift", _("Given (a referral reward)")

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="redemptions")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    points = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETED)
    idempotency_key = models.CharField(max_length=128)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    shop = models.ForeignKey(
        "integrations.Shop",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("API or widget."),
    )
    kind = models.CharField(max_length=16, choices=Reward.Kind.choices, help_text=_("The reward's kind then."))
    value = models.DecimalField(**MONEY, null=True, blank=True, help_text=_("Money value given (coupon, credit)."))
    currency = models.CharField(max_length=3, blank=True)
    cause = models.ForeignKey(Cause, null=True, blank=True, on_delete=models.PROTECT, related_name="redemptions")
    points_entry = models.ForeignKey(
        "rewards.PointEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The ledger's redeem entry (none for a gift, which costs no points)."),
    )
    refund_entry = models.ForeignKey(
        "rewards.PointEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The ledger entry that gave the points back."),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "idempotency_key"], name="redemption_member_key_unique"),
            models.CheckConstraint(condition=Q(status__in=["completed", "refunded"]), name="redemption_status_valid"),
            models.CheckConstraint(
                condition=Q(channel__in=["web", "widget", "api", "gift"]), name="redemption_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel="gift") | Q(points_entry__isnull=False), name="redemption_paid_has_entry"
            ),
            models.CheckConstraint(
                condition=Q(status="completed") | Q(refund_entry__isnull=False), name="redemption_refund_has_entry"
            ),
        ]
        indexes = [
            # Per-member limits count a member's redemptions of one reward since the period began.
            models.Index(fields=["member", "reward", "created_at"], name="redemption_limit_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reward} ({self.points} pts)"


class Coupon(BaseModel):
    """A code a redemption issued. Consumed at most once (`coupon_redeem`), released again if that order is
    cancelled (or voided with the points refunded, as the program says). "Expired" is read off `expires_at`."""

    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued")
        USED = "used", _("Used")
        VOID = "void", _("Void (points refunded)")

    redemption = models.OneToOneField(Redemption, on_delete=models.PROTECT, related_name="coupon")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="coupons")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="coupons")
    code = models.CharField(max_length=32, help_text=_("Random, unguessable; shown grouped: ABCD-EFGH-JKMN-PQRS."))
    kind = models.CharField(max_length=16, choices=Reward.Kind.choices)
    value = models.DecimalField(**MONEY, null=True, blank=True, help_text=_("Amount, or percentage."))
    max_discount = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    sku = models.CharField(max_length=100, blank=True)
    min_order = models.DecimalField(**MONEY, null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ISSUED)
    used_at = models.DateTimeField(null=True, blank=True)
    used_shop = models.ForeignKey(
        "integrations.Shop", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    used_order_external_id = models.CharField(max_length=150, blank=True)
    released_at = models.DateTimeField(null=True, blank=True, help_text=_("Last time a cancelled order gave it back."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["code"], name="coupon_code_unique"),
            models.CheckConstraint(condition=Q(status__in=["issued", "used", "void"]), name="coupon_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="used")
                | (Q(used_shop__isnull=False, used_at__isnull=False) & ~Q(used_order_external_id="")),
                name="coupon_used_has_order",
            ),
        ]
        indexes = [
            # order_cancel finds the coupons an order used.
            models.Index(fields=["used_shop", "used_order_external_id"], name="coupon_used_order_idx"),
        ]

    def __str__(self) -> str:
        return self.code


class StoreCreditAccount(BaseModel):
    """A member's store credit in one currency; `balance` changes only in rewards.services.store_credit,
    under this row's lock, with one StoreCreditEntry per change."""

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="store_credit_accounts")
    currency = models.CharField(max_length=3)
    balance = models.DecimalField(**MONEY, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "currency"], name="storecredit_member_currency_unique"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="storecredit_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.balance} {self.currency}"


class StoreCreditEntry(BaseModel):
    """One change of a store credit balance. Append-only (PostgreSQL refuses UPDATE and DELETE)."""

    class Kind(models.TextChoices):
        CASHBACK = "cashback", _("Cashback")
        REWARD = "reward", _("Reward")
        SPEND = "spend", _("Spent")
        REFUND = "refund", _("Refunded")
        ADJUST = "adjust", _("Adjusted")
        DIVIDEND = "dividend", _("Dividend")

    account = models.ForeignKey(StoreCreditAccount, on_delete=models.PROTECT, related_name="entries")
    amount = models.DecimalField(**MONEY, help_text=_("Positive adds, negative spends."))
    balance_after = models.DecimalField(**MONEY)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.CharField(max_length=500)
    idempotency_key = models.CharField(max_length=200)
    source_ref = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = _("store credit entries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "idempotency_key"], name="storecredit_entry_key_unique"),
            models.CheckConstraint(condition=~Q(amount=0), name="storecredit_entry_not_zero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="storecredit_entry_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+} {self.account.currency}"
