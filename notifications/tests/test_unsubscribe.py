"""The signed unsubscribe link works without login: the page, its button, the RFC 8058 one-click POST and a
bad token (a friendly 400, never a 500)."""

import pytest
from django.test import Client
from django.urls import reverse

from members.tests.factories import member_create
from notifications.services import email_preferences_get, unsubscribe_token

pytestmark = pytest.mark.django_db


def _url(member, category):
    return reverse("notifications:unsubscribe", args=[unsubscribe_token(member=member, category=category)])


def _prefs(member):
    member.refresh_from_db()
    return email_preferences_get(member=member)


def test_the_page_shows_one_button_and_changes_nothing(client):
    anna = member_create()
    response = client.get(_url(anna, "marketing"))
    assert response.status_code == 200
    assert response.content.decode().count('type="submit"') == 1
    assert _prefs(anna).marketing is True


def test_the_button_turns_the_category_off_without_login_and_is_idempotent():
    anna = member_create()
    client = Client(enforce_csrf_checks=True)
    url = _url(anna, "activity")
    page = client.get(url)
    token = page.cookies["csrftoken"].value
    for _ in range(2):
        response = client.post(url, {"csrfmiddlewaretoken": token})
        assert response.status_code == 200 and b"unsubscribed" in response.content
    prefs = _prefs(anna)
    assert (prefs.activity, prefs.marketing) == (False, True)


def test_the_button_without_a_csrf_token_is_refused():
    anna = member_create()
    response = Client(enforce_csrf_checks=True).post(_url(anna, "activity"))
    assert response.status_code == 403
    assert _prefs(anna).activity is True


def test_one_click_post_from_a_mail_client_needs_no_csrf_token():
    anna = member_create()
    response = Client(enforce_csrf_checks=True).post(_url(anna, "marketing"), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert _prefs(anna).marketing is False and _prefs(anna).activity is True


def test_all_turns_off_every_category_but_account():
    anna = member_create()
    Client().post(_url(anna, "all"), {"List-Unsubscribe": "One-Click"})
    prefs = _prefs(anna)
    assert (prefs.activity, prefs.marketing) == (False, False)


@pytest.mark.parametrize("token", ["nonsense", "eyJtIjoiMSIsImMiOiJhbGwifQ:forged:sig", "a" * 300])
def test_a_bad_token_is_a_friendly_400(client, token):
    url = reverse("notifications:unsubscribe", args=[token])
    for response in (client.get(url), client.post(url, {"List-Unsubscribe": "One-Click"})):
        assert response.status_code == 400
        assert b"not valid" in response.content


def test_a_token_cannot_be_moved_to_another_category_or_salt():
    from django.core import signing

    anna = member_create()
    wrong_salt = signing.dumps({"m": str(anna.public_id), "c": "all"}, salt="other")
    assert Client().get(reverse("notifications:unsubscribe", args=[wrong_salt])).status_code == 400
    account = signing.dumps({"m": str(anna.public_id), "c": "account"}, salt="notifications.unsubscribe")
    assert Client().get(reverse("notifications:unsubscribe", args=[account])).status_code == 400


def test_the_link_in_a_sent_email_unsubscribes(shop):
    from django.core import mail

    from notifications.tests.helpers import collect, order, send_all

    anna = member_create()
    order(shop, anna)
    collect()
    send_all()
    thanks = next(m for m in mail.outbox if "List-Unsubscribe" in m.extra_headers)
    link = thanks.extra_headers["List-Unsubscribe"].strip("<>")
    assert link.startswith("http") and link in thanks.body and link in thanks.alternatives[0][0]
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert Client().post("/" + path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert _prefs(anna).activity is False
