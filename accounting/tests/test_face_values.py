"""Face values of a point in other currencies than the program's: the posting values lots and redemptions in
that currency with them, the settlement prices unvalued redemptions with them, and accountants keep them in
the policy's admin page."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accounting.models import AccountingPolicy, CurrencyFaceValue, LotValuation
from accounting.selectors import accounting_audit, coalition_settlement
from accounting.services.common import month_start, next_month
from accounting.tests.helpers import post
from accounting.tests.test_staff_groups import _grant
from integrations.services.orders import order_record
from integrations.services.shops import shop_create
from members.tests.test_staff_groups import staff_user
from rewards.models import EarningRule
from rewards.services.redemptions import reward_redeem
from rewards.tests.test_catalogue import reward_make


@pytest.fixture
def usd_shop(db):
    EarningRule.objects.create(name="USD base rate", kind="base_rate", currency="USD", points=1, amount=10)
    cache.clear()
    return shop_create(name="US store", currency="USD", time_zone="America/New_York")


@pytest.fixture
def faces(db):
    policy, _ = AccountingPolicy.objects.update_or_create(
        pk=1, defaults={"point_face_value": Decimal("0.01"), "expected_redemption_rate": Decimal("1")}
    )
    return CurrencyFaceValue.objects.create(policy=policy, currency="USD", point_face_value=Decimal("0.20"))


def _usd_sale(shop, price: Decimal):
    order, _ = order_record(
        shop=shop,
        data={
            "external_id": "us-1",
            "member_external_id": "us-cust",
            "email": "us@example.com",
            "currency": "USD",
            "total": price,
            "subtotal": price,
            "tax": Decimal(0),
            "shipping": Decimal(0),
            "discount": Decimal(0),
            "placed_at": timezone.now() - dt.timedelta(minutes=1),
            "lines": [{"sku": "A", "name": "Goods", "category": "goods", "quantity": Decimal(1), "total": price}],
            "coupon_codes": [],
        },
    )
    return order


def test_a_sale_in_another_currency_is_split_with_that_currency_s_face_value(usd_shop, faces):
    from integrations.services.members import member_upsert

    member_upsert(shop=usd_shop, external_id="us-cust", email="us@example.com")
    order = _usd_sale(usd_shop, Decimal(1000))  # 100 points x 0.20 USD = 20.00 USD stand-alone
    post()
    order.refresh_from_db()
    assert order.points == 100, (order.status, order.breakdown)
    valuation = LotValuation.objects.get(lot=order.lot)
    assert valuation.currency == "USD"
    assert valuation.value == Decimal("19.61")  # 1000 x 20 / 1020
    assert accounting_audit() == []


def test_the_settlement_prices_unvalued_redemptions_with_their_currency_s_face_value(usd_shop, faces):
    from integrations.services.members import member_upsert

    member, _ = member_upsert(shop=usd_shop, external_id="us-cust", email="us@example.com")
    _usd_sale(usd_shop, Decimal(1000))
    perk = reward_make("perk", points=50, currency="USD")
    reward_redeem(member=member, reward=perk, idempotency_key="perk-1", channel="api", shop=usd_shop)
    start = month_start(timezone.localdate())
    report = coalition_settlement(start=start, end=next_month(start))
    row = next(r for r in report.rows if r.currency == "USD" and r.honoured_points)
    assert (row.honoured_points, row.honoured_value) == (50, Decimal("10.00"))  # 50 x 0.20


@pytest.mark.django_db
def test_an_accountant_sets_a_face_value_per_currency_not_the_program_s_own(client):
    accountant = staff_user("Accountant")
    _grant()
    client.force_login(accountant)
    policy, _ = AccountingPolicy.objects.get_or_create(pk=1)
    url = reverse("admin:accounting_accountingpolicy_change", args=[policy.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b"Face values in other currencies" in page.content
    form = {
        name: value
        for name, value in page.context["adminform"].form.initial.items()
        if name in page.context["adminform"].form.fields
    }
    form = {k: ("" if v is None else v) for k, v in form.items()}
    management = {
        "face_values-TOTAL_FORMS": "1",
        "face_values-INITIAL_FORMS": "0",
        "face_values-MIN_NUM_FORMS": "0",
        "face_values-MAX_NUM_FORMS": "1000",
        "face_values-0-point_face_value": "0.011",
    }
    refused = client.post(url, {**form, **management, "face_values-0-currency": "eur"})
    assert refused.status_code == 200
    assert b"uses the policy" in refused.content
    assert not CurrencyFaceValue.objects.exists()
    saved = client.post(url, {**form, **management, "face_values-0-currency": "usd"})
    assert saved.status_code == 302, saved.content[:2000]
    face = CurrencyFaceValue.objects.get()
    assert (face.currency, face.point_face_value) == ("USD", Decimal("0.011"))
