"""Face values of a point in currencies other than the program's, and who may set them: accountants keep
them (add, change, delete), program managers and the read-only role see them."""

import importlib

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


FACE_VALUES = ["add", "change", "delete", "view"]
GROUPS = {
    "Accountant": [f"{action}_currencyfacevalue" for action in FACE_VALUES],
    "Program manager": ["view_currencyfacevalue"],
    "Read-only": ["view_currencyfacevalue"],
}

_staff_groups = importlib.import_module("accounting.migrations.0006_staff_groups")


def permissions_grant(apps, schema_editor):
    _staff_groups.grant(apps, schema_editor, GROUPS)


def permissions_revoke(apps, schema_editor):
    _staff_groups.revoke(apps, schema_editor, GROUPS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounting", "0006_staff_groups"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="HistoricalCurrencyFaceValue",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("currency", models.CharField(help_text="ISO 4217 code, e.g. USD.", max_length=3)),
                (
                    "point_face_value",
                    models.DecimalField(
                        decimal_places=6,
                        help_text="Money one point is worth at redemption, in this currency.",
                        max_digits=12,
                    ),
                ),
                (
                    "points_ssp_per_point",
                    models.DecimalField(
                        blank=True,
                        decimal_places=6,
                        help_text="Stand-alone selling price of one point in this currency; empty: face value x expected rate.",
                        max_digits=12,
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
                (
                    "policy",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="accounting.accountingpolicy",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical face value in another currency",
                "verbose_name_plural": "historical face values in other currencies",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="CurrencyFaceValue",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("currency", models.CharField(help_text="ISO 4217 code, e.g. USD.", max_length=3)),
                (
                    "point_face_value",
                    models.DecimalField(
                        decimal_places=6,
                        help_text="Money one point is worth at redemption, in this currency.",
                        max_digits=12,
                    ),
                ),
                (
                    "points_ssp_per_point",
                    models.DecimalField(
                        blank=True,
                        decimal_places=6,
                        help_text="Stand-alone selling price of one point in this currency; empty: face value x expected rate.",
                        max_digits=12,
                        null=True,
                    ),
                ),
                (
                    "policy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="face_values",
                        to="accounting.accountingpolicy",
                    ),
                ),
            ],
            options={
                "verbose_name": "face value in another currency",
                "verbose_name_plural": "face values in other currencies",
                "ordering": ("currency",),
                "constraints": [
                    models.UniqueConstraint(fields=("policy", "currency"), name="currencyfacevalue_one_per_currency"),
                    models.CheckConstraint(
                        condition=models.Q(("point_face_value__gte", 0)), name="currencyfacevalue_face_not_negative"
                    ),
                ],
            },
        ),
        migrations.RunPython(permissions_grant, permissions_revoke),
    ]
