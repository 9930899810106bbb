"""How long the nightly tier re-evaluation takes for a million members with ten million orders.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/tier_recalc.py

It creates its scratch database (bench_tiers), loads --members members with their points accounts and
--orders awarded orders (1 % of them partly refunded) over the last two years with INSERT ... SELECT
generate_series, defines four tiers by calendar-year spend (the department-store recipe: 0, 500, 2,000 and
5,000 EUR; end-of-window downgrades), then times `rewards.services.tiers.tiers_recalculate`:

1. first run: every member gets a tier for the first time (a TierChange row each);
2. --runs steady runs (default 3): nothing changes, the usual night; the median is the figure to quote;
3. the night after the year ends: evaluated at 1 January next year, this year's spend becomes the previous
   window and members drop to what they keep.

It checks that every account has a tier and that the history has one row per change, prints the figures
with the command that produced them, and drops its database (--keep to leave it for a look).
"""

import argparse
import datetime as dt
import os
import statistics
import sys
from urllib.parse import urlsplit, urlunsplit

from common import Stopwatch, backend_pid, command_line, server_cpu_seconds, setup_django

TABLES = [
    "members_user",
    "members_member",
    "rewards_pointsaccount",
    "integrations_shop",
    "integrations_order",
    "integrations_refund",
    "rewards_tier",
    "rewards_tierchange",
    "rewards_tierhold",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000, help="members (default 1,000,000)")
    parser.add_argument("--orders", type=int, help="orders (default: 10 per member)")
    parser.add_argument("--runs", type=int, default=3, help="steady runs timed (default 3)")
    parser.add_argument("--chunk-size", type=int, help="accounts per applying transaction (default: the service's)")
    parser.add_argument("--database", default="bench_tiers", help="scratch database (default bench_tiers)")
    parser.add_argument("--keep", action="store_true", help="leave the scratch database behind")
    args = parser.parse_args()
    orders = args.orders if args.orders is not None else args.members * 10
    if args.members < 1 or orders < 0 or args.runs < 1:
        parser.error("--members and --runs must be at least 1, --orders at least 0")

    setup_django(args.database)
    try:
        results = run(args, orders)
    finally:
        if not args.keep:
            drop_database(args.database)
    print("\n" + "=" * 100)
    print(f"command: {command_line()}")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
    for name, r in results:
        server = "n/a" if r["server_cpu"] is None else f"{r['server_cpu']:.1f} s"
        print(
            f"{name:<28} {r['seconds']:6.1f} s (evaluate {r['evaluate']:5.1f} s, apply {r['apply']:5.1f} s)"
            f"  {r['accounts']:,} accounts, {r['changed']:,} changed ({r['up']:,} up, {r['down']:,} down)"
            f"  PostgreSQL CPU {server}"
        )
    steady = [r["seconds"] for name, r in results if name.startswith("steady")]
    print(f"steady nights: median {statistics.median(steady):.1f} s of {len(steady)} (target: under 120 s)")


def run(args, orders: int) -> list[tuple[str, dict]]:
    from django.utils import timezone

    now = timezone.now()
    print(f"loading {args.members:,} members and {orders:,} orders ...")
    with Stopwatch() as watch:
        seed(members=args.members, orders=orders, now=now)
    print(f"  loaded in {watch.seconds:.1f} s")

    results = [("first run (all tiers set)", timed(now, args))]
    for i in range(args.runs):
        results.append((f"steady night {i + 1}", timed(now, args)))
    year_end = dt.datetime(now.year + 1, 1, 1, 0, 30, tzinfo=dt.UTC)
    results.append(("the night after the year end", timed(year_end, args)))
    check()
    return results


def timed(at, args) -> dict:
    from rewards.services.tiers import tiers_recalculate

    pid = backend_pid()
    cpu_before = server_cpu_seconds(pid)
    options = {"chunk_size": args.chunk_size} if args.chunk_size else {}
    print(f"\ntiers_recalculate(at={at.isoformat()})")
    with Stopwatch() as watch:
        result = tiers_recalculate(at=at, progress=lambda message: print(f"  {message}"), **options)
    cpu_after = server_cpu_seconds(pid)
    return {
        "seconds": watch.seconds,
        "evaluate": result.seconds_evaluate,
        "apply": result.seconds_apply,
        "accounts": result.accounts,
        "changed": result.changed,
        "up": result.upgraded,
        "down": result.downgraded,
        "server_cpu": None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
    }


def seed(*, members: int, orders: int, now) -> None:
    """Members joined over five years, their accounts, one shop, `orders` awarded orders spread over the last
    two years (order g belongs to member 1 + g mod members, so one member's orders lie far apart in the
    table), 1 % of them refunded by 10.00, the tiers, and fresh planner statistics."""
    from django.db import connection, transaction

    params = {"now": now, "members": members, "orders": orders}
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
        """
        INSERT INTO integrations_shop (public_id, created_at, name, kind, currency, time_zone, allowed_origins,
                                       active, updated_at)
        VALUES (gen_random_uuid(), %(now)s, 'Bench shop', 'web', 'EUR', 'Europe/Amsterdam', '[]', true, %(now)s)
        """,
        # Totals 5.00 to 304.00 (about 155 on average) times 0.3 to 7.8 by member: ten orders over two years
        # spread the members over the four tiers.
        """
        INSERT INTO integrations_order (public_id, created_at, shop_id, external_id, member_id,
                                        member_external_id, email, currency, total, subtotal, tax, shipping,
                                        discount, placed_at, lines, coupon_codes, breakdown, points,
                                        points_reversed, lot_id, status, fingerprint, updated_at)
        SELECT gen_random_uuid(), o.placed_at, 1, 'o-' || g, 1 + g %% %(members)s, '', '', 'EUR',
               o.total, o.total, 0, 0, 0, o.placed_at, '[]', '[]', '{}', 0, 0, NULL, 'awarded', '', o.placed_at
        FROM generate_series(0::bigint, %(orders)s - 1) g,
             LATERAL (SELECT %(now)s - ((g * 7919) %% 730) * interval '1 day' - (g %% 86400) * interval '1 second'
                             AS placed_at,
                             round((5 + ((g * 104729) %% 30000) / 100.0)
                                   * (0.3 + ((1 + g %% %(members)s) %% 16) * 0.5), 2) AS total) o
        """,
        """
        INSERT INTO integrations_refund (public_id, created_at, order_id, external_id, amount, lines, points,
                                         fingerprint)
        SELECT gen_random_uuid(), %(now)s, o.id, 'r-' || o.id, 10.00, NULL, 0, ''
        FROM integrations_order o WHERE o.id %% 100 = 0
        """,
        """
        INSERT INTO rewards_tier (public_id, created_at, name, rank, icon, colour, metric, entry_threshold, "window",
                                  retention_threshold, downgrade_policy, grace_days, earning_multiplier,
                                  birthday_bonus_points, free_shipping, early_access, can_gift, membership_sku,
                                  membership_months, dividend_percent, updated_at)
        SELECT gen_random_uuid(), %(now)s, t.name, t.rank, '', '#8A8A8A', 'spend', t.threshold, 'calendar_year',
               NULL, 'end_of_window', 0, t.multiplier, 0, false, false, false, '', NULL, NULL, %(now)s
        FROM (VALUES ('Member', 0, 0, 1.0), ('Silver', 1, 500, 1.25), ('Gold', 2, 2000, 1.5),
                     ('Platinum', 3, 5000, 2.0)) AS t(name, rank, threshold, multiplier)
        """,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, params)
    from rewards.selectors import program_get

    program = program_get()  # through the ORM: the program's columns change with the project
    program.time_zone, program.currency = "Europe/Amsterdam", "EUR"
    program.save()
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")


def check() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM rewards_pointsaccount WHERE tier_id IS NULL")
        untiered = cursor.fetchone()[0]
        cursor.execute(
            "SELECT t.name, COUNT(*) FROM rewards_pointsaccount a JOIN rewards_tier t ON t.id = a.tier_id "
            "GROUP BY t.name, t.rank ORDER BY t.rank"
        )
        spread = cursor.fetchall()
        cursor.execute("SELECT COUNT(*) FROM rewards_tierchange")
        changes = cursor.fetchone()[0]
    print(f"\ntiers now: {', '.join(f'{name} {n:,}' for name, n in spread)}; {changes:,} tier changes recorded")
    if untiered:
        sys.exit(f"{untiered:,} accounts have no tier after the runs")


def drop_database(database: str) -> None:
    import psycopg
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    parts = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
    print(f"dropped {database}")


if __name__ == "__main__":
    main()
