"""The staff roles may look at orders, their refunds and shop customers (integrations/admin.py shows them
read-only: they change only through the API). Every role views them: a support agent answers "where are my
points for order X", an accountant traces points to the sales they came from, read-only staff see everything.

Adds only these three view permissions and leaves the groups' others alone (0002 sets those). Reversing
removes them. (There is no 0006: the number was kept free for work that in the end needed no migration.)
"""

import importlib

from django.db import migrations

VIEW = ["view_order", "view_refund", "view_shopcustomer"]
GROUPS = ("Program manager", "Support agent", "Accountant", "Read-only")

# 0002's helper that makes permissions during migrate (normally post_migrate makes them, after all migrations).
_create_permissions = importlib.import_module("integrations.migrations.0002_staff_groups")._create_permissions


def permissions_grant(apps, schema_editor):
    using = schema_editor.connection.alias
    _create_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = list(Permission.objects.using(using).filter(content_type__app_label="integrations", codename__in=VIEW))
    for name in GROUPS:
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*view)


def permissions_revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.using(using).filter(content_type__app_label="integrations", codename__in=VIEW)
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.remove(*view)


class Migration(migrations.Migration):
    dependencies = [("integrations", "0005_order_unmatched_indexes")]
    operations = [migrations.RunPython(permissions_grant, permissions_revoke)]
