"""A member's rewards over HTTP under load: GET /api/v1/rewards?member_id= and the member's rewards page.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/rewards_reads.py

The house way of bench/http_intake.py, whose pieces it reuses (seed_shop, Gunicorn, wrk, open_loop, Measure):
one gunicorn (--workers sync workers, loyalty_site.settings.production through bench/http_site/settings.py:
DEBUG off, persistent connections, the API rate limit counted in Redis) on a scratch database, bench_rewards.

Data: the shop and --members customers as http_intake.py makes them, three tiers (made with the admin's
form), a catalogue of 30 rewards of every kind (the admin's form too: some for a tier or a segment, some with
stock, some with a per-member limit, one sold out, one not active yet), points earned on orders
(rewards.services.ledger.points_earn: some members short of everything, a few rich), tiers set by the
nightly tiers_recalculate, and redemptions through reward_redeem so that limits and stock count. Every
member is signed in: a session per member (made in-process with the server's secret key, as a login would).

For each of the two reads:
1. queries per request, counted once in-process (CaptureQueriesContext) for members in different situations
   and again with the catalogue doubled: the same count means no query per reward (no N+1);
2. a saturation sweep over --sweep client counts (wrk, closed loop; up, then down, the better of the two);
3. --rounds rounds of --seconds at the saturating count (the smallest within 5 % of the best): requests/s,
   p50/p99, CPU per request of the gunicorn workers and of PostgreSQL's backends;
4. open loop (bench/http_site/loadgen.py) at half the median saturated rate: p50/p99 from each request's due
   time.
The two reads alternate within every step, so the machine's other load falls on both alike.

The page is the URL named --page (members:rewards); when the project has no such URL yet, the API is
measured alone and the report says so.
"""

import argparse
import dataclasses
import datetime as dt
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from common import ROOT, command_line, setup_django
from http_intake import (
    SATURATION_SHARE,
    Gunicorn,
    Measure,
    cpu,
    failures,
    median,
    open_loop,
    percentile,
    redis_flush,
    seed_shop,
    summary,
    wrk,
)

REWARDS_PATH = "/api/v1/rewards"
QUICK = {"members": 200, "rounds": 1, "seconds": 3.0, "sweep": "2,4", "sweep_seconds": 2.0}
DEFAULTS = {"members": 2000, "rounds": 3, "seconds": 8.0, "sweep": "1,2,4,8", "sweep_seconds": 2.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK}")
    parser.add_argument("--members", type=int, help=f"members linked to the shop (default {DEFAULTS['members']})")
    parser.add_argument("--rounds", type=int, help=f"timed rounds (default {DEFAULTS['rounds']})")
    parser.add_argument("--seconds", type=float, help=f"seconds per measurement (default {DEFAULTS['seconds']:g})")
    parser.add_argument("--sweep", help=f"client counts to find saturation (default {DEFAULTS['sweep']})")
    parser.add_argument("--sweep-seconds", type=float, help=f"seconds per sweep step ({DEFAULTS['sweep_seconds']:g})")
    parser.add_argument("--clients", type=int, help="skip the sweep and run both reads at this client count")
    parser.add_argument("--page", default="members:rewards", help="URL name of the member's rewards page")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--database", default="bench_rewards", help="scratch database (default bench_rewards)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis server (default 127.0.0.1:6379)")
    parser.add_argument("--redis-db", type=int, default=13, help="broker db; the cache uses the next (default 13)")
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    sweep = sorted({int(n) for n in args.sweep.split(",")})
    if min(args.members, args.rounds, args.workers, *sweep) < 1 or args.seconds <= 0:
        parser.error("every number must be at least 1")

    began = time.perf_counter()
    load_before = os.getloadavg()
    setup_django(args.database)
    print(f"migrated in {time.perf_counter() - began:.0f} s", flush=True)
    directory = Path(tempfile.mkdtemp(prefix="bench_rewards_"))
    seed = stage("shop and members", seed_shop, members=args.members, directory=directory)
    catalogue = stage("tiers and catalogue", catalogue_seed, shop_pk=seed.shop_pk)
    points = stage("points", points_seed, rng=random.Random(4))
    tiers = stage("tiers_recalculate", tiers_seed)
    redemptions = stage("redemptions", redemptions_seed, rng=random.Random(5))
    mix = stage("what members see", options_mix, shop_pk=seed.shop_pk, rng=random.Random(6))
    print(
        f"migrated and seeded in {time.perf_counter() - began:.0f} s: {args.members:,} members, {catalogue} rewards, "
        f"{points:,} points earned; tiers {tiers}; {redemptions}; {mix}",
        flush=True,
    )
    page_path, page_note = page_url(args.page)
    if page_path:
        static_collect(directory / "static", redis=f"{args.redis}/{args.redis_db}")
    secret_key = secrets.token_urlsafe(40)  # the server's: the sessions are signed with it
    sessions = stage("sessions", sessions_seed, secret_key=secret_key, directory=directory)
    server = Gunicorn(
        # One file for both reads: "session_key member_uuid" (wrk.lua's and loadgen.py's page and rewards kinds).
        seed=dataclasses.replace(seed, members_file=sessions),
        workers=args.workers,
        broker=f"{args.redis}/{args.redis_db}",
        cache=f"{args.redis}/{args.redis_db + 1}",
        secret_key=secret_key,
    )
    reads = [Read("api", "rewards", REWARDS_PATH, "GET /api/v1/rewards?member_id=")]
    if page_path:
        reads.append(Read("page", "page", page_path, f"GET {page_path} (signed in)"))
    queries = stage("queries per request", queries_count, key=seed.key, page_path=page_path, shop_pk=seed.shop_pk)
    for read in reads:
        read.queries = queries[read.name]
    redis_flush(args.redis, args.redis_db, args.redis_db + 1)
    try:
        server.start()
        print(f"gunicorn: {args.workers} sync workers on 127.0.0.1:{server.port} (log: {server.log})", flush=True)
        run(args, server=server, reads=reads, sweep=sweep)
    finally:
        server.stop()
        redis_flush(args.redis, args.redis_db, args.redis_db + 1)
    report(
        args,
        reads,
        seeded={"catalogue": catalogue, "points": points, "tiers": tiers, "redemptions": redemptions, "mix": mix},
        page_note=page_note,
        load_before=load_before,
        errors_logged=server.errors_logged(),
        log=server.log,
        minutes=(time.perf_counter() - began) / 60,
    )


def stage(label: str, function, **kwargs):
    """function(**kwargs), printing how long it took."""
    started = time.perf_counter()
    result = function(**kwargs)
    print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)
    return result


# --- data ---------------------------------------------------------------------------------------------

# Three tiers by points earned on orders over the membership's lifetime, never downgraded.
TIERS = [("Bronze", 0, "0"), ("Silver", 1, "2000"), ("Gold", 2, "6000")]

# (kind, title, points, other fields of the admin's form). "tier" names a minimum tier, "segment" the
# segment of Silver and Gold members; limits as (count, period).
REWARDS = [
    ("fixed_amount", "5.00 off", 500, {"value": "5.00", "coupon_valid_days": "90"}),
    ("fixed_amount", "10.00 off", 1000, {"value": "10.00", "coupon_valid_days": "90"}),
    ("fixed_amount", "20.00 off orders from 50.00", 2000, {"value": "20.00", "min_order": "50.00"}),
    ("fixed_amount", "50.00 off", 5000, {"value": "50.00", "tier": "Silver"}),
    ("fixed_amount", "100.00 off", 10000, {"value": "100.00", "tier": "Gold"}),
    ("percentage", "10% off (up to 20.00)", 800, {"value": "10", "max_discount": "20.00"}),
    ("percentage", "15% off (up to 30.00)", 1500, {"value": "15", "max_discount": "30.00"}),
    ("percentage", "25% off (up to 50.00)", 4000, {"value": "25", "max_discount": "50.00", "tier": "Gold"}),
    ("free_shipping", "Free shipping", 300, {}),
    ("free_shipping", "Free express shipping", 600, {"limit": (1, "month")}),
    ("free_product", "A free mug", 800, {"sku": "MUG", "stock_total": "200"}),
    ("free_product", "A free tote bag", 1200, {"sku": "TOTE", "stock_total": "100"}),
    ("free_product", "A free paperback", 2500, {"sku": "BOOK-FREE"}),
    ("free_product", "A bottle of red", 3000, {"sku": "WINE-RED-75", "limit": (1, "year")}),
    ("free_product", "The gold gift box", 8000, {"sku": "GIFTBOX", "stock_total": "20", "tier": "Gold"}),
    ("store_credit", "5.00 store credit", 600, {"value": "5.00"}),
    ("store_credit", "25.00 store credit", 2800, {"value": "25.00"}),
    ("store_credit", "100.00 store credit", 10000, {"value": "100.00", "tier": "Silver"}),
    ("pay_with_points", "Pay with points", 0, {"points_per_unit": "100", "min_points": "500", "max_points": "5000"}),
    ("donation", "Give to the food bank", 500, {"cause": "Food bank"}),
    ("donation", "Plant ten trees", 1000, {"cause": "Reforestation"}),
    ("perk", "Coffee on us", 150, {"limit": (1, "week")}),
    ("perk", "Birthday treat", 200, {"limit": (1, "year")}),
    ("perk", "Members' day pass", 400, {"limit": (2, "month")}),
    ("perk", "Book-binding workshop", 1000, {"stock_total": "5"}),
    ("perk", "Early access to the sale", 1500, {"tier": "Silver", "limit": (1, "ever")}),
    ("perk", "Tasting evening", 2000, {"segment": True}),
    ("perk", "Launch party invitation", 3000, {"tier": "Gold", "stock_total": "50", "limit": (1, "ever")}),
    ("perk", "Personal styling session", 5000, {"tier": "Silver", "stock_total": "30"}),
    ("perk", "Winter collection preview", 700, {"active_from": 7}),  # visible now, redeemable in a week
]


def catalogue_seed(*, shop_pk: int, suffix: str = "") -> int:
    """The tiers, causes, segment and REWARDS, each made with its admin form as staff would; returns the
    number of rewards. With `suffix`: only the rewards again, titled with it (to double the catalogue)."""
    from django.utils import timezone

    from rewards.admin.catalogue import RewardAdminForm
    from rewards.admin.tiers import TierForm
    from rewards.models import Cause, Segment, Tier
    from rewards.services.segments import segment_rules_validate

    if not suffix:
        for name, rank, threshold in TIERS:
            tier_data = {
                "name": name,
                "rank": rank,
                "colour": "#8A8A8A",
                "metric": "points",
                "entry_threshold": threshold,
                "window": "lifetime",
                "downgrade_policy": "never",
                "grace_days": "0",
                "earning_multiplier": "1",
                "birthday_bonus_points": "0",
            }
            form_save(TierForm(data=tier_data), name)
        for name in ("Food bank", "Reforestation"):
            Cause.objects.create(name=name)
        rules = [{"rule": "tier", "tiers": ["Silver", "Gold"]}]
        segment_rules_validate(rules)
        Segment.objects.create(name="Silver and Gold", rules=rules)
    tiers = {t.name: t.pk for t in Tier.objects.all()}
    causes = {c.name: c.pk for c in Cause.objects.all()}
    segment = Segment.objects.get(name="Silver and Gold").pk
    now = timezone.now()
    for position, (kind, title, points, extra) in enumerate(REWARDS):
        extra = dict(extra)
        count, period = extra.pop("limit", ("", "ever"))
        data = {
            "kind": kind,
            "title": title + suffix,
            "description": f"{title}, for {points} points." if points else "Choose how many points to use.",
            "image_url": f"https://cdn.example.com/rewards/{position}.png",
            "points": str(points),
            "position": str(position),
            "active": "on",
            "limit_per_member": str(count),
            "limit_period": period,
            "min_tier": tiers[extra.pop("tier")] if "tier" in extra else "",
            "segments": [segment] if extra.pop("segment", False) else [],
            "cause": causes[extra.pop("cause")] if "cause" in extra else "",
        }
        if days := extra.pop("active_from", None):
            data["active_from"] = (now + dt.timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
        form_save(RewardAdminForm(data={**data, **extra}), title)
    return len(REWARDS)


def form_save(form, name: str):
    if not form.is_valid():
        sys.exit(f"{name!r} was refused by its admin form: {form.errors.as_json()}")
    return form.save()


def points_seed(*, rng: random.Random) -> int:
    """Points earned on orders (one or two lots a member, points_earn): a fifth of the members below 300
    points, most between 300 and 3,000, 15 % up to 8,000, 5 % up to 15,000; returns the points earned in all."""
    from django.db import transaction

    from members.models import Member
    from rewards.models import PointLot
    from rewards.services.ledger import Actor, points_earn

    actor = Actor.shop("bench")
    total = 0
    started = time.perf_counter()
    with transaction.atomic():  # one commit; the services' own transactions become savepoints
        members = list(Member.objects.select_related("points_account").order_by("pk"))
        for i, member in enumerate(members):
            share = rng.random()
            if share < 0.2:
                wanted = rng.randint(0, 299)
            elif share < 0.8:
                wanted = rng.randint(300, 3000)
            elif share < 0.95:
                wanted = rng.randint(3000, 8000)
            else:
                wanted = rng.randint(8000, 15000)
            lots = rng.randint(1, 2)
            for lot in range(lots):
                points = wanted // lots + (wanted % lots if lot == 0 else 0)
                if points <= 0:
                    continue
                points_earn(
                    account=member.points_account,
                    points=points,
                    source=PointLot.Source.ORDER,
                    source_ref=f"seed-{i}-{lot}",
                    actor=actor,
                    idempotency_key=f"bench-seed-{i}-{lot}",
                    value=Decimal(points) / 10,
                )
                total += points
            if (i + 1) % 1000 == 0:
                print(f"  points for {i + 1:,} members ({time.perf_counter() - started:.0f} s)", flush=True)
    return total


def tiers_seed() -> str:
    """Tiers from the points earned, by the nightly job; returns the members per tier."""
    from django.db.models import Count

    from rewards.models import PointsAccount
    from rewards.services.tiers import tiers_recalculate

    tiers_recalculate()
    rows = PointsAccount.objects.values("tier__name").annotate(n=Count("pk")).order_by("tier__rank")
    return ", ".join(f"{row['tier__name'] or 'none'} {row['n']:,}" for row in rows)


# (reward title, share of the members who can redeem it that do, times each)
REDEEMED = [
    ("Book-binding workshop", 1.0, 1),  # its 5 units go to the first 5: sold out
    ("Coffee on us", 0.05, 1),
    ("Birthday treat", 0.03, 1),
    ("Members' day pass", 0.03, 2),
    ("A free mug", 0.02, 1),
    ("Early access to the sale", 0.05, 1),
]


def redemptions_seed(*, rng: random.Random) -> str:
    """Redemptions through reward_redeem (web) by a share of the members who have the points and the tier for
    them, so that per-member limits and stock count."""
    from django.db import transaction

    from core.exceptions import ApplicationError
    from members.models import Member
    from rewards.models import Redemption, Reward
    from rewards.services.redemptions import reward_redeem

    members = list(Member.objects.select_related("points_account__tier").order_by("pk"))
    refused = 0
    with transaction.atomic():
        for title, share, times in REDEEMED:
            reward = Reward.objects.select_related("min_tier").get(title=title)
            issued = 0
            for member in members:
                if reward.stock_total is not None and issued >= reward.stock_total:
                    break  # sold out
                account = member.points_account
                if account.available < reward.points * times or rng.random() >= share:
                    continue
                if reward.min_tier and (account.tier is None or account.tier.rank < reward.min_tier.rank):
                    continue
                for n in range(times):
                    try:
                        reward_redeem(
                            member=member, reward=reward, idempotency_key=f"bench-{reward.pk}-{n}", channel="web"
                        )
                        issued += 1
                    except ApplicationError:
                        refused += 1  # the limit reached: as the member would be told
    done = Redemption.objects.count()
    members_with = Redemption.objects.values("member").distinct().count()
    return f"{done:,} redemptions by {members_with:,} members ({refused:,} refused: a limit reached)"


def options_mix(*, shop_pk: int, rng: random.Random, sample: int = 100) -> str:
    """What a member sees at the shop, over a sample of members: medians of the rewards redeemable now, short
    of points, and refused for another reason (tier, stock, limit, not active yet)."""
    from collections import Counter

    from integrations.models import Shop
    from members.models import Member
    from rewards.selectors.catalogue import rewards_for_member

    shop = Shop.objects.get(pk=shop_pk)
    members = list(Member.objects.order_by("pk"))
    rows = []
    for member in rng.sample(members, min(sample, len(members))):
        options = rewards_for_member(member=member, shop=shop)
        codes = Counter("available" if o.refusal is None else o.refusal.code for o in options)
        available, short = codes["available"], codes["insufficient_points"]
        rows.append((len(options), available, short, len(options) - available - short))
    shown, available, short, other = (median(row[i] for row in rows) for i in range(4))
    return (
        f"medians over {len(rows)} members: {shown:g} rewards shown, {available:g} redeemable now, {short:g} short "
        f"of points, {other:g} refused otherwise (tier, stock, limit, not active yet)"
    )


def sessions_seed(*, secret_key: str, directory: Path) -> Path:
    """A signed-in session for every member, as a login makes it (user id, backend, the password hash's HMAC),
    signed with the server's secret key; writes "session_key member_uuid" lines to a file."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.test.utils import override_settings
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from members.models import Member

    backend = "django.contrib.auth.backends.ModelBackend"
    expires = timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    sessions, lines = [], []
    with override_settings(SECRET_KEY=secret_key):
        store = SessionStore()
        for member in Member.objects.select_related("user").order_by("pk"):
            data = {
                SESSION_KEY: str(member.user.pk),
                BACKEND_SESSION_KEY: backend,
                HASH_SESSION_KEY: member.user.get_session_auth_hash(),
            }
            key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
            sessions.append(Session(session_key=key, session_data=store.encode(data), expire_date=expires))
            lines.append(f"{key} {member.public_id}\n")
    Session.objects.bulk_create(sessions, batch_size=1000)
    path = directory / "sessions.txt"
    path.write_text("".join(lines))
    return path


def page_url(name: str) -> tuple[str, str]:
    """The page's path, or "" and why not."""
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(name), ""
    except NoReverseMatch:
        return "", f"the member's rewards page is not in the project yet (no URL named {name!r}): the API alone"


def static_collect(root: Path, *, redis: str) -> None:
    """collectstatic with production's storage (the manifest the pages' {% static %} tags read), as a deploy
    does, into a directory of the bench's own (BENCH_STATIC_ROOT, read by http_site/settings.py)."""
    os.environ["BENCH_STATIC_ROOT"] = str(root)  # gunicorn inherits it
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "http_site.settings",
        "DJANGO_SECRET_KEY": "collectstatic-only",
        "DJANGO_ALLOWED_HOSTS": "localhost",
        "CELERY_BROKER_URL": redis,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}",
    }
    command = [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "--verbosity", "0"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode:
        sys.exit(f"collectstatic failed ({done.returncode}):\n{done.stderr}")
    print(f"collectstatic (production's manifest storage): {time.perf_counter() - started:.0f} s", flush=True)


# --- queries per request ------------------------------------------------------------------------------


def queries_count(*, key: str, page_path: str, shop_pk: int) -> dict[str, dict[str, int]]:
    """Queries per request of each read, in-process (after one request to warm this process's caches; the
    fewest of the next three), for the member with the fewest points, one with redemptions, and the richest
    (Gold); then for that last one with the catalogue doubled (rolled back). {read: {situation: queries}}."""
    from django.db import connection, transaction
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from members.models import Member

    by_points = Member.objects.select_related("user", "points_account").order_by("points_account__available")
    situations = {
        "fewest points": by_points.first(),
        "with redemptions": Member.objects.select_related("user")
        .annotate(n=Count("redemptions"))
        .filter(n__gt=0)
        .order_by("-n", "pk")
        .first(),
        "richest (Gold)": by_points.last(),
    }

    def count(read: str, member) -> int:
        client = Client(HTTP_HOST="localhost")
        if read == "api":
            path, headers = f"{REWARDS_PATH}?member_id={member.public_id}", {"HTTP_X_API_KEY": key}
        else:
            client.force_login(member.user)
            path, headers = page_path, {}
        first = client.get(path, **headers)
        if first.status_code != 200:
            sys.exit(f"in-process GET {path} answered {first.status_code}: {first.content[:300]!r}")
        counts = []
        for _ in range(3):  # the fewest of three: a request that reloads an expired per-process cache has one more
            with CaptureQueriesContext(connection) as captured:
                client.get(path, **headers)
            counts.append(len(captured))
        return min(counts)

    counts: dict[str, dict[str, int]] = {}
    for read in ("api", "page") if page_path else ("api",):
        counts[read] = {name: count(read, member) for name, member in situations.items() if member is not None}
    with transaction.atomic():
        doubled = catalogue_seed(shop_pk=shop_pk, suffix=" (again)") * 2
        for read in counts:
            counts[read][f"richest, {doubled} rewards"] = count(read, situations["richest (Gold)"])
        transaction.set_rollback(True)
    return counts


# --- the run ------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Read:
    name: str  # api or page
    kind: str  # wrk.lua's mode and loadgen.py's kind
    path: str
    label: str
    queries: dict[str, int] = dataclasses.field(default_factory=dict)
    sweep: dict[int, Measure] = dataclasses.field(default_factory=dict)
    clients: int = 0
    rounds: list[Measure] = dataclasses.field(default_factory=list)
    half_rate: float = 0.0
    half: list[Measure] = dataclasses.field(default_factory=list)


def run(args, *, server: Gunicorn, reads: list[Read], sweep: list[int]) -> None:
    for read in reads:
        m = wrk(server, mode=read.kind, path=read.path, clients=2, seconds=2, tag=f"warm-{read.name}")
        if m.failed or not m.ok:
            sys.exit(f"{read.label}: the warm-up failed ({m.failed} of {m.ok + m.failed}): {m.note}")
    print("warm-up: 2 s on each read", flush=True)

    if args.clients:
        for read in reads:
            read.clients = args.clients
    else:
        print(
            f"saturation sweep, {args.sweep_seconds:g} s per client count, up then down (the better of the two):",
            flush=True,
        )
        for p, n in enumerate([*sweep, *reversed(sweep)]):
            line = f"  {n:>3} clients"
            for read in reads:
                m = wrk(server, mode=read.kind, path=read.path, clients=n, seconds=args.sweep_seconds, tag=f"sw{p}")
                if n not in read.sweep or m.rate > read.sweep[n].rate:
                    read.sweep[n] = m
                line += f"   {read.name} {m.rate:7.1f}/s p99 {m.p99_ms:6.1f} ms{failures(m)}"
            print(line, flush=True)
        for read in reads:
            best = max(m.rate for m in read.sweep.values())
            read.clients = min(n for n, m in read.sweep.items() if m.rate >= SATURATION_SHARE * best)

    print(
        f"timed rounds ({args.rounds} x {args.seconds:g} s) at "
        + ", ".join(f"{read.name} {read.clients} clients" for read in reads)
        + ":",
        flush=True,
    )
    for r in range(1, args.rounds + 1):
        line = f"  round {r}"
        for read in reads:
            m = wrk(server, mode=read.kind, path=read.path, clients=read.clients, seconds=args.seconds, tag=f"r{r}")
            read.rounds.append(m)
            line += f"   {read.name} {m.rate:7.1f}/s p50 {m.p50_ms:5.1f} ms p99 {m.p99_ms:6.1f} ms{failures(m)}"
        print(line, flush=True)

    for read in reads:
        read.half_rate = median(m.rate for m in read.rounds) / 2
    print(
        "open loop at half the saturated rate ("
        + ", ".join(f"{read.name} {read.half_rate:.1f}/s" for read in reads)
        + "):",
        flush=True,
    )
    for r in range(1, args.rounds + 1):
        line = f"  round {r}"
        for read in reads:
            m = open_loop(
                server, kind=read.kind, path=read.path, rate=read.half_rate, seconds=args.seconds, tag=f"ol{r}"
            )
            read.half.append(m)
            line += f"   {read.name} p50 {m.p50_ms:5.1f} ms p99 {m.p99_ms:6.1f} ms{failures(m)}"
        print(line, flush=True)


# --- the report ---------------------------------------------------------------------------------------


def report(args, reads, *, seeded, page_note, load_before, errors_logged: int, log: Path, minutes: float) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        server = cursor.fetchone()[0].split(" on ")[0]
    print("\n" + "=" * 100)
    print(f"command: {command_line()}")
    print(
        f"NOISY SHARED MACHINE: {os.cpu_count()} cores shared with other work (load average "
        f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after); client, gunicorn and PostgreSQL on the "
        "same cores. Compare ratios from one run rather than absolute figures across runs."
    )
    print(
        f"server: gunicorn, {args.workers} sync workers, loyalty_site.settings.production via http_site.settings "
        f"(DEBUG off, rate limit counted in Redis {args.redis}/{args.redis_db + 1}); {server}, default settings"
    )
    print(
        f"data: {args.members:,} members linked to the shop, each signed in with a session; {seeded['catalogue']} "
        f"rewards; {seeded['points']:,} points earned; tiers {seeded['tiers']}; {seeded['redemptions']}; "
        "each request for a random member"
    )
    print(f"what members see: {seeded['mix']}")
    if page_note:
        print(f"NOTE: {page_note}")
    print(
        "\nqueries per request (in-process, CaptureQueriesContext, after one warm-up request, the fewest of three; "
        "a process reloading its configuration cache, once per CONFIG_CACHE_SECONDS, makes one more):"
    )
    for read in reads:
        print(f"  {read.label:<40} " + ", ".join(f"{name}: {n}" for name, n in read.queries.items()))
    if any(read.sweep for read in reads):
        print(f"\nsaturation sweep (requests/s by clients, closed loop, best of 2 x {args.sweep_seconds:g} s):")
        for read in reads:
            steps = ", ".join(f"{n}: {m.rate:.0f}" for n, m in read.sweep.items())
            print(f"  {read.label:<40} {steps} -> {read.clients} clients")
    print(
        f"\nat saturation (closed loop, wrk), median of {args.rounds} rounds of {args.seconds:g} s (min-max); "
        "CPU per request: gunicorn workers / PostgreSQL backends"
    )
    for read in reads:
        print(f"  {read.label:<40} {read.clients:>2} clients {summary(read.rounds, 'req/s')}")
    print(
        f"\nopen loop at half the saturated rate, latency from each request's due time ({args.rounds} x "
        f"{args.seconds:g} s):"
    )
    for read in reads:
        lat = sorted(x for m in read.half for x in m.latencies)
        per_round = ", ".join(f"{m.p99_ms:.1f}" for m in read.half)
        fails = sum(m.failed for m in read.half)
        print(
            f"  {read.label:<40} {read.half_rate:6.1f}/s  p50 {percentile(lat, 50) * 1000:5.1f} ms  p99 "
            f"{percentile(lat, 99) * 1000:6.1f} ms (rounds: {per_round})  "
            + cpu(read.half)
            + (f"  FAILED {fails}: {next(m.note for m in read.half if m.failed)}" if fails else "")
        )
    print(f"checks: gunicorn log: {errors_logged} errors ({log})")
    print(f"run time: {minutes:.1f} min")


if __name__ == "__main__":
    main()
