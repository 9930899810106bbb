"""Login rate limits: guessing passwords for one account is stopped (allauth's limits, our settings)."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from members.tests.factories import member_create


@pytest.fixture
def rate_limits_on(settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
    cache.clear()
    yield
    cache.clear()


def test_production_settings_keep_a_login_limit():
    # The base settings (used by local and production) must limit failed logins per account.
    from loyalty_site.settings import base

    assert "login_failed" in base.ACCOUNT_RATE_LIMITS
    assert settings.ACCOUNT_RATE_LIMITS is False  # tests run without them unless a test turns them on


@pytest.mark.django_db
def test_repeated_wrong_passwords_for_one_account_are_refused(client, rate_limits_on):
    member = member_create(email="target@example.com", password="the-right-password-1")
    url = reverse("account_login")
    for _ in range(5):
        response = client.post(url, {"login": "target@example.com", "password": "wrong-guess"})
        assert response.status_code == 200  # the form says the password is wrong
    blocked = client.post(url, {"login": "target@example.com", "password": "wrong-guess"})
    assert "Too many failed login attempts" in blocked.content.decode()
    # Even the right password waits until the window passes: the guesser learns nothing.
    right = client.post(url, {"login": member.user.email, "password": "the-right-password-1"})
    assert "Too many failed login attempts" in right.content.decode()
    assert "_auth_user_id" not in client.session
