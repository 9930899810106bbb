import pytest
from django.core.cache import cache

from integrations.services import api_key_create, shop_create


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # rate-limit counters live in the (per-process) cache
    yield
    cache.clear()


@pytest.fixture
def shop(db):
    return shop_create(name="Webshop NL", currency="EUR", time_zone="Europe/Amsterdam")


@pytest.fixture
def make_key(db):
    """make_key(shop, "read", "write") -> (ApiKey, plaintext)."""

    def make(shop, *scopes, name="Checkout server"):
        return api_key_create(shop=shop, name=name, scopes=scopes or ("read",))

    return make
