"""The schema of the rewards catalogue, coupons and store credit (rewards/models/catalogue.py).

On PostgreSQL, store credit entries are append-only like the points ledger's: the trigger function of 0002
(ledger_refuse_change) refuses UPDATE and DELETE on them.
"""

import importlib
import uuid

import django.db.models.deletion
from django.db import migrations, models

# Every staff role may view the catalogue and its records; program managers also set up rewards and causes.
# (Redemptions, coupons and store credit change only through rewards.services.)
VIEW = [
    "view_reward",
    "view_cause",
    "view_redemption",
    "view_coupon",
    "view_storecreditaccount",
    "view_storecreditentry",
]
MANAGE = ["add_reward", "change_reward", "add_cause", "change_cause"]
GROUPS = {"Program manager": VIEW + MANAGE, "Support agent": VIEW, "Accountant": VIEW, "Read-only": VIEW}

# members 0002's helper that makes permissions during migrate (post_migrate makes them only after all migrations).
_create_permissions = importlib.import_module("members.migrations.0002_staff_groups")._create_permissions


def permissions_grant(apps, schema_editor):
    using = schema_editor.connection.alias
    _create_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="rewards", codename__in=codenames)
        )


def permissions_revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    granted = Permission.objects.using(using).filter(content_type__app_label="rewards", codename__in=VIEW + MANAGE)
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.remove(*granted)


STORE_CREDIT_TRIGGER = """
CREATE TRIGGER rewards_storecreditentry_append_only BEFORE UPDATE OR DELETE ON rewards_storecreditentry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
"""


def append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(STORE_CREDIT_TRIGGER, params=None)


def append_only_undo(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS rewards_storecreditentry_append_only ON rewards_storecreditentry;", params=None
        )


class Migration(migrations.Migration):
    dependencies = [("rewards", "0009_campaigns")]

    operations = [
        migrations.CreateModel(
            name="Cause",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("name", models.CharField(max_length=120, unique=True)),
                ("description", models.TextField(blank=True)),
                ("active", models.BooleanField(default=True)),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.AddField(
            model_name="program",
            name="cancelled_order_coupons",
            field=models.CharField(
                choices=[("release", "Release the coupon (usable again)"), ("refund_points", "Refund the points")],
                default="release",
                help_text="When an order that used a reward's coupon is cancelled.",
                max_length=16,
            ),
        ),
        migrations.CreateModel(
            name="Reward",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
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
                    "units_issued",
                    models.PositiveIntegerField(
                        default=0, help_text="Units redeemed so far (a refunded redemption gives its unit back)."
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
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "cause",
                    models.ForeignKey(
                        blank=True,
                        help_text="Donation: to whom.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="rewards",
                        to="rewards.cause",
                    ),
                ),
                (
                    "min_tier",
                    models.ForeignKey(
                        blank=True,
                        help_text="Only members in this tier or a higher one (by rank); empty: everyone.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="rewards.tier",
                    ),
                ),
                (
                    "segments",
                    models.ManyToManyField(
                        blank=True,
                        help_text="Only members in at least one of these segments; none: everyone.",
                        related_name="+",
                        to="rewards.segment",
                    ),
                ),
                (
                    "shops",
                    models.ManyToManyField(
                        blank=True,
                        help_text="Where it is offered and its code can be used; none: every shop.",
                        related_name="+",
                        to="integrations.shop",
                    ),
                ),
            ],
            options={
                "ordering": ["position", "points", "title"],
            },
        ),
        migrations.CreateModel(
            name="Redemption",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("points", models.PositiveIntegerField()),
                (
                    "status",
                    models.CharField(
                        choices=[("completed", "Completed"), ("refunded", "Points refunded")],
                        default="completed",
                        max_length=16,
                    ),
                ),
                ("idempotency_key", models.CharField(max_length=128)),
                (
                    "channel",
                    models.CharField(
                        choices=[("web", "Member pages"), ("widget", "Shop widget"), ("api", "Shop API")], max_length=8
                    ),
                ),
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
                        help_text="The reward's kind then.",
                        max_length=16,
                    ),
                ),
                (
                    "value",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="Money value given (coupon, credit).",
                        max_digits=14,
                        null=True,
                    ),
                ),
                ("currency", models.CharField(blank=True, max_length=3)),
                (
                    "cause",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="redemptions",
                        to="rewards.cause",
                    ),
                ),
                (
                    "member",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="redemptions", to="members.member"
                    ),
                ),
                (
                    "points_entry",
                    models.ForeignKey(
                        help_text="The ledger's redeem entry.",
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="rewards.pointentry",
                    ),
                ),
                (
                    "refund_entry",
                    models.ForeignKey(
                        blank=True,
                        help_text="The ledger entry that gave the points back.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="rewards.pointentry",
                    ),
                ),
                (
                    "shop",
                    models.ForeignKey(
                        blank=True,
                        help_text="API or widget.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="integrations.shop",
                    ),
                ),
                (
                    "reward",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="redemptions", to="rewards.reward"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="Coupon",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                (
                    "code",
                    models.CharField(
                        help_text="Random, unguessable; shown grouped: ABCD-EFGH-JKMN-PQRS.", max_length=32
                    ),
                ),
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
                (
                    "value",
                    models.DecimalField(
                        blank=True, decimal_places=2, help_text="Amount, or percentage.", max_digits=14, null=True
                    ),
                ),
                ("max_discount", models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True)),
                ("currency", models.CharField(blank=True, max_length=3)),
                ("sku", models.CharField(blank=True, max_length=100)),
                ("min_order", models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                (
                    "status",
                    models.CharField(
                        choices=[("issued", "Issued"), ("used", "Used"), ("void", "Void (points refunded)")],
                        default="issued",
                        max_length=8,
                    ),
                ),
                ("used_at", models.DateTimeField(blank=True, null=True)),
                ("used_order_external_id", models.CharField(blank=True, max_length=150)),
                (
                    "released_at",
                    models.DateTimeField(blank=True, help_text="Last time a cancelled order gave it back.", null=True),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "member",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="coupons", to="members.member"
                    ),
                ),
                (
                    "used_shop",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="integrations.shop",
                    ),
                ),
                (
                    "redemption",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="coupon", to="rewards.redemption"
                    ),
                ),
                (
                    "reward",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="coupons", to="rewards.reward"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="StoreCreditAccount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("currency", models.CharField(max_length=3)),
                ("balance", models.DecimalField(decimal_places=2, default=0, max_digits=14)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "member",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="store_credit_accounts",
                        to="members.member",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="StoreCreditEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                (
                    "amount",
                    models.DecimalField(decimal_places=2, help_text="Positive adds, negative spends.", max_digits=14),
                ),
                ("balance_after", models.DecimalField(decimal_places=2, max_digits=14)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("cashback", "Cashback"),
                            ("reward", "Reward"),
                            ("spend", "Spent"),
                            ("refund", "Refunded"),
                            ("adjust", "Adjusted"),
                            ("dividend", "Dividend"),
                        ],
                        max_length=16,
                    ),
                ),
                ("reason", models.CharField(max_length=500)),
                ("idempotency_key", models.CharField(max_length=200)),
                ("source_ref", models.CharField(blank=True, max_length=200)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="entries",
                        to="rewards.storecreditaccount",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "store credit entries",
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.AddConstraint(
            model_name="reward",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "kind__in",
                        [
                            "fixed_amount",
                            "percentage",
                            "free_shipping",
                            "free_product",
                            "store_credit",
                            "pay_with_points",
                            "donation",
                            "perk",
                        ],
                    )
                ),
                name="reward_kind_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="reward",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("stock_total__isnull", True), ("units_issued__lte", models.F("stock_total")), _connector="OR"
                ),
                name="reward_issued_within_stock",
            ),
        ),
        migrations.AddConstraint(
            model_name="reward",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind", "pay_with_points"), ("points__gt", 0), _connector="OR"),
                name="reward_points_positive",
            ),
        ),
        migrations.AddConstraint(
            model_name="reward",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "pay_with_points"), _negated=True),
                    models.Q(
                        ("max_points__gte", models.F("min_points")),
                        ("max_points__isnull", False),
                        ("min_points__gt", 0),
                        ("min_points__isnull", False),
                        ("points_per_unit__gt", 0),
                        ("points_per_unit__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="reward_pay_with_points_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="reward",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind__in", ["fixed_amount", "store_credit", "percentage"]), _negated=True),
                    models.Q(("value__gt", 0), ("value__isnull", False)),
                    _connector="OR",
                ),
                name="reward_value_positive",
            ),
        ),
        migrations.AddConstraint(
            model_name="reward",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "percentage"), _negated=True), ("value__lte", 100), _connector="OR"
                ),
                name="reward_percentage_max",
            ),
        ),
        migrations.AddConstraint(
            model_name="reward",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "free_product"), _negated=True),
                    models.Q(("sku", ""), _negated=True),
                    _connector="OR",
                ),
                name="reward_free_product_sku",
            ),
        ),
        migrations.AddConstraint(
            model_name="reward",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "donation"), _negated=True), ("cause__isnull", False), _connector="OR"
                ),
                name="reward_donation_cause",
            ),
        ),
        migrations.AddIndex(
            model_name="redemption",
            index=models.Index(fields=["member", "reward", "created_at"], name="redemption_limit_idx"),
        ),
        migrations.AddConstraint(
            model_name="redemption",
            constraint=models.UniqueConstraint(
                fields=("member", "idempotency_key"), name="redemption_member_key_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="redemption",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["completed", "refunded"])), name="redemption_status_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="redemption",
            constraint=models.CheckConstraint(
                condition=models.Q(("channel__in", ["web", "widget", "api"])), name="redemption_channel_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="redemption",
            constraint=models.CheckConstraint(
                condition=models.Q(("status", "completed"), ("refund_entry__isnull", False), _connector="OR"),
                name="redemption_refund_has_entry",
            ),
        ),
        migrations.AddIndex(
            model_name="coupon",
            index=models.Index(fields=["used_shop", "used_order_external_id"], name="coupon_used_order_idx"),
        ),
        migrations.AddConstraint(
            model_name="coupon",
            constraint=models.UniqueConstraint(fields=("code",), name="coupon_code_unique"),
        ),
        migrations.AddConstraint(
            model_name="coupon",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["issued", "used", "void"])), name="coupon_status_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="coupon",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "used"), _negated=True),
                    models.Q(
                        ("used_at__isnull", False),
                        ("used_shop__isnull", False),
                        models.Q(("used_order_external_id", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="coupon_used_has_order",
            ),
        ),
        migrations.AddConstraint(
            model_name="storecreditaccount",
            constraint=models.UniqueConstraint(
                fields=("member", "currency"), name="storecredit_member_currency_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="storecreditaccount",
            constraint=models.CheckConstraint(
                condition=models.Q(("balance__gte", 0)), name="storecredit_balance_not_negative"
            ),
        ),
        migrations.AddConstraint(
            model_name="storecreditentry",
            constraint=models.UniqueConstraint(
                fields=("account", "idempotency_key"), name="storecredit_entry_key_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="storecreditentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount", 0), _negated=True), name="storecredit_entry_not_zero"
            ),
        ),
        migrations.AddConstraint(
            model_name="storecreditentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("balance_after__gte", 0)), name="storecredit_entry_balance_not_negative"
            ),
        ),
        migrations.RunPython(append_only, append_only_undo),
        migrations.RunPython(permissions_grant, permissions_revoke),
    ]
