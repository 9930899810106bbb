"""The client against the running API (live_server): each method, the replays, and the error classes."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from loyalty_client import (
    AuthError,
    BusinessRuleError,
    Conflict,
    CouponValidation,
    LoyaltyClient,
    Member,
    NotFound,
    OrderResult,
    ValidationError,
)

PLACED_AT = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)


def order_body(external_id="order-1", **overrides):
    body = {
        "external_id": external_id,
        "member_external_id": "cust-1",
        "currency": "EUR",
        "total": Decimal("118.95"),
        "subtotal": "95.00",
        "tax": "19.00",
        "shipping": "4.95",
        "placed_at": PLACED_AT,
        "lines": [
            {"sku": "TSHIRT-M", "category": "apparel", "quantity": 2, "unit_price": "25.00", "total": "50.00"},
            {"sku": "MUG", "category": "home", "quantity": 1, "unit_price": "45.00", "total": "45.00"},
        ],
    }
    body.update(overrides)
    return body


def test_members_upsert_then_get_and_find(client):
    ana = client.members_upsert(external_id="cust-1", email="ana@example.com", first_name="Ana", marketing_consent=True)
    assert isinstance(ana, Member) and ana.created is True
    assert (ana.external_id, ana.email, ana.first_name, ana.points.available, ana.points.pending) == (
        "cust-1",
        "ana@example.com",
        "Ana",
        0,
        0,
    )
    uuid.UUID(ana.id)
    again = client.members_upsert(external_id="cust-1", email="ana@example.com", last_name="Jansen")
    assert again.created is False and again.id == ana.id and again.last_name == "Jansen"

    got = client.member_get(ana.id)
    assert (got.id, got.status, got.last_name) == (ana.id, "active", "Jansen")
    assert got.member_number and got.lifetime_earned == 0
    assert client.member_find(external_id="cust-1").id == ana.id
    assert client.member_find(email="ANA@example.com").id == ana.id
    with pytest.raises(ValueError):
        client.member_find()


def test_an_order_then_its_replay_a_refund_and_the_cancel(client, ana, rules):
    first = client.orders_create(order_body())
    assert isinstance(first, OrderResult)
    assert (first.created, first.status, first.points, first.member_id, first.total) == (
        True,
        "awarded",
        95,
        ana.id,
        Decimal("118.95"),
    )
    assert first.points_status in ("pending", "available") and [line["points"] for line in first.lines] == [50, 45]

    replay = client.orders_create(order_body())
    assert replay.created is False and replay == first.__class__(**{**first.__dict__, "created": False})

    refund = client.refunds_create("order-1", external_id="refund-1", lines=[{"sku": "MUG", "quantity": 1}])
    assert (refund.created, refund.points_reversed, refund.order_points_left, refund.amount) == (True, 45, 50, None)
    assert (
        client.refunds_create("order-1", external_id="refund-1", lines=[{"sku": "MUG", "quantity": 1}]).created is False
    )
    by_amount = client.refunds_create("order-1", external_id="refund-2", amount=Decimal("20.00"))
    assert by_amount.amount == Decimal("20.00") and by_amount.points_reversed == 15

    cancelled = client.orders_cancel("order-1")
    assert (cancelled.status, cancelled.points_status, cancelled.points_reversed) == ("cancelled", "reversed", 95)
    assert client.orders_cancel("order-1").points_reversed == 95  # again: nothing more
    with pytest.raises(BusinessRuleError) as refused:
        client.refunds_create("order-1", external_id="refund-3", amount="1.00")
    assert refused.value.status == 422 and refused.value.code == "order_cancelled"

    history = client.member_activity(ana.id, page_size=2)
    assert history.count == 4 and len(history.results) == 2 and history.next and history.previous is None
    assert [entry.kind for entry in history.results] == ["reverse", "reverse"]
    assert client.member_activity(ana.id, page=2, page_size=2).results[-1].kind == "earn"


def test_an_order_id_with_slashes_and_a_batch(client, ana, rules):
    till = client.orders_create(
        order_body("till/7/0042", total="20.00", subtotal="20.00", tax="0", shipping="0", lines=[])
    )
    assert till.external_id == "till/7/0042" and till.points == 20
    assert client.orders_cancel("till/7/0042").status == "cancelled"

    batch = client.orders_batch(
        [
            order_body("b-1", total="10.00", subtotal="10.00", tax="0", shipping="0", lines=[]),
            order_body("till/7/0042", total="20.00", subtotal="20.00", tax="0", shipping="0", lines=[]),
            order_body("b-2", total="-5"),
        ]
    )
    assert (batch.created, batch.replayed, batch.failed) == (1, 1, 1)
    made, replayed, bad = batch.results
    assert made.ok and made.status == 201 and made.order.points == 10 and made.order.created is True
    assert replayed.status == 200 and replayed.order.status == "cancelled"
    assert not bad.ok and isinstance(bad.error, ValidationError) and "total" in bad.error.details


def test_simulate_writes_nothing(client, ana, rules):
    simulated = client.orders_simulate(order_body())
    assert (simulated.points, simulated.matched, simulated.id, simulated.status) == (95, True, None, None)
    assert client.member_get(ana.id).points.pending + client.member_get(ana.id).points.available == 0


def test_events_and_adjustments(client, ana):
    event = client.events_create(event="store_visit", external_id="visit-1", member_external_id="cust-1")
    assert (event.created, event.status, event.points, event.member_id) == (True, "no_matching_rule", 0, ana.id)
    again = client.events_create(event="store_visit", external_id="visit-1", member_id=ana.id)
    assert again.created is False and again.id == event.id
    with pytest.raises(BusinessRuleError) as reserved:
        client.events_create(event="birthday", external_id="bd-1", member_external_id="cust-1")
    assert reserved.value.code == "event_reserved" and reserved.value.details == {"event": "birthday"}
    with pytest.raises(ValueError):
        client.events_create(event="x", external_id="y")

    entry = client.adjustments_create(ana.id, points=50, reason="Parcel arrived late", idempotency_key="ticket-1")
    assert (entry.kind, entry.points, entry.available_change, entry.reason) == ("adjust", 50, 50, "Parcel arrived late")
    assert (
        client.adjustments_create(ana.id, points=50, reason="Parcel arrived late", idempotency_key="ticket-1") == entry
    )
    with pytest.raises(Conflict) as conflict:
        client.adjustments_create(ana.id, points=60, reason="Parcel arrived late", idempotency_key="ticket-1")
    assert conflict.value.code == "idempotency_conflict"
    with pytest.raises(BusinessRuleError) as short:
        client.adjustments_create(ana.id, points=-500, reason="Too much", idempotency_key="ticket-2")
    assert short.value.code == "insufficient_points" and short.value.details == {"available": 50, "requested": 500}
    assert client.member_get(ana.id).points.available == 50


def test_redeem_a_reward_then_validate_and_redeem_its_coupon(client, ana):
    from rewards.models import Reward

    reward = Reward.objects.create(
        kind="fixed_amount", title="5 euro off", points=100, value=Decimal("5.00"), min_order=Decimal("25.00")
    )
    client.adjustments_create(ana.id, points=300, reason="Welcome gift", idempotency_key="gift-1")
    [offered] = [r for r in client.rewards_list(member_id=ana.id) if r.id == str(reward.public_id)]
    assert (offered.kind, offered.points, offered.value, offered.available) == (
        "fixed_amount",
        100,
        Decimal("5.00"),
        True,
    )

    redemption = client.redemptions_create(ana.id, reward_id=offered.id, idempotency_key="cart-1-r1")
    assert redemption.created is True and redemption.balance.available == 200 and redemption.coupon is not None
    code = redemption.coupon.code
    assert (redemption.coupon.status, redemption.coupon.value, redemption.coupon.min_order) == (
        "issued",
        Decimal("5.00"),
        Decimal("25.00"),
    )
    replay = client.redemptions_create(ana.id, reward_id=offered.id, idempotency_key="cart-1-r1")
    assert replay.created is False and replay.id == redemption.id and replay.coupon.code == code

    cart = [{"sku": "MUG", "quantity": 2, "unit_price": "8.95", "total": "17.90"}]
    valid = client.coupons_validate(code.lower().replace("-", ""), total="48.90", currency="EUR", lines=cart)
    assert isinstance(valid, CouponValidation)
    assert (valid.valid, valid.code, valid.discount.amount, valid.discount.free_shipping) == (
        True,
        code,
        Decimal("5.00"),
        False,
    )
    low = client.coupons_validate(code, total=Decimal("19.90"), currency="EUR")
    assert (low.valid, low.discount, low.reason) == (False, None, "below_minimum_order") and "25.00" in low.message
    assert client.coupons_validate("AAAA-BBBB-CCCC-DDDD", total="10", currency="EUR").reason == "unknown_code"

    used = client.coupons_redeem(code, order_external_id="order-9")
    assert (used.code, used.status, used.order_external_id) == (code, "used", "order-9") and used.used_at
    assert client.coupons_redeem(code, order_external_id="order-9") == used
    with pytest.raises(Conflict) as taken:
        client.coupons_redeem(code, order_external_id="order-10")
    assert taken.value.code == "coupon_used" and taken.value.details == {"code": code}
    with pytest.raises(NotFound):
        client.coupons_redeem("AAAA-BBBB-CCCC-DDDD", order_external_id="order-9")
    assert client.coupons_validate(code, total="48.90", currency="EUR").reason == "coupon_used"


def test_store_credit_from_a_reward_then_spent(client, ana):
    from rewards.models import Reward

    reward = Reward.objects.create(kind="store_credit", title="10 euro credit", points=100, value=Decimal("10.00"))
    client.adjustments_create(ana.id, points=100, reason="Gift", idempotency_key="gift-1")
    credit = client.redemptions_create(ana.id, reward_id=str(reward.public_id), idempotency_key="credit-1")
    assert (credit.coupon, credit.store_credit, credit.currency) == (None, Decimal("10.00"), "EUR")
    assert client.store_credit_get(ana.id) == {"EUR": Decimal("10.00")}

    spent = client.store_credit_spend(
        ana.id, amount=Decimal("7.50"), order_external_id="order-5", idempotency_key="o5-sc"
    )
    assert (spent.created, spent.amount, spent.balance, spent.order_external_id) == (
        True,
        Decimal("7.50"),
        Decimal("2.50"),
        "order-5",
    )
    assert client.store_credit_spend(ana.id, amount="7.50", order_external_id="order-5", idempotency_key="o5-sc") == (
        spent.__class__(**{**spent.__dict__, "created": False})
    )
    with pytest.raises(BusinessRuleError) as short:
        client.store_credit_spend(ana.id, amount="20.00", idempotency_key="o6-sc")
    assert short.value.code == "insufficient_store_credit" and short.value.details["balance"] == "2.50"
    assert client.store_credit_get(ana.id) == {"EUR": Decimal("2.50")}


def test_errors_map_to_their_classes(client, make_client, live_server, ana, rules):
    stranger = LoyaltyClient(live_server.url, "lk_live_nope0000_" + "x" * 40, retries=0)
    with stranger, pytest.raises(AuthError) as unknown:
        stranger.shop_get()
    assert (unknown.value.status, unknown.value.code) == (401, "invalid_api_key")
    with pytest.raises(AuthError) as scope:
        make_client("read").members_upsert(external_id="cust-2", email="bo@example.com")
    assert (scope.value.status, scope.value.code) == (403, "insufficient_scope")

    with pytest.raises(NotFound) as missing:
        client.member_find(external_id="nobody")
    assert (missing.value.status, missing.value.code, missing.value.details) == (404, "not_found", {})
    with pytest.raises(NotFound):
        client.member_get(uuid.uuid4())
    with pytest.raises(NotFound):
        client.orders_cancel("no-such-order")

    client.orders_create(order_body())
    with pytest.raises(Conflict) as reused:
        client.orders_create(order_body(total="120.00"))
    assert (reused.value.status, reused.value.code, reused.value.details) == (
        409,
        "idempotency_conflict",
        {"external_id": "order-1"},
    )
    client.members_upsert(external_id="cust-2", email="bob@example.com")
    with pytest.raises(Conflict) as identity:
        client.members_upsert(external_id="cust-1", email="bob@example.com")
    assert identity.value.code == "identity_conflict"

    with pytest.raises(BusinessRuleError) as unknown_customer:
        client.members_upsert(external_id="cust-9999")
    assert (unknown_customer.value.status, unknown_customer.value.code) == (422, "email_required")

    with pytest.raises(ValidationError) as invalid:
        client.orders_create(order_body("order-2", total="-1"))
    assert invalid.value.status == 400 and invalid.value.code == "validation_error" and "total" in invalid.value.details
    assert str(invalid.value).startswith("400 validation_error: ")


def test_naive_times_are_refused_before_sending(client):
    with pytest.raises(ValueError, match="naive"):
        client.orders_create(order_body(placed_at=dt.datetime(2026, 1, 1, 12)))
