"""Staff roles as groups (members/migrations/0002_staff_groups.py), and what each role may do in the admin."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from members.models import User
from members.tests.factories import member_create
from rewards.selectors import program_get

staff_groups = importlib.import_module("members.migrations.0002_staff_groups")

STAFF_PASSWORD = "staff-correct-horse"


def groups_ensure() -> None:
    """Run the migration's forward step again: a flushing (transactional) test elsewhere removes the groups."""
    staff_groups.groups_create(global_apps, SimpleNamespace(connection=connection))


def staff_user(group: str, email: str | None = None) -> User:
    """A staff login in one of the staff groups."""
    groups_ensure()
    email = email or f"{group.lower().replace(' ', '-')}@example.com"
    user = User.objects.create_user(email, STAFF_PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)  # fresh, without a permission cache


def group_permissions(name: str) -> set[str]:
    return {
        f"{app}.{code}"
        for app, code in Group.objects.get(name=name).permissions.values_list("content_type__app_label", "codename")
    }


@pytest.fixture
def groups(db):
    groups_ensure()


def test_the_four_staff_groups_have_exactly_their_permissions(groups):
    view_ledger = {
        "rewards.view_program",
        "rewards.view_pointsaccount",
        "rewards.view_pointentry",
        "rewards.view_pointlot",
        "rewards.view_pointmovement",
    }
    view_all = view_ledger | {"members.view_user", "members.view_member"}
    assert group_permissions("Program manager") == view_all | {
        "members.change_member",
        "rewards.change_program",
        "rewards.adjust_points",
        "rewards.adjust_points_unlimited",
    }
    assert group_permissions("Support agent") == view_ledger | {
        "members.view_member",
        "members.change_member",
        "rewards.adjust_points",
    }
    assert group_permissions("Accountant") == view_ledger
    assert group_permissions("Read-only") == view_all


def test_roles_decide_who_may_change_the_program_and_adjust_without_limit(groups):
    manager, agent = staff_user("Program manager"), staff_user("Support agent")
    accountant, read_only = staff_user("Accountant"), staff_user("Read-only")

    assert manager.has_perm("rewards.change_program") and manager.has_perm("rewards.adjust_points_unlimited")
    assert not agent.has_perm("rewards.change_program")
    assert agent.has_perm("rewards.adjust_points") and not agent.has_perm("rewards.adjust_points_unlimited")
    assert agent.has_perm("members.change_member") and not agent.has_perm("members.change_user")
    assert not accountant.has_perm("members.view_member") and accountant.has_perm("rewards.view_pointentry")
    assert not accountant.has_perm("rewards.adjust_points")
    assert read_only.get_all_permissions() == group_permissions("Read-only")
    assert all(code.split(".")[1].startswith("view_") for code in read_only.get_all_permissions())


def test_running_the_migration_again_changes_nothing(groups):
    before = {name: group_permissions(name) for name in staff_groups.GROUPS}
    Group.objects.get(name="Support agent").permissions.add(
        Permission.objects.get(content_type__app_label="rewards", codename="change_program")
    )
    groups_ensure()
    groups_ensure()
    assert Group.objects.filter(name__in=staff_groups.GROUPS).count() == 4
    assert {name: group_permissions(name) for name in staff_groups.GROUPS} == before  # the role is put back


@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_and_makes_missing_permissions_itself():
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("members", "0001_initial")])
        assert not Group.objects.filter(name__in=staff_groups.GROUPS).exists()

        Permission.objects.all().delete()  # as on a fresh database, before post_migrate has made any
        executor = MigrationExecutor(connection)
        executor.migrate([("members", "0002_staff_groups")])
        assert "rewards.adjust_points" in group_permissions("Support agent")
        assert group_permissions("Accountant") == {
            "rewards.view_program",
            "rewards.view_pointsaccount",
            "rewards.view_pointentry",
            "rewards.view_pointlot",
            "rewards.view_pointmovement",
        }
    finally:
        # Going back to members 0001 also unapplied every app's migrations that depend on members 0002
        # (integrations, webhooks...): put the whole schema back for the tests that run after this one.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_support_agent_logs_in_sees_members_but_cannot_edit_the_program(client, groups):
    staff_user("Support agent", email="agent@example.com")
    member = member_create(first_name="Ada", last_name="Lovelace")
    program = program_get()

    response = client.post(
        "/admin/login/", {"username": "agent@example.com", "password": STAFF_PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302 and response.url == "/admin/"

    members = client.get("/admin/members/member/")
    assert members.status_code == 200
    assert member.number_display.replace(" ", "\u00a0") in members.text and "Lovelace" in members.text
    assert client.get(f"/admin/members/member/{member.pk}/change/").context["has_change_permission"]

    page = client.get(f"/admin/rewards/program/{program.pk}/change/")
    assert page.status_code == 200 and not page.context["has_change_permission"]  # read-only view
    assert 'name="_save"' not in page.text
    response = client.post(f"/admin/rewards/program/{program.pk}/change/", {"name": "Hijacked", "currency": "EUR"})
    assert response.status_code == 403
    program.refresh_from_db()
    assert program.name == "Loyalty program"
    assert client.get("/admin/members/user/").status_code == 403  # staff logins are for superusers


def test_a_program_manager_may_edit_the_program(client, groups):
    manager = staff_user("Program manager")
    program = program_get()
    client.force_login(manager)
    page = client.get(f"/admin/rewards/program/{program.pk}/change/")
    assert page.context["has_change_permission"]
    data = {field: page.context["adminform"].form.initial[field] for field in page.context["adminform"].form.fields}
    data.update(name="Spring Rewards", staff_adjust_limit=500)
    response = client.post(f"/admin/rewards/program/{program.pk}/change/", data)
    assert response.status_code == 302
    program.refresh_from_db()
    assert (program.name, program.staff_adjust_limit) == ("Spring Rewards", 500)


def test_staff_without_a_group_cannot_use_the_admin_pages(client, db):
    user = User.objects.create_user("new-staff@example.com", STAFF_PASSWORD, is_staff=True)
    client.force_login(user)
    assert client.get("/admin/").status_code == 200  # the index, empty
    assert client.get("/admin/members/member/").status_code == 403
    assert client.get("/admin/rewards/pointentry/").status_code == 403
