"""Property test: any sequence of sales, bonuses, redemptions (of points, and of rewards later given back),
refunds, expiries, transfers, negative adjustments and estimate changes, posted at any moments, under any
posting policy, keeps the journal balanced and each liability account equal to its outstanding lots' value
(accounting_audit finds nothing, the roll-forward reconciles to the cent). Each example runs in a savepoint
that is rolled back."""

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounting.models import AccountingPolicy, JournalLine
from accounting.selectors import accounting_audit, liability_rollforward
from accounting.services.policy import redemption_rate_set
from accounting.tests.conftest import sale
from accounting.tests.helpers import post
from core.exceptions import ApplicationError
from integrations.models import Order
from integrations.services.members import member_upsert
from rewards.models import Redemption, Reward
from rewards.services.coupons import redemption_points_refund
from rewards.services.ledger import (
    Actor,
    points_adjust,
    points_earn,
    points_expire,
    points_redeem,
    points_reverse,
    points_transfer,
)
from rewards.services.redemptions import reward_redeem
from rewards.tests.helpers import set_program

SYSTEM = Actor.system("property-test")
CUSTOMERS = ("cust-1", "cust-2")


class _Rollback(Exception):
    pass


who = st.integers(0, 1)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("sale"), who, st.integers(1, 200_000)),  # price in cents
        st.tuples(st.just("bonus"), who, st.integers(1, 5_000)),
        st.tuples(st.just("redeem"), who, st.integers(1, 100)),  # percent of what is available
        st.tuples(st.just("reward"), who, st.integers(1, 100)),  # a reward costing that percent
        st.tuples(st.just("give_back"), who, st.just(0)),  # the member's last redemption's points returned
        st.tuples(st.just("reverse"), who, st.integers(1, 100)),
        st.tuples(st.just("expire"), who, st.just(0)),
        st.tuples(st.just("adjust"), who, st.integers(1, 100)),
        st.tuples(st.just("transfer"), who, st.integers(1, 100)),
        st.tuples(st.just("rate"), st.just(0), st.integers(1, 100)),  # percent
        st.tuples(st.just("post"), st.just(0), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture
def members(shop, rules):
    set_program(transfers_enabled=True)
    return [member_upsert(shop=shop, external_id=c, email=f"{c}@example.com")[0] for c in CUSTOMERS]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    ops=operations,
    purchase=st.sampled_from(AccountingPolicy.Purchase.values),
    no_sale=st.sampled_from(AccountingPolicy.NoSale.values),
    face=st.sampled_from([Decimal("0.01"), Decimal("0.5"), Decimal(1)]),
    rate=st.integers(1, 100),
)
def test_any_sequence_keeps_the_journal_balanced_and_equal_to_the_lots(
    shop, members, ops, purchase, no_sale, face, rate
):
    try:
        with transaction.atomic():
            AccountingPolicy.objects.update_or_create(
                pk=1,
                defaults={
                    "purchase_policy": purchase,
                    "no_sale_policy": no_sale,
                    "point_face_value": face,
                    "expected_redemption_rate": Decimal(rate) / 100,
                },
            )
            for n, (op, m, amount) in enumerate(ops):
                _apply(shop, members, n, op, m, amount)
            post()
            assert accounting_audit() == []
            report = liability_rollforward()
            assert report.differences == {}
            assert all(row.balances for row in report.rows)
            lines = JournalLine.objects.all()
            assert sum(line.debit for line in lines) == sum(line.credit for line in lines)
            raise _Rollback
    except _Rollback:
        pass


def _apply(shop, members, n: int, op: str, m: int, amount: int) -> None:
    member = members[m]
    account = member.points_account
    account.refresh_from_db()
    key = f"op-{n}"
    try:
        if op == "sale":
            sale(shop, Decimal(amount) / 100, customer=CUSTOMERS[m])
        elif op == "bonus":
            points_earn(account=account, points=amount, source="bonus", actor=SYSTEM, idempotency_key=key)
        elif op == "redeem" and account.available:
            points = max(1, account.available * amount // 100)
            points_redeem(account=account, points=points, reason="r", actor=SYSTEM, idempotency_key=key)
        elif op == "reward" and account.available:
            points = max(1, account.available * amount // 100)
            reward = Reward.objects.create(kind="fixed_amount", title=key, points=points, value=Decimal(5))
            reward_redeem(member=member, reward=reward, idempotency_key=key, channel="web")
        elif op == "give_back":
            redemption = (
                Redemption.objects.filter(member=member, status=Redemption.Status.COMPLETED).order_by("-pk").first()
            )
            if redemption is not None:
                redemption_points_refund(redemption=redemption, actor=SYSTEM, reason="given back")
        elif op == "reverse":
            order = Order.objects.filter(member=member, lot__isnull=False).order_by("-pk").first()
            if order is not None:
                left = order.lot.points - order.lot.reversed_points
                if left:
                    points = max(1, left * amount // 100)
                    points_reverse(lot=order.lot, points=points, reason="refund", actor=SYSTEM, idempotency_key=key)
        elif op == "expire" and account.available + account.pending:
            points_expire(account=account, actor=SYSTEM, idempotency_key=key, reason="closed", everything=True)
        elif op == "adjust" and account.available:
            points = max(1, account.available * amount // 100)
            points_adjust(account=account, points=-points, reason="taken back", actor=SYSTEM, idempotency_key=key)
        elif op == "transfer" and account.available:
            points = max(1, account.available * amount // 100)
            target = members[1 - m].points_account
            points_transfer(
                source=account, target=target, points=points, reason="gift", actor=SYSTEM, idempotency_key=key
            )
        elif op == "rate":
            redemption_rate_set(rate=Decimal(amount) / 100, source="override", reason="review")
        elif op == "post":
            post()
    except ApplicationError:
        pass  # a refusal the ledger is right to make (e.g. nothing left to reverse)
