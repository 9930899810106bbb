"""The money side of points: the chart of accounts, the posting policy, the journal, the periods, and the
value each lot of points carries (docs/accounting.md).

How the pieces fit:
- The ledger (rewards) never calls the accounting. accounting.services.posting reads point entries and
  store-credit entries after they are written, in id order, and writes one balanced JournalEntry per source
  row that moves money; (source_kind, source_id) is unique, so nothing is ever posted twice.
- LotValuation is the accounting's own record of what one PointLot is worth: its measured value, what was
  released from it so far, and the points the posting has seen leave it. The liability accounts' balance is
  the sum of the live lots' `outstanding` (value - recognised - released).
- JournalLine repeats its entry's period, kind and currency, so the reports aggregate lines without a join.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import BaseModel

MONEY = {"max_digits": 16, "decimal_places": 2}
ZERO = Decimal("0.00")


class Account(models.Model):
    """One account of the chart, by role; staff give each role their own ledger code and name."""

    class Role(models.TextChoices):
        REVENUE = "revenue", _("Revenue (sales and points redeemed)")
        CONTRACT_LIABILITY = "contract_liability", _("Contract liability (deferred revenue for points)")
        BREAKAGE_REVENUE = "breakage_revenue", _("Breakage revenue (points never redeemed)")
        LOYALTY_EXPENSE = "loyalty_expense", _("Loyalty / marketing expense")
        PROVISION = "provision", _("Provision for rewards")
        STORE_CREDIT_LIABILITY = "store_credit_liability", _("Store credit liability")
        REWARDS_CLEARING = "rewards_clearing", _("Rewards given (clearing with the shop's books)")

    LIABILITY_ROLES = (Role.CONTRACT_LIABILITY, Role.PROVISION)

    role = models.CharField(max_length=32, choices=Role.choices, unique=True)
    code = models.CharField(max_length=32, unique=True, help_text=_("Your ledger's account code, e.g. 2450."))
    name = models.CharField(max_length=120)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=~Q(code=""), name="account_code_not_blank")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class AccountingPolicy(models.Model):
    """How points become money (a single row, pk 1). Changing the expected redemption rate goes through
    accounting.services.policy.redemption_rate_set, which logs it and posts the catch-up."""

    class Purchase(models.TextChoices):
        DEFERRAL = "deferral", _("IFRS 15: defer part of the sale as a contract liability")
        COST_ACCRUAL = "cost_accrual", _("Accrue the expected cost of rewards as a provision")
        EXPENSE = "expense", _("Expense when redeemed (programs too small to matter)")

    class NoSale(models.TextChoices):
        PROVISION = "provision", _("Marketing expense and a provision when given")
        EXPENSE = "expense", _("Expense when redeemed")

    purchase_policy = models.CharField(max_length=16, choices=Purchase.choices, default=Purchase.DEFERRAL)
    no_sale_policy = models.CharField(
        max_length=16,
        choices=NoSale.choices,
        default=NoSale.PROVISION,
        help_text=_("Points given without a sale: sign-up, birthday, referral, staff adjustments."),
    )
    point_face_value = models.DecimalField(
        max_digits=12, decimal_places=6, default=Decimal("0.01"), help_text=_("Money one point is worth at redemption.")
    )
    expected_redemption_rate = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.8000"),
        help_text=_("Share of points expected to be redeemed (1 - breakage). Change it with the estimate page."),
    )
    rate_overridden = models.BooleanField(default=False, help_text=_("Staff set the rate instead of the estimate."))
    reward_cost_ratio = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("1.0000"),
        help_text=_("Provisions: the cost of a reward as a share of its face value."),
    )
    points_ssp_per_point = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text=_("Stand-alone selling price of one point; empty: face value x expected redemption rate."),
    )
    include_shipping = models.BooleanField(
        default=True, help_text=_("Shipping is part of the sale's price when it is split between goods and points.")
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("accounting policy")
        verbose_name_plural = _("accounting policy")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="accountingpolicy_single_row"),
            models.CheckConstraint(
                condition=Q(expected_redemption_rate__gt=0, expected_redemption_rate__lte=1),
                name="accountingpolicy_rate_range",
            ),
            models.CheckConstraint(condition=Q(point_face_value__gte=0), name="accountingpolicy_face_not_negative"),
        ]

    def __str__(self) -> str:
        return str(_("Accounting policy"))


class CurrencyFaceValue(models.Model):
    """What a point is worth in a currency other than the program's. Orders, lots and redemptions in that
    currency are valued with it; every other currency uses the policy's face value (the program currency's)."""

    policy = models.ForeignKey(AccountingPolicy, on_delete=models.CASCADE, related_name="face_values")
    currency = models.CharField(max_length=3, help_text=_("ISO 4217 code, e.g. USD."))
    point_face_value = models.DecimalField(
        max_digits=12, decimal_places=6, help_text=_("Money one point is worth at redemption, in this currency.")
    )
    points_ssp_per_point = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text=_("Stand-alone selling price of one point in this currency; empty: face value x expected rate."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("face value in another currency")
        verbose_name_plural = _("face values in other currencies")
        ordering = ("currency",)
        constraints = [
            models.UniqueConstraint(fields=["policy", "currency"], name="currencyfacevalue_one_per_currency"),
            models.CheckConstraint(condition=Q(point_face_value__gte=0), name="currencyfacevalue_face_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.currency}: {self.point_face_value}"

    def clean(self):
        from django.core.exceptions import ValidationError

        from rewards.selectors import program_get

        self.currency = (self.currency or "").strip().upper()
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isascii():
            raise ValidationError({"currency": _("Enter a three-letter ISO 4217 code, e.g. USD.")})
        if self.currency == program_get().currency:
            raise ValidationError({"currency": _("The program's own currency uses the policy's face value above.")})


class EstimateChange(BaseModel):
    """One change of the expected redemption rate, and the catch-up it posted."""

    class Source(models.TextChoices):
        ESTIMATE = "estimate", _("Estimated from cohorts")
        OVERRIDE = "override", _("Set by staff")

    old_rate = models.DecimalField(max_digits=5, decimal_places=4)
    new_rate = models.DecimalField(max_digits=5, decimal_places=4)
    source = models.CharField(max_length=16, choices=Source.choices)
    reason = models.CharField(max_length=500)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.old_rate} -> {self.new_rate}"


class AccountingPeriod(models.Model):
    """A calendar month of the journal. Nothing posts into a closed one (PostgreSQL refuses it too)."""

    start = models.DateField(unique=True, help_text=_("The first day of the month."))
    closed = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["start"]
        constraints = [models.CheckConstraint(condition=Q(start__day=1), name="period_starts_on_first")]

    def __str__(self) -> str:
        return self.start.strftime("%Y-%m")


class Kind(models.TextChoices):
    """What a journal entry records; the roll-forward's columns."""

    ISSUE = "issue", _("Points issued")
    REDEEM = "redeem", _("Points redeemed")
    EXPIRE = "expire", _("Points expired or forfeited")
    REVERSE = "reverse", _("Points reversed (refunds, debts)")
    TRANSFER = "transfer", _("Points transferred")
    ESTIMATE = "estimate", _("Estimate change (catch-up)")
    STORE_CREDIT = "store_credit", _("Store credit")


class SourceKind(models.TextChoices):
    POINT_ENTRY = "point_entry", _("Point entry")
    STORE_CREDIT_ENTRY = "store_credit_entry", _("Store credit entry")
    ESTIMATE_CHANGE = "estimate_change", _("Estimate change")


class JournalEntry(BaseModel):
    """One balanced posting. Append-only; a correction is a new entry in an open period."""

    date = models.DateField()
    period = models.ForeignKey(AccountingPeriod, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.CharField(max_length=300)
    source_kind = models.CharField(max_length=24, choices=SourceKind.choices)
    source_id = models.BigIntegerField()
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    shop = models.ForeignKey("integrations.Shop", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)

    class Meta:
        verbose_name_plural = _("journal entries")
        ordering = ["-id"]
        constraints = [
            # One posting per source row (and currency): the posting service can never post a row twice.
            models.UniqueConstraint(fields=["source_kind", "source_id", "currency"], name="journalentry_source_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.description}"


class JournalLine(models.Model):
    """One debit or credit of an entry. `period`, `kind` and `currency` repeat the entry's (reports read lines
    alone)."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    debit = models.DecimalField(**MONEY, default=ZERO)
    credit = models.DecimalField(**MONEY, default=ZERO)
    currency = models.CharField(max_length=3)
    period = models.ForeignKey(AccountingPeriod, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    shop = models.ForeignKey("integrations.Shop", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(debit__gt=0) & Q(credit=0)) | (Q(debit=0) & Q(credit__gt=0)),
                name="journalline_one_side",
            ),
        ]
        indexes = [
            # The journal export of a period, in entry order (the roll-forward reads PeriodTotal instead).
            models.Index(fields=["period", "entry"], name="jline_period_entry_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account.code} Dr {self.debit} Cr {self.credit}"


class LotValuation(models.Model):
    """What one PointLot is worth to the accounting, kept by the posting service (never by the ledger).

    `outstanding` = value - recognised - released is the lot's share of the liability (contract liability or
    provision, after `basis`); it is zero once the lot holds no points."""

    class Basis(models.TextChoices):
        DEFERRAL = "deferral", _("IFRS 15 deferral")
        PROVISION = "provision", _("Provision")
        EXPENSE = "expense", _("Expense on redemption")

    lot = models.OneToOneField("rewards.PointLot", primary_key=True, on_delete=models.PROTECT, related_name="+")
    basis = models.CharField(max_length=16, choices=Basis.choices)
    points = models.PositiveIntegerField()
    remaining = models.IntegerField(help_text=_("Points still in the lot, as the posting has seen them."))
    redeemed = models.IntegerField(default=0)
    value = models.DecimalField(**MONEY, help_text=_("Allocated (deferral) or provided (provision) at issue."))
    unit_cost = models.DecimalField(
        max_digits=16, decimal_places=8, default=0, help_text=_("Provision: expected cost of one redeemed point.")
    )
    recognised = models.DecimalField(**MONEY, default=ZERO, help_text=_("Released by redemptions and catch-ups."))
    released = models.DecimalField(**MONEY, default=ZERO, help_text=_("Released by expiry, refunds, transfers."))
    currency = models.CharField(max_length=3)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    shop = models.ForeignKey("integrations.Shop", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    issued_on = models.DateField(help_text=_("The earn's date: the lot's breakage cohort."))

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0, remaining__lte=F("points")), name="lotvaluation_remaining_in_points"
            ),
            models.CheckConstraint(
                condition=Q(recognised__gte=0, released__gte=0), name="lotvaluation_releases_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["remaining"], condition=Q(remaining__gt=0), name="lotvaluation_live_idx")]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.points} pts, {self.outstanding} {self.currency} outstanding"

    @property
    def outstanding(self) -> Decimal:
        return self.value - self.recognised - self.released


class PostingCursor(models.Model):
    """How far the posting service has read one source table (its row is locked while a chunk posts)."""

    source_kind = models.CharField(max_length=24, choices=SourceKind.choices, unique=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.source_kind} up to {self.last_id}"


class PeriodTotal(models.Model):
    """Debits and credits per (period, account, kind, currency), kept by the posting in the same transaction as
    the lines (accounting_audit() re-adds the lines to check it): the reports read these few rows instead of
    aggregating every journal line."""

    period = models.ForeignKey(AccountingPeriod, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    currency = models.CharField(max_length=3)
    debit = models.DecimalField(max_digits=20, decimal_places=2, default=ZERO)
    credit = models.DecimalField(max_digits=20, decimal_places=2, default=ZERO)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period", "account", "kind", "currency"], name="periodtotal_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.account_id} {self.kind}: Dr {self.debit} Cr {self.credit}"
