"""What the ledger benchmarks share: a scratch PostgreSQL database, Django set-up, and how figures are printed.

A benchmark never writes to the database DATABASE_URL names. It takes only the server from that URL,
creates its own scratch database there afresh (the name must start with `bench_`), migrates it, and
points Django at it before `django.setup()`.
"""

import contextlib
import os
import re
import resource
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_URL = "postgres://postgres@127.0.0.1:5432/postgres"

# Tables the benchmarks fill, emptied before each run. TRUNCATE fires no row triggers, so the
# append-only triggers on entries and movements do not stand in the way (as in PostgreSQL test runs).
TABLES = [
    "rewards_pointmovement",
    "rewards_pointentry",
    "rewards_pointlot",
    "rewards_pointsaccount",
    "members_member",
    "members_user",
]

_given_url: str | None = None  # DATABASE_URL as the user gave it, for the command line we print


def setup_django(database: str, *, reuse: bool = False) -> None:
    """Create `database` afresh on DATABASE_URL's PostgreSQL server (`reuse`: keep it when it exists, with the
    rows an earlier run left), start Django on it with DEBUG off (DEBUG keeps the SQL of the last 9,000 queries
    in memory), and migrate it."""
    global _given_url
    import environ
    import psycopg
    from psycopg import sql

    environ.Env.read_env(ROOT / ".env", overwrite=False)  # the same lookup as the settings do
    _given_url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(_given_url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit(
            "The ledger benchmarks run on PostgreSQL only: set DATABASE_URL to a PostgreSQL server, e.g.\n"
            f"  DATABASE_URL={EXAMPLE_URL} {command_line()}\n"
            f"(DATABASE_URL is now {_given_url or 'unset'}). Only its server is used; the benchmark works in "
            "its own scratch database."
        )
    if not re.fullmatch(r"bench_[a-z0-9_]+", database):
        sys.exit(f"The scratch database's name must start with bench_ (lower case, digits, _): {database!r}")

    maintenance_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not (reuse and exists):
            # Afresh, so that nothing from an earlier run (rows, bloat, an index tried with --sql) skews this one.
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))

    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{database}"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "loyalty_site.settings.local"
    os.environ["DJANGO_DEBUG"] = "False"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        server = cursor.fetchone()[0].split(" on ")[0]
    print(f"database: {database} on {parts.hostname}:{parts.port or 5432} ({server})")


def truncate() -> None:
    """Empty the members and ledger tables of the scratch database (and what points at them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")


def vacuum_analyze(tables: Sequence[str] | None = TABLES) -> None:
    """Bring the planner's statistics up to date and set the visibility map, as autovacuum would have; of
    every table of the database when `tables` is None."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables or [""]:
            cursor.execute(f"VACUUM ANALYZE {table}")


def autovacuum_stand_in() -> None:
    """Where the server runs without autovacuum (this machine's CI configuration turns it off), VACUUM ANALYZE
    the scratch database before a measurement, as autovacuum keeps it in production and as pgbench vacuums its
    own tables before each run. Without it the statistics stay those of the empty tables analyzed after seeding:
    planned for a shop with a few hundred orders, the batch's replay lookup read all 90,000 of them (156 ms a
    batch of bench/http_intake.py instead of 2)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "off":
            vacuum_analyze(tables=None)


def command_line() -> str:
    """The command that is running, ready to paste: DATABASE_URL as given, the interpreter, the arguments."""
    python = sys.executable
    with contextlib.suppress(ValueError):  # on another drive (Windows)
        python = os.path.relpath(python)
    env = f"DATABASE_URL={shlex.quote(_given_url)} " if _given_url else ""
    return env + shlex.join([python, *sys.argv])


def backend_pid() -> int:
    """The process id of this thread's PostgreSQL backend (connecting first if need be)."""
    from django.db import connection

    connection.ensure_connection()
    return connection.connection.info.backend_pid


def server_cpu_seconds(pid: int) -> float | None:
    """CPU seconds PostgreSQL backend `pid` has used so far, or None unless the server runs on this machine.

    With the client and the server sharing the machine's cores, comparing this with the wall time shows
    how much of a figure is waiting for the CPU (other work on the machine) rather than work done."""
    if urlsplit(os.environ.get("DATABASE_URL", "")).hostname not in ("127.0.0.1", "localhost", "::1", None):
        return None
    try:
        with open(f"/proc/{pid}/comm") as comm, open(f"/proc/{pid}/stat") as stat:
            if comm.read().strip() != "postgres":
                return None
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """The process's resident memory now, in MiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Stopwatch:
    """`with Stopwatch() as watch: ...`, then `watch.seconds`."""

    def __enter__(self) -> "Stopwatch":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
