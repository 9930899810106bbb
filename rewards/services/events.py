"""Points for events: those a shop reports (POST /api/v1/events) and the platform's own (sign-up, first
purchase, birthday). docs/earning.md, "Event rules", explains the rules to merchants.

`event_record` finds the active event rules for the event, the shop and the time the event occurred, and
gives each rule's points (one ledger earn per rule) unless the member already had the rule's limit of
awards in the rule's period (day, week from Monday, month, year, in the program's time zone; or ever).
Every event is recorded as a MemberEvent with one EventAward per matching rule, refusals included (0
points and the reason), so a replay answers exactly what the first call did.

Why it is correct when events arrive at once:
- The member's PointsAccount row is locked (as the ledger does) before the limits are counted, so two
  events of one member are counted one after the other and cannot both pass a limit of 1.
- A MemberEvent's idempotency key is unique: a shop's (shop, external_id), or the member (and year) for a
  built-in event. Replays re-read it under the same lock; a copy that still slips past (another member
  named with the same external_id) fails on the constraint and is answered from the row that won.
"""

import calendar
import datetime as dt
import hashlib
import json
import re
import uuid
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from core.exceptions import ApplicationError
from members.models import Member
from rewards.models import EventAward, EventRule, MemberEvent, PointLot, PointsAccount, Program
from rewards.selectors import event_rules_active, program_get
from rewards.services.campaigns import campaign_action_offers, campaign_actions_award
from rewards.services.earning import event_period_start
from rewards.services.ledger import Actor, points_earn
from rewards.services.tiers import tiers_config

if TYPE_CHECKING:
    from integrations.models import Shop

Event = EventRule.Event
Period = EventRule.Period

EVENT_NAME_MAX = 64
EVENT_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.:-]*")  # as the event rule form allows (rewards/admin.py)
EXTERNAL_ID_MAX = 150  # keeps "shop:<shop uuid>:<external id>" within the 200 characters of the key
EVENT_POINTS_MAX = 10_000_000  # as for one order: keeps the ledger's integer columns far from overflow
# Triggered by the platform itself; a shop reporting them as well would award them twice.
PLATFORM_EVENTS = frozenset({Event.SIGN_UP, Event.FIRST_PURCHASE, Event.BIRTHDAY})


def event_name_clean(event: str) -> str:
    """The event's name as rules store it (trimmed, lower-case); a 400 `invalid_event` for anything else
    than letters, digits and _ . : - (at most 64 characters)."""
    name = str(event or "").strip().lower()
    if len(name) > EVENT_NAME_MAX or not EVENT_NAME_RE.fullmatch(name):
        raise ApplicationError(
            "An event name is 1 to 64 lower-case letters, digits and _ . : -, e.g. review_written.",
            code="invalid_event",
            status=400,
            extra={"event": str(event)[:100]},
        )
    return name


def event_period_bounds(
    *, period: str, at: dt.datetime, time_zone: str
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start, end) of the limit period that contains `at`, in the program's time zone; (None, None) for
    "ever". The end matters for events reported late: they count in the period they occurred in."""
    start = event_period_start(period=period, at=at, time_zone=time_zone)
    if start is None:
        return None, None
    day = start.date()
    match period:
        case Period.DAY:
            following = day + dt.timedelta(days=1)
        case Period.WEEK:
            following = day + dt.timedelta(days=7)
        case Period.MONTH:
            following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        case _:
            following = dt.date(day.year + 1, 1, 1)
    return start, dt.datetime.combine(following, dt.time(), tzinfo=start.tzinfo)


def _fingerprint(*, member: Member, event: str, occurred_at: dt.datetime | None) -> str:
    body = {
        "member": str(member.public_id),
        "event": event,
        "occurred_at": None if occurred_at is None else occurred_at.astimezone(dt.UTC).isoformat(),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _replayed(key: str, *, member: Member, fingerprint: str, external_id: str | None) -> MemberEvent | None:
    """The event recorded under `key`, or None; the key reused for another body is a 409."""
    found = MemberEvent.objects.filter(idempotency_key=key).first()
    if found is None:
        return None
    if found.member_id != member.pk or found.fingerprint != fingerprint:
        raise ApplicationError(
            "This event external_id was already used with a different body.",
            code="idempotency_conflict",
            status=409,
            extra={"external_id": external_id or key},
        )
    return found


def _awards_in_period(*, member: Member, rules: list[EventRule], at: dt.datetime, time_zone: str) -> dict[int, int]:
    """How many times each limited rule already gave `member` points in the period containing `at` (one
    query). Call it with the member's account locked."""
    limited = [rule for rule in rules if rule.limit_count is not None]
    if not limited:
        return {}
    counts = {}
    for rule in limited:
        start, end = event_period_bounds(period=rule.limit_period, at=at, time_zone=time_zone)
        in_period = Q(rule=rule) if start is None else Q(rule=rule, occurred_at__gte=start, occurred_at__lt=end)
        counts[f"rule_{rule.pk}"] = Count("pk", filter=in_period)
    awarded = EventAward.objects.filter(member=member, rule__in=limited, status=EventAward.Status.AWARDED)
    totals = awarded.aggregate(**counts)
    return {rule.pk: totals[f"rule_{rule.pk}"] for rule in limited}


def _record(
    *,
    member: Member,
    event: str,
    shop: "Shop | None",
    external_id: str | None,
    key: str,
    fingerprint: str,
    at: dt.datetime,
    rules: list[EventRule],
    program: Program | None,
    actor: Actor,
    offers: list = (),
    perk: tuple[str, str, int] | None = None,
) -> tuple[MemberEvent, bool]:
    """event_record's work once the key, the time and the rules are known; the caller has looked for a replay.
    `offers`: the action-bonus campaigns in force for the event (rewards.services.campaigns); they give their
    points when the event counts (no rule, or a rule within its limit), within their budgets and limits.
    `perk`: (ref, name, points) a perk of the member's tier adds when the event counts (the birthday bonus)."""
    if member.status == Member.Status.CLOSED:
        raise ApplicationError("The member's account is closed.", code="member_not_active")
    try:
        with transaction.atomic():
            allowed: list[EventRule] = rules
            if rules or offers or perk:
                # Serialises this member's events (and every other change of their points): the counts below
                # stay true until this transaction ends.
                PointsAccount.objects.select_for_update(no_key=True).filter(member=member).values_list("pk").get()
                if found := _replayed(key, member=member, fingerprint=fingerprint, external_id=external_id):
                    return found, False
            if rules:
                program = program or program_get()
                done = _awards_in_period(member=member, rules=rules, at=at, time_zone=program.time_zone)
                allowed = [r for r in rules if r.limit_count is None or done[r.pk] < r.limit_count]
            bonuses = []
            if offers and (allowed or not rules):  # the event counts: no rule for it, or one within its limit
                bonuses = [(c, g) for c, g in campaign_actions_award(offers=offers, member=member) if g.points]
            counts = bool(allowed or not rules)
            perk_points = perk[2] if perk and counts else 0
            points = sum(rule.points for rule in allowed) + sum(g.points for _c, g in bonuses) + perk_points
            if points > EVENT_POINTS_MAX:
                raise ApplicationError(
                    f"The event rules would give {points} points, more than the {EVENT_POINTS_MAX} one event may.",
                    code="event_points_too_large",
                    extra={"points": points, "max": EVENT_POINTS_MAX},
                )
            if allowed or bonuses or perk_points:
                status = MemberEvent.Status.AWARDED
            else:
                status = MemberEvent.Status.LIMIT_REACHED if rules else MemberEvent.Status.NO_MATCHING_RULE
            record = MemberEvent.objects.create(
                member=member,
                event=event,
                shop=shop,
                external_id=external_id,
                idempotency_key=key,
                fingerprint=fingerprint,
                occurred_at=at,
                status=status,
                points=points,
            )
            awards = []
            for rule in rules:
                entry = None
                if rule in allowed and rule.points:
                    entry = points_earn(
                        account=member.points_account,
                        points=rule.points,
                        source=PointLot.Source.EVENT,
                        actor=actor,
                        idempotency_key=f"event:{record.public_id}:{rule.public_id}",
                        source_ref=f"{event}:{external_id or key}"[:200],
                        reason=rule.name,
                    )
                awards.append(
                    EventAward(
                        member_event=record,
                        member=member,
                        rule=rule,
                        rule_name=rule.name,
                        status=EventAward.Status.AWARDED if rule in allowed else EventAward.Status.LIMIT_REACHED,
                        points=rule.points if rule in allowed else 0,
                        entry=entry,
                        occurred_at=at,
                    )
                )
            # A campaign's bonus and a tier's perk: awards without a rule, named after what gave them.
            extras = [
                (f"campaign:{campaign.public_id}", campaign.name, f"{campaign.name} (campaign)", grant.points)
                for campaign, grant in bonuses
            ]
            if perk_points:
                extras.append((f"perk:{perk[0]}", perk[1], perk[1], perk_points))
            for suffix, reason, name, extra_points in extras:
                entry = points_earn(
                    account=member.points_account,
                    points=extra_points,
                    source=PointLot.Source.EVENT,
                    actor=actor,
                    idempotency_key=f"event:{record.public_id}:{suffix}",
                    source_ref=f"{event}:{external_id or key}"[:200],
                    reason=reason,
                )
                awards.append(
                    EventAward(
                        member_event=record,
                        member=member,
                        rule=None,
                        rule_name=name[:120],
                        status=EventAward.Status.AWARDED,
                        points=extra_points,
                        entry=entry,
                        occurred_at=at,
                    )
                )
            EventAward.objects.bulk_create(awards)
    except IntegrityError:
        # Another copy with this key committed first: answer with its result (or a 409 for another body).
        if found := _replayed(key, member=member, fingerprint=fingerprint, external_id=external_id):
            return found, False
        raise
    return record, True


def event_record(
    *,
    member: Member,
    event: str,
    shop: "Shop | None" = None,
    external_id: str | None = None,
    occurred_at: dt.datetime | None = None,
    idempotency_key: str | None = None,
    actor: Actor | None = None,
) -> tuple[MemberEvent, bool]:
    """Record `event` for `member` and give the points of every matching event rule within its limit per
    period, in one transaction (nested in the caller's, if any); returns (event, created).

    `occurred_at` (default now, never later than now) decides the rules' active windows and the limit
    periods. Idempotent on `external_id` (per shop): the same body again returns the first record and
    changes nothing, another body is a 409 `idempotency_conflict`. Without an external id, a platform
    event passes its own `idempotency_key` (any replay of it returns the first record). A closed member is
    a 422 `member_not_active`; suspended members earn, as with orders."""
    event = event_name_clean(event)
    external_id = (external_id or "").strip() or None
    if external_id is not None and len(external_id) > EXTERNAL_ID_MAX:
        raise ApplicationError(
            f"An event's external_id is at most {EXTERNAL_ID_MAX} characters.", code="validation_error", status=400
        )
    now = timezone.now()
    at = now if occurred_at is None else min(occurred_at, now)
    if external_id is not None:
        key = f"shop:{shop.public_id}:{external_id}" if shop is not None else f"event:{external_id}"
        fingerprint = _fingerprint(member=member, event=event, occurred_at=occurred_at)
    else:
        key = idempotency_key or f"event:{uuid.uuid4()}"
        fingerprint = _fingerprint(member=member, event=event, occurred_at=None)
    if found := _replayed(key, member=member, fingerprint=fingerprint, external_id=external_id):
        return found, False  # before anything else: a replay (every later order's first_purchase) is one query
    shop_id = None if shop is None else str(shop.public_id)
    rules = event_rules_active(event=event, shop_id=shop_id, at=at)
    return _record(
        member=member,
        event=event,
        shop=shop,
        external_id=external_id,
        key=key,
        fingerprint=fingerprint,
        at=at,
        rules=rules,
        program=None,
        actor=actor or (Actor.shop(str(shop.public_id)) if shop is not None else Actor.system(event)),
        offers=campaign_action_offers(event=event, member=member, shop_id=shop_id, at=at),
    )


# --- the platform's own events ---------------------------------------------------------------------


def event_sign_up_record(*, member: Member) -> MemberEvent:
    """The `sign_up` event of a member who just joined (members.services.member_signup); once per member."""
    event, _ = event_record(
        member=member,
        event=Event.SIGN_UP,
        occurred_at=member.joined_at,
        idempotency_key=f"sign_up:{member.public_id}",
    )
    return event


def event_first_purchase_record(*, member: Member, shop: "Shop | None", occurred_at: dt.datetime) -> MemberEvent:
    """The `first_purchase` event, called whenever an order earns points: the first call records it (at
    the order's time, for the order's shop) and every later one only reads it back (one query)."""
    event, _ = event_record(
        member=member,
        event=Event.FIRST_PURCHASE,
        shop=shop,
        occurred_at=occurred_at,
        idempotency_key=f"first_purchase:{member.public_id}",
    )
    return event


BIRTHDAY_CHUNK_SIZE = 500  # members read per query; each member's award is its own short transaction


def _birthday_filter(day: dt.date) -> Q:
    wanted = Q(birthday__month=day.month, birthday__day=day.day)
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        wanted |= Q(birthday__month=2, birthday__day=29)  # their day does not exist this year
    return wanted


def birthday_points_award(*, today: dt.date | None = None, chunk_size: int = BIRTHDAY_CHUNK_SIZE) -> int:
    """Record the `birthday` event for every member (not closed) whose birthday is `today` (default: today
    in the program's time zone; 29 February counts on 28 February in other years), at most once per
    member per year, with the birthday bonus of the member's tier. Does nothing while no birthday rule is
    active and no tier has a birthday bonus. Returns how many events it recorded.
    Safe to run again, and twice at once."""
    program = program_get()
    zone = ZoneInfo(program.time_zone)
    now = timezone.now()
    today = today or now.astimezone(zone).date()
    # A day caught up later counts at its noon, so the rules' windows are those of that day.
    at = now if today == now.astimezone(zone).date() else min(now, dt.datetime.combine(today, dt.time(12), zone))
    rules = event_rules_active(event=Event.BIRTHDAY, shop_id=None, at=at)
    tiers = tiers_config()
    if not rules and not any(tier.birthday_bonus_points for tier in tiers.tiers):
        return 0
    year_start = dt.datetime(today.year, 1, 1, tzinfo=zone)
    year_end = dt.datetime(today.year + 1, 1, 1, tzinfo=zone)
    already = MemberEvent.objects.filter(
        member=OuterRef("pk"), event=Event.BIRTHDAY, occurred_at__gte=year_start, occurred_at__lt=year_end
    )
    due = (
        Member.objects.filter(_birthday_filter(today))
        .exclude(status=Member.Status.CLOSED)
        .exclude(Exists(already))
        .select_related("points_account")
        .order_by("pk")
    )
    recorded, after = 0, 0
    while True:
        chunk = list(due.filter(pk__gt=after)[:chunk_size])
        for member in chunk:
            tier = tiers.tier_of(member.points_account)
            perk = None
            if tier is not None and tier.birthday_bonus_points:
                perk = (str(tier.public_id), f"{tier.name} birthday bonus", tier.birthday_bonus_points)
            elif not rules:
                continue  # no rule and no perk: nothing to record for this member
            try:
                _, created = _record(
                    member=member,
                    event=Event.BIRTHDAY,
                    shop=None,
                    external_id=None,
                    key=f"birthday:{member.public_id}:{today.year}",
                    fingerprint=_fingerprint(member=member, event=Event.BIRTHDAY, occurred_at=None),
                    at=at,
                    rules=rules,
                    program=program,
                    actor=Actor.system(Event.BIRTHDAY),
                    perk=perk,
                )
            except ApplicationError:
                continue  # closed since the chunk was read: the others still get theirs
            recorded += created
        if len(chunk) < chunk_size:
            return recorded
        after = chunk[-1].pk
