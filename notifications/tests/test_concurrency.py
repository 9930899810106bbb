"""Races (PostgreSQL, real threads with their own connections): two collectors at once queue each email once;
two senders at once send each email once."""

import pytest
from django.core import mail

from core.tests.concurrency import run_at_once
from members.tests.factories import member_create
from notifications.models import MemberEmail
from notifications.services import email_send
from notifications.tests.helpers import collect, emails, order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_collectors_at_once_queue_each_email_once(shop):
    members = [member_create() for _ in range(5)]
    for member in members:
        order(shop, member)
    results = run_at_once(3, lambda i: collect(chunk_size=2))
    assert not [r for r in results if isinstance(r, Exception)]
    assert len(emails(MemberEmail.Kind.WELCOME)) == 5
    assert len(emails(MemberEmail.Kind.POINTS_EARNED)) == 5
    keys = [(e.kind, e.source_key) for e in emails()]
    assert len(keys) == len(set(keys))


def test_two_senders_at_once_send_each_email_once():
    member_create(email="anna@example.com")
    collect()
    [email] = emails()
    results = run_at_once(4, lambda i: email_send(email_id=email.pk))
    assert sorted(results, key=str) == ["", "", "", "sent"]
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("sent", 1)
