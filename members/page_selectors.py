"""Reads for the member pages about rewards, tiers and earning, built on the engine's selectors
(rewards.selectors.*). Each one starts from the signed-in member, so a member sees only their own."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from members.models import Member
from members.words import (
    earning_rule_words,
    event_rule_words,
    last_day,
    metric_amount,
    metric_needed,
    perks_words,
    tier_entry_words,
)
from rewards.models import EventRule, Program, Redemption, StoreCreditAccount, Tier
from rewards.selectors import earning_rules_active
from rewards.selectors.campaigns import MemberCampaign, campaigns_for_member
from rewards.selectors.catalogue import RewardOption, member_redemptions, rewards_for_member, store_credit_balances
from rewards.selectors.tiers import TierPerks, TierStatus, tier_of_account, tier_status
from rewards.services.tiers import tiers_config


@dataclass(frozen=True)
class RewardsPage:
    available: list[RewardOption]  # redeemable now
    unavailable: list[RewardOption]  # short of points, out of stock, limit reached, tier required, coming soon
    store_credit: list[StoreCreditAccount]  # the member's balances above zero, one per currency


def rewards_page_get(*, member: Member, program: Program, now: dt.datetime | None = None) -> RewardsPage:
    """The member's catalogue split into what they can redeem now and the rest (each with why not), in the
    catalogue's order, with their store credit; a fixed number of queries however many rewards."""
    options = rewards_for_member(member=member, now=now, program=program)
    return RewardsPage(
        available=[o for o in options if o.available],
        unavailable=[o for o in options if not o.available],
        store_credit=[a for a in store_credit_balances(member=member) if a.balance > 0],
    )


def reward_option_get(*, member: Member, reward_id, program: Program, now: dt.datetime | None = None) -> RewardOption:
    """One reward of the member's catalogue, with whether they may redeem it now; a reward they do not see
    (hidden, switched off, for other segments, unknown) is a 404."""
    for option in rewards_for_member(member=member, now=now, program=program):
        if option.reward.public_id == reward_id:
            return option
    raise Http404("No such reward.")


def member_redemption_get(*, member: Member, redemption_id) -> Redemption:
    """One of the member's own redemptions with its reward, coupon and cause; another member's is a 404."""
    try:
        return member_redemptions(member=member).get(public_id=redemption_id)
    except Redemption.DoesNotExist:
        raise Http404("No such redemption.") from None


@dataclass(frozen=True)
class DashboardRewards:
    tier: object  # rewards.models.Tier | None (no tiers defined)
    rewards_now: int  # rewards the member can redeem now


def dashboard_rewards_get(*, member: Member, program: Program) -> DashboardRewards:
    """The dashboard's short summary: the member's tier and how many rewards they can redeem now."""
    options = rewards_for_member(member=member, program=program)
    return DashboardRewards(
        tier=tier_of_account(account=member.points_account), rewards_now=sum(1 for o in options if o.available)
    )


@dataclass(frozen=True)
class HowToEarn:
    buying: list[str]  # the earning rules in force, in plain words
    doing: list[str]  # the event rules in force (reviews, birthday, ...)
    campaigns: list[MemberCampaign]  # the campaigns the member can benefit from now


# Already done by every member who can see the page: no point in offering it.
_NOT_OFFERED = {EventRule.Event.SIGN_UP}


def how_to_earn_get(*, member: Member, program: Program, at: dt.datetime | None = None) -> HowToEarn:
    """The ways to earn now in plain words: the program currency's earning rules for every shop (exclusions
    last), the active event rules and the member's campaigns. A few queries, whatever the number of rules."""
    at = at or timezone.now()
    rules = earning_rules_active(currency=program.currency, shop_id=None, at=at)
    rules = sorted(rules, key=lambda r: r.kind == r.Kind.EXCLUSION)  # stable: priority order otherwise
    window = (Q(starts_at__isnull=True) | Q(starts_at__lte=at)) & (Q(ends_at__isnull=True) | Q(ends_at__gt=at))
    events = (
        EventRule.objects.filter(window, is_active=True)
        .exclude(event__in=_NOT_OFFERED)
        .exclude(points=0)
        .order_by("event", "id")
    )
    return HowToEarn(
        buying=[earning_rule_words(r) for r in rules],
        doing=[event_rule_words(r) for r in events if not r.shop_ids],  # every shop's only, as for the rules
        campaigns=campaigns_for_member(member=member, at=at),
    )


_NOW = {
    Tier.Window.LIFETIME: "in total",
    Tier.Window.CALENDAR_YEAR: "this year",
    Tier.Window.ROLLING_12_MONTHS: "in the last 12 months",
    Tier.Window.MEMBERSHIP_YEAR: "this membership year",
}


@dataclass(frozen=True)
class TierRow:
    tier: Tier
    entry: str  # how to reach it, in words
    perks: list[str]
    current: bool


@dataclass(frozen=True)
class TierPage:
    """The member's tier page, its sentences written out (dates in the current time zone: the program's)."""

    status: TierStatus | None  # None: the program has no tiers
    progress: str  # "EUR 350.00 of EUR 500.00 this year"
    missing: str  # "EUR 150.00 more spent by 31 December 2026 to reach Gold"
    keep: str  # what keeps the current tier, and by when
    perks: list[str]
    tiers: list[TierRow]


def _keep_words(status: TierStatus, *, lowest: Tier, currency: str) -> str:
    tier = status.tier
    until = last_day(status.held_until) if status.held_until else None
    if status.held_reason == "staff" and until:
        return f"Your {tier.name} tier is set for you until {until}."
    if status.held_reason == "gift" and until:
        return f"A gift holds {tier.name} for you until {until}."
    if status.held_reason == "paid":
        return f"Your paid membership holds {tier.name} " + (f"until {until}." if until else "for life.")
    if tier.pk == lowest.pk:
        return f"{tier.name} is where everyone starts: it is yours to keep."
    if tier.downgrade_policy == Tier.Downgrade.NEVER:
        return f"{tier.name} is yours for good: it never goes down."
    threshold = metric_amount(status.keep_threshold, metric=tier.metric, currency=currency)
    if status.keep_by is None:  # rolling and lifetime windows: judged every night
        have = metric_amount(status.keep_value, metric=tier.metric, currency=currency)
        return f"{tier.name} stays yours while you have {threshold} {_NOW[tier.window]}; you have {have} now."
    if status.keep_value >= status.keep_threshold:
        kept = f" until {last_day(status.kept_until)}" if status.kept_until else ""
        return f"You have done what keeps {tier.name}: it is yours{kept}."
    short = metric_needed(status.keep_threshold - status.keep_value, metric=tier.metric, currency=currency)
    text = f"To keep {tier.name} after that, reach {threshold} by {last_day(status.keep_by)}: {short} to go."
    if status.kept_until:
        text = f"{tier.name} is yours until {last_day(status.kept_until)}. " + text
    return text


def tier_page_get(*, member: Member, program: Program, at: dt.datetime | None = None) -> TierPage:
    """The member's tier, the way to the next one and what keeps it, with every tier and its perks; one query
    for the member's figures beyond the cached tiers (rewards.selectors.tiers)."""
    config = tiers_config()  # read once for both: the list and the status
    tiers = list(config.tiers)
    status = tier_status(account=member.points_account, at=at, config=config) if tiers else None
    currency = program.currency
    rows = [
        TierRow(
            tier=t,
            entry=tier_entry_words(t, currency=currency),
            perks=perks_words(TierPerks.of(t)),
            current=status is not None and status.tier is not None and status.tier.pk == t.pk,
        )
        for t in tiers
    ]
    if status is None or status.tier is None:
        return TierPage(status=None, progress="", missing="", keep="", perks=[], tiers=rows)
    progress = missing = ""
    if status.next_tier is not None:
        target = status.next_tier
        progress = (
            f"{metric_amount(status.value, metric=status.metric, currency=currency)} of "
            f"{metric_amount(target.entry_threshold, metric=status.metric, currency=currency)} {_NOW[status.window]}"
        )
        if status.needed:
            by = f" by {last_day(status.window_end)}" if status.window_end else ""
            needed = metric_needed(status.needed, metric=status.metric, currency=currency)
            missing = f"{needed}{by} to reach {target.name}."
        else:
            missing = f"You qualify for {target.name}: your new tier shows within a day."
    return TierPage(
        status=status,
        progress=progress,
        missing=missing,
        keep=_keep_words(status, lowest=tiers[0], currency=currency),
        perks=perks_words(status.perks),
        tiers=rows,
    )
