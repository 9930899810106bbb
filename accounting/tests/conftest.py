import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from integrations.services.members import member_upsert
from integrations.services.orders import order_record
from integrations.services.shops import shop_create

_orders = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the program and the rules are cached per process
    yield
    cache.clear()


@pytest.fixture
def admin_client(client, db):
    """A superuser signed in (the reports' pages)."""
    from members.models import User

    client.force_login(User.objects.create_superuser("admin@example.com", "admin-correct-horse"))
    return client


@pytest.fixture
def shop(db):
    return shop_create(name="Webshop NL", currency="EUR", time_zone="Europe/Amsterdam")


@pytest.fixture
def member(shop):
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    return member


@pytest.fixture
def other_member(shop):
    member, _ = member_upsert(shop=shop, external_id="cust-2", email="bo@example.com")
    return member


@pytest.fixture
def rules(db):
    """One point per `amount` EUR of the order's total less tax and shipping (10 unless a test changes it)."""
    from rewards.models import EarningRule

    EarningRule.objects.all().delete()
    rule = EarningRule.objects.create(name="Base rate", kind="base_rate", currency="EUR", points=1, amount=10)
    cache.clear()
    return rule


def sale(shop, price: Decimal, *, customer: str = "cust-1", tax: Decimal = Decimal(0), shipping: Decimal = Decimal(0)):
    """Record an order of `price` (before tax and shipping) through the order intake; returns the order."""
    external_id = f"o-{next(_orders)}"
    order, _ = order_record(
        shop=shop,
        data={
            "external_id": external_id,
            "member_external_id": customer,
            "currency": "EUR",
            "total": price + tax + shipping,
            "subtotal": price,
            "tax": tax,
            "shipping": shipping,
            "discount": Decimal(0),
            "placed_at": timezone.now() - dt.timedelta(minutes=1),
            "lines": [{"sku": "A", "name": "Goods", "category": "goods", "quantity": Decimal(1), "total": price}],
            "coupon_codes": [],
        },
    )
    return order
