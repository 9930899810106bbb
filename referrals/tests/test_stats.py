"""Referral stats on a small known data set built through the services: clicks, sign-ups, conversion, the
outcomes, revenue from referred members, reward cost, top referrers, the weekly chart and the CSV export."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.services.orders import order_cancel
from members.tests.factories import member_create
from referrals.admin.pages import _cell, weekly_chart
from referrals.models import Referral
from referrals.services import referral_click, referral_join, referral_review, referral_rewards_release
from referrals.tests.test_admin import flagged, order, referrer, superuser

STATS_URL = "/admin/referrals/referral/stats/"
CSV_URL = "/admin/referrals/referral/stats/referrals.csv"


@pytest.fixture
def admin_client(client, db):
    client.force_login(superuser())
    return client


@pytest.fixture
def data(shop, program):
    """Anna's link is followed twice (Ben signs up through one), Bob's once. Ben orders 50 and 30 EUR (and
    a cancelled 40): qualified and, after the window, rewarded. Carl (Anna's) is held for review. Dora
    (Bob's) orders 15 EUR, below the 20 EUR minimum, and 10 USD. Eve had ordered before: rejected, her
    later 100 EUR is not referral revenue. Gus, held on Anna's link and rejected in review, joins with Bob's
    code and orders 30 EUR: qualified and rewarded. Frank (Anna's) signed up 100 days ago."""
    anna, anna_code = referrer()
    bob, bob_code = referrer("bob@example.com", "Bob")
    _click, cookie = referral_click(code=anna_code)
    referral_click(code=anna_code)
    referral_click(code=bob_code)

    ben = referral_join(friend=member_create(email="ben@example.com"), cookie=cookie)
    order(shop, ben.friend, "ben-1", "50.00")
    order(shop, ben.friend, "ben-2", "30.00")
    order_cancel(order=order(shop, ben.friend, "ben-3", "40.00"))
    carl = flagged(anna, anna_code, "carl@example.com")
    dora = referral_join(friend=member_create(email="dora@example.com"), code=bob_code)
    order(shop, dora.friend, "dora-1", "15.00")
    order(shop, dora.friend, "dora-2", "10.00", currency="USD")
    eve_member = member_create(email="eve@example.com")
    order(shop, eve_member, "eve-0", "60.00")
    eve = referral_join(friend=eve_member, code=bob_code)
    order(shop, eve_member, "eve-1", "100.00")
    # Gus, held on Anna's link and rejected in review, then joins with Bob's code: Bob's friend, 30 EUR, once.
    gus_held = flagged(anna, anna_code, "gus@example.com")
    referral_review(referral=gus_held, approve=False, note="Anna's flatmate", user=None)
    gus = referral_join(friend=gus_held.friend, code=bob_code)
    order(shop, gus.friend, "gus-1", "30.00")
    frank = referral_join(friend=member_create(email="frank@example.com"), code=anna_code)
    # No service moves a sign-up into the past: dated back by hand, as only the period needs.
    Referral.objects.filter(pk=frank.pk).update(signed_up_at=timezone.now() - dt.timedelta(days=100))
    assert referral_rewards_release(now=timezone.now() + dt.timedelta(days=15)) == 2
    return {
        "anna": anna,
        "bob": bob,
        "ben": ben,
        "carl": carl,
        "dora": dora,
        "eve": eve,
        "gus_held": gus_held,
        "gus": gus,
        "frank": frank,
    }


def test_the_figures_of_the_last_90_days(admin_client, data):
    page = admin_client.get(STATS_URL)

    assert page.status_code == 200
    stats = page.context["stats"]
    assert (stats.clicks, stats.clicks_signed_up, stats.click_conversion) == (3, 1, Decimal("33.3"))
    assert (stats.signups, stats.qualified, stats.signup_conversion) == (6, 2, Decimal("33.3"))
    assert (stats.rewarded, stats.rejected, stats.held) == (2, 2, 1)
    assert stats.revenue == [
        {"currency": "EUR", "total": Decimal("125.00"), "orders": 4},
        {"currency": "USD", "total": Decimal("10.00"), "orders": 1},
    ]
    # Ben's, Dora's and Gus's welcome points, Anna's and Bob's rewards; Carl's is held, Eve's refused, Frank's
    # out of the period.
    assert stats.cost == {
        "points": 1300,
        "store_credit": [],
        "catalogue": 0,
        "pending_points": 0,
        "pending_store_credit": [],
    }
    assert [(row["member"].pk, row["signups"], row["rewarded"], row["revenue"]) for row in stats.top] == [
        (data["anna"].pk, 3, 1, [{"currency": "EUR", "total": Decimal("80.00")}]),
        (
            data["bob"].pk,
            3,
            1,
            [{"currency": "EUR", "total": Decimal("45.00")}, {"currency": "USD", "total": Decimal("10.00")}],
        ),
    ]
    assert sum(week["signups"] for week in stats.weeks) == 6
    assert stats.weeks[-1] == {"week": stats.weeks[-1]["week"], "signups": 6, "qualified": 2}
    assert 13 <= len(stats.weeks) <= 14
    html = page.text
    assert "<svg" in html and "<rect" in html and "<script" not in html.split('id="referral-stats"')[1]
    assert "33.3%" in html and "125.00 EUR" in html


def test_the_presets_change_the_period(admin_client, data):
    year = admin_client.get(STATS_URL, {"days": 365}).context["stats"]
    assert (year.signups, year.qualified) == (7, 2)
    assert year.top[0]["member"].pk == data["anna"].pk and year.top[0]["signups"] == 4
    month = admin_client.get(STATS_URL, {"days": 30}).context
    assert (month["days"], month["stats"].signups) == (30, 6)
    assert admin_client.get(STATS_URL, {"days": 7}).context["days"] == 90  # not a preset: the default


def test_a_period_of_whole_days(admin_client, data):
    today = timezone.localdate()
    page = admin_client.get(STATS_URL, {"start": (today - dt.timedelta(days=101)).isoformat(), "end": today})
    stats = page.context["stats"]
    assert stats.signups == 7 and page.context["days"] is None
    assert "start=" in page.context["csv_url"]
    earlier = admin_client.get(STATS_URL, {"start": "2020-01-01", "end": "2020-01-31"}).context["stats"]
    assert (earlier.signups, earlier.clicks, earlier.revenue, earlier.top) == (0, 0, [], [])
    wrong = admin_client.get(STATS_URL, {"start": today, "end": today - dt.timedelta(days=1)})
    assert "end" in wrong.context["form"].errors


def test_the_csv_reads_back_one_row_per_referral(admin_client, data):
    response = admin_client.get(CSV_URL, {"days": 90})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    by_id = {row["id"]: row for row in rows}
    names = ("ben", "carl", "dora", "eve", "gus_held", "gus")
    assert len(rows) == 6 and set(by_id) == {str(data[n].public_id) for n in names}
    ben = by_id[str(data["ben"].public_id)]
    assert ben["referrer_email"] == "anna@example.com"
    assert ben["friend_id"] == str(data["ben"].friend.public_id)
    assert (ben["status"], ben["channel"], ben["review"]) == ("rewarded", "link", "")
    assert (ben["friend_rewards"], ben["referrer_rewards"]) == ("100 points (granted)", "500 points (granted)")
    assert ben["clicked_at"] and ben["signed_up_at"] and ben["qualified_at"] and ben["rewarded_at"]
    carl = by_id[str(data["carl"].public_id)]
    assert (carl["review"], carl["reason_code"], carl["friend_rewards"]) == ("pending", "same_ip", "")
    eve = by_id[str(data["eve"].public_id)]
    assert (eve["status"], eve["reason_code"]) == ("rejected", "already_customer")
    gus_held = by_id[str(data["gus_held"].public_id)]
    assert (gus_held["status"], gus_held["review"], gus_held["reason_code"]) == (
        "rejected",
        "rejected",
        "rejected_by_staff",
    )
    assert "referrals-" in response["Content-Disposition"]


def test_a_csv_cell_never_starts_a_formula():
    assert [_cell(v) for v in ("=1+1", "+31", "-", "@SUM(A1)", "anna@example.com", None)] == [
        "'=1+1",
        "'+31",
        "'-",
        "'@SUM(A1)",
        "anna@example.com",
        "",
    ]


def test_the_stats_cost_the_same_queries_however_many_referrals(admin_client, data, shop):
    def queries(url=STATS_URL):
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(url)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
        return len(captured)

    few, few_csv = queries(), queries(CSV_URL)
    for i in range(4):
        someone, code = referrer(f"referrer{i}@example.com", f"Ref{i}")
        friend = referral_join(friend=member_create(email=f"f{i}@example.com"), code=code)
        order(shop, friend.friend, f"f-{i}", "25.00")
    assert queries() == few
    assert queries(CSV_URL) == few_csv
    # session, user, the program's time zone; the counts, revenue, cost, top referrers, their members, their
    # friends' revenue, the weeks; the program again for the page.
    assert few == 11
    # session, user, the program's time zone; the referrals, their rewards (with the catalogue rewards).
    assert few_csv == 5


def test_the_chart_scales_to_the_busiest_week():
    weeks = [
        {"week": dt.date(2026, 11, 2), "signups": 0, "qualified": 0},
        {"week": dt.date(2026, 11, 9), "signups": 4, "qualified": 1},
        {"week": dt.date(2026, 11, 16), "signups": 2, "qualified": 2},
    ]
    chart = weekly_chart(weeks)
    assert chart["peak"] == 4
    assert [(b["signups_h"], b["qualified_h"]) for b in chart["bars"]] == [(0, 0), (120, 30), (60, 60)]
    assert chart["bars"][1]["signups_y"] == 0 and chart["bars"][2]["x"] > chart["bars"][1]["x2"]
    assert weekly_chart([])["peak"] == 0
