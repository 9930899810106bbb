"""History of the loyalty configuration (django-simple-history): program settings, earning and event rules,
tiers, segments, campaigns (with their segments), rewards (with their segments and shops) and causes; who
changed what and when (docs/admin.md). Counters moved by orders and redemptions (a campaign's points_given,
a reward's units_issued) and updated_at are left out.
"""

import uuid
from decimal import Decimal

import django.core.validators
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0008_shop_history"),
        ("rewards", "0010_catalogue"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="HistoricalCampaign",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("public_id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("created_at", models.DateTimeField(blank=True, db_index=True, editable=False)),
                (
                    "name",
                    models.CharField(
                        help_text="Shown to members and in each order's points breakdown.", max_length=120
                    ),
                ),
                (
                    "description",
                    models.TextField(
                        blank=True,
                        help_text="Shown to members under 'how to earn'; empty: a description is written for you.",
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("order_multiplier", "Points multiplier on whole orders (e.g. double points)"),
                            ("product_multiplier", "Multiplier on some categories or SKUs"),
                            ("product_points", "Fixed bonus points per unit of some categories or SKUs"),
                            ("action_bonus", "Extra points for an action (an event such as review_written)"),
                        ],
                        default="order_multiplier",
                        max_length=24,
                    ),
                ),
                ("is_active", models.BooleanField(default=True, help_text="Untick to pause the campaign.")),
                ("starts_at", models.DateTimeField()),
                (
                    "ends_at",
                    models.DateTimeField(
                        help_text="The campaign stops at this moment (orders placed before it count)."
                    ),
                ),
                (
                    "factor",
                    models.DecimalField(
                        decimal_places=4,
                        default=2,
                        help_text="Multipliers: 2 doubles the points (whole orders, or the matching products' base points).",
                        max_digits=8,
                        validators=[django.core.validators.MinValueValidator(Decimal("1.0001"))],
                    ),
                ),
                (
                    "points",
                    models.DecimalField(
                        decimal_places=4,
                        default=0,
                        help_text="Fixed bonus: points per unit bought. Action bonus: points each time (whole points).",
                        max_digits=12,
                        validators=[django.core.validators.MinValueValidator(0)],
                    ),
                ),
                (
                    "categories",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="Product bonuses: the categories it is for, as the shops send them.",
                    ),
                ),
                ("skus", models.JSONField(blank=True, default=list, help_text="Product bonuses: the SKUs it is for.")),
                (
                    "event",
                    models.CharField(
                        blank=True,
                        help_text="Action bonus: the event, e.g. review_written, as your shop sends it.",
                        max_length=64,
                    ),
                ),
                (
                    "currency",
                    models.CharField(
                        blank=True,
                        help_text="Orders in this currency only (ISO 4217); empty: every currency.",
                        max_length=3,
                    ),
                ),
                (
                    "shop_ids",
                    models.JSONField(blank=True, default=list, help_text="Ids of the shops it is for; empty: all."),
                ),
                (
                    "budget",
                    models.PositiveIntegerField(
                        blank=True, help_text="The most points the campaign gives in all; empty: no budget.", null=True
                    ),
                ),
                (
                    "member_limit",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="The most points one member gets from the campaign over its whole run; empty: no limit.",
                        null=True,
                        validators=[django.core.validators.MinValueValidator(1)],
                    ),
                ),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical campaign",
                "verbose_name_plural": "historical campaigns",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalCampaign_segments",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("m2m_history_id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "campaign",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_tablespace="",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="rewards.campaign",
                    ),
                ),
                (
                    "history",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        to="rewards.historicalcampaign",
                    ),
                ),
                (
                    "segment",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_tablespace="",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="rewards.segment",
                    ),
                ),
            ],
            options={
                "verbose_name": "HistoricalCampaign_segments",
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalCause",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("public_id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("created_at", models.DateTimeField(blank=True, db_index=True, editable=False)),
                ("name", models.CharField(db_index=True, max_length=120)),
                ("description", models.TextField(blank=True)),
                ("active", models.BooleanField(default=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical cause",
                "verbose_name_plural": "historical causes",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalEarningRule",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("public_id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("created_at", models.DateTimeField(blank=True, db_index=True, editable=False)),
                (
                    "name",
                    models.CharField(help_text="Shown to staff and in each order's points breakdown.", max_length=120),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("base_rate", "Base rate: points per amount spent"),
                            ("multiplier", "Multiplier: more (or fewer) points for some products"),
                            ("fixed", "Fixed points per unit bought"),
                            ("exclusion", "Exclusion: these products never earn"),
                        ],
                        default="base_rate",
                        max_length=16,
                    ),
                ),
                (
                    "is_active",
                    models.BooleanField(default=True, help_text="Untick to pause the rule without deleting it."),
                ),
                (
                    "currency",
                    models.CharField(help_text="Orders in this currency only (ISO 4217, e.g. EUR).", max_length=3),
                ),
                (
                    "points",
                    models.DecimalField(
                        decimal_places=4,
                        default=1,
                        help_text="Base rate: points earned per amount below. Fixed: points per unit bought.",
                        max_digits=12,
                        validators=[django.core.validators.MinValueValidator(0)],
                    ),
                ),
                (
                    "amount",
                    models.DecimalField(
                        decimal_places=2,
                        default=1,
                        help_text="Base rate only: per how much money the points are earned, e.g. 1 point per 10.00.",
                        max_digits=12,
                        validators=[django.core.validators.MinValueValidator(Decimal("0.01"))],
                    ),
                ),
                (
                    "multiplier",
                    models.DecimalField(
                        decimal_places=4,
                        default=1,
                        help_text="Multiplier only: 2 doubles the base-rate points of matching products, 0.5 halves them.",
                        max_digits=8,
                        validators=[django.core.validators.MinValueValidator(Decimal("0.0001"))],
                    ),
                ),
                ("include_tax", models.BooleanField(default=False, help_text="Tax earns points too.")),
                ("include_shipping", models.BooleanField(default=False, help_text="Shipping costs earn points too.")),
                (
                    "subtract_discounts",
                    models.BooleanField(
                        default=True,
                        help_text="Points on what the customer paid after discounts (untick: on the price before).",
                    ),
                ),
                (
                    "minimum_order_value",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="The rule applies only to orders worth at least this, counted as the rule counts (tax etc.).",
                        max_digits=14,
                        null=True,
                        validators=[django.core.validators.MinValueValidator(0)],
                    ),
                ),
                (
                    "rounding",
                    models.CharField(
                        choices=[("down", "Round down"), ("half_up", "Round half up"), ("up", "Round up")],
                        default="down",
                        help_text="Points are whole numbers: how a fraction of a point is rounded.",
                        max_length=8,
                    ),
                ),
                (
                    "scope",
                    models.CharField(
                        choices=[
                            ("order", "Per order: add up the order, then round once"),
                            ("line", "Per line: round each order line on its own"),
                        ],
                        default="order",
                        help_text="Per order rounds once for the whole order; per line rounds every line on its own.",
                        max_length=8,
                    ),
                ),
                (
                    "categories",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="Product categories the rule is for, as the shops send them; empty: all.",
                    ),
                ),
                (
                    "skus",
                    models.JSONField(blank=True, default=list, help_text="Product SKUs the rule is for; empty: all."),
                ),
                (
                    "shop_ids",
                    models.JSONField(
                        blank=True, default=list, help_text="Ids of the shops the rule is for; empty: all."
                    ),
                ),
                ("starts_at", models.DateTimeField(blank=True, help_text="Empty: already started.", null=True)),
                ("ends_at", models.DateTimeField(blank=True, help_text="Empty: never ends.", null=True)),
                (
                    "priority",
                    models.IntegerField(default=0, help_text="Rules with a higher priority are applied first."),
                ),
                (
                    "stop_after",
                    models.BooleanField(
                        default=False, help_text="Products this rule applies to get no points from the rules after it."
                    ),
                ),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical earning rule",
                "verbose_name_plural": "historical earning rules",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalEventRule",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("public_id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("created_at", models.DateTimeField(blank=True, db_index=True, editable=False)),
                ("name", models.CharField(help_text="Shown to staff and in the member's history.", max_length=120)),
                (
                    "event",
                    models.CharField(
                        help_text="A built-in event (sign_up, first_purchase, birthday, newsletter_signup, review_written, social_follow, social_share) or your own name, as your shop sends it.",
                        max_length=64,
                    ),
                ),
                (
                    "is_active",
                    models.BooleanField(default=True, help_text="Untick to pause the rule without deleting it."),
                ),
                ("points", models.PositiveIntegerField(help_text="Points given each time the event counts.")),
                (
                    "limit_count",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="At most this many times per member in the period below; empty: no limit.",
                        null=True,
                        validators=[django.core.validators.MinValueValidator(1)],
                    ),
                ),
                (
                    "limit_period",
                    models.CharField(
                        choices=[
                            ("day", "per day"),
                            ("week", "per week"),
                            ("month", "per month"),
                            ("year", "per year"),
                            ("ever", "ever"),
                        ],
                        default="ever",
                        max_length=8,
                    ),
                ),
                (
                    "shop_ids",
                    models.JSONField(
                        blank=True, default=list, help_text="Ids of the shops the rule is for; empty: all."
                    ),
                ),
                ("starts_at", models.DateTimeField(blank=True, help_text="Empty: already started.", null=True)),
                ("ends_at", models.DateTimeField(blank=True, help_text="Empty: never ends.", null=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical event rule",
                "verbose_name_plural": "historical event rules",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalProgram",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("name", models.CharField(default="Loyalty program", max_length=120)),
                (
                    "currency",
                    models.CharField(default="EUR", help_text="ISO 4217 code, e.g. EUR, USD, GBP.", max_length=3),
                ),
                (
                    "time_zone",
                    models.CharField(default="UTC", help_text="Decides when a day, month or year ends.", max_length=64),
                ),
                (
                    "expiry_policy",
                    models.CharField(
                        choices=[
                            ("never", "Points never expire"),
                            ("days", "N days after earning"),
                            ("end_of_month", "At the end of the month, N months after earning"),
                            ("end_of_year", "At the end of the year, N months after earning"),
                            ("inactivity", "All points after N months without activity"),
                        ],
                        default="never",
                        max_length=16,
                    ),
                ),
                (
                    "expiry_period",
                    models.PositiveIntegerField(
                        default=12, help_text="The N of the expiry policy: days for 'N days', months for the others."
                    ),
                ),
                (
                    "pending_days",
                    models.PositiveIntegerField(
                        default=0, help_text="Points from orders stay pending this many days (the return window)."
                    ),
                ),
                (
                    "rounding",
                    models.CharField(
                        choices=[("down", "Round down"), ("half_up", "Round half up"), ("up", "Round up")],
                        default="down",
                        max_length=8,
                    ),
                ),
                (
                    "signup_bonus",
                    models.PositiveIntegerField(default=0, help_text="Points given on sign-up; 0 for none."),
                ),
                (
                    "reversal_policy",
                    models.CharField(
                        choices=[
                            ("lot", "Reverse only what is left of the refunded order's points"),
                            ("balance", "Then take the rest from the available balance, stopping at zero"),
                            (
                                "debt",
                                "Then take from the balance and record the rest as a debt future earnings pay off",
                            ),
                        ],
                        default="balance",
                        help_text="What a refund does when the points it reverses were already spent.",
                        max_length=8,
                    ),
                ),
                (
                    "transfers_enabled",
                    models.BooleanField(default=False, help_text="Members may give points to other members."),
                ),
                (
                    "cancelled_order_coupons",
                    models.CharField(
                        choices=[
                            ("release", "Release the coupon (usable again)"),
                            ("refund_points", "Refund the points"),
                        ],
                        default="release",
                        help_text="When an order that used a reward's coupon is cancelled.",
                        max_length=16,
                    ),
                ),
                (
                    "staff_adjust_limit",
                    models.PositiveIntegerField(
                        default=1000,
                        help_text="Largest adjustment (either sign) a staff user without the unlimited permission may make.",
                    ),
                ),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical program settings",
                "verbose_name_plural": "historical program settings",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalReward",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("public_id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("created_at", models.DateTimeField(blank=True, db_index=True, editable=False)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("fixed_amount", "Discount code: fixed amount"),
                            ("percentage", "Discount code: percentage (with a cap)"),
                            ("free_shipping", "Discount code: free shipping"),
                            ("free_product", "Discount code: free product (SKU)"),
                            ("store_credit", "Store credit"),
                            ("pay_with_points", "Pay with points at checkout"),
                            ("donation", "Donation to a cause"),
                            ("perk", "Perk without a code (invitation, early access)"),
                        ],
                        max_length=16,
                    ),
                ),
                ("title", models.CharField(max_length=120)),
                ("description", models.TextField(blank=True)),
                (
                    "image_url",
                    models.URLField(
                        blank=True,
                        help_text="An image of the reward (a URL; uploads need Pillow, not installed).",
                        max_length=500,
                    ),
                ),
                (
                    "points",
                    models.PositiveIntegerField(
                        default=0,
                        help_text="What it costs. Pay with points: leave 0; the member chooses between min and max.",
                    ),
                ),
                ("active", models.BooleanField(default=True, help_text="Switch it off to stop redemptions at once.")),
                ("active_from", models.DateTimeField(blank=True, help_text="Redeemable from; empty: now.", null=True)),
                (
                    "active_until",
                    models.DateTimeField(blank=True, help_text="Redeemable until; empty: no end.", null=True),
                ),
                (
                    "visible_from",
                    models.DateTimeField(
                        blank=True,
                        help_text="Shown to members from (may be before it is redeemable); empty: now.",
                        null=True,
                    ),
                ),
                ("visible_until", models.DateTimeField(blank=True, help_text="Shown until; empty: no end.", null=True)),
                (
                    "stock_total",
                    models.PositiveIntegerField(
                        blank=True, help_text="Units that can ever be issued; empty: unlimited.", null=True
                    ),
                ),
                (
                    "limit_per_member",
                    models.PositiveIntegerField(
                        blank=True, help_text="Redemptions per member per period; empty: no limit.", null=True
                    ),
                ),
                (
                    "limit_period",
                    models.CharField(
                        choices=[
                            ("day", "per day"),
                            ("week", "per week (from Monday)"),
                            ("month", "per month"),
                            ("year", "per year"),
                            ("ever", "ever"),
                        ],
                        default="ever",
                        max_length=8,
                    ),
                ),
                (
                    "min_order",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="The coupon needs a cart of at least this total; empty: none.",
                        max_digits=14,
                        null=True,
                    ),
                ),
                (
                    "coupon_valid_days",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="A coupon expires this many days after it is issued; empty: never.",
                        null=True,
                    ),
                ),
                (
                    "currency",
                    models.CharField(
                        blank=True, help_text="ISO 4217 code of the value; empty: the program's currency.", max_length=3
                    ),
                ),
                (
                    "value",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="Fixed amount and store credit: the amount. Percentage: the percentage (e.g. 15).",
                        max_digits=14,
                        null=True,
                    ),
                ),
                (
                    "max_discount",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="Percentage: the largest discount; empty: no cap.",
                        max_digits=14,
                        null=True,
                    ),
                ),
                ("sku", models.CharField(blank=True, help_text="Free product: the product's SKU.", max_length=100)),
                (
                    "points_per_unit",
                    models.PositiveIntegerField(
                        blank=True, help_text="Pay with points: points per 1.00 of the currency.", null=True
                    ),
                ),
                (
                    "min_points",
                    models.PositiveIntegerField(blank=True, help_text="Pay with points: at least.", null=True),
                ),
                (
                    "max_points",
                    models.PositiveIntegerField(blank=True, help_text="Pay with points: at most.", null=True),
                ),
                ("position", models.PositiveIntegerField(default=0, help_text="Lower comes first in lists.")),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "cause",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        help_text="Donation: to whom.",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="rewards.cause",
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "min_tier",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        help_text="Only members in this tier or a higher one (by rank); empty: everyone.",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="rewards.tier",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical reward",
                "verbose_name_plural": "historical rewards",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalReward_segments",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("m2m_history_id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "history",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        to="rewards.historicalreward",
                    ),
                ),
                (
                    "reward",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_tablespace="",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="rewards.reward",
                    ),
                ),
                (
                    "segment",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_tablespace="",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="rewards.segment",
                    ),
                ),
            ],
            options={
                "verbose_name": "HistoricalReward_segments",
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalReward_shops",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("m2m_history_id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "history",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        to="rewards.historicalreward",
                    ),
                ),
                (
                    "reward",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_tablespace="",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="rewards.reward",
                    ),
                ),
                (
                    "shop",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_tablespace="",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="integrations.shop",
                    ),
                ),
            ],
            options={
                "verbose_name": "HistoricalReward_shops",
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalSegment",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("public_id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("created_at", models.DateTimeField(blank=True, db_index=True, editable=False)),
                ("name", models.CharField(db_index=True, max_length=120)),
                (
                    "description",
                    models.TextField(blank=True, help_text="For staff: who this segment is meant to hold."),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("rules", "Rules: members matching every condition, as of now"),
                            ("static", "Static: a list of members uploaded as a CSV of member numbers"),
                        ],
                        default="rules",
                        max_length=8,
                    ),
                ),
                (
                    "rules",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="Rule segments: the conditions, all of which must hold (see the help below the form).",
                    ),
                ),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical segment",
                "verbose_name_plural": "historical segments",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalTier",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("public_id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("created_at", models.DateTimeField(blank=True, db_index=True, editable=False)),
                ("name", models.CharField(db_index=True, max_length=80)),
                (
                    "rank",
                    models.PositiveIntegerField(
                        db_index=True, help_text="Higher is better; the entry tier is usually 0."
                    ),
                ),
                (
                    "icon",
                    models.CharField(
                        blank=True, help_text="A short text or emoji (e.g. ★), or the URL of an image.", max_length=300
                    ),
                ),
                (
                    "colour",
                    models.CharField(
                        default="#8A8A8A",
                        max_length=7,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^#[0-9A-Fa-f]{6}\\Z", "Enter a colour as #RRGGBB, e.g. #C9A227."
                            )
                        ],
                    ),
                ),
                (
                    "metric",
                    models.CharField(
                        choices=[
                            ("points", "Points earned on orders"),
                            ("spend", "Amount spent (program currency)"),
                            ("orders", "Number of orders"),
                        ],
                        default="points",
                        max_length=16,
                    ),
                ),
                (
                    "entry_threshold",
                    models.DecimalField(
                        decimal_places=2,
                        default=0,
                        help_text="The metric's value in the window that qualifies for this tier (points, money or orders).",
                        max_digits=14,
                    ),
                ),
                (
                    "window",
                    models.CharField(
                        choices=[
                            ("lifetime", "Lifetime"),
                            ("calendar_year", "Calendar year"),
                            ("rolling_12_months", "Rolling 12 months"),
                            ("membership_year", "Membership year (from the join date)"),
                        ],
                        default="calendar_year",
                        max_length=24,
                    ),
                ),
                (
                    "retention_threshold",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="What keeps the tier in the next window; empty: the entry threshold.",
                        max_digits=14,
                        null=True,
                    ),
                ),
                (
                    "downgrade_policy",
                    models.CharField(
                        choices=[
                            ("never", "Never: once reached, kept for good"),
                            ("end_of_window", "At the end of the window, to the tier then earned"),
                            ("grace", "At the end of the window plus a grace period"),
                        ],
                        default="end_of_window",
                        max_length=16,
                    ),
                ),
                (
                    "grace_days",
                    models.PositiveIntegerField(
                        default=0, help_text="For the grace policy: days before the downgrade."
                    ),
                ),
                (
                    "earning_multiplier",
                    models.DecimalField(
                        decimal_places=3,
                        default=1,
                        help_text="Points on orders are multiplied by this (1: none).",
                        max_digits=6,
                    ),
                ),
                ("birthday_bonus_points", models.PositiveIntegerField(default=0)),
                ("free_shipping", models.BooleanField(default=False)),
                ("early_access", models.BooleanField(default=False)),
                (
                    "can_gift",
                    models.BooleanField(
                        default=False, help_text="Members of this tier may give a lower tier to a friend once a year."
                    ),
                ),
                (
                    "membership_sku",
                    models.CharField(
                        blank=True,
                        help_text="An order line with this SKU grants the tier (paid membership).",
                        max_length=100,
                    ),
                ),
                (
                    "membership_months",
                    models.PositiveIntegerField(
                        blank=True, help_text="How long a paid membership lasts; empty: for life.", null=True
                    ),
                ),
                (
                    "dividend_percent",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="Paid members get this % of last year's qualifying spend back as store credit each year.",
                        max_digits=5,
                        null=True,
                    ),
                ),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical tier",
                "verbose_name_plural": "historical tiers",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
    ]
