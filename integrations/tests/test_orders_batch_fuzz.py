"""1,000 random malformed bodies against POST /orders/batch: never a 500; a refused request writes nothing, and
an accepted one writes exactly the orders it answers 201 for, each result in the one error shape."""

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from integrations.models import Order
from integrations.services.members import member_upsert
from integrations.services.shops import api_key_create
from integrations.tests.test_members_api_fuzz import bodies, values
from integrations.tests.test_orders_api_fuzz import ORDER_FIELDS, PLAUSIBLE_ORDER, _counts, _post
from members.services import member_close
from rewards.selectors import ledger_audit
from rewards.services.ledger import Actor

RESULT_STATUSES = {200, 201, 400, 404, 409, 422}
GOOD_ORDER = {
    "currency": "EUR",
    "total": "30.00",
    "placed_at": "2026-11-01T10:00:00Z",
    "lines": [{"sku": "A", "quantity": 1, "total": "30.00"}],
}
# Valid orders (for a member, a closed member, an unknown customer), a third of them with one field spoilt or
# dropped, so that batches mixing good and bad orders are common.
nearly_good = st.tuples(
    st.sampled_from(["cust-1", "cust-2", "nobody"]),
    st.one_of(st.none(), st.none(), st.sampled_from(ORDER_FIELDS)),
    values,
    st.booleans(),
).map(
    lambda t: {
        name: value
        for name, value in {**GOOD_ORDER, "member_external_id": t[0], **({t[1]: t[2]} if t[1] else {})}.items()
        if not (t[3] and name == t[1])
    }
)
_ids = iter(range(10**9))
# Each a new order id, or (one in six) "b-again": a replay or conflict across batches, a 400 within one.
numbered = st.tuples(nearly_good, st.integers(0, 5)).map(
    lambda t: t[0] if "external_id" in t[0] else {**t[0], "external_id": f"b-{next(_ids)}" if t[1] else "b-again"}
)
orders = st.lists(st.one_of(numbered, numbered, numbered, numbered, bodies(ORDER_FIELDS), PLAUSIBLE_ORDER), max_size=6)
batch_bodies = st.one_of(
    st.fixed_dictionaries({"orders": orders}),
    st.fixed_dictionaries({"orders": values}),
    st.dictionaries(st.sampled_from(["orders", "order", "items"]), values, max_size=2),
    values,
)


@pytest.fixture
def client(shop, rules):
    _, plaintext = api_key_create(shop=shop, name="fuzz", scopes=["read", "write"])
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_X_API_KEY=plaintext)
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    closed, _ = member_upsert(shop=shop, external_id="cust-2", email="piet@example.com")
    member_close(member=closed, actor=Actor.system("fuzz"))
    return client


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=batch_bodies, raw=st.booleans())
def test_post_batches_with_random_bodies(client, body, raw):
    cache.clear()  # the key's rate limit (600 a minute) would answer 429 to a fast run
    before = _counts()
    orders_before = Order.objects.count()
    response = _post(client, "/api/v1/orders/batch", body, raw)
    assert response.status_code in {200, 400}, (body, response.content)
    event(f"answered {response.status_code}")
    payload = response.json()
    if response.status_code == 400:
        assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message", "details"}
        assert _counts() == before, body
    else:
        results = payload["results"]
        assert [r["index"] for r in results] == list(range(len(body["orders"])))
        for result in results:
            assert result["status"] in RESULT_STATUSES, result
            assert (result["order"] is None) == (result["error"] is not None) == (result["status"] >= 400), result
        created = sum(r["status"] == 201 for r in results)
        assert payload["created"] == created
        assert payload["created"] + payload["replayed"] + payload["failed"] == len(results)
        assert Order.objects.count() == orders_before + created
        event("some order created" if created else "no order created")
    assert ledger_audit() == []
