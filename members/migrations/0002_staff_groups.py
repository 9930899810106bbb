"""Staff roles as groups (DESIGN.md, "Security model"). Give a staff user exactly one of them.

Program manager: edits the program settings and members, adjusts points without limit, sees everything.
Support agent:   views and changes members, views the ledger and the program, adjusts points up to the
                 program's staff limit.
Accountant:      views the ledger and the program.
Read-only:       views everything.

Running it again puts each group's permissions back to exactly this list. Reversing deletes the groups.
Apps added later give these groups their own permissions in their own migrations.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW_ALL = [
    "members.view_user",
    "members.view_member",
    "rewards.view_program",
    "rewards.view_pointsaccount",
    "rewards.view_pointentry",
    "rewards.view_pointlot",
    "rewards.view_pointmovement",
]
VIEW_LEDGER = [
    "rewards.view_program",
    "rewards.view_pointsaccount",
    "rewards.view_pointentry",
    "rewards.view_pointlot",
    "rewards.view_pointmovement",
]

GROUPS = {
    "Program manager": [
        *VIEW_ALL,
        "members.change_member",
        "rewards.change_program",
        "rewards.adjust_points",
        "rewards.adjust_points_unlimited",
    ],
    "Support agent": [
        "members.view_member",
        "members.change_member",
        *VIEW_LEDGER,
        "rewards.adjust_points",
    ],
    "Accountant": VIEW_LEDGER,
    "Read-only": VIEW_ALL,
}


def _create_permissions(apps, using):
    # Permissions are normally made by post_migrate, after all migrations; this one needs them now.
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)  # real app configs keep theirs
        app_config.models_module = True
        try:
            create_permissions(app_config, apps=apps, verbosity=0, using=using)
        finally:
            app_config.models_module = models_module


def groups_create(apps, schema_editor):
    using = schema_editor.connection.alias
    _create_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in GROUPS.items():
        permissions = []
        for code in codes:
            app_label, codename = code.split(".")
            permissions.append(
                Permission.objects.using(using).get(content_type__app_label=app_label, codename=codename)
            )
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set(permissions)


def groups_delete(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0001_initial"),
        ("rewards", "0002_entries_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(groups_create, groups_delete)]
