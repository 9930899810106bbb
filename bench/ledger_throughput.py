"""How many earns and redemptions per second the ledger services take from concurrent callers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/ledger_throughput.py

--threads threads (8), each with its own database connection, call rewards.services.ledger.points_earn and
then points_redeem, --scale operations per phase in all (spread evenly over the threads), in two modes:

- uncontended: each thread works on its own --members-per-thread members, so no two threads ever want
  the same account lock;
- contended: every thread works on the same --shared accounts, so the calls queue on those few account
  locks (the service holds the lock for its whole transaction).

A warm-up round, then --rounds timed rounds; a round runs earn then redeem in each mode, the modes
interleaved so that noise from the shared machine falls on both alike. Figures are medians over rounds,
with the spread (min-max) beside them, and the contended/uncontended ratio of the medians. Afterwards
rewards.selectors.ledger_audit() must find nothing.

The threads share one interpreter lock, so the CPU this process spends per call caps the rate; the
figures print it beside the PostgreSQL backends' CPU per call (see bench/README.md, "Reading it").
"""

import argparse
import contextlib
import copy
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass

from common import backend_pid, command_line, server_cpu_seconds, setup_django

MODES = ["uncontended", "contended"]
PHASES = ["earn", "redeem"]
# A redemption uses up exactly one earlier lot, and each account redeems as often as it earned in the round:
# balances return to zero, so accounts do not pile up lots and later rounds are not slower than earlier ones.
EARN_POINTS = REDEEM_POINTS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=2000, help="operations per phase and round (default 2000)")
    parser.add_argument("--threads", type=int, default=8, help="threads, each with a connection (default 8)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after one warm-up (default 5)")
    parser.add_argument("--members-per-thread", type=int, default=25, help="uncontended: members each (default 25)")
    parser.add_argument("--shared", type=int, default=2, help="contended: accounts all threads share (default 2)")
    parser.add_argument("--database", default="bench_ledger", help="scratch database (default bench_ledger)")
    args = parser.parse_args()
    if min(args.scale, args.threads, args.rounds, args.members_per_thread, args.shared) < 1:
        parser.error("every number must be at least 1")
    if args.scale < args.threads:
        parser.error("--scale must be at least --threads (one operation per thread)")

    setup_django(args.database)
    own, shared = create_accounts(threads=args.threads, per_thread=args.members_per_thread, shared=args.shared)
    assignments = {"uncontended": own, "contended": [shared] * args.threads}
    ops_per_thread = args.scale // args.threads
    ops = ops_per_thread * args.threads
    print(
        f"{args.threads} threads x {ops_per_thread} operations per phase; uncontended: {args.members_per_thread} "
        f"members per thread; contended: {args.shared} shared accounts"
    )

    timed: dict[tuple[str, str], list[Phase]] = {(m, p): [] for m in MODES for p in PHASES}
    run = uuid.uuid4().hex[:8]
    for round_ in range(args.rounds + 1):
        label = "warm-up" if round_ == 0 else f"round {round_}"
        figures = []
        for mode in MODES:
            for phase in PHASES:
                result = run_phase(
                    phase, assignments[mode], ops_per_thread=ops_per_thread, key=f"bench:{run}:{round_}:{mode}"
                )
                figures.append(f"{mode} {phase} {ops / result.seconds:5,.0f}/s")
                if round_:
                    timed[mode, phase].append(result)
        print(f"  {label:<8} " + "  ".join(figures), flush=True)

    from rewards.selectors import ledger_audit

    violations = ledger_audit()
    if violations:
        sys.exit(f"FAILED: ledger_audit() found {len(violations)} violations, e.g. {violations[:3]}")

    print("\n" + "=" * 100)
    print(f"command: {command_line()}")
    print(
        f"{args.threads} threads, {ops:,} operations per phase, median of {args.rounds} rounds (min-max); "
        "CPU per operation: this process (all threads, one GIL) / the PostgreSQL backends"
    )
    for phase in PHASES:
        medians = {}
        for mode in MODES:
            results = timed[mode, phase]
            rates = [ops / r.seconds for r in results]
            medians[mode] = statistics.median(rates)
            lat = sorted(x for r in results for x in r.latencies)
            client = sum(r.client_cpu for r in results) / (ops * len(results)) * 1000
            server = (
                f"{sum(r.server_cpu for r in results) / (ops * len(results)) * 1000:.1f} ms"
                if all(r.server_cpu is not None for r in results)
                else "n/a"
            )
            print(
                f"  {phase:<6} {mode:<11} {medians[mode]:>6,.0f} ops/s ({min(rates):,.0f}-{max(rates):,.0f})"
                f"   latency p50 {percentile(lat, 50) * 1000:5.1f} ms, p95 {percentile(lat, 95) * 1000:5.1f} ms"
                f"   CPU/op {client:.1f} ms / {server}"
            )
        print(f"  {phase:<6} contended / uncontended = {medians['contended'] / medians['uncontended']:.2f}")
    print("ledger_audit(): clean")


def create_accounts(*, threads: int, per_thread: int, shared: int):
    """Sign up the members through members.services: `per_thread` accounts for each thread, and `shared` more."""
    from members.models import User
    from members.services import member_signup
    from rewards.selectors import program_get

    program_get()  # the program's row, created once here rather than raced for by the threads
    accounts = []
    for i in range(threads * per_thread + shared):
        member = member_signup(user=User(email=f"bench-{i}@example.invalid"), joined_via="bench")
        accounts.append(member.points_account)
    own = [accounts[t * per_thread : (t + 1) * per_thread] for t in range(threads)]
    return own, accounts[threads * per_thread :]


@dataclass
class Phase:
    """One timed phase: wall time, every call's latency, and the CPU the client and the server used."""

    seconds: float
    latencies: list[float]
    client_cpu: float
    server_cpu: float | None  # None unless PostgreSQL runs on this machine


def run_phase(phase: str, assignments: list, *, ops_per_thread: int, key: str) -> Phase:
    """Run `ops_per_thread` calls in each thread at once.

    Thread t's i-th call goes to account (t + i) mod n of its list, so shared accounts are hit evenly."""
    from django.db import connection

    from rewards.services.ledger import Actor, points_earn, points_redeem

    barrier = threading.Barrier(len(assignments) + 1)
    errors: list[BaseException] = []
    times: list[list[float]] = [[] for _ in assignments]
    server_cpu: list[float | None] = [None] * len(assignments)

    def call(account, idempotency_key: str) -> None:
        if phase == "earn":
            points_earn(
                account=account,
                points=EARN_POINTS,
                source="bonus",
                actor=Actor.system("bench"),
                idempotency_key=idempotency_key,
            )
        else:
            points_redeem(
                account=account,
                points=REDEEM_POINTS,
                reason="bench",
                actor=Actor.system("bench"),
                idempotency_key=idempotency_key,
            )

    def worker(t: int) -> None:
        try:
            accounts = [copy.copy(a) for a in assignments[t]]  # the services write balances back into them
            pid = backend_pid()  # connect before the clock starts
            cpu_before = server_cpu_seconds(pid)
            barrier.wait()
            for i in range(ops_per_thread):
                start = time.perf_counter()
                call(accounts[(t + i) % len(accounts)], f"{key}:{phase}:{t}:{i}")
                times[t].append(time.perf_counter() - start)
            cpu_after = server_cpu_seconds(pid)
            if cpu_before is not None and cpu_after is not None:
                server_cpu[t] = cpu_after - cpu_before
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(len(assignments))]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a thread failed; its error is raised below
        barrier.wait()
    start, client_start = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    seconds, client_cpu = time.perf_counter() - start, time.process_time() - client_start
    if errors:
        raise errors[0]
    return Phase(
        seconds=seconds,
        latencies=[x for per_thread in times for x in per_thread],
        client_cpu=client_cpu,
        server_cpu=None if None in server_cpu else sum(server_cpu),
    )


def percentile(ordered: list[float], p: float) -> float:
    """The p-th percentile of an ordered list (nearest rank)."""
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


if __name__ == "__main__":
    main()
