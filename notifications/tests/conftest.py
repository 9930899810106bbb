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
    """A shop whose orders earn 1 point per 1.00 EUR: the migrations' default rule is gone after a flushing
    (transactional) test, so it is made here when missing."""
    from rewards.models import EarningRule

    if not EarningRule.objects.filter(kind="base_rate", currency="EUR", is_active=True).exists():
        EarningRule.objects.create(name="Base rate", kind="base_rate", currency="EUR", points=1, amount=1)
    return shop_create(name="Webshop NL", currency="EUR", time_zone="Europe/Amsterdam")
