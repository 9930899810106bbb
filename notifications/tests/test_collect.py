"""emails_collect: one email per event, whatever runs it twice; each kind rendered with its key facts."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.tests.factories import member_create
from notifications.models import MemberEmail
from notifications.services import email_render
from notifications.tests.helpers import collect, emails, order, send_all
from referrals.services import referral_code_get_or_create, referral_join, referral_rewards_release
from rewards.models import EventRule, PointLot, Tier
from rewards.services.events import birthday_points_award
from rewards.services.ledger import lots_release_due
from rewards.services.tiers import tier_set
from rewards.tests.helpers import earn, set_program
from rewards.tests.test_catalogue import points_for, redeem, reward_make

pytestmark = pytest.mark.django_db
Kind = MemberEmail.Kind


def _rendered(email):
    subject, text, html, _headers = email_render(email)
    return subject, text, html


def test_welcome_once_per_member_even_when_collected_twice():
    anna = member_create(email="anna@example.com", first_name="Anna")
    collect()
    collect()
    [welcome] = emails(Kind.WELCOME)
    assert welcome.member == anna and welcome.status == "queued"
    subject, text, html = _rendered(welcome)
    assert "Welcome to" in subject
    assert "Hello Anna" in text and anna.number_display in text
    assert anna.number_display in html and "<html" in html


def test_rows_younger_than_the_lag_wait_for_the_next_run():
    member_create()
    emails_before = collect(lag=dt.timedelta(minutes=5))
    assert emails_before == 0 and emails() == []
    collect()
    assert len(emails(Kind.WELCOME)) == 1


def test_an_order_queues_one_thank_you_with_its_points_and_the_release_another(shop):
    set_program(pending_days=14)
    anna = member_create(first_name="Anna")
    placed = order(shop, anna, total="120.00")
    collect()
    collect()
    [earned] = emails(Kind.POINTS_EARNED)
    assert earned.context["points"] == placed.points > 0
    subject, text, html = _rendered(earned)
    assert f"{placed.points} points" in subject
    assert placed.external_id in text and "EUR 120.00" in text
    assert placed.external_id in html

    lots_release_due(now=timezone.now() + dt.timedelta(days=60))
    collect(now=timezone.now() + dt.timedelta(days=60))
    collect(now=timezone.now() + dt.timedelta(days=60))
    [released] = emails(Kind.POINTS_RELEASED)
    assert released.context["points"] == placed.points
    assert f"{placed.points} points" in _rendered(released)[1]


def test_a_redemption_queues_one_email_with_its_coupon_code():
    anna = points_for(member_create(), 1000)
    reward = reward_make(points=300, value=Decimal("5.00"), coupon_valid_days=30, title="Five off & more")
    redemption, _ = redeem(anna, reward)
    collect()
    collect()
    [redeemed] = emails(Kind.REWARD_REDEEMED)
    code = redemption.coupon.code
    assert redeemed.context["code"] == code
    subject, text, html = _rendered(redeemed)
    assert "Five off & more" in subject and "Five off & more" in text  # plain text: not HTML-escaped
    assert "Five off &amp; more" in html
    assert code in text and code in html and "300 points" in text


def test_tier_up_and_down_each_once():
    anna = member_create()
    silver = Tier.objects.create(name="Silver", rank=1)
    gold = Tier.objects.create(name="Gold", rank=2)
    ends = timezone.now() + dt.timedelta(days=30)
    tier_set(member=anna, tier=gold, ends_at=ends, actor=None, reason="VIP")
    tier_set(member=anna, tier=silver, ends_at=ends, actor=None, reason="Back")
    collect()
    collect()
    [up] = emails(Kind.TIER_UP)
    [down] = emails(Kind.TIER_DOWN)
    assert "Gold" in _rendered(up)[0] and "Gold" in _rendered(up)[1]
    subject, text, html = _rendered(down)
    assert "Silver" in subject and "Gold" in text and "Silver" in html


def test_a_granted_referral_reward_queues_one_email_per_side(shop):
    from referrals.selectors import referral_program_get

    rules = referral_program_get()
    rules.active, rules.friend_reward, rules.friend_points = True, "points", 100
    rules.referrer_reward, rules.referrer_points, rules.trigger = "points", 500, "first_order"
    rules.min_order_total, rules.return_window_days = 20, 14
    rules.save()
    anna = member_create(first_name="Anna")
    ben = member_create()
    referral_join(friend=ben, code=referral_code_get_or_create(member=anna).code)
    order(shop, ben)
    later = timezone.now() + dt.timedelta(days=15)
    referral_rewards_release(now=later)
    collect(now=later + dt.timedelta(minutes=1))
    collect(now=later + dt.timedelta(minutes=2))
    rewarded = {e.member_id: e for e in emails(Kind.REFERRAL_REWARD)}
    assert set(rewarded) == {anna.pk, ben.pk}
    assert "500 points" in _rendered(rewarded[anna.pk])[1]
    assert "bringing a friend" in _rendered(rewarded[anna.pk])[2]
    assert "100 points" in _rendered(rewarded[ben.pk])[1]


def test_the_birthday_bonus_queues_one_birthday_email():
    EventRule.objects.create(name="Birthday", event="birthday", points=75, limit_count=1, limit_period="year")
    today = timezone.now().date()
    if (today.month, today.day) == (2, 29):
        pytest.skip("29 February")
    anna = member_create(birthday=today.replace(year=1990))
    birthday_points_award(today=today)
    birthday_points_award(today=today)
    collect()
    collect()
    [birthday] = emails(Kind.BIRTHDAY)
    assert birthday.member == anna and birthday.context["points"] == 75
    subject, text, html = _rendered(birthday)
    assert "birthday" in subject.lower() and "75 points" in text and "75 points" in html


def test_points_expiring_one_email_per_member_per_date(settings):
    settings.EMAIL_EXPIRING_DAYS = 14
    set_program(expiry_policy="days", expiry_period=10)
    anna = member_create()
    earn(anna.points_account, 40, source=PointLot.Source.BONUS)
    earn(anna.points_account, 60, source=PointLot.Source.BONUS)
    set_program(expiry_policy="days", expiry_period=200)
    earn(anna.points_account, 99, source=PointLot.Source.BONUS)  # expires much later: not in this email
    collect()
    collect(now=timezone.now() + dt.timedelta(hours=2))  # the next hour's look: nothing new for that date
    [expiring] = emails(Kind.POINTS_EXPIRING)
    assert expiring.context["points"] == 100
    subject, text, html = _rendered(expiring)
    assert "100 points" in subject and "100 points" in text and "100 points" in html
    day = (timezone.now() + dt.timedelta(days=10)).date()
    assert expiring.context["date"] == day.isoformat() and str(day.year) in text


def test_the_collector_costs_the_same_queries_for_many_events(shop):
    def run():
        with CaptureQueriesContext(connection) as queries:
            collect()
        return len(queries)

    collect()  # makes the cursors and takes the hourly look at expiring points
    members = [member_create() for _ in range(2)]
    for m in members:
        order(shop, m)
    few = run()
    members = [member_create() for _ in range(12)]
    for m in members:
        order(shop, m)
    many = run()
    assert many == few
    assert len(emails(Kind.WELCOME)) == 14 and len(emails(Kind.POINTS_EARNED)) == 14


def test_sending_marks_rows_sent_and_uses_the_outbox(shop):
    anna = member_create(email="anna@example.com", first_name="Anna")
    order(shop, anna)
    collect()
    assert sorted(send_all()) == ["sent", "sent"]
    assert send_all() == []
    assert len(mail.outbox) == 2
    thanks = next(m for m in mail.outbox if "order" in m.subject.lower())
    assert thanks.to == ["anna@example.com"]
    assert thanks.alternatives[0][1] == "text/html"
    assert thanks.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/email/unsubscribe/" in thanks.extra_headers["List-Unsubscribe"]
    welcome = next(m for m in mail.outbox if m is not thanks)
    assert "List-Unsubscribe" not in welcome.extra_headers  # an account email has no unsubscribe
    assert {e.status for e in emails()} == {"sent"}
    assert all(e.to_email == "anna@example.com" and e.sent_at and e.attempts == 1 for e in emails())


def test_a_replayed_order_and_small_chunks_still_make_one_email_per_event(shop):
    members = [member_create() for _ in range(5)]
    at = timezone.now()
    placed = [order(shop, m, external_id=f"replay-{i}", placed_at=at) for i, m in enumerate(members)]
    for i, m in enumerate(members):
        assert order(shop, m, external_id=f"replay-{i}", placed_at=at).pk == placed[i].pk  # a retry
    collect(chunk_size=2)
    collect(chunk_size=2)
    assert len(emails(Kind.WELCOME)) == 5
    assert sorted(e.context["order"] for e in emails(Kind.POINTS_EARNED)) == [f"replay-{i}" for i in range(5)]
