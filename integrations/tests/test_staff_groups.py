"""The staff roles' permissions on shops and API keys (integrations/migrations/0002_staff_groups.py)."""

import importlib
import uuid
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group
from django.db import connection

from members.models import User
from members.tests.test_staff_groups import group_permissions, groups_ensure

integrations_groups = importlib.import_module("integrations.migrations.0002_staff_groups")


def grants_ensure() -> None:
    """Both migrations' forward steps again: a flushing (transactional) test elsewhere removes the groups."""
    groups_ensure()
    integrations_groups.permissions_grant(global_apps, SimpleNamespace(connection=connection))


def staff_user(group: str) -> User:
    """A staff login in one of the groups (members' helper would reset the groups to its own list)."""
    user = User.objects.create_user(f"{group.lower().replace(' ', '-')}@example.com", "pw-12345678", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)


def integrations_permissions(name: str) -> set[str]:
    return {code for code in group_permissions(name) if code.startswith("integrations.")}


@pytest.fixture
def groups(db):
    grants_ensure()


def test_each_role_has_exactly_its_permissions_on_shops_and_keys(groups):
    view = {"integrations.view_shop", "integrations.view_apikey"}
    assert integrations_permissions("Program manager") == view | {
        "integrations.add_shop",
        "integrations.change_shop",
        "integrations.add_apikey",
        "integrations.change_apikey",
    }
    for role in ("Support agent", "Accountant", "Read-only"):
        assert integrations_permissions(role) == view


def test_the_roles_other_permissions_are_kept(groups):
    assert "rewards.adjust_points_unlimited" in group_permissions("Program manager")
    assert "members.change_member" in group_permissions("Support agent")


def test_running_it_again_changes_nothing_and_reverse_removes_only_ours(groups):
    before = {name: group_permissions(name) for name in integrations_groups.GROUPS}
    grants_ensure()
    assert {name: group_permissions(name) for name in integrations_groups.GROUPS} == before
    integrations_groups.permissions_revoke(global_apps, SimpleNamespace(connection=connection))
    for name in integrations_groups.GROUPS:
        assert integrations_permissions(name) == set()
        assert group_permissions(name) == before[name] - {c for c in before[name] if c.startswith("integrations.")}
    assert Group.objects.filter(name__in=integrations_groups.GROUPS).count() == 4


def test_a_program_manager_may_create_keys_a_support_agent_only_look(client, groups, shop):
    manager, agent = staff_user("Program manager"), staff_user("Support agent")
    assert manager.has_perm("integrations.add_apikey") and not manager.has_perm("integrations.delete_apikey")
    assert agent.has_perm("integrations.view_apikey") and not agent.has_perm("integrations.change_shop")

    client.force_login(agent)
    assert client.get("/admin/integrations/shop/").status_code == 200
    page = client.get(f"/admin/integrations/shop/{shop.pk}/change/")
    assert page.status_code == 200 and not page.context["has_change_permission"]
    response = client.post("/admin/integrations/shop/", {"action": "create_api_key", "_selected_action": [shop.pk]})
    assert response.status_code == 200  # the changelist again: the action is not offered to this role
    assert not shop.api_keys.exists()


def test_a_program_manager_creates_rotates_and_revokes_keys_in_the_admin(client, groups, shop):
    client.force_login(staff_user("Program manager"))
    response = client.post(
        "/admin/integrations/shop/",
        {
            "action": "create_api_key",
            "_selected_action": [shop.pk],
            "apply": "yes",
            "name": "Till",
            "scopes": ["read"],
            "token": uuid.uuid4(),
        },
    )
    api_key, plaintext = response.context["created"][0]
    assert plaintext in response.text
    response = client.post(
        "/admin/integrations/apikey/",
        {"action": "rotate_api_keys", "_selected_action": [api_key.pk], "apply": "yes", "grace": "0"},
    )
    new_key, _ = response.context["created"][0]
    client.post("/admin/integrations/apikey/", {"action": "revoke_api_keys", "_selected_action": [new_key.pk]})
    new_key.refresh_from_db()
    assert new_key.revoked_at is not None
    assert client.get(f"/admin/integrations/apikey/{new_key.pk}/delete/").status_code == 403
