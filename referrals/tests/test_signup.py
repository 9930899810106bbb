"""Sign-up with a referral: the code filled in from the link, a typed code, the cookie alone, expiry, errors."""

import re
import time
from unittest import mock

import pytest
from django.core import signing
from django.urls import reverse

from members.models import Member, User
from members.tests.factories import member_create
from referrals.cookies import ATTRIBUTION_COOKIE, DEVICE_COOKIE
from referrals.models import Referral
from referrals.selectors import referral_program_get
from referrals.services import COOKIE_SALT, referral_code_get_or_create

SIGNUP = reverse("account_signup")
PASSWORD = "a-long-and-unusual-passphrase"


def signup_data(**overrides) -> dict:
    data = {
        "first_name": "Ben",
        "last_name": "Lee",
        "email": "ben@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    data.update(overrides)
    return data


@pytest.fixture
def anna(db):
    return member_create(email="anna@example.com", first_name="Anna")


@pytest.fixture
def code(anna):
    return referral_code_get_or_create(member=anna).code


def follow(client, code: str):
    """Follow the link as a browser does: the cookies it sets are sent from then on."""
    response = client.get(reverse("referrals:link", kwargs={"code": code}))
    assert response.status_code == 302
    return response


def ben() -> Member:
    return Member.objects.select_related("points_account").get(user__email="ben@example.com")


def field_value(response, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', response.content.decode())
    if not match:
        return None
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def test_the_link_fills_in_the_code_and_signing_up_credits_the_click(client, program, anna, code):
    response = follow(client, code)
    form = client.get(response["Location"])
    assert field_value(form, "referral_code") == code

    done = client.post(SIGNUP, signup_data(referral_code=code), REMOTE_ADDR="198.51.100.4")

    assert done.status_code == 302
    referral = Referral.objects.get()  # the click's own row, now signed up
    assert referral.friend == ben() and referral.referrer == anna
    assert referral.status == Referral.Status.SIGNED_UP and referral.channel == "link"
    assert referral.clicked_at is not None and referral.signed_up_at is not None
    assert referral.ip_hash and referral.device_hash  # keyed hashes of where the friend signed up
    assert ben().points_account.available == 100  # the friend's reward at once


def test_the_cookie_alone_fills_in_the_form_without_the_query(client, program, code):
    follow(client, code)
    assert field_value(client.get(SIGNUP), "referral_code") == code


def test_the_cookie_credits_the_link_when_the_field_was_left_empty(client, program, anna, code):
    follow(client, code)
    client.post(SIGNUP, signup_data(referral_code=""))
    referral = Referral.objects.get()
    assert referral.friend == ben() and referral.channel == "link" and referral.referrer == anna


def test_a_typed_code_without_a_link(client, program, anna, code):
    response = client.post(SIGNUP, signup_data(referral_code=f" {code.lower()} "))

    assert response.status_code == 302
    referral = Referral.objects.get()
    assert referral.friend == ben() and referral.referrer == anna and referral.channel == "code"
    assert referral.clicked_at is None
    assert ben().points_account.available == 100


def test_a_typed_code_wins_over_the_cookie(client, program, code):
    cleo = member_create(email="cleo@example.com", first_name="Cleo")
    cleo_code = referral_code_get_or_create(member=cleo).code
    follow(client, code)  # Anna's link

    client.post(SIGNUP, signup_data(referral_code=cleo_code))

    joined = Referral.objects.exclude(status="clicked").get()
    assert joined.referrer == cleo and joined.channel == "code" and joined.friend == ben()
    assert Referral.objects.get(code=code).status == "clicked"  # Anna's click stays a click


def test_an_unknown_code_is_a_form_error_and_nobody_is_signed_up(client, program, code):
    response = client.post(SIGNUP, signup_data(referral_code="NOSUCH99"))

    assert response.status_code == 200
    assert "We do not know this referral code" in response.content.decode()
    assert not User.objects.filter(email="ben@example.com").exists()
    assert not Referral.objects.exists()


def test_the_field_is_hidden_and_ignored_while_the_program_is_off(client, program, code):
    follow(client, code)
    rules = referral_program_get()
    rules.active = False
    rules.save()

    assert field_value(client.get(f"{SIGNUP}?ref={code}"), "referral_code") is None
    response = client.post(SIGNUP, signup_data(referral_code="NOSUCH99"))

    assert response.status_code == 302  # the unknown code is not even looked at
    assert ben().points_account.available == 0
    assert Referral.objects.get().status == "clicked"


def test_an_expired_click_credits_nobody(client, program, anna, code):
    click = Referral.objects.create(referrer=anna, code=code, channel="link", status="clicked")
    with mock.patch("time.time", return_value=time.time() - 31 * 24 * 3600):
        client.cookies[ATTRIBUTION_COOKIE] = signing.dumps(str(click.public_id), salt=COOKIE_SALT)

    assert field_value(client.get(SIGNUP), "referral_code") == ""
    client.post(SIGNUP, signup_data())

    click.refresh_from_db()
    assert click.status == "clicked" and click.friend is None
    assert ben().points_account.available == 0


def test_a_click_within_the_window_still_counts(client, program, anna, code):
    click = Referral.objects.create(referrer=anna, code=code, channel="link", status="clicked")
    with mock.patch("time.time", return_value=time.time() - 29 * 24 * 3600):
        client.cookies[ATTRIBUTION_COOKIE] = signing.dumps(str(click.public_id), salt=COOKIE_SALT)
    client.post(SIGNUP, signup_data())
    click.refresh_from_db()
    assert click.status == "signed_up" and click.friend == ben()


def test_signing_up_on_the_referrers_device_is_held_for_review(client, program, anna, code):
    # Anna opened her referral page on this browser, then signs up a second account from it.
    client.force_login(anna.user)
    client.get(reverse("referrals:page"), REMOTE_ADDR="203.0.113.1")
    device = client.cookies[DEVICE_COOKIE].value
    client.logout()  # the test client forgets every cookie then; the browser keeps its device cookie
    client.cookies[DEVICE_COOKIE] = device

    client.post(SIGNUP, signup_data(referral_code=code), REMOTE_ADDR="198.51.100.9")  # another network

    referral = Referral.objects.get()
    assert referral.review == "pending" and referral.reason_code == "same_device"
    assert ben().points_account.available == 0  # nothing given while held


def test_the_referral_is_part_of_the_sign_up_transaction(client, program, code, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the referral could not be stored")

    monkeypatch.setattr("referrals.services.referral_join", broken)
    with pytest.raises(RuntimeError):
        client.post(SIGNUP, signup_data(referral_code=code))
    assert not User.objects.filter(email="ben@example.com").exists()  # no member without their referral


def test_a_sign_up_trigger_rewards_the_referrer_at_once(
    client, program, anna, code, django_capture_on_commit_callbacks
):
    rules = referral_program_get()
    rules.trigger = "signup"
    rules.save()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(SIGNUP, signup_data(referral_code=code))
    anna.points_account.refresh_from_db()
    assert anna.points_account.available == 500
    assert Referral.objects.get().status == Referral.Status.REWARDED
