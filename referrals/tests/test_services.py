"""The referral core through its services and the real order intake: each trigger, each fraud check, reversal
on refunds and cancels, the reward kinds of both sides, the release, and the referral webhooks."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.services.members import member_upsert
from integrations.services.orders import order_cancel, order_record, order_refund
from members.tests.factories import member_create
from referrals.models import Referral, ReferralReward
from referrals.services import (
    referral_code_get_or_create,
    referral_code_seen,
    referral_join,
    referral_review,
    referral_rewards_release,
)
from rewards.models import Coupon, Redemption, Reward
from rewards.selectors import ledger_audit
from rewards.selectors.catalogue import store_credit_balances
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

LATER = dt.timedelta(days=15)  # past the program fixture's 14-day return window


@pytest.fixture(autouse=True)
def _audit(db):
    yield
    assert ledger_audit() == []


@pytest.fixture
def anna(shop):
    """The referrer, a customer of `shop` (so the shop gets her referral webhooks)."""
    member, _ = member_upsert(shop=shop, external_id="anna", email="anna@example.com", first_name="Anna")
    return member


def reward_make(kind: str, **fields) -> Reward:
    """A catalogue reward (100 points to redeem; given free as a referral reward)."""
    return Reward.objects.create(kind=kind, points=100, **fields)


def code_of(member) -> str:
    return referral_code_get_or_create(member=member).code


def order(shop, member, external_id, total="50.00", **extra):
    data = {
        "external_id": external_id,
        "member_id": member.public_id,
        "currency": "EUR",
        "total": total,
        "placed_at": timezone.now(),
        **extra,
    }
    return order_record(shop=shop, data=data)[0]


def points(member) -> tuple[int, int]:
    member.points_account.refresh_from_db()
    return member.points_account.available, member.points_account.pending


def referrer_rewards(referral) -> list[str]:
    return list(
        ReferralReward.objects.filter(referral=referral, side="referrer")
        .order_by("sequence")
        .values_list("status", flat=True)
    )


def joined(anna, email, **kwargs) -> Referral:
    return referral_join(friend=member_create(email=email), code=code_of(anna), **kwargs)


# --- triggers -------------------------------------------------------------------------------------------


def test_signup_trigger_rewards_the_referrer_at_once(anna, program, django_capture_on_commit_callbacks):
    program.trigger = "signup"
    program.save()
    with django_capture_on_commit_callbacks(execute=True):
        referral = joined(anna, "ben@example.com")
    referral.refresh_from_db()
    assert referral.status == Referral.Status.REWARDED
    assert referrer_rewards(referral) == ["granted"]
    assert points(anna)[0] == 500


def test_first_order_trigger_needs_the_minimum_amount(shop, anna, program):
    referral = joined(anna, "ben@example.com")
    order(shop, referral.friend, "o-1", total="19.99")
    referral.refresh_from_db()
    assert referral.status == Referral.Status.SIGNED_UP and referrer_rewards(referral) == []
    order(shop, referral.friend, "o-2", total="20.00")
    referral.refresh_from_db()
    assert referral.status == Referral.Status.QUALIFIED and referrer_rewards(referral) == ["pending"]
    order(shop, referral.friend, "o-3", total="80.00")  # the first qualifying order only
    assert referrer_rewards(referral) == ["pending"]
    assert referral_rewards_release(now=timezone.now() + LATER) == 1
    assert points(anna)[0] == 500


def test_each_of_the_first_n_orders_within_m_days(shop, anna, program):
    program.trigger, program.orders_count, program.orders_within_days = "each_order", 2, 30
    program.save()
    referral = joined(anna, "ben@example.com")
    for i in range(3):
        order(shop, referral.friend, f"o-{i}")
    assert referrer_rewards(referral) == ["pending", "pending"]
    assert referral_rewards_release(now=timezone.now() + LATER) == 2
    assert points(anna)[0] == 1000


def test_each_order_counts_only_within_m_days_of_the_sign_up(shop, anna, program):
    program.trigger, program.orders_count, program.orders_within_days = "each_order", 3, 30
    program.save()
    referral = joined(anna, "ben@example.com")
    order(shop, referral.friend, "o-1")
    Referral.objects.filter(pk=referral.pk).update(signed_up_at=timezone.now() - dt.timedelta(days=31))
    order(shop, referral.friend, "o-2")
    assert referrer_rewards(referral) == ["pending"]


def test_an_order_posted_late_still_qualifies(shop, anna, program):
    """A shop that posts its orders later (placed before the referral was stored, received after) counts them."""
    referral = joined(anna, "ben@example.com")
    order(shop, referral.friend, "o-1", placed_at=timezone.now() - dt.timedelta(hours=3))
    assert referrer_rewards(referral) == ["pending"]


# --- fraud checks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("referrer_email", "friend_email", "rejected"),
    [
        ("anna.smith@gmail.com", "AnnaSmith+friends@googlemail.com", True),
        ("annasmith@gmail.com", "anna.s.mith@gmail.com", True),
        ("anna@outlook.com", "Anna+shop@Outlook.com", True),
        ("anna@outlook.com", "an.na@outlook.com", False),  # Outlook keeps dots: another mailbox
        ("anna@example.com", "anna+x@example.com", False),  # an unknown provider: the tag may matter
    ],
)
def test_self_referral_by_canonical_email(program, referrer_email, friend_email, rejected):
    referrer = member_create(email=referrer_email, first_name="Anna")
    referral = referral_join(friend=member_create(email=friend_email), code=code_of(referrer))
    assert (referral.status == Referral.Status.REJECTED) is rejected
    assert (referral.reason_code == "same_email") is rejected
    assert referral.decisions == (
        [{"code": "same_email", "action": "reject", "message": referral.reason}] if rejected else []
    )


def test_the_referrer_with_their_own_code_is_nobodys_friend(anna, program):
    assert referral_join(friend=anna, code=code_of(anna)) is None
    assert not Referral.objects.exists()


def test_already_a_member_is_rejected_with_the_reason(anna, program):
    referral = joined(anna, "ben@example.com", existed=True)
    assert (referral.status, referral.reason_code) == (Referral.Status.REJECTED, "already_member")
    assert referral.facts["already_member"] is True
    assert points(referral.friend) == (0, 0)  # no welcome reward


def test_already_a_customer_by_an_earlier_unmatched_order(shop, anna, program):
    order_record(
        shop=shop,
        data={"external_id": "guest-1", "email": "Ben@Example.com", "currency": "EUR", "total": "30.00",
              "placed_at": timezone.now()},
    )  # fmt: skip
    referral = joined(anna, "ben@example.com")
    assert (referral.status, referral.reason_code) == (Referral.Status.REJECTED, "already_customer")


def test_already_referred_by_someone_else(anna, program):
    carl = member_create(email="carl@example.com", first_name="Carl")
    first = joined(anna, "ben@example.com")
    second = referral_join(friend=first.friend, code=code_of(carl))
    assert second.pk != first.pk
    assert (second.status, second.reason_code) == (Referral.Status.REJECTED, "already_referred")
    first.refresh_from_db()
    assert first.status == Referral.Status.SIGNED_UP


@pytest.mark.parametrize(
    ("seen", "given", "code"),
    [
        ({"ip": "203.0.113.7"}, {"ip": "203.0.113.7"}, "same_ip"),
        ({"device": "dev-1"}, {"device": "dev-1"}, "same_device"),
    ],
)
def test_same_ip_or_device_is_held_for_review(anna, program, seen, given, code):
    referral_code_seen(member=anna, **seen)
    referral = joined(anna, "ben@example.com", **given)
    assert referral.status == Referral.Status.SIGNED_UP
    assert (referral.review, referral.reason_code) == (Referral.Review.PENDING, code)
    assert points(referral.friend) == (0, 0)  # the welcome reward waits for the review
    # Stored as keyed hashes only.
    assert "203.0.113.7" not in str(anna.referral_code.seen_ips) and "dev-1" not in referral.device_hash


def test_same_ip_rejects_when_the_rules_say_so(anna, program):
    program.same_ip = "reject"
    program.save()
    referral_code_seen(member=anna, ip="203.0.113.7")
    referral = joined(anna, "ben@example.com", ip="203.0.113.7")
    assert (referral.status, referral.reason_code) == (Referral.Status.REJECTED, "same_ip")


def test_same_ip_of_an_earlier_friend_counts_too(anna, program):
    joined(anna, "ben@example.com", ip="198.51.100.1")
    assert joined(anna, "cleo@example.com", ip="198.51.100.1").reason_code == "same_ip"
    assert joined(anna, "dirk@example.com", ip="198.51.100.2").reason_code == ""


def test_same_shipping_address_in_two_spellings_is_held(shop, anna, program):
    order(shop, anna, "a-1", shipping_address="Hauptstraße 5, 10115 Berlin, DE")
    referral = joined(anna, "ben@example.com")
    friend_order = order(
        shop, referral.friend, "b-1", shipping_address={"line1": "HAUPTSTRASSE 5", "postal_code": "10115",
                                                        "city": "berlin", "country": "de", "name": "Ben"}
    )  # fmt: skip
    assert friend_order.shipping_hash and "Haupt" not in friend_order.shipping_hash
    referral.refresh_from_db()
    assert (referral.review, referral.reason_code) == (Referral.Review.PENDING, "same_address")
    assert referrer_rewards(referral) == ["pending"]
    assert referral_rewards_release(now=timezone.now() + LATER) == 0  # held: never released by time alone
    assert referrer_rewards(referral) == ["pending"]


def test_another_address_is_not_flagged(shop, anna, program):
    order(shop, anna, "a-1", shipping_address="Hauptstraße 5, 10115 Berlin")
    referral = joined(anna, "ben@example.com")
    order(shop, referral.friend, "b-1", shipping_address="Hauptstraße 7, 10115 Berlin")
    referral.refresh_from_db()
    assert (referral.review, referral.status) == ("", Referral.Status.QUALIFIED)


def test_a_later_order_elsewhere_keeps_the_holds_reason(shop, anna, program):
    program.trigger, program.orders_count = "each_order", 2
    program.save()
    order(shop, anna, "a-1", shipping_address="Hauptstraße 5, 10115 Berlin")
    referral = joined(anna, "ben@example.com")
    order(shop, referral.friend, "b-1", shipping_address="Hauptstrasse 5, 10115 Berlin")
    order(shop, referral.friend, "b-2", shipping_address="Keizersgracht 12, Amsterdam")
    referral.refresh_from_db()
    assert (referral.review, referral.reason_code) == (Referral.Review.PENDING, "same_address")
    assert [d["code"] for d in referral.decisions] == ["same_address"]


def test_same_payment_fingerprint_is_held(shop, anna, program):
    order(shop, anna, "a-1", payment_fingerprint="fp_1MqN8t2eZvKYlo2C")
    referral = joined(anna, "ben@example.com")
    order(shop, referral.friend, "b-1", payment_fingerprint="fp_1MqN8t2eZvKYlo2C")
    referral.refresh_from_db()
    assert (referral.review, referral.reason_code) == (Referral.Review.PENDING, "same_payment")


def test_velocity_per_day_holds_the_next_sign_up(anna, program):
    program.max_per_day = 2
    program.save()
    assert [joined(anna, f"f{i}@example.com").review for i in range(3)] == ["", "", "pending"]
    assert Referral.objects.get(friend__user__email="f2@example.com").reason_code == "velocity_day"


def test_velocity_per_week_holds_the_next_sign_up(anna, program):
    program.max_per_day, program.max_per_week = 0, 2
    program.save()
    for i in range(2):
        joined(anna, f"f{i}@example.com")
    Referral.objects.update(signed_up_at=timezone.now() - dt.timedelta(days=3))
    third = joined(anna, "f2@example.com")
    assert (third.review, third.reason_code) == ("pending", "velocity_week")
    Referral.objects.update(signed_up_at=timezone.now() - dt.timedelta(days=8))
    assert joined(anna, "f3@example.com").review == ""  # older than a week: not counted


def test_the_cap_on_rewarded_referrals_rejects_the_next(shop, anna, program):
    program.max_rewarded = 1
    program.save()
    first, second = joined(anna, "ben@example.com"), joined(anna, "cleo@example.com")
    order(shop, first.friend, "b-1")
    order(shop, second.friend, "c-1")
    second.refresh_from_db()
    assert (second.status, second.reason_code) == (Referral.Status.REJECTED, "cap_reached")
    assert referrer_rewards(second) == []
    assert referral_rewards_release(now=timezone.now() + LATER) == 1
    assert points(anna)[0] == 500


def test_held_then_approved_gives_what_was_kept_back(shop, anna, program, admin_user,
                                                     django_capture_on_commit_callbacks):  # fmt: skip
    referral_code_seen(member=anna, ip="203.0.113.7")
    referral = joined(anna, "ben@example.com", ip="203.0.113.7")
    with django_capture_on_commit_callbacks(execute=True):
        referral_review(referral=referral, approve=True, note="Flatmates", user=admin_user)
    assert points(referral.friend)[0] == 100
    order(shop, referral.friend, "b-1")
    assert referral_rewards_release(now=timezone.now() + LATER) == 1


# --- reversal --------------------------------------------------------------------------------------------


def _qualified(shop, anna, total="30.00"):
    referral = joined(anna, "ben@example.com")
    return referral, order(shop, referral.friend, "b-1", total=total)


def test_a_partial_refund_below_the_minimum_reverses(shop, anna, program):
    referral, placed = _qualified(shop, anna)
    order_refund(order=placed, external_id="r-1", amount=Decimal("10.01"))  # 19.99 left, under 20.00
    assert referrer_rewards(referral) == ["reversed"]
    referral.refresh_from_db()
    assert referral.status == Referral.Status.SIGNED_UP
    assert referral_rewards_release(now=timezone.now() + LATER) == 0


def test_a_partial_refund_above_the_minimum_keeps_the_reward(shop, anna, program):
    referral, placed = _qualified(shop, anna)
    order_refund(order=placed, external_id="r-1", amount=Decimal("10.00"))  # 20.00 left
    assert referrer_rewards(referral) == ["pending"]


def test_refunds_by_lines_count_at_the_lines_price(shop, anna, program):
    referral = joined(anna, "ben@example.com")
    lines = [{"sku": "A", "quantity": 3, "unit_price": "10.00", "total": "30.00"}]
    placed = order(shop, referral.friend, "b-1", total="30.00", lines=lines)
    order_refund(order=placed, external_id="r-1", lines=[{"sku": "A", "quantity": 1}])  # 20.00 left
    assert referrer_rewards(referral) == ["pending"]
    order_refund(order=placed, external_id="r-2", lines=[{"sku": "A", "quantity": 1}])  # 10.00 left
    assert referrer_rewards(referral) == ["reversed"]


def test_cancel_reverses_and_a_later_order_qualifies_again(shop, anna, program):
    referral, placed = _qualified(shop, anna)
    order_cancel(order=placed)
    order(shop, referral.friend, "b-2")
    assert referrer_rewards(referral) == ["reversed", "pending"]


def test_after_the_window_and_the_grant_a_refund_changes_nothing(shop, anna, program):
    referral, placed = _qualified(shop, anna)
    assert referral_rewards_release(now=timezone.now() + LATER) == 1
    order_cancel(order=placed)
    assert referrer_rewards(referral) == ["granted"]
    assert points(anna)[0] == 500


def test_after_the_window_a_refund_does_not_take_a_reward_not_released_yet(shop, anna, program):
    referral, placed = _qualified(shop, anna)
    ReferralReward.objects.filter(referral=referral).update(due_at=timezone.now() - dt.timedelta(minutes=1))
    order_cancel(order=placed)
    assert referrer_rewards(referral) == ["pending"]
    assert referral_rewards_release() == 1


# --- kinds of rewards ------------------------------------------------------------------------------------


def test_store_credit_for_the_referrer(shop, anna, program):
    program.referrer_reward, program.referrer_store_credit = "store_credit", Decimal("7.50")
    program.save()
    _qualified(shop, anna)
    referral_rewards_release(now=timezone.now() + LATER)
    assert [(b.currency, b.balance) for b in store_credit_balances(member=anna)] == [("EUR", Decimal("7.50"))]


def test_a_catalogue_reward_for_the_referrer(shop, anna, program):
    gift = reward_make("free_product", title="A free mug", sku="MUG")
    program.referrer_reward, program.referrer_reward_item = "reward", gift
    program.save()
    referral, _ = _qualified(shop, anna)
    referral_rewards_release(now=timezone.now() + LATER)
    redemption = Redemption.objects.get(member=anna)
    assert (redemption.reward, redemption.points, redemption.channel) == (gift, 0, "gift")
    assert (
        ReferralReward.objects.get(referral=referral, side="referrer").grant_ref == f"redemption:{redemption.public_id}"
    )


def test_a_welcome_coupon_for_the_friend(anna, program):
    welcome = reward_make("fixed_amount", title="5 off", value=Decimal("5.00"))
    program.friend_reward, program.friend_reward_item = "reward", welcome
    program.save()
    referral = joined(anna, "ben@example.com")
    coupon = Coupon.objects.get(member=referral.friend)
    assert coupon.reward == welcome and coupon.status == "issued"
    assert points(referral.friend) == (0, 0)


def test_a_gift_out_of_stock_leaves_the_friends_reward_pending(anna, program):
    welcome = reward_make("fixed_amount", title="5 off", value=Decimal("5.00"), stock_total=0)
    program.friend_reward, program.friend_reward_item = "reward", welcome
    program.save()
    referral = joined(anna, "ben@example.com")  # joins all the same
    assert referral.status == Referral.Status.SIGNED_UP
    assert ReferralReward.objects.get(referral=referral, side="friend").status == "pending"
    assert referral_rewards_release() == 0  # still out of stock: stays pending, nothing fails
    welcome.stock_total = 5
    welcome.save()
    assert referral_rewards_release() == 1
    assert Coupon.objects.filter(member=referral.friend).count() == 1


# --- release and webhooks ------------------------------------------------------------------------------


def test_release_is_idempotent(shop, anna, program):
    _qualified(shop, anna)
    later = timezone.now() + LATER
    assert referral_rewards_release(now=later) == 1
    assert referral_rewards_release(now=later) == 0
    assert points(anna)[0] == 500


def test_a_failing_grant_does_not_stop_the_others(shop, anna, program):
    gift = reward_make("free_product", title="A free mug", sku="MUG", stock_total=1)
    program.referrer_reward, program.referrer_reward_item = "reward", gift
    program.save()
    for name in ("ben", "cleo"):
        friend = joined(anna, f"{name}@example.com").friend
        order(shop, friend, f"{name}-1")
    assert referral_rewards_release(now=timezone.now() + LATER) == 1  # one mug left: the other waits
    assert list(ReferralReward.objects.filter(side="referrer").values_list("status", flat=True).order_by("pk")) == [
        "granted",
        "pending",
    ]


def test_referral_webhooks_go_to_the_referrers_shops_once_per_event(shop, anna, program):
    endpoint_create(
        shop=shop, url="https://hooks.example.com/loyalty", events=["referral.qualified", "referral.rewarded"]
    )
    referral, placed = _qualified(shop, anna)
    order_record(shop=shop, data={"external_id": "b-1", "member_id": referral.friend.public_id, "currency": "EUR",
                                  "total": "30.00", "placed_at": placed.placed_at})  # fmt: skip  # a replay
    order(shop, referral.friend, "b-2")  # not a qualifying order any more: the first one is
    (qualified,) = WebhookDelivery.objects.filter(event="referral.qualified")
    data = qualified.payload["data"]
    assert data["member"] == {"id": str(anna.public_id), "external_id": "anna"}
    assert data["referral"]["status"] == "qualified" and data["referral"]["friend"] == {
        "id": str(referral.friend.public_id)
    }
    assert (data["reward"]["kind"], data["reward"]["points"], data["reward"]["status"]) == ("points", 500, "pending")
    assert data["reward"]["order_external_id"] == "b-1"
    assert not WebhookDelivery.objects.filter(event="referral.rewarded").exists()

    referral_rewards_release(now=timezone.now() + LATER)
    referral_rewards_release(now=timezone.now() + LATER)
    (rewarded,) = WebhookDelivery.objects.filter(event="referral.rewarded")
    assert rewarded.payload["data"]["referral"]["status"] == "rewarded"
    assert rewarded.payload["data"]["reward"]["status"] == "granted"
    assert WebhookDelivery.objects.filter(event="referral.qualified").count() == 1


def test_referral_webhooks_only_to_shops_that_know_the_referrer(shop, anna, program):
    from integrations.services.shops import shop_create

    other = shop_create(name="Other shop", currency="EUR", time_zone="Europe/Amsterdam")
    endpoint_create(shop=other, url="https://other.example.com/hooks", events=["referral.qualified"])
    _qualified(shop, anna)
    assert not WebhookDelivery.objects.exists()


def test_a_suspended_members_code_brings_nobody(shop, program):
    from core.exceptions import ApplicationError
    from members.models import Member
    from members.tests.factories import member_create
    from referrals.services import referral_code_get_or_create, referral_join

    anna = member_create(email="anna.s@example.com", first_name="Anna")
    code = referral_code_get_or_create(member=anna).code
    Member.objects.filter(pk=anna.pk).update(status=Member.Status.SUSPENDED)
    ben = member_create(email="ben.s@example.com")
    with pytest.raises(ApplicationError) as error:
        referral_join(friend=ben, code=code)
    assert error.value.code == "unknown_referral_code"


def test_a_referrer_who_closed_their_account_gets_the_reward_cancelled_not_retried(shop, program, anna):
    from members.services import member_close
    from rewards.services.ledger import Actor

    ben = member_create(email="ben.closed@example.com")
    referral = referral_join(friend=ben, code=code_of(anna))
    order(shop, ben, "o-closed")
    member_close(member=anna, actor=Actor.system("test"))
    assert referral_rewards_release(now=timezone.now() + LATER) == 0
    reward = referral.rewards.get(side="referrer")
    assert (reward.status, reward.end_reason) == ("cancelled", "Not given: the member closed their account")
