"""The dashboard's reads: only the rollups and the member scores' counts, a handful of queries whatever the
program's size (insights.tests.test_dashboard pins the number)."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from insights.models import CampaignImpact, DailyOrderStats, DailyProgramStats, MemberScore, PeriodCustomerStats

PERIOD_PRESETS = (30, 90, 365)
PERIOD_DEFAULT = 90
RATE_WINDOW = 30  # days of the rolling redemption rate


def _ratio(part, whole, digits: int = 1) -> float | None:
    return round(100 * part / whole, digits) if whole else None


def _money(value) -> float:
    return float(Decimal(value).quantize(Decimal("0.01")))


def dashboard_data(*, days: int, today: dt.date, currency: str) -> dict:
    """Everything the insights page shows for the `days` days ending `today`, as plain data for JSON."""
    first = today - dt.timedelta(days=days - 1)
    rows = list(DailyProgramStats.objects.filter(day__gte=first - dt.timedelta(days=RATE_WINDOW), day__lte=today))
    earlier = [r for r in rows if r.day < first]
    rows = [r for r in rows if r.day >= first]
    labels = [r.day.isoformat() for r in rows]

    # The redemption rate over the 30 days up to each day: points redeemed / points issued in them.
    window = earlier[-(RATE_WINDOW - 1) :] if RATE_WINDOW > 1 else []
    rates = []
    issued = sum(r.points_issued for r in window)
    redeemed = sum(r.points_redeemed for r in window)
    trail = list(window)
    for r in rows:
        trail.append(r)
        issued += r.points_issued
        redeemed += r.points_redeemed
        if len(trail) > RATE_WINDOW:
            gone = trail.pop(0)
            issued -= gone.points_issued
            redeemed -= gone.points_redeemed
        rates.append(_ratio(redeemed, issued))

    tier_names = sorted({name for r in rows for name in r.tier_distribution})
    orders = defaultdict(lambda: {"orders": 0, "revenue": Decimal(0)})
    daily_revenue = {True: defaultdict(Decimal), False: defaultdict(Decimal)}
    for o in DailyOrderStats.objects.filter(day__gte=first, day__lte=today, currency=currency):
        orders[o.members]["orders"] += o.orders
        orders[o.members]["revenue"] += o.revenue
        daily_revenue[o.members][o.day.isoformat()] += o.revenue

    latest = rows[-1].day if rows else today
    customers = {
        c.members: c
        for c in PeriodCustomerStats.objects.filter(day__lte=latest, days=days, currency=currency).order_by("day")
    }  # the newest row of each kind wins
    buyers = {}
    for is_member, key in ((True, "members"), (False, "non_members")):
        c = customers.get(is_member)
        o = orders[is_member]
        buyers[key] = {
            "orders": o["orders"],
            "revenue": _money(o["revenue"]),
            "average_order_value": _money(o["revenue"] / o["orders"]) if o["orders"] else None,
            "customers": c.customers if c else None,
            "repeat_rate": _ratio(c.repeat_customers, c.customers) if c else None,
            "frequency": round(c.orders / c.customers, 2) if c and c.customers else None,
            "as_of": c.day.isoformat() if c else None,
        }

    campaigns = [
        {
            "name": i.campaign.name,
            "starts": i.campaign.starts_at.date().isoformat(),
            "ends": i.campaign.ends_at.date().isoformat(),
            "points": i.points,
            "reached": i.reached,
            "compared": i.compared,
            "incremental_revenue": _money(i.incremental_revenue),
            "currency": i.currency,
        }
        for i in CampaignImpact.objects.filter(campaign__ends_at__date__gte=first, campaign__starts_at__date__lte=today)
        .select_related("campaign")
        .order_by("campaign__starts_at")
    ]

    # The scores' counts as the last nightly run left them on its day's row (not the score rows themselves).
    scores = next((r.member_scores for r in reversed(rows) if r.member_scores), {})
    segments = [
        {"segment": value, "label": str(label), "members": scores.get("segments", {}).get(value, 0)}
        for value, label in MemberScore.Segment.choices
    ]

    total_clicks = sum(r.referral_clicks for r in rows)
    total_signups = sum(r.referral_signups for r in rows)
    total_qualified = sum(r.referral_qualified for r in rows)
    last = rows[-1] if rows else None
    return {
        "days": days,
        "first": first.isoformat(),
        "last": today.isoformat(),
        "currency": currency,
        "refreshed_at": max((r.refreshed_at for r in rows), default=None),
        "labels": labels,
        "members": {
            "enrolled": [r.members_enrolled for r in rows],
            "total": [r.members_total for r in rows],
            "active_30": [r.active_30 for r in rows],
            "active_90": [r.active_90 for r in rows],
        },
        "points": {
            "issued": [r.points_issued for r in rows],
            "redeemed": [r.points_redeemed for r in rows],
            "expired": [r.points_expired for r in rows],
            "outstanding": [r.points_outstanding for r in rows],
            "redemption_rate": rates,
        },
        "tiers": {
            "names": tier_names,
            "series": {name: [r.tier_distribution.get(name, 0) for r in rows] for name in tier_names},
            "up": [r.tier_up for r in rows],
            "down": [r.tier_down for r in rows],
        },
        "referrals": {
            "clicks": [r.referral_clicks for r in rows],
            "signups": [r.referral_signups for r in rows],
            "qualified": [r.referral_qualified for r in rows],
        },
        "revenue": {
            "members": [_money(daily_revenue[True].get(day, 0)) for day in labels],
            "non_members": [_money(daily_revenue[False].get(day, 0)) for day in labels],
        },
        "campaigns": campaigns,
        "segments": segments,
        "summary": {
            "members_total": last.members_total if last else 0,
            "active_30": last.active_30 if last else 0,
            "active_90": last.active_90 if last else 0,
            "enrolled": sum(r.members_enrolled for r in rows),
            "issued": sum(r.points_issued for r in rows),
            "redeemed": sum(r.points_redeemed for r in rows),
            "expired": sum(r.points_expired for r in rows),
            "redemption_rate": _ratio(sum(r.points_redeemed for r in rows), sum(r.points_issued for r in rows)),
            "outstanding": last.points_outstanding if last else 0,
            "tier_up": sum(r.tier_up for r in rows),
            "tier_down": sum(r.tier_down for r in rows),
            "clicks": total_clicks,
            "signups": total_signups,
            "qualified": total_qualified,
            "click_conversion": _ratio(total_signups, total_clicks),
            "signup_conversion": _ratio(total_qualified, total_signups),
            "high_churn_risk": scores.get("high_churn_risk", 0),
            "scored": scores.get("scored", 0),
            "scores_computed_at": scores.get("computed_at"),
        },
        "buyers": buyers,
    }
