"""The referral's life end to end through the services: join, order, window, grant, refund."""

import datetime as dt

from django.utils import timezone

from integrations.services.orders import order_cancel, order_record
from members.tests.factories import member_create
from referrals.models import Referral, ReferralReward
from referrals.services import referral_code_get_or_create, referral_join, referral_rewards_release


def _order(shop, member, external_id, total="50.00"):
    order, _ = order_record(
        shop=shop,
        data={
            "external_id": external_id,
            "member_id": member.public_id,
            "currency": "EUR",
            "total": total,
            "placed_at": timezone.now(),
        },
    )
    return order


def test_friend_order_rewards_referrer_after_window(shop, program):
    anna = member_create(email="anna@example.com", first_name="Anna")
    code = referral_code_get_or_create(member=anna).code
    ben = member_create(email="ben@example.com")
    referral = referral_join(friend=ben, code=code)
    assert referral.status == Referral.Status.SIGNED_UP
    ben.points_account.refresh_from_db()
    assert ben.points_account.available == 100

    _order(shop, ben, "o-1")
    referral.refresh_from_db()
    assert referral.status == Referral.Status.QUALIFIED
    reward = ReferralReward.objects.get(referral=referral, side="referrer")
    assert reward.status == "pending"
    assert referral_rewards_release() == 0
    assert referral_rewards_release(now=timezone.now() + dt.timedelta(days=15)) == 1
    anna.points_account.refresh_from_db()
    assert anna.points_account.available == 500
    referral.refresh_from_db()
    assert referral.status == Referral.Status.REWARDED


def test_cancel_reverses_pending_reward(shop, program):
    anna = member_create(email="anna@example.com", first_name="Anna")
    ben = member_create(email="ben@example.com")
    referral = referral_join(friend=ben, code=referral_code_get_or_create(member=anna).code)
    order = _order(shop, ben, "o-1")
    order_cancel(order=order)
    reward = ReferralReward.objects.get(referral=referral, side="referrer")
    assert reward.status == "reversed"
    referral.refresh_from_db()
    assert referral.status == Referral.Status.SIGNED_UP
    _order(shop, ben, "o-2")
    referral.refresh_from_db()
    assert referral.status == Referral.Status.QUALIFIED


def test_self_referral_by_gmail_alias_rejected(shop, program):
    anna = member_create(email="anna.smith@gmail.com", first_name="Anna")
    alias = member_create(email="AnnaSmith+x@googlemail.com")
    referral = referral_join(friend=alias, code=referral_code_get_or_create(member=anna).code)
    assert referral.status == Referral.Status.REJECTED
    assert referral.reason_code == "same_email"
    alias.points_account.refresh_from_db()
    assert alias.points_account.available == 0
