"""An index on orders' placed_at for the insights' daily rollups, which read the last days' orders hourly.

On PostgreSQL it is built CONCURRENTLY, so shops keep posting orders while a large table is indexed; the
migration is therefore not atomic. Elsewhere a plain CREATE INDEX."""

from django.db import migrations, models

INDEX = "order_placed_at_idx"


def index_create(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    table = schema_editor.quote_name(apps.get_model("integrations", "Order")._meta.db_table)
    schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {INDEX} ON {table} (placed_at)")


def index_drop(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("integrations", "0010_shop_widget"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(model_name="order", index=models.Index(fields=["placed_at"], name=INDEX)),
            ],
            database_operations=[migrations.RunPython(index_create, index_drop)],
        ),
    ]
