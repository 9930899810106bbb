"""The referral program's settings row (pk 1, switched off), so that no order's transaction has to create it."""

from django.db import migrations


def row_create(apps, schema_editor):
    ReferralProgram = apps.get_model("referrals", "ReferralProgram")
    ReferralProgram.objects.using(schema_editor.connection.alias).get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("referrals", "0002_staff_groups")]
    operations = [migrations.RunPython(row_create, migrations.RunPython.noop)]
