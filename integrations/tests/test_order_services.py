"""order_record, order_refund and order_cancel: members found three ways or the order kept unmatched, the
breakdown stored, the earn pending for the return window, idempotent replays (also racing copies, on
PostgreSQL), refunds from the stored breakdown, cancelling; the ledger audit stays clean."""

import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.exceptions import ApplicationError
from core.tests.concurrency import run_at_once
from integrations.models import Order, Refund
from integrations.services.members import member_upsert
from integrations.services.orders import order_cancel, order_record, order_refund
from integrations.services.shops import shop_create
from rewards.models import EarningRule, PointEntry, PointLot
from rewards.selectors import ledger_audit, program_get

D = Decimal


def order_data(external_id="o-1", **overrides):
    """A 3-line order of 100.00 before tax and shipping: 50.00 + 30.00 + a 20.00 gift card."""
    data = {
        "external_id": external_id,
        "member_external_id": "cust-1",
        "currency": "EUR",
        "total": D("125.00"),
        "subtotal": D("100.00"),
        "tax": D("21.00"),
        "shipping": D("4.00"),
        "discount": D("0"),
        "placed_at": timezone.now() - dt.timedelta(minutes=5),
        "lines": [
            {"sku": "A", "name": "Shoes", "category": "shoes", "quantity": D("2"), "total": D("50.00")},
            {"sku": "B", "name": "Socks", "category": "socks", "quantity": D("3"), "total": D("30.00")},
            {"sku": "GC", "name": "Gift card", "category": "gift card", "quantity": D("1"), "total": D("20.00")},
        ],
        "coupon_codes": ["WELCOME"],
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True)
def _audit(db):
    yield
    assert ledger_audit() == []


def _account(member):
    member.points_account.refresh_from_db()
    return member.points_account


# --- order_record ---------------------------------------------------------------------------------


def test_record_earns_the_breakdowns_points(shop, member, rules):
    order, created = order_record(shop=shop, data=order_data())
    assert created and order.status == Order.Status.AWARDED and order.member == member
    # 100.00 less tax and shipping = 80.00 of earning lines + the gift card's 20.00 that earns nothing.
    assert order.points == 80 and order.breakdown["points"] == 80
    assert [line["points"] for line in order.breakdown["lines"]] == [50, 30, 0]
    assert order.breakdown["lines"][2]["excluded_by"] == "Gift cards never earn"
    assert order.lot.points == 80 and order.lot.state == PointLot.State.AVAILABLE
    assert order.lot.source == PointLot.Source.ORDER and order.lot.source_ref == "o-1"
    entry = PointEntry.objects.get()
    assert entry.idempotency_key == f"order:{shop.public_id}:o-1" and entry.actor_ref == str(shop.public_id)
    assert _account(member).available == 80
    assert order.lines[0] == {
        "sku": "A",
        "name": "Shoes",
        "category": "shoes",
        "quantity": "2",
        "unit_price": "0",
        "total": "50",
    }
    assert order.coupon_codes == ["WELCOME"] and len(order.fingerprint) == 64


def _order_updates(context) -> list[str]:
    return [
        q["sql"] for q in context.captured_queries if re.match(r'(WITH .*)?UPDATE "?integrations_order"? ', q["sql"])
    ]


def test_the_order_row_names_its_lot_and_points(shop, member, rules):
    """On PostgreSQL the order is inserted naming its lot (an id from the lots' sequence) and the row is never
    updated; on SQLite it is updated after the earn. Either way the row and the lot agree."""
    with CaptureQueriesContext(connection) as context:
        order, _ = order_record(shop=shop, data=order_data())
    stored = Order.objects.get()
    assert stored.lot_id == order.lot.pk == order.lot_id and stored.points == order.points == 80
    assert PointLot.objects.get(pk=stored.lot_id).points == 80
    assert len(_order_updates(context)) == (0 if connection.vendor == "postgresql" else 1)


def test_an_earning_the_ledger_refuses_leaves_no_order_and_no_lot(shop, member, rules, monkeypatch):
    """The order's row (and on PostgreSQL its lot id) is written before the ledger refuses: all rolled back."""
    from integrations.services import orders

    real = orders.points_earn_with_lot

    def refusing(**kwargs):
        real(**kwargs)
        raise ApplicationError("refused", code="member_not_active")

    monkeypatch.setattr(orders, "points_earn_with_lot", refusing)
    with pytest.raises(ApplicationError):
        order_record(shop=shop, data=order_data())
    assert not Order.objects.exists() and not PointLot.objects.exists() and not PointEntry.objects.exists()
    assert _account(member).available == 0
    monkeypatch.setattr(orders, "points_earn_with_lot", real)
    order, created = order_record(shop=shop, data=order_data())  # the same order again: recorded now
    assert created and order.points == 80 and Order.objects.get().lot_id == order.lot.pk


@pytest.mark.parametrize("how", ["member_id", "email", "email_any_case"])
def test_record_finds_the_member_by_id_or_email(shop, member, rules, how):
    identity = {
        "member_id": {"member_id": member.public_id},
        "email": {"email": "ana@example.com"},
        "email_any_case": {"email": " ANA@example.com "},
    }[how]
    order, _ = order_record(shop=shop, data=order_data(member_external_id=None, **identity))
    assert order.member == member and order.points == 80


def test_an_unknown_customer_keeps_the_order_unmatched_with_no_points(shop, member, rules):
    order, created = order_record(shop=shop, data=order_data(member_external_id="cust-404"))
    assert created and order.status == Order.Status.UNMATCHED and order.member is None
    assert order.points == 0 and order.lot is None and order.member_external_id == "cust-404"
    assert order.breakdown["points"] == 80  # what it would earn, kept for matching later
    assert not PointEntry.objects.exists()


def test_another_shops_customer_id_does_not_match(shop, member, rules):
    other = shop_create(name="Other shop")
    order, _ = order_record(shop=other, data=order_data())
    assert order.status == Order.Status.UNMATCHED


def test_an_unknown_member_id_is_422_and_writes_nothing(shop, rules):
    with pytest.raises(ApplicationError) as error:
        order_record(shop=shop, data=order_data(member_external_id=None, member_id=uuid.uuid4()))
    assert error.value.code == "unknown_member" and error.value.status == 422
    assert not Order.objects.exists()


def test_a_currency_without_rules_earns_nothing_and_says_why(shop, member, rules):
    order, _ = order_record(shop=shop, data=order_data(currency="usd"))
    assert order.currency == "USD" and order.points == 0 and order.lot is None
    assert order.status == Order.Status.AWARDED
    assert [n["code"] for n in order.breakdown["notes"]] == ["no_rule_for_currency"]
    assert not PointEntry.objects.exists()


def test_replay_returns_the_first_order_and_changes_nothing(shop, member, rules):
    first, _ = order_record(shop=shop, data=order_data())
    EarningRule.objects.update(points=5)  # the rules change; a replay still answers the first result
    again, created = order_record(shop=shop, data=order_data(placed_at=first.placed_at, external_id=" o-1 "))
    assert not created and again.pk == first.pk and again.points == 80
    assert Order.objects.count() == 1 and PointEntry.objects.count() == 1
    assert _account(member).available == 80


def test_replay_with_equal_numbers_written_differently_is_a_replay(shop, member, rules):
    first, _ = order_record(shop=shop, data=order_data())
    data = order_data(placed_at=first.placed_at.astimezone(dt.timezone(dt.timedelta(hours=2))), total=D("125.0"))
    assert order_record(shop=shop, data=data) == (first, False)


def test_replay_with_another_body_is_409(shop, member, rules):
    first, _ = order_record(shop=shop, data=order_data())
    with pytest.raises(ApplicationError) as error:
        order_record(shop=shop, data=order_data(placed_at=first.placed_at, total=D("126.00")))
    assert error.value.code == "idempotency_conflict" and error.value.status == 409
    assert PointEntry.objects.count() == 1


def test_the_same_external_id_in_two_shops_is_two_orders(shop, member, rules):
    other = shop_create(name="Other shop")
    member_upsert(shop=other, external_id="cust-1", email="ana@example.com")
    order_record(shop=shop, data=order_data())
    order_record(shop=other, data=order_data())
    assert Order.objects.count() == 2 and _account(member).available == 160


def test_points_stay_pending_for_the_return_window(shop, member, rules):
    program = program_get()
    program.pending_days = 14
    program.save()
    placed = timezone.now() - dt.timedelta(days=1)
    order, _ = order_record(shop=shop, data=order_data(placed_at=placed))
    assert order.lot.state == PointLot.State.PENDING and order.lot.available_at == placed + dt.timedelta(days=14)
    assert _account(member).pending == 80 and _account(member).available == 0


def test_an_order_older_than_the_return_window_is_available_at_once(shop, member, rules):
    program = program_get()
    program.pending_days = 14
    program.save()
    order, _ = order_record(shop=shop, data=order_data(placed_at=timezone.now() - dt.timedelta(days=30)))
    assert order.lot.state == PointLot.State.AVAILABLE and _account(member).available == 80


def test_a_future_placed_at_counts_as_now(shop, member, rules):
    EarningRule.objects.filter(kind="base_rate").update(ends_at=timezone.now() + dt.timedelta(hours=1))
    order, _ = order_record(shop=shop, data=order_data(placed_at=timezone.now() + dt.timedelta(hours=3)))
    assert order.points == 80  # evaluated at the time it arrived, when the rule still ran


# --- order_refund ---------------------------------------------------------------------------------


def test_refund_by_lines_reverses_what_those_lines_earned(shop, member, rules):
    order, _ = order_record(shop=shop, data=order_data())
    refund, created = order_refund(order=order, external_id="r-1", lines=[{"sku": "B", "quantity": 1}])
    assert created and refund.points == 10 and refund.lines == [{"sku": "B", "quantity": "1"}]
    assert _account(member).available == 70
    entry = PointEntry.objects.get(kind="reverse")
    assert entry.idempotency_key == f"refund:{order.public_id}:r-1"
    order.refresh_from_db()
    assert order.points_reversed == 10


def test_refund_by_amount_is_proportional_to_the_total(shop, member, rules):
    order, _ = order_record(shop=shop, data=order_data())
    refund, _ = order_refund(order=order, external_id="r-1", amount=D("62.50"))
    assert refund.points == 40 and refund.amount == D("62.50")  # 80 x 62.50 / 125.00


def test_a_refund_after_the_rules_changed_reverses_what_was_awarded(shop, member, rules):
    order, _ = order_record(shop=shop, data=order_data())
    EarningRule.objects.update(points=10)  # now 10 points per 1.00
    EarningRule.objects.filter(kind="exclusion").delete()
    refund, _ = order_refund(order=order, external_id="r-1", lines=[{"sku": "A", "quantity": 2}])
    assert refund.points == 50
    refund, _ = order_refund(order=order, external_id="r-2", lines=[{"sku": "GC", "quantity": 1}])
    assert refund.points == 0
    assert _account(member).available == 30


def test_partial_refunds_never_exceed_what_the_order_earned(shop, member, rules):
    order, _ = order_record(shop=shop, data=order_data())
    parts = [("B", 1), ("B", 1), ("A", 1), ("B", 1), ("A", 1), ("GC", 1)]
    for i, (sku, quantity) in enumerate(parts):
        order_refund(order=order, external_id=f"r-{i}", lines=[{"sku": sku, "quantity": quantity}])
    assert sum(Refund.objects.values_list("points", flat=True)) == 80
    with pytest.raises(ApplicationError) as error:
        order_refund(order=order, external_id="r-more", lines=[{"sku": "A", "quantity": 1}])
    assert error.value.code == "refund_exceeds_order" and error.value.status == 422
    for i, amount in enumerate(["0.01", "100.00", "24.99"]):  # amounts on top, up to the total
        order_refund(order=order, external_id=f"m-{i}", amount=D(amount))
    order.refresh_from_db()
    assert order.points_reversed == 80 and _account(member).available == 0


def test_amount_refunds_add_up_to_exactly_the_points(shop, member, rules):
    order, _ = order_record(shop=shop, data=order_data())
    for i in range(5):
        order_refund(order=order, external_id=f"r-{i}", amount=D("25.00"))
    assert list(Refund.objects.values_list("points", flat=True)) == [16, 16, 16, 16, 16]
    with pytest.raises(ApplicationError) as error:
        order_refund(order=order, external_id="r-5", amount=D("0.01"))
    assert error.value.code == "refund_exceeds_order"
    assert not Refund.objects.filter(external_id="r-5").exists()


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"lines": [{"sku": "NOPE", "quantity": 1}]}, "refund_unknown_line"),
        ({"lines": [{"sku": "A", "quantity": 3}]}, "refund_exceeds_order"),
        ({"amount": D("125.01")}, "refund_exceeds_order"),
    ],
)
def test_an_impossible_refund_is_422_and_changes_nothing(shop, member, rules, kwargs, code):
    order, _ = order_record(shop=shop, data=order_data())
    with pytest.raises(ApplicationError) as error:
        order_refund(order=order, external_id="r-1", **kwargs)
    assert error.value.code == code and error.value.status == 422
    assert not Refund.objects.exists() and _account(member).available == 80


def test_refund_replay_returns_the_first_and_another_body_is_409(shop, member, rules):
    order, _ = order_record(shop=shop, data=order_data())
    first, _ = order_refund(order=order, external_id="r-1", lines=[{"sku": "B", "quantity": 1}])
    again, created = order_refund(order=order, external_id="r-1", lines=[{"sku": "B", "quantity": D("1.000")}])
    assert not created and again.pk == first.pk
    with pytest.raises(ApplicationError) as error:
        order_refund(order=order, external_id="r-1", lines=[{"sku": "B", "quantity": 2}])
    assert error.value.code == "idempotency_conflict" and error.value.status == 409
    with pytest.raises(ApplicationError):
        order_refund(order=order, external_id="r-1", amount=D("10"))
    assert _account(member).available == 70 and PointEntry.objects.filter(kind="reverse").count() == 1


def test_a_refund_in_the_return_window_voids_pending_points(shop, member, rules):
    program = program_get()
    program.pending_days = 30
    program.save()
    order, _ = order_record(shop=shop, data=order_data())
    order_refund(order=order, external_id="r-1", lines=[{"sku": "A", "quantity": 2}])
    account = _account(member)
    assert account.pending == 30 and account.available == 0
    order.lot.refresh_from_db()
    assert order.lot.remaining == 30 and order.lot.state == PointLot.State.PENDING


def test_refunding_an_unmatched_order_records_it_with_no_points(shop, rules):
    order, _ = order_record(shop=shop, data=order_data())
    refund, _ = order_refund(order=order, external_id="r-1", amount=D("10.00"))
    assert refund.points == 0 and not PointEntry.objects.exists()


# --- order_cancel ---------------------------------------------------------------------------------


def test_cancel_reverses_what_is_left_and_is_idempotent(shop, member, rules):
    order, _ = order_record(shop=shop, data=order_data())
    order_refund(order=order, external_id="r-1", lines=[{"sku": "B", "quantity": 3}])
    order, reversed_now = order_cancel(order=order)
    assert reversed_now == 50 and order.status == Order.Status.CANCELLED and order.points_reversed == 80
    assert _account(member).available == 0
    order, reversed_now = order_cancel(order=order)
    assert reversed_now == 0 and PointEntry.objects.filter(kind="reverse").count() == 2
    with pytest.raises(ApplicationError) as error:
        order_refund(order=order, external_id="r-2", amount=D("1.00"))
    assert error.value.code == "order_cancelled" and error.value.status == 422


def test_cancel_of_a_fully_refunded_or_unmatched_order_writes_no_entry(shop, member, rules):
    order, _ = order_record(shop=shop, data=order_data())
    order_refund(order=order, external_id="r-1", amount=D("125.00"))
    assert order_cancel(order=order)[1] == 0
    unmatched, _ = order_record(shop=shop, data=order_data("o-2", member_external_id="nobody"))
    assert order_cancel(order=unmatched)[0].status == Order.Status.CANCELLED
    assert PointEntry.objects.filter(kind="reverse").count() == 1


def test_the_order_is_kept_after_the_member_spent_the_points(shop, member, rules):
    from rewards.services.ledger import Actor, points_redeem

    order, _ = order_record(shop=shop, data=order_data())
    points_redeem(account=member.points_account, points=70, reason="Voucher", actor=Actor.system(), idempotency_key="x")
    order_refund(order=order, external_id="r-1", lines=[{"sku": "A", "quantity": 2}])
    assert _account(member).available == 0  # the program's default policy takes it from the balance


# --- racing copies (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_copies_of_one_order_at_once_make_one_order_and_one_earn(shop, rules):
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    data = order_data()
    n = 6
    results = run_at_once(n, lambda _: order_record(shop=shop, data=data))
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(created for _, created in results) == [False] * (n - 1) + [True]
    assert len({order.pk for order, _ in results}) == 1
    assert Order.objects.count() == 1 and PointEntry.objects.filter(kind="earn").count() == 1
    assert _account(member).available == 80


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_copies_of_one_refund_at_once_reverse_once(shop, rules):
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    order, _ = order_record(shop=shop, data=order_data())
    n = 6

    def refund_or_cancel(i):
        # half the copies are the refund, half a cancel racing it
        if i % 2:
            return order_refund(
                order=Order.objects.get(pk=order.pk), external_id="r-1", lines=[{"sku": "A", "quantity": 1}]
            )
        return order_cancel(order=Order.objects.get(pk=order.pk))

    results = run_at_once(n, refund_or_cancel)
    assert all(isinstance(r, tuple) or getattr(r, "code", "") == "order_cancelled" for r in results), results
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.points_reversed == 80
    assert Refund.objects.count() <= 1 and _account(member).available == 0


# --- matching unmatched orders when the customer joins ----------------------------------------------


def test_an_unmatched_order_earns_when_the_customer_joins(shop, rules):
    order, _ = order_record(shop=shop, data=order_data(member_external_id="cust-9"))
    assert order.status == Order.Status.UNMATCHED
    member, created = member_upsert(shop=shop, external_id="cust-9", email="new@example.com")
    assert created
    order.refresh_from_db()
    assert order.status == Order.Status.AWARDED and order.member == member and order.points == 80
    assert order.lot.source_ref == "o-1" and order.breakdown["member_id"] == str(member.public_id)
    assert _account(member).available == 80
    member_upsert(shop=shop, external_id="cust-9", email="new@example.com")  # again: nothing more
    assert PointEntry.objects.count() == 1


def test_an_unmatched_order_matches_by_email_from_any_shop(shop, rules):
    other = shop_create(name="Other shop")
    order_record(shop=other, data=order_data(member_external_id=None, email="New@Example.com"))
    member, _ = member_upsert(shop=shop, email="new@example.com")
    assert Order.objects.get().member == member and _account(member).available == 80


def test_matching_keeps_the_return_window_from_the_placing_time(shop, rules):
    program = program_get()
    program.pending_days = 14
    program.save()
    order_record(
        shop=shop, data=order_data("old", member_external_id="cust-9", placed_at=timezone.now() - dt.timedelta(days=20))
    )
    order_record(shop=shop, data=order_data("new", member_external_id="cust-9"))
    member, _ = member_upsert(shop=shop, external_id="cust-9", email="new@example.com")
    states = dict(Order.objects.values_list("external_id", "lot__state"))
    assert states == {"old": PointLot.State.AVAILABLE, "new": PointLot.State.PENDING}
    assert _account(member).available == 80 and _account(member).pending == 80


def test_refunds_before_matching_take_their_share_when_it_matches(shop, rules):
    order, _ = order_record(shop=shop, data=order_data(member_external_id="cust-9"))
    order_refund(order=order, external_id="r-1", lines=[{"sku": "A", "quantity": 1}])
    order_refund(order=order, external_id="r-2", amount=D("12.50"))
    member, _ = member_upsert(shop=shop, external_id="cust-9", email="new@example.com")
    order.refresh_from_db()
    assert list(order.refunds.values_list("points", flat=True)) == [25, 8]
    assert order.points == 80 and order.points_reversed == 33 and _account(member).available == 47
    refund, _ = order_refund(order=order, external_id="r-3", lines=[{"sku": "A", "quantity": 1}])
    assert refund.points == 25 and _account(member).available == 22


def test_cancelled_unmatched_orders_are_not_matched(shop, rules):
    order, _ = order_record(shop=shop, data=order_data(member_external_id="cust-9"))
    order_cancel(order=order)
    member, _ = member_upsert(shop=shop, external_id="cust-9", email="new@example.com")
    assert Order.objects.get().member is None and not PointEntry.objects.exists()


def test_a_closed_members_order_is_422_and_not_kept(shop, member, rules):
    from members.services import member_close
    from rewards.services.ledger import Actor

    member_close(member=member, actor=Actor.system("t"))
    with pytest.raises(ApplicationError) as error:
        order_record(shop=shop, data=order_data())
    assert error.value.code == "member_not_active" and error.value.status == 422
    assert not Order.objects.exists()
