"""POST /api/v1/orders/batch and integrations.services.orders_batch: each order answered as POST /orders would
answer it (compared field by field with the single path), bad orders failing alone, the request's limits,
a constant number of queries, the ledger auditing clean, and copies racing on PostgreSQL."""

import datetime as dt
import json
import re
import uuid
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.exceptions import ApplicationError
from core.tests.concurrency import run_at_once
from integrations.models import Order, ShopCustomer
from integrations.services import orders_batch
from integrations.services.members import member_upsert
from integrations.services.orders import order_record
from integrations.services.orders_batch import orders_record_batch
from integrations.services.shops import shop_create
from integrations.tests.helpers import api_client
from members.models import Member, User
from members.services import member_close, member_signup
from referrals.selectors import referral_program_get
from rewards.models import (
    EarningRule,
    EventRule,
    MemberEvent,
    PointEntry,
    PointLot,
    PointMovement,
    PointsAccount,
    Program,
)
from rewards.selectors import ledger_audit, program_get
from rewards.services.events import event_first_purchase_record
from rewards.services.ledger import Actor, points_earn, points_redeem, points_reverse
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

URL = "/api/v1/orders/batch"
PLACED_AT = "2026-11-01T10:00:00+01:00"


@pytest.fixture(autouse=True)
def _audit(db):
    yield
    assert ledger_audit() == []


def body(external_id="o-1", **overrides):
    data = {
        "external_id": external_id,
        "member_external_id": "cust-1",
        "currency": "EUR",
        "total": "125.00",
        "subtotal": "100.00",
        "tax": "21.00",
        "shipping": "4.00",
        "placed_at": PLACED_AT,
        "lines": [
            {"sku": "A", "name": "Shoes", "category": "shoes", "quantity": 2, "unit_price": "25.00", "total": "50.00"},
            {"sku": "B", "name": "Socks", "category": "socks", "quantity": 3, "unit_price": "10.00", "total": "30.00"},
            {"sku": "GC", "category": "gift card", "quantity": 1, "unit_price": "20.00", "total": "20.00"},
        ],
        "coupon_codes": ["WELCOME"],
    }
    data.update(overrides)
    return data


def _counts():
    return (
        Order.objects.count(),
        PointEntry.objects.count(),
        PointLot.objects.count(),
        PointMovement.objects.count(),
        ShopCustomer.objects.count(),
        list(PointsAccount.objects.order_by("pk").values_list("available", "pending", "lifetime_earned")),
    )


def _error(response, status, code):
    assert response.status_code == status, response.content
    payload = response.json()
    assert set(payload) == {"error"} and payload["error"]["code"] == code, payload
    return payload["error"]


def _five_rules():
    """Five active EUR rules of every kind, plus one USD rule and one outside its window."""
    EarningRule.objects.all().delete()
    EarningRule.objects.create(name="Base rate", kind="base_rate", currency="EUR", points=1, amount=1)
    EarningRule.objects.create(name="Shoes x2", kind="multiplier", currency="EUR", categories=["shoes"], multiplier=2)
    EarningRule.objects.create(name="Socks +5 a pair", kind="fixed", currency="EUR", skus=["B"], points=5)
    EarningRule.objects.create(
        name="Gift cards never earn", kind="exclusion", currency="EUR", categories=["gift card"], priority=100
    )
    EarningRule.objects.create(
        name="Per line 1 per 10", kind="base_rate", currency="EUR", points=1, amount=10, scope="line", rounding="up"
    )
    EarningRule.objects.create(name="Dollars", kind="base_rate", currency="USD", points=1, amount=2)
    EarningRule.objects.create(
        name="Ended",
        kind="base_rate",
        currency="GBP",
        points=9,
        amount=1,
        ends_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    )


# --- the same answers as POST /orders ----------------------------------------------------------------


@pytest.fixture
def world(shop):
    """Members in every state the single path treats differently, and the program's pending and expiry."""
    _five_rules()
    program = program_get()
    program.pending_days = 14
    program.expiry_policy = Program.Expiry.DAYS
    program.expiry_period = 365
    program.reversal_policy = Program.ReversalPolicy.DEBT
    program.save()
    ana, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    piet, _ = member_upsert(shop=shop, external_id="cust-2", email="piet@example.com")
    suspended, _ = member_upsert(shop=shop, external_id="cust-3", email="sus@example.com")
    Member.objects.filter(pk=suspended.pk).update(status=Member.Status.SUSPENDED)
    closed, _ = member_upsert(shop=shop, external_id="cust-4", email="closed@example.com")
    member_close(member=closed, actor=Actor.system("test"))
    debtor, _ = member_upsert(shop=shop, external_id="cust-5", email="debt@example.com")
    account = debtor.points_account
    earn = points_earn(account=account, points=30, source="bonus", actor=Actor.system(), idempotency_key="d:earn")
    points_redeem(account=account, points=30, reason="spent", actor=Actor.system(), idempotency_key="d:spend")
    points_reverse(
        lot=PointLot.objects.get(public_id=earn.details["lot"]),
        reason="clawback",
        actor=Actor.system(),
        idempotency_key="d:rev",
    )
    account.refresh_from_db()
    assert account.debt == 30
    member_upsert(shop=shop_create(name="Other shop"), external_id="cust-1", email="other@example.com")
    EventRule.objects.create(name="First purchase bonus", event="first_purchase", points=50)
    member_signup(user=User(email="web.unconfirmed@example.com"), joined_via="web")
    confirmed = member_signup(user=User(email="web.confirmed@example.com"), joined_via="web")
    EmailAddress.objects.create(user=confirmed.user, email="web.confirmed@example.com", verified=True, primary=True)
    points_earn(account=piet.points_account, points=5, source="bonus", actor=Actor.system(), idempotency_key="p:earn")
    event_first_purchase_record(member=piet, shop=shop, occurred_at=timezone.now())  # bought before
    endpoint_create(shop=shop, url="https://hooks.example.com/loyalty", events=["order.points_awarded"])
    return {"ana": ana, "piet": piet, "debtor": debtor, "closed": closed}


def _mixed_orders(world) -> list[dict]:
    recent = (timezone.now() - dt.timedelta(days=2)).replace(microsecond=0).isoformat()
    ahead = (timezone.now() + dt.timedelta(hours=6)).replace(microsecond=0).isoformat()
    return [
        body("o-01"),
        body("o-02", placed_at=recent),  # still pending when recorded
        body("o-03", member_external_id=None, email="PIET@example.com"),
        body("o-04", member_external_id=None, member_id=str(world["ana"].public_id)),
        body("o-05", member_external_id="cust-2", total="10.00", subtotal="10.00", tax="0", shipping="0", lines=[]),
        body("o-06", member_external_id="cust-3"),  # suspended: still earns
        body("o-07", member_external_id="cust-5"),  # owes a debt: pays it off first
        body("o-08", member_external_id="cust-5", placed_at=recent),
        body("o-09", member_external_id="nobody", email="new@example.com"),  # unmatched
        body("o-10", member_external_id="nobody-else"),  # unmatched, no e-mail
        body("o-11", member_external_id="cust-4"),  # closed and would earn: 422
        body("o-12", member_external_id="cust-4", lines=[body()["lines"][2]], subtotal="20.00"),  # closed, 0 points
        body("o-13", member_external_id=None, member_id="0f3c9a1e-2b4d-4c6e-8a0b-1c2d3e4f5a6b"),  # unknown: 422
        body("o-14", currency="usd", total="99.00", subtotal="99.00", tax="0", shipping="0", lines=[]),
        body("o-15", currency="GBP"),  # no rule for the currency: 0 points
        body("o-16", total="99999999.00", subtotal="99999999.00", lines=[]),  # too many points: 422
        body("o-17", member_external_id="nobody", email="ana@example.com"),  # unknown customer id, known e-mail
        body("o-18", placed_at=ahead),  # a till's clock ahead: counts as placed now
        body("o-19", member_external_id=None, email="web.unconfirmed@example.com"),  # not trusted: unmatched
        body("o-20", member_external_id=None, email="Web.Confirmed@example.com"),
    ]


def _key(key: str) -> str:
    return "event:*" if key.startswith("event:") else key  # event entries' keys name the random event id


def _snapshot() -> dict:
    """Everything the two paths write, without the ids that differ between runs."""
    orders = {}
    for order in Order.objects.select_related("lot", "member__user").order_by("external_id"):
        lot = order.lot
        orders[order.external_id] = {
            "member": order.member.user.email if order.member else None,
            **{
                name: getattr(order, name)
                for name in (
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
                    "breakdown",
                    "points",
                    "points_reversed",
                    "status",
                    "fingerprint",
                )
            },
            "lot": None
            if lot is None
            else {
                name: getattr(lot, name)
                for name in (
                    "points",
                    "remaining",
                    "reversed_points",
                    "state",
                    "source",
                    "source_ref",
                    "earned_at",
                    "available_at",
                    "expires_at",
                    "value",
                    "value_currency",
                )
            },
        }
    accounts = {
        account.member.user.email: {
            name: getattr(account, name)
            for name in ("available", "pending", "debt", "lifetime_earned", "lifetime_redeemed", "last_activity_at")
        }
        for account in PointsAccount.objects.select_related("member__user")
    }
    entries = sorted(
        (
            e.account.member.user.email,
            e.kind,
            e.available_change,
            e.pending_change,
            e.debt_change,
            e.reason,
            e.actor_kind,
            e.actor_ref,
            _key(e.idempotency_key),
            e.details.get("requested"),
            e.created_at,
            tuple(e.movements.values_list("available_change", "pending_change")),
        )
        for e in PointEntry.objects.select_related("account__member__user")
    )
    events = sorted(
        (e.member.user.email, e.event, e.shop_id, e.occurred_at, e.status, e.points)
        for e in MemberEvent.objects.select_related("member__user")
    )
    webhooks = {}
    for delivery in WebhookDelivery.objects.filter(event="order.points_awarded"):
        data = delivery.payload["data"]
        del data["order"]["id"], data["balance"]  # the balance: after the batch, after each order singly
        webhooks[data["order"]["external_id"]] = data
    return {"orders": orders, "accounts": accounts, "entries": entries, "events": events, "webhooks": webhooks}


def _without_id(result: dict) -> dict:
    return {name: value for name, value in result.items() if name != "id"}


def test_a_batch_writes_and_answers_what_single_posts_do(api, world, monkeypatch):
    orders = _mixed_orders(world)
    # One clock for both runs, so that earned_at, available_at and expires_at compare equal.
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    with transaction.atomic():
        singles = [api.post("/api/v1/orders", order, format="json") for order in orders]
        single = _snapshot()
        transaction.set_rollback(True)
    assert Order.objects.count() == 0

    response = api.post(URL, {"orders": orders}, format="json")
    assert response.status_code == 200, response.content
    batch = response.json()
    assert _snapshot() == single

    statuses = [r.status_code for r in singles]
    assert [r["status"] for r in batch["results"]] == statuses
    assert statuses.count(201) == 17 and statuses.count(422) == 3
    assert (batch["created"], batch["replayed"], batch["failed"]) == (17, 0, 3)
    for i, (one, result) in enumerate(zip(singles, batch["results"], strict=True)):
        assert result["index"] == i and result["external_id"] == orders[i]["external_id"]
        if one.status_code == 201:
            assert result["error"] is None
            assert _without_id(result["order"]) == _without_id(one.json())
        else:
            assert result["order"] is None and result["error"] == one.json()["error"]
    # What the mix was meant to cover did happen.
    by_id = {o.external_id: o for o in Order.objects.select_related("lot")}
    assert by_id["o-02"].lot.state == "pending" and by_id["o-01"].lot.state == "available"
    assert by_id["o-09"].status == "unmatched" and by_id["o-12"].points == 0 and "o-11" not in by_id
    assert by_id["o-19"].status == "unmatched" and by_id["o-20"].status == "awarded"
    assert PointEntry.objects.filter(kind="settle").exists()
    assert by_id["o-14"].points > 0 and by_id["o-15"].breakdown["notes"][0]["code"] == "no_rule_for_currency"
    assert MemberEvent.objects.filter(event="first_purchase", status="awarded").count() == 5  # piet before
    assert len(single["webhooks"]) == 12  # the 17 created less 3 unmatched and 2 with no points
    # The webhook's balance is the member's once the batch's orders are in (before the first purchase bonus,
    # which comes after the webhook singly too).
    ana = world["ana"].points_account
    ana.refresh_from_db()
    assert {
        d.payload["data"]["balance"]["available"]
        for d in WebhookDelivery.objects.all()
        if d.payload["data"]["member"]["id"] == str(world["ana"].public_id)
    } == {ana.available - 50}


def test_the_answer_is_what_the_output_serializer_renders(api, world, monkeypatch):
    """The view builds its answer without OrderBatchOutputSerializer: byte for byte what the serializer gives,
    for created, replayed, refused and malformed orders."""
    from rest_framework.renderers import JSONRenderer

    from integrations.apis import orders_batch as batch_api

    built = batch_api._batch_json
    compared = []

    def both(payload):
        data = built(payload)
        render = JSONRenderer().render
        assert render(data) == render(batch_api.OrderBatchOutputSerializer(payload).data)
        compared.append(len(data["results"]))
        return data

    monkeypatch.setattr(batch_api, "_batch_json", both)
    orders = _mixed_orders(world)
    bad = [body("x-1", total="lots", lines=[{"sku": "", "quantity": -1, "total": "1.001"}]), "not an order"]
    assert api.post(URL, {"orders": orders + bad}, format="json").status_code == 200
    assert api.post(URL, {"orders": orders[:3] + [body("o-21")]}, format="json").status_code == 200  # replays
    assert compared == [len(orders) + 2, 4]


def test_replays_and_conflicts_as_post_orders(api, member, rules):
    first = api.post("/api/v1/orders", body("o-1"), format="json").json()
    api.post(URL, {"orders": [body("o-2")]}, format="json")
    before = _counts()
    response = api.post(
        URL, {"orders": [body("o-1"), body("o-2"), body("o-3", total="1.00"), body("o-2x")]}, format="json"
    )
    data = response.json()
    assert [r["status"] for r in data["results"]] == [200, 200, 201, 201]
    assert data["results"][0]["order"] == first
    assert (data["created"], data["replayed"], data["failed"]) == (2, 2, 0)
    assert Order.objects.count() == before[0] + 2

    conflict = api.post(URL, {"orders": [body("o-1", total="1.00"), body("o-4")]}, format="json").json()
    assert [r["status"] for r in conflict["results"]] == [409, 201]
    assert conflict["results"][0]["error"]["code"] == "idempotency_conflict"
    assert conflict["results"][0]["error"]["details"] == {"external_id": "o-1"}
    # A batch's order replayed through POST /orders: one earn per order, whichever path came first.
    again = api.post("/api/v1/orders", body("o-4"), format="json")
    assert again.status_code == 200 and again.json() == conflict["results"][1]["order"]
    assert PointEntry.objects.filter(idempotency_key__endswith=":o-4").count() == 1


def test_a_bad_order_fails_alone(api, member, rules):
    bad = [
        body("o-2", total="lots"),
        "not an order",
        body("o-3", placed_at="1999-01-01T00:00:00Z"),
        {"external_id": 7},
        body("o-5", member_external_id=None),
    ]
    response = api.post(URL, {"orders": [body("o-1"), *bad, body("o-6")]}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert [r["status"] for r in data["results"]] == [201, 400, 400, 400, 400, 400, 201]
    assert (data["created"], data["replayed"], data["failed"]) == (2, 0, 5)
    errors = [r["error"] for r in data["results"][1:6]]
    assert {e["code"] for e in errors} == {"validation_error"}
    assert "total" in errors[0]["details"] and "non_field_errors" in errors[1]["details"]
    assert [r["external_id"] for r in data["results"]] == ["o-1", "o-2", None, "o-3", None, "o-5", "o-6"]
    assert set(Order.objects.values_list("external_id", flat=True)) == {"o-1", "o-6"}
    member.points_account.refresh_from_db()
    assert member.points_account.available == 160


def test_a_bad_order_gets_the_errors_post_orders_gives(api, member, rules):
    bad = [
        body("o-1", total="lots", lines=[{"sku": "", "quantity": -1, "total": "1.001"}]),
        body("o-2", member_external_id=None),
        body("o-3", currency="EURO", placed_at="yesterday", coupon_codes="x"),
        {"external_id": ["o-4"]},
        "not an order",
        [body("o-5")],
    ]
    singles = [api.post("/api/v1/orders", order, format="json") for order in bad]
    batch = api.post(URL, {"orders": bad}, format="json").json()["results"]
    assert [r["error"] for r in batch] == [_error(one, 400, "validation_error") for one in singles]


def test_lines_adding_up_to_more_than_a_subtotal_may_hold_are_a_400(api, member, rules):
    """Each line's total fits the money columns, their sum (the default subtotal) did not: a 500 on PostgreSQL,
    for POST /orders too."""
    huge = body("o-2", total="1.00", lines=[{"sku": "A", "quantity": 1, "total": "999999999999.99"}] * 2)
    del huge["subtotal"]
    single = api.post("/api/v1/orders", huge, format="json")
    assert "lines" in _error(single, 400, "validation_error")["details"]
    data = api.post(URL, {"orders": [body("o-1"), huge]}, format="json").json()
    assert [r["status"] for r in data["results"]] == [201, 400]
    assert "lines" in data["results"][1]["error"]["details"]


def test_an_order_id_that_cannot_be_stored_is_not_echoed(api, member, rules):
    payload = json.dumps({"orders": [body("\ud800"), body("\ud800"), body("x" * 151), body("o-1")]})
    response = api.post(URL, payload, content_type="application/json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["status"], r["external_id"]) for r in results] == [(400, None), (400, None), (400, None), (201, "o-1")]


@pytest.mark.parametrize(
    "payload",
    [
        [body("o-1")],
        {"orders": body("o-1")},
        {"orders": []},
        {"orders": "o-1"},
        {"order": [body("o-1")]},
        {"orders": [body(f"o-{i}") for i in range(501)]},
        "orders",
        None,
    ],
    ids=["list", "object", "empty", "string", "misspelt", "501", "text", "null"],
)
def test_a_malformed_batch_is_refused_whole(api, member, rules, payload):
    before = _counts()
    _error(api.post(URL, payload, format="json"), 400, "validation_error")
    assert _counts() == before


def test_an_external_id_twice_refuses_the_whole_batch(api, member, rules):
    before = _counts()
    # Trimmed as POST /orders trims it; even when one of the copies is invalid.
    orders = [body("o-1"), body("o-2"), body(" o-1 ", total="x"), body("o-2")]
    error = _error(api.post(URL, {"orders": orders}, format="json"), 400, "duplicate_external_id")
    assert error["details"] == {"external_ids": ["o-1", "o-2"]}
    assert _counts() == before


def test_the_service_refuses_duplicates_and_oversized_batches(shop, member, rules):
    with pytest.raises(ApplicationError) as duplicate:
        orders_record_batch(shop=shop, orders=[body("o-1") | {"placed_at": timezone.now()}] * 2)
    assert duplicate.value.code == "duplicate_external_id" and duplicate.value.status == 400
    with pytest.raises(ApplicationError) as oversized:
        orders_record_batch(shop=shop, orders=[{}] * 501)
    assert oversized.value.status == 400
    assert Order.objects.count() == 0


def test_needs_the_write_scope(shop, member, rules):
    response = api_client(shop, "read").post(URL, {"orders": [body()]}, format="json")
    _error(response, 403, "insufficient_scope")
    assert Order.objects.count() == 0


def test_500_orders_in_one_request(api, shop, rules):
    for i in range(50):
        member_upsert(shop=shop, external_id=f"cust-{i}", email=f"m{i}@example.com")
    orders = [body(f"o-{i:03}", member_external_id=f"cust-{i % 60}") for i in range(500)]
    response = api.post(URL, {"orders": orders}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert (data["created"], data["replayed"], data["failed"]) == (500, 0, 0)
    assert Order.objects.filter(status="awarded").count() == sum(1 for i in range(500) if i % 60 < 50)
    assert PointsAccount.objects.filter(lifetime_earned__gt=0).count() == 50
    assert (
        sum(PointsAccount.objects.values_list("available", flat=True)) == 80 * Order.objects.exclude(lot=None).count()
    )
    again = api.post(URL, {"orders": orders}, format="json").json()
    assert (again["created"], again["replayed"], again["failed"]) == (0, 500, 0)


# --- set-based ----------------------------------------------------------------------------------------


def _validated(orders: list[dict]) -> list[dict]:
    from integrations.apis.orders import OrderInputSerializer

    serializer = OrderInputSerializer(data=orders, many=True)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# Per batch, whatever its size: the orders recorded before; members by id, by customer id and by e-mail; the rules; a
# savepoint; the orders; the program; the ledger's savepoint, the accounts locked, keys replayed, the program, lots,
# entries, movements (on PostgreSQL one statement), the accounts updated, its release (the lots it made come back with
# the entries, not read back); the orders linked; the shop's webhook endpoints; the members' earlier purchases; the
# release; and the campaigns in force (rewards.services.campaigns: one query, cached per process in production, loaded
# every time under the test settings); and the tiers (rewards.services.tiers: likewise one query, cached per process
# in production; with tiers defined, one more computes the members' metrics to move them up:
# integrations/tests/test_tiers_api.py); and the referral program, for a referred member's orders
# (referrals.services.referrals_orders_earned: cached per process in production like the rules; its row must exist, or
# the first order makes it).
BATCH_QUERIES = 22 if connection.vendor == "postgresql" else 24


def _regular(shop, i) -> Member:
    """A member who bought before: their orders record no first_purchase event (which takes its own queries)."""
    referral_program_get()  # the program's row, made on first use, exists in any running deployment
    member, _ = member_upsert(shop=shop, external_id=f"cust-{i}", email=f"m{i}@example.com")
    event_first_purchase_record(member=member, shop=shop, occurred_at=timezone.now())
    return member


@pytest.mark.parametrize("n", [10, 100])
def test_queries_do_not_grow_with_the_batch(shop, rules, n, django_assert_num_queries):
    members = [_regular(shop, i) for i in range(n)]
    orders = []
    for i in range(n):
        if i % 3 == 0:
            orders.append(body(f"o-{i}", member_external_id=None, member_id=str(members[i].public_id)))
        elif i % 3 == 1:
            orders.append(body(f"o-{i}", member_external_id=f"cust-{i}"))
        else:
            orders.append(body(f"o-{i}", member_external_id=None, email=f"m{i}@example.com"))
    orders = _validated(orders)
    if connection.vendor == "sqlite" and n > 40:
        pytest.skip("SQLite: Django splits a bulk insert at 999 parameters, so big batches take a few more inserts")
    with django_assert_num_queries(BATCH_QUERIES):
        results = orders_record_batch(shop=shop, orders=orders)
    assert [r.status for r in results] == [201] * n


# 35: the most orders of 25 columns under the 999 parameters of one SQLite insert (Django splits beyond)
@pytest.mark.parametrize("n", [10, 35])
def test_queries_do_not_grow_with_the_batch_on_sqlite_too(shop, rules, n, django_assert_num_queries):
    for i in range(n):
        _regular(shop, i)
    orders = _validated([body(f"o-{i}", member_external_id=f"cust-{i}") for i in range(n)])
    with django_assert_num_queries(BATCH_QUERIES - 2):  # no lookups by member id or e-mail
        orders_record_batch(shop=shop, orders=orders)


def test_a_conflict_in_the_fast_path_falls_back_to_one_by_one(shop, member, rules, monkeypatch):
    """Another request records one of the orders after the batch looked for recorded ones: the batch's insert
    meets the unique constraint, rolls back, and records each order with order_record, which replays that one."""
    orders = _validated([body("o-1"), body("o-2"), body("o-3", member_external_id="nobody")])
    real_find = orders_batch._members_find

    def find_after_a_rival(**kwargs):
        order_record(shop=shop, data=orders[1])
        return real_find(**kwargs)

    monkeypatch.setattr(orders_batch, "_members_find", find_after_a_rival)
    results = orders_record_batch(shop=shop, orders=orders)
    assert [r.status for r in results] == [201, 200, 201]
    assert Order.objects.count() == 3 and PointEntry.objects.filter(kind="earn").count() == 2
    member.points_account.refresh_from_db()
    assert member.points_account.available == 160


def test_a_member_closed_under_the_lock_falls_back(shop, member, rules, monkeypatch):
    orders = _validated([body("o-1"), body("o-2", member_external_id="nobody")])
    monkeypatch.setattr(orders_batch, "_check_earnable", lambda breakdown, member: None)
    member_close(member=member, actor=Actor.system("test"))
    results = orders_record_batch(shop=shop, orders=orders)
    assert [r.status for r in results] == [422, 201]
    assert results[0].error.code == "member_not_active"
    assert list(Order.objects.values_list("external_id", flat=True)) == ["o-2"]


def test_a_debt_owed_since_the_members_were_found_falls_back_and_is_paid_off(shop, member, rules, monkeypatch):
    """The ledger writes the batch's earnings before it locks the accounts, for accounts that owed nothing when
    found; a debt found under the lock refuses the fast path, and order_record pays it off first."""
    program = program_get()
    program.reversal_policy = Program.ReversalPolicy.DEBT
    program.save()
    account = member.points_account
    earn = points_earn(account=account, points=30, source="bonus", actor=Actor.system(), idempotency_key="d:earn")
    points_redeem(account=account, points=30, reason="spent", actor=Actor.system(), idempotency_key="d:spend")
    orders = _validated([body("o-1"), body("o-2", member_external_id="nobody")])
    real_find = orders_batch._members_find

    def find_then_a_debt(**kwargs):
        found = real_find(**kwargs)  # the member's account as found: no debt
        lot = PointLot.objects.get(public_id=earn.details["lot"])
        points_reverse(lot=lot, reason="clawback", actor=Actor.system(), idempotency_key="d:rev")
        return found

    monkeypatch.setattr(orders_batch, "_members_find", find_then_a_debt)
    results = orders_record_batch(shop=shop, orders=orders)
    assert [r.status for r in results] == [201, 201]
    account.refresh_from_db()
    assert (account.debt, account.available) == (0, 50)  # 80 earned, 30 of them paid the debt
    assert ledger_audit() == []


def test_the_fallback_runs_when_the_insert_fails(shop, member, rules, monkeypatch):
    orders = _validated([body("o-1"), body("o-2")])
    monkeypatch.setattr(orders_batch, "_orders_insert", lambda **kw: (_ for _ in ()).throw(IntegrityError("x")))
    assert [r.status for r in orders_record_batch(shop=shop, orders=orders)] == [201, 201]
    assert Order.objects.count() == 2


def test_batch_results_carry_the_orders_as_post_orders_would(shop, member, rules):
    [result] = orders_record_batch(shop=shop, orders=_validated([body("o-1")]))
    order = Order.objects.select_related("lot").get()
    assert result.created and result.status == 201 and result.order.pk == order.pk
    assert result.order.lot.pk == order.lot.pk and order.points == 80 and order.lot.points == 80
    assert result.order.member == member
    assert order.breakdown["member_id"] == str(member.public_id)
    assert Decimal(order.total) == Decimal("125.00")


def _order_updates(context) -> list[str]:
    return [
        q["sql"] for q in context.captured_queries if re.match(r'(WITH .*)?UPDATE "?integrations_order"? ', q["sql"])
    ]


def test_each_order_row_names_its_lot_and_points(shop, rules):
    """On PostgreSQL the orders are inserted naming their lots (ids taken from the lots' sequence first) and
    are never updated; on SQLite one update links them. Either way each row agrees with its lot."""
    for i in range(3):
        _regular(shop, i)
    orders = _validated([body(f"o-{i}", member_external_id=f"cust-{i}") for i in range(3)])
    orders.append(_validated([body("o-x", member_external_id="nobody")])[0])
    with CaptureQueriesContext(connection) as context:
        results = orders_record_batch(shop=shop, orders=orders)
    assert [r.status for r in results] == [201] * 4
    for result in results:
        stored = Order.objects.get(pk=result.order.pk)
        assert (stored.lot_id, stored.points) == (result.order.lot_id, result.order.points)
        if stored.lot_id is not None:
            assert PointLot.objects.get(pk=stored.lot_id).points == stored.points == 80
    assert Order.objects.get(external_id="o-x").lot_id is None
    assert len(_order_updates(context)) == (0 if connection.vendor == "postgresql" else 1)


def test_an_order_whose_key_earned_before_is_linked_to_that_lot(shop, member, rules):
    """The ledger replays a key it has seen (here an earning made under the order's key before the order):
    that lot is not the one whose id the order was inserted with, so the order is updated to name it."""
    entry = points_earn(
        account=member.points_account,
        points=80,
        source="order",
        actor=Actor.shop(str(shop.public_id)),
        idempotency_key=f"order:{shop.public_id}:o-1",
    )
    orders = _validated([body("o-1"), body("o-2")])
    with CaptureQueriesContext(connection) as context:
        results = orders_record_batch(shop=shop, orders=orders)
    assert [r.status for r in results] == [201, 201]
    first = Order.objects.get(external_id="o-1")
    assert first.lot.public_id == uuid.UUID(entry.details["lot"]) and first.points == 80
    assert results[0].order.lot_id == first.lot_id
    second = Order.objects.get(external_id="o-2")
    assert second.lot.points == second.points == 80 and PointLot.objects.count() == 2
    assert len(_order_updates(context)) == 1
    with connection.cursor() as cursor:  # the deferred foreign keys hold now, as they must at commit
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


# --- races (PostgreSQL) -------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_copies_of_a_batch_racing_earn_once(shop, rules):
    for i in range(5):
        member_upsert(shop=shop, external_id=f"cust-{i}", email=f"m{i}@example.com")
    orders = _validated([body(f"o-{i}", member_external_id=f"cust-{i % 5}") for i in range(20)])
    results = run_at_once(3, lambda _: orders_record_batch(shop=shop, orders=orders))
    assert not any(isinstance(r, Exception) for r in results), results
    statuses = sorted(tuple(sorted({x.status for x in r})) for r in results)
    assert statuses == [(200,), (200,), (201,)]
    assert Order.objects.count() == 20 and PointEntry.objects.filter(kind="earn").count() == 20
    assert sum(PointsAccount.objects.values_list("available", flat=True)) == 20 * 80
    assert ledger_audit() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_and_single_posts_racing_earn_once(shop, rules):
    for i in range(4):
        member_upsert(shop=shop, external_id=f"cust-{i}", email=f"m{i}@example.com")
    orders = _validated([body(f"o-{i}", member_external_id=f"cust-{i % 4}") for i in range(12)])

    def work(i):
        if i == 0:
            return orders_record_batch(shop=shop, orders=orders)
        return order_record(shop=shop, data=orders[(i * 5) % 12])  # o-5, o-10, o-3, ... across members

    results = run_at_once(4, work)
    assert not any(isinstance(r, Exception) for r in results), results
    assert Order.objects.count() == 12 and PointEntry.objects.filter(kind="earn").count() == 12
    created = sum(r.created for r in results[0]) + sum(created for _, created in results[1:])
    assert created == 12
    assert ledger_audit() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_sharing_members_but_not_orders_all_land(shop, rules):
    for i in range(3):
        member_upsert(shop=shop, external_id=f"cust-{i}", email=f"m{i}@example.com")
    batches = [
        _validated([body(f"b{b}-o-{i}", member_external_id=f"cust-{(i + b) % 3}") for i in range(9)]) for b in range(3)
    ]
    results = run_at_once(3, lambda b: orders_record_batch(shop=shop, orders=batches[b]))
    assert not any(isinstance(r, Exception) for r in results), results
    assert all(x.status == 201 for r in results for x in r)
    assert sum(PointsAccount.objects.values_list("available", flat=True)) == 27 * 80
    assert ledger_audit() == []


def test_the_batch_fingerprints_orders_as_order_record_does():
    from integrations.selectors import order_data_clean
    from integrations.services.orders import _canonical, _fingerprint

    data = order_data_clean(_validated([body("o-1", email=" Ana@Example.com ")])[0])
    assert orders_batch._fingerprint_of_canonical(_canonical(data)) == _fingerprint(data)


# --- the garbage collector, paused for a batch ----------------------------------------------------------


def test_the_collector_is_off_while_a_batch_is_recorded_and_on_again_afterwards(shop, rules, monkeypatch):
    import gc

    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    seen = []
    find = orders_batch._members_find
    monkeypatch.setattr(orders_batch, "_members_find", lambda **kw: seen.append(gc.isenabled()) or find(**kw))
    results = orders_record_batch(shop=shop, orders=_validated([body("o-1"), body("o-2")]))
    assert [r.status for r in results] == [201, 201] and seen == [False] and gc.isenabled()

    with pytest.raises(ApplicationError):  # a refused batch turns it on again too
        orders_record_batch(shop=shop, orders=_validated([body("o-3"), body("o-3")]))
    assert gc.isenabled()

    gc.disable()  # off before: it stays off
    try:
        orders_record_batch(shop=shop, orders=_validated([body("o-4")]))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_is_off_while_the_api_validates_records_and_answers(api, shop, rules, monkeypatch):
    import gc

    from integrations.apis import orders_batch as api_module

    seen = []
    answer = api_module._batch_json
    monkeypatch.setattr(api_module, "_batch_json", lambda payload: seen.append(gc.isenabled()) or answer(payload))
    response = api.post(URL, {"orders": [body("o-1")]}, format="json")
    assert response.status_code == 200 and response.json()["created"] == 1
    assert seen == [False] and gc.isenabled()
