"""Redemptions racing on PostgreSQL: real threads, each with its own connection (skipped on SQLite)."""

from collections import Counter

import pytest

from core.exceptions import ApplicationError
from core.tests.concurrency import run_at_once
from integrations.services.shops import shop_create
from members.tests.factories import member_create
from rewards.models import Coupon, PointEntry, Redemption, Reward
from rewards.selectors import ledger_audit
from rewards.services.coupons import coupon_redeem
from rewards.services.redemptions import reward_redeem
from rewards.tests.helpers import balances
from rewards.tests.test_catalogue import points_for, reward_make

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def codes(results: list) -> Counter:
    return Counter(
        "ok" if not isinstance(r, Exception) else r.code if isinstance(r, ApplicationError) else type(r).__name__
        for r in results
    )


def test_fifty_members_racing_for_the_last_ten_units_get_exactly_ten():
    reward = reward_make(points=100, stock_total=60, units_issued=50)
    members = [points_for(member_create(), 100) for _ in range(50)]

    results = run_at_once(
        50,
        lambda i: reward_redeem(member=members[i], reward=reward, idempotency_key="buy", channel="web"),
    )

    assert codes(results) == {"ok": 10, "out_of_stock": 40}, results
    assert Reward.objects.get(pk=reward.pk).units_issued == 60
    assert Redemption.objects.count() == Coupon.objects.count() == 10
    assert PointEntry.objects.filter(kind="redeem").count() == 10
    assert sum(balances(m.points_account)["available"] for m in members) == 40 * 100
    assert ledger_audit() == []


def test_a_double_click_makes_one_redemption():
    member = points_for(member_create(), 1000)
    reward = reward_make(points=100)

    results = run_at_once(
        8, lambda _: reward_redeem(member=member, reward=reward, idempotency_key="click", channel="web")
    )

    assert codes(results) == {"ok": 8}, results
    assert len({redemption.pk for redemption, _created in results}) == 1
    assert sorted(created for _redemption, created in results) == [False] * 7 + [True]
    assert Redemption.objects.count() == 1 and balances(member.points_account)["available"] == 900
    assert ledger_audit() == []


def test_a_limit_of_one_raced_with_different_keys_gives_one():
    member = points_for(member_create(), 1000)
    reward = reward_make(points=100, limit_per_member=1, limit_period="ever")

    results = run_at_once(
        8, lambda i: reward_redeem(member=member, reward=reward, idempotency_key=f"tab-{i}", channel="web")
    )

    assert codes(results) == {"ok": 1, "limit_reached": 7}, results
    assert Redemption.objects.count() == 1 and balances(member.points_account)["available"] == 900


def test_two_orders_racing_for_one_coupon_one_wins():
    shop = shop_create(name="Webshop")
    member = points_for(member_create(), 1000)
    redemption, _ = reward_redeem(member=member, reward=reward_make(), idempotency_key="k", channel="web")
    code = redemption.coupon.code

    results = run_at_once(6, lambda i: coupon_redeem(code=code, shop=shop, order_external_id=f"o-{i}"))

    assert codes(results) == {"ok": 1, "coupon_used": 5}, results
    assert Coupon.objects.get(code=code).status == "used"
