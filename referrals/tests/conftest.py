import pytest
from django.core.cache import cache

from integrations.services.shops import shop_create
from referrals.selectors import referral_program_get


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # rate-limit counters live in the (per-process) cache
    yield
    cache.clear()


@pytest.fixture
def shop(db):
    return shop_create(name="Webshop NL", currency="EUR", time_zone="Europe/Amsterdam")


@pytest.fixture
def program(db):
    """An active referral program: 100 points for the friend at sign-up; 500 for the referrer on the friend's
    first order of 20.00 or more, after a 14-day return window."""
    rules = referral_program_get()
    rules.active = True
    rules.friend_reward = "points"
    rules.friend_points = 100
    rules.referrer_reward = "points"
    rules.referrer_points = 500
    rules.trigger = "first_order"
    rules.min_order_total = 20
    rules.return_window_days = 14
    rules.save()
    return rules
