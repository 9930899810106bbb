"""Delivery to a real HTTP server: signed, retried with backoff on errors and timeouts, failed after the
retry window, redirects not followed, claims that make a row go out once, the SSRF rule, the sweep."""

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
from django.db import transaction
from django.utils import timezone

from webhooks import services, tasks
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.services import delivery_attempt, event_publish


def verify(*, secret: str, headers: dict, body: bytes, tolerance: int = 300) -> dict:
    """The receiver's check, as docs/webhooks.md gives it to shop developers."""
    timestamp = headers["x-loyalty-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        raise ValueError("timestamp too old")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    received = [part.removeprefix("v1=") for part in headers["x-loyalty-signature"].split(",")]
    if not any(hmac.compare_digest(expected, candidate) for candidate in received):
        raise ValueError("bad signature")
    return json.loads(body)


def publish(shop, event="order.points_awarded", data=None):
    with transaction.atomic():
        [delivery] = event_publish(shop=shop, event=event, data=data or {"order": {"external_id": "o-1"}})
    return delivery


def test_a_delivery_is_posted_signed_and_marked_delivered(endpoint, receiver, shop):
    delivery = publish(shop, data={"order": {"external_id": "o-1"}, "note": "café"})

    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"

    [request] = receiver.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-loyalty-event"] == "order.points_awarded"
    assert request.headers["x-loyalty-event-id"] == str(delivery.event_id)
    payload = verify(secret=endpoint.secret, headers=request.headers, body=request.body)
    assert payload == {
        "id": str(delivery.event_id),
        "event": "order.points_awarded",
        "created_at": delivery.payload["created_at"],
        "data": {"order": {"external_id": "o-1"}, "note": "café"},
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error, attempt.response_snippet) == (200, "", "ok")


def test_a_tampered_body_or_another_secret_fails_verification(endpoint, receiver, shop):
    delivery_attempt(delivery_id=publish(shop).pk)
    [request] = receiver.requests
    with pytest.raises(ValueError, match="bad signature"):
        verify(secret=endpoint.secret, headers=request.headers, body=request.body.replace(b"o-1", b"o-2"))
    with pytest.raises(ValueError, match="bad signature"):
        verify(secret="whsec_another", headers=request.headers, body=request.body)
    old = {**request.headers, "x-loyalty-timestamp": str(int(time.time()) - 3600)}
    with pytest.raises(ValueError, match="too old"):
        verify(secret=endpoint.secret, headers=old, body=request.body)


def test_a_500_is_retried_with_backoff_then_delivered(endpoint, receiver, shop):
    receiver.status = 500
    receiver.answer = b"x" * 2000
    delivery = publish(shop)

    before = timezone.now()
    assert delivery_attempt(delivery_id=delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error == "HTTP 500"
    first_wait = (delivery.next_attempt_at - before).total_seconds()
    assert 23 <= first_wait <= 37  # 30 s ± 20 %
    assert len(WebhookAttempt.objects.get().response_snippet) == 500

    # Not due yet: a second call (a duplicate task, the sweep) sends nothing.
    assert delivery_attempt(delivery_id=delivery.pk) == "skipped"
    assert len(receiver.requests) == 1

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    before = timezone.now()
    assert delivery_attempt(delivery_id=delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert 47 <= (delivery.next_attempt_at - before).total_seconds() <= 73  # doubled

    receiver.status = 204
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert len(receiver.requests) == 3
    # Every attempt is signed afresh; the body is the same bytes each time.
    assert len({r.body for r in receiver.requests}) == 1
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 3


def test_backoff_doubles_and_is_capped():
    waits = [services.retry_delay(n).total_seconds() for n in (1, 2, 3, 8, 30)]
    assert 24 <= waits[0] <= 36 and 48 <= waits[1] <= 72 and 96 <= waits[2] <= 144
    assert 2880 <= waits[3] <= 4320 and 2880 <= waits[4] <= 4320


def test_a_timeout_is_retried(endpoint, receiver, shop, settings):
    settings.WEBHOOK_TIMEOUT = 0.2
    receiver.delay = 1.0
    delivery = publish(shop)

    started = time.monotonic()
    assert delivery_attempt(delivery_id=delivery.pk) == "retry"
    assert time.monotonic() - started < 1.0
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert "Timeout" in delivery.last_error


def test_an_unreachable_endpoint_is_retried(shop, receiver):
    from webhooks.services import endpoint_create

    endpoint_create(shop=shop, url="http://127.0.0.1:9/closed", events=["order.points_awarded"])
    delivery = publish(shop)
    assert delivery_attempt(delivery_id=delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert "ConnectionError" in delivery.last_error


def test_failed_after_the_retry_window(endpoint, receiver, shop):
    receiver.status = 503
    delivery = publish(shop)
    # Near the end of the window the next attempt is put at the window's end, not beyond.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=23, minutes=59)
    )
    assert delivery_attempt(delivery_id=delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at <= delivery.created_at + dt.timedelta(hours=24)

    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=24, seconds=1), next_attempt_at=timezone.now()
    )
    assert delivery_attempt(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 2, 503)
    # A failed row is never tried again by a task or the sweep.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivery_attempt(delivery_id=delivery.pk) == "skipped"
    assert len(receiver.requests) == 2


def test_redirects_are_not_followed(endpoint, receiver, shop):
    receiver.status = 302
    receiver.location = receiver.url + "/elsewhere"
    delivery = publish(shop)

    assert delivery_attempt(delivery_id=delivery.pk) == "retry"

    assert [r.path for r in receiver.requests] == ["/hooks"]  # nothing went to /hooks/elsewhere
    delivery.refresh_from_db()
    assert delivery.last_status_code == 302 and "not followed" in delivery.last_error


def test_private_targets_are_refused_unless_allowed(endpoint, receiver, shop, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    delivery = publish(shop)

    assert delivery_attempt(delivery_id=delivery.pk) == "retry"

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert "non-public address 127.0.0.1" in delivery.last_error


def test_an_inactive_endpoint_gets_nothing_and_its_pending_rows_fail(endpoint, receiver, shop):
    delivery = publish(shop)
    endpoint.active = False
    endpoint.save()

    assert delivery_attempt(delivery_id=delivery.pk) == "failed"
    assert receiver.requests == []
    with transaction.atomic():
        assert event_publish(shop=shop, event="order.points_awarded", data={}) == []


def test_the_sweep_queues_due_rows_and_each_goes_out_once(endpoint, receiver, shop):
    due = [publish(shop) for _ in range(3)]
    later = publish(shop)
    WebhookDelivery.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now() + dt.timedelta(minutes=5))

    # Tasks run eagerly here: the sweep's queueing delivers at once.
    assert tasks.webhooks_requeue_due() == 3
    assert len(receiver.requests) == 3
    assert set(WebhookDelivery.objects.filter(pk__in=[d.pk for d in due]).values_list("status", flat=True)) == {
        "delivered"
    }
    assert WebhookDelivery.objects.get(pk=later.pk).status == "pending"

    # Again: nothing is due, nothing is sent twice; a delivery task run twice is a no-op.
    assert tasks.webhooks_requeue_due() == 0
    assert tasks.webhook_deliver(due[0].pk) == "skipped"
    assert len(receiver.requests) == 3


@pytest.mark.django_db(transaction=True)
def test_publishing_outside_a_transaction_or_an_unknown_event_is_refused(endpoint, shop):
    with pytest.raises(RuntimeError, match="inside the transaction.atomic"):
        event_publish(shop=shop, event="order.points_awarded", data={})
    assert not WebhookDelivery.objects.exists()
    with transaction.atomic(), pytest.raises(ValueError, match="Unknown webhook event"):
        event_publish(shop=shop, event="order.nope", data={})
