"""The schema of campaigns and segments (rewards/models/campaigns.py)."""

import uuid
from decimal import Decimal

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("rewards", "0008_tiers")]

    operations = [
        migrations.AddField(
            model_name="segment",
            name="description",
            field=models.TextField(blank=True, help_text="For staff: who this segment is meant to hold."),
        ),
        migrations.AddField(
            model_name="segment",
            name="kind",
            field=models.CharField(
                choices=[
                    ("rules", "Rules: members matching every condition, as of now"),
                    ("static", "Static: a list of members uploaded as a CSV of member numbers"),
                ],
                default="rules",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="segment",
            name="rules",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Rule segments: the conditions, all of which must hold (see the help below the form).",
            ),
        ),
        migrations.AddField(
            model_name="segment",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.AddConstraint(
            model_name="segment",
            constraint=models.CheckConstraint(
                condition=models.Q(kind__in=["rules", "static"]), name="segment_kind_valid"
            ),
        ),
        migrations.CreateModel(
            name="SegmentMember",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("added_at", models.DateTimeField(auto_now_add=True)),
                (
                    "member",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="static_segments",
                        to="members.member",
                    ),
                ),
                (
                    "segment",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="static_members",
                        to="rewards.segment",
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("segment", "member"), name="segmentmember_unique")],
            },
        ),
        migrations.CreateModel(
            name="Campaign",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
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
                ("points_given", models.PositiveIntegerField(default=0, editable=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "segments",
                    models.ManyToManyField(
                        blank=True,
                        help_text="A targeted offer: only members in one of these segments; none: every member.",
                        related_name="campaigns",
                        to="rewards.segment",
                    ),
                ),
            ],
            options={
                "ordering": ["-starts_at", "id"],
                "indexes": [models.Index(fields=["ends_at"], name="campaign_ends_at_idx")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(ends_at__gt=models.F("starts_at")), name="campaign_ends_after_starts"
                    ),
                    models.CheckConstraint(condition=models.Q(factor__gt=1), name="campaign_factor_above_one"),
                    models.CheckConstraint(condition=models.Q(points__gte=0), name="campaign_points_not_negative"),
                    models.CheckConstraint(
                        condition=models.Q(member_limit__isnull=True) | models.Q(member_limit__gte=1),
                        name="campaign_member_limit_positive",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(budget__isnull=True) | models.Q(points_given__lte=models.F("budget")),
                        name="campaign_within_budget",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            kind__in=["order_multiplier", "product_multiplier", "product_points", "action_bonus"]
                        ),
                        name="campaign_kind_valid",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="CampaignMember",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("points", models.PositiveIntegerField(default=0)),
                (
                    "times",
                    models.PositiveIntegerField(default=0, help_text="Orders and actions that got points from it."),
                ),
                ("first_at", models.DateTimeField()),
                ("last_at", models.DateTimeField()),
                (
                    "campaign",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="members_reached",
                        to="rewards.campaign",
                    ),
                ),
                (
                    "member",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="campaigns_reached",
                        to="members.member",
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("campaign", "member"), name="campaignmember_unique")],
            },
        ),
    ]
