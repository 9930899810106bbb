"""The schema of campaigns and segments (rewards/models/campaigns.py)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("rewards", "0008_tiers")]

    operations = []
