"""Reads for a member's referral page (/me/referrals/): their code, the program's terms in words, the friends
they brought with each one's status, the clicks on their link and the rewards they earned or are waiting for.

One function, `referral_page_get`, in a fixed number of queries however many friends (the page's test pins
it). Friends are shown masked ("Ben S.", "b***@example.com"). A rejected referral says only that the friend
is not eligible: the fraud checks' details are for staff (the review queue), never for the referrer.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from members.models import Member
from members.words import money, number, points
from referrals.models import Referral, ReferralCode, ReferralProgram, ReferralReward

FRIENDS_SHOWN = 100  # the newest; the page says how many there are in all
REWARDS_SHOWN = 200

Status = Referral.Status
RewardStatus = ReferralReward.Status


@dataclass(frozen=True)
class FriendRow:
    name: str  # masked
    status: str  # signed_up, checking, qualified, rewarded, rejected
    status_words: str
    date: dt.datetime
    reason: str = ""  # for a rejected one, in the member's words


@dataclass(frozen=True)
class RewardRow:
    gives: str  # "500 points", "EUR 5.00 in store credit", a catalogue reward's title
    why: str  # "A friend joined: Ben S.", "Your welcome reward for joining with an invitation"
    status: str  # pending, held, granted, reversed, cancelled
    status_words: str
    date: dt.datetime | None  # due (pending), granted, or ended


@dataclass(frozen=True)
class ReferralPage:
    active: bool
    code: str  # "" while the program is off and the member never had one
    friend_gets: str  # what a friend gets for joining, in words ("100 points"), or ""
    terms: list[str]
    clicks: int
    friends_count: int
    friends: list[FriendRow]
    earned_points: int
    earned_credit: list[str]  # "EUR 10.00", one per currency
    earned_rewards: list[str]  # titles of catalogue rewards granted
    rewards: list[RewardRow] = field(default_factory=list)  # newest first, every status

    @property
    def pending(self) -> list[RewardRow]:
        return [r for r in self.rewards if r.status in ("pending", "held")]


def referral_page_get(*, member: Member, rules: ReferralProgram, currency: str, pending_days: int) -> ReferralPage:
    """The member's referral page as plain data: code, terms, clicks, friends and rewards (five queries at most:
    code, counts, friends, rewards, and the catalogue rewards the terms name, when they name one)."""
    code = ReferralCode.objects.filter(member=member).values_list("code", flat=True).first() or ""
    counts = Referral.objects.filter(referrer=member).aggregate(
        clicks=Count("pk", filter=Q(clicked_at__isnull=False)),
        friends=Count("pk", filter=~Q(status=Status.CLICKED)),
    )
    referrals = (
        Referral.objects.filter(referrer=member)
        .exclude(status=Status.CLICKED)
        .select_related("friend__user")
        .order_by("-signed_up_at", "-id")[:FRIENDS_SHOWN]
    )
    rewards = (
        ReferralReward.objects.filter(member=member)
        .select_related("reward", "referral__friend__user")
        .order_by("-created_at", "-id")[:REWARDS_SHOWN]
    )
    reward_rows = [_reward_row(r, currency=currency) for r in rewards]
    granted = [r for r in rewards if r.status == RewardStatus.GRANTED]
    credit: dict[str, Decimal] = {}
    for r in granted:
        if r.kind == "store_credit" and r.amount:
            credit[r.currency or currency] = credit.get(r.currency or currency, Decimal(0)) + r.amount
    names = _names_of(rules)
    return ReferralPage(
        active=rules.active and member.status == Member.Status.ACTIVE,
        code=code,
        friend_gets=friend_gets_words(rules, names),
        terms=referral_terms_words(rules, currency=currency, pending_days=pending_days, names=names),
        clicks=counts["clicks"],
        friends_count=counts["friends"],
        friends=[_friend_row(r, waiting_for_order=rules.trigger != ReferralProgram.Trigger.SIGNUP) for r in referrals],
        earned_points=sum(r.points for r in granted if r.kind == "points"),
        earned_credit=[money(amount, cur) for cur, amount in sorted(credit.items())],
        earned_rewards=[r.reward.title for r in granted if r.kind == "reward" and r.reward_id],
        rewards=reward_rows,
    )


# --- words -------------------------------------------------------------------------------------------------


def friend_masked(friend: Member | None) -> str:
    """How a friend is shown to the member who brought them: "Ben S.", or "b***@example.com" without a name."""
    if friend is None or friend.status == Member.Status.CLOSED:
        return _("A former member")
    first = friend.first_name.strip()
    if first:
        initial = friend.last_name.strip()[:1]
        return f"{first} {initial.upper()}." if initial else first
    return email_masked(friend.user.email)


def email_masked(email: str) -> str:
    """ "ben@example.com" -> "b***@example.com"."""
    local, at, domain = (email or "").partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def _friend_row(referral: Referral, *, waiting_for_order: bool) -> FriendRow:
    name = friend_masked(referral.friend)
    if referral.status == Status.REJECTED:
        if referral.reason_code == "cap_reached":
            reason = _("You have reached the most friends one member can be rewarded for.")
        else:
            reason = _("This friend is not eligible for a referral reward.")
        date = referral.rejected_at or referral.signed_up_at or referral.created_at
        return FriendRow(name, "rejected", _("Not eligible"), date, reason)
    if referral.review == Referral.Review.PENDING:
        return FriendRow(name, "checking", _("Being checked"), referral.signed_up_at or referral.created_at)
    if referral.status == Status.REWARDED:
        return FriendRow(name, "rewarded", _("Rewarded"), referral.rewarded_at or referral.created_at)
    if referral.status == Status.QUALIFIED:
        return FriendRow(
            name, "qualified", _("Qualified: your reward is on its way"), referral.qualified_at or referral.created_at
        )
    words = _("Joined: no qualifying order yet") if waiting_for_order else _("Joined")
    return FriendRow(name, "signed_up", words, referral.signed_up_at or referral.created_at)


def _gives(kind: str, *, points_: int = 0, amount=None, currency: str = "", title: str = "") -> str:
    if kind == "points":
        return points(points_)
    if kind == "store_credit":
        return _("%(amount)s in store credit") % {"amount": money(amount or 0, currency)}
    return title


def _reward_row(reward: ReferralReward, *, currency: str) -> RewardRow:
    gives = _gives(
        reward.kind,
        points_=reward.points,
        amount=reward.amount,
        currency=reward.currency or currency,
        title=reward.reward.title if reward.reward_id else "",
    )
    if reward.side == ReferralReward.Side.FRIEND:
        why = _("Your welcome reward for joining with an invitation")
    elif reward.order_id:
        why = _("%(friend)s placed an order") % {"friend": friend_masked(reward.referral.friend)}
    else:
        why = _("%(friend)s joined") % {"friend": friend_masked(reward.referral.friend)}
    held = reward.referral.review == Referral.Review.PENDING
    match reward.status:
        case RewardStatus.PENDING if held:
            return RewardRow(gives, why, "held", _("Waiting for a check"), None)
        case RewardStatus.PENDING:
            return RewardRow(gives, why, "pending", _("On its way"), reward.due_at)
        case RewardStatus.GRANTED:
            return RewardRow(gives, why, "granted", _("Earned"), reward.granted_at)
        case RewardStatus.REVERSED:
            return RewardRow(gives, why, "reversed", _("Cancelled: the order was returned"), reward.ended_at)
        case _:
            return RewardRow(gives, why, "cancelled", _("Cancelled"), reward.ended_at)


def _names_of(rules: ReferralProgram) -> dict[str, str]:
    """The titles of the catalogue rewards the terms name (a query each, only when one is configured)."""
    names = {}
    if rules.friend_reward == ReferralProgram.FriendReward.REWARD and rules.friend_reward_item_id:
        names["friend"] = rules.friend_reward_item.title
    if rules.referrer_reward == ReferralProgram.ReferrerReward.REWARD and rules.referrer_reward_item_id:
        names["referrer"] = rules.referrer_reward_item.title
    return names


def friend_gets_words(rules: ReferralProgram, names: dict[str, str] | None = None) -> str:
    """What a friend gets for joining, in words ("100 points", a reward's title), or "" for nothing."""
    names = names if names is not None else _names_of(rules)
    if rules.friend_reward == ReferralProgram.FriendReward.POINTS and rules.friend_points:
        return points(rules.friend_points)
    if rules.friend_reward == ReferralProgram.FriendReward.REWARD:
        return names.get("friend", "")
    return ""


def referral_terms_words(
    rules: ReferralProgram, *, currency: str, pending_days: int, names: dict[str, str] | None = None
) -> list[str]:
    """The program's terms as a member reads them: what the friend gets, what the member gets and when."""
    names = names if names is not None else _names_of(rules)
    terms = []
    if friend := friend_gets_words(rules, names):
        terms.append(_("Your friend gets %(gift)s when they join with your link or code.") % {"gift": friend})
    you = _gives(
        rules.referrer_reward,
        points_=rules.referrer_points,
        amount=rules.referrer_store_credit,
        currency=currency,
        title=names.get("referrer", ""),
    )
    minimum = {"minimum": money(rules.min_order_total, currency)}
    has_minimum = rules.min_order_total > 0
    if not you or (rules.referrer_reward == "points" and not rules.referrer_points):
        pass
    elif rules.trigger == ReferralProgram.Trigger.SIGNUP:
        terms.append(_("You get %(you)s as soon as your friend joins.") % {"you": you})
    elif rules.trigger == ReferralProgram.Trigger.FIRST_ORDER:
        if has_minimum:
            text = _("You get %(you)s when your friend places their first order of %(minimum)s or more.")
        else:
            text = _("You get %(you)s when your friend places their first order.")
        terms.append(text % {"you": you, **minimum})
    else:
        n, days = rules.orders_count, rules.orders_within_days
        if n == 1:
            text = _("You get %(you)s when your friend places their first order") + (
                _(" of %(minimum)s or more") if has_minimum else ""
            )
        else:
            text = _("You get %(you)s for each of your friend's first %(n)s orders") + (
                _(" of %(minimum)s or more") if has_minimum else ""
            )
        within = ngettext(" within %(days)s day of joining.", " within %(days)s days of joining.", days)
        terms.append(text % {"you": you, "n": number(n), **minimum} + within % {"days": number(days)})
    if rules.trigger != ReferralProgram.Trigger.SIGNUP:
        days = rules.return_window_days if rules.return_window_days is not None else pending_days
        if days:
            terms.append(
                ngettext(
                    "Your reward arrives %(days)s day after the order, once its return period is over; "
                    "it is cancelled if the order is returned.",
                    "Your reward arrives %(days)s days after the order, once its return period is over; "
                    "it is cancelled if the order is returned.",
                    days,
                )
                % {"days": number(days)}
            )
    terms.append(_("Friends need to be new to us: someone who is already a customer does not count."))
    if rules.max_rewarded:
        terms.append(
            ngettext(
                "You can be rewarded for up to %(n)s friend.",
                "You can be rewarded for up to %(n)s friends.",
                rules.max_rewarded,
            )
            % {"n": number(rules.max_rewarded)}
        )
    return terms
