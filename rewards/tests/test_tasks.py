"""The periodic Celery tasks (rewards.tasks): in tests they run eagerly, in-process, and call the sweeps."""

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from rewards import tasks
from rewards.models import PointLot, Program
from rewards.selectors import ledger_audit
from rewards.tests.helpers import balances, counters, earn, set_program

pytestmark = pytest.mark.django_db


def test_both_sweeps_are_on_the_beat_schedule():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {tasks.lots_release_due.name, tasks.lots_expire_due.name} <= scheduled


def test_the_release_task_releases_lots_whose_window_closed(account):
    due = earn(account, 40, pending_days=14)
    earn(account, 10, pending_days=14)
    PointLot.objects.filter(pk=due.pk).update(available_at=timezone.now() - dt.timedelta(minutes=1))

    result = tasks.lots_release_due.delay()

    assert result.successful() and result.get() == 1
    assert balances(account) == counters(available=40, pending=10, lifetime_earned=50)
    assert tasks.lots_release_due.delay().get() == 0  # safe to run again
    assert balances(account)["available"] == 40
    assert ledger_audit() == []


def test_the_expire_task_expires_due_lots(account):
    set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=0)  # due the moment it is earned
    earn(account, 25)
    set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=30)
    earn(account, 75)

    assert tasks.lots_expire_due.delay().get() == 1

    assert balances(account) == counters(available=75, lifetime_earned=100, lifetime_expired=25)
    assert tasks.lots_expire_due.delay().get() == 0
    assert ledger_audit() == []


def test_the_expire_task_applies_the_inactivity_policy(account):
    set_program(expiry_policy=Program.Expiry.INACTIVITY, expiry_period=12)
    earn(account, 60)
    type(account).objects.filter(pk=account.pk).update(last_activity_at=timezone.now() - dt.timedelta(days=400))

    assert tasks.lots_expire_due.apply().get() == 1

    assert balances(account) == counters(lifetime_earned=60, lifetime_expired=60)
