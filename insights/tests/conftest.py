"""A small, known program made through the real services over three days (insights tests)."""

import datetime as dt
import itertools
from contextlib import contextmanager
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from integrations.services.orders import order_record
from integrations.services.shops import shop_create
from members.tests.factories import member_create
from rewards.models import EarningRule

_ids = itertools.count(1)


@contextmanager
def clock(moment: dt.datetime):
    """Every timezone.now() (services, auto_now fields) answers `moment` inside the block."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def order(shop, *, total: str, placed_at: dt.datetime, member=None, email: str = "", currency: str = "EUR"):
    data = {
        "external_id": f"o-{next(_ids)}",
        "currency": currency,
        "total": Decimal(total),
        "placed_at": placed_at,
        "lines": [{"sku": "A", "quantity": Decimal(1), "total": Decimal(total)}],
    }
    if member is not None:
        data["member_id"] = member.public_id
    if email:
        data["email"] = email
    return order_record(shop=shop, data=data)[0]


@pytest.fixture
def shop(db):
    EarningRule.objects.all().delete()
    EarningRule.objects.create(name="Base rate", kind="base_rate", currency="EUR", points=1, amount=1)
    return shop_create(name="Webshop", currency="EUR", time_zone="UTC")


@pytest.fixture
def make_member(db):
    def make(**profile):
        return member_create(**profile)

    return make
