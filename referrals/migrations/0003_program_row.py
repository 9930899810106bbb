"""The referral program's settings row (pk 1, switched off), so that no order's transaction has to create it;
with its first history record, so that the first change staff make shows its old and new values."""

from django.db import migrations
from django.utils import timezone


def row_create(apps, schema_editor):
    using = schema_editor.connection.alias
    ReferralProgram = apps.get_model("referrals", "ReferralProgram")
    HistoricalReferralProgram = apps.get_model("referrals", "HistoricalReferralProgram")
    rules, created = ReferralProgram.objects.using(using).get_or_create(pk=1)
    if created or not HistoricalReferralProgram.objects.using(using).filter(id=1).exists():
        fields = {
            f.attname: getattr(rules, f.attname) for f in ReferralProgram._meta.concrete_fields if f.name != "updated_at"
        }
        HistoricalReferralProgram.objects.using(using).create(
            **fields, history_date=timezone.now(), history_type="+", history_change_reason="Created with defaults"
        )


class Migration(migrations.Migration):
    dependencies = [("referrals", "0002_staff_groups")]
    operations = [migrations.RunPython(row_create, migrations.RunPython.noop)]
