"""Webhooks in the admin: pages render, a new endpoint's secret is shown once, rotation and ping, the
read-only delivery log with its attempts, replay, and the staff roles' permissions."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group
from django.db import connection, transaction

from members.models import User
from members.tests.test_staff_groups import group_permissions, groups_ensure
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import delivery_attempt, event_publish

ENDPOINTS = "/admin/webhooks/webhookendpoint/"
DELIVERIES = "/admin/webhooks/webhookdelivery/"
webhooks_groups = importlib.import_module("webhooks.migrations.0002_staff_groups")


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("boss@example.com", "correct-horse-battery"))
    return client


def delivered(shop, receiver, *, status=200):
    receiver.status = status
    with transaction.atomic():
        [delivery] = event_publish(shop=shop, event="order.refunded", data={"order": {"external_id": "o-1"}})
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def test_pages_render_and_never_show_the_whole_secret(admin_client, shop, endpoint, receiver):
    delivery = delivered(shop, receiver, status=500)
    pages = [
        ENDPOINTS,
        ENDPOINTS + "?active__exact=1",
        f"{ENDPOINTS}{endpoint.pk}/change/",
        f"{ENDPOINTS}add/",
        DELIVERIES,
        DELIVERIES + "?status__exact=pending",
        DELIVERIES + "?event=order.refunded",
        f"{DELIVERIES}?endpoint__shop__id__exact={shop.pk}",
        f"{DELIVERIES}?q={delivery.event_id}",
        f"{DELIVERIES}{delivery.pk}/change/",
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert endpoint.secret not in response.text, url
    page = admin_client.get(f"{DELIVERIES}{delivery.pk}/change/").text
    assert "HTTP 500" in page and "o-1" in page  # the attempt inline and the payload
    assert admin_client.get(f"{DELIVERIES}add/").status_code == 403  # written only by the services


def test_a_new_endpoint_shows_its_secret_once(admin_client, shop):
    response = admin_client.post(
        f"{ENDPOINTS}add/",
        {"shop": shop.pk, "url": "https://shop.example.com/hooks", "events": ["order.refunded"], "active": "on"},
    )
    assert response.status_code == 200, response.context and response.context["adminform"].form.errors
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    assert endpoint.secret in response.text
    assert endpoint.secret not in admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").text
    assert endpoint.secret_hint in admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").text


def test_an_endpoint_needs_https_and_known_events(admin_client, shop, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = admin_client.post(
        f"{ENDPOINTS}add/", {"shop": shop.pk, "url": "http://shop.example.com/hooks", "events": ["order.nope"]}
    )
    errors = response.context["adminform"].form.errors
    assert "url" in errors and "events" in errors
    assert not WebhookEndpoint.objects.exists()


def test_rotate_gives_a_new_secret_shown_once(admin_client, endpoint):
    old = endpoint.secret
    response = admin_client.post(ENDPOINTS, {"action": "rotate_secret", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in response.text


def test_ping_queues_a_ping_delivery(admin_client, endpoint, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(ENDPOINTS, {"action": "send_ping", "_selected_action": [endpoint.pk]})
    assert response.status_code == 302
    [request] = receiver.requests
    assert request.json()["event"] == "ping" and WebhookDelivery.objects.get().status == "delivered"


def test_replay_copies_done_deliveries_and_makes_pending_ones_due(
    admin_client, shop, endpoint, receiver, django_capture_on_commit_callbacks
):
    done = delivered(shop, receiver)
    pending = delivered(shop, receiver, status=500)
    receiver.status = 200

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            DELIVERIES, {"action": "replay", "_selected_action": [done.pk, pending.pk]}, follow=True
        )

    assert "1 as new deliveries, 1 pending ones made due now" in response.text
    copy = WebhookDelivery.objects.get(replay_of=done)
    assert (copy.event_id, copy.payload, copy.status) == (done.event_id, done.payload, "delivered")
    done.refresh_from_db()
    assert done.status == "delivered" and done.attempts == 1  # the original is left as it was
    pending.refresh_from_db()
    assert pending.status == "delivered" and pending.attempts == 2
    assert [r.json()["id"] for r in receiver.requests].count(str(done.event_id)) == 2


@pytest.fixture
def groups(db):
    groups_ensure()
    webhooks_groups.permissions_grant(global_apps, SimpleNamespace(connection=connection))


def webhooks_permissions(name: str) -> set[str]:
    return {code for code in group_permissions(name) if code.startswith("webhooks.")}


def test_each_role_has_exactly_its_webhooks_permissions(groups):
    view = {"webhooks.view_webhookendpoint", "webhooks.view_webhookdelivery", "webhooks.view_webhookattempt"}
    replay = "webhooks.change_webhookdelivery"
    assert webhooks_permissions("Program manager") == view | {
        "webhooks.add_webhookendpoint",
        "webhooks.change_webhookendpoint",
        replay,
    }
    assert webhooks_permissions("Support agent") == view | {replay}
    assert webhooks_permissions("Accountant") == webhooks_permissions("Read-only") == view


def test_a_read_only_user_sees_the_log_but_cannot_replay_or_see_secrets(client, groups, shop, endpoint, receiver):
    done = delivered(shop, receiver)
    user = User.objects.create_user("viewer@example.com", "pw-12345678", is_staff=True)
    user.groups.add(Group.objects.get(name="Read-only"))
    client.force_login(user)

    assert client.get(f"{DELIVERIES}{done.pk}/change/").status_code == 200
    page = client.get(f"{ENDPOINTS}{endpoint.pk}/change/")
    assert page.status_code == 200 and endpoint.secret not in page.text
    response = client.post(DELIVERIES, {"action": "replay", "_selected_action": [done.pk]})
    assert not WebhookDelivery.objects.filter(replay_of=done).exists()
    assert response.status_code in (200, 302)
