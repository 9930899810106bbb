"""What each staff role may do with the accounting (accounting/migrations/0006_staff_groups.py)."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.db import connection

from members.tests.test_staff_groups import group_permissions, staff_user

accounting_groups = importlib.import_module("accounting.migrations.0006_staff_groups")
face_value_groups = importlib.import_module("accounting.migrations.0007_currency_face_values")


def _grant():
    # A flushing (transactional) test elsewhere removes the groups' permissions: grant them again.
    accounting_groups.permissions_grant(global_apps, SimpleNamespace(connection=connection))
    face_value_groups.permissions_grant(global_apps, SimpleNamespace(connection=connection))


@pytest.mark.django_db
def test_accountants_keep_the_books_others_read_them_support_does_not_see_them():
    staff_user("Support agent")  # makes the groups
    _grant()
    accountant = {p for p in group_permissions("Accountant") if p.startswith("accounting.")}
    assert "accounting.change_accountingpolicy" in accountant
    assert "accounting.change_accountingperiod" in accountant
    # The journal is the posting's alone; of the settings, only the face values per currency are rows to add.
    assert {p for p in accountant if p.startswith(("accounting.add_", "accounting.delete_"))} == {
        "accounting.add_currencyfacevalue",
        "accounting.delete_currencyfacevalue",
    }
    manager = {p for p in group_permissions("Program manager") if p.startswith("accounting.")}
    assert manager and all(p.startswith("accounting.view_") for p in manager)
    assert not any(p.startswith("accounting.") for p in group_permissions("Support agent"))


@pytest.mark.django_db
def test_an_accountant_opens_the_roll_forward_a_support_agent_cannot(client):
    accountant = staff_user("Accountant")
    support = staff_user("Support agent")
    _grant()
    client.force_login(accountant)
    assert client.get("/admin/accounting/").status_code == 200
    client.force_login(support)
    assert client.get("/admin/accounting/").status_code in (403, 404)
