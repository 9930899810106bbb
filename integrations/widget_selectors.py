"""Reads for the storefront widget, built on the member pages' reads and words (members.page_selectors,
members.words) and the engine's selectors, so the widget says what the member pages say."""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.models import Shop
from members.models import Member
from members.page_selectors import how_to_earn_get, tier_page_get
from members.words import earning_rule_words, points, refusal_words, reward_gives
from referrals.selectors import referral_program_cached
from referrals.services import referral_code_get_or_create
from rewards.models import PointEntry, Program
from rewards.selectors import account_entries, earning_rules_active, next_expiry_get
from rewards.selectors.catalogue import RewardOption, rewards_for_member, rewards_visible

RECENT_ENTRIES = 5


@dataclass(frozen=True)
class GuestOffer:
    ways_to_earn: list[str]
    rewards: list[dict]  # title, points, gives


def guest_offer_get(*, shop: Shop, program: Program, at: dt.datetime | None = None) -> GuestOffer:
    """What the program offers a shopper who is not signed in: joining, the earning rules in force (every
    shop's), and the rewards visible at `shop` to everyone; three queries plus the cached rules."""
    at = at or timezone.now()
    ways = []
    if program.signup_bonus:
        ways.append(_("%(points)s for joining") % {"points": points(program.signup_bonus)})
    rules = earning_rules_active(currency=program.currency, shop_id=None, at=at)
    ways += [earning_rule_words(r) for r in sorted(rules, key=lambda r: r.kind == r.Kind.EXCLUSION)]
    rewards = [
        {"title": r.title, "points": r.points, "gives": reward_gives(r, currency=program.currency)}
        for r in rewards_visible(shop=shop, now=at)
        if not r.segments.all()  # offered to some segments only: not something to promise a guest
    ]
    return GuestOffer(ways_to_earn=ways, rewards=rewards)


@dataclass(frozen=True)
class MemberView:
    member: Member
    next_expiry: object  # rewards.selectors.NextExpiry | None
    tier: dict | None
    ways_to_earn: list[str]
    rewards: list[RewardOption]
    referral_code: str | None  # None: the referral program is off
    activity: list[PointEntry]


def member_view_get(*, member: Member, shop: Shop, program: Program) -> MemberView:
    """Everything the widget's panel shows a member, in a fixed number of queries however many rewards,
    rules and entries: points, next expiry, tier and progress, ways to earn, the rewards at `shop` with why
    not, the referral code (made on first use while the program runs), recent activity."""
    account = member.points_account
    tier_page = tier_page_get(member=member, program=program)
    tier = None
    if tier_page.status is not None and tier_page.status.tier is not None:
        status = tier_page.status
        tier = {
            "name": status.tier.name,
            "icon": status.tier.icon,
            "colour": status.tier.colour,
            "next": status.next_tier.name if status.next_tier else None,
            "percent": status.percent if status.next_tier else 100,
            "progress": tier_page.progress,
            "missing": tier_page.missing,
            "perks": tier_page.perks,
        }
    ways = how_to_earn_get(member=member, program=program)
    referral_code = None
    if referral_program_cached().active:
        referral_code = referral_code_get_or_create(member=member).code
    return MemberView(
        member=member,
        next_expiry=next_expiry_get(account=account),
        tier=tier,
        ways_to_earn=[*(c.description for c in ways.campaigns), *ways.buying, *ways.doing],
        rewards=rewards_for_member(member=member, shop=shop, program=program),
        referral_code=referral_code,
        activity=list(account_entries(account=account)[:RECENT_ENTRIES]),
    )


def reward_refusal_words(option: RewardOption) -> str | None:
    return None if option.refusal is None else refusal_words(option.refusal)
