"""value >= recognised + released holds exactly only where decimals are exact: on PostgreSQL a named CHECK;
SQLite keeps decimals as floats (0.06 < 0.01 + 0.05 there), so it relies on accounting_audit()."""

from django.db import migrations

CHECK = (
    "ALTER TABLE accounting_lotvaluation ADD CONSTRAINT lotvaluation_outstanding_not_negative "
    "CHECK (value >= recognised + released)"
)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CHECK, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE accounting_lotvaluation DROP CONSTRAINT IF EXISTS lotvaluation_outstanding_not_negative",
            params=None,
        )


class Migration(migrations.Migration):
    dependencies = [("accounting", "0002_seed_and_guards")]

    operations = [
        migrations.RemoveConstraint(model_name="lotvaluation", name="lotvaluation_outstanding_not_negative"),
        migrations.RunPython(forward, backward),
    ]
