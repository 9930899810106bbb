"""What the staff roles (members/migrations/0002_staff_groups.py) may do with shops and API keys.

Program manager: adds and edits shops; creates, renames, rotates and revokes API keys.
Support agent, Accountant, Read-only: view shops and keys (prefixes, scopes, last use; never a secret).
Nobody but a superuser deletes: keys are revoked, shops made inactive.

Running it again puts the groups' integrations permissions back to exactly this list (their other
permissions are left alone). Reversing removes the integrations permissions from the groups.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["integrations.view_shop", "integrations.view_apikey"]

GROUPS = {
    "Program manager": [
        *VIEW,
        "integrations.add_shop",
        "integrations.change_shop",
        "integrations.add_apikey",
        "integrations.change_apikey",
    ],
    "Support agent": VIEW,
    "Accountant": VIEW,
    "Read-only": VIEW,
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


def permissions_grant(apps, schema_editor):
    using = schema_editor.connection.alias
    _create_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.using(using).filter(content_type__app_label="integrations")
    for name, codes in GROUPS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.remove(*ours)
        group.permissions.add(*[ours.get(codename=code.split(".")[1]) for code in codes])


def permissions_revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.using(using).filter(content_type__app_label="integrations")
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.remove(*ours)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
        ("members", "0002_staff_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(permissions_grant, permissions_revoke)]
