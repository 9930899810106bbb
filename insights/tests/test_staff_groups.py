"""Who sees the insights dashboard (insights/migrations/0003_staff_groups.py)."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.db import connection
from django.urls import reverse

from members.tests.test_staff_groups import staff_user

insights_groups = importlib.import_module("insights.migrations.0003_staff_groups")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("group", "sees"), [("Program manager", True), ("Accountant", True), ("Read-only", True), ("Support agent", False)]
)
def test_the_dashboard_is_for_every_role_but_support(client, group, sees):
    user = staff_user(group)
    insights_groups.permissions_grant(global_apps, SimpleNamespace(connection=connection))
    client.force_login(user)
    response = client.get(reverse("admin:insights_insightsdashboard_changelist"))
    assert (response.status_code == 200) is sees
