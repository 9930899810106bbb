"""The member endpoints of API v1, end to end: POST/GET /members, GET /members/{id}, its activity and
adjustments; keys, scopes, the shop boundary, errors, idempotency, query counts."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.tests.concurrency import run_at_once
from integrations.models import ShopCustomer
from integrations.services.members import member_upsert
from integrations.services.shops import api_key_create, shop_create
from integrations.tests.helpers import api_client
from members.models import Member, User
from members.services import member_close
from members.tests.factories import member_create
from rewards.models import PointEntry, PointLot
from rewards.selectors import program_get
from rewards.services.ledger import Actor, points_earn

URL = "/api/v1/members"


@pytest.fixture
def api(shop, make_key):
    """An APIClient with a read+write+adjust key of `shop`."""
    _, plaintext = make_key(shop, "read", "write", "adjust")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=plaintext)
    return client


def _earn(member, points, *, key, expires_at=None, available_at=None):
    entry = points_earn(
        account=member.points_account,
        points=points,
        source=PointLot.Source.ORDER,
        actor=Actor.shop("t"),
        idempotency_key=key,
        available_at=available_at,
        reason=f"Order {key}",
    )
    if expires_at is not None:
        PointLot.objects.filter(entries=entry).update(expires_at=expires_at)
    return entry


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    return body["error"]


# --- POST /members --------------------------------------------------------------------------------


def test_post_creates_a_member(api, shop):
    body = {
        "external_id": "cust-1",
        "email": "Ana@Example.com",
        "first_name": "Ana",
        "last_name": "Jansen",
        "birthday": "1990-05-17",
        "marketing_consent": True,
        "referral_code": "FRIEND",
    }
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    member = Member.objects.get()
    assert response.json() == {
        "id": str(member.public_id),
        "external_id": "cust-1",
        "email": "ana@example.com",
        "first_name": "Ana",
        "last_name": "Jansen",
        "points": {"available": 0, "pending": 0},
        "tier": None,
        "referral": None,  # the referral program is off: the code is ignored (referrals/tests/test_api.py)
    }
    assert member.joined_via == "Webshop NL" and member.birthday == dt.date(1990, 5, 17)


def test_post_again_answers_200_with_the_same_member(api):
    first = api.post(URL, {"external_id": "cust-1", "email": "ana@example.com"}, format="json").json()
    response = api.post(URL, {"external_id": "cust-1", "first_name": "Ana"}, format="json")
    assert response.status_code == 200
    assert response.json()["id"] == first["id"] and response.json()["first_name"] == "Ana"
    assert Member.objects.count() == 1


def test_post_shows_points(api, shop):
    member, _ = member_upsert(shop=shop, email="ana@example.com")
    _earn(member, 40, key="o1")
    _earn(member, 15, key="o2", available_at=timezone.now() + dt.timedelta(days=14))
    response = api.post(URL, {"email": "ana@example.com"}, format="json")
    assert response.status_code == 200
    assert response.json()["points"] == {"available": 40, "pending": 15}
    assert response.json()["external_id"] is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"first_name": "Ana"},
        {"external_id": None, "email": None},
        {"email": "not-an-email"},
        {"external_id": ""},
        {"external_id": "x" * 201},
        {"email": "a@example.com", "birthday": "17-05-1990"},
        {"email": "a@example.com", "birthday": "2999-01-01"},
        {"email": "a@example.com", "marketing_consent": "perhaps"},
        {"email": "a@example.com", "first_name": ["Ana"]},
        {"email": "a@example.com", "first_name": "A\x00na"},
    ],
)
def test_post_malformed_is_400_and_writes_nothing(api, body):
    _error(api.post(URL, body, format="json"), 400, "validation_error")
    assert not Member.objects.exists() and not User.objects.exists()


def test_post_not_json_is_400(api):
    response = api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400 and "error" in response.json()


def test_post_unknown_external_id_alone_is_422(api):
    _error(api.post(URL, {"external_id": "cust-1"}, format="json"), 422, "email_required")


def test_post_identity_conflict_is_409(api, shop):
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    member_upsert(shop=shop, external_id="cust-2", email="piet@example.com")
    error = _error(
        api.post(URL, {"external_id": "cust-1", "email": "piet@example.com"}, format="json"), 409, "identity_conflict"
    )
    assert error["details"] == {"external_id": "cust-1", "email": "piet@example.com"}


def test_post_closed_member_is_422(api, shop):
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    member_close(member=member, actor=Actor.system("t"))
    _error(api.post(URL, {"external_id": "cust-1"}, format="json"), 422, "member_closed")


def test_post_needs_a_key_and_the_write_scope(shop):
    _error(APIClient().post(URL, {"email": "a@example.com"}, format="json"), 401, "not_authenticated")
    _error(
        api_client(shop, "read", "adjust").post(URL, {"email": "a@example.com"}, format="json"),
        403,
        "insufficient_scope",
    )
    assert not Member.objects.exists()


# --- GET /members/{id} and GET /members?... ----------------------------------------------------------


@pytest.fixture
def ana(shop):
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com", first_name="Ana")
    return member


def test_get_member_shows_what_a_shop_shows_a_shopper(api, ana):
    soon = timezone.now() + dt.timedelta(days=10)
    later = timezone.now() + dt.timedelta(days=40)
    _earn(ana, 30, key="o1", expires_at=soon)
    _earn(ana, 20, key="o2", expires_at=soon)
    _earn(ana, 5, key="o3", expires_at=later)
    _earn(ana, 100, key="o4")  # no expiry
    _earn(ana, 7, key="o5", available_at=timezone.now() + dt.timedelta(days=14))
    response = api.get(f"{URL}/{ana.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["points"]["available"] == 155 and body["points"]["pending"] == 7
    assert [(e["points"], dt.datetime.fromisoformat(e["expires_at"])) for e in body["points"]["expiring"]] == [
        (50, soon),
        (5, later),
    ]
    assert body["lifetime"] == {"earned": 162, "redeemed": 0, "expired": 0}
    assert body["member_number"] == ana.number and body["status"] == "active"
    assert body["tier"] is None and body["tier_progress"] is None
    assert body["external_id"] == "cust-1" and body["email"] == "ana@example.com"


def test_get_member_lists_at_most_three_expiry_dates(api, ana):
    for days in range(1, 6):
        _earn(ana, days, key=f"o{days}", expires_at=timezone.now() + dt.timedelta(days=days))
    assert [e["points"] for e in api.get(f"{URL}/{ana.public_id}").json()["points"]["expiring"]] == [1, 2, 3]


def test_get_member_under_the_inactivity_policy_shows_all_points_at_one_date(api, ana):
    program = program_get()
    program.expiry_policy, program.expiry_period = "inactivity", 12
    program.save()
    _earn(ana, 30, key="o1")
    (expiring,) = api.get(f"{URL}/{ana.public_id}").json()["points"]["expiring"]
    assert expiring["points"] == 30


def test_get_member_query_count_is_fixed(api, ana, django_assert_num_queries):
    for i in range(5):
        _earn(ana, 10, key=f"o{i}", expires_at=timezone.now() + dt.timedelta(days=i + 1))
    api.get(f"{URL}/{ana.public_id}")  # the key's last-used time is written once a minute
    # key, link with member/user/account, program, grouped expiring lots, and the tiers (rewards.services.tiers:
    # cached per process in production, loaded every time under the test settings; with tiers defined, one
    # more for the member's tier progress: integrations/tests/test_tiers_api.py), and the referral program
    # (likewise cached per process; while it is off nothing more is read: referrals/tests/test_api.py)
    with django_assert_num_queries(6):
        assert api.get(f"{URL}/{ana.public_id}").status_code == 200
    with django_assert_num_queries(6):
        assert api.get(URL, {"external_id": "cust-1"}).status_code == 200


def test_lookup_by_external_id_or_email(api, ana):
    by_id = api.get(f"{URL}/{ana.public_id}").json()
    assert api.get(URL, {"external_id": "cust-1"}).json() == by_id
    assert api.get(URL, {"email": "ANA@example.com"}).json() == by_id


@pytest.mark.parametrize("query", [{}, {"external_id": "cust-1", "email": "ana@example.com"}, {"email": "nope"}])
def test_lookup_needs_exactly_one_valid_key(api, ana, query):
    _error(api.get(URL, query), 400, "validation_error")


def test_unknown_member_is_404(api, ana):
    _error(api.get(f"{URL}/{uuid.uuid4()}"), 404, "not_found")
    _error(api.get(URL, {"external_id": "cust-2"}), 404, "not_found")
    _error(api.get(URL, {"email": "piet@example.com"}), 404, "not_found")
    assert api.get(f"{URL}/not-a-uuid").status_code == 404


def test_another_shops_customer_is_404_everywhere(ana, api):
    other = shop_create(name="Partner cafe", kind="partner")
    client = api_client(other, "read", "write", "adjust")
    _error(client.get(f"{URL}/{ana.public_id}"), 404, "not_found")
    _error(client.get(URL, {"external_id": "cust-1"}), 404, "not_found")
    _error(client.get(URL, {"email": "ana@example.com"}), 404, "not_found")
    _error(client.get(f"{URL}/{ana.public_id}/activity"), 404, "not_found")
    body = {"points": 5, "reason": "x", "idempotency_key": "k1"}
    _error(client.post(f"{URL}/{ana.public_id}/adjustments", body, format="json"), 404, "not_found")
    assert not PointEntry.objects.filter(kind="adjust").exists()


def test_a_web_member_is_visible_only_after_the_shop_registers_them(api, shop):
    web = member_create(email="web@example.com")
    _error(api.get(f"{URL}/{web.public_id}"), 404, "not_found")
    _error(api.get(URL, {"email": "web@example.com"}), 404, "not_found")
    assert api.post(URL, {"email": "web@example.com"}, format="json").status_code == 200
    assert api.get(URL, {"email": "web@example.com"}).json()["id"] == str(web.public_id)


def test_get_needs_a_key_and_the_read_scope(shop, ana):
    _error(APIClient().get(f"{URL}/{ana.public_id}"), 401, "not_authenticated")
    _error(APIClient().get(f"{URL}/{ana.public_id}", HTTP_X_API_KEY="lk_live_nope"), 401, "invalid_api_key")
    write_only = api_client(shop, "write", "adjust")
    _error(write_only.get(f"{URL}/{ana.public_id}"), 403, "insufficient_scope")
    _error(write_only.get(URL, {"external_id": "cust-1"}), 403, "insufficient_scope")
    _error(write_only.get(f"{URL}/{ana.public_id}/activity"), 403, "insufficient_scope")


# --- activity --------------------------------------------------------------------------------------


def test_activity_is_newest_first_and_paginated(api, ana):
    for i in range(5):
        _earn(ana, i + 1, key=f"o{i}")
    response = api.get(f"{URL}/{ana.public_id}/activity", {"page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5 and body["next"] and body["previous"] is None
    first = body["results"][0]
    entry = PointEntry.objects.get(public_id=first["id"])
    assert first == {
        "id": str(entry.public_id),
        "kind": "earn",
        "points": 5,
        "available_change": 5,
        "pending_change": 0,
        "reason": "Order o4",
        "created_at": first["created_at"],
    }
    assert [e["points"] for e in body["results"]] == [5, 4]
    page3 = api.get(f"{URL}/{ana.public_id}/activity", {"page_size": 2, "page": 3}).json()
    assert [e["points"] for e in page3["results"]] == [1]
    _error(api.get(f"{URL}/{ana.public_id}/activity", {"page": 9}), 404, "not_found")


def test_activity_query_count_does_not_grow(api, ana, django_assert_num_queries):
    for i in range(30):
        _earn(ana, 1, key=f"o{i}")
    api.get(f"{URL}/{ana.public_id}/activity")
    # key, link with member and account, count, page
    with django_assert_num_queries(4):
        assert len(api.get(f"{URL}/{ana.public_id}/activity").json()["results"]) == 30


# --- adjustments -----------------------------------------------------------------------------------


def _adjust_url(member):
    return f"{URL}/{member.public_id}/adjustments"


def test_adjustment_adds_points(api, ana, shop):
    response = api.post(
        _adjust_url(ana), {"points": 50, "reason": "Late parcel", "idempotency_key": "t-1"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["points"], body["available_change"], body["reason"]) == ("adjust", 50, 50, "Late parcel")
    entry = PointEntry.objects.get(public_id=body["id"])
    assert (entry.actor_kind, entry.actor_ref) == ("shop", str(shop.public_id))
    assert api.get(f"{URL}/{ana.public_id}").json()["points"]["available"] == 50


def test_adjustment_key_in_the_header_and_replays(api, ana):
    _earn(ana, 30, key="o1")
    body = {"points": -20, "reason": "Returned gift"}
    first = api.post(_adjust_url(ana), body, format="json", HTTP_IDEMPOTENCY_KEY="t-2")
    assert first.status_code == 201 and first.json()["available_change"] == -20
    again = api.post(_adjust_url(ana), body, format="json", HTTP_IDEMPOTENCY_KEY="t-2")
    assert again.status_code == 201 and again.json() == first.json()
    same_in_body = api.post(_adjust_url(ana), {**body, "idempotency_key": "t-2"}, format="json")
    assert same_in_body.json() == first.json()
    assert PointEntry.objects.filter(kind="adjust").count() == 1
    ana.points_account.refresh_from_db()
    assert ana.points_account.available == 10


def test_adjustment_key_reused_with_another_body_is_409(api, ana):
    api.post(_adjust_url(ana), {"points": 5, "reason": "A", "idempotency_key": "k"}, format="json")
    other_points = _error(
        api.post(_adjust_url(ana), {"points": 6, "reason": "A", "idempotency_key": "k"}, format="json"),
        409,
        "idempotency_conflict",
    )
    other_reason = _error(
        api.post(_adjust_url(ana), {"points": 5, "reason": "B", "idempotency_key": "k"}, format="json"),
        409,
        "idempotency_conflict",
    )
    # The key as the shop sent it, never as the ledger stores it ("shop:<uuid>:adjust:k").
    assert other_points["details"] == other_reason["details"] == {"idempotency_key": "k"}
    assert PointEntry.objects.filter(kind="adjust").count() == 1


def test_adjustment_keys_are_per_shop(api, ana, shop):
    other = shop_create(name="Store Utrecht", kind="store")
    member_upsert(shop=other, email="ana@example.com")
    client = api_client(other, "adjust")
    body = {"points": 5, "reason": "A", "idempotency_key": "k"}
    assert api.post(_adjust_url(ana), body, format="json").status_code == 201
    assert client.post(_adjust_url(ana), {**body, "points": 7}, format="json").status_code == 201
    assert PointEntry.objects.filter(kind="adjust").count() == 2


def test_adjustment_beyond_the_balance_is_422(api, ana):
    _earn(ana, 10, key="o1")
    error = _error(
        api.post(_adjust_url(ana), {"points": -11, "reason": "x", "idempotency_key": "k"}, format="json"),
        422,
        "insufficient_points",
    )
    assert error["details"] == {"available": 10, "requested": 11}
    assert not PointEntry.objects.filter(kind="adjust").exists()


def test_adjustment_of_a_closed_member_is_422(api, ana):
    member_close(member=ana, actor=Actor.system("t"))
    _error(
        api.post(_adjust_url(ana), {"points": 5, "reason": "x", "idempotency_key": "k"}, format="json"),
        422,
        "member_not_active",
    )


@pytest.mark.parametrize(
    ("body", "header"),
    [
        ({"points": 5, "reason": "x"}, None),  # no key at all
        ({"points": 0, "reason": "x", "idempotency_key": "k"}, None),
        ({"points": 5, "reason": "", "idempotency_key": "k"}, None),
        ({"points": 5, "reason": "   ", "idempotency_key": "k"}, None),
        ({"points": 5, "idempotency_key": "k"}, None),
        ({"points": "5x", "reason": "x", "idempotency_key": "k"}, None),
        ({"points": 1.5, "reason": "x", "idempotency_key": "k"}, None),
        ({"points": True, "reason": "x", "idempotency_key": "k"}, None),
        ({"points": 10**12, "reason": "x", "idempotency_key": "k"}, None),
        ({"points": 5, "reason": "x" * 501, "idempotency_key": "k"}, None),
        ({"points": 5, "reason": "x", "idempotency_key": "k" * 129}, None),
        ({"points": 5, "reason": "x", "idempotency_key": "a"}, "b"),  # body and header differ
        ({"points": 5, "reason": "x"}, "k" * 129),
    ],
)
def test_adjustment_malformed_is_400_and_writes_nothing(api, ana, body, header):
    extra = {"HTTP_IDEMPOTENCY_KEY": header} if header else {}
    _error(api.post(_adjust_url(ana), body, format="json", **extra), 400, "validation_error")
    assert not PointEntry.objects.filter(kind="adjust").exists()


def test_adjustment_needs_the_adjust_scope(shop, ana):
    client = api_client(shop, "read", "write")
    _error(
        client.post(_adjust_url(ana), {"points": 5, "reason": "x", "idempotency_key": "k"}, format="json"),
        403,
        "insufficient_scope",
    )
    _error(APIClient().post(_adjust_url(ana), {}, format="json"), 401, "not_authenticated")


def test_adjustment_of_an_unknown_member_is_404(api):
    _error(
        api.post(
            f"{URL}/{uuid.uuid4()}/adjustments", {"points": 5, "reason": "x", "idempotency_key": "k"}, format="json"
        ),
        404,
        "not_found",
    )


# --- concurrency (PostgreSQL) -------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_identical_posts_at_once_answer_one_201_and_make_one_member():
    shop = shop_create(name="Race shop")
    _, plaintext = api_key_create(shop=shop, name="k", scopes=["write"])
    body = {"external_id": "c-1", "email": "race@example.com", "first_name": "Ana"}
    results = run_at_once(5, lambda _: APIClient().post(URL, body, format="json", HTTP_X_API_KEY=plaintext))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 200, 200, 200, 201], [r.content for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    assert Member.objects.count() == 1 and ShopCustomer.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_identical_adjustments_at_once_make_one_entry():
    shop = shop_create(name="Race shop")
    _, plaintext = api_key_create(shop=shop, name="k", scopes=["adjust"])
    member, _ = member_upsert(shop=shop, email="race@example.com")
    body = {"points": 25, "reason": "Goodwill", "idempotency_key": "t-1"}
    url = _adjust_url(member)
    results = run_at_once(5, lambda _: APIClient().post(url, body, format="json", HTTP_X_API_KEY=plaintext))
    assert [r.status_code for r in results] == [201] * 5, [r.content for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    assert PointEntry.objects.filter(kind="adjust").count() == 1
    member.points_account.refresh_from_db()
    assert member.points_account.available == 25
