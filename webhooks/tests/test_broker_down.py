"""A broker outage delays webhooks and never loses them: with no broker reachable the API request still
answers 201 (the after-commit enqueue logs and moves on) and the outbox row waits; the sweep sends it
once the broker is back, through a real Celery worker on Redis when one is running here."""

import time

import pytest
from rest_framework.test import APIClient

from integrations.services.members import member_upsert
from loyalty_site.celery import app
from loyalty_site.tests.test_celery import _drop_cached_connections, redis_worker  # noqa: F401  (a fixture)
from webhooks import tasks
from webhooks.models import WebhookDelivery
from webhooks.tests.conftest import order_body

UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def _order_with_the_broker_down(shop, api_key, receiver):
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")  # eager: its member.created goes out
    receiver.wait_for(1)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key)
    started = time.monotonic()
    app.conf.update(broker_url=UNREACHABLE, task_always_eager=False)
    _drop_cached_connections()
    try:
        response = client.post("/api/v1/orders", order_body(), format="json")
    finally:
        app.conf.update(task_always_eager=True, broker_url="")
        _drop_cached_connections()
    assert response.status_code == 201, response.content
    assert time.monotonic() - started < 5  # no long retries against a dead broker
    delivery = WebhookDelivery.objects.get(event="order.points_awarded")
    assert (delivery.status, delivery.attempts) == ("pending", 0)  # written with the order, not sent
    assert [r.json()["event"] for r in receiver.requests] == ["member.created"]
    return delivery


@pytest.mark.django_db(transaction=True)
def test_the_request_succeeds_and_the_sweep_delivers_later(shop, endpoint, receiver, api_key, rules):
    delivery = _order_with_the_broker_down(shop, api_key, receiver)

    # The broker is back (tasks run in-process here): the next sweep sends it.
    assert tasks.webhooks_requeue_due() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert receiver.requests[-1].json()["id"] == str(delivery.event_id)


@pytest.mark.django_db(transaction=True)
def test_the_sweep_delivers_through_a_real_worker_once_redis_is_back(
    shop,
    endpoint,
    receiver,
    api_key,
    rules,
    redis_worker,  # noqa: F811
):
    # redis_worker has pointed the app at Redis; the outage is simulated by pointing it elsewhere meanwhile.
    queue = redis_worker
    app.conf.update(task_default_queue=queue)  # the worker listens to this run's queue only
    try:
        delivery = _order_with_the_broker_down_then_back(shop, api_key, receiver)
        tasks.webhooks_requeue_due.apply_async()
        _wait_delivered(delivery)
    finally:
        app.conf.update(task_default_queue="celery")
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert [r.json()["event"] for r in receiver.requests].count("order.points_awarded") == 1


def _wait_delivered(delivery):

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status == "delivered":
            break
        time.sleep(0.1)


def _order_with_the_broker_down_then_back(shop, api_key, receiver):
    redis_url = app.conf.broker_url
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    receiver.wait_for(1)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key)
    app.conf.update(broker_url=UNREACHABLE)
    _drop_cached_connections()
    try:
        response = client.post("/api/v1/orders", order_body(), format="json")
    finally:
        app.conf.update(broker_url=redis_url)
        _drop_cached_connections()
    assert response.status_code == 201, response.content
    delivery = WebhookDelivery.objects.get(event="order.points_awarded")
    assert delivery.status == "pending"
    return delivery
