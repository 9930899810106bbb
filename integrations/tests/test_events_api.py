"""POST /api/v1/events end to end: points by the event rules, keys and scopes, the shop boundary, each error
class, idempotent replays (also at once, on PostgreSQL), the query count."""

import datetime as dt

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from core.tests.concurrency import run_at_once
from integrations.services.members import member_upsert
from integrations.services.shops import api_key_create, shop_create
from integrations.tests.helpers import api_client
from members.services import member_close
from rewards.models import EventAward, EventRule, MemberEvent, PointEntry, PointLot
from rewards.selectors import ledger_audit, program_get
from rewards.services.ledger import Actor

URL = "/api/v1/events"


@pytest.fixture
def review(db):
    return EventRule.objects.create(
        name="Review: 50 points a day", event="review_written", points=50, limit_count=1, limit_period="day"
    )


@pytest.fixture(autouse=True)
def _audit(db):
    yield
    assert ledger_audit() == []


def body(external_id="rev-1", **overrides):
    data = {"member_external_id": "cust-1", "event": "review_written", "external_id": external_id}
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not ...}


def _error(response, status, code):
    assert response.status_code == status, response.content
    payload = response.json()
    assert set(payload) == {"error"} and payload["error"]["code"] == code, payload
    return payload["error"]


def _counts():
    return MemberEvent.objects.count(), EventAward.objects.count(), PointEntry.objects.count(), PointLot.objects.count()


# --- happy paths ------------------------------------------------------------------------------------


def test_an_event_earns_the_rules_points(api, member, review, shop):
    response = api.post(URL, body(), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    record = MemberEvent.objects.get(event="review_written")
    assert data == {
        "id": str(record.public_id),
        "external_id": "rev-1",
        "event": "review_written",
        "member_id": str(member.public_id),
        "occurred_at": data["occurred_at"],
        "status": "awarded",
        "points": 50,
        "awards": [{"rule_id": str(review.public_id), "rule_name": "Review: 50 points a day", "points": 50}],
        "refused": [],
        "balance": {"available": 50, "pending": 0},
    }
    assert record.shop == shop and record.member == member


def test_by_member_id_too(api, member, review):
    data = api.post(URL, body(member_external_id=..., member_id=str(member.public_id)), format="json").json()
    assert data["points"] == 50 and data["member_id"] == str(member.public_id)


def test_the_limit_is_answered_in_refused(api, member, review):
    api.post(URL, body("rev-1"), format="json")
    response = api.post(URL, body("rev-2"), format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "limit_reached" and data["points"] == 0 and data["awards"] == []
    assert data["refused"] == [
        {"rule_id": str(review.public_id), "rule_name": "Review: 50 points a day", "reason": "limit_reached"}
    ]
    assert data["balance"] == {"available": 50, "pending": 0}


def test_an_event_no_rule_matches_is_201_with_zero_points(api, member):
    response = api.post(URL, body(event="store.visit"), format="json")
    assert response.status_code == 201
    data = response.json()
    assert (data["status"], data["points"], data["awards"], data["refused"]) == ("no_matching_rule", 0, [], [])


def test_an_event_in_the_past_counts_at_its_time(api, member, review):
    first = api.post(URL, body("rev-1", occurred_at="2026-03-10T10:00:00+01:00"), format="json").json()
    second = api.post(URL, body("rev-2", occurred_at="2026-03-11T10:00:00+01:00"), format="json").json()
    assert first["points"] == second["points"] == 50
    assert dt.datetime.fromisoformat(first["occurred_at"]) == dt.datetime.fromisoformat("2026-03-10T09:00:00+00:00")


def test_names_are_read_in_lower_case(api, member):
    EventRule.objects.create(name="Visit", event="store_visit", points=5)
    data = api.post(URL, body(event=" Store_Visit "), format="json").json()
    assert data["event"] == "store_visit" and data["points"] == 5


# --- idempotency ------------------------------------------------------------------------------------


def test_a_replay_answers_200_with_the_first_result(api, member, review):
    first = api.post(URL, body(), format="json")
    before = _counts()
    again = api.post(URL, body(), format="json")
    assert again.status_code == 200 and again.json() == first.json()
    assert _counts() == before


def test_a_refused_event_replays_as_refused(api, member, review):
    api.post(URL, body("rev-1"), format="json")
    refusal = api.post(URL, body("rev-2"), format="json").json()
    review.limit_count = 5
    review.save()
    again = api.post(URL, body("rev-2"), format="json")
    assert again.status_code == 200 and again.json() == refusal


def test_the_same_member_by_another_id_is_the_same_body(api, member, review):
    api.post(URL, body(), format="json")
    again = api.post(URL, body(member_external_id=..., member_id=str(member.public_id)), format="json")
    assert again.status_code == 200


@pytest.mark.parametrize(
    "change", [{"event": "social_follow"}, {"occurred_at": "2026-03-10T10:00:00+01:00"}, {"member_external_id": "c2"}]
)
def test_the_same_external_id_with_another_body_is_409(api, member, review, shop, change):
    member_upsert(shop=shop, external_id="c2", email="piet@example.com")
    api.post(URL, body(), format="json")
    before = _counts()
    error = _error(api.post(URL, body(**change), format="json"), 409, "idempotency_conflict")
    assert error["details"] == {"external_id": "rev-1"}
    assert _counts() == before


def test_external_ids_are_per_shop(api, member, review, shop):
    other = shop_create(name="Other shop")
    member_upsert(shop=other, external_id="cust-1", email="ana@example.com")
    api.post(URL, body(), format="json")
    response = api_client(other, "write").post(URL, body(), format="json")
    assert response.status_code == 201 and response.json()["status"] == "limit_reached"


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"event": ...}, "event"),
        ({"event": "review written"}, "event"),
        ({"event": "a" * 65}, "event"),
        ({"external_id": ...}, "external_id"),
        ({"external_id": "  "}, "external_id"),
        ({"external_id": "x" * 151}, "external_id"),
        ({"occurred_at": "1999-12-31T23:59:59Z"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"member_external_id": ...}, "non_field_errors"),
        ({"member_id": "3b9d8f2e-7c41-4a6b-9e1f-0a2b3c4d5e6f"}, "non_field_errors"),  # both given
        ({"member_external_id": ..., "member_id": "not-a-uuid"}, "member_id"),
    ],
)
def test_malformed_bodies_are_400(api, member, review, changes, field):
    before = _counts()
    error = _error(api.post(URL, body(**changes), format="json"), 400, "validation_error")
    assert field in error["details"], error
    assert _counts() == before


def test_an_event_far_in_the_future_is_400(api, member, review):
    later = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    _error(api.post(URL, body(occurred_at=later), format="json"), 400, "validation_error")


def test_a_little_ahead_counts_as_now(api, member, review):
    soon = (timezone.now() + dt.timedelta(minutes=10)).isoformat()
    data = api.post(URL, body(occurred_at=soon), format="json").json()
    assert data["points"] == 50 and dt.datetime.fromisoformat(data["occurred_at"]) <= timezone.now()


def test_not_json_is_400(api):
    _error(api.post(URL, "{not json", content_type="application/json"), 400, "parse_error")


def test_no_key_is_401_and_a_read_only_key_is_403(shop, member, review):
    before = _counts()
    _error(APIClient().post(URL, body(), format="json"), 401, "not_authenticated")
    _error(api_client(shop, "read").post(URL, body(), format="json"), 403, "insufficient_scope")
    assert _counts() == before


def test_another_shops_customer_is_404(member, review):
    other = shop_create(name="Other shop")
    before = _counts()
    api = api_client(other, "write")
    _error(api.post(URL, body(), format="json"), 404, "not_found")
    _error(
        api.post(URL, body(member_external_id=..., member_id=str(member.public_id)), format="json"), 404, "not_found"
    )
    assert _counts() == before


@pytest.mark.parametrize("event", ["sign_up", "first_purchase", "birthday"])
def test_the_platforms_own_events_are_422(api, member, event):
    EventRule.objects.create(name=event, event=event, points=10)
    before = _counts()
    _error(api.post(URL, body(event=event), format="json"), 422, "event_reserved")
    assert _counts() == before


def test_a_closed_member_is_422(api, member, review):
    member_close(member=member, actor=Actor.system("tests"))
    before = _counts()
    _error(api.post(URL, body(), format="json"), 422, "member_not_active")
    assert _counts() == before


def test_too_many_requests_are_429(api, member, review):
    with override_settings(API_RATE_LIMIT="2/min"):
        assert api.post(URL, body("rev-1"), format="json").status_code == 201
        assert api.post(URL, body("rev-2"), format="json").status_code == 201
        response = api.post(URL, body("rev-3"), format="json")
    _error(response, 429, "throttled")
    assert response.headers["Retry-After"]
    assert not MemberEvent.objects.filter(external_id="rev-3").exists()


# --- cost -------------------------------------------------------------------------------------------


def test_the_query_count_is_pinned(api, member, review, django_assert_num_queries):
    program_get()
    api.get("/api/v1/shop")  # the key's last-used time is written once; not part of the event's cost
    # key, customer, replay check, event rules, savepoint, account lock, replay check, program, limit count,
    # event, then points_earn (savepoint, account lock with the member, key check, program, lot, entry,
    # movement, account, release; lot to account in one statement on PostgreSQL), the awards, release, the
    # awards with their rules; and the action-bonus campaigns in force (rewards.services.campaigns: one query,
    # cached per process in production, loaded every time under the test settings).
    with django_assert_num_queries(20 if connection.vendor == "postgresql" else 23):
        assert api.post(URL, body("rev-1"), format="json").status_code == 201
    # A replay: key, customer, the event, the awards with their rules.
    with django_assert_num_queries(4):
        assert api.post(URL, body("rev-1"), format="json").status_code == 200


# --- at once (PostgreSQL) ---------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_copies_sent_at_once_make_one_event_and_one_earn():
    shop = shop_create(name="Race shop")
    _, plaintext = api_key_create(shop=shop, name="k", scopes=["write"])
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    EventRule.objects.create(name="Review", event="review_written", points=50)

    def work(_):
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=plaintext)
        response = client.post(URL, body(), format="json")
        return response.status_code, response.json()

    results = run_at_once(5, work)
    assert sorted(status for status, _ in results) == [200, 200, 200, 200, 201], results
    assert len({data["id"] for _, data in results}) == 1
    assert MemberEvent.objects.filter(event="review_written").count() == 1
    assert PointLot.objects.filter(source="event").count() == 1


# --- schema -----------------------------------------------------------------------------------------


def test_the_endpoint_is_documented_with_examples(db, tmp_path):
    import yaml
    from django.core.management import call_command

    path = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(path))
    operation = yaml.safe_load(path.read_text())["paths"]["/api/v1/events"]["post"]
    assert operation["security"] == [{"ApiKeyAuth": []}]
    assert {"200", "201", "400", "401", "403", "404", "409", "422", "429"} <= set(operation["responses"])
    assert operation["requestBody"]["content"]["application/json"]["examples"]
    assert operation["responses"]["201"]["content"]["application/json"]["examples"]
