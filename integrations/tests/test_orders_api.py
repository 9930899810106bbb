"""The order endpoints of API v1, end to end: POST /orders, /orders/simulate, /orders/{id}/refunds and
/orders/{id}/cancel; keys, scopes, the shop boundary, each error class, idempotent replays, query counts."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import Order, Refund, ShopCustomer
from integrations.services.shops import shop_create
from integrations.tests.helpers import api_client
from rewards.models import EarningRule, PointEntry, PointLot
from rewards.selectors import ledger_audit, program_get

URL = "/api/v1/orders"


@pytest.fixture(autouse=True)
def _audit(db):
    yield
    assert ledger_audit() == []


PLACED_AT = "2026-11-01T10:00:00+01:00"


def body(external_id="o-1", **overrides):
    data = {
        "external_id": external_id,
        "member_external_id": "cust-1",
        "currency": "EUR",
        "total": "125.00",
        "subtotal": "100.00",
        "tax": "21.00",
        "shipping": "4.00",
        "discount": "0.00",
        "placed_at": PLACED_AT,
        "lines": [
            {"sku": "A", "name": "Shoes", "category": "shoes", "quantity": 2, "unit_price": "25.00", "total": "50.00"},
            {"sku": "B", "name": "Socks", "category": "socks", "quantity": 3, "unit_price": "10.00", "total": "30.00"},
            {
                "sku": "GC",
                "name": "Gift card",
                "category": "gift card",
                "quantity": 1,
                "unit_price": "20.00",
                "total": "20.00",
            },
        ],
        "coupon_codes": ["WELCOME"],
    }
    data.update(overrides)
    return data


def _error(response, status, code):
    assert response.status_code == status, response.content
    payload = response.json()
    assert set(payload) == {"error"} and payload["error"]["code"] == code, payload
    return payload["error"]


def _counts():
    return (
        Order.objects.count(),
        Refund.objects.count(),
        PointEntry.objects.count(),
        PointLot.objects.count(),
        ShopCustomer.objects.count(),
    )


# --- POST /orders ---------------------------------------------------------------------------------


def test_post_order_earns_points(api, member, rules):
    response = api.post(URL, body(), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    order = Order.objects.get()
    assert data["id"] == str(order.public_id) and data["external_id"] == "o-1"
    assert data["status"] == "awarded" and data["member_id"] == str(member.public_id)
    assert data["points"] == 80 and data["points_status"] == "available" and data["points_reversed"] == 0
    assert data["available_at"] is not None and data["currency"] == "EUR" and data["total"] == "125.00"
    assert [line["points"] for line in data["lines"]] == [50, 30, 0]
    assert data["lines"][0]["rules"] == [
        {"source": "rule", "ref": str(rules.public_id), "name": "Base rate", "kind": "base_rate", "points": 50}
    ]
    assert data["lines"][2]["excluded_by"] == "Gift cards never earn" and data["notes"] == []
    member.points_account.refresh_from_db()
    assert member.points_account.available == 80


def test_post_order_pending_by_the_programs_return_window(api, member, rules):
    program = program_get()
    program.pending_days = 14
    program.save()
    placed = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
    data = api.post(URL, body(placed_at=placed.isoformat()), format="json").json()
    assert data["points_status"] == "pending" and data["points"] == 80
    assert dt.datetime.fromisoformat(data["available_at"]) == placed + dt.timedelta(days=14)


def test_post_order_for_an_unknown_customer_is_kept_unmatched(api, rules):
    response = api.post(URL, body(member_external_id="nobody"), format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "unmatched" and data["points"] == 0 and data["points_status"] == "none"
    assert data["member_id"] is None and data["available_at"] is None
    assert not PointEntry.objects.exists()


def test_post_order_in_a_currency_without_rules_earns_nothing(api, member, rules):
    data = api.post(URL, body(currency="GBP"), format="json").json()
    assert data["points"] == 0 and data["points_status"] == "none"
    assert data["notes"][0]["code"] == "no_rule_for_currency"


def test_post_order_again_answers_200_with_the_first_result(api, member, rules):
    first = api.post(URL, body(), format="json")
    EarningRule.objects.update(points=3)
    again = api.post(URL, body(), format="json")
    assert again.status_code == 200 and again.json() == first.json()
    assert Order.objects.count() == 1 and PointEntry.objects.count() == 1


def test_post_order_reusing_the_id_with_another_body_is_409(api, member, rules):
    api.post(URL, body(), format="json")
    error = _error(api.post(URL, body(total="130.00"), format="json"), 409, "idempotency_conflict")
    assert error["details"] == {"external_id": "o-1"}
    assert PointEntry.objects.count() == 1


def test_post_order_for_an_unknown_member_id_is_422(api, rules):
    payload = body(member_external_id=None, member_id="3b9d8f2e-7c41-4a6b-9e1f-0a2b3c4d5e6f")
    _error(api.post(URL, payload, format="json"), 422, "unknown_member")
    assert not Order.objects.exists()


def test_post_order_without_a_key_is_401(member, rules):
    _error(APIClient().post(URL, body(), format="json"), 401, "not_authenticated")
    assert not Order.objects.exists()


def test_post_order_with_a_read_only_key_is_403(shop, member, rules):
    _error(api_client(shop, "read").post(URL, body(), format="json"), 403, "insufficient_scope")
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"external_id": ""},
        {"external_id": "x" * 151},
        {"member_external_id": None},  # no customer at all
        {"currency": "EURO"},
        {"total": "-1.00"},
        {"total": "1.001"},
        {"total": "NaN"},
        {"tax": "abc"},
        {"placed_at": "yesterday"},
        {"placed_at": "1999-12-31T23:00:00Z"},
        {"placed_at": "2999-01-01T00:00:00Z"},
        {"lines": [{"sku": "A"}]},
        {"lines": [{"sku": "A", "quantity": -1, "total": "1.00"}]},
        {"lines": "A"},
        {"lines": [{"sku": "A\x00", "quantity": 1, "total": "1.00"}]},
        {"coupon_codes": "WELCOME"},
        {"email": "not-an-email"},
        {"member_id": "not-a-uuid"},
    ],
)
def test_post_malformed_order_is_400_and_writes_nothing(api, member, rules, change):
    before = _counts()
    _error(api.post(URL, body(**change), format="json"), 400, "validation_error")
    assert _counts() == before


def test_post_order_earning_absurdly_many_points_is_422_and_writes_nothing(api, member, rules):
    before = _counts()
    payload = body(total="999999999999.99", subtotal="999999999999.99", tax="0", shipping="0", lines=[])
    error = _error(api.post(URL, payload, format="json"), 422, "order_points_too_large")
    assert error["details"] == {"points": 999999999999, "max": 10_000_000}
    assert _counts() == before


def test_post_order_not_json_is_400(api):
    response = api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400 and "error" in response.json()


@pytest.fixture
def process_caches(settings):
    """The per-process caches on, as in production (the test settings turn them off), and empty around the test."""
    from referrals.selectors import _rules as referral_rules
    from rewards.selectors import _active_earning_rules
    from webhooks.services import _shops_without_endpoints

    settings.CONFIG_CACHE_SECONDS = 60
    for cache in (_active_earning_rules, _shops_without_endpoints, referral_rules):
        cache.clear()
    yield
    for cache in (_active_earning_rules, _shops_without_endpoints, referral_rules):
        cache.clear()


def test_post_order_query_count_is_pinned(api, member, rules, process_caches, django_assert_num_queries):
    program_get()
    api.get("/api/v1/shop")  # the key's last-used time is written once; not part of the order's cost
    # The member's first order also loads the rules and learns the shop has no webhook endpoints (both kept
    # for CONFIG_CACHE_SECONDS), and records the first_purchase event.
    assert api.post(URL, body("o-0"), format="json").status_code == 201
    # key, customer (with whether the first_purchase event is recorded), savepoint, order, then points_earn
    # (account lock with the member, lot, entry, movement, account: one statement on PostgreSQL), the order's
    # lot (SQLite only: on PostgreSQL the order is inserted naming its lot, an id from the lots' sequence, so
    # one query fewer), release. The program is kept like the rules.
    with django_assert_num_queries(7 if connection.vendor == "postgresql" else 11):
        response = api.post(URL, body(), format="json")
    assert response.status_code == 201
    # A replay: key, customer, savepoint, the refused insert, rollback and release, the first order.
    with django_assert_num_queries(7):
        again = api.post(URL, body(), format="json")
    assert again.status_code == 200 and again.json() == response.json()


def test_post_order_replayed_answers_the_first_result_even_when_it_would_now_be_refused(api, member, rules):
    first = api.post(URL, body(), format="json").json()
    EarningRule.objects.update(points=200_000)  # today the order would earn more than one order may
    again = api.post(URL, body(), format="json")
    assert again.status_code == 200 and again.json() == first
    # Another body under the same id is still the 409, not the 422 its own member_id would give.
    other = body(member_external_id=None, member_id="3b9d8f2e-7c41-4a6b-9e1f-0a2b3c4d5e6f")
    _error(api.post(URL, other, format="json"), 409, "idempotency_conflict")


def test_a_rule_saved_in_this_process_applies_to_the_next_order_at_once(api, member, rules, process_caches):
    assert api.post(URL, body("o-1"), format="json").json()["points"] == 80
    rules.points = 2
    rules.save()
    assert api.post(URL, body("o-2"), format="json").json()["points"] == 160


def test_a_rule_changed_elsewhere_applies_within_the_cache_time(api, member, rules, process_caches, monkeypatch):
    import time

    assert api.post(URL, body("o-1"), format="json").json()["points"] == 80
    EarningRule.objects.filter(pk=rules.pk).update(points=2)  # no signal: as if saved by another process
    assert api.post(URL, body("o-2"), format="json").json()["points"] == 80
    later = time.monotonic() + 61
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert api.post(URL, body("o-3"), format="json").json()["points"] == 160


def test_an_endpoint_added_in_this_process_gets_the_next_orders_webhook(api, shop, member, rules, process_caches):
    from webhooks.models import WebhookDelivery
    from webhooks.services import endpoint_create

    api.post(URL, body("o-1"), format="json")  # the shop has no endpoint: remembered
    endpoint_create(shop=shop, url="https://hooks.example.com/loyalty", events=["order.points_awarded"])
    api.post(URL, body("o-2"), format="json")
    assert [d.payload["data"]["order"]["external_id"] for d in WebhookDelivery.objects.all()] == ["o-2"]


# --- refunds --------------------------------------------------------------------------------------


def refunds_url(external_id="o-1"):
    return f"{URL}/{external_id}/refunds"


def test_refund_by_lines_reverses_those_lines_points(api, member, rules):
    api.post(URL, body(), format="json")
    response = api.post(refunds_url(), {"external_id": "r-1", "lines": [{"sku": "A", "quantity": 1}]}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["points_reversed"] == 25 and data["order_points_left"] == 55
    assert data["external_id"] == "r-1" and data["order_external_id"] == "o-1" and data["amount"] is None
    assert data["lines"] == [{"sku": "A", "quantity": "1.000"}]
    again = api.post(refunds_url(), {"external_id": "r-1", "lines": [{"sku": "A", "quantity": "1"}]}, format="json")
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    member.points_account.refresh_from_db()
    assert member.points_account.available == 55


def test_refund_by_amount(api, member, rules):
    api.post(URL, body(), format="json")
    response = api.post(refunds_url(), {"external_id": "r-1", "amount": "62.50"}, format="json")
    assert response.status_code == 201 and response.json()["points_reversed"] == 40
    assert response.json()["amount"] == "62.50"


def test_refund_after_the_rules_changed_reverses_what_was_awarded(api, member, rules):
    api.post(URL, body(), format="json")
    EarningRule.objects.update(points=7, multiplier=3)
    payload = {"external_id": "r-1", "lines": [{"sku": "B", "quantity": 3}]}
    assert api.post(refunds_url(), payload, format="json").json()["points_reversed"] == 30


def test_refund_reusing_its_id_with_another_body_is_409(api, member, rules):
    api.post(URL, body(), format="json")
    api.post(refunds_url(), {"external_id": "r-1", "amount": "10.00"}, format="json")
    _error(
        api.post(refunds_url(), {"external_id": "r-1", "amount": "11.00"}, format="json"), 409, "idempotency_conflict"
    )


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"external_id": "r-1", "lines": [{"sku": "Z", "quantity": 1}]}, "refund_unknown_line"),
        ({"external_id": "r-1", "lines": [{"sku": "B", "quantity": 4}]}, "refund_exceeds_order"),
        ({"external_id": "r-1", "amount": "200.00"}, "refund_exceeds_order"),
    ],
)
def test_an_impossible_refund_is_422(api, member, rules, payload, code):
    api.post(URL, body(), format="json")
    before = _counts()
    _error(api.post(refunds_url(), payload, format="json"), 422, code)
    assert _counts() == before


@pytest.mark.parametrize(
    "payload",
    [
        {"amount": "1.00"},
        {"external_id": "r-1"},
        {"external_id": "r-1", "amount": "1.00", "lines": [{"sku": "A", "quantity": 1}]},
        {"external_id": "r-1", "amount": "0"},
        {"external_id": "r-1", "lines": []},
        {"external_id": "r-1", "lines": [{"sku": "A", "quantity": 0}]},
    ],
)
def test_a_malformed_refund_is_400(api, member, rules, payload):
    api.post(URL, body(), format="json")
    _error(api.post(refunds_url(), payload, format="json"), 400, "validation_error")
    assert not Refund.objects.exists()


def test_shop_a_cannot_refund_or_cancel_shop_bs_order(api, member, rules):
    api.post(URL, body(), format="json")
    other = api_client(shop_create(name="Shop B"), "read", "write")
    _error(other.post(refunds_url(), {"external_id": "r-1", "amount": "1.00"}, format="json"), 404, "not_found")
    _error(other.post(f"{URL}/o-1/cancel", format="json"), 404, "not_found")
    assert not Refund.objects.exists() and Order.objects.get().status == "awarded"


def test_refund_of_an_unknown_order_is_404(api, rules):
    _error(api.post(refunds_url("nope"), {"external_id": "r-1", "amount": "1.00"}, format="json"), 404, "not_found")


def test_a_read_only_key_cannot_refund_or_cancel(shop, api, member, rules):
    api.post(URL, body(), format="json")
    reader = api_client(shop, "read")
    _error(
        reader.post(refunds_url(), {"external_id": "r-1", "amount": "1.00"}, format="json"), 403, "insufficient_scope"
    )
    _error(reader.post(f"{URL}/o-1/cancel"), 403, "insufficient_scope")


def test_an_order_id_with_a_slash(api, member, rules):
    api.post(URL, body("2026/11/0042"), format="json")
    response = api.post(f"{URL}/2026%2F11%2F0042/refunds", {"external_id": "r-1", "amount": "12.50"}, format="json")
    assert response.status_code == 201 and response.json()["points_reversed"] == 8


# --- cancel ---------------------------------------------------------------------------------------


def test_cancel_reverses_everything_left_and_answers_the_same_again(api, member, rules):
    api.post(URL, body(), format="json")
    api.post(refunds_url(), {"external_id": "r-1", "lines": [{"sku": "A", "quantity": 2}]}, format="json")
    response = api.post(f"{URL}/o-1/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled" and response.json()["points_reversed"] == 80
    again = api.post(f"{URL}/o-1/cancel")
    assert again.status_code == 200 and again.json() == response.json()
    member.points_account.refresh_from_db()
    assert member.points_account.available == 0 and PointEntry.objects.filter(kind="reverse").count() == 2
    _error(api.post(refunds_url(), {"external_id": "r-2", "amount": "1.00"}, format="json"), 422, "order_cancelled")


def test_points_status_says_reversed_once_every_point_was_taken_back(api, member, rules):
    api.post(URL, body("o-1"), format="json")
    api.post(refunds_url("o-1"), {"external_id": "r-1", "amount": "50.00"}, format="json")
    partly = api.post(URL, body("o-1"), format="json").json()  # the replay answers the order as it is now
    assert partly["points_status"] == "available" and 0 < partly["points_reversed"] < 80
    assert api.post(f"{URL}/o-1/cancel").json()["points_status"] == "reversed"
    assert api.post(URL, body("o-1"), format="json").json()["points_status"] == "reversed"
    api.post(URL, body("o-2", member_external_id="nobody"), format="json")  # unmatched: never earned
    assert api.post(f"{URL}/o-2/cancel").json()["points_status"] == "none"


# --- simulate -------------------------------------------------------------------------------------


def test_simulate_says_what_it_would_earn_and_writes_nothing(shop, member, rules):
    program = program_get()
    program.pending_days = 14
    program.save()
    reader = api_client(shop, "read")
    reader.get("/api/v1/shop")
    before = _counts()
    payload = body(placed_at=timezone.now().isoformat())
    del payload["external_id"]
    response = reader.post(f"{URL}/simulate", payload, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["points"] == 80 and data["points_status"] == "pending" and data["matched"] is True
    assert data["member_id"] == str(member.public_id) and [x["points"] for x in data["lines"]] == [50, 30, 0]
    assert _counts() == before


def test_simulate_for_an_unknown_customer_earns_nothing_yet(api, rules):
    data = api.post(f"{URL}/simulate", body(email="new@example.com", member_external_id=None), format="json").json()
    assert data["matched"] is False and data["points"] == 0 and data["lines"][0]["points"] == 50
    assert not Order.objects.exists()


def test_simulate_for_a_closed_member_is_the_422_the_order_would_get(api, member, rules):
    from members.services import member_close
    from rewards.services.ledger import Actor

    member_close(member=member, actor=Actor.system("tests"))
    simulated = _error(api.post(f"{URL}/simulate", body(), format="json"), 422, "member_not_active")
    recorded = _error(api.post(URL, body(), format="json"), 422, "member_not_active")
    assert simulated == recorded
    # An order that earns nothing is recorded for a closed member too, and simulated alike.
    assert api.post(f"{URL}/simulate", body(currency="GBP"), format="json").json()["points"] == 0
    assert api.post(URL, body("o-2", currency="GBP"), format="json").status_code == 201


def test_simulate_malformed_is_400_and_without_a_key_401(api, rules):
    _error(api.post(f"{URL}/simulate", body(currency=None), format="json"), 400, "validation_error")
    _error(APIClient().post(f"{URL}/simulate", body(), format="json"), 401, "not_authenticated")


def test_the_answer_and_the_checked_body_are_the_serializers_own(api, member, rules, monkeypatch):
    """POST /orders checks the body and renders the answer without DRF's serializers where it can
    (integrations.apis.order_bodies): the same data for order_record, byte for byte the same answer."""
    from rest_framework.renderers import JSONRenderer

    from integrations.apis import orders as orders_api

    fast_body, fast_json = orders_api.order_body_fast, orders_api.order_result_json
    seen = []

    def body_both(data, *, placed_at_field):
        checked = fast_body(data, placed_at_field=placed_at_field)
        serializer = orders_api.OrderInputSerializer(data=data)
        assert serializer.is_valid() and serializer.validated_data == checked
        assert list(serializer.validated_data) == list(checked)
        seen.append("body")
        return checked

    def json_both(result, fields):
        data = fast_json(result, fields)
        render = JSONRenderer().render
        assert render(data) == render(orders_api.OrderOutputSerializer(result).data)
        seen.append("answer")
        return data

    monkeypatch.setattr(orders_api, "order_body_fast", body_both)
    monkeypatch.setattr(orders_api, "order_result_json", json_both)
    assert api.post(URL, body(), format="json").status_code == 201
    assert api.post(URL, body(), format="json").status_code == 200
    no_lines = body("o-2", lines=[], subtotal="10.00", total="10.00")
    assert api.post(URL, no_lines, format="json").status_code == 201
    unknown = body("o-3", member_external_id="nobody-yet")
    assert api.post(URL, unknown, format="json").json()["status"] == "unmatched"
    assert seen == ["body", "answer"] * 4
    # What the fast check cannot vouch for goes to the serializer, which words the error.
    error = _error(api.post(URL, body("o-4", total="lots"), format="json"), 400, "validation_error")
    assert "total" in error["details"]
