"""Member scores: RFM quintiles, a named RFM segment and a churn-risk score, for every member in one SQL
statement (docs/insights.md, "Member scores").

RFM, from each member's orders (not cancelled) of the last 365 days; only members with such an order are
scored, and a score compares them with each other:
- recency R: how recently they last ordered; frequency F: how many orders; monetary M: how much they spent
  in the program's currency.
- Each is a quintile 1-5 (5 best): 1 + the number of fifths of the scored members ranked below them
  (RANK, so equal values get equal scores; `1 + 5 * (rank - 1) / count`, whole-number division).

Segments, from R and F (the usual RFM grid, reduced to six names):

| segment | R | F |
|---|---|---|
| champions | 4-5 | 4-5 |
| new | 4-5 | 1 |
| loyal | 3-5 | 3-5 (not champions) |
| promising | 3-5 | 1-2 (not new) |
| at_risk | 1-2 | 3-5 |
| hibernating | 1-2 | 1-2 |

plus `lapsed` (ordered before, but not in the last 365 days) and `no_orders`.

Churn risk (0-100), from recency against the member's usual purchase interval, weighted by frequency:
- gap g: the member's average days between orders in the last 365 days, (last - first) / (orders - 1), for
  members with two orders or more;
- expected interval E = ((orders - 1) * g + K * G) / (orders - 1 + K), with G the program's median gap
  (30 days when nobody has two orders) and K = 2: a member with few orders is judged mostly by the program's
  usual rhythm, a frequent buyer by their own (with one order, E = G);
- q = days since the last order / E; risk = 100 * q^2 / (q^2 + 4), rounded: 0 right after an order, 20 when
  one usual interval has passed, 50 at two, 80 at four, towards 100 after;
- 100 for lapsed members; empty for members who never ordered.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from insights.models import MemberScore

WINDOW_DAYS = 365
PRIOR_WEIGHT = 2  # K above
DEFAULT_GAP_DAYS = 30.0
HIGH_CHURN_RISK = 70  # the dashboard's "members at high churn risk"


@dataclass(frozen=True)
class ScoresResult:
    members: int
    scored: int


def _days_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"
    return f"(julianday({later}) - julianday({earlier}))"


def _sql() -> str:
    from integrations.models import Order
    from members.models import Member

    orders = connection.ops.quote_name(Order._meta.db_table)
    members = connection.ops.quote_name(Member._meta.db_table)
    scores = connection.ops.quote_name(MemberScore._meta.db_table)
    since_last = _days_between("%s", "s.last_at")
    gap = _days_between("s.last_at", "s.first_at")
    quintile = "1 + (5 * (RANK() OVER (ORDER BY {} ) - 1)) / COUNT(*) OVER ()"
    columns = (
        "recency, frequency, monetary, segment, churn_risk, last_order_at, orders_365, spend_365, "
        "expected_interval_days, computed_at"
    )
    update = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", "))
    # The %s in order: since, since, currency, since, now (orders before), now (since_last), now (computed_at).
    return f"""
        WITH stats AS (
            SELECT o.member_id AS member_id, MAX(o.placed_at) AS last_at,
                SUM(CASE WHEN o.placed_at >= %s THEN 1 ELSE 0 END) AS n,
                SUM(CASE WHEN o.placed_at >= %s AND o.currency = %s THEN o.total ELSE 0 END) AS spend,
                MIN(CASE WHEN o.placed_at >= %s THEN o.placed_at END) AS first_at
            FROM {orders} o
            WHERE o.member_id IS NOT NULL AND o.status <> 'cancelled' AND o.placed_at < %s
            GROUP BY o.member_id
        ), gaps AS (
            SELECT s.member_id, s.last_at, s.n, s.spend, {since_last} AS since_last,
                CASE WHEN s.n >= 2 THEN {gap} / (s.n - 1) END AS gap
            FROM stats s
        ), median AS (
            SELECT COALESCE((
                SELECT gap FROM gaps WHERE gap IS NOT NULL ORDER BY gap
                LIMIT 1 OFFSET (SELECT (COUNT(*) - 1) / 2 FROM gaps WHERE gap IS NOT NULL)
            ), {DEFAULT_GAP_DAYS}) AS g
        ), ranked AS (
            SELECT g.*,
                {quintile.format("g.last_at")} AS r,
                {quintile.format("g.n")} AS f,
                {quintile.format("g.spend")} AS m,
                CASE WHEN g.n >= 2 THEN ((g.n - 1) * g.gap + {PRIOR_WEIGHT} * median.g) / (g.n - 1 + {PRIOR_WEIGHT})
                     ELSE median.g END AS expected
            FROM gaps g CROSS JOIN median WHERE g.n > 0
        ), risk AS (
            SELECT ranked.*, (since_last / expected) * (since_last / expected) AS q2 FROM ranked
        )
        INSERT INTO {scores} (member_id, {columns})
        SELECT mb.id, k.r, k.f, k.m,
            CASE WHEN g.member_id IS NULL THEN 'no_orders'
                 WHEN k.member_id IS NULL THEN 'lapsed'
                 WHEN k.r >= 4 AND k.f >= 4 THEN 'champions'
                 WHEN k.r >= 4 AND k.f = 1 THEN 'new'
                 WHEN k.r >= 3 AND k.f >= 3 THEN 'loyal'
                 WHEN k.r >= 3 THEN 'promising'
                 WHEN k.f >= 3 THEN 'at_risk'
                 ELSE 'hibernating' END,
            CASE WHEN g.member_id IS NULL THEN NULL
                 WHEN k.member_id IS NULL THEN 100
                 ELSE CAST(ROUND(100 * k.q2 / (k.q2 + 4)) AS INTEGER) END,
            g.last_at, COALESCE(g.n, 0), COALESCE(g.spend, 0), k.expected, %s
        FROM {members} mb
        LEFT JOIN gaps g ON g.member_id = mb.id
        LEFT JOIN risk k ON k.member_id = mb.id
        WHERE mb.status <> 'closed'
        ON CONFLICT (member_id) DO UPDATE SET {update}
    """  # noqa: S608 - table names and constants only; every value is a parameter


def member_scores_refresh(*, now: dt.datetime | None = None) -> ScoresResult:
    """Recompute every member's MemberScore in one statement (closed members' rows are removed); idempotent."""
    from members.models import Member
    from rewards.selectors import program_get

    now = now or timezone.now()
    since = now - dt.timedelta(days=WINDOW_DAYS)
    adapt = connection.ops.adapt_datetimefield_value
    a_now, a_since = adapt(now), adapt(since)
    params = (a_since, a_since, program_get().currency, a_since, a_now, a_now, a_now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_sql(), params)
        cursor.execute(
            f"DELETE FROM {connection.ops.quote_name(MemberScore._meta.db_table)} WHERE member_id IN "  # noqa: S608
            f"(SELECT id FROM {connection.ops.quote_name(Member._meta.db_table)} WHERE status = 'closed')"
        )
    counts = _counts_record(now)
    return ScoresResult(members=counts["members"], scored=counts["scored"])


def _counts_record(now: dt.datetime) -> dict:
    """Keep the scores' counts on today's DailyProgramStats row (the dashboard reads them there, not the
    million score rows): members per segment, at high churn risk, scored."""
    from insights.models import DailyProgramStats
    from insights.services.rollups import local_today

    rows = MemberScore.objects.values("segment").annotate(
        n=Count("pk"),
        high=Count("pk", filter=Q(churn_risk__gte=HIGH_CHURN_RISK)),
        scored=Count("pk", filter=Q(recency__isnull=False)),
    )
    counts = {"segments": {}, "high_churn_risk": 0, "scored": 0, "members": 0, "computed_at": now.isoformat()}
    for r in rows:
        counts["segments"][r["segment"]] = r["n"]
        counts["high_churn_risk"] += r["high"]
        counts["scored"] += r["scored"]
        counts["members"] += r["n"]
    day = local_today()
    updated = DailyProgramStats.objects.filter(day=day).update(member_scores=counts)
    if not updated:
        DailyProgramStats.objects.get_or_create(day=day, defaults={"member_scores": counts, "refreshed_at": now})
    return counts
