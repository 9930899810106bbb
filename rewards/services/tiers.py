"""Tiers: qualification, moving up on an order, the nightly re-evaluation, staff overrides and history.

How a member's tier is decided (docs/tiers.md explains it to merchants):
- Each tier has a metric (points earned on orders, amount spent, number of orders), a window (lifetime,
  calendar year, rolling 12 months, membership year) and an entry threshold. A member *enters* a tier when
  the metric over the tier's current window is at least the threshold (exactly at it counts).
- A member *keeps* a tier while the metric is at least its retention threshold (default: the entry
  threshold) over the current window or, for the yearly windows, over the previous one: a tier reached
  in 2026 lasts through 2027, as "at the end of the window" means.
- Orders move members up at once (tiers_orders_earned), never down. The nightly job (tiers_recalculate)
  moves up and down: down only when the current tier is no longer kept, under its downgrade policy (never;
  at the end of the window; or after a grace period of N days from when it was first found not kept), to
  the best lower tier the member enters or keeps.
- A staff override (tier_set) fixes the tier until its end; a paid membership or a gift is a floor (at
  least that tier) until its end. Afterwards the nightly job re-evaluates.
- PointsAccount.tier NULL means "not evaluated yet" and counts as the lowest tier; the member's first
  earning order or the next nightly run sets it (lazily: sign-up is not touched).

The nightly job is set-based: one statement computes every account's tier into a temporary table (the
metrics aggregated with GROUP BY per member, the decision as CASE expressions built from the tiers), then
each chunk of accounts is applied in its own transaction with one INSERT ... SELECT of TierChange rows and
one UPDATE of the accounts. Portable SQL: PostgreSQL and SQLite (3.33+).
"""

import calendar
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    IntegerField,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import ExtractDay, ExtractMonth, ExtractYear
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from core.db import sql_update_from_values, sql_value
from core.exceptions import ApplicationError
from core.process_cache import ProcessCache
from core.timeutils import add_months
from rewards.models import PointLot, PointsAccount, Program, Tier, TierChange, TierHold
from rewards.services.earning import Multiplier
from rewards.services.store_credit import store_credit_add

logger = logging.getLogger(__name__)

ONE = Decimal(1)
Reason = TierChange.Reason
GIFT_MONTHS = 12  # how long a gifted tier lasts
GIFT_EVERY_DAYS = 365  # a member may give one tier per this many days


# --- configuration -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TiersConfig:
    """The tiers (lowest rank first) and the program settings their windows need; shared, read-only."""

    tiers: tuple[Tier, ...]
    time_zone: str = "UTC"
    currency: str = "EUR"
    rounding: str = "down"  # the program's rounding, for the points a multiplier adds
    by_id: dict = field(default_factory=dict)
    by_sku: dict = field(default_factory=dict)
    multipliers: dict = field(default_factory=dict)  # tier pk -> tier_multipliers' answer, made once per load

    @property
    def base(self) -> Tier | None:
        return self.tiers[0] if self.tiers else None

    def tier_of(self, account) -> Tier | None:
        """The account's tier now; an account not evaluated yet is in the lowest tier."""
        if account is None:
            return None
        return self.by_id.get(account.tier_id) or self.base

    def next_above(self, tier: Tier | None) -> Tier | None:
        for t in self.tiers:
            if tier is None or t.rank > tier.rank:
                return t
        return None


def _config_load() -> TiersConfig:
    # One query: the tiers with the program's time zone and currency beside them (no tiers: no row needed).
    program = Program.objects.filter(pk=1)
    tiers = tuple(
        Tier.objects.annotate(
            program_tz=Subquery(program.values("time_zone")[:1]),
            program_currency=Subquery(program.values("currency")[:1]),
            program_rounding=Subquery(program.values("rounding")[:1]),
        ).order_by("rank")
    )
    first = tiers[0] if tiers else None
    rounding = (first and first.program_rounding) or "down"
    return TiersConfig(
        tiers=tiers,
        time_zone=(first and first.program_tz) or "UTC",
        currency=((first and first.program_currency) or "EUR").upper(),
        rounding=rounding,
        by_id={t.pk: t for t in tiers},
        by_sku={t.membership_sku.strip().casefold(): t for t in tiers if t.membership_sku.strip()},
        multipliers={t.pk: _tier_multiplier(t, rounding) for t in tiers},
    )


# Every order reads them; staff change them rarely (as the earning rules: core.process_cache).
_tiers_cache = ProcessCache("tiers")
for _model in (Tier, Program):
    post_save.connect(_tiers_cache.invalidate, sender=_model, dispatch_uid=f"tiers_cache_save_{_model.__name__}")
    post_delete.connect(_tiers_cache.invalidate, sender=_model, dispatch_uid=f"tiers_cache_delete_{_model.__name__}")


def tiers_config() -> TiersConfig:
    """The tiers and the program's time zone and currency (one query, or none while this process's copy is
    fresh)."""
    return _tiers_cache.get("all", _config_load)


def tier_boosts_config() -> TiersConfig:
    """What order_boosts needs of the tiers, loaded once per request or batch."""
    return tiers_config()


def tier_multipliers(config: TiersConfig | None, *, account, at: dt.datetime) -> tuple[Multiplier, ...]:
    """The earning multiplier of the tier `account` holds at `at` (no query); none when it is 1."""
    if config is None or account is None:
        return ()
    setattr(account, _CONFIG_ATTR, config)
    tier = config.tier_of(account)
    if tier is None:
        return ()
    # Made when the config was loaded (every order of a tier asks for the same), else now.
    found = config.multipliers.get(tier.pk)
    return _tier_multiplier(tier, config.rounding) if found is None else found


def _tier_multiplier(tier: Tier, rounding: str) -> tuple[Multiplier, ...]:
    if Decimal(tier.earning_multiplier) == ONE:
        return ()
    return (
        Multiplier(
            name=tier.name,
            factor=Decimal(tier.earning_multiplier),
            source="tier",
            ref=str(tier.public_id),
            rounding=rounding,
        ),
    )


# --- windows -----------------------------------------------------------------------------------------


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


def window_bounds(*, window: str, at: dt.datetime, time_zone: str, joined_at: dt.datetime | None = None):
    """(start of the current window, its end, start of the previous window) at `at`, in the program's time
    zone. Lifetime: (None, None, None). Rolling 12 months: no previous window (it ends every day)."""
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone)
    if window == Tier.Window.LIFETIME:
        return None, None, None
    if window == Tier.Window.ROLLING_12_MONTHS:
        return add_months(at, -12), None, None
    if window == Tier.Window.CALENDAR_YEAR:
        start = _local_midnight(dt.date(local.year, 1, 1), zone)
        return (
            start,
            _local_midnight(dt.date(local.year + 1, 1, 1), zone),
            _local_midnight(dt.date(local.year - 1, 1, 1), zone),
        )
    if window == Tier.Window.MEMBERSHIP_YEAR:
        joined = (joined_at or at).astimezone(zone).date()

        def anniversary(year: int) -> dt.datetime:
            day = joined.day
            if (joined.month, day) == (2, 29) and not calendar.isleap(year):
                return _local_midnight(dt.date(year, 3, 1), zone)
            return _local_midnight(dt.date(year, joined.month, day), zone)

        year = local.year if (local.month, local.day) >= (joined.month, joined.day) else local.year - 1
        return anniversary(year), anniversary(year + 1), anniversary(year - 1)
    raise ValueError(f"unknown window {window!r}")


def _has_previous(window: str) -> bool:
    return window in (Tier.Window.CALENDAR_YEAR, Tier.Window.MEMBERSHIP_YEAR)


# --- the metrics, set-based --------------------------------------------------------------------------


def _groups(tiers: Iterable[Tier]) -> list[tuple[str, str]]:
    """The distinct (metric, window) pairs of the tiers: each is aggregated once."""
    seen: list[tuple[str, str]] = []
    for t in tiers:
        if (t.metric, t.window) not in seen:
            seen.append((t.metric, t.window))
    return seen


def _window_conditions(queryset, *, window: str, time_field: str, joined: str, at, zone: ZoneInfo, tag: str):
    """(queryset with any aliases needed, Q for the current window, Q for the previous window or None)."""
    if window == Tier.Window.MEMBERSHIP_YEAR:
        month_day = ExtractMonth(time_field, tzinfo=zone) * 100 + ExtractDay(time_field, tzinfo=zone)
        joined_md = ExtractMonth(joined, tzinfo=zone) * 100 + ExtractDay(joined, tzinfo=zone)
        local = at.astimezone(zone)
        at_md = local.month * 100 + local.day
        queryset = queryset.alias(
            **{
                f"md_{tag}": month_day,
                f"jmd_{tag}": joined_md,
            }
        ).alias(
            **{
                f"idx_{tag}": ExtractYear(time_field, tzinfo=zone)
                - Case(
                    When(Q(**{f"md_{tag}__lt": F(f"jmd_{tag}")}), then=Value(1)),
                    default=Value(0),
                    output_field=IntegerField(),
                ),
                f"atidx_{tag}": Value(local.year)
                - Case(
                    When(Q(**{f"jmd_{tag}__gt": at_md}), then=Value(1)), default=Value(0), output_field=IntegerField()
                ),
            }
        )
        cur = Q(**{f"idx_{tag}": F(f"atidx_{tag}"), f"{time_field}__lte": at})
        prev = Q(**{f"idx_{tag}": F(f"atidx_{tag}") - 1})
        return queryset, cur, prev
    start, _end, prev_start = window_bounds(window=window, at=at, time_zone=str(zone))
    upto = Q(**{f"{time_field}__lte": at})
    if start is None:
        return queryset, upto, None
    if window == Tier.Window.ROLLING_12_MONTHS:
        return queryset, Q(**{f"{time_field}__gt": start}) & upto, None
    return (
        queryset,
        Q(**{f"{time_field}__gte": start}) & upto,
        Q(**{f"{time_field}__gte": prev_start, f"{time_field}__lt": start}),
    )


def _value_columns(groups) -> list[tuple[int, str, bool]]:
    """(group index, column name, is the previous window) for every value the evaluation reads."""
    columns = []
    for i, (_metric, window) in enumerate(groups):
        columns.append((i, f"v{i}c", False))
        if _has_previous(window):
            columns.append((i, f"v{i}p", True))
    return columns


def _aggregates(config: TiersConfig, groups, *, at, account_ids=None, member_ids=None):
    """Up to three GROUP BY queries (orders, refunds, order lots), each as (sql, params, key column, columns)
    where columns maps a value column (v0c, v0p, ...) to that query's part of it."""
    from integrations.models import Order, Refund  # integrations depends on rewards, not the other way

    zone = ZoneInfo(config.time_zone)
    money = DecimalField(max_digits=20, decimal_places=2)
    orders = Order.objects.filter(status=Order.Status.AWARDED, member__isnull=False)
    refunds = Refund.objects.filter(
        order__status=Order.Status.AWARDED, order__member__isnull=False, amount__isnull=False
    )
    lots = PointLot.objects.filter(source=PointLot.Source.ORDER)
    if member_ids is not None:
        orders = orders.filter(member_id__in=member_ids)
        refunds = refunds.filter(order__member_id__in=member_ids)
    if account_ids is not None:
        lots = lots.filter(account_id__in=account_ids)
    order_sums, refund_sums, lot_sums = {}, {}, {}
    value = F("points") - F("reversed_points")
    in_currency, refund_in_currency = Q(currency=config.currency), Q(order__currency=config.currency)
    for i, (metric, window) in enumerate(groups):
        when = {"window": window, "at": at, "zone": zone}
        if metric == Tier.Metric.POINTS:
            lots, cur, prev = _window_conditions(
                lots, time_field="earned_at", joined="account__member__joined_at", tag=f"l{i}", **when
            )
            lot_sums |= _per_window(
                i, cur, prev, lambda c: Sum(Case(When(c, then=value), default=Value(0)), output_field=IntegerField())
            )
        elif metric == Tier.Metric.ORDERS:
            orders, cur, prev = _window_conditions(
                orders, time_field="placed_at", joined="member__joined_at", tag=f"o{i}", **when
            )
            order_sums |= _per_window(i, cur, prev, lambda c: Count(Case(When(c, then=Value(1)), default=None)))
        else:  # spend: the orders' totals in the program's currency, less the refunds made by amount
            orders, cur, prev = _window_conditions(
                orders, time_field="placed_at", joined="member__joined_at", tag=f"s{i}", **when
            )
            refunds, rcur, rprev = _window_conditions(
                refunds, time_field="order__placed_at", joined="order__member__joined_at", tag=f"r{i}", **when
            )
            order_sums |= _per_window(
                i,
                cur,
                prev,
                lambda c: Sum(
                    Case(When(c & in_currency, then=F("total")), default=Value(Decimal(0))), output_field=money
                ),
            )
            refund_sums |= _per_window(
                i,
                rcur,
                rprev,
                lambda c: Sum(
                    Case(When(c & refund_in_currency, then=F("amount")), default=Value(Decimal(0))), output_field=money
                ),
            )
    parts = []
    for queryset, key, sums in (
        (orders, "member_id", order_sums),
        (refunds, "order__member_id", refund_sums),
        (lots, "account_id", lot_sums),
    ):
        if not sums:
            continue
        qs = queryset.order_by().annotate(group_key=F(key)).values("group_key").annotate(**sums)
        qs = qs.values("group_key", *sums)
        sql, params = qs.query.sql_with_params()
        parts.append((sql, list(params), key, list(sums)))
    return parts


def _per_window(i: int, cur: Q, prev: Q | None, aggregate: Callable[[Q], object]) -> dict:
    """Group i's value columns (v{i}c for the current window, v{i}p for the previous one where there is one),
    each the aggregate of its window's condition."""
    return {name: aggregate(cond) for name, cond in ((f"v{i}c", cur), (f"v{i}p", prev)) if cond is not None}


def _values_select(config: TiersConfig, groups, *, at, account_ids=None, member_ids=None):
    """SQL selecting, per account: account_id, member_id, tier_id, the hold's columns and every value column
    (0 where the member has no rows). Returns (sql, params, value column names)."""
    quote = connection.ops.quote_name
    params: list = []
    joins, sources = [], {}
    for n, (sql, part_params, key, sums) in enumerate(
        _aggregates(config, groups, at=at, account_ids=account_ids, member_ids=member_ids)
    ):
        alias = f"g{n}"
        on = f"{alias}.group_key = " + ("a.id" if key == "account_id" else "a.member_id")
        joins.append(f"LEFT JOIN ({sql}) {alias} ON {on}")
        params += part_params
        for name in sums:
            sources.setdefault(name, []).append((alias, key))
    value_cols = []
    selects = []
    for _i, name, _prev in _value_columns(groups):
        terms = []
        for alias, key in sources.get(name, []):
            sign = " - " if key == "order__member_id" else " + "
            terms.append(f"{sign}COALESCE({alias}.{quote(name)}, 0)")
        expr = "0" + "".join(terms) if terms else "0"
        selects.append(f"({expr}) AS {name}")
        value_cols.append(name)
    where = ""
    if account_ids is not None:
        where = f"WHERE a.id IN ({', '.join(['%s'] * len(account_ids))})"
        where_params = list(account_ids)
    else:
        where_params = []
    sql = (
        "SELECT a.id AS account_id, a.member_id AS member_id, a.tier_id AS tier_id, "
        "h.override_tier_id AS override_tier_id, h.override_until AS override_until, "
        "h.floor_tier_id AS floor_tier_id, h.floor_until AS floor_until, h.floor_reason AS floor_reason, "
        "h.below_since AS below_since, "
        "CASE WHEN h.account_id IS NULL THEN 0 ELSE 1 END AS has_hold"
        + "".join(f", {s}" for s in selects)
        + f" FROM {PointsAccount._meta.db_table} a "
        + " ".join(joins)
        + f" LEFT JOIN {TierHold._meta.db_table} h ON h.account_id = a.id "
        + where
    )
    return sql, params + where_params, value_cols


def _num(value: Decimal) -> str:
    """A threshold as an SQL literal (it comes from a DecimalField: digits, sign and point only)."""
    return format(Decimal(value), "f")


def _met_sql(tier: Tier, groups, threshold: Decimal) -> str:
    """`threshold` met in `tier`'s current window, or in the previous one (a tier reached in 2026 is held
    through 2027, even if no order or run saw it happen in 2026)."""
    i = groups.index((tier.metric, tier.window))
    value = _num(threshold)
    if _has_previous(tier.window):
        return f"(v{i}c >= {value} OR v{i}p >= {value})"
    return f"v{i}c >= {value}"


def _entered_sql(tier: Tier, groups) -> str:
    return _met_sql(tier, groups, tier.entry_threshold)


def _kept_sql(tier: Tier, groups) -> str:
    return _met_sql(tier, groups, tier.keep_threshold)


def _rank_of_sql(column: str, tiers: Sequence[Tier], default: str) -> str:
    whens = " ".join(f"WHEN {t.pk} THEN {t.rank}" for t in tiers)
    return f"CASE {column} {whens} ELSE {default} END"


# --- moving up on orders -----------------------------------------------------------------------------


def tiers_orders_earned(earned: Sequence) -> None:
    """Inside the orders' transaction, after their points are in the ledger: the members of those orders
    move up at once if they now enter a higher tier (never down), and order lines with a tier's membership
    SKU grant that tier until the end of its period (renewal extends from the current end). A constant
    number of queries for a whole batch: one computes the members' metrics, then the writes if any."""
    if not earned:
        return
    accounts: dict[int, PointsAccount] = {}
    for e in earned:
        account = e.member.points_account
        accounts[account.pk] = account
    config = _config_of(accounts.values())
    if not config.tiers:
        return
    at = timezone.now()
    grants = _membership_grants(config, earned)
    holds = {h.account_id: h for h in TierHold.objects.filter(account_id__in=list(grants))} if grants else {}
    created = {account_id for account_id in grants if account_id not in holds}

    groups = _groups(config.tiers)
    sql, params, _cols = _values_select(
        config,
        groups,
        at=at,
        account_ids=sorted(accounts),
        member_ids=sorted({a.member_id for a in accounts.values()}),
    )
    up = " ".join(f"WHEN {_entered_sql(t, groups)} THEN {t.pk}" for t in reversed(config.tiers))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.account_id, s.tier_id, CASE {up} ELSE {config.base.pk} END, "
            "CASE WHEN s.override_tier_id IS NOT NULL AND s.override_until > %s THEN 1 ELSE 0 END "
            f"FROM ({sql}) s",
            [sql_value(at), *params],
        )
        rows = cursor.fetchall()

    changes = []
    for account_id, tier_id, up_id, overridden in rows:
        current = config.by_id.get(tier_id)
        grant = grants.get(account_id)
        hold = holds.get(account_id)
        if grant is not None:
            hold = holds[account_id] = _hold_apply_grant(config, hold, account_id=account_id, grant=grant, at=at)
        target, reason, note, ends = config.by_id[up_id], Reason.ORDER, _orders_note(earned, account_id), None
        if current is not None and current.rank >= target.rank:
            target = current
        if grant is not None and grant.tier.rank > target.rank:
            target, reason, note, ends = grant.tier, Reason.PAID, grant.note, hold.floor_until
        if overridden:
            target = current or target  # staff decided this member's tier until the override ends
        if current is None or target.pk != current.pk:
            changes.append((account_id, tier_id, target.pk, reason, note, ends))
            accounts[account_id].tier_id = target.pk
        elif grant is not None:  # the membership is recorded even when the member had that tier or better
            changes.append((account_id, tier_id, tier_id, Reason.PAID, grant.note, hold.floor_until))
    if grants:
        _holds_save(list(holds.values()), created=created)
    if changes:
        _changes_write(changes, at=at)


# order_boosts hands each account to tier_multipliers with the config loaded for the request; the config
# is kept on the account object so that tiers_orders_earned, later in the same request, need not load it
# again (no module-level state: it lives and dies with the request's objects).
_CONFIG_ATTR = "_tiers_config"


def _config_of(accounts: Iterable[PointsAccount]) -> TiersConfig:
    for account in accounts:
        config = getattr(account, _CONFIG_ATTR, None)
        if config is not None:
            return config
    return tiers_config()


def _orders_note(earned, account_id: int) -> str:
    ids = [str(e.order.external_id) for e in earned if e.member.points_account.pk == account_id]
    return ("Order " + ", ".join(ids))[:500]


@dataclass
class _Grant:
    tier: Tier
    months: int | None  # None: for life
    note: str


def _membership_grants(config: TiersConfig, earned) -> dict[int, _Grant]:
    """The paid memberships bought in these orders, per account (the best tier; months of the same tier
    added up, a quantity of 2 counting twice)."""
    if not config.by_sku:
        return {}
    grants: dict[int, _Grant] = {}
    for e in earned:
        for line in e.order.lines or ():
            tier = config.by_sku.get(str(line.get("sku", "")).strip().casefold())
            if tier is None:
                continue
            try:
                quantity = max(1, int(Decimal(str(line.get("quantity") or 1))))
            except ArithmeticError:
                quantity = 1
            account_id = e.member.points_account.pk
            months = None if tier.membership_months is None else tier.membership_months * quantity
            note = f"Order {e.order.external_id} ({line.get('sku')})"[:500]
            grant = grants.get(account_id)
            if grant is None or tier.rank > grant.tier.rank:
                grants[account_id] = _Grant(tier, months, note)
            elif tier.pk == grant.tier.pk:
                grant.months = None if months is None or grant.months is None else grant.months + months
    return grants


def _hold_apply_grant(config: TiersConfig, hold: TierHold | None, *, account_id: int, grant: _Grant, at) -> TierHold:
    """Extend (same tier, from its current end) or replace (a better tier, or the old one ended) the floor."""
    if hold is None:
        hold = TierHold(account_id=account_id, floor_reason="")
    live = hold.floor_tier_id is not None and (hold.floor_until is None or hold.floor_until > at)
    old = config.by_id.get(hold.floor_tier_id)
    if live and hold.floor_tier_id == grant.tier.pk:
        if hold.floor_until is not None:
            hold.floor_until = None if grant.months is None else add_months(hold.floor_until, grant.months)
    elif not live or old is None or grant.tier.rank >= old.rank:
        hold.floor_tier_id = grant.tier.pk
        hold.floor_until = None if grant.months is None else add_months(at, grant.months)
    else:
        return hold  # a lower membership than the live one: nothing to extend
    hold.floor_reason = Reason.PAID
    return hold


def _holds_save(holds: list[TierHold], *, created: set[int]) -> None:
    new = [h for h in holds if h.account_id in created]
    old = [h for h in holds if h.account_id not in created]
    now = timezone.now()
    for h in holds:
        h.updated_at = now
    if new:
        TierHold.objects.bulk_create(new)
    if old:
        TierHold.objects.bulk_update(old, ["floor_tier", "floor_until", "floor_reason", "updated_at"])


def _changes_write(changes, *, at, actor=None) -> None:
    """Record tier changes (account, from, to, reason, note, ends_at) and set the accounts' tiers: two
    statements however many."""
    TierChange.objects.bulk_create(
        [
            TierChange(
                account_id=account_id,
                from_tier_id=from_id,
                to_tier_id=to_id,
                reason=reason,
                note=note,
                actor_user=actor,
                at=at,
                ends_at=ends,
            )
            for account_id, from_id, to_id, reason, note, ends in changes
        ]
    )
    moved = [(account_id, to_id) for account_id, from_id, to_id, *_ in changes if from_id != to_id]
    if moved:
        sql_update_from_values(
            PointsAccount._meta.db_table,
            columns=["tier_id"],
            rows=moved,
            set_sql="tier_id = v.tier_id, updated_at = %s",
            params=[sql_value(at)],
        )


# --- staff overrides and gifts -----------------------------------------------------------------------


def tier_set(*, member, tier: Tier, ends_at: dt.datetime, actor, reason: str) -> TierChange:
    """Staff set `member`'s tier by hand until `ends_at` (the nightly job leaves it alone until then, and
    re-evaluates it afterwards); recorded with the actor and the reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Give a reason for setting the tier by hand.", code="reason_required")
    now = timezone.now()
    if ends_at is None or ends_at <= now:
        raise ApplicationError("The end date must be in the future.", code="invalid_end_date")
    with transaction.atomic():
        account = PointsAccount.objects.select_for_update(no_key=True).get(member=member)
        hold, _ = TierHold.objects.select_for_update().get_or_create(account=account)
        hold.override_tier = tier
        hold.override_until = ends_at
        hold.below_since = None
        hold.save(update_fields=["override_tier", "override_until", "below_since", "updated_at"])
        change = TierChange.objects.create(
            account=account,
            from_tier_id=account.tier_id,
            to_tier=tier,
            reason=Reason.STAFF,
            note=reason[:500],
            actor_user=actor,
            at=now,
            ends_at=ends_at,
        )
        if account.tier_id != tier.pk:
            account.tier = tier
            account.save(update_fields=["tier", "updated_at"])
    return change


def tier_gift(*, giver, friend_email_or_member, tier: Tier) -> TierChange:
    """`giver` gives `tier` (lower than their own, from a tier that allows gifts) to a friend for
    GIFT_MONTHS months, once per GIFT_EVERY_DAYS days; the friend keeps a better tier they have."""
    from members.models import Member

    config = tiers_config()
    now = timezone.now()
    if isinstance(friend_email_or_member, Member):
        friend = friend_email_or_member
    else:
        email = str(friend_email_or_member or "").strip().lower()
        friend = Member.objects.filter(user__email__iexact=email).select_related("points_account").first()
        if friend is None:
            raise ApplicationError("No member has this e-mail.", code="unknown_member")
    if friend.pk == giver.pk:
        raise ApplicationError("A member cannot give a tier to themselves.", code="gift_to_self")
    if friend.status != Member.Status.ACTIVE:
        raise ApplicationError("The friend's account is not active.", code="member_not_active")
    with transaction.atomic():
        # Both accounts locked in pk order (as the ledger does), so two gifts cannot deadlock.
        locked = {
            a.member_id: a
            for a in PointsAccount.objects.select_for_update(no_key=True)
            .filter(member__in=[giver.pk, friend.pk])
            .order_by("pk")
        }
        giver_account, friend_account = locked[giver.pk], locked[friend.pk]
        giver_tier = config.by_id.get(giver_account.tier_id)
        if giver_tier is None or not giver_tier.can_gift:
            raise ApplicationError("Your tier does not allow giving a tier.", code="gift_not_allowed")
        if tier.rank >= giver_tier.rank:
            raise ApplicationError("You can give only a tier below your own.", code="gift_tier_too_high")
        giver_hold, _ = TierHold.objects.get_or_create(account=giver_account)
        if giver_hold.last_gift_at and giver_hold.last_gift_at > now - dt.timedelta(days=GIFT_EVERY_DAYS):
            raise ApplicationError(
                "You can give a tier once a year.",
                code="gift_limit_reached",
                extra={"next_gift_at": (giver_hold.last_gift_at + dt.timedelta(days=GIFT_EVERY_DAYS)).isoformat()},
            )
        giver_hold.last_gift_at = now
        giver_hold.save(update_fields=["last_gift_at", "updated_at"])
        hold, _ = TierHold.objects.get_or_create(account=friend_account)
        until = add_months(now, GIFT_MONTHS)
        live = hold.floor_tier_id is not None and (hold.floor_until is None or hold.floor_until > now)
        old = config.by_id.get(hold.floor_tier_id)
        if not live or old is None or old.rank < tier.rank:
            hold.floor_tier, hold.floor_until, hold.floor_reason = tier, until, Reason.GIFT
            hold.save(update_fields=["floor_tier", "floor_until", "floor_reason", "updated_at"])
        current = config.by_id.get(friend_account.tier_id)
        overridden = hold.override_tier_id and hold.override_until and hold.override_until > now
        to_tier = tier if (current is None or current.rank < tier.rank) and not overridden else current or tier
        change = TierChange.objects.create(
            account=friend_account,
            from_tier_id=friend_account.tier_id,
            to_tier=to_tier,
            reason=Reason.GIFT,
            note=f"Gift from member {giver.number}"[:500],
            at=now,
            ends_at=until,
        )
        if friend_account.tier_id != to_tier.pk:
            friend_account.tier = to_tier
            friend_account.save(update_fields=["tier", "updated_at"])
    return change


# --- the nightly re-evaluation -----------------------------------------------------------------------


def program_local_now() -> dt.datetime:
    """Now in the program's time zone (one query)."""
    zone = Program.objects.filter(pk=1).values_list("time_zone", flat=True).first() or "UTC"
    return timezone.now().astimezone(ZoneInfo(zone))


EVAL_TABLE = "tiers_recalc_eval"
CHUNK_SIZE = 50_000


@dataclass(frozen=True)
class RecalcResult:
    accounts: int  # accounts evaluated
    changed: int  # tiers changed (up, down or first set)
    upgraded: int
    downgraded: int
    seconds_evaluate: float
    seconds_apply: float


def tiers_recalculate(
    *, at: dt.datetime | None = None, chunk_size: int = CHUNK_SIZE, progress: Callable[[str], None] | None = None
) -> RecalcResult:
    """Re-evaluate every member's tier at `at` (default now), set-based: up to what they enter, down under
    their tier's downgrade policy, staff overrides and paid memberships respected until they end; every
    change recorded in TierChange. Idempotent: a second run at the same `at` changes nothing."""
    import time

    at = at or timezone.now()
    say = progress or (lambda _msg: None)
    config = _config_load()  # fresh, not this process's cached copy: the night's job must see today's tiers
    if not config.tiers:
        say("No tiers are defined: nothing to do.")
        return RecalcResult(0, 0, 0, 0, 0.0, 0.0)
    started = time.perf_counter()
    groups = _groups(config.tiers)
    tiers = config.tiers
    base = config.base
    sql, params, _cols = _values_select(config, groups, at=at)
    cur_rank = _rank_of_sql("tier_id", tiers, str(base.rank))
    # Ranks are unique: a rank names a tier. up: the best tier entered now; kept: the best tier at or below
    # the current one that is entered or kept; retained: whether the current tier itself is kept.
    up = "CASE " + " ".join(f"WHEN {_entered_sql(t, groups)} THEN {t.rank}" for t in reversed(tiers))
    up += f" ELSE {base.rank} END"
    kept = "CASE " + " ".join(
        f"WHEN cur_rank >= {t.rank} AND ({_entered_sql(t, groups)} OR {_kept_sql(t, groups)}) THEN {t.rank}"
        for t in reversed(tiers)
    )
    kept += f" ELSE {base.rank} END"
    policy = "CASE cur_rank " + " ".join(f"WHEN {t.rank} THEN '{t.downgrade_policy}'" for t in tiers) + " END"
    cutoff_params = [
        sql_value(at - dt.timedelta(days=t.grace_days if t.downgrade_policy == "grace" else 0)) for t in tiers
    ]
    cutoff = "CASE cur_rank " + " ".join(f"WHEN {t.rank} THEN %s" for t in tiers) + " END"
    at_param = sql_value(at)
    rank_to_id = "CASE {col} " + " ".join(f"WHEN {t.rank} THEN {t.pk}" for t in tiers) + " END"
    floor_rank = _rank_of_sql("floor_tier_id", tiers, "-1")
    override_rank = _rank_of_sql("override_tier_id", tiers, "-1")
    # 1. Each account's values and its current rank; 2. up, kept; 3. the natural rank under the policy;
    # 4. overrides and floors on top.
    statement = f"""
        CREATE TEMP TABLE {EVAL_TABLE} AS
        SELECT account_id, tier_id AS old_tier_id, has_hold, below_since AS old_below_since,
               {rank_to_id.format(col="final_rank")} AS new_tier_id,
               CASE WHEN final_rank = cur_rank AND retained = 0 AND pol <> 'never' AND override_on = 0
                         AND NOT (floor_on = 1 AND floor_rank >= cur_rank)
                    THEN COALESCE(below_since, %s) END AS new_below_since,
               CASE WHEN final_rank > cur_rank THEN 'qualified'
                    WHEN final_rank < cur_rank THEN
                        CASE WHEN override_was = 1 OR floor_was = 1 THEN 'expired' ELSE 'downgrade' END
                    ELSE 'qualified' END AS reason
        FROM (
            SELECT n.*,
                   CASE WHEN override_on = 1 THEN override_rank
                        WHEN floor_on = 1 AND floor_rank > natural_rank THEN floor_rank
                        ELSE natural_rank END AS final_rank
            FROM (
                SELECT k.*,
                       CASE WHEN up_rank >= cur_rank THEN up_rank
                            WHEN retained = 1 OR pol = 'never' THEN cur_rank
                            WHEN COALESCE(below_since, %s) <= {cutoff} THEN kept_rank
                            ELSE cur_rank END AS natural_rank
                FROM (
                    SELECT v.*, {up} AS up_rank, {kept} AS kept_rank,
                           CASE WHEN {kept} = cur_rank THEN 1 ELSE 0 END AS retained,
                           {policy} AS pol
                    FROM (
                        SELECT s.*, {cur_rank} AS cur_rank,
                               {override_rank} AS override_rank, {floor_rank} AS floor_rank,
                               CASE WHEN override_tier_id IS NOT NULL AND override_until > %s THEN 1 ELSE 0 END
                                   AS override_on,
                               CASE WHEN override_tier_id IS NOT NULL AND override_until <= %s THEN 1 ELSE 0 END
                                   AS override_was,
                               CASE WHEN floor_tier_id IS NOT NULL AND (floor_until IS NULL OR floor_until > %s)
                                    THEN 1 ELSE 0 END AS floor_on,
                               CASE WHEN floor_tier_id IS NOT NULL AND floor_until <= %s THEN 1 ELSE 0 END
                                   AS floor_was
                        FROM ({sql}) s
                    ) v
                ) k
            ) n
        ) f
    """
    all_params = [at_param, at_param, *cutoff_params, at_param, at_param, at_param, at_param, *params]
    with transaction.atomic(), connection.cursor() as cursor:
        _settings_for_bulk(cursor)
        cursor.execute(f"DROP TABLE IF EXISTS {EVAL_TABLE}")
        say("Computing every member's tier ...")
        cursor.execute(statement, all_params)
        # Each chunk below picks its accounts by id; PostgreSQL does not analyze temporary tables by itself.
        cursor.execute(f"CREATE INDEX {EVAL_TABLE}_account ON {EVAL_TABLE} (account_id)")
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {EVAL_TABLE}")
        cursor.execute(f"SELECT COUNT(*), MIN(account_id), MAX(account_id) FROM {EVAL_TABLE}")
        total, low, high = cursor.fetchone()
    evaluated = time.perf_counter() - started
    say(f"Evaluated {total:,} accounts in {evaluated:.1f} s; applying the changes ...")

    changed = upgraded = downgraded = 0
    started = time.perf_counter()
    try:
        if total:
            for start in range(low, high + 1, chunk_size):
                end = start + chunk_size - 1
                up_n, down_n = _apply_chunk(start, end, at=at, tiers=tiers)
                changed += up_n + down_n
                upgraded += up_n
                downgraded += down_n
                say(f"  accounts up to id {min(end, high):,}: {changed:,} tiers changed so far")
            with transaction.atomic():
                TierHold.objects.filter(override_until__lte=at).update(
                    override_tier=None, override_until=None, updated_at=at
                )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {EVAL_TABLE}")
    applied = time.perf_counter() - started
    say(f"Done: {changed:,} tiers changed ({upgraded:,} up or first set, {downgraded:,} down) in {applied:.1f} s.")
    return RecalcResult(total, changed, upgraded, downgraded, evaluated, applied)


def _settings_for_bulk(cursor) -> None:
    """For this transaction on PostgreSQL: no JIT (compiling the long CASE expressions took longer than
    running them: 1.0 of 1.5 s at 20,000 members, bench/tier_recalc.py) and room to group a million members
    in memory."""
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '256MB'")


def _apply_chunk(start: int, end: int, *, at, tiers: Sequence[Tier]) -> tuple[int, int]:
    """One transaction for the accounts with ids in [start, end]: lock those this changes (as an order locks
    them, so neither overwrites the other), record the tier changes (one INSERT ... SELECT), set the tiers
    (one UPDATE), keep the holds' below_since (one UPDATE, one INSERT)."""
    accounts = PointsAccount._meta.db_table
    changes = TierChange._meta.db_table
    holds = TierHold._meta.db_table
    same_old = "(a.tier_id = e.old_tier_id OR (a.tier_id IS NULL AND e.old_tier_id IS NULL))"
    differs = "(e.old_tier_id IS NULL OR e.old_tier_id <> e.new_tier_id)"
    below_changes = (
        "((e.new_below_since IS NULL) <> (e.old_below_since IS NULL) OR e.new_below_since <> e.old_below_since)"
    )
    at_param = sql_value(at)
    with transaction.atomic(), connection.cursor() as cursor:
        _settings_for_bulk(cursor)
        if connection.vendor == "postgresql":
            # An order moving one of these members up meanwhile waits, or has already moved them: the
            # `same_old` test below then leaves that member to the next run.
            cursor.execute(
                f"SELECT a.id FROM {accounts} a JOIN {EVAL_TABLE} e ON e.account_id = a.id "
                f"WHERE e.account_id BETWEEN %s AND %s AND ({differs} OR {below_changes}) "
                "ORDER BY a.id FOR NO KEY UPDATE OF a",
                [start, end],
            )
        cursor.execute(
            f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {_rank_of_sql('e.new_tier_id', tiers, '-1')} > "
            f"{_rank_of_sql('e.old_tier_id', tiers, '-1')} OR e.old_tier_id IS NULL THEN 1 ELSE 0 END), 0) "
            f"FROM {EVAL_TABLE} e JOIN {accounts} a ON a.id = e.account_id "
            f"WHERE e.account_id BETWEEN %s AND %s AND {differs} AND {same_old}",
            [start, end],
        )
        n, ups = cursor.fetchone()
        if n:
            from core.db import sql_random_uuid

            cursor.execute(
                f"INSERT INTO {changes} (public_id, created_at, account_id, from_tier_id, to_tier_id, reason, note, "
                f"at, ends_at) "
                f"SELECT {sql_random_uuid()}, %s, e.account_id, e.old_tier_id, e.new_tier_id, e.reason, "
                f"'Nightly re-evaluation', %s, NULL "
                f"FROM {EVAL_TABLE} e JOIN {accounts} a ON a.id = e.account_id "
                f"WHERE e.account_id BETWEEN %s AND %s AND {differs} AND {same_old}",
                [at_param, at_param, start, end],
            )
            cursor.execute(
                f"UPDATE {accounts} SET tier_id = e.new_tier_id, updated_at = %s FROM {EVAL_TABLE} e "
                f"WHERE e.account_id = {accounts}.id AND e.account_id BETWEEN %s AND %s AND {differs} "
                f"AND ({accounts}.tier_id = e.old_tier_id OR ({accounts}.tier_id IS NULL AND e.old_tier_id IS NULL))",
                [at_param, start, end],
            )
        # below_since: set when first found not keeping the tier, cleared otherwise.
        cursor.execute(
            f"UPDATE {holds} SET below_since = e.new_below_since, updated_at = %s FROM {EVAL_TABLE} e "
            f"WHERE e.account_id = {holds}.account_id AND e.account_id BETWEEN %s AND %s AND e.has_hold = 1 "
            f"AND {below_changes}",
            [at_param, start, end],
        )
        cursor.execute(
            f"INSERT INTO {holds} (account_id, below_since, floor_reason, updated_at) "
            f"SELECT e.account_id, e.new_below_since, '', %s FROM {EVAL_TABLE} e "
            f"WHERE e.account_id BETWEEN %s AND %s AND e.has_hold = 0 AND e.new_below_since IS NOT NULL "
            # An order may have made the member's hold (a membership) since the evaluation: keep that one.
            "ON CONFLICT (account_id) DO NOTHING",
            [at_param, start, end],
        )
    return ups, n - ups


# --- annual dividend ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dividend:
    member_id: int
    account_id: int
    tier_id: int
    spend: Decimal
    amount: Decimal


def tier_dividends_compute(*, year: int) -> list[Dividend]:
    """What each paid member of a tier with a dividend gets for `year`: dividend_percent of their qualifying
    spend that calendar year (program currency, awarded orders less refunds by amount), rounded down to the
    cent. Paid members: those whose paid membership of that tier was live at the end of the year."""
    config = _config_load()
    dividend_tiers = [t for t in config.tiers if t.dividend_percent]
    if not dividend_tiers:
        return []
    zone = ZoneInfo(config.time_zone)
    year_end = dt.datetime(year + 1, 1, 1, tzinfo=zone)
    last_moment = year_end - dt.timedelta(microseconds=1)
    holds = list(
        TierHold.objects.filter(floor_tier__in=dividend_tiers, floor_reason=Reason.PAID)
        .filter(Q(floor_until__isnull=True) | Q(floor_until__gt=last_moment))
        .select_related("account")
    )
    if not holds:
        return []
    by_account = {h.account_id: h for h in holds}
    groups = [(Tier.Metric.SPEND, Tier.Window.CALENDAR_YEAR)]
    sql, params, _ = _values_select(
        config,
        groups,
        at=last_moment,
        account_ids=sorted(by_account),
        member_ids=sorted({h.account.member_id for h in holds}),
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT s.account_id, s.member_id, s.v0c FROM ({sql}) s", params)
        rows = cursor.fetchall()
    out = []
    for account_id, member_id, spend in rows:
        spend = Decimal(str(spend or 0))
        tier = config.by_id[by_account[account_id].floor_tier_id]
        amount = (spend * Decimal(tier.dividend_percent) / 100).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
        if amount > 0:
            out.append(Dividend(member_id, account_id, tier.pk, spend, amount))
    return out


def tier_dividends_pay(*, year: int, progress: Callable[[str], None] | None = None) -> list[Dividend]:
    """Credit each dividend of `year` as store credit (idempotent per member and year)."""
    from members.models import Member

    say = progress or (lambda _msg: None)
    dividends = tier_dividends_compute(year=year)
    members = Member.objects.in_bulk([d.member_id for d in dividends])
    currency = _config_load().currency
    for n, d in enumerate(dividends, 1):
        store_credit_add(
            member=members[d.member_id],
            amount=d.amount,
            currency=currency,
            kind="dividend",
            reason=f"Annual dividend {year}: {d.amount} of {d.spend} spent",
            idempotency_key=f"tier-dividend:{year}:{d.account_id}",
            source_ref=f"dividend-{year}",
        )
        if n % 1000 == 0:
            say(f"  {n:,} dividends credited")
    say(f"{len(dividends):,} dividends credited for {year}.")
    return dividends
