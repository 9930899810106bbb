"""Reads for staff: the review queue, the preview of a change of the rules and the referral stats.

Everything is set-based: the preview reads the referrals of the window in one query and decides each
again in Python (checks.decide is pure); the stats are a handful of aggregate queries whatever the number
of referrals. The stats follow the friends who signed up in the period (a cohort): what became of them
(qualified, rewarded, rejected, held), what they bought since, and what their rewards cost. Clicks are the
links followed in the period.
"""

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Prefetch, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from members.models import Member
from referrals import checks
from referrals.models import Referral, ReferralProgram, ReferralReward

Status = Referral.Status
OUTCOMES = (checks.ACCEPT, checks.FLAG, checks.REJECT)
PREVIEW_DAYS = 90
PREVIEW_CHANGED_SHOWN = 200  # the changed referrals listed on the page; the counts cover all of them
TOP_REFERRERS = 10

# What a Referral row needs to be decided again and listed (the preview and the CSV export).
_LISTED = (
    "id",
    "public_id",
    "code",
    "status",
    "review",
    "reason_code",
    "facts",
    "signed_up_at",
    "referrer__id",
    "referrer__number",
    "referrer__first_name",
    "referrer__last_name",
    "referrer__user__id",
    "referrer__user__email",
    "friend__id",
    "friend__public_id",
    "friend__number",
    "friend__first_name",
    "friend__last_name",
    "friend__user__id",
    "friend__user__email",
)


def review_queue_count() -> int:
    """How many referrals wait for a staff review (the partial index on review='pending' answers it)."""
    return Referral.objects.filter(review=Referral.Review.PENDING).count()


# --- the preview of a change of the rules ---------------------------------------------------------------


@dataclass
class PreviewChange:
    referral: Referral
    now: checks.Decision
    proposed: checks.Decision


@dataclass
class Preview:
    since: dt.datetime
    total: int = 0
    now: Counter = field(default_factory=Counter)  # outcome -> referrals decided so under today's rules
    proposed: Counter = field(default_factory=Counter)  # ... and under the proposed rules
    changed_count: int = 0
    changed: list[PreviewChange] = field(default_factory=list)  # the first PREVIEW_CHANGED_SHOWN of them

    @property
    def rows(self) -> list[dict]:
        """One row per outcome: today's count, the proposal's, and the difference."""
        return [
            {
                "outcome": outcome,
                "now": self.now[outcome],
                "proposed": self.proposed[outcome],
                "difference": self.proposed[outcome] - self.now[outcome],
            }
            for outcome in OUTCOMES
        ]


def referral_rules_preview(
    *, rules: ReferralProgram, proposed: ReferralProgram, days: int = PREVIEW_DAYS, now: dt.datetime | None = None
) -> Preview:
    """Decide every referral whose friend signed up in the last `days` again from its stored facts, under
    today's `rules` and under `proposed` (an unsaved ReferralProgram): the outcomes' counts under each and
    the referrals whose outcome would change, newest first. One query; nothing is written."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    referrals = (
        Referral.objects.filter(signed_up_at__gte=since, friend__isnull=False)
        .select_related("referrer__user", "friend__user")
        .only(*_LISTED)
        .order_by("-signed_up_at", "-id")
    )
    preview = Preview(since=since)
    for referral in referrals.iterator(chunk_size=2000):
        before = checks.decide(referral.facts, rules)
        after = checks.decide(referral.facts, proposed)
        preview.total += 1
        preview.now[before.outcome] += 1
        preview.proposed[after.outcome] += 1
        if before.outcome != after.outcome:
            preview.changed_count += 1
            if len(preview.changed) < PREVIEW_CHANGED_SHOWN:
                preview.changed.append(PreviewChange(referral=referral, now=before, proposed=after))
    return preview


# --- stats ------------------------------------------------------------------------------------------------


@dataclass
class Stats:
    start: dt.datetime
    end: dt.datetime
    clicks: int
    clicks_signed_up: int
    signups: int
    qualified: int
    rewarded: int
    rejected: int
    held: int
    revenue: list[dict]  # [{"currency", "total", "orders"}]
    cost: dict  # {"points": granted, "store_credit": [{"currency", "amount"}], "catalogue": count, "pending_*": ...}
    top: list[dict]  # [{"member", "signups", "rewarded", "revenue": [{"currency", "total"}]}]
    weeks: list[dict]  # [{"week": date, "signups", "qualified"}], every week of the period, oldest first

    @property
    def click_conversion(self) -> Decimal | None:
        """Of the links followed in the period, the share that signed up (percent)."""
        return _percent(self.clicks_signed_up, self.clicks)

    @property
    def signup_conversion(self) -> Decimal | None:
        """Of the friends who signed up in the period, the share that qualified (percent)."""
        return _percent(self.qualified, self.signups)


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def referrals_signed_up_in(*, start: dt.datetime, end: dt.datetime):
    """The referrals whose friend signed up in [start, end)."""
    return Referral.objects.filter(signed_up_at__gte=start, signed_up_at__lt=end, friend__isnull=False)


def _revenue_orders(*, start: dt.datetime, end: dt.datetime, referrer_ids: list[int] | None = None):
    """The non-cancelled orders of the friends who signed up in [start, end) (referrals not rejected),
    placed from their sign-up on; optionally only the friends of `referrer_ids`. Every condition on the
    referral sits in one filter() so they share one join (a second filter() on a many-valued relation would
    join again and count a friend's order once per referral they ever had); a friend has at most one
    referral that is not rejected, so each order is counted once."""
    from integrations.models import Order  # integrations builds on members and rewards

    referral = {
        "member__referrals_received__signed_up_at__gte": start,
        "member__referrals_received__signed_up_at__lt": end,
        "member__referrals_received__status__in": [Status.SIGNED_UP, Status.QUALIFIED, Status.REWARDED],
        "placed_at__gte": F("member__referrals_received__signed_up_at"),
    }
    if referrer_ids is not None:
        referral["member__referrals_received__referrer_id__in"] = referrer_ids
    return Order.objects.filter(**referral).exclude(status=Order.Status.CANCELLED)


def referral_stats(*, start: dt.datetime, end: dt.datetime) -> Stats:
    """The referral program's figures for [start, end), in seven queries whatever the number of referrals."""
    in_period = Q(signed_up_at__gte=start, signed_up_at__lt=end, friend__isnull=False)
    clicked = Q(clicked_at__gte=start, clicked_at__lt=end)
    counts = Referral.objects.filter(in_period | clicked).aggregate(
        clicks=Count("id", filter=clicked),
        clicks_signed_up=Count("id", filter=clicked & Q(signed_up_at__isnull=False)),
        signups=Count("id", filter=in_period),
        qualified=Count("id", filter=in_period & Q(qualified_at__isnull=False)),
        rewarded=Count("id", filter=in_period & Q(status=Status.REWARDED)),
        rejected=Count("id", filter=in_period & Q(status=Status.REJECTED)),
        held=Count("id", filter=in_period & Q(review=Referral.Review.PENDING)),
    )

    revenue = [
        {**row, "total": _money(row["total"])}
        for row in _revenue_orders(start=start, end=end)
        .values("currency")
        .annotate(total=Sum("total"), orders=Count("id"))
        .order_by("currency")
    ]

    cost = {"points": 0, "store_credit": [], "catalogue": 0, "pending_points": 0, "pending_store_credit": []}
    rewards = (
        ReferralReward.objects.filter(
            referral__signed_up_at__gte=start,
            referral__signed_up_at__lt=end,
            status__in=[ReferralReward.Status.GRANTED, ReferralReward.Status.PENDING],
        )
        .values("status", "kind", "currency")
        .annotate(points=Sum("points"), amount=Sum("amount"), count=Count("id"))
        .order_by("status", "kind", "currency")
    )
    for row in rewards:
        granted = row["status"] == ReferralReward.Status.GRANTED
        if row["kind"] == ReferralProgram.ReferrerReward.POINTS:
            cost["points" if granted else "pending_points"] += row["points"] or 0
        elif row["kind"] == ReferralProgram.ReferrerReward.STORE_CREDIT:
            money = {"currency": row["currency"], "amount": _money(row["amount"])}
            cost["store_credit" if granted else "pending_store_credit"].append(money)
        elif row["kind"] == ReferralProgram.ReferrerReward.REWARD and granted:
            cost["catalogue"] += row["count"]

    top_rows = list(
        referrals_signed_up_in(start=start, end=end)
        .values("referrer_id")
        .annotate(signups=Count("id"), rewarded=Count("id", filter=Q(status=Status.REWARDED)))
        .order_by("-rewarded", "-signups", "referrer_id")[:TOP_REFERRERS]
    )
    top_ids = [row["referrer_id"] for row in top_rows]
    members = Member.objects.select_related("user").in_bulk(top_ids) if top_ids else {}
    top_revenue = defaultdict(list)
    if top_ids:
        by_referrer = (
            _revenue_orders(start=start, end=end, referrer_ids=top_ids)
            .values("member__referrals_received__referrer_id", "currency")
            .annotate(total=Sum("total"))
            .order_by("currency")
        )
        for row in by_referrer:
            top_revenue[row["member__referrals_received__referrer_id"]].append(
                {"currency": row["currency"], "total": _money(row["total"])}
            )
    top = [
        {
            "member": members[row["referrer_id"]],
            "signups": row["signups"],
            "rewarded": row["rewarded"],
            "revenue": top_revenue[row["referrer_id"]],
        }
        for row in top_rows
    ]

    per_week = {
        row["week"].date(): row
        for row in referrals_signed_up_in(start=start, end=end)
        .annotate(week=TruncWeek("signed_up_at"))
        .values("week")
        .annotate(signups=Count("id"), qualified=Count("id", filter=Q(qualified_at__isnull=False)))
        .order_by("week")
    }
    weeks = []
    week, last = _monday(start), _monday(end - dt.timedelta(microseconds=1))
    while week <= last:
        row = per_week.get(week, {})
        weeks.append({"week": week, "signups": row.get("signups", 0), "qualified": row.get("qualified", 0)})
        week += dt.timedelta(days=7)

    return Stats(start=start, end=end, revenue=revenue, cost=cost, top=top, weeks=weeks, **counts)


def _money(value) -> Decimal:
    """A sum of money as stored (two places): SQLite's SUM drops the trailing zeros."""
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _monday(moment: dt.datetime) -> dt.date:
    """The Monday of `moment`'s week in the current time zone (as TruncWeek counts weeks)."""
    day = timezone.localtime(moment).date()
    return day - dt.timedelta(days=day.weekday())


def referrals_export(*, start: dt.datetime, end: dt.datetime):
    """The referrals whose friend signed up in [start, end), oldest first, with their rewards: for the CSV
    (iterate with a chunk size: one query per chunk for the rows, one for their rewards)."""
    return (
        referrals_signed_up_in(start=start, end=end)
        .select_related("referrer__user", "friend")
        .only(
            "id",
            "public_id",
            "code",
            "channel",
            "status",
            "review",
            "reason_code",
            "clicked_at",
            "signed_up_at",
            "qualified_at",
            "rewarded_at",
            "rejected_at",
            "referrer__id",
            "referrer__user__id",
            "referrer__user__email",
            "friend__id",
            "friend__public_id",
        )
        .prefetch_related(Prefetch("rewards", queryset=ReferralReward.objects.select_related("reward")))
        .order_by("signed_up_at", "id")
    )
