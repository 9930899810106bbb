"""The staff roles and the engine's configuration (rewards/migrations/0012_staff_groups_engine.py)."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.db import connection

from integrations.tests.test_staff_groups import staff_user
from members.tests.test_staff_groups import group_permissions, groups_ensure

engine_groups = importlib.import_module("rewards.migrations.0012_staff_groups_engine")


@pytest.fixture
def groups(db):
    groups_ensure()  # a flushing (transactional) test elsewhere removes the groups
    engine_groups.permissions_grant(global_apps, SimpleNamespace(connection=connection))


def test_program_managers_set_up_the_engine_and_every_role_views_it(groups):
    manager = group_permissions("Program manager")
    for model in ("earningrule", "eventrule", "tier", "campaign", "segment"):
        assert {f"rewards.{action}_{model}" for action in ("view", "add", "change", "delete")} <= manager
        for role in ("Support agent", "Accountant", "Read-only"):
            assert f"rewards.view_{model}" in group_permissions(role)
            assert f"rewards.change_{model}" not in group_permissions(role)
    assert "rewards.add_tierchange" in manager  # setting a tier by hand
    assert "rewards.add_tierchange" not in group_permissions("Support agent")
    assert "rewards.adjust_points_unlimited" in manager  # the role's other permissions are kept


def test_a_program_manager_opens_the_engines_admin_pages(groups, client):
    client.force_login(staff_user("Program manager"))
    for page in ("earningrule", "eventrule", "tier", "campaign", "segment"):
        assert client.get(f"/admin/rewards/{page}/").status_code == 200
        assert client.get(f"/admin/rewards/{page}/add/").status_code == 200
    client.force_login(staff_user("Read-only"))
    assert client.get("/admin/rewards/tier/").status_code == 200
    assert client.get("/admin/rewards/tier/add/").status_code == 403
