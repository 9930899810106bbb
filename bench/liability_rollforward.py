"""How long the liability roll-forward takes over N ledger entries (target: 10,000,000 under 5 s).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/liability_rollforward.py \
        --entries 1000000

It works in its own scratch database, bench_acc unless --database names another (bench/common.py).
Set-based (INSERT ... SELECT generate_series), spread over 24 months: N/2 lots of points given without a
sale (a bonus: the policy's provision basis), each with its earn entry and movement, and N/2 redemptions,
each taking part of one lot a month after it was earned. Then the journal:

- `--post service` (default): accounting.services.posting.journal_post_pending posts every entry, as the
  periodic task does, and its throughput is printed;
- `--post sql`: the same journal written set-based in SQL (what the service writes for these entries:
  issue Dr expense / Cr provision at points x face x rate, redeem Dr provision / Cr clearing at points x face),
  for scales where posting through Python would take long. The balance trigger is not fired for this bulk
  load (session_replication_role = replica); accounting_audit() checks the balance afterwards.
  `--check` first posts a small sample both ways and requires the same journal totals.

`--reuse` skips all that and times the ledger an earlier run left in the database. Then VACUUM ANALYZE, and
--runs timings of accounting.selectors.liability_rollforward(): from the period
totals alone (reconcile=False), and with the sum over the live lots' value it is reconciled with; each run,
the medians, the reconciliation, accounting_audit() (which re-adds every journal line) and the command line.
"""

import argparse
import datetime as dt
import statistics
import sys

from common import Stopwatch, command_line, setup_django

FACE = "0.01"
RATE = "0.8"
ACCOUNTS = 20_000
TABLES = [
    "accounting_periodtotal",
    "accounting_journalline",
    "accounting_journalentry",
    "accounting_lotvaluation",
    "accounting_accountingperiod",
    "accounting_postingcursor",
    "rewards_pointmovement",
    "rewards_pointentry",
    "rewards_pointlot",
    "rewards_pointsaccount",
    "members_member",
    "members_user",
]


def truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")


def seed_ledger(*, entries: int, now: dt.datetime) -> int:
    """N/2 lots with their earn entries and movements, N/2 redeem entries and movements; returns lots."""
    from django.db import connection, transaction

    lots = entries // 2
    accounts = min(ACCOUNTS, max(1, lots // 5))
    params = {"now": now, "accounts": accounts, "lots": lots, "span": 730 * 86400 / max(lots, 1)}
    earned = "%(now)s - interval '760 days' + g * %(span)s * interval '1 second'"
    statements = [
        """
        INSERT INTO members_user (password, is_superuser, email, is_staff, is_active, date_joined)
        SELECT '!', false, 'bench-' || g || '@example.invalid', false, true, %(now)s
        FROM generate_series(1, %(accounts)s) g
        """,
        """
        INSERT INTO members_member (public_id, created_at, number, first_name, last_name, marketing_consent,
                                    status, joined_via, joined_at, updated_at, user_id)
        SELECT gen_random_uuid(), %(now)s, lpad(u.id::text, 12, '0'), '', '', false, 'active', 'bench', %(now)s,
               %(now)s, u.id
        FROM members_user u
        """,
        """
        INSERT INTO rewards_pointsaccount (public_id, created_at, available, pending, debt, lifetime_earned,
                                           lifetime_redeemed, lifetime_expired, last_activity_at, updated_at,
                                           member_id)
        SELECT gen_random_uuid(), %(now)s, 0, 0, 0, 0, 0, 0, %(now)s, %(now)s, m.id FROM members_member m ORDER BY m.id
        """,
        # Lot g: 10..109 points; its redemption takes 1..points-1 of them (some lots end up spent).
        f"""
        INSERT INTO rewards_pointlot (public_id, created_at, points, remaining, reversed_points, state, source,
                                      source_ref, earned_at, available_at, expires_at, value, value_currency,
                                      updated_at, account_id)
        SELECT gen_random_uuid(), {earned}, p.points, p.points - p.taken, 0,
               CASE WHEN p.points = p.taken THEN 'spent' ELSE 'available' END, 'bonus', 'bench',
               {earned}, {earned}, NULL, 0, 'EUR', {earned}, 1 + g %% %(accounts)s
        FROM generate_series(0, %(lots)s - 1) g,
             LATERAL (SELECT 10 + (g * 37) %% 100 AS points,
                             LEAST(10 + (g * 37) %% 100, 1 + (g * 53) %% 110) AS taken) p
        """,
        # Entries in time order, as the ledger writes them: each lot's earn, and its redemption 30 days later.
        """
        INSERT INTO rewards_pointentry (public_id, created_at, kind, available_change, pending_change, debt_change,
                                        reason, actor_kind, actor_ref, idempotency_key, details, account_id)
        SELECT gen_random_uuid(), t.at, t.kind, t.change, 0, 0, 'Bench', 'system', 'bench', t.key, '{}', t.account_id
        FROM (
            SELECT l.earned_at AS at, 'earn' AS kind, l.points AS change, 'bench:earn:' || l.id AS key, l.account_id,
                   l.id AS lot_id
            FROM rewards_pointlot l
            UNION ALL
            SELECT l.earned_at + interval '30 days', 'redeem', -(l.points - l.remaining), 'bench:redeem:' || l.id,
                   l.account_id, l.id
            FROM rewards_pointlot l
        ) t ORDER BY t.at, t.lot_id
        """,
        """
        INSERT INTO rewards_pointmovement (available_change, pending_change, entry_id, lot_id)
        SELECT e.available_change, 0, e.id, split_part(e.idempotency_key, ':', 3)::bigint
        FROM rewards_pointentry e
        """,
        """
        UPDATE rewards_pointsaccount a SET available = s.available, lifetime_earned = s.earned,
               lifetime_redeemed = s.earned - s.available
        FROM (SELECT account_id, SUM(remaining) AS available, SUM(points) AS earned
              FROM rewards_pointlot GROUP BY account_id) s
        WHERE s.account_id = a.id
        """,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, params)
    return lots


def post_sql() -> None:
    """The journal and lot valuations journal_post_pending writes for the seeded entries, set-based."""
    from django.db import connection, transaction

    from accounting.services.common import accounts_by_role
    from accounting.services.posting import POSTING_LAG  # noqa: F401 (the service this mirrors)

    roles = {role: a.pk for role, a in accounts_by_role().items()}
    params = {"face": FACE, "rate": RATE, **{f"a_{k}": v for k, v in roles.items()}}
    statements = [
        """
        INSERT INTO accounting_accountingperiod (start, closed)
        SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC')::date, false FROM rewards_pointentry
        """,
        # issue: value = points x face x rate; redeem: min(points x face, outstanding), the rest released if spent
        """
        CREATE TEMP TABLE bench_post ON COMMIT DROP AS
        SELECT e.id AS entry_id, e.kind, (e.created_at AT TIME ZONE 'UTC')::date AS day, a.member_id,
               l.id AS lot_id, l.points, l.remaining,
               round(l.points * %(face)s::numeric * %(rate)s::numeric, 2) AS value,
               CASE WHEN e.kind = 'earn' THEN round(l.points * %(face)s::numeric * %(rate)s::numeric, 2)
                    ELSE round(-e.available_change * %(face)s::numeric, 2) END AS cost
        FROM rewards_pointentry e JOIN rewards_pointmovement m ON m.entry_id = e.id
        JOIN rewards_pointlot l ON l.id = m.lot_id JOIN rewards_pointsaccount a ON a.id = e.account_id
        """,
        """
        INSERT INTO accounting_journalentry (public_id, created_at, date, period_id, kind, description, source_kind,
                                             source_id, member_id, shop_id, currency)
        SELECT gen_random_uuid(), now(), b.day, p.id, CASE WHEN b.kind = 'earn' THEN 'issue' ELSE 'redeem' END,
               'Bench ' || b.kind, 'point_entry', b.entry_id, b.member_id, NULL, 'EUR'
        FROM bench_post b JOIN accounting_accountingperiod p ON p.start = date_trunc('month', b.day)::date
        ORDER BY b.entry_id
        """,
        # issue: Dr expense, Cr provision. redeem: Dr provision (used), Dr expense (beyond the provision),
        # Cr clearing (cost); a spent lot's unused provision: Dr provision, Cr expense (netted per account).
        """
        INSERT INTO accounting_journalline (entry_id, account_id, debit, credit, currency, period_id, kind, member_id,
                                            shop_id)
        SELECT j.id, x.account_id, GREATEST(x.net, 0), GREATEST(-x.net, 0), 'EUR', j.period_id, j.kind, j.member_id,
               NULL
        FROM accounting_journalentry j JOIN bench_post b ON b.entry_id = j.source_id,
        LATERAL (
            SELECT used, LEAST(b.cost, b.value) AS u2,
                   CASE WHEN b.remaining = 0 THEN b.value - LEAST(b.cost, b.value) ELSE 0 END AS rest
            FROM (SELECT LEAST(b.cost, b.value) AS used) s
        ) r,
        LATERAL (VALUES
            (%(a_loyalty_expense)s, CASE WHEN b.kind = 'earn' THEN b.value ELSE b.cost - r.used - r.rest END),
            (%(a_provision)s, CASE WHEN b.kind = 'earn' THEN -b.value ELSE r.used + r.rest END),
            (%(a_rewards_clearing)s, CASE WHEN b.kind = 'earn' THEN 0 ELSE -b.cost END)
        ) x(account_id, net)
        WHERE x.net <> 0
        """,
        """
        INSERT INTO accounting_lotvaluation (lot_id, basis, points, remaining, redeemed, value, unit_cost, recognised,
                                             released, currency, member_id, shop_id, issued_on)
        SELECT b.lot_id, 'provision', b.points, b.remaining, b.points - b.remaining, b.value, %(face)s::numeric,
               LEAST(round((b.points - b.remaining) * %(face)s::numeric, 2), b.value),
               CASE WHEN b.remaining = 0 THEN b.value - LEAST(round(b.points * %(face)s::numeric, 2), b.value) ELSE 0
               END,
               'EUR', b.member_id, NULL, b.day
        FROM bench_post b WHERE b.kind = 'earn'
        """,
        """
        INSERT INTO accounting_periodtotal (period_id, account_id, kind, currency, debit, credit)
        SELECT period_id, account_id, kind, currency, SUM(debit), SUM(credit) FROM accounting_journalline
        GROUP BY period_id, account_id, kind, currency
        """,
        """
        INSERT INTO accounting_postingcursor (source_kind, last_id, updated_at)
        SELECT 'point_entry', MAX(id), now() FROM rewards_pointentry
        """,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for statement in statements:
            cursor.execute(statement, params)


def set_policy() -> None:
    from decimal import Decimal

    from accounting.models import AccountingPolicy

    AccountingPolicy.objects.update_or_create(
        pk=1,
        defaults={
            "no_sale_policy": "provision",
            "point_face_value": Decimal(FACE),
            "expected_redemption_rate": Decimal(RATE),
            "reward_cost_ratio": Decimal(1),
        },
    )


def post_service() -> float:
    from accounting.services.posting import journal_post_pending

    with Stopwatch() as watch:
        result = journal_post_pending(
            lag=dt.timedelta(0),
            chunk_size=5000,
            progress=lambda s, n, j: n % 100_000 < 5000 and print(f"  posted {n:,} {s} ({j:,} journal entries)"),
        )
    rate = result.point_entries / watch.seconds if watch.seconds else 0
    print(
        f"posting service: {result.point_entries:,} entries -> {result.journal_entries:,} journal entries in "
        f"{watch.seconds:.1f} s ({rate:,.0f} entries/s)"
    )
    return watch.seconds


def pages_time(*, runs: int, entries: int) -> None:
    """The roll-forward as staff open it: the admin page (chart and table, reconciled to the lots) and its CSV,
    through Django's test client as a superuser, --runs times each."""
    from django.test import Client
    from django.urls import reverse

    from members.models import User

    user = User.objects.filter(email="bench-admin@example.invalid").first() or User.objects.create_superuser(
        "bench-admin@example.invalid", "bench-admin-password"
    )
    client = Client()
    client.force_login(user)
    for name in ("admin:accounting_rollforward", "admin:accounting_rollforward_csv"):
        times = []
        for _ in range(runs):
            with Stopwatch() as watch:
                response = client.get(reverse(name), HTTP_HOST="localhost")
                body = b"".join(response.streaming_content) if response.streaming else response.content
            if response.status_code != 200:
                sys.exit(f"FAILED: {name} answered {response.status_code}")
            times.append(watch.seconds)
        print(
            f"{name} over {entries:,} ledger entries ({len(body):,} bytes): median {statistics.median(times):.3f} s, "
            f"min {min(times):.3f} s, max {max(times):.3f} s"
        )


def journal_totals() -> list:
    from django.db.models import Sum

    from accounting.models import JournalLine

    return list(
        JournalLine.objects.values("period__start", "account__role", "kind")
        .annotate(d=Sum("debit"), c=Sum("credit"))
        .order_by("period__start", "account__role", "kind")
    )


def seed_and_post(args) -> None:
    """The ledger of --entries entries and its journal, posted as --post says (after --check, if asked)."""
    from django.utils import timezone

    now = timezone.now().replace(microsecond=0)
    set_policy()
    if args.check:
        totals = {}
        for how in ("service", "sql"):
            truncate()
            set_policy()
            seed_ledger(entries=20_000, now=now)
            post_service() if how == "service" else post_sql()
            totals[how] = journal_totals()
        same = totals["service"] == totals["sql"]
        print(f"check: the SQL journal equals the service's on 20,000 entries: {same}")
        if not same:
            sys.exit(1)

    truncate()
    set_policy()
    with Stopwatch() as watch:
        lots = seed_ledger(entries=args.entries, now=now)
    print(f"seeded {args.entries:,} ledger entries ({lots:,} lots) in {watch.seconds:.1f} s")
    if args.post == "service":
        post_service()
    else:
        with Stopwatch() as watch:
            post_sql()
        print(f"journal written set-based in {watch.seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="ledger entries (default 1,000,000)")
    parser.add_argument("--post", choices=["service", "sql"], default="service")
    parser.add_argument("--check", action="store_true", help="first compare sql and service posting on 20,000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database", default="bench_acc", help="scratch database (default bench_acc)")
    parser.add_argument(
        "--reuse", action="store_true", help="time the ledger an earlier run left in the database (no seeding)"
    )
    args = parser.parse_args()

    setup_django(args.database, reuse=args.reuse)
    from django.db import connection

    from accounting.selectors import accounting_audit, liability_rollforward

    if args.reuse:
        print("reusing the ledger and journal an earlier run left (--entries is not used)")
    else:
        seed_and_post(args)
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("SELECT COUNT(*) FROM accounting_journalline")
        lines = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM rewards_pointentry")
        entries = cursor.fetchone()[0]
    print(f"journal lines: {lines:,}")

    for reconcile in (False, True):
        label = "with the reconciliation to the lots" if reconcile else "from the period totals alone"
        times = []
        for run in range(args.runs):
            with Stopwatch() as watch:
                report = liability_rollforward(reconcile=reconcile)
            times.append(watch.seconds)
            print(f"  run {run + 1} ({label}): {watch.seconds:.3f} s ({len(report.rows)} periods)")
        print(
            f"roll-forward {label}, {entries:,} ledger entries ({lines:,} journal lines): "
            f"median {statistics.median(times):.3f} s, min {min(times):.3f} s, max {max(times):.3f} s"
        )
    pages_time(runs=args.runs, entries=entries)
    last = report.rows[-1]
    print(
        f"closing {last.period:%Y-%m}: journal {report.journal_closing.get('EUR')} EUR, lots "
        f"{report.lots_outstanding.get('EUR')} EUR, difference {report.differences or 'none'}; "
        f"every period balances: {all(r.balances for r in report.rows)}"
    )
    with Stopwatch() as watch:
        problems = accounting_audit()
    print(f"accounting_audit: {problems or 'clean'} ({watch.seconds:.1f} s)")
    print(f"command: {command_line()}")


if __name__ == "__main__":
    main()
