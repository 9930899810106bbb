"""Events reported for members and what the event rules gave for them (rewards.services.events); every
staff role may view them in the admin (read-only there: they change only through the service)."""

import importlib
import uuid

import django.db.models.deletion
from django.db import migrations, models

VIEW = ["view_memberevent", "view_eventaward"]
GROUPS = ("Program manager", "Support agent", "Accountant", "Read-only")

# members 0002's helper that makes permissions during migrate (post_migrate makes them only after all migrations).
_create_permissions = importlib.import_module("members.migrations.0002_staff_groups")._create_permissions


def permissions_grant(apps, schema_editor):
    using = schema_editor.connection.alias
    _create_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = list(Permission.objects.using(using).filter(content_type__app_label="rewards", codename__in=VIEW))
    for name in GROUPS:
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*view)


def permissions_revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.using(using).filter(content_type__app_label="rewards", codename__in=VIEW)
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.remove(*view)


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0001_initial'),
        ('members', '0003_user_field_labels'),
        ('rewards', '0005_default_earning_rule'),
    ]

    operations = [
        migrations.CreateModel(
            name='MemberEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('event', models.CharField(max_length=64)),
                ('external_id', models.CharField(blank=True, help_text="The shop's own id of the event, if a shop sent it.", max_length=150, null=True)),
                ('idempotency_key', models.CharField(editable=False, max_length=200)),
                ('fingerprint', models.CharField(blank=True, editable=False, help_text='Tells a replay from another event reusing the id.', max_length=64)),
                ('occurred_at', models.DateTimeField()),
                ('status', models.CharField(choices=[('awarded', 'Points awarded'), ('limit_reached', 'Limit reached'), ('no_matching_rule', 'No matching rule')], max_length=16)),
                ('points', models.PositiveIntegerField(default=0, help_text='Points awarded for it, all rules together.')),
                ('member', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='members.member')),
                ('shop', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='member_events', to='integrations.shop')),
            ],
            options={
                'ordering': ['-occurred_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='EventAward',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('rule_name', models.CharField(max_length=120)),
                ('status', models.CharField(choices=[('awarded', 'Awarded'), ('limit_reached', 'Limit reached')], max_length=16)),
                ('points', models.PositiveIntegerField(default=0)),
                ('occurred_at', models.DateTimeField(help_text="The event's time, copied here for the limit count.")),
                ('entry', models.OneToOneField(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='event_award', to='rewards.pointentry')),
                ('member', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.member')),
                ('rule', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='awards', to='rewards.eventrule')),
                ('member_event', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='awards', to='rewards.memberevent')),
            ],
            options={
                'ordering': ['id'],
            },
        ),
        migrations.AddIndex(
            model_name='memberevent',
            index=models.Index(fields=['member', 'event', 'occurred_at'], name='memberevent_member_event_idx'),
        ),
        migrations.AddConstraint(
            model_name='memberevent',
            constraint=models.UniqueConstraint(fields=('idempotency_key',), name='memberevent_idempotency_key_unique'),
        ),
        migrations.AddConstraint(
            model_name='memberevent',
            constraint=models.UniqueConstraint(condition=models.Q(('external_id__isnull', False)), fields=('shop', 'external_id'), name='memberevent_shop_external_id_unique'),
        ),
        migrations.AddConstraint(
            model_name='memberevent',
            constraint=models.CheckConstraint(condition=models.Q(('external_id', ''), _negated=True), name='memberevent_external_id_not_blank'),
        ),
        migrations.AddConstraint(
            model_name='memberevent',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['awarded', 'limit_reached', 'no_matching_rule'])), name='memberevent_status_valid'),
        ),
        migrations.AddConstraint(
            model_name='memberevent',
            constraint=models.CheckConstraint(condition=models.Q(('points', 0), ('status', 'awarded'), _connector='OR'), name='memberevent_points_if_awarded'),
        ),
        migrations.AddIndex(
            model_name='eventaward',
            index=models.Index(condition=models.Q(('status', 'awarded')), fields=['member', 'rule', 'occurred_at'], name='eventaward_limit_idx'),
        ),
        migrations.AddConstraint(
            model_name='eventaward',
            constraint=models.UniqueConstraint(fields=('member_event', 'rule'), name='eventaward_event_rule_unique'),
        ),
        migrations.AddConstraint(
            model_name='eventaward',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['awarded', 'limit_reached'])), name='eventaward_status_valid'),
        ),
        migrations.AddConstraint(
            model_name='eventaward',
            constraint=models.CheckConstraint(condition=models.Q(('points', 0), ('status', 'awarded'), _connector='OR'), name='eventaward_points_if_awarded'),
        ),
        migrations.AddConstraint(
            model_name='eventaward',
            constraint=models.CheckConstraint(condition=models.Q(('points', 0), ('entry__isnull', False), _connector='OR'), name='eventaward_points_have_entry'),
        ),
        migrations.RunPython(permissions_grant, permissions_revoke),
    ]
