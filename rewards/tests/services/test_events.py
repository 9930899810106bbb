"""rewards.services.events: event rules award points within their limit per period (in the program's time
zone), their windows and shops; events are idempotent; the platform's sign_up, first_purchase and birthday
events; two events at once cannot both pass a limit (PostgreSQL)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.tests.concurrency import run_at_once
from integrations.models import Order
from integrations.services.members import member_upsert
from integrations.services.orders import order_record
from integrations.services.shops import shop_create
from members.models import Member
from members.services import member_close
from members.tests.factories import member_create
from rewards import tasks
from rewards.models import EventAward, EventRule, MemberEvent, PointEntry, PointLot
from rewards.selectors import ledger_audit
from rewards.services.events import (
    birthday_points_award,
    event_period_bounds,
    event_record,
)
from rewards.services.ledger import Actor
from rewards.tests.helpers import balances, counters, ledger_counts, refused, set_program

AMS = ZoneInfo("Europe/Amsterdam")
REVIEW = "review_written"


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=AMS)


def rule(event=REVIEW, points=50, **fields) -> EventRule:
    return EventRule.objects.create(name=fields.pop("name", f"{event} {points}"), event=event, points=points, **fields)


def counts():
    return (MemberEvent.objects.count(), EventAward.objects.count(), *ledger_counts())


@pytest.fixture(autouse=True)
def _program(db):
    set_program(time_zone="Europe/Amsterdam")
    yield
    assert ledger_audit() == []


@pytest.fixture
def member(db):
    return Member.objects.select_related("points_account").get(pk=member_create().pk)


@pytest.fixture
def shop(db):
    return shop_create(name="Webshop")


_ids = iter(range(10**6))


def send(member, *, event=REVIEW, at=None, shop=None, external_id=None):
    return event_record(
        member=member, event=event, shop=shop, external_id=external_id or f"e-{next(_ids)}", occurred_at=at
    )


# --- awarding --------------------------------------------------------------------------------------


def test_a_matching_rule_awards_its_points(member, shop):
    review = rule(points=50, name="Review bonus")
    record, created = send(member, shop=shop, external_id="rev-1")
    assert created and record.status == "awarded" and record.points == 50
    assert (record.event, record.shop, record.external_id) == (REVIEW, shop, "rev-1")
    assert balances(member.points_account) == counters(available=50, lifetime_earned=50)
    assert member.points_account.available == 50  # the caller's object shows the new balance
    award = EventAward.objects.get()
    assert (award.rule, award.rule_name, award.status, award.points) == (review, "Review bonus", "awarded", 50)
    assert award.entry.reason == "Review bonus" and award.entry.actor_ref == str(shop.public_id)
    lot = PointLot.objects.get()
    assert lot.source == PointLot.Source.EVENT and lot.state == "available" and lot.source_ref == f"{REVIEW}:rev-1"


def test_an_event_without_a_matching_rule_is_recorded_with_zero_points(member):
    rule(event="social_follow")
    rule(is_active=False)
    record, created = send(member)
    assert created and record.status == "no_matching_rule" and record.points == 0
    assert EventAward.objects.count() == 0 and PointEntry.objects.count() == 0


def test_every_rule_for_the_event_awards_its_own_points(member):
    one, two = rule(points=50), rule(points=20, limit_count=1, limit_period="ever")
    record, _ = send(member)
    assert record.points == 70 and balances(member.points_account)["available"] == 70
    assert {(a.rule_id, a.points) for a in record.awards.all()} == {(one.pk, 50), (two.pk, 20)}
    record, _ = send(member)  # the second rule is at its limit, the first has none
    assert record.status == "awarded" and record.points == 50
    assert {(a.rule_id, a.status, a.points) for a in record.awards.all()} == {
        (one.pk, "awarded", 50),
        (two.pk, "limit_reached", 0),
    }
    assert balances(member.points_account)["available"] == 120


def test_a_rule_of_zero_points_counts_without_a_ledger_entry(member):
    rule(points=0)
    record, _ = send(member)
    assert record.status == "awarded" and record.points == 0 and PointEntry.objects.count() == 0


def test_event_names_are_trimmed_and_lower_case(member):
    rule(event="store.visit:nl-1")
    record, _ = send(member, event="  Store.Visit:NL-1 ")
    assert record.event == "store.visit:nl-1" and record.points == 50


@pytest.mark.parametrize("name", ["", " ", "review written", "_x", "é", "a" * 65, "a/b"])
def test_malformed_event_names_are_refused(member, name):
    before = counts()
    with refused("invalid_event", 400):
        send(member, event=name)
    assert counts() == before


def test_more_points_than_one_event_may_give_is_refused(member):
    rule(points=6_000_000)
    rule(points=6_000_000)
    before = counts()
    with refused("event_points_too_large", 422):
        send(member)
    assert counts() == before


# --- limits per period, in the program's time zone ---------------------------------------------------


def limited(period, count=1):
    return rule(limit_count=count, limit_period=period)


@pytest.mark.parametrize(
    ("period", "first", "same_period", "next_period"),
    [
        # 23:30 and 00:10 local are the same day in UTC (22:30Z and 23:10Z), different days locally.
        ("day", local(2026, 3, 10, 8), local(2026, 3, 10, 23, 30), local(2026, 3, 11, 0, 10)),
        # Weeks start on Monday: Monday 16 March 00:30 local is a new week after Sunday 23:30.
        ("week", local(2026, 3, 9, 0, 30), local(2026, 3, 15, 23, 30), local(2026, 3, 16, 0, 30)),
        # 1 April 00:30 local is still 31 March in UTC.
        ("month", local(2026, 3, 1, 0, 30), local(2026, 3, 31, 23, 30), local(2026, 4, 1, 0, 30)),
        ("year", local(2025, 1, 1, 0, 30), local(2025, 12, 31, 23, 30), local(2026, 1, 1, 0, 30)),
    ],
)
def test_a_limit_holds_within_its_period_and_resets_with_the_next(member, period, first, same_period, next_period):
    limited(period)
    assert send(member, at=first)[0].status == "awarded"
    assert send(member, at=same_period)[0].status == "limit_reached"
    assert send(member, at=next_period)[0].status == "awarded"
    assert send(member, at=next_period)[0].status == "limit_reached"
    assert balances(member.points_account)["available"] == 100


def test_a_limit_of_one_ever_never_resets(member):
    limited("ever")
    assert send(member, at=local(2020, 1, 1))[0].status == "awarded"
    assert send(member)[0].status == "limit_reached"


def test_a_limit_of_two_per_day_lets_two_in(member):
    limited("day", count=2)
    results = [send(member, at=local(2026, 5, 5, hour))[0].status for hour in (9, 10, 11)]
    assert results == ["awarded", "awarded", "limit_reached"]


def test_a_rule_without_limit_always_awards(member):
    rule()
    assert [send(member)[0].points for _ in range(3)] == [50, 50, 50]


def test_an_event_reported_late_counts_in_the_period_it_occurred_in(member):
    limited("day")
    assert send(member, at=local(2026, 5, 6, 9))[0].status == "awarded"
    assert send(member, at=local(2026, 5, 5, 9))[0].status == "awarded"  # the day before: its own day
    assert send(member, at=local(2026, 5, 5, 18))[0].status == "limit_reached"


def test_refused_awards_do_not_count_against_the_limit(member):
    limited("day", count=1)
    send(member, at=local(2026, 5, 5, 9))
    for _ in range(3):
        send(member, at=local(2026, 5, 5, 10))
    assert send(member, at=local(2026, 5, 6, 9))[0].status == "awarded"


def test_limits_are_per_member(member):
    limited("ever")
    other = Member.objects.select_related("points_account").get(pk=member_create().pk)
    assert send(member)[0].status == "awarded" and send(other)[0].status == "awarded"


def test_period_bounds_follow_the_program_time_zone_across_daylight_saving():
    at = local(2026, 3, 29, 12)  # the day clocks go forward in Amsterdam: 23 hours long
    start, end = event_period_bounds(period="day", at=at, time_zone="Europe/Amsterdam")
    assert (start, end) == (local(2026, 3, 29), local(2026, 3, 30))
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=23)
    assert event_period_bounds(period="month", at=local(2026, 12, 31, 23), time_zone="Europe/Amsterdam") == (
        local(2026, 12, 1),
        local(2027, 1, 1),
    )
    assert event_period_bounds(period="ever", at=at, time_zone="UTC") == (None, None)


# --- windows and shops -----------------------------------------------------------------------------


def test_a_rule_applies_inside_its_window_at_the_events_time(member):
    rule(starts_at=local(2026, 6, 1), ends_at=local(2026, 7, 1))
    assert send(member, at=local(2026, 5, 31, 23, 59))[0].status == "no_matching_rule"
    assert send(member, at=local(2026, 6, 1))[0].status == "awarded"
    assert send(member, at=local(2026, 6, 30, 23, 59))[0].status == "awarded"
    assert send(member, at=local(2026, 7, 1))[0].status == "no_matching_rule"  # the end is not included


def test_an_event_in_the_future_counts_as_now(member):
    rule(ends_at=timezone.now() + dt.timedelta(minutes=30))
    record, _ = send(member, at=timezone.now() + dt.timedelta(hours=1))
    assert record.status == "awarded" and record.occurred_at <= timezone.now()


def test_a_rule_for_some_shops_applies_to_their_events_only(member, shop):
    other = shop_create(name="Other shop")
    rule(shop_ids=[str(shop.public_id)])
    assert send(member, shop=other)[0].status == "no_matching_rule"
    assert send(member, shop=None)[0].status == "no_matching_rule"  # a platform event has no shop
    assert send(member, shop=shop)[0].status == "awarded"


# --- idempotency -----------------------------------------------------------------------------------


def test_the_same_external_id_and_body_returns_the_first_record(member, shop):
    rule()
    first, created = send(member, shop=shop, external_id="rev-9", at=local(2026, 5, 5, 9))
    before = counts()
    again, created_again = send(member, shop=shop, external_id="rev-9", at=local(2026, 5, 5, 9))
    assert created and not created_again and again.pk == first.pk
    assert counts() == before


def test_an_event_sent_without_a_time_replays_without_one(member, shop):
    rule()
    first, _ = send(member, shop=shop, external_id="rev-9")
    again, created = send(member, shop=shop, external_id="rev-9")
    assert again.pk == first.pk and not created


def test_a_refused_event_replays_as_refused(member, shop):
    review = limited("ever")
    send(member, shop=shop, external_id="rev-1")
    refusal, _ = send(member, shop=shop, external_id="rev-2")
    review.limit_count = None
    review.save()
    again, created = send(member, shop=shop, external_id="rev-2")
    assert not created and again.pk == refusal.pk and again.status == "limit_reached" and again.points == 0


@pytest.mark.parametrize("change", ["event", "at", "member"])
def test_the_same_external_id_with_another_body_is_a_conflict(member, shop, change):
    rule()
    rule(event="social_follow")
    send(member, shop=shop, external_id="rev-1", at=local(2026, 5, 5, 9))
    other = Member.objects.select_related("points_account").get(pk=member_create().pk)
    changed = {
        "event": {"member": member, "event": "social_follow", "at": local(2026, 5, 5, 9)},
        "at": {"member": member, "event": REVIEW, "at": local(2026, 5, 5, 10)},
        "member": {"member": other, "event": REVIEW, "at": local(2026, 5, 5, 9)},
    }[change]
    before = counts()
    with refused("idempotency_conflict", 409):
        send(changed["member"], event=changed["event"], at=changed["at"], shop=shop, external_id="rev-1")
    assert counts() == before


def test_external_ids_are_per_shop(member, shop):
    rule()
    other = shop_create(name="Other shop")
    a, _ = send(member, shop=shop, external_id="rev-1")
    b, created = send(member, shop=other, external_id="rev-1")
    assert created and a.pk != b.pk


# --- members who cannot earn ------------------------------------------------------------------------


def test_a_closed_member_is_refused_and_nothing_is_recorded(member):
    rule()
    member_close(member=member, actor=Actor.system("tests"))
    before = counts()
    with refused("member_not_active", 422):
        send(member)
    assert counts() == before


def test_a_suspended_member_earns_as_with_orders(member):
    rule()
    Member.objects.filter(pk=member.pk).update(status=Member.Status.SUSPENDED)
    member.refresh_from_db()
    assert send(member)[0].points == 50


# --- the platform's own events ---------------------------------------------------------------------


def test_signing_up_records_the_sign_up_event_beside_the_programs_bonus(db):
    set_program(signup_bonus=10)
    rule(event="sign_up", points=100, limit_count=1, limit_period="ever")
    member = member_create()
    record = MemberEvent.objects.get(member=member)
    assert (record.event, record.status, record.points) == ("sign_up", "awarded", 100)
    assert balances(member.points_account) == counters(available=110, lifetime_earned=110)
    assert set(PointLot.objects.values_list("source", flat=True)) == {"signup", "event"}


def test_signing_up_without_a_sign_up_rule_gives_only_the_bonus(db):
    member = member_create()
    assert MemberEvent.objects.get(member=member).status == "no_matching_rule"
    assert balances(member.points_account)["available"] == 0


def _order(shop, external_id, total="30.00"):
    return {
        "external_id": external_id,
        "member_external_id": "cust-1",
        "currency": "EUR",
        "total": total,
        "placed_at": timezone.now() - dt.timedelta(minutes=5),
    }


def test_the_first_order_that_earns_records_first_purchase_once(shop):
    first_purchase = rule(event="first_purchase", points=200, shop_ids=[str(shop.public_id)])
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    order_record(shop=shop, data=_order(shop, "o-0", total="0.00"))  # earns nothing: not a purchase that counts
    assert not MemberEvent.objects.filter(event="first_purchase").exists()
    order_record(shop=shop, data=_order(shop, "o-1"))
    order_record(shop=shop, data=_order(shop, "o-2"))
    record = MemberEvent.objects.get(event="first_purchase")
    assert record.member == member and record.shop == shop and record.points == 200
    assert EventAward.objects.get(member_event=record).rule == first_purchase
    assert balances(member.points_account)["available"] == 30 + 200 + 30


def test_an_unmatched_order_that_earns_when_the_customer_joins_records_first_purchase(shop):
    rule(event="first_purchase", points=200)
    order_record(shop=shop, data=_order(shop, "o-1"))  # nobody yet: kept unmatched
    assert not MemberEvent.objects.filter(event="first_purchase").exists()
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    assert MemberEvent.objects.get(event="first_purchase").points == 200
    assert balances(member.points_account)["available"] == 230


def test_an_order_and_its_first_purchase_event_are_one_transaction(shop, monkeypatch):
    rule(event="first_purchase", points=200)
    member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    before = counts()

    def broken(**kwargs):
        raise RuntimeError("the ledger fails while the event rule awards")

    monkeypatch.setattr("rewards.services.events.points_earn", broken)
    with pytest.raises(RuntimeError):
        order_record(shop=shop, data=_order(shop, "o-1"))
    assert counts() == before and not Order.objects.exists()


# --- birthdays -------------------------------------------------------------------------------------


def born(day: dt.date, **profile) -> Member:
    return member_create(birthday=day, **profile)


@pytest.fixture
def birthday_rule(db):
    return rule(event="birthday", points=75, limit_count=1, limit_period="year")


def test_members_whose_birthday_is_today_get_the_birthday_points(birthday_rule):
    today = dt.date(2026, 5, 17)
    ana, piet = born(dt.date(1990, 5, 17)), born(dt.date(1985, 5, 18))
    assert birthday_points_award(today=today) == 1
    record = MemberEvent.objects.get(event="birthday")
    assert record.member == ana and record.points == 75 and record.occurred_at.astimezone(AMS).date() == today
    assert balances(ana.points_account)["available"] == 75 and balances(piet.points_account)["available"] == 0


def test_the_birthday_award_is_once_per_member_per_year(birthday_rule):
    ana = born(dt.date(1990, 5, 17))
    assert birthday_points_award(today=dt.date(2025, 5, 17)) == 1
    assert birthday_points_award(today=dt.date(2025, 5, 17)) == 0
    birthday_rule.limit_count = None  # even without a limit, the event itself is once a year
    birthday_rule.save()
    assert birthday_points_award(today=dt.date(2025, 5, 17)) == 0
    assert birthday_points_award(today=dt.date(2026, 5, 17)) == 1
    assert balances(ana.points_account)["available"] == 150


def test_a_29_february_birthday_counts_on_28_february_in_other_years(birthday_rule):
    leapling = born(dt.date(2000, 2, 29))
    born(dt.date(2000, 2, 28))
    assert birthday_points_award(today=dt.date(2027, 2, 28)) == 2
    assert MemberEvent.objects.filter(member=leapling, event="birthday").count() == 1
    # In a leap year, 28 February is not theirs; 29 February is.
    assert birthday_points_award(today=dt.date(2028, 2, 28)) == 1
    assert birthday_points_award(today=dt.date(2028, 2, 29)) == 1
    assert MemberEvent.objects.filter(member=leapling, event="birthday").count() == 2


def test_today_is_the_programs_today(birthday_rule):
    set_program(time_zone="Pacific/Kiritimati")  # UTC+14: often already tomorrow there
    today_there = timezone.now().astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    there = born(today_there.replace(year=2000))  # a leap year: 29 February too
    assert tasks.birthday_points_award.delay().get() == 1
    assert MemberEvent.objects.get(event="birthday").member == there


def test_closed_members_and_days_without_a_rule_get_nothing(birthday_rule):
    gone = born(dt.date(1990, 5, 17))
    member_close(member=gone, actor=Actor.system("tests"))
    assert birthday_points_award(today=dt.date(2026, 5, 17)) == 0
    birthday_rule.is_active = False
    birthday_rule.save()
    born(dt.date(1991, 5, 17))
    before = counts()
    assert birthday_points_award(today=dt.date(2026, 5, 17)) == 0
    assert counts() == before


def test_a_tiers_birthday_bonus_comes_with_the_birthday(birthday_rule):
    from rewards.models import PointsAccount, Tier

    Tier.objects.update_or_create(rank=0, defaults={"name": "Member"})
    gold = Tier.objects.create(name="Gold", rank=2, birthday_bonus_points=200)
    ana, bo = born(dt.date(1990, 5, 17)), born(dt.date(1991, 5, 17))
    PointsAccount.objects.filter(pk=ana.points_account.pk).update(tier=gold)
    assert birthday_points_award(today=dt.date(2026, 5, 17)) == 2
    event = MemberEvent.objects.get(member=ana, event="birthday")
    assert event.points == 75 + 200
    assert {(a.rule_name, a.points) for a in EventAward.objects.filter(member_event=event)} == {
        (birthday_rule.name, 75),
        ("Gold birthday bonus", 200),
    }
    assert balances(ana.points_account)["available"] == 275 and balances(bo.points_account)["available"] == 75
    # Without a birthday rule, the perk alone still comes, and only for those whose tier has one.
    birthday_rule.is_active = False
    birthday_rule.save()
    assert birthday_points_award(today=dt.date(2027, 5, 17)) == 1
    assert balances(ana.points_account)["available"] == 475 and balances(bo.points_account)["available"] == 75
    assert birthday_points_award(today=dt.date(2027, 5, 17)) == 0
    assert ledger_audit() == []


def test_birthdays_are_awarded_in_chunks(birthday_rule):
    members = [born(dt.date(1980 + i, 5, 17)) for i in range(5)]
    assert birthday_points_award(today=dt.date(2026, 5, 17), chunk_size=2) == 5
    assert {e.member_id for e in MemberEvent.objects.filter(event="birthday")} == {m.pk for m in members}


def test_the_birthday_command_catches_up_a_day(birthday_rule, capsys):
    born(dt.date(1990, 5, 17))
    call_command("birthday_points_award", "--date", "2026-05-17")
    assert "Recorded 1 birthday events." in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("birthday_points_award", "--date", "17-05-2026")


def test_the_birthday_task_is_on_the_beat_schedule():
    from django.conf import settings

    assert tasks.birthday_points_award.name in {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}


# --- at the same moment (PostgreSQL) ----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_events_at_once_cannot_both_pass_a_limit_of_one():
    set_program(time_zone="Europe/Amsterdam")
    rule(limit_count=1, limit_period="day")
    shop = shop_create(name="Race shop")
    member = member_create()

    def work(i):
        fresh = Member.objects.select_related("points_account").get(pk=member.pk)
        return event_record(member=fresh, event=REVIEW, shop=shop, external_id=f"race-{i}")[0].status

    results = run_at_once(6, work)
    assert sorted(results) == ["awarded"] + ["limit_reached"] * 5, results
    assert balances(member.points_account)["available"] == 50
    assert ledger_audit() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_copies_of_one_event_at_once_make_one_record():
    rule()
    shop = shop_create(name="Race shop")
    member = member_create()

    def work(_):
        fresh = Member.objects.select_related("points_account").get(pk=member.pk)
        return event_record(member=fresh, event=REVIEW, shop=shop, external_id="same")

    results = run_at_once(6, work)
    assert all(isinstance(r, tuple) for r in results), results
    assert len({r[0].pk for r in results}) == 1 and sum(created for _, created in results) == 1
    assert MemberEvent.objects.filter(event=REVIEW).count() == 1
    assert balances(member.points_account)["available"] == 50
    assert ledger_audit() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_birthday_runs_at_once_award_each_member_once():
    rule(event="birthday", points=75)
    members = [member_create(birthday=dt.date(1990, 5, 17)) for _ in range(5)]
    results = run_at_once(3, lambda _: birthday_points_award(today=dt.date(2026, 5, 17)))
    assert sum(results) == 5, results
    for member in members:
        assert balances(member.points_account)["available"] == 75
    assert ledger_audit() == []
