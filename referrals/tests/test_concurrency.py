"""Races of the referral program (PostgreSQL, real threads with their own connections): orders of one friend at
the same moment make one referrer reward, release runs at once grant once, and a friend who joins through two
paths at once is referred once."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core.tests.concurrency import run_at_once
from integrations.services.members import member_upsert
from integrations.services.orders import order_record
from integrations.services.orders_batch import orders_record_batch
from referrals.models import Referral, ReferralReward
from referrals.services import referral_code_get_or_create, referral_join, referral_rewards_release
from rewards.selectors import ledger_audit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _audit():
    yield
    assert ledger_audit() == []


@pytest.fixture
def anna(shop, program):
    member, _ = member_upsert(shop=shop, external_id="anna", email="anna@example.com", first_name="Anna")
    return member


@pytest.fixture
def ben(shop, anna):
    """Anna's friend, referred and not qualified yet."""
    member, _ = member_upsert(shop=shop, external_id="ben", email="ben@example.com")
    referral_join(friend=member, code=referral_code_get_or_create(member=anna).code)
    return member


def data(external_id, member, **extra):
    return {
        "external_id": external_id,
        "member_id": member.public_id,
        "currency": "EUR",
        "total": Decimal("50.00"),
        "placed_at": timezone.now(),
        **extra,
    }


def _ok(results):
    assert not [r for r in results if isinstance(r, Exception)], results
    return results


def test_orders_of_one_friend_at_once_make_one_referrer_reward(shop, ben):
    _ok(run_at_once(4, lambda i: order_record(shop=shop, data=data(f"o-{i}", ben))))
    assert ReferralReward.objects.filter(side="referrer").count() == 1
    assert Referral.objects.get(friend=ben).status == "qualified"


def test_each_of_n_orders_at_once_makes_at_most_n_rewards(shop, ben, program):
    program.trigger, program.orders_count = "each_order", 2
    program.save()
    _ok(run_at_once(4, lambda i: order_record(shop=shop, data=data(f"o-{i}", ben))))
    rewards = ReferralReward.objects.filter(side="referrer").order_by("sequence")
    assert [r.sequence for r in rewards] == [1, 2] and len({r.order_id for r in rewards}) == 2


def test_two_batches_with_orders_of_one_friend_make_one_reward(shop, ben):
    results = _ok(run_at_once(2, lambda i: orders_record_batch(shop=shop, orders=[data(f"b-{i}", ben)])))
    assert [r[0].status for r in results] == [201, 201]
    assert ReferralReward.objects.filter(side="referrer").count() == 1


def test_release_runs_at_once_grant_once(shop, anna, ben):
    order_record(shop=shop, data=data("o-1", ben))
    later = timezone.now() + dt.timedelta(days=15)
    granted = _ok(run_at_once(3, lambda i: referral_rewards_release(now=later)))
    assert sum(granted) == 1
    anna.points_account.refresh_from_db()
    assert anna.points_account.available == 500
    assert ReferralReward.objects.get(side="referrer").status == "granted"


def test_one_friend_joining_with_two_codes_at_once_is_referred_once(shop, anna):
    carl, _ = member_upsert(shop=shop, external_id="carl", email="carl@example.com", first_name="Carl")
    codes = [referral_code_get_or_create(member=m).code for m in (anna, carl)]
    friend, _ = member_upsert(shop=shop, external_id="ben", email="ben@example.com")
    results = _ok(run_at_once(2, lambda i: referral_join(friend=friend, code=codes[i])))
    assert results[0].pk == results[1].pk  # the one that lost the race answers with the winner's referral
    assert Referral.objects.filter(friend=friend).exclude(status="rejected").count() == 1
    assert ReferralReward.objects.filter(side="friend").count() == 1
    friend.points_account.refresh_from_db()
    assert friend.points_account.available == 100


def test_one_new_customer_registered_twice_at_once_with_a_code_is_referred_once(shop, anna):
    """Two identical POST /members at once: one makes the member (a new friend), the other finds it (an existing
    member, refused); whichever joins first, one referral is live and the welcome reward is given once."""
    code = referral_code_get_or_create(member=anna).code
    results = _ok(
        run_at_once(
            2, lambda i: member_upsert(shop=shop, external_id="ben", email="ben@example.com", referral_code=code)
        )
    )
    assert sorted(created for _member, created in results) == [False, True]
    friend = results[0][0]
    assert Referral.objects.filter(friend=friend).exclude(status="rejected").count() == 1
    friend.points_account.refresh_from_db()
    assert friend.points_account.available == 100


def test_an_order_with_a_code_and_the_members_api_at_once(shop, anna):
    """The order path and the members path for one customer at once: never two live referrals, never a
    deadlock; the friend's welcome reward at most once."""
    code = referral_code_get_or_create(member=anna).code
    friend, _ = member_upsert(shop=shop, external_id="ben", email="ben@example.com")

    def work(i):
        if i == 0:
            return member_upsert(shop=shop, external_id="ben", referral_code=code)
        return order_record(shop=shop, data=data("o-1", friend, referral_code=code))

    _ok(run_at_once(2, work))
    assert Referral.objects.filter(friend=friend).exclude(status="rejected").count() <= 1
    assert ReferralReward.objects.filter(side="friend").count() <= 1
