"""What the staff roles (members/migrations/0002_staff_groups.py) may see of the insights: the dashboard
and the member scores, for every role but support agents (who work member by member). Only the periodic
task writes them.

Adds only these permissions and leaves the groups' others alone; reversing removes them.
"""

import importlib

from django.db import migrations

VIEW = ["view_insightsdashboard", "view_memberscore"]
GROUPS = {"Program manager": VIEW, "Accountant": VIEW, "Read-only": VIEW}

_create_permissions = importlib.import_module("members.migrations.0002_staff_groups")._create_permissions


def permissions_grant(apps, schema_editor):
    using = schema_editor.connection.alias
    _create_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="insights", codename__in=codenames)
        )


def permissions_revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    granted = Permission.objects.using(using).filter(content_type__app_label="insights", codename__in=VIEW)
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.remove(*granted)


class Migration(migrations.Migration):
    dependencies = [("insights", "0002_member_scores_counts"), ("members", "0002_staff_groups")]
    operations = [migrations.RunPython(permissions_grant, permissions_revoke)]
