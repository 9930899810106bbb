"""The insights page: staff with the permission see it (reading only the rollups, a fixed number of queries
whatever the data), others are refused; the period presets; the task and the command fill the rollups."""

import datetime as dt
import json

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse

from insights.models import DailyProgramStats, MemberScore
from insights.services.rollups import rollups_refresh
from insights.services.scores import member_scores_refresh
from insights.tasks import insights_refresh_hourly
from insights.tests.conftest import at, clock, order, today
from members.models import User
from rewards.models import Campaign, CampaignMember

URL = "/admin/insights/insightsdashboard/"
# The session, the user, their permissions (2), then the page's own four reads: the days' rollups (with the
# nightly scores' counts), the days' orders, the period's customers, the campaigns. The program's settings come
# from the per-process cache, as in production (the tests turn it on; the first request fills it).
QUERIES = 8


@pytest.fixture(autouse=True)
def _config_cache(settings):
    settings.CONFIG_CACHE_SECONDS = 60


@pytest.fixture
def data(shop, make_member):
    """Two members and a guest buying over two days of a double-points campaign, the rollups and scores."""
    d1, d2 = today() - dt.timedelta(days=1), today()
    with clock(at(d1)):
        ana, ben = make_member(), make_member()
        Campaign.objects.create(name="Double days", starts_at=at(d1, 0), ends_at=at(d2, 23), factor=2)
        order(shop, total="80.00", placed_at=at(d1), member=ana)
        order(shop, total="40.00", placed_at=at(d1), email="guest@example.com")
    with clock(at(d2)):
        order(shop, total="20.00", placed_at=at(d2), member=ben)
    with clock(at(d2, 12)):
        rollups_refresh(since=d1 - dt.timedelta(days=40))
        member_scores_refresh()
    return d1, d2


@pytest.fixture
def staff(db):
    return User.objects.create_user("staff@example.com", "pw", is_staff=True)


def _page_data(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="insights-data" type="application/json">') + len(
        '<script id="insights-data" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_staff_with_the_permission_see_the_dashboard(client, staff, data, django_assert_num_queries):
    d1, d2 = data
    staff.user_permissions.add(Permission.objects.get(codename="view_insightsdashboard"))
    client.force_login(staff)
    client.get(URL)  # warm the per-process caches (program settings)
    with django_assert_num_queries(QUERIES):
        response = client.get(URL + "?days=30")
    assert response.status_code == 200
    page = _page_data(response)
    assert page["labels"][-2:] == [d1.isoformat(), d2.isoformat()]
    assert page["members"]["total"][-2:] == [2, 2]
    assert page["summary"]["issued"] == 200  # (80 + 20 points at 1 per 1.00) doubled
    assert page["buyers"]["members"] | {"as_of": None} == {
        "orders": 2,
        "revenue": 100.0,
        "average_order_value": 50.0,
        "customers": 2,
        "repeat_rate": 0.0,
        "frequency": 1.0,
        "as_of": None,
    }
    assert page["buyers"]["non_members"]["orders"] == 1
    assert [c["name"] for c in page["campaigns"]] == ["Double days"]
    assert page["campaigns"][0] | {"incremental_revenue": None} == page["campaigns"][0] | {
        "points": 100,  # the extra points of the two orders (CampaignMember rows, made by the order intake)
        "reached": 2,
        "incremental_revenue": None,
    }
    assert page["campaigns"][0]["points"] == sum(CampaignMember.objects.values_list("points", flat=True))
    assert sum(s["members"] for s in page["segments"]) == 2
    assert page["summary"]["scored"] == 2
    html = response.content.decode()
    assert "vendor/chartjs/chart.umd.min.js" in html and "js/insights.js" in html
    assert "<script>" not in html  # no inline script: the charts are drawn by insights.js
    assert f'href="{reverse("admin:accounting_rollforward")}" id="liability-link"' in html  # money: accounting's


def test_the_query_count_does_not_grow_with_the_data(client, staff, data, shop, make_member):
    """A year of rollups and more members: the same number of queries as above."""
    staff.user_permissions.add(Permission.objects.get(codename="view_insightsdashboard"))
    client.force_login(staff)
    with clock(at(today(), 12)):
        rollups_refresh(since=today() - dt.timedelta(days=400))
    client.get(URL)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL + "?days=365")
    assert response.status_code == 200 and len(queries) == QUERIES
    assert len(_page_data(response)["labels"]) == 365


def test_period_presets(client, admin_client, data):
    for days in (30, 90, 365):
        assert _page_data(admin_client.get(URL + f"?days={days}"))["days"] == days
    assert _page_data(admin_client.get(URL + "?days=12"))["days"] == 90  # not a preset: the default


def test_refused_to_non_staff_and_staff_without_the_permission(client, staff, data):
    shopper = User.objects.create_user("shopper@example.com", "pw")
    client.force_login(shopper)
    response = client.get(URL)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    client.force_login(staff)
    assert client.get(URL).status_code == 403


def test_the_admin_index_links_to_it(admin_client, db):
    assert URL in admin_client.get(reverse("admin:index")).content.decode()


def test_the_hourly_task_and_the_command(shop, make_member, capsys):
    make_member()
    assert insights_refresh_hourly(force_scores=True) == 2  # yesterday and today
    assert DailyProgramStats.objects.count() == 2 and MemberScore.objects.count() == 1
    rollups_refresh(since=None)  # the next hour: the scores' counts on today's row stay
    assert DailyProgramStats.objects.get(day=today()).member_scores["segments"] == {"no_orders": 1}
    call_command("insights_refresh", "--since", (today() - dt.timedelta(days=40)).isoformat(), "--scores")
    out = capsys.readouterr().out
    assert "41/41 days (100 %)" in out and "scores: 1 members" in out
    assert DailyProgramStats.objects.count() == 41
