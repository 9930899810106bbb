"""Which changes publish which events, to whom, with what data: written in the change's own transaction,
once per change (replays publish nothing), member events fanned out to the member's shops, set-based."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import Order
from integrations.services.members import member_upsert
from integrations.services.orders import order_cancel, order_record, order_refund
from integrations.services.shops import shop_create
from members.services import member_close, member_preferences_update, member_profile_update
from rewards.models import PointLot
from rewards.services.ledger import Actor, lots_expire_due, lots_release_due
from rewards.tests.helpers import earn, set_program
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create, events_publish, points_expiring_publish
from webhooks.tests.conftest import order_body, order_data


def rows(event=None):
    deliveries = WebhookDelivery.objects.select_related("endpoint__shop").order_by("pk")
    return list(deliveries.filter(event=event) if event else deliveries)


def events():
    return [d.event for d in rows()]


@pytest.fixture
def member(shop, endpoint):
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com", first_name="Ana")
    WebhookDelivery.objects.all().delete()  # the member.created of the set-up
    return member


# --- members -------------------------------------------------------------------------------------------


def test_a_new_customer_is_one_member_created_with_the_profile(shop, endpoint):
    member, created = member_upsert(
        shop=shop, external_id="cust-1", email="ana@example.com", first_name="Ana", marketing_consent=True
    )
    assert created
    [delivery] = rows()
    assert delivery.event == "member.created" and delivery.endpoint == endpoint
    data = delivery.payload["data"]
    assert data["member"] == {
        "id": str(member.public_id),
        "external_id": "cust-1",
        "email": "ana@example.com",
        "first_name": "Ana",
        "last_name": "",
        "birthday": None,
        "marketing_consent": True,
        "status": "active",
        "joined_at": member.joined_at.isoformat(),
    }
    assert delivery.payload["id"] == str(delivery.event_id) and delivery.payload["event"] == "member.created"

    # The same request again: nothing changed, nothing published.
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com", first_name="Ana", marketing_consent=True)
    assert events() == ["member.created"]


def test_profile_changes_are_member_updated_to_every_linked_shop(shop, endpoint, receiver):
    other = shop_create(name="Store Utrecht", currency="EUR")
    other_endpoint = endpoint_create(shop=other, url=receiver.url, events=["member.updated"])
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    member_upsert(shop=other, external_id="U-9", email="ana@example.com")  # links the member to `other`
    assert events() == ["member.created"]  # `other` does not subscribe to member.created

    member_upsert(shop=shop, external_id="cust-1", first_name="Ana", last_name="Smit")

    updated = rows("member.updated")
    assert {d.endpoint for d in updated} == {endpoint, other_endpoint}
    assert len({d.event_id for d in updated}) == 1  # one event, one id, whichever shop gets it
    by_endpoint = {d.endpoint: d.payload["data"] for d in updated}
    assert by_endpoint[endpoint]["member"]["external_id"] == "cust-1"
    assert by_endpoint[other_endpoint]["member"]["external_id"] == "U-9"
    assert by_endpoint[endpoint]["changed"] == ["first_name", "last_name"]
    assert by_endpoint[endpoint]["member"]["last_name"] == "Smit"


def test_web_profile_and_consent_changes_and_closing_publish_member_updated(member):
    member_profile_update(member=member, first_name="Ana", last_name="", birthday=None)
    assert events() == []  # nothing changed
    member_profile_update(member=member, first_name="Anna", last_name="", birthday=dt.date(1990, 5, 1))
    member_preferences_update(member=member, marketing_consent=True)
    member_close(member=member, actor=Actor.member(member.user))

    changed = [d.payload["data"]["changed"] for d in rows("member.updated")]
    assert changed[:2] == [["first_name", "birthday"], ["marketing_consent"]]
    closed = rows("member.updated")[2].payload["data"]["member"]
    assert (closed["status"], closed["email"], closed["first_name"]) == ("closed", None, "")


def test_an_existing_member_linked_by_email_is_member_created_for_that_shop(member, receiver):
    other = shop_create(name="Store Utrecht", currency="EUR")
    other_endpoint = endpoint_create(shop=other, url=receiver.url, events=["member.created"])

    member_upsert(shop=other, email="ana@example.com")

    [delivery] = rows()
    assert delivery.endpoint == other_endpoint
    assert delivery.payload["data"]["member"]["id"] == str(member.public_id)
    assert delivery.payload["data"]["member"]["external_id"] is None


def test_unsubscribed_endpoints_and_other_shops_get_nothing(shop, receiver):
    endpoint_create(shop=shop, url=receiver.url, events=["points.expired"])
    other = shop_create(name="Store Utrecht", currency="EUR")
    endpoint_create(shop=other, url=receiver.url, events=["member.created"])

    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")

    assert rows() == []


# --- orders --------------------------------------------------------------------------------------------


def test_an_order_publishes_points_awarded_once_and_its_replay_nothing(shop, api_key, member, rules):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key)

    assert client.post("/api/v1/orders", order_body(), format="json").status_code == 201
    assert client.post("/api/v1/orders", order_body(), format="json").status_code == 200

    [delivery] = rows()
    order = Order.objects.get()
    assert delivery.event == "order.points_awarded"
    data = delivery.payload["data"]
    assert data["order"]["id"] == str(order.public_id) and data["order"]["external_id"] == "o-1"
    assert data["order"]["total"] == "125.00" and data["order"]["currency"] == "EUR"
    assert data["member"] == {"id": str(member.public_id), "external_id": "cust-1"}
    assert (data["points"], data["points_status"]) == (100, "available")
    assert data["balance"] == {"available": 100, "pending": 0}


def test_an_order_that_earns_nothing_or_is_unmatched_publishes_nothing(shop, member, rules):
    order_record(shop=shop, data=order_data("o-0", total=Decimal("25.00"), subtotal=Decimal("0.00")))
    order_record(shop=shop, data=order_data("o-2", member_external_id="unknown", email="new@example.com"))
    assert events() == []


def test_a_rolled_back_order_writes_no_outbox_row(shop, member, rules):
    with pytest.raises(RuntimeError), transaction.atomic():
        order_record(shop=shop, data=order_data())
        assert events() == ["order.points_awarded"]  # written inside the transaction...
        raise RuntimeError("the request fails after the order")
    assert not Order.objects.exists()
    assert events() == []  # ...and gone with it


def test_an_unmatched_order_publishes_when_its_customer_joins(shop, endpoint, rules):
    order_record(shop=shop, data=order_data(member_external_id="cust-7", email="bo@example.com"))
    assert events() == []

    member, _ = member_upsert(shop=shop, external_id="cust-7", email="bo@example.com")

    assert events() == ["member.created", "order.points_awarded"]
    data = rows("order.points_awarded")[0].payload["data"]
    assert data["member"]["id"] == str(member.public_id) and data["points"] == 100


def test_refunds_and_cancel_publish_order_refunded_once_each(shop, member, rules):
    order, _ = order_record(shop=shop, data=order_data())
    WebhookDelivery.objects.all().delete()

    order_refund(order=order, external_id="r-1", amount=Decimal("62.50"))
    order_refund(order=order, external_id="r-1", amount=Decimal("62.50"))  # replay
    order_cancel(order=order)
    order_cancel(order=order)  # already cancelled

    refund, cancel = rows()
    assert (refund.event, cancel.event) == ("order.refunded", "order.refunded")
    refunded = refund.payload["data"]
    assert refunded["refund"]["external_id"] == "r-1" and refunded["refund"]["amount"] == "62.50"
    assert (refunded["cancelled"], refunded["points_reversed"]) == (False, 50)
    assert refunded["balance"] == {"available": 50, "pending": 0}
    cancelled = cancel.payload["data"]
    assert (cancelled["cancelled"], cancelled["refund"], cancelled["points_reversed"]) == (True, None, 50)
    assert cancelled["order"]["status"] == "cancelled" and cancelled["order"]["points_reversed"] == 100
    assert cancelled["balance"] == {"available": 0, "pending": 0}


# --- the ledger's sweeps and points.expiring ----------------------------------------------------------


def test_sweeps_publish_one_event_per_account_and_chunk_to_linked_shops(shop, endpoint, receiver):
    ana, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    bo, _ = member_upsert(shop=shop, external_id="cust-2", email="bo@example.com")
    other = shop_create(name="Store Utrecht", currency="EUR")
    other_endpoint = endpoint_create(shop=other, url=receiver.url, events=["points.expired"])
    member_upsert(shop=other, external_id="U-1", email="ana@example.com")
    WebhookDelivery.objects.all().delete()
    set_program(expiry_policy="days", expiry_period=30)
    for account, points in ((ana.points_account, 10), (ana.points_account, 5), (bo.points_account, 7)):
        earn(account, points, pending_days=2)

    lots_release_due(now=timezone.now() + dt.timedelta(days=3), chunk_size=1)

    released = rows("points.released")
    assert len(released) == 2 and {d.endpoint for d in released} == {endpoint}  # other does not subscribe
    by_member = {d.payload["data"]["member"]["id"]: d.payload["data"] for d in released}
    assert by_member[str(ana.public_id)]["points"] == 15
    assert by_member[str(ana.public_id)]["balance"] == {"available": 15, "pending": 0}
    assert by_member[str(bo.public_id)]["member"]["external_id"] == "cust-2"

    lots_expire_due(now=timezone.now() + dt.timedelta(days=40))

    expired = rows("points.expired")
    assert sorted((d.endpoint.shop.name, d.payload["data"]["member"]["external_id"]) for d in expired) == [
        ("Store Utrecht", "U-1"),
        ("Webshop NL", "cust-1"),
        ("Webshop NL", "cust-2"),
    ]
    ana_events = {d.event_id for d in expired if d.payload["data"]["member"]["id"] == str(ana.public_id)}
    assert len(ana_events) == 1  # the same event to both of Ana's shops
    assert {d.payload["data"]["points"] for d in expired} == {15, 7}
    assert all(d.payload["data"]["balance"] == {"available": 0, "pending": 0} for d in expired)
    assert other_endpoint in {d.endpoint for d in expired}


def test_a_sweep_chunk_costs_one_query_when_no_shop_listens(shop, django_assert_num_queries):
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    earn(member.points_account, 10, pending_days=2)
    from rewards.services.ledger import _RELEASE, _sweep_published

    with django_assert_num_queries(1):
        _sweep_published(_RELEASE, account_ids=[member.points_account.pk], key_prefix="release:x:")


def test_points_expiring_is_published_once_per_lot_for_the_day_ahead(member, settings):
    set_program(expiry_policy="days", expiry_period=10)
    account = member.points_account
    soon = earn(account, 30)
    later_lot = earn(account, 20)
    PointLot.objects.filter(pk=later_lot.pk).update(expires_at=timezone.now() + dt.timedelta(days=30))
    WebhookDelivery.objects.all().delete()

    assert points_expiring_publish(days=14) == 1
    assert points_expiring_publish(days=14) == 0  # the next run (or a second one) announces nothing again

    [delivery] = rows()
    data = delivery.payload["data"]
    assert delivery.event == "points.expiring"
    assert data["points"] == 30 and data["member"]["external_id"] == "cust-1"
    soon.refresh_from_db()
    assert data["lots"] == [{"points": 30, "expires_at": soon.expires_at.isoformat()}]
    assert data["balance"] == {"available": 50, "pending": 0}

    # Once the second lot's day comes into the window, it is announced, alone.
    assert points_expiring_publish(now=timezone.now() + dt.timedelta(days=17), days=14) == 1
    assert rows()[-1].payload["data"]["points"] == 20


# --- set-based publishing --------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 30])  # 60 rows: one insert on SQLite too (it batches at 71)
def test_events_publish_costs_two_queries_whatever_the_number_of_items(
    shop, endpoint, receiver, count, django_assert_num_queries
):
    other = shop_create(name="Store Utrecht", currency="EUR")
    endpoint_create(shop=other, url=receiver.url, events=["order.points_awarded"])
    items = [(s.pk, "order.points_awarded", {"n": n}) for n in range(count) for s in (shop, other)]
    with transaction.atomic(), django_assert_num_queries(2):  # the endpoints, then one insert
        written = events_publish(items)
    assert len(written) == 2 * count
    assert len({d.event_id for d in written}) == 2 * count  # each item is its own event


def test_events_publish_with_no_endpoint_is_one_query(shop, django_assert_num_queries):
    with transaction.atomic(), django_assert_num_queries(1):
        assert events_publish([(shop.pk, "order.refunded", {}) for _ in range(10)]) == []


def test_deliveries_are_queued_after_commit_and_delivered(
    shop, member, rules, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order_record(shop=shop, data=order_data())
    assert len(callbacks) == 1
    [request] = receiver.wait_for(1)
    assert request.json()["event"] == "order.points_awarded"
    assert rows()[0].status == "delivered"


def test_event_ids_are_uuids(shop, endpoint):
    with transaction.atomic():
        [delivery] = events_publish([(shop.pk, "order.refunded", {})])
    assert uuid.UUID(delivery.payload["id"]) == delivery.event_id
