import pytest
from django.core.cache import cache

from integrations.services.members import member_upsert
from integrations.services.shops import api_key_create, shop_create
from integrations.tests.helpers import api_client


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # rate-limit counters live in the (per-process) cache
    yield
    cache.clear()


@pytest.fixture
def shop(db):
    return shop_create(name="Webshop NL", currency="EUR", time_zone="Europe/Amsterdam")


@pytest.fixture
def api(shop):
    """A client with a read and write key of `shop`."""
    return api_client(shop, "read", "write")


@pytest.fixture
def member(shop):
    """Ana, a customer of `shop` with the shop's id cust-1."""
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    return member


@pytest.fixture
def make_key(db):
    """make_key(shop, "read", "write") -> (ApiKey, plaintext)."""

    def make(shop, *scopes, name="Checkout server"):
        return api_key_create(shop=shop, name=name, scopes=scopes or ("read",))

    return make


@pytest.fixture
def rules(db):
    """The earning rules of the order tests, whatever the migrations left: 1 point per 1.00 EUR on the total
    less tax and shipping, per order, rounded down; gift cards never earn."""
    from rewards.models import EarningRule

    EarningRule.objects.all().delete()
    base = EarningRule.objects.create(name="Base rate", kind="base_rate", currency="EUR", points=1, amount=1)
    EarningRule.objects.create(
        name="Gift cards never earn", kind="exclusion", currency="EUR", categories=["gift card"], priority=100
    )
    return base
