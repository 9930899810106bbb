"""`manage.py audit_ledger` and the selector behind it (rewards.selectors.ledger_audit)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from rewards.models import PointEntry, PointLot, PointMovement, PointsAccount, Program
from rewards.selectors import ledger_audit
from rewards.services.ledger import points_reverse
from rewards.tests.helpers import SHOP, earn, new_key, redeem, set_program

pytestmark = pytest.mark.django_db


def audit() -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("audit_ledger", stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


@pytest.fixture
def history(account, other_account):
    """Two members with a bit of everything: pending and available lots, spending, a debt."""
    set_program(reversal_policy=Program.ReversalPolicy.DEBT)
    order = earn(account, 100)
    earn(account, 40, pending_days=3)
    redeem(account, 90)
    points_reverse(lot=order, reason="Refund", actor=SHOP, idempotency_key=new_key())
    earn(other_account, 25)
    return account, other_account


def test_a_consistent_ledger_passes_with_a_summary(history):
    out, error = audit()
    assert error is None
    assert f"Auditing 2 accounts, {PointLot.objects.count()} lots, {PointEntry.objects.count()} entries" in out
    assert "Ledger is consistent" in out
    assert ledger_audit() == []


def test_an_empty_ledger_passes():
    out, error = audit()
    assert error is None and "Auditing 0 accounts, 0 lots, 0 entries" in out


def test_a_cached_balance_changed_behind_the_ledger_is_named(history):
    account, other_account = history
    PointsAccount.objects.filter(pk=account.pk).update(available=F("available") + 5)

    out, error = audit()

    assert error is not None
    assert account.member.number in str(error) and other_account.member.number not in str(error)
    assert "1 violation(s) in 1 account(s)" in str(error)
    assert f"member {account.member.number}: [balance]" in out
    [violation] = ledger_audit()
    assert (violation.invariant, violation.account_id, violation.member_number) == (
        "balance",
        account.pk,
        account.member.number,
    )


@pytest.mark.parametrize("field", ["pending", "debt"])
def test_pending_and_debt_are_checked_too(history, field):
    account, _ = history
    PointsAccount.objects.filter(pk=account.pk).update(**{field: F(field) + 1})
    _, error = audit()
    assert error is not None and account.member.number in str(error)


def test_a_lot_changed_behind_the_ledger_is_named(history):
    _, other_account = history
    lot = PointLot.objects.get(account=other_account)
    PointLot.objects.filter(pk=lot.pk).update(remaining=20)

    _, error = audit()

    assert error is not None and other_account.member.number in str(error)
    assert {v.invariant for v in ledger_audit()} == {"lot", "balance"}


def test_a_movement_that_does_not_match_its_entry_is_named(history):
    account, _ = history
    entry = PointEntry.objects.filter(account=account, kind="earn").first()
    stray = PointLot.objects.filter(account=account).exclude(movements__entry=entry).first()
    PointMovement.objects.create(entry=entry, lot=stray, available_change=3)  # inserts are allowed

    _, error = audit()

    assert error is not None and account.member.number in str(error)
    assert "entry" in {v.invariant for v in ledger_audit()}


def test_every_broken_account_is_listed_once(history):
    account, other_account = history
    PointsAccount.objects.update(available=F("available") + 1)
    _, error = audit()
    numbers = sorted([account.member.number, other_account.member.number])
    assert str(error).endswith(", ".join(numbers))
