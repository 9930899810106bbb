"""The preview of a change of the fraud rules: the last 90 days' referrals decided again from their facts under
the proposed rules, compared with today's; nothing is saved."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.tests.factories import member_create
from referrals.admin.pages import PREVIEW_FIELDS, rules_proposed
from referrals.models import Referral, ReferralProgram
from referrals.selectors import referral_program_get
from referrals.selectors.staff import referral_rules_preview
from referrals.services import referral_join
from referrals.tests.test_admin import flagged, referrer, superuser

PREVIEW_URL = "/admin/referrals/referralprogram/preview/"


@pytest.fixture
def admin_client(client, db):
    client.force_login(superuser())
    return client


def preview(client, **changes):
    """Submit the preview form as prefilled (today's rules) with `changes`."""
    rules = referral_program_get()
    return client.get(PREVIEW_URL, {**{name: getattr(rules, name) for name in PREVIEW_FIELDS}, **changes})


def three_friends_in_a_day():
    anna, code = referrer()
    return [referral_join(friend=member_create(email=f"friend{i}@example.com"), code=code) for i in range(3)]


def test_the_form_starts_from_today_s_rules_and_shows_nothing_until_submitted(admin_client, program):
    page = admin_client.get(PREVIEW_URL)
    assert page.status_code == 200
    assert page.context["preview"] is None
    form = page.context["form"]
    assert {name: form[name].value() for name in PREVIEW_FIELDS} == {
        "same_device": "flag",
        "same_ip": "flag",
        "same_address": "flag",
        "same_payment": "flag",
        "max_per_day": 5,
        "max_per_week": 15,
        "max_rewarded": 50,
    }
    assert PREVIEW_URL in admin_client.get("/admin/referrals/referralprogram/1/change/").text


def test_ignoring_the_same_ip_accepts_the_referral_it_held(admin_client, program):
    anna, code = referrer()
    held = flagged(anna, code, "ben@example.com")
    accepted = referral_join(friend=member_create(email="carl@example.com"), code=code)

    page = preview(admin_client, same_ip="ignore")

    result = page.context["preview"]
    assert (result.total, result.changed_count) == (2, 1)
    assert {row["outcome"]: (row["now"], row["proposed"]) for row in result.rows} == {
        "accept": (1, 2),
        "flag": (1, 0),
        "reject": (0, 0),
    }
    (change,) = result.changed
    assert change.referral.pk == held.pk and change.referral.pk != accepted.pk
    assert (change.now.outcome, change.proposed.outcome) == ("flag", "accept")
    assert change.now.reasons[0]["code"] == "same_ip"
    assert [str(c["field"]) for c in page.context["changes"]] == ["same ip"]
    assert held.code in page.text and "held for review" in page.text


def test_rejecting_on_the_same_ip_rejects_what_was_held(admin_client, program):
    anna, code = referrer()
    flagged(anna, code, "ben@example.com")
    result = preview(admin_client, same_ip="reject").context["preview"]
    (change,) = result.changed
    assert (change.now.outcome, change.proposed.outcome) == ("flag", "reject")
    assert change.proposed.first_reason["message"] == "The friend signed up from the referrer's IP address."


def test_lowering_the_daily_limit_holds_more(admin_client, program):
    first, second, third = three_friends_in_a_day()
    assert [r.facts["referrer_day"] for r in (first, second, third)] == [1, 2, 3]

    result = preview(admin_client, max_per_day=1).context["preview"]

    assert result.now == {"accept": 3}
    assert result.proposed == {"accept": 1, "flag": 2}
    assert [c.referral.pk for c in result.changed] == [third.pk, second.pk]  # newest first
    assert result.changed[0].proposed.reasons[0]["code"] == "velocity_day"
    assert preview(admin_client, max_per_day=0).context["preview"].changed_count == 0  # 0: no limit


def test_only_the_last_90_days_count_and_nothing_is_saved(admin_client, program):
    anna, code = referrer()
    old = flagged(anna, code, "ben@example.com")
    recent = flagged(anna, code, "carl@example.com")
    # No service moves a sign-up into the past: the row is dated back by hand, as only this test needs.
    Referral.objects.filter(pk=old.pk).update(signed_up_at=timezone.now() - dt.timedelta(days=91))
    history_before = ReferralProgram.history.count()

    result = preview(admin_client, same_ip="ignore", max_rewarded=1).context["preview"]

    assert [c.referral.pk for c in result.changed] == [recent.pk]
    rules = referral_program_get()
    assert (rules.same_ip, rules.max_rewarded) == ("flag", 50)
    assert ReferralProgram.history.count() == history_before
    assert ReferralProgram.objects.count() == 1


def test_an_invalid_proposal_shows_the_form_s_errors(admin_client, program):
    page = preview(admin_client, same_ip="sometimes", max_per_day=-1)
    assert page.context["preview"] is None
    assert set(page.context["form"].errors) == {"same_ip", "max_per_day"}


def test_the_preview_costs_the_same_queries_however_many_referrals(admin_client, program):
    three_friends_in_a_day()

    rules = referral_program_get()
    params = {**{name: getattr(rules, name) for name in PREVIEW_FIELDS}, "max_per_day": 1}

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(PREVIEW_URL, params).context["preview"].changed_count >= 2
        return len(captured)

    few = queries()
    bob, code = referrer("bob@example.com", "Bob")
    for i in range(6):
        referral_join(friend=member_create(email=f"more{i}@example.com"), code=code)
    # session, user, the program's time zone, today's rules, the referrals (one query), the program for the page
    assert queries() == few == 6


def test_the_selector_decides_under_an_unsaved_copy(program):
    anna, code = referrer()
    flagged(anna, code, "ben@example.com")
    rules = referral_program_get()
    proposed = rules_proposed(rules, {"same_ip": "ignore"})
    assert proposed.pk is None and proposed.referrer_points == rules.referrer_points
    with CaptureQueriesContext(connection) as captured:
        result = referral_rules_preview(rules=rules, proposed=proposed)
    assert len(captured) == 1
    assert (result.now["flag"], result.proposed["accept"]) == (1, 1)
