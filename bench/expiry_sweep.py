"""How long the set-based sweeps take over a million lots, and whether their memory stays flat.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/expiry_sweep.py

For each sweep (expiry, then release) it empties the scratch database, creates --scale lots spread over
--scale / --lots-per-account accounts with set-based SQL (INSERT ... SELECT generate_series), each lot
with its earn entry and movement and the accounts' balances to match, so the ledger audits clean. Lots of
one account are spread through the table, as lots earned over time are. Then it times one call of
`lots_expire_due(now=...)` (or `lots_release_due`) that turns every lot, printing progress, the peak RSS
of this process before and after, and checks the ledger afterwards.

rewards.selectors.ledger_audit() must be clean before and after each sweep, and every lot must have been
turned by exactly one movement of the sweep.
"""

import argparse
import statistics
import sys
import threading
import time

from common import (
    Stopwatch,
    backend_pid,
    command_line,
    peak_rss_mb,
    rss_mb,
    server_cpu_seconds,
    setup_django,
    truncate,
    vacuum_analyze,
)

# The two data sets. Times are offsets from the sweep's `now`; every lot is due by then.
SCENARIOS = {
    "expire": {
        "state": "available",
        "earned_at": "%(now)s - interval '400 days' + g * interval '10 seconds'",
        "available_at": "l_earned_at",
        "expires_at": "l_earned_at + interval '180 days'",
    },
    "release": {
        "state": "pending",
        "earned_at": "%(now)s - interval '30 days' + g * interval '1 second'",
        "available_at": "l_earned_at + interval '14 days'",
        "expires_at": "l_earned_at + interval '365 days'",
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1_000_000, help="lots to create and sweep (default 1,000,000)")
    parser.add_argument("--lots-per-account", type=int, default=10, help="lots per account (default 10)")
    parser.add_argument("--sweep", choices=["expire", "release", "both"], default="both")
    parser.add_argument("--chunk-size", type=int, help="the sweeps' chunk_size (default: the sweeps' own)")
    parser.add_argument("--sweepers", type=int, default=1, help="sweeps run at once, in threads (default 1)")
    parser.add_argument(
        "--sql",
        type=argparse.FileType(),
        help="SQL to run on the scratch database after migrating, e.g. to try an index before its migration",
    )
    parser.add_argument("--database", default="bench_sweep", help="scratch database (default bench_sweep)")
    args = parser.parse_args()
    if args.scale < 1 or args.lots_per_account < 1 or args.sweepers < 1:
        parser.error("--scale, --lots-per-account and --sweepers must be at least 1")

    setup_django(args.database)
    from django.db import connection
    from django.utils import timezone

    if args.sql:
        print(f"running {args.sql.name} on the scratch database (drop it afterwards: it outlives this run)")
        with connection.cursor() as cursor:
            cursor.execute(args.sql.read())

    results = []
    for kind in ["expire", "release"] if args.sweep == "both" else [args.sweep]:
        truncate()
        now = timezone.now()
        accounts = max(1, args.scale // args.lots_per_account)
        print(f"\n{kind}: creating {args.scale:,} {SCENARIOS[kind]['state']} lots over {accounts:,} accounts ...")
        with Stopwatch() as watch:
            seed(kind, lots=args.scale, accounts=accounts, now=now)
            vacuum_analyze()
        print(f"  created in {watch.seconds:.1f} s")
        audit(when="before the sweep")
        results.append(run_sweep(kind, now=now, lots=args.scale, args=args))

    print("\n" + "=" * 100)
    print(f"command: {command_line()}")
    for r in results:
        server = "n/a" if r["server_cpu"] is None else f"{r['server_cpu']:.1f} s"
        print(
            f"{r['kind']:<8} {r['lots']:>9,} lots in {r['seconds']:5.1f} s ({r['lots'] / r['seconds']:,.0f} lots/s)"
            f"  CPU: this process {r['client_cpu']:.1f} s, PostgreSQL {server}"
            f"  peak RSS {r['rss_before']:.0f} -> {r['rss_after']:.0f} MiB"
            f"  chunks: median {r['chunk_median']:.2f} s, max {r['chunk_max']:.2f} s  audit clean"
        )


def seed(kind: str, *, lots: int, accounts: int, now) -> None:
    """Members, accounts, `lots` lots (lot g belongs to account g mod `accounts`), one earn entry and movement
    per lot, and the accounts' balances, all with INSERT ... SELECT."""
    from django.db import connection, transaction

    scenario = SCENARIOS[kind]
    params = {"now": now, "accounts": accounts, "lots": lots, "state": scenario["state"]}
    earned_at = scenario["earned_at"]
    available_at = scenario["available_at"].replace("l_earned_at", earned_at)
    expires_at = scenario["expires_at"].replace("l_earned_at", earned_at)
    statements = [
        """
        INSERT INTO members_user (password, is_superuser, email, is_staff, is_active, date_joined)
        SELECT '!', false, 'bench-' || g || '@example.invalid', false, true, %(now)s
        FROM generate_series(1, %(accounts)s) g
        """,
        """
        INSERT INTO members_member (public_id, created_at, number, first_name, last_name, marketing_consent,
                                    status, joined_via, joined_at, updated_at, user_id)
        SELECT gen_random_uuid(), %(now)s, lpad(u.id::text, 12, '0'), '', '', false,
               'active', 'bench', %(now)s, %(now)s, u.id
        FROM members_user u
        """,
        """
        INSERT INTO rewards_pointsaccount (public_id, created_at, available, pending, debt, lifetime_earned,
                                           lifetime_redeemed, lifetime_expired, last_activity_at, updated_at,
                                           member_id)
        SELECT gen_random_uuid(), %(now)s, 0, 0, 0, 0, 0, 0, %(now)s, %(now)s, m.id
        FROM members_member m ORDER BY m.id
        """,
        f"""
        INSERT INTO rewards_pointlot (public_id, created_at, points, remaining, reversed_points, state, source,
                                      source_ref, earned_at, available_at, expires_at, value, value_currency,
                                      updated_at, account_id)
        SELECT gen_random_uuid(), {earned_at}, p.points, p.points, 0, %(state)s, 'bonus',
               'bench', {earned_at}, {available_at}, {expires_at}, p.points * 0.01, 'EUR',
               {earned_at}, 1 + g %% %(accounts)s
        FROM generate_series(0, %(lots)s - 1) g, LATERAL (SELECT 1 + (g * 37) %% 100 AS points) p
        """,
        """
        INSERT INTO rewards_pointentry (public_id, created_at, kind, available_change, pending_change,
                                        debt_change, reason, actor_kind, actor_ref, idempotency_key, details,
                                        account_id)
        SELECT gen_random_uuid(), l.earned_at, 'earn',
               CASE WHEN l.state = 'available' THEN l.points ELSE 0 END,
               CASE WHEN l.state = 'pending' THEN l.points ELSE 0 END,
               0, 'Bench lot', 'system', 'bench', 'bench:earn:' || l.id,
               jsonb_build_object('requested', l.points, 'lot', l.public_id::text), l.account_id
        FROM rewards_pointlot l ORDER BY l.id
        """,
        """
        INSERT INTO rewards_pointmovement (available_change, pending_change, entry_id, lot_id)
        SELECT e.available_change, e.pending_change, e.id, l.id
        FROM rewards_pointlot l JOIN rewards_pointentry e ON e.idempotency_key = 'bench:earn:' || l.id
        """,
        """
        UPDATE rewards_pointsaccount a
        SET available = s.available, pending = s.pending, lifetime_earned = s.available + s.pending
        FROM (
            SELECT account_id,
                   COALESCE(SUM(remaining) FILTER (WHERE state = 'available'), 0) AS available,
                   COALESCE(SUM(remaining) FILTER (WHERE state = 'pending'), 0) AS pending
            FROM rewards_pointlot GROUP BY account_id
        ) s
        WHERE s.account_id = a.id
        """,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        # users' and members' ids start at 1 after TRUNCATE ... RESTART IDENTITY; accounts are 1..accounts
        for statement in statements:
            cursor.execute(statement, params)


def run_sweep(kind: str, *, now, lots: int, args) -> dict:
    """Time the sweep over every lot (in --sweepers threads at once) and check the ledger afterwards."""
    from django.db import connection

    from rewards.services.ledger import lots_expire_due, lots_release_due

    sweep_fn = lots_expire_due if kind == "expire" else lots_release_due
    options = {"chunk_size": args.chunk_size} if args.chunk_size else {}
    rss_before = peak_rss_mb()
    print(f"  sweeping: {sweep_fn.__name__}(now=...) x {args.sweepers}; peak RSS {rss_before:.0f} MiB")

    lock = threading.Lock()
    done = [0] * args.sweepers
    chunk_times: list[float] = []
    start = time.perf_counter()
    last = {"chunk": start, "printed": 0.0}

    def progress_for(i: int):
        def progress(total: int) -> None:
            with lock:
                t = time.perf_counter()
                chunk_times.append(t - last["chunk"])
                last["chunk"] = t
                done[i] = total
                if t - last["printed"] >= 1.0:
                    last["printed"] = t
                    elapsed = t - start
                    print(
                        f"    {sum(done):>10,} lots  {elapsed:6.1f} s  {sum(done) / elapsed:>8,.0f} lots/s"
                        f"  RSS {rss_mb():.0f} MiB",
                        flush=True,
                    )

        return progress

    errors: list[BaseException] = []
    turned = [0] * args.sweepers
    server_cpu: list[float | None] = [None] * args.sweepers

    def work(i: int) -> None:
        try:
            pid = backend_pid()
            cpu_before = server_cpu_seconds(pid)
            turned[i] = sweep_fn(now=now, progress=progress_for(i), **options)
            cpu_after = server_cpu_seconds(pid)
            if cpu_before is not None and cpu_after is not None:
                server_cpu[i] = cpu_after - cpu_before
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    client_start = time.process_time()
    with Stopwatch() as watch:
        if args.sweepers == 1:
            work(0)
        else:
            threads = [threading.Thread(target=work, args=(i,)) for i in range(args.sweepers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    client_cpu = time.process_time() - client_start
    if errors:
        raise errors[0]
    rss_after = peak_rss_mb()
    server = None if None in server_cpu else sum(server_cpu)
    print(
        f"  {sum(turned):,} lots turned in {watch.seconds:.1f} s ({' + '.join(f'{n:,}' for n in turned)});"
        f" CPU: this process {client_cpu:.1f} s, PostgreSQL {'n/a' if server is None else f'{server:.1f} s'};"
        f" peak RSS {rss_after:.0f} MiB"
    )
    if sum(turned) != lots:
        sys.exit(f"FAILED: the sweep turned {sum(turned):,} lots, expected {lots:,}")
    # As autovacuum would soon: with the statistics of before the sweep (no available lots, say) the planner
    # may read a partial due-date index for one account's lots, and ledger_audit() takes minutes, not seconds.
    vacuum_analyze()
    audit(when="after the sweep")
    require_clean(swept_once(kind, lots=lots), when="after the sweep")
    return {
        "kind": kind,
        "lots": lots,
        "seconds": watch.seconds,
        "client_cpu": client_cpu,
        "server_cpu": server,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "chunk_median": statistics.median(chunk_times) if chunk_times else 0.0,
        "chunk_max": max(chunk_times, default=0.0),
    }


def audit(*, when: str) -> None:
    """Run ledger_audit() (seconds at a million lots with fresh statistics) and stop at any violation."""
    from rewards.selectors import ledger_audit

    with Stopwatch() as watch:
        violations = ledger_audit()
    print(f"  ledger_audit() {when}: {len(violations)} violations in {watch.seconds:.1f} s")
    if violations:
        sys.exit(f"FAILED {when}: ledger_audit() found {len(violations)} violations, e.g. {violations[:3]}")


def swept_once(kind: str, *, lots: int) -> dict[str, int]:
    """Every lot was turned by exactly one movement of the sweep, and each account got one sweep entry."""
    from django.db import connection

    new_state = "expired" if kind == "expire" else "available"
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
                (SELECT count(*) FROM rewards_pointlot WHERE state <> %s),
                (SELECT count(*) FROM (
                    SELECT m.lot_id FROM rewards_pointmovement m
                    JOIN rewards_pointentry e ON e.id = m.entry_id AND e.kind = %s
                    GROUP BY m.lot_id HAVING count(*) <> 1) twice),
                (SELECT count(DISTINCT m.lot_id) FROM rewards_pointmovement m
                    JOIN rewards_pointentry e ON e.id = m.entry_id AND e.kind = %s),
                (SELECT count(*) FROM (
                    SELECT account_id FROM rewards_pointentry WHERE kind = %s
                    GROUP BY account_id HAVING count(*) <> 1) several)
            """,
            [new_state, kind, kind, kind],
        )
        not_turned, turned_twice, turned, accounts_with_several = cursor.fetchone()
    return {
        f"lots not {new_state}": not_turned,
        "lots turned twice": turned_twice,
        "lots not turned": lots - turned,
        "accounts with several entries": accounts_with_several,
    }


def require_clean(found: dict[str, int], *, when: str) -> None:
    if any(found.values()):
        sys.exit(f"FAILED {when}: {found}")


if __name__ == "__main__":
    main()
