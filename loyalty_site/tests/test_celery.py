"""The periodic ledger jobs through a real Celery worker and a real Redis broker (skipped without Redis)."""

import datetime as dt
import socket
import time
import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import OperationalError
from django.utils import timezone

from loyalty_site.celery import app
from members.tests.factories import member_create
from rewards import tasks
from rewards.models import PointLot
from rewards.selectors import ledger_audit
from rewards.services.ledger import Actor, points_earn

REDIS = ("127.0.0.1", 6379)


def redis_up() -> bool:
    try:
        socket.create_connection(REDIS, timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture
def redis_worker(settings):
    if not redis_up():
        pytest.skip("needs Redis on 127.0.0.1:6379")
    url = f"redis://{REDIS[0]}:{REDIS[1]}/15"
    # A queue of this run's own, so that two test runs sharing the Redis never take each other's tasks.
    queue = f"test-{uuid.uuid4().hex}"
    app.conf.update(broker_url=url, task_always_eager=False)
    _drop_cached_connections()
    try:
        with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False, shutdown_timeout=10):
            yield queue
    finally:
        app.conf.update(task_always_eager=True, broker_url="")
        _drop_cached_connections()


def _drop_cached_connections():
    # Celery caches its producer pool for the broker URL it first saw; earlier tests saw none.
    app._pool = None
    app.amqp._producer_pool = None


def test_beat_schedule_names_real_tasks(settings):
    # As a worker starts: autodiscovery imports every app's tasks module. Without it the test saw only the
    # tasks modules that earlier tests of its process happened to import.
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks


@pytest.mark.django_db(transaction=True)
def test_release_job_runs_on_a_worker_through_redis(redis_worker):
    account = member_create().points_account
    points_earn(
        account=account,
        points=40,
        source="order",
        actor=Actor.shop("test"),
        idempotency_key="order-1",
        available_at=timezone.now() + dt.timedelta(seconds=1),
    )
    PointLot.objects.update(available_at=timezone.now() - dt.timedelta(minutes=1))

    tasks.lots_release_due.apply_async(
        queue=redis_worker
    )  # no result backend: we watch the ledger, as the member would

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            account.refresh_from_db()
        except OperationalError:  # SQLite's shared in-memory test database: the worker's transaction holds it
            time.sleep(0.1)
            continue
        if account.available:
            break
        time.sleep(0.1)
    assert (account.available, account.pending) == (40, 0)
    assert PointLot.objects.get().state == "available"
    assert ledger_audit() == []
