"""Inviting a friend by e-mail from the referral page: one fixed e-mail, never an open relay."""

import pytest
from django.core import mail
from django.urls import reverse

from members.tests.factories import member_create
from members.tests.test_views import text
from referrals import views
from referrals.emails import name_for_email
from referrals.models import ReferralInvite
from referrals.selectors import referral_program_get
from referrals.services import INVITE_SENT, referral_code_get_or_create
from rewards.selectors import program_get

PAGE = reverse("referrals:page")


@pytest.fixture
def anna(db, settings):
    settings.SITE_URL = "https://loyalty.example.com/"
    program = program_get()
    program.name = "Corner Bakery"
    program.save()
    return member_create(email="anna.smith@gmail.com", first_name="Anna", last_name="Smith")


@pytest.fixture
def signed_in(client, anna, program):
    client.force_login(anna.user)
    return client


@pytest.fixture
def invite(signed_in, django_capture_on_commit_callbacks):
    """Post the form as the page does, running what the service does after commit (the Celery task, eager)."""

    def post(email, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return signed_in.post(PAGE, {"email": email, **extra}, follow=True)

    return post


def test_an_invitation_sends_exactly_one_fixed_email(invite, anna):
    code = referral_code_get_or_create(member=anna).code

    response = invite("ben@example.com", message="Buy cheap watches at spam.example", subject="You won!")

    assert response.status_code == 200 and response.redirect_chain == [(PAGE, 302)]
    assert INVITE_SENT in text(response)
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["ben@example.com"] and sent.cc == [] and sent.bcc == []
    assert sent.subject == "Anna invites you to join Corner Bakery"
    link = f"https://loyalty.example.com/r/{code}"
    assert link in sent.body and "Join with this link and you get 100 points:" in sent.body
    assert "spam" not in sent.body and "You won" not in sent.body and "watches" not in sent.subject
    html, mimetype = sent.alternatives[0]
    assert mimetype == "text/html" and f'href="{link}"' in html and "spam" not in html
    assert ReferralInvite.objects.filter(member=anna).count() == 1


def test_the_same_address_twice_sends_once_with_the_same_answer(invite):
    invite("ben@example.com")
    second = invite("Ben@Example.com")
    assert INVITE_SENT in text(second)
    assert len(mail.outbox) == 1


def test_a_member_is_never_written_to_but_the_answer_is_the_same(invite):
    member_create(email="cleo@example.com", first_name="Cleo")
    response = invite("cleo@example.com")
    assert INVITE_SENT in text(response)
    assert mail.outbox == []


@pytest.mark.parametrize("own", ["anna.smith@gmail.com", "AnnaSmith+friends@googlemail.com"])
def test_the_members_own_address_is_refused(invite, own):
    response = invite(own)
    assert response.status_code == 422
    assert "That is your own address." in text(response)
    assert mail.outbox == []


def test_the_daily_limit_is_shown_politely(invite):
    rules = referral_program_get()
    rules.invites_per_day = 2
    rules.save()
    invite("ben@example.com")
    invite("cleo@example.com")

    response = invite("dan@example.com")

    assert response.status_code == 429
    assert "You have sent 2 invitations today, the most for one day. You can send more tomorrow." in text(response)
    assert len(mail.outbox) == 2


def test_one_address_per_request(invite):
    response = invite("ben@example.com, cleo@example.com")
    assert response.status_code == 422
    assert "Enter a valid email address." in text(response)
    assert mail.outbox == []


def test_many_posts_in_a_short_time_are_slowed_down(invite, monkeypatch):
    monkeypatch.setattr(views, "INVITE_POSTS", 3)
    for n in range(3):
        assert invite(f"friend{n}@example.com").status_code == 200
    response = invite("friend9@example.com")
    assert response.status_code == 429
    assert "Please wait a few minutes and try again." in text(response)
    assert len(mail.outbox) == 3


def test_the_throttle_counts_per_ip_address_too(client, anna, program, monkeypatch):
    """A new session from the same address (a script signing in again) goes on with the address's count."""
    monkeypatch.setattr(views, "INVITE_POSTS", 2)
    client.force_login(anna.user)
    client.post(PAGE, {"email": "friend1@example.com"}, REMOTE_ADDR="203.0.113.5")
    client.post(PAGE, {"email": "friend2@example.com"}, REMOTE_ADDR="203.0.113.5")
    client.logout()
    client.force_login(anna.user)  # a new session
    assert client.post(PAGE, {"email": "friend3@example.com"}, REMOTE_ADDR="203.0.113.5").status_code == 429
    assert client.post(PAGE, {"email": "friend3@example.com"}, REMOTE_ADDR="203.0.113.6").status_code == 302


def test_nothing_is_sent_while_the_program_is_off(invite):
    rules = referral_program_get()
    rules.active = False
    rules.save()
    response = invite("ben@example.com")
    assert mail.outbox == [] and response.redirect_chain == [(PAGE, 302)]


def test_the_form_needs_a_csrf_token(anna, program):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(anna.user)
    assert client.post(PAGE, {"email": "ben@example.com"}).status_code == 403
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("first_name", "shown"),
    [
        ("Anna", "Anna"),
        ("Jean-Luc", "Jean-Luc"),
        ("Zoë", "Zoë"),
        ("spam.example", "A friend"),
        ("Visit http://spam", "A friend"),
        ("me@spam.example", "A friend"),
        ("Win 1000 euros", "A friend"),
        ("A" * 41, "A friend"),
        ("", "A friend"),
    ],
)
def test_only_a_name_goes_into_the_email(first_name, shown):
    assert name_for_email(first_name) == shown
