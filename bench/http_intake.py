"""Order intake and member reads over HTTP: gunicorn serving the project on PostgreSQL, production settings.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/http_intake.py

In one run, against one gunicorn (--workers sync workers, loyalty_site.settings.production through
bench/http_site/settings.py: DEBUG off, the API rate limit counted in Redis but set far above the load):

1. POST /api/v1/orders, 3-line orders for random members among --members linked to the shop, unique
   external ids, 5 active earning rules made with the admin's form (base rate, a books multiplier, fixed
   points for a wine SKU, a bonus rate above a minimum order, the gift card exclusion). A sweep over
   --sweep client counts (up, then down again; the better figure of each) finds where throughput stops
   rising (the smallest count within 5 % of the best);
   the timed rounds run at that count. Then open-loop at half the median rate: p50/p99 latency from each
   request's due time (bench/http_site/loadgen.py).
2. A bare Django view with only an order's SQL shape (bench/http_site/views.py) at the same client count.
3. pgbench's TPC-B-like transactions at the same client count, on its own database.
4. POST /api/v1/orders/batch, --batch-size orders a request, the same number of clients ("not available"
   while the endpoint answers 404).
5. GET /api/v1/members/{id}: requests/s at the same client count, p99 closed-loop and open-loop at half
   its rate.

Closed-loop load comes from wrk (bench/http_site/wrk.lua), open-loop and batches from loadgen.py: each is a
process of its own. Every round runs all five, interleaved, so the machine's other load falls on each
alike; figures are medians over --rounds rounds of --seconds seconds, with min-max.
"""

import argparse
import contextlib
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from common import ROOT, autovacuum_stand_in, command_line, server_cpu_seconds, setup_django, vacuum_analyze

SITE = ROOT / "bench" / "http_site"
ORDERS_PATH = "/api/v1/orders"
BATCH_PATH = "/api/v1/orders/batch"
BARE_PATH = "/bench/bare-order"
MEMBERS_PATH = "/api/v1/members"
SATURATION_SHARE = 0.95  # the saturating client count: the smallest within 5 % of the best throughput
TARGET_INTAKE_VS_BARE = 0.70
TARGET_P99_MS = 50.0
QUICK = {"members": 200, "rounds": 1, "seconds": 3.0, "sweep": "2,4", "sweep_seconds": 2.0, "batch_size": 50}
DEFAULTS = {
    "members": 2000,
    "rounds": 3,
    "seconds": 10.0,
    "sweep": "1,2,4,8,16",
    "sweep_seconds": 4.0,
    "batch_size": 500,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK}")
    parser.add_argument("--members", type=int, help=f"members linked to the shop (default {DEFAULTS['members']})")
    parser.add_argument("--rounds", type=int, help=f"timed rounds (default {DEFAULTS['rounds']})")
    parser.add_argument("--seconds", type=float, help=f"seconds per measurement (default {DEFAULTS['seconds']:g})")
    parser.add_argument("--sweep", help=f"client counts to find saturation (default {DEFAULTS['sweep']})")
    parser.add_argument("--sweep-seconds", type=float, help=f"seconds per sweep step ({DEFAULTS['sweep_seconds']:g})")
    parser.add_argument("--clients", type=int, help="skip the sweep and run at this client count")
    parser.add_argument("--batch-size", type=int, help=f"orders per batch request (default {DEFAULTS['batch_size']})")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--database", default="bench_http_intake", help="scratch database (default bench_http_intake)")
    parser.add_argument("--pgbench-database", default="bench_http_pgbench", help="pgbench's database")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis server (default 127.0.0.1:6379)")
    parser.add_argument("--redis-db", type=int, default=11, help="broker db; the cache uses the next (default 11)")
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    sweep = sorted({int(n) for n in args.sweep.split(",")})
    if min(args.members, args.rounds, args.workers, args.batch_size, *sweep) < 1 or args.seconds <= 0:
        parser.error("every number must be at least 1")
    if not re.fullmatch(r"bench_[a-z0-9_]+", args.pgbench_database):
        parser.error("--pgbench-database must start with bench_")

    began = time.perf_counter()
    load_before = os.getloadavg()
    setup_django(args.database)
    seed = seed_shop(members=args.members, directory=Path(tempfile.mkdtemp(prefix="bench_http_")))
    print(f"seeded: 1 shop, {args.members:,} members linked to it, {seed.rules} active earning rules", flush=True)
    redis_flush(args.redis, args.redis_db, args.redis_db + 1)

    server = Gunicorn(
        seed=seed,
        workers=args.workers,
        broker=f"{args.redis}/{args.redis_db}",
        cache=f"{args.redis}/{args.redis_db + 1}",
    )
    try:
        server.start()
        print(f"gunicorn: {args.workers} sync workers on 127.0.0.1:{server.port} (log: {server.log})", flush=True)
        results = run(args, server=server, seed=seed, sweep=sweep)
    finally:
        server.stop()
        redis_flush(args.redis, args.redis_db, args.redis_db + 1)
    errors_logged = server.errors_logged()
    report(
        args,
        results,
        seed=seed,
        load_before=load_before,
        errors_logged=errors_logged,
        log=server.log,
        minutes=(time.perf_counter() - began) / 60,
    )


# --- data ---------------------------------------------------------------------------------------------


@dataclass
class Seed:
    shop_pk: int
    key: str
    members_file: Path
    rules: int


# What staff would add in the admin next to the two rules a fresh program has (base rate 1 per 1.00 on the
# total less tax and shipping; gift cards never earn): a books multiplier, fixed points for a wine, and a
# bonus rate for orders from 50.00. The load's orders (wrk.lua, loadgen.py) exercise each of the five.
EXTRA_RULES = [
    {"name": "Books earn double", "kind": "multiplier", "multiplier": "2", "categories": "books"},
    {"name": "50 points per bottle of red", "kind": "fixed", "points": "50", "skus": "WINE-RED-75"},
    {
        "name": "Big baskets: 1 more point per 10.00",
        "kind": "base_rate",
        "points": "1",
        "amount": "10",
        "minimum_order_value": "50",
    },
]


def seed_shop(*, members: int, directory: Path) -> Seed:
    """The shop with a read+write key, the earning rules, and `members` customers registered as POST /members
    would (integrations.services.members.member_upsert); writes "customer_id member_uuid" lines to a file."""
    from django.db import transaction

    from integrations.services.members import member_upsert
    from integrations.services.shops import api_key_create, shop_create
    from rewards.admin import EarningRuleForm
    from rewards.models import EarningRule
    from rewards.selectors import program_get

    program = program_get()
    shop = shop_create(name="Bench shop", currency=program.currency)
    _, key = api_key_create(shop=shop, name="bench", scopes=["read", "write"])
    for rule in EXTRA_RULES:
        data = {
            "points": "1",
            "amount": "1",
            "multiplier": "1",
            "rounding": "down",
            "scope": "order",
            "priority": "0",
            "is_active": "on",
            "subtract_discounts": "on",
            "currency": program.currency,
            **rule,
        }
        form = EarningRuleForm(data=data)
        if not form.is_valid():
            sys.exit(f"The earning rule {rule['name']!r} was refused: {form.errors.as_json()}")
        form.save()
    members_file = directory / "members.txt"
    started = time.perf_counter()
    # One transaction for all (the services' own become savepoints): one commit, not one per member.
    with members_file.open("w") as out, transaction.atomic():
        for i in range(members):
            member, _ = member_upsert(shop=shop, external_id=f"cust-{i}", email=f"bench-{i}@example.invalid")
            out.write(f"cust-{i} {member.public_id}\n")
            if (i + 1) % 500 == 0:
                print(f"  {i + 1:,} members ({time.perf_counter() - started:.0f} s)", flush=True)
    # Statistics as autovacuum keeps them in production (pgbench's initialisation analyzes its tables too):
    # with a fresh database's, the planner took a hashed subplan over all member events to find one customer.
    vacuum_analyze(tables=None)
    return Seed(
        shop_pk=shop.pk, key=key, members_file=members_file, rules=EarningRule.objects.filter(is_active=True).count()
    )


def redis_flush(url: str, *dbs: int) -> None:
    """Empty the bench's own Redis databases (the broker's queue and the rate-limit counters), no others."""
    import redis

    for db in dbs:
        redis.Redis.from_url(f"{url}/{db}").flushdb()


# --- the server ---------------------------------------------------------------------------------------


@dataclass
class Gunicorn:
    seed: Seed
    workers: int
    broker: str
    cache: str
    port: int = 0
    process: subprocess.Popen | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench_http_")) / "gunicorn.log")
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(40))  # sessions made in-process need it

    def start(self) -> None:
        with socket.socket() as s:  # a free port
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "http_site.settings",
            "DJANGO_SECRET_KEY": self.secret_key,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CELERY_BROKER_URL": self.broker,
            "CACHE_URL": self.cache,
            "API_RATE_LIMIT": "1000000000/min",  # counted in Redis on every request, never reached
            "BENCH_SHOP_ID": str(self.seed.shop_pk),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("DJANGO_DEBUG", None)
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "loyalty_site.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            "sync",
            "--timeout",
            "120",
            "--chdir",
            str(ROOT),
            "--pythonpath",
            f"{ROOT},{ROOT / 'bench'}",
            "--error-logfile",
            str(self.log),
        ]
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"gunicorn exited with {self.process.returncode}; see {self.log}")
            with contextlib.suppress(OSError):
                status, _ = self.get("/api/v1/shop")
                if status == 200:
                    if len(self.worker_pids()) == self.workers:
                        return
                else:
                    sys.exit(f"GET /api/v1/shop answered {status}; see {self.log}")
            time.sleep(0.3)
        sys.exit(f"gunicorn did not answer within 60 s; see {self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM to the master: it stops its workers
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"X-Api-Key": self.seed.key, "X-Forwarded-Proto": "https", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (http://127.0.0.1 only)
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def worker_pids(self) -> list[int]:
        pid = self.process.pid
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as children:
                return [int(p) for p in children.read().split()]
        except OSError:
            return []

    def cpu_seconds(self) -> float:
        """CPU the workers have used so far (utime + stime)."""
        total = 0.0
        for pid in self.worker_pids():
            with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def errors_logged(self) -> int:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return len(re.findall(r"Traceback|\[ERROR\]|Internal Server Error", text))


def database_cpu_seconds() -> dict[int, float]:
    """CPU used so far by each PostgreSQL backend of the scratch database (the workers' connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    return {pid: cpu for pid in pids if (cpu := server_cpu_seconds(pid)) is not None}


# --- one measurement ----------------------------------------------------------------------------------


@dataclass
class Measure:
    """One timed run: how many succeeded per second, latencies, failures, and CPU per success."""

    rate: float
    ok: int
    failed: int
    p50_ms: float | None = None
    p99_ms: float | None = None
    app_cpu_ms: float | None = None  # gunicorn workers, per successful request (per order for batches)
    db_cpu_ms: float | None = None  # PostgreSQL backends of the scratch database, likewise
    latencies: list[float] = field(default_factory=list)
    note: str = ""


@contextlib.contextmanager
def cpu_meter(server: Gunicorn):
    """Yields a dict that gets "app" and "db" CPU seconds used during the block."""
    used: dict[str, float] = {}
    app, db = server.cpu_seconds(), database_cpu_seconds()
    yield used
    used["app"] = server.cpu_seconds() - app
    after = database_cpu_seconds()
    used["db"] = sum(cpu - db.get(pid, 0.0) for pid, cpu in after.items())


def per_success(measure: Measure, used: dict[str, float], per: int | None = None) -> Measure:
    count = per if per is not None else measure.ok
    if count:
        measure.app_cpu_ms = used["app"] / count * 1000
        measure.db_cpu_ms = used["db"] / count * 1000
    return measure


def wrk(server: Gunicorn, *, mode: str, path: str, clients: int, seconds: float, tag: str) -> Measure:
    """Closed loop: `clients` connections each sending the next request when the last is answered."""
    command = [
        "wrk",
        "-t",
        "1",
        "-c",
        str(clients),
        "-d",
        f"{max(1, round(seconds))}s",  # wrk takes whole seconds
        "--timeout",
        "30s",
        "-s",
        str(SITE / "wrk.lua"),
        f"http://127.0.0.1:{server.port}",
        "--",
        mode,
        str(server.seed.members_file),
        tag,
        path,
        server.seed.key,
    ]
    with cpu_meter(server) as used:
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        sys.exit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    out = json.loads(line.removeprefix("WRKJSON "))
    failed = out["4xx"] + out["5xx"] + out["other"] + out["socket_errors"] + out["timeouts"]
    measure = Measure(
        rate=out["ok"] / (out["duration_us"] / 1e6),
        ok=out["ok"],
        failed=failed,
        p50_ms=out["p50_us"] / 1000,
        p99_ms=out["p99_us"] / 1000,
        note=out["first_error"] if failed else "",
    )
    return per_success(measure, used)


def loadgen(server: Gunicorn, mode: str, **options) -> dict:
    command = [
        sys.executable,
        str(SITE / "loadgen.py"),
        mode,
        "--port",
        str(server.port),
        "--key",
        server.seed.key,
        "--members",
        str(server.seed.members_file),
    ]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode:
        sys.exit(f"loadgen.py failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)


def open_loop(server: Gunicorn, *, kind: str, path: str, rate: float, seconds: float, tag: str) -> Measure:
    """Open loop at `rate` requests/s; latency from each request's due time."""
    with cpu_meter(server) as used:
        out = loadgen(server, "openloop", kind=kind, path=path, rate=f"{rate:.3f}", seconds=seconds, tag=tag)
    ok = sum(n for status, n in out["statuses"].items() if status.startswith("2"))
    lat = sorted(out["latencies"])
    note = out["first_error"]
    if out["send_lag_max"] > 0.005:
        note = f"{note} (the generator sent up to {out['send_lag_max'] * 1000:.0f} ms late)".strip()
    measure = Measure(
        rate=ok / out["seconds"],
        ok=ok,
        failed=out["sent"] - ok,
        p50_ms=percentile(lat, 50) * 1000,
        p99_ms=percentile(lat, 99) * 1000,
        latencies=lat,
        note=note,
    )
    return per_success(measure, used)


def batches(server: Gunicorn, *, clients: int, size: int, seconds: float, tag: str) -> Measure:
    with cpu_meter(server) as used:
        out = loadgen(server, "batch", path=BATCH_PATH, clients=clients, size=size, seconds=seconds, tag=tag)
    lat = sorted(out["request_seconds"])
    measure = Measure(
        rate=out["created"] / out["seconds"],
        ok=out["created"],
        failed=out["failed"] + out["errors"] * size,
        p50_ms=percentile(lat, 50) * 1000,
        p99_ms=percentile(lat, 99) * 1000,
        note=out["first_error"],
    )
    return per_success(measure, used)


def batch_available(server: Gunicorn) -> tuple[bool, str]:
    """POST one order to /orders/batch: 404 means the endpoint is not there yet."""
    from http_site.loadgen import order_body

    customer = server.seed.members_file.read_text().split()[0]
    order = order_body(external_id=f"probe-{secrets.token_hex(4)}", customer=customer)
    status, body = server.request("POST", BATCH_PATH, {"orders": [order]})
    if status == 200:
        return True, ""
    return False, "not available (404)" if status == 404 else f"not available ({status}: {body[:200]!r})"


# --- pgbench ------------------------------------------------------------------------------------------


def pgbench_binary() -> str:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    if not found:
        sys.exit("pgbench not found under /usr/lib/postgresql/*/bin (apt-get install postgresql-client)")
    return str(found[-1])


def pgbench_env(database: str) -> tuple[list[str], dict]:
    parts = urlsplit(os.environ["DATABASE_URL"])
    env = {**os.environ}
    if parts.password:
        env["PGPASSWORD"] = parts.password
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres"]
    return args, env


def pgbench_init(database: str, *, scale: int) -> None:
    import psycopg
    from psycopg import sql

    maintenance = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    connect, env = pgbench_env(database)
    command = [pgbench_binary(), "-i", "-q", "-s", str(scale), *connect, database]
    subprocess.run(command, env=env, check=True, capture_output=True)  # noqa: S603


def pgbench(database: str, *, clients: int, seconds: float) -> Measure:
    connect, env = pgbench_env(database)
    command = [
        pgbench_binary(),
        "-c",
        str(clients),
        "-j",
        str(min(2, clients)),
        "-T",
        str(max(1, round(seconds))),
        *connect,
        database,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if done.returncode or tps is None:
        sys.exit(f"pgbench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    return Measure(
        rate=float(tps.group(1)),
        ok=0,
        failed=int(failed.group(1)) if failed else 0,
        p50_ms=float(latency.group(1)) if latency else None,
    )


# --- the run ------------------------------------------------------------------------------------------


def run(args, *, server: Gunicorn, seed: Seed, sweep: list[int]) -> dict:
    results: dict = {"sweep": {}, "rounds": {}, "half": {}}
    batch_ok, results["batch_note"] = batch_available(server)
    if not batch_ok:
        print(f"POST {BATCH_PATH}: {results['batch_note']}; measured without it", flush=True)

    warm = 2
    for mode, path in (("orders", ORDERS_PATH), ("orders", BARE_PATH), ("members", MEMBERS_PATH)):
        wrk(server, mode=mode, path=path, clients=2, seconds=warm, tag=f"warm-{path.rsplit('/', 1)[1]}")
    print(f"warm-up: {warm:g} s on each endpoint", flush=True)

    if args.clients:
        clients = args.clients
    else:
        print(
            f"saturation sweep, POST {ORDERS_PATH}, {args.sweep_seconds:g} s per client count, up then down "
            "(the better of the two counts: other work on the machine can only lower a figure):",
            flush=True,
        )
        for p, n in enumerate([*sweep, *reversed(sweep)]):
            m = wrk(server, mode="orders", path=ORDERS_PATH, clients=n, seconds=args.sweep_seconds, tag=f"sw{p}-{n}")
            if n not in results["sweep"] or m.rate > results["sweep"][n].rate:
                results["sweep"][n] = m
            print(f"  {n:>3} clients {m.rate:7.1f} orders/s  p99 {m.p99_ms:6.1f} ms{failures(m)}", flush=True)
        best = max(m.rate for m in results["sweep"].values())
        clients = min(n for n, m in results["sweep"].items() if m.rate >= SATURATION_SHARE * best)
    results["clients"] = clients
    scale = clients  # TPC-B wants at least one branch row per client, or pgbench measures one row's lock queue
    pgbench_init(args.pgbench_database, scale=scale)
    results["pgbench_scale"] = scale
    print(
        f"timed rounds at {clients} clients ({args.rounds} x {args.seconds:g} s each; pgbench scale {scale}):",
        flush=True,
    )

    phases = ["intake", "bare", "pgbench", "batch", "members"]
    rounds = results["rounds"] = {name: [] for name in phases}
    for r in range(1, args.rounds + 1):
        autovacuum_stand_in()
        rounds["intake"].append(
            wrk(server, mode="orders", path=ORDERS_PATH, clients=clients, seconds=args.seconds, tag=f"in{r}")
        )
        autovacuum_stand_in()
        rounds["bare"].append(
            wrk(server, mode="orders", path=BARE_PATH, clients=clients, seconds=args.seconds, tag=f"bare{r}")
        )
        rounds["pgbench"].append(pgbench(args.pgbench_database, clients=clients, seconds=args.seconds))
        if batch_ok:
            autovacuum_stand_in()
            rounds["batch"].append(
                batches(server, clients=clients, size=args.batch_size, seconds=args.seconds, tag=f"b{r}")
            )
        autovacuum_stand_in()
        rounds["members"].append(
            wrk(server, mode="members", path=MEMBERS_PATH, clients=clients, seconds=args.seconds, tag=f"m{r}")
        )
        line = (
            f"  round {r}  intake {rounds['intake'][-1].rate:6.1f} orders/s{failures(rounds['intake'][-1])}"
            f"  bare {rounds['bare'][-1].rate:6.1f}/s{failures(rounds['bare'][-1])}"
            f"  pgbench {rounds['pgbench'][-1].rate:6.1f} tps"
        )
        if batch_ok:
            line += f"  batch {rounds['batch'][-1].rate:6.1f} orders/s{failures(rounds['batch'][-1])}"
        line += f"  GET member {rounds['members'][-1].rate:6.1f}/s{failures(rounds['members'][-1])}"
        print(line, flush=True)

    half = results["half"] = {
        "intake_rate": median(m.rate for m in rounds["intake"]) / 2,
        "members_rate": median(m.rate for m in rounds["members"]) / 2,
        "intake": [],
        "members": [],
    }
    print(f"open loop at half load ({half['intake_rate']:.1f} orders/s, {half['members_rate']:.1f} GET/s):", flush=True)
    for r in range(1, args.rounds + 1):
        autovacuum_stand_in()
        half["intake"].append(
            open_loop(
                server, kind="orders", path=ORDERS_PATH, rate=half["intake_rate"], seconds=args.seconds, tag=f"ol{r}"
            )
        )
        autovacuum_stand_in()
        half["members"].append(
            open_loop(
                server,
                kind="members",
                path=MEMBERS_PATH,
                rate=half["members_rate"],
                seconds=args.seconds,
                tag=f"olm{r}",
            )
        )
        i, m = half["intake"][-1], half["members"][-1]
        print(
            f"  round {r}  POST /orders p50 {i.p50_ms:5.1f} ms p99 {i.p99_ms:6.1f} ms{failures(i)}"
            f"   GET member p50 {m.p50_ms:5.1f} ms p99 {m.p99_ms:6.1f} ms{failures(m)}",
            flush=True,
        )
    results["orders_check"] = orders_check(rounds, half, clients=clients)
    return results


def orders_check(rounds: dict, half: dict, *, clients: int) -> str:
    """Every 2xx of POST /orders made one order with its points: count them in the database. wrk stops
    counting at its deadline, so up to `clients` orders per closed-loop run are stored but not counted."""
    from integrations.models import Order

    answered = sum(m.ok for m in rounds["intake"]) + sum(m.ok for m in half["intake"])
    stored = Order.objects.filter(external_id__regex=r"^(in|ol)[0-9]+-", points__gt=0, lot__isnull=False).count()
    if not answered <= stored <= answered + clients * len(rounds["intake"]):
        return f"MISMATCH: {answered:,} orders answered 2xx, {stored:,} stored with points"
    in_flight = stored - answered
    return f"{answered:,} orders answered 2xx, all stored with their points (+{in_flight} in flight at wrk's end)"


# --- the report ---------------------------------------------------------------------------------------


def report(args, results, *, seed: Seed, load_before, errors_logged: int, log: Path, minutes: float) -> None:
    from django.db import connection

    rounds, half, clients = results["rounds"], results["half"], results["clients"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        server = cursor.fetchone()[0].split(" on ")[0]
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "off":
            server += ", autovacuum off (VACUUM ANALYZE before each measurement in its stead)"
    print("\n" + "=" * 100)
    print(f"command: {command_line()}")
    print(
        f"NOISY SHARED MACHINE: {os.cpu_count()} cores shared with other work (load average "
        f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after); client, gunicorn and PostgreSQL on the "
        "same cores. Compare ratios from one run rather than absolute figures across runs."
    )
    print(
        f"server: gunicorn, {args.workers} sync workers, loyalty_site.settings.production via http_site.settings "
        f"(DEBUG off, rate limit counted in Redis {args.redis}/{args.redis_db + 1}, broker db {args.redis_db}); "
        f"{server}; otherwise default settings"
    )
    print(
        f"data: {args.members:,} members linked to the shop, {seed.rules} active earning rules; 3-line orders "
        "(2 books, a bottle of wine, a gift card), each for a random member, unique external ids"
    )
    if results["sweep"]:
        steps = ", ".join(f"{n}: {m.rate:.0f}" for n, m in results["sweep"].items())
        print(
            f"saturation sweep (orders/s by clients, best of 2 x {args.sweep_seconds:g} s): {steps} "
            f"-> {clients} clients"
        )
    print(
        f"\nat {clients} clients (closed loop, wrk), median of {args.rounds} rounds of {args.seconds:g} s (min-max); "
        "latency is closed-loop; CPU per request: gunicorn workers / PostgreSQL backends"
    )
    rows = [
        ("POST /api/v1/orders", "orders/s", rounds["intake"]),
        ("bare view, same SQL shape", "orders/s", rounds["bare"]),
        (f"pgbench TPC-B (scale {results['pgbench_scale']})", "tps", rounds["pgbench"]),
        (f"POST /orders/batch ({args.batch_size}/request)", "orders/s", rounds["batch"]),
        ("GET /api/v1/members/{id}", "req/s", rounds["members"]),
    ]
    for label, unit, measures in rows:
        if not measures:
            print(f"  {label:<34} {results['batch_note']}")
            continue
        print(f"  {label:<34} {summary(measures, unit)}")
    print(f"\nopen loop at half load, latency from each request's due time ({args.rounds} x {args.seconds:g} s):")
    for label, rate, measures in (
        ("POST /api/v1/orders", half["intake_rate"], half["intake"]),
        ("GET /api/v1/members/{id}", half["members_rate"], half["members"]),
    ):
        lat = sorted(x for m in measures for x in m.latencies)
        per_round = ", ".join(f"{m.p99_ms:.1f}" for m in measures)
        fails = sum(m.failed for m in measures)
        print(
            f"  {label:<34} {rate:6.1f}/s  p50 {percentile(lat, 50) * 1000:5.1f} ms  p99 "
            f"{percentile(lat, 99) * 1000:6.1f} ms (rounds: {per_round})  {cpu(measures)}"
            + (f"  FAILED {fails}: {measures[0].note or measures[-1].note}" if fails else "")
        )

    intake = median(m.rate for m in rounds["intake"])
    bare = median(m.rate for m in rounds["bare"])
    tps = median(m.rate for m in rounds["pgbench"])
    p99 = percentile(sorted(x for m in half["intake"] for x in m.latencies), 99) * 1000
    print("\ntargets:")
    print(
        f"  intake / bare view = {intake:.1f} / {bare:.1f} = {intake / bare:.2f}   "
        f"(target >= {TARGET_INTAKE_VS_BARE:.2f}: {verdict(intake / bare >= TARGET_INTAKE_VS_BARE)})"
    )
    per_round = [i.rate / b.rate for i, b in zip(rounds["intake"], rounds["bare"], strict=True) if b.rate]
    print(
        f"      same, per round (neighbours in time): {', '.join(f'{x:.2f}' for x in per_round)}; from CPU per "
        f"order (workers + backends), less moved by other load: {cpu_ratio(rounds['bare'], rounds['intake'])}"
    )
    print(f"  p99 at half load   = {p99:.1f} ms   (target < {TARGET_P99_MS:.0f} ms: {verdict(p99 < TARGET_P99_MS)})")
    if rounds["batch"]:
        batch = median(m.rate for m in rounds["batch"])
        print(
            f"  batch / pgbench    = {batch:.1f} / {tps:.1f} = {batch / tps:.2f}   "
            f"(target >= 1.00: {verdict(batch >= tps)})"
        )
    else:
        print(f"  batch / pgbench    = {results['batch_note']}   (pgbench {tps:.1f} tps)")
    print(f"  intake / pgbench   = {intake / tps:.2f};  bare view / pgbench = {bare / tps:.2f}")
    print(f"checks: {results['orders_check']}; gunicorn log: {errors_logged} errors ({log})")
    print(f"run time: {minutes:.1f} min")


def summary(measures: list[Measure], unit: str) -> str:
    rates = [m.rate for m in measures]
    text = f"{median(rates):7.1f} {unit:<8} ({min(rates):.1f}-{max(rates):.1f})"
    p50 = [m.p50_ms for m in measures if m.p50_ms is not None]
    p99 = [m.p99_ms for m in measures if m.p99_ms is not None]
    if p99:
        text += f"  p50 {median(p50):6.1f} ms  p99 {median(p99):6.1f} ms"
    elif p50:
        text += f"  mean latency {median(p50):5.1f} ms"
    text += f"  {cpu(measures)}"
    fails = sum(m.failed for m in measures)
    if fails:
        text += f"  FAILED {fails}: {next(m.note for m in measures if m.failed)}"
    return text


def cpu(measures: list[Measure]) -> str:
    app = [m.app_cpu_ms for m in measures if m.app_cpu_ms is not None]
    db = [m.db_cpu_ms for m in measures if m.db_cpu_ms is not None]
    return f"CPU {median(app):.1f} / {median(db):.1f} ms" if app and db else ""


def cpu_ratio(cheap: list[Measure], dear: list[Measure]) -> str:
    """CPU per request of `cheap` over that of `dear`: the throughput ratio when the CPU is the bottleneck."""
    costs = [
        median((m.app_cpu_ms or 0) + (m.db_cpu_ms or 0) for m in measures if m.app_cpu_ms is not None)
        for measures in (cheap, dear)
    ]
    return f"{costs[0]:.1f} / {costs[1]:.1f} ms = {costs[0] / costs[1]:.2f}" if all(costs) else "n/a"


def failures(m: Measure) -> str:
    return f" ({m.failed} FAILED: {m.note[:160]})" if m.failed else ""


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else 0.0


def percentile(ordered: list[float], p: float) -> float:
    """The p-th percentile of an ordered list (nearest rank); 0 for an empty list."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


if __name__ == "__main__":
    main()
