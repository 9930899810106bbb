"""Races on PostgreSQL: copies of one delivery task (the after-commit enqueue, the sweep, a redelivered
task) send it once; two points.expiring runs at once announce each lot once."""

import pytest
from django.db import transaction
from django.utils import timezone

from core.tests.concurrency import run_at_once
from integrations.services.members import member_upsert
from rewards.tests.helpers import earn, set_program
from webhooks.models import WebhookDelivery
from webhooks.services import delivery_attempt, event_publish, points_expiring_publish

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_copies_of_one_delivery_task_send_it_once(shop, endpoint, receiver):
    receiver.delay = 0.3  # the winner is still sending while the others try
    with transaction.atomic():
        [delivery] = event_publish(shop=shop, event="order.refunded", data={})
    # Tasks run eagerly here, so the commit has sent it already: make it pending and due again.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="pending", attempts=0, delivered_at=None, next_attempt_at=timezone.now()
    )
    receiver.requests.clear()

    outcomes = run_at_once(4, lambda i: delivery_attempt(delivery_id=delivery.pk))

    assert sorted(outcomes) == ["delivered", "skipped", "skipped", "skipped"]
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().attempts == 1


def test_two_expiring_runs_at_once_announce_each_lot_once(shop, endpoint):
    set_program(expiry_policy="days", expiry_period=5)
    members = [member_upsert(shop=shop, external_id=f"c-{i}", email=f"m{i}@example.com")[0] for i in range(5)]
    for member in members:
        earn(member.points_account, 10)

    results = run_at_once(2, lambda i: points_expiring_publish(days=14))

    assert sum(results) == 5, results
    assert WebhookDelivery.objects.filter(event="points.expiring").count() == 5
