import pytest
from django.core.cache import cache

from integrations.services.shops import shop_create


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def shop(db):
    return shop_create(name="Webshop NL", currency="EUR", time_zone="Europe/Amsterdam")
