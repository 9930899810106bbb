import pytest

pytest.register_assert_rewrite("rewards.tests.helpers")

from members.tests.factories import member_create  # noqa: E402
from rewards.selectors import program_get  # noqa: E402


@pytest.fixture
def program(db):
    """The program's settings as the services see them (defaults: no expiry, balance reversal policy)."""
    return program_get()


@pytest.fixture
def account(db):
    return member_create().points_account


@pytest.fixture
def other_account(db):
    return member_create().points_account
