"""Store credit: add and spend, never below zero, idempotent, append-only entries behind the balance."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from members.tests.factories import member_create
from rewards.models import StoreCreditAccount, StoreCreditEntry
from rewards.services.store_credit import store_credit_add, store_credit_spend
from rewards.tests.helpers import refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return member_create()


def add(member, amount, *, key, currency="EUR", kind="cashback"):
    return store_credit_add(
        member=member, amount=Decimal(amount), currency=currency, kind=kind, reason="Cashback", idempotency_key=key
    )


def spend(member, amount, *, key, currency="EUR"):
    return store_credit_spend(
        member=member, amount=Decimal(amount), currency=currency, reason="Order o-1", idempotency_key=key
    )


def test_add_then_spend_keeps_a_balance_per_currency_with_its_entries(member):
    add(member, "10.00", key="a")
    add(member, "2.50", key="b", kind="dividend")
    add(member, "7.00", key="c", currency="USD")
    entry = spend(member, "4.25", key="d")

    assert (entry.amount, entry.balance_after, entry.kind) == (Decimal("-4.25"), Decimal("8.25"), "spend")
    balances = dict(StoreCreditAccount.objects.filter(member=member).values_list("currency", "balance"))
    assert balances == {"EUR": Decimal("8.25"), "USD": Decimal("7.00")}
    eur = StoreCreditAccount.objects.get(member=member, currency="EUR")
    assert sum(e.amount for e in eur.entries.all()) == eur.balance


def test_spending_more_than_the_balance_is_refused_and_changes_nothing(member):
    add(member, "5.00", key="a")
    with refused("insufficient_store_credit", 422) as info:
        spend(member, "5.01", key="b")
    assert info.value.extra == {"balance": "5.00", "requested": "5.01", "currency": "EUR"}
    assert StoreCreditEntry.objects.count() == 1
    with refused("insufficient_store_credit", 422):
        spend(member, "1.00", key="c", currency="GBP")  # no account in that currency: zero


def test_a_closed_members_credit_is_not_spent(member):
    from members.services import member_close
    from rewards.services.ledger import Actor

    add(member, "5.00", key="a")
    member_close(member=member, actor=Actor.system("tests"))
    with refused("member_not_active", 422):
        spend(member, "1.00", key="s")
    assert StoreCreditAccount.objects.get(member=member).balance == Decimal("5.00")
    assert not StoreCreditEntry.objects.filter(kind="spend").exists()


def test_a_replayed_key_returns_the_first_entry_and_another_amount_is_a_conflict(member):
    first = add(member, "10.00", key="a")
    assert add(member, "10.00", key="a").pk == first.pk
    assert StoreCreditAccount.objects.get(member=member).balance == Decimal("10.00")
    with refused("idempotency_conflict", 409):
        add(member, "11.00", key="a")
    with refused("idempotency_conflict", 409):
        spend(member, "10.00", key="a")


@pytest.mark.parametrize("amount", ["0", "-1", "0.001", "NaN", "Infinity", "1000000.01", "abc"])
def test_bad_amounts_are_refused(member, amount):
    with refused("invalid_amount", 400):
        store_credit_add(member=member, amount=amount, currency="EUR", kind="cashback", reason="x", idempotency_key="k")


def test_bad_currency_kind_reason_or_key_are_refused(member):
    base = {"member": member, "amount": Decimal(1), "currency": "EUR", "kind": "cashback", "reason": "x"}
    with refused("invalid_currency", 400):
        store_credit_add(**{**base, "currency": "eur"}, idempotency_key="k")
    with refused("invalid_kind", 400):
        store_credit_add(**{**base, "kind": "gift"}, idempotency_key="k")
    with refused("reason_required", 400):
        store_credit_add(**{**base, "reason": " "}, idempotency_key="k")
    with refused("invalid_key", 400):
        store_credit_add(**base, idempotency_key="")


def test_the_database_refuses_a_negative_balance(member):
    add(member, "1.00", key="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        StoreCreditAccount.objects.filter(member=member).update(balance=Decimal("-1"))


@pytest.mark.postgres
def test_entries_are_append_only_on_postgresql(member):
    assert connection.vendor == "postgresql"
    entry = add(member, "1.00", key="a")
    with pytest.raises(DatabaseError), transaction.atomic():
        StoreCreditEntry.objects.filter(pk=entry.pk).update(reason="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        StoreCreditEntry.objects.filter(pk=entry.pk).delete()
