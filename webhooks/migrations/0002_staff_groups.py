"""What the staff roles (members/migrations/0002_staff_groups.py) may do with webhooks.

Program manager: adds and edits endpoints (and so sees each new or rotated secret once), sends test pings,
                 reads the delivery log and replays deliveries.
Support agent:   reads endpoints (never a secret in full) and the delivery log, replays deliveries (helping a
                 shop whose server was down).
Accountant, Read-only: read endpoints and the delivery log.
Nobody but a superuser deletes: endpoints are made inactive; the log is kept.

Running it again puts the groups' webhooks permissions back to exactly this list (their other permissions
are left alone). Reversing removes the webhooks permissions from the groups.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["view_webhookendpoint", "view_webhookdelivery", "view_webhookattempt"]
REPLAY = "change_webhookdelivery"  # the "Replay" action; the log itself stays read-only

GROUPS = {
    "Program manager": [*VIEW, "add_webhookendpoint", "change_webhookendpoint", REPLAY],
    "Support agent": [*VIEW, REPLAY],
    "Accountant": VIEW,
    "Read-only": VIEW,
}


def _create_permissions(apps, using):
    # Permissions are normally made by post_migrate, after all migrations; this one needs them now.
    app_config = apps.get_app_config("webhooks")
    models_module = getattr(app_config, "models_module", None)
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
    ours = Permission.objects.using(using).filter(content_type__app_label="webhooks")
    for name, codes in GROUPS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.remove(*ours)
        group.permissions.add(*[ours.get(codename=code) for code in codes])


def permissions_revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.using(using).filter(content_type__app_label="webhooks")
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.remove(*ours)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("members", "0002_staff_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(permissions_grant, permissions_revoke)]
