"""Reads of tiers and members' tier history: the tiers and their perks, a member's tier status (progress to
the next tier and what keeps the current one) and their tier history."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from rewards.models import PointsAccount, Tier, TierChange
from rewards.services.tiers import (
    TiersConfig,
    _groups,
    _has_previous,
    _values_select,
    tiers_config,
    window_bounds,
)

ZERO = Decimal(0)


@dataclass(frozen=True)
class TierPerks:
    earning_multiplier: Decimal
    birthday_bonus_points: int
    free_shipping: bool
    early_access: bool
    can_gift: bool

    @classmethod
    def of(cls, tier: Tier) -> "TierPerks":
        return cls(
            earning_multiplier=Decimal(tier.earning_multiplier),
            birthday_bonus_points=tier.birthday_bonus_points,
            free_shipping=tier.free_shipping,
            early_access=tier.early_access,
            can_gift=tier.can_gift,
        )

    def as_dict(self) -> dict:
        return {
            "earning_multiplier": str(self.earning_multiplier.normalize()),
            "birthday_bonus_points": self.birthday_bonus_points,
            "free_shipping": self.free_shipping,
            "early_access": self.early_access,
            "can_gift": self.can_gift,
        }


@dataclass(frozen=True)
class TierStatus:
    """A member's tier now, the way up and the way to keep it.

    Progress is measured in the next tier's metric over its window (the current tier's when at the top):
    `value` now, `needed` more to enter the next tier, `percent` of its threshold (0-100). Keeping: the
    current tier's `keep_threshold` (retention, else entry threshold) against `keep_value` (its metric in
    the current window); reaching it by `keep_by` (the end of the current window; None for lifetime and
    rolling windows, which are judged every night) keeps the tier through the next window. `kept`: whether
    the member keeps it today; `kept_until`: the date the tier lasts at least (None: no end in sight, or the
    tier never goes down). `held_until`/`held_reason`: a staff override ("staff"), paid membership ("paid")
    or gift ("gift") that holds the tier whatever the metric says."""

    tier: Tier | None
    next_tier: Tier | None
    metric: str
    window: str
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    value: Decimal
    needed: Decimal | None
    percent: int
    keep_threshold: Decimal | None
    keep_value: Decimal | None
    keep_by: dt.datetime | None
    kept: bool
    kept_until: dt.datetime | None
    held_until: dt.datetime | None
    held_reason: str
    perks: TierPerks | None
    currency: str = ""  # the program's currency when the metric is money


def tiers_list() -> list[Tier]:
    """Every tier, lowest rank first, for a "tiers and perks" page (perks: TierPerks.of(tier)); one query
    at most (the cached tiers)."""
    return list(tiers_config().tiers)


def tier_of_account(*, account: PointsAccount | None) -> Tier | None:
    """The account's tier now (the lowest tier while not evaluated yet); no query beyond the cached tiers."""
    return tiers_config().tier_of(account)


def tier_history(*, account: PointsAccount) -> QuerySet[TierChange]:
    """The member's tier changes, newest first, with the tiers and the staff user."""
    return (
        TierChange.objects.filter(account=account)
        .select_related("from_tier", "to_tier", "actor_user")
        .order_by("-at", "-id")
    )


def _as_datetime(value) -> dt.datetime | None:
    """A datetime column read by raw SQL: aware already (PostgreSQL), or UTC text (SQLite)."""
    if value is None:
        return None
    parsed = value if isinstance(value, dt.datetime) else parse_datetime(str(value))
    return parsed if parsed is None or parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _decimal(value) -> Decimal:
    return Decimal(str(value or 0))


def tier_status(*, account: PointsAccount, at: dt.datetime | None = None, config: TiersConfig | None = None):
    """The member's TierStatus at `at` (default now), or None when the program has no tiers. One query for
    the metrics and the member's holds (plus the cached tiers)."""
    config = config or tiers_config()
    if not config.tiers:
        return None
    at = at or timezone.now()
    tier = config.tier_of(account)
    next_tier = config.next_above(tier)
    measured = next_tier or tier
    groups = _groups([t for t in (measured, tier) if t is not None])
    joined_at = None
    if any(window == Tier.Window.MEMBERSHIP_YEAR for _m, window in groups):
        joined_at = account.member.joined_at
    sql, params, _cols = _values_select(config, groups, at=at, account_ids=[account.pk], member_ids=[account.member_id])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({sql}) s", params)
        names = [c[0] for c in cursor.description]
        row = cursor.fetchone()
    values = dict(zip(names, row, strict=True)) if row else {}

    def value_of(t: Tier, previous: bool = False) -> Decimal:
        i = groups.index((t.metric, t.window))
        return _decimal(values.get(f"v{i}{'p' if previous else 'c'}"))

    start, end, _prev = window_bounds(window=measured.window, at=at, time_zone=config.time_zone, joined_at=joined_at)
    value = value_of(measured)
    needed, percent = None, 100
    if next_tier is not None:
        threshold = Decimal(next_tier.entry_threshold)
        needed = max(ZERO, threshold - value)
        percent = 100 if threshold <= 0 else min(100, int(value * 100 / threshold))

    keep_threshold = keep_value = keep_by = kept_until = None
    kept = True
    if tier is not None:
        keep_threshold = Decimal(tier.keep_threshold)
        keep_value = value_of(tier)
        t_start, t_end, _ = window_bounds(window=tier.window, at=at, time_zone=config.time_zone, joined_at=joined_at)
        kept_now = keep_value >= keep_threshold
        kept_before = _has_previous(tier.window) and value_of(tier, previous=True) >= keep_threshold
        kept = kept_now or kept_before or tier.rank == config.base.rank
        if tier.downgrade_policy != Tier.Downgrade.NEVER and tier.rank != config.base.rank:
            if _has_previous(tier.window):
                keep_by = t_end
                # Kept on this window's figures: through the next window; on the last one's: to this one's end.
                kept_until = _next_window_end(tier, t_end, config, joined_at) if kept_now else t_end
            if tier.downgrade_policy == Tier.Downgrade.GRACE and kept_until is not None:
                kept_until += dt.timedelta(days=tier.grace_days)

    held_until, held_reason = None, ""
    override_until = _as_datetime(values.get("override_until"))
    floor_until = _as_datetime(values.get("floor_until"))
    if values.get("override_tier_id") and override_until and override_until > at:
        held_until, held_reason = override_until, "staff"
    elif values.get("floor_tier_id") and (floor_until is None or floor_until > at):
        floor = config.by_id.get(values["floor_tier_id"])
        if floor is not None and tier is not None and floor.pk == tier.pk:
            held_until = floor_until
            held_reason = values.get("floor_reason") or "paid"
    return TierStatus(
        tier=tier,
        next_tier=next_tier,
        metric=measured.metric,
        window=measured.window,
        window_start=start,
        window_end=end,
        value=value,
        needed=needed,
        percent=percent,
        keep_threshold=keep_threshold,
        keep_value=keep_value,
        keep_by=keep_by,
        kept=kept,
        kept_until=kept_until,
        held_until=held_until,
        held_reason=held_reason,
        perks=TierPerks.of(tier) if tier is not None else None,
        currency=config.currency if measured.metric == Tier.Metric.SPEND else "",
    )


def _next_window_end(tier: Tier, end: dt.datetime, config: TiersConfig, joined_at) -> dt.datetime:
    _start, next_end, _prev = window_bounds(
        window=tier.window, at=end + dt.timedelta(days=1), time_zone=config.time_zone, joined_at=joined_at
    )
    return next_end
