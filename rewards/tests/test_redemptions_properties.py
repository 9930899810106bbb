"""Any sequence of redemptions, coupon uses and order cancellations keeps the catalogue's invariants: units
issued = completed redemptions (never past the stock), each limit holds, a coupon is used by at most one order,
store credit = the sum of its entries, and the points ledger audits clean."""

import itertools
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.exceptions import ApplicationError
from integrations.models import Order
from integrations.services.members import member_upsert
from integrations.services.orders import order_cancel, order_record
from integrations.services.shops import shop_create
from rewards.models import Coupon, Redemption, StoreCreditAccount
from rewards.selectors import ledger_audit
from rewards.services.coupons import coupon_redeem
from rewards.services.redemptions import reward_redeem
from rewards.tests.helpers import set_program
from rewards.tests.test_catalogue import points_for, reward_make

pytestmark = pytest.mark.django_db

_run = itertools.count()

operations = st.lists(
    st.one_of(
        st.tuples(st.just("redeem"), st.integers(0, 1), st.integers(0, 2), st.integers(0, 3)),
        st.tuples(st.just("use"), st.integers(0, 5), st.integers(0, 2)),
        st.tuples(st.just("cancel"), st.integers(0, 2)),
    ),
    max_size=15,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, refund=st.booleans())
def test_any_sequence_keeps_the_invariants(db, ops, refund):
    run = next(_run)
    set_program(cancelled_order_coupons="refund_points" if refund else "release")
    shop = shop_create(name=f"Shop {run}")
    members = []
    for i in range(2):
        member, _ = member_upsert(shop=shop, external_id=f"c{i}", email=f"m{run}-{i}@example.com")
        members.append(points_for(member, 600))
    rewards = [
        reward_make(title=f"Stock {run}", points=100, stock_total=3),
        reward_make(title=f"Once {run}", points=150, limit_per_member=1),
        reward_make("store_credit", title=f"Credit {run}", points=200, value=Decimal("2.50")),
    ]
    orders: dict[int, Order] = {}
    for op in ops:
        try:
            if op[0] == "redeem":
                _, m, r, k = op
                reward_redeem(member=members[m], reward=rewards[r], idempotency_key=f"k{k}", channel="web")
            elif op[0] == "use":
                _, c, o = op
                coupons = list(Coupon.objects.filter(reward__in=rewards).order_by("pk"))
                if c < len(coupons):
                    if o not in orders:
                        orders[o], _ = order_record(shop=shop, data=_order(f"{run}-o{o}"))
                    coupon_redeem(code=coupons[c].code, shop=shop, order_external_id=orders[o].external_id)
            elif op[1] in orders:
                order_cancel(order=orders[op[1]])
        except ApplicationError:
            pass

        for reward in rewards:
            reward.refresh_from_db()
            completed = Redemption.objects.filter(reward=reward, status="completed").count()
            assert reward.units_issued == completed
            assert reward.stock_total is None or reward.units_issued <= reward.stock_total
        for member in members:
            once = Redemption.objects.filter(member=member, reward=rewards[1], status="completed").count()
            assert once <= 1
        for coupon in Coupon.objects.filter(reward__in=rewards):
            assert coupon.status != "used" or coupon.used_order_external_id  # a void one keeps its order
            assert coupon.status != "issued" or not coupon.used_order_external_id
            assert (coupon.status == "void") == (coupon.redemption.status == "refunded")
        for account in StoreCreditAccount.objects.filter(member__in=members):
            assert account.balance == sum(e.amount for e in account.entries.all())
        assert ledger_audit() == []


def _order(external_id: str) -> dict:
    return {
        "external_id": external_id,
        "member_external_id": "c0",
        "currency": "EUR",
        "total": Decimal("30.00"),
        "subtotal": Decimal("30.00"),
        "tax": Decimal(0),
        "shipping": Decimal(0),
        "discount": Decimal(0),
        "placed_at": timezone.now(),
        "lines": [],
        "coupon_codes": [],
    }
