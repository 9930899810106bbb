"""Orders per second through the batch service against order_record one order at a time, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/batch_intake.py

The services are called directly (no HTTP): integrations.services.orders_batch.orders_record_batch with
batches of --batch-size (500) orders, and integrations.services.orders.order_record for each order of the
same number, one after another, in one thread with one connection. The shop, its 5 active earning rules
and --members customers are made as bench/http_intake.py makes them (seed_shop), and the orders have its
shape (bench/http_site/loadgen.py's order_body: 3 lines, each rule at work), for random customers, with
new external ids. Both paths get validated data, as the APIs hand it over; OrderInputSerializer's own cost
per order is measured apart.

A warm-up gives every customer one order (their first purchase records the `first_purchase` event, which
takes queries of its own in both paths). Then --rounds rounds; a round records --orders orders each way,
the two paths alternating, so that the machine's other load falls on both alike. It prints the median of the
rounds with min-max, the CPU per order of this process and of the PostgreSQL backend, and the ratio of the
medians. Afterwards rewards.selectors.ledger_audit() must be clean.
"""

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import autovacuum_stand_in, backend_pid, command_line, server_cpu_seconds, setup_django

MODES = ["batch", "single"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=500, help="orders per batch (default 500)")
    parser.add_argument("--orders", type=int, default=2000, help="orders per mode and round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after the warm-up (default 5)")
    parser.add_argument("--members", type=int, default=2000, help="customers the orders are for (default 2000)")
    parser.add_argument("--database", default="bench_batch", help="scratch database (default bench_batch)")
    args = parser.parse_args()
    if min(args.batch_size, args.orders, args.rounds, args.members) < 1:
        parser.error("every number must be at least 1")
    if args.orders % args.batch_size:
        parser.error("--orders must be a multiple of --batch-size")

    setup_django(args.database)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from http_intake import seed_shop

    from integrations.models import Shop

    with tempfile.TemporaryDirectory() as directory:
        seed = seed_shop(members=args.members, directory=Path(directory))
        customers = [line.split()[0] for line in seed.members_file.read_text().splitlines() if line.strip()]
    shop = Shop.objects.get(pk=seed.shop_pk)
    print(f"{seed.rules} active earning rules, {len(customers):,} customers; batches of {args.batch_size}")

    ids = itertools.count()
    validate_ms = validation_cost(customers, ids)
    print(f"OrderInputSerializer: {validate_ms:.2f} ms per order (not in the figures below)")

    started = time.perf_counter()
    warm = [orders_make(customers[i : i + args.batch_size], ids) for i in range(0, len(customers), args.batch_size)]
    for batch in warm:
        record("batch", shop, batch, batch_size=args.batch_size)
    print(f"warm-up: one order per customer through the batch path ({time.perf_counter() - started:.0f} s)")

    timed: dict[str, list[Run]] = {mode: [] for mode in MODES}
    for r in range(1, args.rounds + 1):
        figures = []
        for mode in MODES if r % 2 else reversed(MODES):
            orders = orders_make(random.choices(customers, k=args.orders), ids)
            autovacuum_stand_in()
            run = record(mode, shop, orders, batch_size=args.batch_size)
            timed[mode].append(run)
            figures.append(f"{mode} {args.orders / run.seconds:6,.0f} orders/s")
        print(f"  round {r}  " + "  ".join(figures), flush=True)

    from rewards.selectors import ledger_audit

    violations = ledger_audit()
    if violations:
        sys.exit(f"FAILED: ledger_audit() found {len(violations)} violations, e.g. {violations[:3]}")

    print("\n" + "=" * 100)
    print(f"command: {command_line()}")
    print(
        f"{args.orders:,} orders per mode and round, median of {args.rounds} rounds (min-max); CPU per order: "
        "this process / the PostgreSQL backend"
    )
    medians = {}
    for mode in MODES:
        runs = timed[mode]
        rates = [args.orders / run.seconds for run in runs]
        medians[mode] = statistics.median(rates)
        client = sum(run.client_cpu for run in runs) / (args.orders * len(runs)) * 1000
        server = (
            f"{sum(run.server_cpu for run in runs) / (args.orders * len(runs)) * 1000:.2f} ms"
            if all(run.server_cpu is not None for run in runs)
            else "n/a"
        )
        label = f"batches of {args.batch_size}" if mode == "batch" else "order_record, one by one"
        print(
            f"  {label:<26} {medians[mode]:>7,.0f} orders/s ({min(rates):,.0f}-{max(rates):,.0f})"
            f"   CPU/order {client:.2f} ms / {server}"
        )
    print(f"  batch / single = {medians['batch'] / medians['single']:.1f}")
    print("ledger_audit(): clean")


def orders_make(customers: list[str], ids) -> list[dict]:
    """Validated 3-line orders (as OrderInputSerializer hands them to the services), one per customer."""
    from http_site.loadgen import order_body

    from integrations.apis.orders import OrderInputSerializer

    bodies = [order_body(external_id=f"bench-{next(ids)}", customer=customer) for customer in customers]
    serializer = OrderInputSerializer(data=bodies, many=True)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def validation_cost(customers: list[str], ids, n: int = 500) -> float:
    """Milliseconds OrderInputSerializer takes per order of this shape."""
    started = time.process_time()
    orders_make(random.choices(customers, k=n), ids)
    return (time.process_time() - started) / n * 1000


@dataclass
class Run:
    seconds: float
    client_cpu: float
    server_cpu: float | None  # None unless PostgreSQL runs on this machine


def record(mode: str, shop, orders: list[dict], *, batch_size: int) -> Run:
    from integrations.services.orders import order_record
    from integrations.services.orders_batch import orders_record_batch

    pid = backend_pid()
    server_before = server_cpu_seconds(pid)
    started, client_started = time.perf_counter(), time.process_time()
    if mode == "batch":
        for i in range(0, len(orders), batch_size):
            results = orders_record_batch(shop=shop, orders=orders[i : i + batch_size])
            failed = [r for r in results if r.status != 201]
            if failed:
                sys.exit(f"FAILED: a batch refused {len(failed)} orders, e.g. {failed[0].error.message}")
    else:
        for order in orders:
            _, created = order_record(shop=shop, data=order)
            if not created:
                sys.exit(f"FAILED: order {order['external_id']} was not created")
    seconds, client_cpu = time.perf_counter() - started, time.process_time() - client_started
    server_after = server_cpu_seconds(pid)
    server_cpu = None if server_before is None or server_after is None else server_after - server_before
    return Run(seconds=seconds, client_cpu=client_cpu, server_cpu=server_cpu)


if __name__ == "__main__":
    main()
