"""Random malformed bodies against POST /orders, /orders/simulate and /orders/{id}/refunds: never a 500,
and an error answer writes nothing."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from integrations.models import Order, Refund, ShopCustomer
from integrations.services.members import member_upsert
from integrations.services.shops import api_key_create
from integrations.tests.test_members_api_fuzz import RELAXED, bodies, half_and_half, plausible
from members.models import Member
from rewards.models import PointEntry, PointLot
from rewards.selectors import ledger_audit

ERROR_STATUSES = {400, 404, 409, 422}
ORDER_FIELDS = [
    "external_id",
    "member_id",
    "member_external_id",
    "email",
    "currency",
    "total",
    "subtotal",
    "tax",
    "shipping",
    "discount",
    "placed_at",
    "lines",
    "coupon_codes",
    "referral_code",
    "shipping_address",
    "payment_fingerprint",
]
money = st.sampled_from(
    ["0", "0.00", "10.00", "99.99", "125.00", "1e3", "-1", "1.001", "99999999999999.99", "999999999999.99"]
)
line = st.fixed_dictionaries(
    {
        "sku": st.sampled_from(["A", "B", "GC", ""]),
        "quantity": st.sampled_from([0, 1, 2, "1.5", -1, "x"]),
        "total": money,
    },
    optional={"name": st.text(max_size=5), "category": st.sampled_from(["gift card", "shoes"]), "unit_price": money},
)
PLAUSIBLE_ORDER = plausible(
    {
        "external_id": st.sampled_from(["o-1", "o-2", "o-3"]),
        "member_external_id": st.sampled_from(["cust-1", "cust-2", "nobody"]),
        "email": st.sampled_from(["ana@example.com", "new@example.com"]),
        "currency": st.sampled_from(["EUR", "eur", "USD", "EU"]),
        "total": money,
        "tax": money,
        "shipping": money,
        "discount": money,
        "placed_at": st.sampled_from(["2026-11-01T10:00:00Z", "2026-11-01", "1999-01-01T00:00:00Z"]),
        "lines": st.lists(line, max_size=3),
        "coupon_codes": st.lists(st.text(max_size=8), max_size=2),
        "referral_code": st.sampled_from(["", "ANNA2345", "anna-2345", "x" * 65, None]),
        "shipping_address": st.one_of(
            st.sampled_from(["Main St 1, Amsterdam", "", "x" * 501, None]),
            st.dictionaries(
                st.sampled_from(["line1", "city", "postal_code", ""]),
                st.one_of(st.text(max_size=5), st.integers(), st.none()),
                max_size=3,
            ),
        ),
        "payment_fingerprint": st.sampled_from(["fp_1", "", " fp_2 ", "x" * 201, None]),
    }
)
PLAUSIBLE_REFUND = plausible(
    {
        "external_id": st.sampled_from(["r-1", "r-2"]),
        "amount": money,
        "lines": st.lists(
            st.fixed_dictionaries({"sku": st.sampled_from(["A", "B", "Z"]), "quantity": money}), max_size=2
        ),
    }
)


def _counts():
    return (
        Order.objects.count(),
        Refund.objects.count(),
        PointEntry.objects.count(),
        PointLot.objects.count(),
        ShopCustomer.objects.count(),
        Member.objects.count(),
    )


def _post(client, url, body, raw):
    # A raw string may hold lone surrogates ("\ud800"): send them as the invalid UTF-8 bytes a client might.
    payload = (
        body.encode("utf-8", "surrogatepass") if isinstance(body, str) and raw else json.dumps(body, ensure_ascii=True)
    )
    return client.post(url, payload, content_type="application/json")


@pytest.fixture
def client(shop, rules):
    _, plaintext = api_key_create(shop=shop, name="fuzz", scopes=["read", "write"])
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_X_API_KEY=plaintext)
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    member_upsert(shop=shop, external_id="cust-2", email="piet@example.com")
    return client


@RELAXED
@given(body=half_and_half(bodies(ORDER_FIELDS), PLAUSIBLE_ORDER), raw=st.booleans())
def test_post_orders_with_random_bodies(client, body, raw):
    before = _counts()
    response = _post(client, "/api/v1/orders", body, raw)
    assert response.status_code in ERROR_STATUSES | {200, 201}, (body, response.content)
    if response.status_code in ERROR_STATUSES:
        assert "error" in response.json()
        assert _counts() == before, body
    assert ledger_audit() == []


@RELAXED
@given(body=half_and_half(bodies(ORDER_FIELDS), PLAUSIBLE_ORDER), raw=st.booleans())
def test_simulate_with_random_bodies_writes_nothing(client, body, raw):
    before = _counts()
    response = _post(client, "/api/v1/orders/simulate", body, raw)
    assert response.status_code in ERROR_STATUSES | {200}, (body, response.content)
    assert _counts() == before, body


@RELAXED
@given(body=half_and_half(bodies(["external_id", "amount", "lines"]), PLAUSIBLE_REFUND), raw=st.booleans())
def test_post_refunds_with_random_bodies(client, body, raw):
    order = {
        "external_id": "o-1",
        "member_external_id": "cust-1",
        "currency": "EUR",
        "total": "30.00",
        "placed_at": "2026-11-01T10:00:00Z",
        "lines": [{"sku": "A", "quantity": 2, "total": "20.00"}, {"sku": "B", "quantity": 1, "total": "10.00"}],
    }
    assert client.post("/api/v1/orders", order, format="json").status_code in (200, 201)
    before = _counts()
    response = _post(client, "/api/v1/orders/o-1/refunds", body, raw)
    assert response.status_code in ERROR_STATUSES | {200, 201}, (body, response.content)
    if response.status_code in ERROR_STATUSES:
        assert "error" in response.json()
        assert _counts() == before, body
    assert ledger_audit() == []
