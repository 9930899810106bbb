"""The review queue: a referral the checks held gives nothing until staff approve it (with a note, or reject it
with one); approving gives what the hold kept back, rejecting cancels what was pending."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from members.tests.factories import member_create
from referrals.models import Referral, ReferralReward
from referrals.services import referral_join, referral_review, referral_rewards_release
from referrals.tests.test_admin import QUEUE_URL, REFERRALS_URL, action, flagged, order, referrer, staff, superuser

LATER = dt.timedelta(days=15)  # past the program fixture's 14-day return window


@pytest.fixture
def reviewer(client, db):
    user = superuser()
    client.force_login(user)
    return user


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_nothing_is_released_while_held_and_nothing_approves_by_itself(shop, program):
    anna, code = referrer()
    held = flagged(anna, code, "ben@example.com")
    order(shop, held.friend, "o-1")
    held.refresh_from_db()
    assert (held.status, held.review) == (Referral.Status.QUALIFIED, Referral.Review.PENDING)
    assert list(held.rewards.values_list("side", "status")) == [("referrer", "pending")]  # no friend's reward yet

    assert referral_rewards_release(now=timezone.now() + LATER) == 0
    assert referral_rewards_release(now=timezone.now() + dt.timedelta(days=400)) == 0

    held.refresh_from_db()
    assert held.review == Referral.Review.PENDING
    anna.points_account.refresh_from_db()
    assert anna.points_account.available == 0


def test_approving_from_the_list_gives_the_friend_s_reward_now_and_the_referrer_s_when_due(
    client, reviewer, shop, program
):
    anna, code = referrer()
    held = flagged(anna, code, "ben@example.com")
    order(shop, held.friend, "o-1")

    friend_account = held.friend.points_account
    friend_account.refresh_from_db()
    available_before = friend_account.available

    page = action(client, QUEUE_URL, "approve_referrals", [held])
    assert page.status_code == 200
    assert [r.pk for r in page.context["referrals"]] == [held.pk]
    assert "The friend signed up from the referrer&#x27;s IP address." in page.text

    done = action(client, QUEUE_URL, "approve_referrals", [held], apply="yes", decision="approve", note="Flatmates")
    assert done.status_code == 302 and done.url == QUEUE_URL
    assert messages_of(done) == [f"Approved 1 referral: {held.code}."]

    held.refresh_from_db()
    assert (held.review, held.review_note, held.reviewed_by) == (Referral.Review.APPROVED, "Flatmates", reviewer)
    friend_reward = held.rewards.get(side="friend")
    assert (friend_reward.status, friend_reward.points) == ("granted", 100)
    friend_account.refresh_from_db()
    assert friend_account.available == available_before + 100
    assert held.rewards.get(side="referrer").status == "pending"  # the order's return window is still open

    assert referral_rewards_release(now=timezone.now() + LATER) == 1
    anna.points_account.refresh_from_db()
    assert anna.points_account.available == 500
    held.refresh_from_db()
    assert held.status == Referral.Status.REWARDED


def test_approving_from_the_referral_s_page_grants_what_is_already_due(
    client, reviewer, program, django_capture_on_commit_callbacks
):
    program.trigger = "signup"
    program.save()
    anna, code = referrer()
    held = flagged(anna, code, "ben@example.com")
    assert not held.rewards.exists()  # a held sign-up qualifies only once approved
    url = f"{REFERRALS_URL}{held.pk}/review/"

    page = client.get(url)
    assert page.status_code == 200 and page.context["decisions"] == ["approve", "reject"]
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"apply": "yes", "decision": "approve", "note": ""})

    assert done.status_code == 302 and done.url == QUEUE_URL
    held.refresh_from_db()
    assert (held.review, held.status) == (Referral.Review.APPROVED, Referral.Status.REWARDED)
    assert set(held.rewards.values_list("side", "status")) == {("friend", "granted"), ("referrer", "granted")}
    anna.points_account.refresh_from_db()
    assert anna.points_account.available == 500
    assert client.get(url).status_code == 302  # no longer waiting: back to its page


def test_rejecting_needs_a_note_and_cancels_the_pending_rewards(client, reviewer, shop, program):
    anna, code = referrer()
    held = flagged(anna, code, "ben@example.com")
    order(shop, held.friend, "o-1")

    page = action(client, REFERRALS_URL, "reject_referrals", [held])
    assert page.status_code == 200 and page.context["decisions"] == ["reject"]
    refused = action(client, REFERRALS_URL, "reject_referrals", [held], apply="yes", decision="reject", note="  ")
    assert refused.status_code == 200
    assert "Say why the referral is rejected." in str(refused.context["form"].errors["note"])
    held.refresh_from_db()
    assert held.review == Referral.Review.PENDING

    done = action(
        client, REFERRALS_URL, "reject_referrals", [held], apply="yes", decision="reject", note="Same household"
    )
    assert done.status_code == 302
    held.refresh_from_db()
    assert (held.status, held.review, held.reason_code, held.reason) == (
        Referral.Status.REJECTED,
        Referral.Review.REJECTED,
        "rejected_by_staff",
        "Same household",
    )
    reward = held.rewards.get()
    assert (reward.status, reward.end_reason) == ("cancelled", "Rejected in review: Same household")
    assert referral_rewards_release(now=timezone.now() + LATER) == 0


def test_the_service_itself_wants_a_note_to_reject(program):
    anna, code = referrer()
    held = flagged(anna, code, "ben@example.com")
    with pytest.raises(Exception, match="Say why"):
        referral_review(referral=held, approve=False, note="", user=None)


def test_only_referrals_waiting_for_review_are_offered(client, reviewer, program):
    anna, code = referrer()
    held = flagged(anna, code, "ben@example.com")
    accepted = referral_join(friend=member_create(email="carl@example.com"), code=code)

    page = action(client, REFERRALS_URL, "approve_referrals", [held, accepted])
    assert [r.pk for r in page.context["referrals"]] == [held.pk]
    assert page.context["skipped"] == 1
    assert "1 selected referral is not waiting for review" in page.text

    nothing = action(client, REFERRALS_URL, "approve_referrals", [accepted])
    assert nothing.status_code == 302
    assert messages_of(nothing) == ["None of the selected referrals is waiting for review."]


def test_one_reviewed_meanwhile_is_refused_with_a_message_and_the_others_go_through(client, reviewer, program):
    anna, code = referrer()
    first = flagged(anna, code, "ben@example.com")
    second = flagged(anna, code, "carl@example.com")
    action(client, QUEUE_URL, "reject_referrals", [first, second])  # the page is open ...
    referral_review(referral=first, approve=True, note="", user=reviewer)  # ... someone else approves one

    done = action(client, QUEUE_URL, "reject_referrals", [first, second], apply="yes", decision="reject", note="Ring")

    assert messages_of(done) == [
        f"Rejected 1 referral: {second.code}.",
        f"Not reviewed: {first.code}. This referral is not waiting for review.",
    ]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.review, second.review) == (Referral.Review.APPROVED, Referral.Review.REJECTED)


def test_the_queue_shows_the_longest_waiting_first(client, reviewer, program):
    anna, code = referrer()
    older = flagged(anna, code, "ben@example.com")
    newer = flagged(anna, code, "carl@example.com")
    accepted = referral_join(friend=member_create(email="dora@example.com"), code=code)  # not in the queue
    page = client.get(QUEUE_URL)
    assert [r.pk for r in page.context["cl"].result_list] == [older.pk, newer.pk]
    assert "Review queue (2)" in page.text
    everything = client.get(REFERRALS_URL).context["cl"].result_list
    assert [r.pk for r in everything] == [accepted.pk, newer.pk, older.pk]  # the whole list: newest first


def test_a_read_only_user_cannot_review(client, program):
    anna, code = referrer()
    held = flagged(anna, code, "ben@example.com")
    client.force_login(staff("Read-only"))

    action(client, QUEUE_URL, "approve_referrals", [held], apply="yes", decision="approve", note="")

    held.refresh_from_db()
    assert held.review == Referral.Review.PENDING
    assert not ReferralReward.objects.filter(referral=held).exists()
    assert client.get(f"{REFERRALS_URL}{held.pk}/review/").status_code == 403
    assert client.post(f"{REFERRALS_URL}{held.pk}/review/", {"apply": "yes", "decision": "approve"}).status_code == 403
