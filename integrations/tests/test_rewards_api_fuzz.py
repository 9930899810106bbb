"""Random malformed bodies against POST /members/{id}/redemptions: never a 500, and an error answer writes
nothing (no redemption, coupon, ledger entry, store credit or unit of stock)."""

# ruff: noqa: E402
import pytest

# These tests borrow the rewards tests' helpers: rewrite their asserts, as rewards/tests/conftest.py asks (it is
# loaded after this app's tests are collected, too late for a module imported here first).
pytest.register_assert_rewrite("rewards.tests.helpers")

import json

from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from integrations.services.members import member_upsert
from integrations.services.shops import api_key_create
from integrations.tests.test_members_api_fuzz import RELAXED, bodies, half_and_half, plausible
from rewards.models import Coupon, PointEntry, Redemption, Reward, StoreCreditEntry
from rewards.selectors import ledger_audit
from rewards.tests.test_catalogue import points_for, reward_make

ERROR_STATUSES = {400, 404, 409, 422}
FIELDS = ["reward_id", "idempotency_key", "points"]


def _counts():
    return (
        Redemption.objects.count(),
        Coupon.objects.count(),
        PointEntry.objects.count(),
        StoreCreditEntry.objects.count(),
        sorted(Reward.objects.values_list("pk", "units_issued")),
    )


@pytest.fixture
def setting(shop):
    _, plaintext = api_key_create(shop=shop, name="fuzz", scopes=["read", "write"])
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_X_API_KEY=plaintext)
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    points_for(member, 100_000)
    rewards = [
        reward_make(points=100, limit_per_member=3, limit_period="day"),
        reward_make("pay_with_points", points_per_unit=100, min_points=100, max_points=900),
        reward_make("store_credit", points=50, stock_total=4),
        reward_make("perk", points=10**6),
    ]
    return client, member, [str(r.public_id) for r in rewards]


@RELAXED
@given(data=st.data(), raw=st.booleans(), header=st.none() | st.text(max_size=140))
def test_post_redemptions_with_random_bodies(setting, data, raw, header):
    client, member, reward_ids = setting
    plausible_body = plausible(
        {
            "reward_id": st.sampled_from([*reward_ids, "5f0c2a7e-3d1b-4c8e-9a6f-2b7d4e1c0a93", "nope"]),
            "idempotency_key": st.sampled_from(["k-1", "k-2", "k-3", "", " ", "x" * 200]),
            "points": st.sampled_from([None, 0, 100, 250, 901, 10**9, "300", True, -5]),
        }
    )
    body = data.draw(half_and_half(bodies(FIELDS), plausible_body))
    extra = {}
    if header is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = header.encode("latin-1", "replace").decode("latin-1").replace("\n", " ")
    payload = (
        body.encode("utf-8", "surrogatepass") if isinstance(body, str) and raw else json.dumps(body, ensure_ascii=True)
    )
    before = _counts()
    response = client.post(
        f"/api/v1/members/{member.public_id}/redemptions", payload, content_type="application/json", **extra
    )
    assert response.status_code in ERROR_STATUSES | {200, 201}, (body, response.content)
    if response.status_code in ERROR_STATUSES | {200}:
        assert response.status_code == 200 or "error" in response.json()
        assert _counts() == before, body
    assert ledger_audit() == []
