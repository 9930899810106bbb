"""The client against the real API: pytest-django's live_server runs the portal in a thread (on the test
database, transactional), and each test gets a shop with its own API key."""

import pytest
from django.core.cache import cache

from integrations.services.shops import api_key_create, shop_create
from loyalty_client import LoyaltyClient


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the rate-limit counters live in the (per-process, shared with the live server) cache
    yield
    cache.clear()


@pytest.fixture
def shop(transactional_db):
    return shop_create(name="Webshop NL", currency="EUR", time_zone="Europe/Amsterdam")


@pytest.fixture
def rules(transactional_db):
    """1 point per 1.00 EUR of the order's total less tax and shipping, whatever the migrations left."""
    from rewards.models import EarningRule

    EarningRule.objects.all().delete()
    return EarningRule.objects.create(name="Base rate", kind="base_rate", currency="EUR", points=1, amount=1)


@pytest.fixture
def make_client(live_server, shop):
    """make_client("read", "write", retries=0) -> a LoyaltyClient with a new key of `shop`."""
    made = []

    def make(*scopes, **options):
        _, plaintext = api_key_create(shop=shop, name="Client test", scopes=scopes or ("read", "write"))
        options.setdefault("retries", 0)
        client = LoyaltyClient(live_server.url, plaintext, timeout=20, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client):
    """A client with the read, write and adjust scopes."""
    return make_client("read", "write", "adjust")


@pytest.fixture
def ana(client):
    return client.members_upsert(external_id="cust-1", email="ana@example.com", first_name="Ana")
