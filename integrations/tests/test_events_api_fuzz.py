"""1,000 random malformed bodies against POST /events: never a 500, and an error answer writes nothing."""

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from integrations.models import ShopCustomer
from integrations.services.members import member_upsert
from integrations.services.shops import api_key_create
from integrations.tests.test_members_api_fuzz import bodies, half_and_half, plausible
from integrations.tests.test_orders_api_fuzz import _post
from members.models import Member
from members.services import member_close
from rewards.models import EventAward, EventRule, MemberEvent, PointEntry, PointLot
from rewards.selectors import ledger_audit
from rewards.services.ledger import Actor

ERROR_STATUSES = {400, 404, 409, 422}
EVENT_FIELDS = ["member_id", "member_external_id", "event", "external_id", "occurred_at"]
THOUSAND = settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def mostly(good, bad):
    """`good` nine times in ten, so that many bodies are valid and the business rules answer too."""
    return st.integers(0, 9).flatmap(lambda i: good if i else bad)


PLAUSIBLE_EVENT = plausible(
    {
        "member_external_id": mostly(
            st.sampled_from(["cust-1", "cust-2", "closed"]), st.sampled_from(["nobody", "", " "])
        ),
        "event": mostly(
            st.sampled_from(["review_written", "Review_Written", "social_follow", "store.visit"]),
            st.sampled_from(["sign_up", "birthday", "bad name", "x" * 65, ""]),
        ),
        "external_id": mostly(st.integers(0, 40).map(lambda i: f"e-{i}"), st.sampled_from([" ", "x" * 151])),
        "occurred_at": mostly(
            st.sampled_from([None, "2026-11-01T10:00:00Z", "2026-11-01T11:00:00+01:00", "2026-11-02T10:00:00Z"]),
            st.sampled_from(["2026-11-01", "1999-01-01T00:00:00Z", "2999-01-01T00:00:00Z"]),
        ),
    }
)


def _counts():
    return (
        MemberEvent.objects.count(),
        EventAward.objects.count(),
        PointEntry.objects.count(),
        PointLot.objects.count(),
        ShopCustomer.objects.count(),
        Member.objects.count(),
    )


@pytest.fixture(autouse=True)
def _audit(db):
    yield
    assert ledger_audit() == []  # once, after all the examples: the ledger still adds up


@pytest.fixture
def client(shop):
    # A thousand requests in well under a minute: past the default 600/min, which is not what is tested here.
    with override_settings(API_RATE_LIMIT="100000/min"):
        yield _client(shop)


def _client(shop):
    _, plaintext = api_key_create(shop=shop, name="fuzz", scopes=["read", "write"])
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_X_API_KEY=plaintext)
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    member_upsert(shop=shop, external_id="cust-2", email="piet@example.com")
    closed, _ = member_upsert(shop=shop, external_id="closed", email="gone@example.com")
    member_close(member=closed, actor=Actor.system("tests"))
    EventRule.objects.create(name="Review", event="review_written", points=50, limit_count=2, limit_period="day")
    EventRule.objects.create(name="Follow", event="social_follow", points=10, limit_count=1, limit_period="ever")
    return client


@THOUSAND
@given(body=half_and_half(bodies(EVENT_FIELDS), PLAUSIBLE_EVENT), raw=st.booleans())
def test_post_events_with_random_bodies(client, body, raw):
    before = _counts()
    response = _post(client, "/api/v1/events", body, raw)
    assert response.status_code in ERROR_STATUSES | {200, 201}, (body, response.content)
    if response.status_code in ERROR_STATUSES:
        assert "error" in response.json()
        assert _counts() == before, body
