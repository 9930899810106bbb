"""member_scores_refresh: RFM quintiles, segments and churn risk on known orders; the segment rules
rfm_segment and churn_risk_at_least (rewards.services.segments) select from the scores."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core.exceptions import ApplicationError
from insights.models import MemberScore
from insights.services.scores import member_scores_refresh
from insights.tests.conftest import order
from members.models import Member
from rewards.models import Segment
from rewards.services.segments import segment_members, segment_rules_validate

NOW = timezone.now()


@pytest.fixture
def members(shop, make_member):
    """Five customers with 5, 4, 3, 2 and 1 orders of 100.00, last 2, 10, 50, 100 and 200 days ago, with
    gaps of 10, 30, 60 and 100 days; one whose only order was 400 days ago; one who never ordered."""
    plans = {
        "a": [2, 12, 22, 32, 42],
        "b": [10, 40, 70, 100],
        "c": [50, 110, 170],
        "d": [100, 200],
        "e": [200],
        "lapsed": [400],
        "never": [],
    }
    made = {}
    for name, days_ago in plans.items():
        member = make_member(first_name=name)
        for days in days_ago:
            order(shop, total="100.00", placed_at=NOW - dt.timedelta(days=days), member=member)
        made[name] = member
    return made


def _scores(members):
    return {name: MemberScore.objects.get(member=m) for name, m in members.items()}


def test_rfm_quintiles_segments_and_churn_risk(members):
    result = member_scores_refresh(now=NOW)
    assert (result.members, result.scored) == (7, 5)
    s = _scores(members)
    assert [(s[n].recency, s[n].frequency, s[n].monetary) for n in "abcde"] == [(5 - i, 5 - i, 5 - i) for i in range(5)]
    assert [s[n].segment for n in "abcde"] == ["champions", "champions", "loyal", "hibernating", "hibernating"]
    assert s["a"].orders_365 == 5 and s["a"].spend_365 == Decimal("500.00")
    # The program's median gap is 30 days (lower median of 10, 30, 60, 100).
    assert s["e"].expected_interval_days == pytest.approx(30)
    assert s["a"].expected_interval_days == pytest.approx((4 * 10 + 2 * 30) / 6)
    # risk = 100 q^2 / (q^2 + 4), q = days since the last order / expected interval
    assert s["a"].churn_risk == 0  # 2 days after an order, every 17 days or so
    assert s["d"].churn_risk == 47  # q = 100 / 53.3
    assert s["e"].churn_risk == 92  # q = 200 / 30
    assert (s["lapsed"].segment, s["lapsed"].recency, s["lapsed"].churn_risk) == ("lapsed", None, 100)
    assert (s["never"].segment, s["never"].churn_risk) == ("no_orders", None)


def test_refresh_is_idempotent_and_drops_closed_members(members):
    member_scores_refresh(now=NOW)
    first = list(MemberScore.objects.order_by("member").values_list("member", "segment", "churn_risk", "recency"))
    Member.objects.filter(pk=members["never"].pk).update(status=Member.Status.CLOSED)
    member_scores_refresh(now=NOW)
    again = list(MemberScore.objects.order_by("member").values_list("member", "segment", "churn_risk", "recency"))
    assert again == [row for row in first if row[0] != members["never"].pk]


def test_equal_values_get_equal_scores(shop, make_member):
    twins = [make_member() for _ in range(3)]
    for member in twins:
        order(shop, total="50.00", placed_at=NOW - dt.timedelta(days=5), member=member)
    member_scores_refresh(now=NOW)
    assert set(MemberScore.objects.values_list("frequency", "monetary")) == {(1, 1)}


def test_segment_rules_select_from_the_scores(members):
    member_scores_refresh(now=NOW)

    def names(rules):
        segment = Segment.objects.create(name=f"s{Segment.objects.count()}", rules=rules)
        return sorted(m.first_name for m in segment_members(segment))

    assert names([{"rule": "rfm_segment", "segments": ["champions"]}]) == ["a", "b"]
    assert names([{"rule": "rfm_segment", "segments": ["hibernating", "lapsed"]}]) == ["d", "e", "lapsed"]
    assert names([{"rule": "churn_risk_at_least", "min": 50}]) == ["e", "lapsed"]
    assert names([{"rule": "churn_risk_at_least", "min": 47}, {"rule": "orders", "min": 2}]) == ["d"]


@pytest.mark.parametrize(
    "rule",
    [
        {"rule": "rfm_segment", "segments": ["whales"]},
        {"rule": "rfm_segment", "segments": []},
        {"rule": "churn_risk_at_least", "min": 101},
        {"rule": "churn_risk_at_least"},
    ],
)
def test_segment_rules_refuse_what_makes_no_sense(db, rule):
    with pytest.raises(ApplicationError):
        segment_rules_validate([rule])
