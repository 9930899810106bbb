"""points_earn_with_lot: points_earn that also hands back the lot, and its `key_is_new` mode for a caller
whose own unique constraint already makes the key new (order_record)."""

import pytest
from django.db import IntegrityError, connection, transaction

from members.services import member_close
from rewards.models import PointLot
from rewards.selectors import ledger_audit, program_get
from rewards.services.ledger import points_earn_with_lot
from rewards.tests.helpers import SHOP, SYSTEM, balances, ledger_counts, new_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _audit():
    yield
    assert ledger_audit() == []


def _earn(account, points=40, **kwargs):
    kwargs.setdefault("idempotency_key", new_key("order"))
    return points_earn_with_lot(account=account, points=points, source=PointLot.Source.ORDER, actor=SHOP, **kwargs)


def test_it_returns_the_entry_and_its_lot_and_a_replay_the_first_ones(account):
    entry, lot = _earn(account, idempotency_key="order:1")
    assert str(lot.public_id) == entry.details["lot"] and lot.points == lot.remaining == 40
    again, again_lot = _earn(account, idempotency_key="order:1")
    assert (again.pk, again_lot.pk) == (entry.pk, lot.pk)
    assert balances(account)["available"] == 40 and ledger_counts() == (1, 1, 1)


def test_a_new_key_earns_with_the_callers_program_in_fewer_queries(account, django_assert_num_queries):
    program = program_get()
    writes = 1 if connection.vendor == "postgresql" else 4  # lot, entry, movement, account: one statement on PostgreSQL
    # savepoint, account lock with its member, key check, the writes, release
    with django_assert_num_queries(4 + writes):
        _earn(account, program=program)
    # account lock with its member, the writes: no savepoint, no key check
    with transaction.atomic(), django_assert_num_queries(1 + writes):
        entry, lot = _earn(account, program=program, key_is_new=True)
    assert lot.account_id == account.pk and entry.available_change == 40
    assert balances(account)["available"] == 80


def test_key_is_new_with_a_used_key_fails_the_whole_transaction(account):
    _earn(account, idempotency_key="order:1")
    before = ledger_counts()
    with pytest.raises(IntegrityError), transaction.atomic():
        _earn(account, idempotency_key="order:1", key_is_new=True)
    assert ledger_counts() == before and balances(account)["available"] == 40


def test_key_is_new_still_refuses_a_closed_member(account):
    member_close(member=account.member, actor=SYSTEM)
    with pytest.raises(Exception, match="closed"), transaction.atomic():
        _earn(account, key_is_new=True)
    assert ledger_counts() == (0, 0, 0)
