"""How fast the insights dashboard renders with a year of rollups for a million members, and how long the
hourly refresh and the nightly scores take at that size.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/insights_dashboard.py

It creates its scratch database (bench_ins) and loads with INSERT ... SELECT generate_series:
- --members members (1,000,000) with users and points accounts, joined over five years;
- --orders orders (1,000,000) over the last year, 80 % of members' and 20 % without a member, each member
  order with its earn entry (so the points and activity figures have rows to read);
- a year of rollups: DailyProgramStats, DailyOrderStats (two currencies, members and not), the period
  customers, --campaigns campaigns with their impact rows;
then it refreshes the member scores (one statement over all members, timed) and times:
1. the dashboard page (GET /admin/insights/insightsdashboard/?days=365 as a superuser, through Django's test
   client in this process): median of --runs runs after one warm-up, with the queries counted;
2. rollups_refresh of yesterday and today (the hourly run) over this data.
It prints the figures with the command that produced them and drops its database (--keep to leave it).
"""

import argparse
import os
import statistics
import sys

from common import Stopwatch, command_line, setup_django
from tier_recalc import drop_database

TABLES = [
    "members_user",
    "members_member",
    "rewards_pointsaccount",
    "rewards_pointentry",
    "integrations_order",
    "insights_dailyprogramstats",
    "insights_dailyorderstats",
    "insights_memberscore",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000, help="members (default 1,000,000)")
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders over the last year (default 1,000,000)")
    parser.add_argument("--campaigns", type=int, default=24, help="campaigns (default 24)")
    parser.add_argument("--runs", type=int, default=9, help="timed page renders (default 9)")
    parser.add_argument("--database", default="bench_ins", help="scratch database (default bench_ins)")
    parser.add_argument("--keep", action="store_true", help="leave the scratch database behind")
    args = parser.parse_args()
    if args.members < 1 or args.orders < 0 or args.runs < 1:
        parser.error("--members and --runs must be at least 1, --orders at least 0")

    setup_django(args.database)
    try:
        results = run(args)
    finally:
        if not args.keep:
            drop_database(args.database)
    print("\n" + "=" * 100)
    print(f"command: {command_line()}")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
    for line in results:
        print(line)


def run(args) -> list[str]:
    from django.utils import timezone

    now = timezone.now()
    print(f"loading {args.members:,} members, {args.orders:,} orders and a year of rollups ...")
    with Stopwatch() as watch:
        seed(members=args.members, orders=args.orders, campaigns=args.campaigns, now=now)
    print(f"  loaded in {watch.seconds:.1f} s")

    from insights.services.rollups import rollups_refresh
    from insights.services.scores import member_scores_refresh

    with Stopwatch() as scores:
        result = member_scores_refresh()
    print(f"member_scores_refresh: {scores.seconds:.1f} s ({result.members:,} members, {result.scored:,} scored)")
    with Stopwatch() as refresh:
        rollups_refresh(since=None, progress=lambda message: print(f"  {message}"))
    print(f"rollups_refresh (yesterday and today): {refresh.seconds:.1f} s")
    vacuum()

    times, queries = render(args.runs)
    median = statistics.median(times)
    return [
        f"members {args.members:,}, orders {args.orders:,}, campaigns {args.campaigns}, rollup days 365",
        f"dashboard ?days=365: median {1000 * median:.0f} ms of {len(times)} runs "
        f"(min {1000 * min(times):.0f}, max {1000 * max(times):.0f}), {queries} queries (target: under 1 s)",
        f"rollups_refresh, yesterday and today: {refresh.seconds:.1f} s",
        f"member_scores_refresh, all members: {scores.seconds:.1f} s",
    ]


def render(runs: int) -> tuple[list[float], int]:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from members.models import User

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the test client's host name
    user = User.objects.create_superuser("bench-admin@example.invalid", "bench")
    client = Client()
    client.force_login(user)
    url = "/admin/insights/insightsdashboard/?days=365"
    assert client.get(url).status_code == 200  # warm-up
    times = []
    for i in range(runs):
        with Stopwatch() as watch, CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        times.append(watch.seconds)
        size = len(response.content)
        print(f"  render {i + 1}: {1000 * watch.seconds:.0f} ms, {len(captured)} queries, {size:,} bytes")
    return times, len(captured)


def seed(*, members: int, orders: int, campaigns: int, now) -> None:
    import datetime as dt

    from django.db import connection, transaction

    from integrations.services.shops import shop_create
    from rewards.models import Campaign

    shop = shop_create(name="Bench shop", currency="EUR", time_zone="Europe/Amsterdam")
    Campaign.objects.bulk_create(
        Campaign(
            name=f"Campaign {i}",
            starts_at=now - dt.timedelta(days=15 * i),
            ends_at=now - dt.timedelta(days=15 * i - 7),
        )
        for i in range(1, campaigns + 1)
    )
    params = {"now": now, "members": members, "orders": orders, "shop": shop.pk}
    statements = [
        """
        INSERT INTO members_user (password, is_superuser, email, is_staff, is_active, date_joined)
        SELECT '!', false, 'bench-' || g || '@example.invalid', false, true, %(now)s
        FROM generate_series(1, %(members)s) g
        """,
        """
        INSERT INTO members_member (public_id, created_at, number, first_name, last_name, marketing_consent,
                                    status, joined_via, joined_at, updated_at, user_id)
        SELECT gen_random_uuid(), %(now)s, lpad(u.id::text, 12, '0'), '', '', false, 'active', 'bench',
               %(now)s - (u.id %% 1826) * interval '1 day', %(now)s, u.id
        FROM members_user u
        """,
        """
        INSERT INTO rewards_pointsaccount (public_id, created_at, available, pending, debt, lifetime_earned,
                                           lifetime_redeemed, lifetime_expired, last_activity_at, updated_at,
                                           member_id)
        SELECT gen_random_uuid(), %(now)s, 0, 0, 0, 0, 0, 0, %(now)s, %(now)s, m.id
        FROM members_member m ORDER BY m.id
        """,
        # One in five orders has no member (a guest with an e-mail); totals 5.00 to 304.00.
        """
        INSERT INTO integrations_order (public_id, created_at, shop_id, external_id, member_id,
                                        member_external_id, email, currency, total, subtotal, tax, shipping,
                                        discount, placed_at, lines, coupon_codes, breakdown, points,
                                        points_reversed, lot_id, status, fingerprint, shipping_hash, payment_hash,
                                        updated_at)
        SELECT gen_random_uuid(), o.placed_at, %(shop)s, 'o-' || g,
               CASE WHEN g %% 5 = 0 THEN NULL ELSE 1 + (g * 7) %% %(members)s END, '',
               CASE WHEN g %% 5 = 0 THEN 'guest' || (g %% 50000) || '@example.invalid' ELSE '' END, 'EUR',
               o.total, o.total, 0, 0, 0, o.placed_at, '[]', '[]', '{}', 0, 0, NULL,
               CASE WHEN g %% 5 = 0 THEN 'unmatched' ELSE 'awarded' END, '', '', '', o.placed_at
        FROM generate_series(0::bigint, %(orders)s - 1) g,
             LATERAL (SELECT %(now)s - ((g * 7919) %% 365) * interval '1 day' - (g %% 86400) * interval '1 second'
                             AS placed_at, round(5 + ((g * 104729) %% 30000) / 100.0, 2) AS total) o
        """,
        # An earn entry per member order (no lots: the dashboard and the refresh read entries and accounts).
        """
        INSERT INTO rewards_pointentry (public_id, created_at, account_id, kind, available_change, pending_change,
                                        debt_change, reason, actor_kind, actor_ref, idempotency_key, details)
        SELECT gen_random_uuid(), o.placed_at, a.id, 'earn', floor(o.total)::int, 0, 0, '', 'shop', '',
               'bench:' || o.id, '{}'
        FROM integrations_order o JOIN rewards_pointsaccount a ON a.member_id = o.member_id
        """,
        """
        UPDATE rewards_pointsaccount a SET available = e.points, lifetime_earned = e.points
        FROM (SELECT account_id, SUM(available_change) AS points FROM rewards_pointentry GROUP BY account_id) e
        WHERE e.account_id = a.id
        """,
        # A year of rollups as a program of this size could have them.
        """
        INSERT INTO insights_dailyprogramstats (day, members_enrolled, members_total, active_30, active_90,
            points_issued, points_redeemed, points_expired, points_reversed, points_outstanding, tier_distribution,
            tier_up, tier_down, referral_clicks, referral_signups, referral_qualified, member_scores, refreshed_at)
        SELECT d::date, 500 + i %% 300, 820000 + 500 * i, 300000 + i %% 5000, 550000 + i %% 9000,
               400000 + (i * 7919) %% 100000, 250000 + (i * 104729) %% 80000, 20000 + i %% 3000, 3000,
               90000000 + 150000 * i,
               jsonb_build_object('Member', 700000 + i, 'Silver', 200000 + i, 'Gold', 80000, 'Platinum', 20000),
               100 + i %% 40, 20 + i %% 10, 900 + i %% 200, 300 + i %% 50, 120 + i %% 30, '{}', %(now)s
        FROM generate_series(1, 365) i, LATERAL (SELECT (%(now)s::date - 365 + i) AS d) x
        ON CONFLICT (day) DO NOTHING
        """,
        """
        INSERT INTO insights_dailyorderstats (day, currency, members, orders, revenue)
        SELECT %(now)s::date - 365 + i, c, m, 2000 + i %% 700, (2000 + i %% 700) * 61.50
        FROM generate_series(1, 365) i, (VALUES ('EUR'), ('GBP')) cur(c), (VALUES (true), (false)) mem(m)
        ON CONFLICT DO NOTHING
        """,
        """
        INSERT INTO insights_periodcustomerstats (day, days, currency, members, customers, repeat_customers,
                                                  orders, revenue)
        SELECT %(now)s::date, p, c, m, 100000 * p / 30, 30000 * p / 30, 250000 * p / 30, 15000000.00 * p / 30
        FROM (VALUES (30), (90), (365)) per(p), (VALUES ('EUR'), ('GBP')) cur(c), (VALUES (true), (false)) mem(m)
        ON CONFLICT DO NOTHING
        """,
        """
        INSERT INTO insights_campaignimpact (campaign_id, points, reached, compared, currency, reached_before,
            reached_during, compared_before, compared_during, incremental_revenue, refreshed_at)
        SELECT id, 500000 + id * 1000, 20000 + id, 300000, 'EUR', 900000, 1300000, 12000000, 12500000,
               380000 + id * 100, %(now)s
        FROM rewards_campaign
        """,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            with Stopwatch() as watch:
                cursor.execute(statement, params)
            words = statement.split()
            table = words[2] if words[0] == "INSERT" else words[1]
            print(f"  {table}: {cursor.rowcount:,} rows, {watch.seconds:.1f} s")
    from rewards.selectors import program_get

    program = program_get()
    program.time_zone, program.currency = "Europe/Amsterdam", "EUR"
    program.save()
    vacuum()


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")


if __name__ == "__main__":
    sys.exit(main())
