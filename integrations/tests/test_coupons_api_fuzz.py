"""Random malformed bodies and codes against POST /coupons/{code}/validate (never writes) and /redeem (an error
answer writes nothing): never a 500."""

# ruff: noqa: E402
import pytest

# These tests borrow the rewards tests' helpers: rewrite their asserts, as rewards/tests/conftest.py asks (it is
# loaded after this app's tests are collected, too late for a module imported here first).
pytest.register_assert_rewrite("rewards.tests.helpers")

import json
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from integrations.services.members import member_upsert
from integrations.services.shops import api_key_create
from integrations.tests.test_members_api_fuzz import RELAXED, bodies, half_and_half, plausible, values
from rewards.models import Coupon
from rewards.services.redemptions import reward_redeem
from rewards.tests.test_catalogue import points_for, reward_make

ERROR_STATUSES = {400, 404, 409, 422}
money = st.sampled_from(["0", "10.00", "99.99", "-1", "1e3", "1.001", "99999999999999.99", "abc", None])
line = st.fixed_dictionaries(
    {
        "sku": st.sampled_from(["MUG", "TEE", ""]),
        "quantity": st.sampled_from([0, 1, 2, "1.5", -1, "x"]),
        "total": money,
    },
    optional={"unit_price": money},
)
PLAUSIBLE_CART = plausible(
    {
        "total": money,
        "currency": st.sampled_from(["EUR", "USD", "eur", "EU"]),
        "lines": st.lists(line, max_size=3),
    }
)
PLAUSIBLE_REDEEM = plausible({"order_external_id": st.sampled_from(["o-1", "o-2", "", " ", "x" * 151])})


def _state():
    return sorted(Coupon.objects.values_list("pk", "status", "used_order_external_id", "used_at", "updated_at"))


@pytest.fixture
def setting(shop):
    _, plaintext = api_key_create(shop=shop, name="fuzz", scopes=["read", "write"])
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_X_API_KEY=plaintext)
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    points_for(member, 10_000)
    codes = []
    for i, (kind, fields) in enumerate(
        [
            ("fixed_amount", {"min_order": 20}),
            ("percentage", {}),
            ("free_product", {"sku": "MUG"}),
            ("free_shipping", {"coupon_valid_days": 0}),
        ]
    ):
        redemption, _ = reward_redeem(
            member=member, reward=reward_make(kind, **fields), idempotency_key=f"k{i}", channel="web"
        )
        codes.append(redemption.coupon.code)
    return client, codes


def _codes(real):
    return st.one_of(
        st.sampled_from(real),
        st.sampled_from(real).map(str.lower),
        st.sampled_from(["NOPE-NOPE-NOPE-NOPE", "x", "..", "%", "\x00", "é" * 40]),
        st.text(min_size=1, max_size=40),
    )


def _post(client, url, body, raw):
    payload = (
        body.encode("utf-8", "surrogatepass") if isinstance(body, str) and raw else json.dumps(body, ensure_ascii=True)
    )
    return client.post(url, payload, content_type="application/json")


def _url(code: str, action: str) -> str:
    return f"/api/v1/coupons/{quote(code.encode('utf-8', 'surrogatepass'), safe='')}/{action}"


@RELAXED
@given(data=st.data(), raw=st.booleans())
def test_validate_with_random_bodies_writes_nothing(setting, data, raw):
    client, codes = setting
    code = data.draw(_codes(codes))
    body = data.draw(half_and_half(bodies(["total", "currency", "lines"]) | values, PLAUSIBLE_CART))
    before = _state()
    response = _post(client, _url(code, "validate"), body, raw)
    assert response.status_code in {200, 400, 404}, (code, body, response.content)
    assert _state() == before


@RELAXED
@given(data=st.data(), raw=st.booleans())
def test_redeem_with_random_bodies(setting, data, raw):
    client, codes = setting
    code = data.draw(_codes(codes))
    body = data.draw(half_and_half(bodies(["order_external_id"]), PLAUSIBLE_REDEEM))
    before = _state()
    response = _post(client, _url(code, "redeem"), body, raw)
    assert response.status_code in ERROR_STATUSES | {200}, (code, body, response.content)
    if response.status_code in ERROR_STATUSES:
        assert "error" in response.json()
        assert _state() == before, body
