"""The admin's read-only list of members' events, with what each event rule gave; every staff role sees it."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group
from django.db import connection

from members.models import User
from members.tests.factories import member_create
from members.tests.test_staff_groups import group_permissions, groups_ensure
from rewards.models import EventRule, MemberEvent
from rewards.selectors import program_get
from rewards.services.events import event_record

EVENTS_URL = "/admin/rewards/memberevent/"
event_grants = importlib.import_module("rewards.migrations.0006_event_awards")


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin@example.com", "admin-correct-horse"))
    return client


def reviews(count: int) -> None:
    EventRule.objects.get_or_create(name="Review bonus", event="review_written", points=50, limit_count=1)
    for _ in range(count):
        member = member_create(first_name="Ada", last_name="Lovelace")
        event_record(member=member, event="review_written", external_id=f"r-{member.pk}-1")
        event_record(member=member, event="review_written", external_id=f"r-{member.pk}-2")


def test_the_event_list_runs_a_fixed_number_of_queries(admin_client, django_assert_num_queries):
    program_get()
    reviews(1)
    # session, user, program (time zone; context processor), count, rows with member, user and shop joined,
    # the date hierarchy's min/max and days, the event filter's names: none of them per event.
    with django_assert_num_queries(9):
        response = admin_client.get(EVENTS_URL)
    assert response.status_code == 200
    reviews(3)
    with django_assert_num_queries(9):
        response = admin_client.get(EVENTS_URL)
    # Each member: sign_up (no rule), an awarded review and a refused one.
    assert response.context["cl"].result_count == 12
    assert "Lovelace" in response.text


def test_an_events_page_shows_what_each_rule_gave_and_nothing_can_be_changed(admin_client):
    reviews(1)
    refused = MemberEvent.objects.get(status="limit_reached")
    page = admin_client.get(f"{EVENTS_URL}{refused.pk}/change/")
    assert page.status_code == 200
    assert "Review bonus" in page.text and "Limit reached" in page.text
    awarded = MemberEvent.objects.get(status="awarded")
    assert "Earned" in admin_client.get(f"{EVENTS_URL}{awarded.pk}/change/").text  # the linked ledger entry
    assert admin_client.get(f"{EVENTS_URL}add/").status_code == 403
    assert admin_client.get(f"{EVENTS_URL}{refused.pk}/delete/").status_code == 403
    assert admin_client.post(f"{EVENTS_URL}{refused.pk}/change/", {}).status_code == 403


@pytest.mark.parametrize("group", ["Program manager", "Support agent", "Accountant", "Read-only"])
def test_every_staff_role_may_view_events_and_only_view_them(client, db, group):
    # Both migrations' forward steps again: a flushing (transactional) test elsewhere removes the groups.
    groups_ensure()
    event_grants.permissions_grant(global_apps, SimpleNamespace(connection=connection))
    assert {"rewards.view_memberevent", "rewards.view_eventaward"} <= group_permissions(group)
    assert not {c for c in group_permissions(group) if c.endswith(("_memberevent", "_eventaward"))} - {
        "rewards.view_memberevent",
        "rewards.view_eventaward",
    }
    user = User.objects.create_user("staff@example.com", "pw-12345678", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    reviews(1)
    client.force_login(User.objects.get(pk=user.pk))
    assert client.get(EVENTS_URL).status_code == 200
