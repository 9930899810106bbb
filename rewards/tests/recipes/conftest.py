import pytest
from django.core.cache import cache

pytest.register_assert_rewrite("rewards.tests.recipes.helpers")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the API's rate-limit counters live in the cache
    yield
    cache.clear()
