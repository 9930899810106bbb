"""rewards.services.ledger.points_earn_many: each item credited exactly as points_earn would credit it (compared
row by row), replays, refusals that write nothing, debts paid off, and a query count that does not grow."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection, transaction
from django.utils import timezone

from members.models import Member
from members.services import member_close
from members.tests.factories import member_create
from rewards.models import PointEntry, PointLot, PointMovement, Program
from rewards.selectors import ledger_audit
from rewards.services import ledger
from rewards.services.ledger import (
    Actor,
    Earning,
    points_earn,
    points_earn_many,
    points_earn_many_with_lots,
    points_reverse,
)
from rewards.tests.helpers import SHOP, balances, counters, earn, ledger_counts, lot_of, redeem, refused, set_program


@pytest.fixture(autouse=True)
def _audit(db):
    yield
    assert ledger_audit() == []


def _item(account, points, key, **kw) -> Earning:
    return Earning(account=account, points=points, source="order", actor=SHOP, idempotency_key=key, **kw)


def _rows(entries) -> list[tuple]:
    rows = []
    for entry in entries:
        lot = lot_of(entry)
        rows.append(
            (
                entry.account_id,
                entry.kind,
                entry.available_change,
                entry.pending_change,
                entry.idempotency_key,
                entry.reason,
                entry.actor_kind,
                entry.actor_ref,
                entry.details["requested"],
                lot.points,
                lot.remaining,
                lot.state,
                lot.source,
                lot.source_ref,
                lot.available_at,
                lot.expires_at,
                lot.value,
                lot.value_currency,
                tuple(lot.movements.values_list("entry__idempotency_key", "available_change", "pending_change")),
            )
        )
    return rows


def test_the_same_rows_and_balances_as_points_earn(monkeypatch):
    set_program(pending_days=7, expiry_policy=Program.Expiry.DAYS, expiry_period=90)
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    ana, piet = member_create().points_account, member_create().points_account
    later = now + dt.timedelta(days=7)
    items = [
        _item(ana, 10, "k1", source_ref="o-1", reason="Order o-1"),
        _item(piet, 20, "k2", available_at=later),
        _item(ana, 30, "k3", available_at=now - dt.timedelta(days=1)),  # already past: available
        _item(ana, 40, "k4", available_at=later),
    ]
    with transaction.atomic():
        one_by_one = [
            points_earn(
                account=i.account,
                points=i.points,
                source=i.source,
                actor=i.actor,
                idempotency_key=i.idempotency_key,
                source_ref=i.source_ref,
                reason=i.reason,
                available_at=i.available_at,
            )
            for i in items
        ]
        expected = (_rows(one_by_one), balances(ana), balances(piet))
        transaction.set_rollback(True)
    assert ledger_counts() == (0, 0, 0)

    entries = points_earn_many(items=items)
    assert (_rows(entries), balances(ana), balances(piet)) == expected
    assert balances(ana) == counters(available=40, pending=40, lifetime_earned=80)
    assert ana.last_activity_at == now


def test_the_callers_accounts_show_the_new_balances(db):
    account = member_create().points_account
    points_earn_many(items=[_item(account, 5, "k1"), _item(account, 7, "k2")])
    assert (account.available, account.lifetime_earned) == (12, 12)


def test_a_replayed_key_returns_the_first_entry_and_changes_nothing(db):
    account = member_create().points_account
    first = earn(account, 10, key="k1")  # its lot
    entries = points_earn_many(items=[_item(account, 10, "k1"), _item(account, 5, "k2")])
    assert lot_of(entries[0]) == first and entries[1].available_change == 5
    assert balances(account) == counters(available=15, lifetime_earned=15)


def test_with_lots_each_entry_comes_with_its_lot_as_stored(db, django_assert_num_queries):
    account = member_create().points_account
    first = earn(account, 10, key="k1")
    earned = points_earn_many_with_lots(items=[_item(account, 10, "k1"), _item(account, 5, "k2")])
    assert [lot for _, lot in earned] == [first, lot_of(earned[1][0])]
    for entry, lot in earned:
        stored = PointLot.objects.get(pk=lot.pk)
        assert str(lot.public_id) == entry.details["lot"]
        assert (lot.points, lot.state, lot.available_at, lot.expires_at) == (
            stored.points,
            stored.state,
            stored.available_at,
            stored.expires_at,
        )
    # No query reads the new lots back; on PostgreSQL one statement inserts the lots, entries and movements.
    with django_assert_num_queries(7 if connection.vendor == "postgresql" else 9):
        points_earn_many_with_lots(items=[_item(account, 3, "k3"), _item(account, 4, "k4")])


def test_a_key_used_for_something_else_refuses_the_whole_call(db):
    account = member_create().points_account
    earn(account, 10, key="k1")
    before = ledger_counts()
    with refused("idempotency_conflict", 409):
        points_earn_many(items=[_item(account, 5, "k2"), _item(account, 11, "k1")])
    assert ledger_counts() == before


def test_a_closed_member_refuses_the_whole_call_a_suspended_one_earns(db):
    closed, suspended = member_create(), member_create()
    member_close(member=closed, actor=SHOP)
    Member.objects.filter(pk=suspended.pk).update(status=Member.Status.SUSPENDED)
    with refused("member_not_active", 422):
        points_earn_many(items=[_item(suspended.points_account, 5, "k1"), _item(closed.points_account, 5, "k2")])
    assert ledger_counts() == (0, 0, 0)
    points_earn_many(items=[_item(suspended.points_account, 5, "k1")])
    assert balances(suspended.points_account)["available"] == 5


@pytest.mark.parametrize("points", [0, -1, 1.5, True])
def test_points_must_be_whole_and_positive(db, points):
    account = member_create().points_account
    with refused("invalid_points", 400):
        points_earn_many(items=[_item(account, 5, "k1"), _item(account, points, "k2")])
    assert ledger_counts() == (0, 0, 0)


def test_one_key_twice_in_a_call_is_refused(db):
    account = member_create().points_account
    with refused("duplicate_idempotency_key", 400):
        points_earn_many(items=[_item(account, 5, "k1"), _item(account, 5, "k1")])


def test_nothing_to_earn_is_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert points_earn_many(items=[]) == []


def test_a_debt_is_paid_off_first(db):
    set_program(reversal_policy=Program.ReversalPolicy.DEBT)
    debtor, other = member_create().points_account, member_create().points_account
    lot = earn(debtor, 30)
    redeem(debtor, 30)
    points_reverse(lot=lot, reason="refund", actor=SHOP, idempotency_key="rev")
    assert balances(debtor)["debt"] == 30
    points_earn_many(items=[_item(debtor, 20, "k1"), _item(other, 5, "k2"), _item(debtor, 20, "k3")])
    assert balances(debtor) == counters(available=10, lifetime_earned=40, lifetime_redeemed=30)
    assert PointEntry.objects.filter(kind="settle").count() == 2
    assert balances(other)["available"] == 5


def test_an_account_that_came_to_owe_a_debt_since_it_was_loaded_is_refused_for_a_retry(db):
    # The earnings are written before the accounts are locked, for the accounts that owed nothing when the caller
    # loaded them; a debt found under the lock refuses the call (the batch then records its orders one by one).
    set_program(reversal_policy=Program.ReversalPolicy.DEBT)
    debtor, other = member_create().points_account, member_create().points_account
    lot = earn(debtor, 30)
    redeem(debtor, 30)
    debtor.refresh_from_db()  # loaded without a debt ...
    points_reverse(lot=lot, reason="refund", actor=SHOP, idempotency_key="rev")  # ... which it owes since
    before = ledger_counts()
    with refused("accounts_changed", 409):
        points_earn_many(items=[_item(other, 5, "k1"), _item(debtor, 20, "k2")])
    assert ledger_counts() == before
    debtor.refresh_from_db()
    points_earn_many(items=[_item(other, 5, "k1"), _item(debtor, 20, "k2")])
    assert (balances(debtor)["debt"], balances(debtor)["available"]) == (10, 0)  # the 20 paid off part of the 30
    assert balances(other)["available"] == 5


@pytest.mark.parametrize("n", [5, 40])
def test_queries_do_not_grow_with_the_items(db, n, django_assert_num_queries):
    accounts = [member_create().points_account for _ in range(n)]
    items = [_item(accounts[i], i + 1, f"k{i}") for i in range(n)]
    # savepoint, locks, replays, program, lots, entries, movements (on PostgreSQL one statement), accounts, release
    with django_assert_num_queries(7 if connection.vendor == "postgresql" else 9):
        entries = points_earn_many(items=items)
    assert PointLot.objects.count() == n and [e.available_change for e in entries] == list(range(1, n + 1))


def _written(earned) -> tuple[list, list, list, list]:
    """What points_earn_many_with_lots stored and handed back, without ids: the lots', entries' and movements'
    rows (an entry's lot named by its place), and the returned lots and entries field by field."""
    lots = [lot for _, lot in earned]
    place = {str(lot.public_id): i for i, lot in enumerate(lots)}

    def fields(obj, *leave_out) -> dict:
        return {
            f.attname: getattr(obj, f.attname)
            for f in obj._meta.concrete_fields
            if f.attname not in ("id", "public_id", *leave_out)
        }

    def entry_fields(entry) -> dict:
        return {**fields(entry, "details"), "requested": entry.details["requested"], "lot": place[entry.details["lot"]]}

    stored_lots = [fields(PointLot.objects.get(pk=lot.pk)) for lot in lots]
    stored_entries = [entry_fields(PointEntry.objects.get(pk=entry.pk)) for entry, _ in earned]
    movements = [
        (place[str(m.lot.public_id)], m.entry.idempotency_key, m.available_change, m.pending_change)
        for m in PointMovement.objects.filter(entry__in=[e for e, _ in earned]).select_related("lot", "entry")
    ]
    returned = [
        (fields(lot), entry_fields(entry), lot.account, entry.account, entry.actor_user, lot._state.adding)
        for entry, lot in earned
    ]
    return stored_lots, stored_entries, sorted(movements), returned


@pytest.mark.postgres
def test_on_postgresql_one_statement_writes_and_returns_what_the_model_instances_do(monkeypatch):
    set_program(pending_days=7, expiry_policy=Program.Expiry.DAYS, expiry_period=90)
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    ana, piet = member_create(), member_create()
    items = [
        _item(ana.points_account, 10, "k1", source_ref="o-1", reason="Order o-1", value=D("1.2345")),
        _item(piet.points_account, 20, "k2", available_at=now + dt.timedelta(days=7)),
        _item(ana.points_account, 30, "k3", available_at=now - dt.timedelta(days=1)),
        Earning(
            account=piet.points_account,
            points=7,
            source=PointLot.Source.ADJUSTMENT,
            actor=Actor.staff(ana.user),
            idempotency_key="k4",
            reason="Goodwill",
        ),
    ]
    with transaction.atomic():
        with monkeypatch.context() as patch:
            patch.setattr(ledger, "_earn_insert_pg", ledger._earn_insert_orm)  # the instances' way, on PostgreSQL
            expected = _written(points_earn_many_with_lots(items=items))
            expected_balances = balances(ana.points_account), balances(piet.points_account)
        transaction.set_rollback(True)
    assert ledger_counts() == (0, 0, 0)

    written = _written(points_earn_many_with_lots(items=items))
    assert written == expected
    assert (balances(ana.points_account), balances(piet.points_account)) == expected_balances
    assert written[3][3][4] == ana.user and not written[3][0][5]  # the staff user; saved instances


# --- lot ids taken in advance (PostgreSQL: an order inserted naming its lot) ---------------------------


@pytest.mark.postgres
def test_new_lots_take_the_ids_given_and_others_are_left_to_the_sequence(db):
    from core.db import sql_next_ids

    ana, piet = member_create().points_account, member_create().points_account
    given = sql_next_ids(PointLot, 2)
    assert len(set(given)) == 2
    earned = points_earn_many_with_lots(
        items=[_item(ana, 10, "k1", lot_id=given[0]), _item(piet, 20, "k2"), _item(ana, 30, "k3", lot_id=given[1])]
    )
    lots = [lot for _entry, lot in earned]
    assert [lots[0].pk, lots[2].pk] == given and lots[1].pk not in given
    assert {lot.pk: lot.points for lot in PointLot.objects.all()} == {lots[0].pk: 10, lots[1].pk: 20, lots[2].pk: 30}


@pytest.mark.postgres
def test_a_debt_paying_earn_and_a_single_earn_take_the_id_given_too(db):
    from core.db import sql_next_ids

    set_program(reversal_policy=Program.ReversalPolicy.DEBT)
    account = member_create().points_account
    earn(account, 30, key="d:earn")
    redeem(account, 30, key="d:spend")
    points_reverse(lot=PointLot.objects.get(), reason="clawback", actor=SHOP, idempotency_key="d:rev")
    account.refresh_from_db()
    assert account.debt == 30
    first, second = sql_next_ids(PointLot, 2)
    [(_entry, lot)] = points_earn_many_with_lots(items=[_item(account, 50, "k1", lot_id=first)])  # through points_earn
    assert lot.pk == first and PointLot.objects.get(pk=first).remaining == 20
    _entry, lot = ledger.points_earn_with_lot(
        account=account, points=5, source="order", actor=SHOP, idempotency_key="k2", lot_id=second
    )
    assert lot.pk == second and PointLot.objects.get(pk=second).points == 5
