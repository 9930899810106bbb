"""Reads of the rewards catalogue, redemptions, coupons and store credit.

`reward_refusal` is the one place that says whether a member may redeem a reward now and why not: the
listing (`rewards_for_member`) and the redemption service (`reward_redeem`) both ask it, so what a member is
shown as redeemable is what redeeming accepts.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from members.models import Member
from rewards.models import (
    Cause,
    Coupon,
    PointsAccount,
    Program,
    Redemption,
    Reward,
    Segment,
    StoreCreditAccount,
    StoreCreditEntry,
)
from rewards.selectors import program_cached
from rewards.services.earning import event_period_start
from rewards.services.segments import member_segment_ids


@dataclass(frozen=True)
class Refusal:
    """Why a member cannot redeem a reward now: an ApplicationError's code, message and details."""

    code: str
    message: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RewardOption:
    """A reward as one member sees it: redeemable now (`refusal` None) or not, and why."""

    reward: Reward
    refusal: Refusal | None

    @property
    def available(self) -> bool:
        return self.refusal is None


def _window_open(start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime) -> bool:
    return (start is None or start <= now) and (end is None or now < end)


def reward_is_active(reward: Reward, *, now: dt.datetime) -> bool:
    return reward.active and _window_open(reward.active_from, reward.active_until, now)


def reward_is_visible(reward: Reward, *, now: dt.datetime) -> bool:
    return reward.active and _window_open(reward.visible_from, reward.visible_until, now)


def reward_shop_ids(reward: Reward) -> set[int]:
    """The shops the reward is limited to (empty: every shop); uses a prefetch when there is one."""
    return {shop.pk for shop in reward.shops.all()}


def period_start(reward: Reward, *, now: dt.datetime, program: Program) -> dt.datetime | None:
    """When the reward's per-member limit period that contains `now` began (program time zone); None: ever."""
    return event_period_start(period=reward.limit_period, at=now, time_zone=program.time_zone)


def reward_refusal(
    *,
    reward: Reward,
    account: PointsAccount,
    shop=None,
    now: dt.datetime,
    segment_ids: set[int],
    redeemed_in_period: int,
    points: int | None = None,
) -> Refusal | None:
    """Why `account`'s member may not redeem `reward` now (None: they may). `account` with its member and tier;
    `reward` with its shops, segments and min_tier; `redeemed_in_period`: the member's redemptions of it in
    the limit's current period; `points`: the cost (the member's choice for pay-with-points)."""
    if not reward.active or not reward_is_active(reward, now=now) or not reward_is_visible(reward, now=now):
        return Refusal("reward_inactive", "This reward cannot be redeemed now.", {})
    status = account.member.status
    if status != Member.Status.ACTIVE:
        return Refusal("member_not_active", f"The member's account is {status}.", {})
    if shop is not None and (shops := reward_shop_ids(reward)) and shop.pk not in shops:
        return Refusal("not_eligible", "This reward is not offered at this shop.", {"reason": "shop"})
    if reward.min_tier_id is not None:
        tier = account.tier
        if tier is None or tier.rank < reward.min_tier.rank:
            return Refusal(
                "not_eligible",
                f"This reward needs the {reward.min_tier.name} tier or higher.",
                {"reason": "tier", "tier": reward.min_tier.name},
            )
    wanted_segments = {segment.pk for segment in reward.segments.all()}
    if wanted_segments and not wanted_segments & segment_ids:
        return Refusal("not_eligible", "This reward is for selected members only.", {"reason": "segment"})
    if reward.stock_left == 0:
        return Refusal("out_of_stock", "This reward is out of stock.", {})
    if reward.limit_per_member is not None and redeemed_in_period >= reward.limit_per_member:
        return Refusal(
            "limit_reached",
            f"This reward can be redeemed {reward.limit_per_member} time(s) {reward.get_limit_period_display()}.",
            {"limit": reward.limit_per_member, "period": reward.limit_period},
        )
    cost = reward.points if points is None else points
    if reward.kind == Reward.Kind.PAY_WITH_POINTS and points is None:
        cost = reward.min_points or 0  # the least the member can pay with
    if cost > account.available:
        return Refusal(
            "insufficient_points",
            f"Not enough points: {account.available} available, {cost} needed.",
            {"available": account.available, "required": cost, "short_by": cost - account.available},
        )
    return None


def _catalogue(*, shop=None, now: dt.datetime) -> QuerySet[Reward]:
    rewards = (
        Reward.objects.filter(active=True)
        .filter(Q(visible_from__isnull=True) | Q(visible_from__lte=now))
        .filter(Q(visible_until__isnull=True) | Q(visible_until__gt=now))
        .select_related("min_tier", "cause")
        .prefetch_related(
            Prefetch("segments", queryset=Segment.objects.only("pk")),
        )
    )
    if shop is not None:
        # Rewards for every shop (no shops named) or naming this one; no join, so no duplicates to remove.
        through = Reward.shops.through.objects.filter(reward_id=OuterRef("pk"))
        rewards = rewards.filter(~Exists(through) | Exists(through.filter(shop_id=shop.pk)))
    return rewards


def rewards_visible(*, shop=None, now: dt.datetime | None = None) -> QuerySet[Reward]:
    """The catalogue members see now (at `shop`: those offered there), in display order, with its tier, cause
    and segments (three queries, however many rewards)."""
    return _catalogue(shop=shop, now=now or timezone.now())


def redeemed_counts(*, member: Member, rewards: list[Reward], now: dt.datetime, program: Program) -> dict[int, int]:
    """{reward pk: the member's redemptions of it in its limit's current period}, for rewards with a limit;
    one query. Redemptions whose points were refunded do not count."""
    limited = [r for r in rewards if r.limit_per_member is not None]
    if not limited:
        return {}
    starts = {r.pk: period_start(r, now=now, program=program) for r in limited}
    rows = Redemption.objects.filter(
        member=member, reward_id__in=starts, status=Redemption.Status.COMPLETED
    ).values_list("reward_id", "created_at")
    counts: dict[int, int] = defaultdict(int)
    for reward_id, created_at in rows:
        start = starts[reward_id]
        if start is None or created_at >= start:
            counts[reward_id] += 1
    return counts


def rewards_for_member(
    *, member: Member, shop=None, now: dt.datetime | None = None, program: Program | None = None
) -> list[RewardOption]:
    """The rewards `member` sees now (at `shop` when given: those offered there), each redeemable now or with
    why not (short of points, out of stock, limit reached, tier required, not yet active). Rewards for
    segments the member is not in are left out. A fixed number of queries, however many rewards.
    `program`: the caller's, when it has loaded it already."""
    now = now or timezone.now()
    program = program or program_cached()
    account = PointsAccount.objects.select_related("member", "tier").get(member=member)
    segment_ids = member_segment_ids(member=member)
    rewards = list(_catalogue(shop=shop, now=now))
    counts = redeemed_counts(member=member, rewards=rewards, now=now, program=program)
    options = []
    for reward in rewards:
        wanted = {segment.pk for segment in reward.segments.all()}
        if wanted and not wanted & segment_ids:
            continue
        refusal = reward_refusal(
            reward=reward,
            account=account,
            shop=None,  # the catalogue was narrowed to `shop` in SQL
            now=now,
            segment_ids=segment_ids,
            redeemed_in_period=counts.get(reward.pk, 0),
        )
        options.append(RewardOption(reward=reward, refusal=refusal))
    return options


def member_redemptions(*, member: Member) -> QuerySet[Redemption]:
    """The member's redemptions, newest first, with reward, coupon and cause."""
    return (
        Redemption.objects.filter(member=member)
        .select_related("reward", "coupon", "cause")
        .order_by("-created_at", "-id")
    )


def member_coupons(*, member: Member, usable_only: bool = False, now: dt.datetime | None = None) -> QuerySet[Coupon]:
    """The member's coupons, newest first, with their reward; `usable_only`: issued and not expired."""
    coupons = Coupon.objects.filter(member=member).select_related("reward").order_by("-created_at", "-id")
    if usable_only:
        now = now or timezone.now()
        coupons = coupons.filter(status=Coupon.Status.ISSUED).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return coupons


def coupon_display_status(coupon: Coupon, *, now: dt.datetime | None = None) -> str:
    """issued, used, void, or expired (an issued coupon past its expiry)."""
    now = now or timezone.now()
    if coupon.status == Coupon.Status.ISSUED and coupon.expires_at is not None and coupon.expires_at <= now:
        return "expired"
    return coupon.status


def store_credit_balances(*, member: Member) -> list[StoreCreditAccount]:
    """The member's store credit accounts (one per currency)."""
    return list(StoreCreditAccount.objects.filter(member=member).order_by("currency"))


def store_credit_entries(*, account: StoreCreditAccount) -> QuerySet[StoreCreditEntry]:
    return StoreCreditEntry.objects.filter(account=account).order_by("-created_at", "-id")


def cause_totals() -> QuerySet[Cause]:
    """Every cause with its running total: `donated_points`, `donated_value` (in the rewards' currencies
    as given) and `donations`, summed from the redemptions that were not refunded."""
    done = Q(redemptions__status=Redemption.Status.COMPLETED)
    return Cause.objects.annotate(
        donated_points=Sum("redemptions__points", filter=done, default=0),
        donated_value=Sum("redemptions__value", filter=done),
        donations=Count("redemptions", filter=done),
    ).order_by("name")
