"""The schema of the rewards catalogue, coupons and store credit (rewards/models/catalogue.py)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("rewards", "0009_campaigns")]

    operations = []
