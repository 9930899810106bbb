"""History of the shops' settings (django-simple-history): who changed what and when; docs/admin.md.

API keys are not tracked: they change only through integrations.services.shops and their hash is never shown.
"""

import uuid

import django.core.validators
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

import integrations.models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0007_staff_groups_orders"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="HistoricalShop",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("public_id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("created_at", models.DateTimeField(blank=True, db_index=True, editable=False)),
                ("name", models.CharField(max_length=120)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("web", "Web store"),
                            ("store", "Physical store"),
                            ("app", "App"),
                            ("partner", "Partner"),
                        ],
                        default="web",
                        max_length=16,
                    ),
                ),
                (
                    "currency",
                    models.CharField(
                        default="EUR",
                        help_text="ISO 4217 code, e.g. EUR, USD, GBP.",
                        max_length=3,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z]{3}\\Z", "Enter a three-letter ISO 4217 code in capitals, e.g. EUR."
                            )
                        ],
                    ),
                ),
                (
                    "time_zone",
                    models.CharField(
                        default="UTC",
                        help_text="IANA name, e.g. Europe/Amsterdam.",
                        max_length=64,
                        validators=[integrations.models.time_zone_validator],
                    ),
                ),
                (
                    "allowed_origins",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="Web origins allowed to embed the widget, e.g. https://shop.example.com.",
                        validators=[integrations.models.origins_validator],
                    ),
                ),
                ("active", models.BooleanField(default=True, help_text="An inactive shop's API keys are refused.")),
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
                "verbose_name": "historical shop",
                "verbose_name_plural": "historical shops",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
    ]
