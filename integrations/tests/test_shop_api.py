"""GET /api/v1/shop: the calling shop, end to end (URL, key, scope, rate limit, last-used time)."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import ApiKey
from integrations.services.shops import shop_create

URL = "/api/v1/shop"


@pytest.fixture
def client():
    return APIClient()


def test_returns_the_calling_shop(client, shop, make_key):
    shop_create(name="Another shop")
    _, plaintext = make_key(shop, "read")
    response = client.get(URL, HTTP_X_API_KEY=plaintext)
    assert response.status_code == 200
    assert response.json() == {
        "id": str(shop.public_id),
        "name": "Webshop NL",
        "kind": "web",
        "currency": "EUR",
        "time_zone": "Europe/Amsterdam",
    }


def test_another_shops_key_sees_that_shop(client, shop, make_key):
    other = shop_create(name="Partner cafe", kind="partner", currency="GBP")
    _, plaintext = make_key(other, "read")
    assert client.get(URL, HTTP_X_API_KEY=plaintext).json()["name"] == "Partner cafe"


def test_needs_a_key(client, db):
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_needs_the_read_scope(client, shop, make_key):
    _, plaintext = make_key(shop, "write", "adjust")
    response = client.get(URL, HTTP_X_API_KEY=plaintext)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_only_get_is_allowed(client, shop, make_key):
    _, plaintext = make_key(shop, "read", "write")
    response = client.post(URL, {}, HTTP_X_API_KEY=plaintext)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@override_settings(API_RATE_LIMIT="2/min")
def test_rate_limited_per_key(client, shop, make_key):
    _, plaintext = make_key(shop, "read")
    assert [client.get(URL, HTTP_X_API_KEY=plaintext).status_code for _ in range(3)] == [200, 200, 429]
    response = client.get(URL, HTTP_X_API_KEY=plaintext)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "throttled"


def test_last_used_is_written_at_most_once_a_minute(client, shop, make_key, django_assert_num_queries):
    api_key, plaintext = make_key(shop, "read")
    with django_assert_num_queries(2):  # the key (with its shop), then the conditional UPDATE
        assert client.get(URL, HTTP_X_API_KEY=plaintext).status_code == 200
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None and timezone.now() - first < dt.timedelta(seconds=5)
    for _ in range(3):
        with django_assert_num_queries(1):  # only the key lookup: no write within the minute
            assert client.get(URL, HTTP_X_API_KEY=plaintext).status_code == 200
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first

    stale = timezone.now() - dt.timedelta(seconds=61)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=stale)
    with django_assert_num_queries(2):
        assert client.get(URL, HTTP_X_API_KEY=plaintext).status_code == 200
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at > stale


def test_the_last_used_update_is_conditional(shop, make_key):
    """Two processes that both read a stale time: the second UPDATE matches no row."""
    from integrations.services.shops import api_key_mark_used

    api_key, _ = make_key(shop, "read")
    copy = ApiKey.objects.get(pk=api_key.pk)
    now = timezone.now()
    api_key_mark_used(api_key=api_key, now=now)
    api_key_mark_used(api_key=copy, now=now + dt.timedelta(seconds=30))  # stale copy: last_used_at None
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == now
