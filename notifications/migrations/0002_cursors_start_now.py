"""Start the collector's cursors at the rows that exist when the app is installed, so installing it on a
running program does not email every member about every past event (docs/emails.md, "Operations")."""

from django.db import migrations
from django.db.models import Max

SOURCES = {
    "members": ("members", "Member"),
    "point_entries": ("rewards", "PointEntry"),
    "redemptions": ("rewards", "Redemption"),
    "tier_changes": ("rewards", "TierChange"),
}


def start_now(apps, schema_editor):
    Cursor = apps.get_model("notifications", "EmailCursor")
    for source, (app, model) in SOURCES.items():
        last_id = apps.get_model(app, model).objects.aggregate(last=Max("id"))["last"] or 0
        Cursor.objects.update_or_create(source=source, defaults={"last_id": last_id})
    Reward = apps.get_model("referrals", "ReferralReward")
    last = Reward.objects.filter(granted_at__isnull=False).order_by("-granted_at", "-id").first()
    if last is not None:
        Cursor.objects.update_or_create(
            source="referral_rewards", defaults={"last_id": last.id, "last_at": last.granted_at}
        )
    Cursor.objects.update_or_create(source="points_expiring", defaults={"last_at": None})


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("members", "0003_user_field_labels"),
        ("rewards", "0013_redemption_gifts"),
        ("referrals", "0003_program_row"),
    ]

    operations = [migrations.RunPython(start_now, migrations.RunPython.noop)]
