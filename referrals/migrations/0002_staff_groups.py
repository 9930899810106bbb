"""What the staff roles (members/migrations/0002_staff_groups.py) may do with referrals.

Every role views the referral program's settings, the referrals with their decisions, the rewards and the
members' codes (accountants read the rewards' cost). Program managers change the settings; they and
support agents review the referrals held by the fraud checks (approve or reject with a note: the
"change" permission on referrals, whose rows only the services write). Nobody adds or deletes them here.

Adds only these permissions and leaves the groups' others alone; reversing removes them.
"""

import importlib

from django.db import migrations

VIEW = ["view_referralprogram", "view_referral", "view_referralreward", "view_referralcode"]
REVIEW = ["change_referral"]
GROUPS = {
    "Program manager": VIEW + REVIEW + ["change_referralprogram"],
    "Support agent": VIEW + REVIEW,
    "Accountant": VIEW,
    "Read-only": VIEW,
}
GRANTED = sorted({codename for codenames in GROUPS.values() for codename in codenames})

# members 0002's helper that makes permissions during migrate (post_migrate makes them only after all migrations).
_create_permissions = importlib.import_module("members.migrations.0002_staff_groups")._create_permissions


def permissions_grant(apps, schema_editor):
    using = schema_editor.connection.alias
    _create_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="referrals", codename__in=codenames)
        )


def permissions_revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    granted = Permission.objects.using(using).filter(content_type__app_label="referrals", codename__in=GRANTED)
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.remove(*granted)


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_initial"), ("members", "0002_staff_groups")]
    operations = [migrations.RunPython(permissions_grant, permissions_revoke)]
