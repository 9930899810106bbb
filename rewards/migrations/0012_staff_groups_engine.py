"""The staff roles and the engine's configuration: program managers set up earning and event rules, tiers,
campaigns and segments, and set a member's tier by hand (a TierChange added in the admin); every role views
them, with the tiers' history and holds. Their history pages and the "Configuration changes" page follow
these view permissions.

Adds only these permissions and leaves the groups' others alone; reversing removes them.
"""

import importlib

from django.db import migrations

CONFIG = ["earningrule", "eventrule", "tier", "campaign", "segment"]
VIEW = [f"view_{model}" for model in CONFIG] + ["view_tierchange", "view_tierhold"]
MANAGE = [f"{action}_{model}" for model in CONFIG for action in ("add", "change", "delete")] + ["add_tierchange"]
GROUPS = {"Program manager": VIEW + MANAGE, "Support agent": VIEW, "Accountant": VIEW, "Read-only": VIEW}

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
            *Permission.objects.using(using).filter(content_type__app_label="rewards", codename__in=codenames)
        )


def permissions_revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    granted = Permission.objects.using(using).filter(content_type__app_label="rewards", codename__in=VIEW + MANAGE)
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.remove(*granted)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0011_config_history")]
    operations = [migrations.RunPython(permissions_grant, permissions_revoke)]
