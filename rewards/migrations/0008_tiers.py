"""The schema of tiers (rewards/models/tiers.py)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("rewards", "0007_tiers_segments_start")]

    operations = []
