"""manage.py emails_send (local mode): collects, sends what is due, and says how it went."""

from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from members.tests.factories import member_create
from notifications.tasks import emails_run

pytestmark = pytest.mark.django_db


def test_the_command_collects_and_sends_with_progress():
    member_create(email="anna@example.com")
    out = StringIO()
    call_command("emails_send", lag=0, stdout=out)
    assert "done: sent 1" in out.getvalue()
    assert [m.to for m in mail.outbox] == [["anna@example.com"]]
    out = StringIO()
    call_command("emails_send", lag=0, stdout=out)
    assert "nothing due" in out.getvalue() and len(mail.outbox) == 1


def test_the_beat_task_waits_for_the_lag_then_sends_once(settings):
    member_create(email="anna@example.com")
    assert emails_run() == 0  # the member is seconds old: inside the lag
    assert mail.outbox == []
