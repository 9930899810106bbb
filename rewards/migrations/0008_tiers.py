"""The schema of tiers (rewards/models/tiers.py)."""

import uuid

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("rewards", "0007_tiers_segments_start")]

    operations = [
        migrations.CreateModel(
            name="TierChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("qualified", "Qualified (nightly)"),
                            ("order", "Qualified on an order"),
                            ("downgrade", "Nightly downgrade"),
                            ("staff", "Set by staff"),
                            ("paid", "Paid membership"),
                            ("gift", "Gift"),
                            ("expired", "Override or membership ended"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "note",
                    models.CharField(blank=True, help_text="Staff's reason, the order or the SKU.", max_length=500),
                ),
                ("at", models.DateTimeField()),
                (
                    "ends_at",
                    models.DateTimeField(
                        blank=True, help_text="For staff overrides, memberships and gifts.", null=True
                    ),
                ),
            ],
            options={
                "ordering": ["-at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="TierHold",
            fields=[
                (
                    "account",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="tier_hold",
                        serialize=False,
                        to="rewards.pointsaccount",
                    ),
                ),
                ("override_until", models.DateTimeField(blank=True, null=True)),
                (
                    "floor_until",
                    models.DateTimeField(blank=True, help_text="Empty with a floor tier: for life.", null=True),
                ),
                ("floor_reason", models.CharField(blank=True, max_length=16)),
                (
                    "below_since",
                    models.DateTimeField(
                        blank=True, help_text="Since when the member no longer meets what keeps their tier.", null=True
                    ),
                ),
                ("last_gift_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.AddField(
            model_name="tier",
            name="birthday_bonus_points",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="tier",
            name="can_gift",
            field=models.BooleanField(
                default=False, help_text="Members of this tier may give a lower tier to a friend once a year."
            ),
        ),
        migrations.AddField(
            model_name="tier",
            name="colour",
            field=models.CharField(
                default="#8A8A8A",
                max_length=7,
                validators=[
                    django.core.validators.RegexValidator(
                        "^#[0-9A-Fa-f]{6}\\Z", "Enter a colour as #RRGGBB, e.g. #C9A227."
                    )
                ],
            ),
        ),
        migrations.AddField(
            model_name="tier",
            name="dividend_percent",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="Paid members get this % of last year's qualifying spend back as store credit each year.",
                max_digits=5,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="tier",
            name="downgrade_policy",
            field=models.CharField(
                choices=[
                    ("never", "Never: once reached, kept for good"),
                    ("end_of_window", "At the end of the window, to the tier then earned"),
                    ("grace", "At the end of the window plus a grace period"),
                ],
                default="end_of_window",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="tier",
            name="early_access",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="tier",
            name="earning_multiplier",
            field=models.DecimalField(
                decimal_places=3,
                default=1,
                help_text="Points on orders are multiplied by this (1: none).",
                max_digits=6,
            ),
        ),
        migrations.AddField(
            model_name="tier",
            name="entry_threshold",
            field=models.DecimalField(
                decimal_places=2,
                default=0,
                help_text="The metric's value in the window that qualifies for this tier (points, money or orders).",
                max_digits=14,
            ),
        ),
        migrations.AddField(
            model_name="tier",
            name="free_shipping",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="tier",
            name="grace_days",
            field=models.PositiveIntegerField(default=0, help_text="For the grace policy: days before the downgrade."),
        ),
        migrations.AddField(
            model_name="tier",
            name="icon",
            field=models.CharField(
                blank=True, help_text="A short text or emoji (e.g. ★), or the URL of an image.", max_length=300
            ),
        ),
        migrations.AddField(
            model_name="tier",
            name="membership_months",
            field=models.PositiveIntegerField(
                blank=True, help_text="How long a paid membership lasts; empty: for life.", null=True
            ),
        ),
        migrations.AddField(
            model_name="tier",
            name="membership_sku",
            field=models.CharField(
                blank=True, help_text="An order line with this SKU grants the tier (paid membership).", max_length=100
            ),
        ),
        migrations.AddField(
            model_name="tier",
            name="metric",
            field=models.CharField(
                choices=[
                    ("points", "Points earned on orders"),
                    ("spend", "Amount spent (program currency)"),
                    ("orders", "Number of orders"),
                ],
                default="points",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="tier",
            name="retention_threshold",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="What keeps the tier in the next window; empty: the entry threshold.",
                max_digits=14,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="tier",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.AddField(
            model_name="tier",
            name="window",
            field=models.CharField(
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
        migrations.AddConstraint(
            model_name="tier",
            constraint=models.CheckConstraint(
                condition=models.Q(("entry_threshold__gte", 0)), name="tier_entry_threshold_not_negative"
            ),
        ),
        migrations.AddConstraint(
            model_name="tier",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("retention_threshold__isnull", True), ("retention_threshold__gte", 0), _connector="OR"
                ),
                name="tier_retention_threshold_not_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="tier",
            constraint=models.CheckConstraint(
                condition=models.Q(("earning_multiplier__gt", 0)), name="tier_multiplier_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="tier",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("dividend_percent__isnull", True),
                    models.Q(("dividend_percent__gte", 0), ("dividend_percent__lte", 100)),
                    _connector="OR",
                ),
                name="tier_dividend_percent_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="tier",
            constraint=models.CheckConstraint(
                condition=models.Q(("colour__regex", "^#[0-9A-Fa-f]{6}$")), name="tier_colour_hex"
            ),
        ),
        migrations.AddConstraint(
            model_name="tier",
            constraint=models.CheckConstraint(
                condition=models.Q(("metric__in", ["points", "spend", "orders"])), name="tier_metric_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="tier",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("window__in", ["lifetime", "calendar_year", "rolling_12_months", "membership_year"])
                ),
                name="tier_window_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="tier",
            constraint=models.CheckConstraint(
                condition=models.Q(("downgrade_policy__in", ["never", "end_of_window", "grace"])),
                name="tier_downgrade_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="tier",
            constraint=models.UniqueConstraint(
                condition=models.Q(("membership_sku", ""), _negated=True),
                fields=("membership_sku",),
                name="tier_membership_sku_unique",
            ),
        ),
        migrations.AddField(
            model_name="tierchange",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="tier_changes",
                to="rewards.pointsaccount",
            ),
        ),
        migrations.AddField(
            model_name="tierchange",
            name="actor_user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="tierchange",
            name="from_tier",
            field=models.ForeignKey(
                db_index=False,
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="rewards.tier",
            ),
        ),
        migrations.AddField(
            model_name="tierchange",
            name="to_tier",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="rewards.tier"
            ),
        ),
        migrations.AddField(
            model_name="tierhold",
            name="floor_tier",
            field=models.ForeignKey(
                blank=True,
                help_text="A paid membership or a gift: at least this tier.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="rewards.tier",
            ),
        ),
        migrations.AddField(
            model_name="tierhold",
            name="override_tier",
            field=models.ForeignKey(
                blank=True,
                help_text="Set by staff.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="rewards.tier",
            ),
        ),
        migrations.AddIndex(
            model_name="tierchange",
            index=models.Index(fields=["account", "-at"], name="tierchange_account_at_idx"),
        ),
        migrations.AddConstraint(
            model_name="tierchange",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("reason__in", ["qualified", "order", "downgrade", "staff", "paid", "gift", "expired"])
                ),
                name="tierchange_reason_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="tierhold",
            constraint=models.CheckConstraint(
                condition=models.Q(("override_tier__isnull", True), ("override_until__isnull", False), _connector="OR"),
                name="tierhold_override_has_end",
            ),
        ),
    ]
