"""What the staff roles (members/migrations/0002_staff_groups.py) may do with the accounting.

Accountants own it: they map the chart of accounts, set the posting policy and the expected redemption
rate (each change posts a catch-up), and close periods. Program managers and the read-only role see the
reports and the journal; support agents do not need them. The journal itself is written only by the
posting service: nobody adds, changes or deletes its rows here.

Adds only these permissions and leaves the groups' others alone; reversing removes them.
"""

import importlib

from django.db import migrations

VIEW = [
    "view_account",
    "view_accountingpolicy",
    "view_accountingperiod",
    "view_estimatechange",
    "view_journalentry",
    "view_journalline",
]
KEEP = ["change_account", "change_accountingpolicy", "change_accountingperiod"]
GROUPS = {"Accountant": VIEW + KEEP, "Program manager": VIEW, "Read-only": VIEW}

_create_permissions = importlib.import_module("members.migrations.0002_staff_groups")._create_permissions


def grant(apps, schema_editor, groups: dict[str, list[str]]) -> None:
    """Give each group its accounting permissions (also used by later migrations of this app)."""
    using = schema_editor.connection.alias
    _create_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in groups.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.using(using).filter(content_type__app_label="accounting", codename__in=codenames)
        )


def revoke(apps, schema_editor, groups: dict[str, list[str]]) -> None:
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = sorted({codename for names in groups.values() for codename in names})
    granted = Permission.objects.using(using).filter(content_type__app_label="accounting", codename__in=codenames)
    for group in Group.objects.using(using).filter(name__in=groups):
        group.permissions.remove(*granted)


def permissions_grant(apps, schema_editor):
    grant(apps, schema_editor, GROUPS)


def permissions_revoke(apps, schema_editor):
    revoke(apps, schema_editor, GROUPS)


class Migration(migrations.Migration):
    dependencies = [("accounting", "0005_journal_export_index"), ("members", "0002_staff_groups")]
    operations = [migrations.RunPython(permissions_grant, permissions_revoke)]
