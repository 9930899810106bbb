"""Consent (docs/emails.md): account emails always, activity unless turned off, marketing only with the
member's marketing consent and the category on; suspended and closed members get nothing. Decided at send
time, and a skipped email keeps its reason."""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from members.models import Member
from members.services import member_close, member_preferences_update
from members.tests.factories import member_create
from notifications.models import MemberEmail
from notifications.services import email_preferences_update
from notifications.tests.helpers import collect, emails, order, send_all
from rewards.models import EventRule
from rewards.services.events import birthday_points_award
from rewards.services.ledger import Actor

pytestmark = pytest.mark.django_db
Kind = MemberEmail.Kind


def _status(kind, member):
    [email] = emails(kind, member)
    return email.status, email.reason


def test_activity_emails_go_by_default_and_stop_when_turned_off(shop):
    anna, ben = member_create(), member_create()
    email_preferences_update(member=ben, activity=False)
    order(shop, anna)
    order(shop, ben)
    collect()
    send_all()
    assert _status(Kind.POINTS_EARNED, anna) == ("sent", "")
    assert _status(Kind.POINTS_EARNED, ben) == ("skipped", "activity emails turned off")
    assert _status(Kind.WELCOME, ben) == ("sent", "")  # account emails are not affected


def test_consent_is_read_when_sending_not_when_collecting(shop):
    anna = member_create()
    order(shop, anna)
    collect()
    email_preferences_update(member=anna, activity=False)
    send_all()
    assert _status(Kind.POINTS_EARNED, anna)[0] == "skipped"


@pytest.fixture
def birthday_rule(db):
    return EventRule.objects.create(name="Birthday", event="birthday", points=75, limit_count=1, limit_period="year")


def _birthday_member(**prefs):
    today = timezone.now().date()
    if (today.month, today.day) == (2, 29):
        pytest.skip("29 February")
    return member_create(birthday=today.replace(year=1990))


@pytest.mark.parametrize(
    ("consent", "category_on", "expected"),
    [
        (True, True, ("sent", "")),
        (False, True, ("skipped", "no marketing consent")),
        (True, False, ("skipped", "offers and reminders turned off")),
        (False, False, ("skipped", "no marketing consent")),
    ],
)
def test_marketing_needs_consent_and_the_category(birthday_rule, consent, category_on, expected):
    anna = _birthday_member()
    member_preferences_update(member=anna, marketing_consent=consent)
    email_preferences_update(member=anna, marketing=category_on)
    birthday_points_award()
    collect()
    send_all()
    assert _status(Kind.BIRTHDAY, anna) == expected
    assert (len([m for m in mail.outbox if "birthday" in m.subject.lower()]) == 1) == (expected[0] == "sent")


def test_suspended_and_closed_members_get_nothing_not_even_account_emails(shop):
    suspended, closed = member_create(), member_create()
    order(shop, suspended)
    Member.objects.filter(pk=suspended.pk).update(status=Member.Status.SUSPENDED)
    member_close(member=closed, actor=Actor.system("test"))
    collect()
    send_all()
    assert _status(Kind.WELCOME, suspended) == ("skipped", "member is suspended")
    assert _status(Kind.POINTS_EARNED, suspended) == ("skipped", "member is suspended")
    assert _status(Kind.WELCOME, closed) == ("skipped", "member is closed")
    assert mail.outbox == []


def test_a_failed_send_is_retried_with_backoff_then_marked_failed(shop, monkeypatch):
    anna = member_create()
    collect()

    def broken(*args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", broken)
    assert send_all() == ["queued"]
    [email] = emails(Kind.WELCOME, anna)
    assert email.attempts == 1 and "mail server down" in email.reason
    assert email.next_attempt_at > timezone.now() + dt.timedelta(seconds=90)  # not due again at once
    assert send_all() == []
    from notifications.services import MAX_ATTEMPTS, email_send

    for i in range(2, MAX_ATTEMPTS + 1):
        status = email_send(email_id=email.pk, now=timezone.now() + dt.timedelta(days=i))
    assert status == "failed"
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("failed", MAX_ATTEMPTS)


def test_the_preferences_page_shows_and_saves_the_email_categories(client):
    anna = member_create(email="anna@example.com")
    client.force_login(anna.user)
    page = client.get(reverse("members:preferences")).content.decode()
    assert 'name="email_activity"' in page and 'name="email_marketing"' in page
    assert "always sent" in page
    response = client.post(reverse("members:preferences"), {"marketing_consent": "on", "email_marketing": "on"})
    assert response.status_code == 302
    anna.refresh_from_db()
    prefs = anna.email_preferences
    assert (prefs.activity, prefs.marketing, anna.marketing_consent) == (False, True, True)
    page = client.get(reverse("members:preferences")).content.decode()
    assert 'name="email_activity" id="id_email_activity"' in page or "email_activity" in page
