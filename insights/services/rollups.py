"""The daily rollups the dashboard reads (docs/insights.md), recomputed set-based for a range of days.

Each figure is one aggregate query over the whole range grouped by day (in the program's time zone), never a
query per day or per member. Figures "at the end of a day" are taken back from now: points outstanding are
today's balances (PointsAccount, kept equal to the entries by the ledger's invariant 1) less what entries
changed after that day; the tier distribution is today's tiers with the tier changes after that day undone.
Rewriting a day replaces its rows, so a refresh can run any number of times (idempotent).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from insights.models import CampaignImpact, DailyOrderStats, DailyProgramStats, PeriodCustomerStats

ACTIVE_WINDOWS = (30, 90)
PERIODS = (30, 90, 365)
CAMPAIGN_LOOKBACK_DAYS = 365  # the comparable group: audience members with an order this long before the start
EPOCH = dt.date(2000, 1, 1)  # day numbers in SQL count from here


@dataclass(frozen=True)
class RefreshResult:
    first: dt.date
    last: dt.date
    days: int
    campaigns: int


def _zone() -> ZoneInfo:
    from rewards.selectors import program_get

    return ZoneInfo(program_get().time_zone or "UTC")


def local_today(zone: ZoneInfo | None = None) -> dt.date:
    return timezone.now().astimezone(zone or _zone()).date()


def _midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _by_day(queryset, field: str, zone: ZoneInfo, *group_by: str):
    """`queryset` grouped by the local day of `field` (as "d") and `group_by`, ready for aggregates."""
    return queryset.annotate(d=TruncDate(field, tzinfo=zone)).values("d", *group_by)


# --- members, points, tiers, referrals ---------------------------------------------------------------------


def _enrolled(start, end, zone) -> tuple[int, dict]:
    from members.models import Member

    before = Member.objects.filter(joined_at__lt=start).count()
    rows = _by_day(Member.objects.filter(joined_at__gte=start, joined_at__lt=end), "joined_at", zone)
    return before, {r["d"]: r["n"] for r in rows.annotate(n=Count("pk")).order_by()}


def _points(start, end, zone) -> tuple[int, int, dict]:
    """(total outstanding now, change after `end`, {day: {kind: points}})."""
    from rewards.models import PointEntry, PointsAccount

    now_total = PointsAccount.objects.aggregate(t=Sum("available") + Sum("pending"))["t"] or 0
    later = PointEntry.objects.filter(created_at__gte=end).aggregate(t=Sum("available_change") + Sum("pending_change"))[
        "t"
    ]
    rows = (
        _by_day(PointEntry.objects.filter(created_at__gte=start, created_at__lt=end), "created_at", zone, "kind")
        .annotate(a=Sum("available_change"), p=Sum("pending_change"))
        .order_by()
    )
    per_day: dict = defaultdict(lambda: defaultdict(int))
    for r in rows:
        per_day[r["d"]][r["kind"]] += (r["a"] or 0) + (r["p"] or 0)
    return now_total, later or 0, per_day


def _day_number_sql(column: str, zone: ZoneInfo) -> tuple[str, tuple]:
    """SQL for the local day of a timestamp column as a whole number of days since EPOCH."""
    sql, params = connection.ops.datetime_cast_date_sql(column, (), str(zone))
    if connection.vendor == "postgresql":
        return f"({sql} - DATE '{EPOCH.isoformat()}')", tuple(params)
    return f"CAST(julianday({sql}) - julianday('{EPOCH.isoformat()}') AS INTEGER)", tuple(params)


def _active(first: dt.date, last: dt.date, window: int, zone: ZoneInfo) -> dict:
    """{day: members who earned or redeemed in the `window` days up to and including it}, in one query.

    An activity on day d makes the member active on days d .. d + window - 1. Per member, consecutive
    activity days give stretches of active days that do not overlap (each starts where the previous one ended
    at the earliest, found with LAG); counting +1 where a stretch starts and -1 where it ends, the running sum
    over the days is the number of members active on each day."""
    from rewards.models import PointEntry

    table = connection.ops.quote_name(PointEntry._meta.db_table)
    day_sql, day_params = _day_number_sql("e.created_at", zone)
    sql = f"""
        WITH pairs AS (
            SELECT DISTINCT e.account_id AS account_id, {day_sql} AS d FROM {table} e
            WHERE e.kind IN ('earn', 'redeem') AND e.created_at >= %s AND e.created_at < %s
        ), previous AS (
            SELECT d, LAG(d) OVER (PARTITION BY account_id ORDER BY d) AS p FROM pairs
        ), stretches AS (
            SELECT CASE WHEN p IS NULL OR p + {window} <= d THEN d ELSE p + {window} END AS s, d + {window} AS e
            FROM previous
        )
        SELECT d, SUM(delta) FROM (
            SELECT s AS d, 1 AS delta FROM stretches UNION ALL SELECT e AS d, -1 AS delta FROM stretches
        ) events GROUP BY d ORDER BY d
    """  # noqa: S608 - table names and whole numbers only; every value is a parameter
    start = _midnight(first - dt.timedelta(days=window - 1), zone)
    end = _midnight(last + dt.timedelta(days=1), zone)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, (*day_params, adapt(start), adapt(end)))
        deltas = [(EPOCH + dt.timedelta(days=int(n)), int(delta)) for n, delta in cursor.fetchall()]
    result, running, i = {}, 0, 0
    for day in _days(first, last):
        while i < len(deltas) and deltas[i][0] <= day:
            running += deltas[i][1]
            i += 1
        result[day] = running
    return result


def _tiers(start, end, zone) -> tuple[dict, dict, list]:
    """(tier counts now, {name: rank}, tier changes after `start` grouped by day and (from, to))."""
    from rewards.models import PointsAccount, Tier, TierChange

    now = {r["tier__name"] or "": r["n"] for r in PointsAccount.objects.values("tier__name").annotate(n=Count("pk"))}
    ranks = dict(Tier.objects.values_list("name", "rank"))
    moves = list(
        _by_day(TierChange.objects.filter(at__gte=start), "at", zone, "from_tier__name", "to_tier__name")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return now, ranks, moves


def _tier_days(days: list[dt.date], now: dict, ranks: dict, moves: list, joined_after: dict) -> dict:
    """{day: (distribution at its end, moves up, moves down)}: today's counts with later changes undone."""
    lowest = min(ranks.values(), default=0)

    def rank(name: str | None) -> int:
        return ranks.get(name, lowest) if name else lowest  # no tier yet counts as the lowest tier

    by_day: dict = defaultdict(list)
    for m in moves:
        by_day[m["d"]].append(m)
    result = {}
    counts = defaultdict(int, now)
    later_days = sorted((d for d in by_day if d > days[-1]), reverse=True)
    for d in later_days:  # changes after the range (a refresh of past days): undo them first
        for m in by_day[d]:
            counts[m["to_tier__name"]] -= m["n"]
            counts[m["from_tier__name"] or ""] += m["n"]
    for day in reversed(days):
        distribution = {name: n for name, n in counts.items() if n}
        distribution[""] = max(distribution.get("", 0) - joined_after[day], 0)  # not members yet that day
        if not distribution[""]:
            del distribution[""]
        up = sum(m["n"] for m in by_day[day] if rank(m["to_tier__name"]) > rank(m["from_tier__name"]))
        down = sum(m["n"] for m in by_day[day] if rank(m["to_tier__name"]) < rank(m["from_tier__name"]))
        result[day] = (distribution, up, down)
        for m in by_day[day]:  # back to the end of the day before
            counts[m["to_tier__name"]] -= m["n"]
            counts[m["from_tier__name"] or ""] += m["n"]
    return result


def _referrals(start, end, zone) -> dict:
    from referrals.models import Referral

    counts: dict = defaultdict(lambda: defaultdict(int))
    for field, name in (("clicked_at", "clicks"), ("signed_up_at", "signups"), ("qualified_at", "qualified")):
        rows = _by_day(Referral.objects.filter(**{f"{field}__gte": start, f"{field}__lt": end}), field, zone)
        for r in rows.annotate(n=Count("pk")).order_by():
            counts[r["d"]][name] = r["n"]
    return counts


# --- orders --------------------------------------------------------------------------------------------------


def _orders(start, end, zone) -> list[DailyOrderStats]:
    from integrations.models import Order

    orders = (
        Order.objects.filter(placed_at__gte=start, placed_at__lt=end)
        .exclude(status=Order.Status.CANCELLED)
        .annotate(m=ExpressionWrapper(Q(member__isnull=False), output_field=BooleanField()))
    )
    rows = _by_day(orders, "placed_at", zone, "currency", "m").annotate(n=Count("pk"), s=Sum("total")).order_by()
    totals: dict = defaultdict(lambda: [0, Decimal(0)])
    for r in rows:
        key = (r["d"], r["currency"], bool(r["m"]))
        totals[key][0] += r["n"]
        totals[key][1] += Decimal(str(r["s"] or 0))
    return [
        DailyOrderStats(day=d, currency=c, members=m, orders=n, revenue=s.quantize(Decimal("0.01")))
        for (d, c, m), (n, s) in totals.items()
    ]


def _customers(day: dt.date, days: int, zone: ZoneInfo) -> list[PeriodCustomerStats]:
    """The `days` days ending on `day`: customers per currency and buyer kind, in one query. A member is a
    customer; a buyer without a member is told apart by the e-mail the shop sent, else the shop's customer
    id; orders with neither cannot be told apart and are left out here."""
    from integrations.models import Order

    table = connection.ops.quote_name(Order._meta.db_table)
    sql = f"""
        SELECT currency, is_member, COUNT(*), SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END), SUM(n), SUM(s) FROM (
            SELECT currency, CASE WHEN member_id IS NULL THEN 0 ELSE 1 END AS is_member,
                COALESCE(CAST(member_id AS TEXT), 'e:' || LOWER(NULLIF(email, '')),
                         'c:' || CAST(shop_id AS TEXT) || ':' || NULLIF(member_external_id, '')) AS k,
                COUNT(*) AS n, SUM(total) AS s
            FROM {table}
            WHERE status <> 'cancelled' AND placed_at >= %s AND placed_at < %s
            GROUP BY 1, 2, 3
        ) buyers WHERE k IS NOT NULL GROUP BY currency, is_member
    """  # noqa: S608 - the table name only; every value is a parameter
    adapt = connection.ops.adapt_datetimefield_value
    start = _midnight(day - dt.timedelta(days=days - 1), zone)
    end = _midnight(day + dt.timedelta(days=1), zone)
    with connection.cursor() as cursor:
        cursor.execute(sql, (adapt(start), adapt(end)))
        rows = cursor.fetchall()
    return [
        PeriodCustomerStats(
            day=day,
            days=days,
            currency=currency,
            members=bool(is_member),
            customers=customers,
            repeat_customers=repeat or 0,
            orders=orders or 0,
            revenue=Decimal(str(revenue or 0)).quantize(Decimal("0.01")),
        )
        for currency, is_member, customers, repeat, orders, revenue in rows
    ]


# --- campaigns -----------------------------------------------------------------------------------------------


def campaign_impact_compute(*, campaign, now: dt.datetime, currency: str) -> CampaignImpact:
    """A campaign's points and its revenue against a comparable group, as a difference in differences.

    Reached: the members who earned from it (CampaignMember). Comparable: the members of its audience (its
    segments as they are now, or every member) who did not earn from it but placed an order in the 365 days
    before it started. For both, revenue (orders in the program's currency, not cancelled) per member during
    the campaign and in as many days just before it; incremental revenue = reached members x (their change
    per member - the comparable group's change per member). Reached members bought during the campaign by
    definition, so this leans high: read it as an upper bound."""
    from integrations.models import Order
    from members.models import Member
    from rewards.models import CampaignMember
    from rewards.services.segments import segment_members

    start, end = campaign.starts_at, min(campaign.ends_at, now)
    before = start - (end - start) if end > start else start
    orders = Order.objects.filter(currency=currency, placed_at__gte=before, placed_at__lt=end).exclude(
        status=Order.Status.CANCELLED
    )
    sums = {"b": Sum("total", filter=Q(placed_at__lt=start)), "d": Sum("total", filter=Q(placed_at__gte=start))}
    reached_ids = CampaignMember.objects.filter(campaign=campaign).values("member_id")
    reached = CampaignMember.objects.filter(campaign=campaign).aggregate(n=Count("pk"), p=Sum("points"))
    reached_money = orders.filter(member_id__in=reached_ids).aggregate(**sums)

    audience = Member.objects.exclude(status=Member.Status.CLOSED)
    segments = list(campaign.segments.all())
    if segments:
        q = Q(pk__in=[])
        for segment in segments:
            q |= Q(pk__in=segment_members(segment).values("pk"))
        audience = audience.filter(q)
    customer_before = Order.objects.filter(
        member=OuterRef("pk"), placed_at__gte=start - dt.timedelta(days=CAMPAIGN_LOOKBACK_DAYS), placed_at__lt=start
    ).exclude(status=Order.Status.CANCELLED)
    compared_ids = audience.exclude(pk__in=reached_ids).filter(Exists(customer_before)).values("pk")
    compared_n = compared_ids.count()
    compared_money = orders.filter(member_id__in=compared_ids).aggregate(**sums)

    def money(value) -> Decimal:
        return Decimal(str(value or 0)).quantize(Decimal("0.01"))

    n = reached["n"] or 0
    rb, rd = money(reached_money["b"]), money(reached_money["d"])
    cb, cd = money(compared_money["b"]), money(compared_money["d"])
    incremental = Decimal(0)
    if n and compared_n:
        incremental = (rd - rb) - n * (cd - cb) / compared_n
    elif n:
        incremental = rd - rb
    return CampaignImpact(
        campaign=campaign,
        points=reached["p"] or 0,
        reached=n,
        compared=compared_n,
        currency=currency,
        reached_before=rb,
        reached_during=rd,
        compared_before=cb,
        compared_during=cd,
        incremental_revenue=money(incremental),
        refreshed_at=now,
    )


def _campaigns(start, end, now) -> int:
    from rewards.models import Campaign
    from rewards.selectors import program_get

    currency = program_get().currency
    impacts = [
        campaign_impact_compute(campaign=c, now=now, currency=currency)
        for c in Campaign.objects.filter(starts_at__lt=end, ends_at__gte=start).prefetch_related("segments")
    ]
    fields = [f.name for f in CampaignImpact._meta.concrete_fields if f.name not in ("id", "campaign")]
    CampaignImpact.objects.bulk_create(impacts, update_conflicts=True, unique_fields=["campaign"], update_fields=fields)
    return len(impacts)


# --- the refresh ---------------------------------------------------------------------------------------------


def rollups_refresh(
    *, since: dt.date | None, until: dt.date | None = None, progress: Callable[[str], None] | None = None
) -> RefreshResult:
    """Recompute the rollups of the days `since` .. `until` (default: yesterday .. today, program's time zone),
    one aggregate query per figure for the whole range; the days' rows are replaced (idempotent)."""
    zone = _zone()
    now = timezone.now()
    last = until or local_today(zone)
    first = since or last - dt.timedelta(days=1)
    if first > last:
        first = last
    say = progress or (lambda message: None)
    days = _days(first, last)
    start, end = _midnight(first, zone), _midnight(last + dt.timedelta(days=1), zone)

    before, enrolled = _enrolled(start, end, zone)
    say(f"{first} .. {last}: members")
    now_total, later, points = _points(start, end, zone)
    say(f"{first} .. {last}: points")
    active = {window: _active(first, last, window, zone) for window in ACTIVE_WINDOWS}
    say(f"{first} .. {last}: active members")
    tiers_now, ranks, moves = _tiers(start, end, zone)
    from members.models import Member

    members_later = Member.objects.filter(joined_at__gte=end).count()
    joined_after, running = {}, members_later
    for day in reversed(days):
        joined_after[day] = running
        running += enrolled.get(day, 0)
    tiers = _tier_days(days, tiers_now, ranks, moves, joined_after)
    referrals = _referrals(start, end, zone)
    orders = _orders(start, end, zone)
    customers = [row for days_ in PERIODS for row in _customers(last, days_, zone)]
    say(f"{first} .. {last}: tiers, referrals, orders")

    outstanding_end = now_total - later  # at the end of the last day; earlier days: less each day's change
    rows, total = [], before
    change_after: dict = {}
    running = 0
    for day in reversed(days):
        change_after[day] = running
        running += sum(points[day].values())
    for day in days:
        total += enrolled.get(day, 0)
        distribution, up, down = tiers[day]
        rows.append(
            DailyProgramStats(
                day=day,
                members_enrolled=enrolled.get(day, 0),
                members_total=total,
                active_30=active[30][day],
                active_90=active[90][day],
                points_issued=points[day]["earn"],
                points_redeemed=-points[day]["redeem"],
                points_expired=-points[day]["expire"],
                points_reversed=-points[day]["reverse"],
                points_outstanding=outstanding_end - change_after[day],
                tier_distribution=distribution,
                tier_up=up,
                tier_down=down,
                referral_clicks=referrals[day]["clicks"],
                referral_signups=referrals[day]["signups"],
                referral_qualified=referrals[day]["qualified"],
                refreshed_at=now,
            )
        )
    # member_scores is the nightly scores' (insights.services.scores), not recomputed here
    fields = [f.name for f in DailyProgramStats._meta.concrete_fields if f.name not in ("id", "day", "member_scores")]
    with transaction.atomic():
        DailyProgramStats.objects.bulk_create(rows, update_conflicts=True, unique_fields=["day"], update_fields=fields)
        DailyOrderStats.objects.filter(day__gte=first, day__lte=last).delete()
        DailyOrderStats.objects.bulk_create(orders)
        PeriodCustomerStats.objects.filter(day=last).delete()
        PeriodCustomerStats.objects.bulk_create(customers)
    campaigns = _campaigns(start, end, now)
    say(f"{first} .. {last}: written ({len(days)} days, {campaigns} campaigns)")
    return RefreshResult(first=first, last=last, days=len(days), campaigns=campaigns)
