"""Campaigns: time-boxed boosts to earning, with budgets and per-member limits (docs/campaigns.md).

How a campaign reaches an order (rewards.services.boosts is the seam with the order intake):
1. `campaign_boosts_config()`, once per request or batch: the active campaigns that have not ended long
   ago, the members of the segments they target, and the points each budget had given when loaded
   (one query without targeting; cached per process like the earning rules: core.process_cache).
2. `campaign_boosts(config, ...)`, per order and without a query: the campaigns in force for the order's
   time, shop, currency and member; an order multiplier becomes a Multiplier(source="campaign"), a
   product bonus becomes a rule-like `CampaignRule` (source "campaign") applied after the earning rules.
   A campaign whose budget was already used up when the config was loaded is left out.
3. `campaigns_orders_earned(earned)`, inside the orders' transaction once their points are in the ledger:
   the truth about budgets and per-member limits. Budgeted campaigns are locked (pk order) and each
   order's campaign points are granted in full, or capped at what is left of the budget and of the
   member's limit. A capped order keeps the points it was promised by the other rules: its breakdown is
   rewritten (the campaign's part shrunk, a note added), its `points` lowered, and the cut points leave
   its lot in a reversal entry in the same transaction, so the order's total, its lot and the ledger
   agree and a later refund reverses from the capped breakdown. What each campaign gave each member is
   added to CampaignMember (set-based: a constant number of queries per batch, plus one reversal per
   capped order).

Refunds and cancellations reverse an order's campaign points with the rest (from its breakdown); they
do not give them back to the budget or to the member's limit: a budget counts the points a campaign gave.

Action bonuses (kind action_bonus) are given by rewards.services.events.event_record:
`campaign_action_offers` (cached like the order config) and `campaign_actions_award` (inside the event's
transaction), through the same budget and limit core, `_campaigns_use`.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from core.process_cache import ProcessCache
from rewards.models import Campaign, CampaignMember, EarningRule, Segment
from rewards.services.earning import Multiplier, OrderInput, _allocate
from rewards.services.ledger import Actor, points_reverse

# Orders may be placed a while before the shop sends them (order_placed_at): campaigns that ended within
# this long are still loaded so such an order gets the campaign that was in force when it was placed.
LOOKBACK = dt.timedelta(days=31)
RULE_PRIORITY = -(10**9)  # campaign bonus rules come after every earning rule and never stop one


@dataclass(frozen=True)
class CampaignRule:
    """A product campaign as evaluate_order takes a rule (the attributes of an EarningRule it reads)."""

    public_id: str
    name: str
    kind: str  # EarningRule.Kind.MULTIPLIER or FIXED
    currency: str
    multiplier: Decimal
    points: Decimal
    categories: tuple[str, ...]
    skus: tuple[str, ...]
    source: str = "campaign"
    is_active: bool = True
    amount: Decimal = Decimal(1)
    shop_ids: tuple = ()  # checked by campaign_boosts
    starts_at: dt.datetime | None = None  # checked by campaign_boosts
    ends_at: dt.datetime | None = None
    priority: int = RULE_PRIORITY
    stop_after: bool = False
    minimum_order_value: Decimal | None = None
    include_tax: bool = False
    include_shipping: bool = False
    subtract_discounts: bool = True
    scope: str = EarningRule.Scope.ORDER
    rounding: str = "down"


@dataclass(frozen=True)
class CampaignInForce:
    pk: int
    public_id: str
    name: str
    kind: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    currency: str
    shop_ids: frozenset[str]
    segment_ids: frozenset[int]
    budget: int | None
    points_given: int  # when the config was loaded
    multiplier: Multiplier | None = None
    rule: CampaignRule | None = None
    event: str = ""  # action bonuses: the event (normalised) and the points each time
    points: int = 0


@dataclass(frozen=True)
class CampaignsConfig:
    campaigns: tuple[CampaignInForce, ...] = ()
    audiences: dict[int, frozenset[int]] = field(default_factory=dict)  # segment pk -> member pks


def _norm(value) -> str:
    return str(value).strip().casefold()


def _in_force(campaign: Campaign, segment_ids: frozenset[int]) -> CampaignInForce:
    ref = str(campaign.public_id)
    multiplier = rule = None
    if campaign.kind == Campaign.Kind.ORDER_MULTIPLIER:
        multiplier = Multiplier(name=campaign.name, factor=campaign.factor, source="campaign", ref=ref)
    elif campaign.kind != Campaign.Kind.ACTION_BONUS:
        product_multiplier = campaign.kind == Campaign.Kind.PRODUCT_MULTIPLIER
        rule = CampaignRule(
            public_id=ref,
            name=campaign.name,
            kind=EarningRule.Kind.MULTIPLIER if product_multiplier else EarningRule.Kind.FIXED,
            currency=campaign.currency.strip().upper(),
            multiplier=campaign.factor,
            points=campaign.points,
            categories=tuple(campaign.categories or ()),
            skus=tuple(campaign.skus or ()),
        )
    return CampaignInForce(
        pk=campaign.pk,
        public_id=ref,
        name=campaign.name,
        kind=campaign.kind,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        currency=campaign.currency.strip().upper(),
        shop_ids=frozenset(_norm(s) for s in campaign.shop_ids or () if _norm(s)),
        segment_ids=segment_ids,
        budget=campaign.budget,
        points_given=campaign.points_given,
        multiplier=multiplier,
        rule=rule,
        event=_norm(campaign.event),
        points=int(campaign.points),
    )


def _config_load(*, actions: bool = False) -> CampaignsConfig:
    """The campaigns for orders (or, with `actions`, the action bonuses) not ended long ago."""
    from rewards.services.segments import segment_members

    recent = Campaign.objects.filter(is_active=True, ends_at__gt=timezone.now() - LOOKBACK)
    kind = Campaign.Kind.ACTION_BONUS
    rows = (
        (recent.filter(kind=kind) if actions else recent.exclude(kind=kind))
        .annotate(segment_pk=F("segments__id"), segment_kind=F("segments__kind"), segment_rules=F("segments__rules"))
        .order_by("pk")
    )  # one query: a row per (campaign, segment), a campaign without segments once
    campaigns: dict[int, Campaign] = {}
    segments: dict[int, set[int]] = defaultdict(set)
    targets: dict[int, Segment] = {}
    for row in rows:
        campaigns.setdefault(row.pk, row)
        if row.segment_pk is not None:
            segments[row.pk].add(row.segment_pk)
            targets[row.segment_pk] = Segment(pk=row.segment_pk, kind=row.segment_kind, rules=row.segment_rules)
    # The members of the targeted segments, one query each (only when a campaign in force targets some).
    audiences = {pk: frozenset(segment_members(s).values_list("pk", flat=True)) for pk, s in targets.items()}
    return CampaignsConfig(
        campaigns=tuple(_in_force(c, frozenset(segments.get(pk, ()))) for pk, c in campaigns.items()),
        audiences=audiences,
    )


_config_cache = ProcessCache("campaigns in force")

post_save.connect(_config_cache.invalidate, sender=Campaign, dispatch_uid="campaigns_cache_save")
post_delete.connect(_config_cache.invalidate, sender=Campaign, dispatch_uid="campaigns_cache_delete")
post_save.connect(_config_cache.invalidate, sender=Segment, dispatch_uid="campaigns_cache_segment_save")
post_delete.connect(_config_cache.invalidate, sender=Segment, dispatch_uid="campaigns_cache_segment_delete")
m2m_changed.connect(_config_cache.invalidate, sender=Campaign.segments.through, dispatch_uid="campaigns_cache_segments")


def campaign_boosts_config() -> CampaignsConfig:
    """The campaigns in force, loaded once per request or batch (per-process cache: core.process_cache)."""
    return _config_cache.get("all", _config_load)


def campaign_applies(
    campaign: CampaignInForce, config: CampaignsConfig, *, member_pk: int | None, currency: str, at, shop_id
) -> bool:
    """Whether `campaign` counts for an order (or action) of `member_pk` at `at` in `shop_id` (no query)."""
    if not (campaign.starts_at <= at < campaign.ends_at):
        return False
    if campaign.currency and campaign.currency != currency:
        return False
    if campaign.shop_ids and (shop_id is None or _norm(shop_id) not in campaign.shop_ids):
        return False
    if campaign.segment_ids and (
        member_pk is None or not any(member_pk in config.audiences.get(s, ()) for s in campaign.segment_ids)
    ):
        return False
    return campaign.budget is None or campaign.points_given < campaign.budget


def campaign_boosts(
    config, *, account, order: OrderInput, at: dt.datetime, shop_id: str | None
) -> tuple[tuple, tuple[Multiplier, ...]]:
    """The campaigns' extra rules and multipliers for one order (no query)."""
    if not config or not config.campaigns:
        return (), ()
    member_pk = None if account is None else account.member_id
    currency = order.currency.strip().upper()
    rules, multipliers = [], []
    for campaign in config.campaigns:
        if not campaign_applies(campaign, config, member_pk=member_pk, currency=currency, at=at, shop_id=shop_id):
            continue
        if campaign.multiplier is not None:
            multipliers.append(campaign.multiplier)
        else:
            rule = campaign.rule
            rules.append(rule if rule.currency else replace(rule, currency=currency))
    return tuple(rules), tuple(multipliers)


def campaign_action_offers(*, event: str, member, shop_id: str | None, at: dt.datetime) -> list[CampaignInForce]:
    """The action bonuses in force for `event` by `member` in `shop_id` at `at` (one query, none while this
    process's copy is fresh); rewards.services.events gives them with the event rules' points."""
    config = _config_cache.get("actions", lambda: _config_load(actions=True))
    event = _norm(event)
    return [
        c
        for c in config.campaigns
        if c.event == event
        and c.points > 0
        and campaign_applies(c, config, member_pk=member.pk, currency=c.currency, at=at, shop_id=shop_id)
    ]


def campaign_actions_award(*, offers: Sequence[CampaignInForce], member) -> list[tuple[CampaignInForce, "Grant"]]:
    """Inside the event's transaction, the member's account locked: what each action bonus gives within its
    budget and the member's limit (recorded in CampaignMember)."""
    if not offers:
        return []
    _campaigns, grants = _campaigns_use([(member.pk, {c.public_id: c.points for c in offers})])
    return [(c, grants[0][c.public_id]) for c in offers]


# --- inside the orders' transaction ------------------------------------------------------------------


def _campaign_points(breakdown: dict) -> dict[str, int]:
    """Points each campaign (by public id) gave in a stored breakdown."""
    found: dict[str, int] = {}
    for summary in (*breakdown.get("rules", ()), *breakdown.get("multipliers", ())):
        if summary.get("source") == "campaign" and summary.get("points", 0) > 0:
            found[summary["ref"]] = found.get(summary["ref"], 0) + summary["points"]
    return found


def _points_per_unit(points: int, quantity: str) -> str:
    q = Decimal(quantity)
    return str((Decimal(points) / q).quantize(Decimal("0.0001")) if q else Decimal(0))


def breakdown_capped(breakdown: dict, *, ref: str, keep: int, reason: str) -> dict:
    """A copy of a stored breakdown in which campaign `ref` gave `keep` points instead of what it gave, shared
    among the lines as it was (largest remainder), with a note; the lines still add up to the total. With
    `keep` 0 the campaign's parts are left out, as when it does not apply at all."""
    out = {**breakdown}
    lines = [{**line, "rules": [dict(c) for c in line["rules"]]} for line in breakdown.get("lines", ())]
    unallocated = [dict(c) for c in breakdown.get("unallocated_rules", ())]
    parts = [(line, c) for line in lines for c in line["rules"] if c["source"] == "campaign" and c["ref"] == ref]
    parts += [(None, c) for c in unallocated if c["source"] == "campaign" and c["ref"] == ref]
    given = sum(c["points"] for _, c in parts)
    shares = _allocate(keep, [c["points"] for _, c in parts]) if given else [0] * len(parts)
    for (line, c), share in zip(parts, shares, strict=True):
        cut = c["points"] - share
        c["points"] = share
        if line is not None:
            line["points"] -= cut
            line["points_per_unit"] = _points_per_unit(line["points"], line["quantity"])
        else:
            out["unallocated_points"] = out.get("unallocated_points", 0) - cut
    mine = lambda c: c.get("source") == "campaign" and c.get("ref") == ref  # noqa: E731
    if keep == 0:  # the campaign gave nothing: it leaves the breakdown as if it had not applied (the note says why)
        for line in lines:
            line["rules"] = [c for c in line["rules"] if not mine(c)]
        unallocated = [c for c in unallocated if not mine(c)]
    out["lines"], out["unallocated_rules"] = lines, unallocated
    for key in ("rules", "multipliers"):
        out[key] = [
            {**s, "points": keep} if mine(s) else dict(s) for s in breakdown.get(key, ()) if keep or not mine(s)
        ]
    out["points"] = breakdown["points"] - (given - keep)
    out["notes"] = [*breakdown.get("notes", ()), {"code": "campaign_capped", "message": reason, "ref": ref}]
    return out


def _member_usage_upsert(rows: dict[tuple[int, int], list], at: dt.datetime) -> None:
    """Add (points, times) to each (campaign, member) in one INSERT ... ON CONFLICT DO UPDATE (PostgreSQL and
    SQLite alike); rows of one member are serialised by the member's account lock the ledger holds."""
    table = connection.ops.quote_name(CampaignMember._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    params = []
    for (campaign_pk, member_pk), (points, times) in rows.items():
        params += [campaign_pk, member_pk, points, times, at, at]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, member_id, points, times, first_at, last_at) VALUES {values} "
            f"ON CONFLICT (campaign_id, member_id) DO UPDATE SET points = {table}.points + excluded.points, "
            f"times = {table}.times + excluded.times, last_at = excluded.last_at",
            params,
        )


@dataclass(frozen=True)
class Grant:
    points: int  # what the campaign gives (at most what was asked)
    why: str = ""  # why less was given, in words


def _campaigns_use(wanted: Sequence[tuple[int, dict[str, int]]]) -> tuple[dict[str, Campaign], list[dict[str, Grant]]]:
    """The core of budgets and limits, inside the caller's transaction with the members' accounts locked:
    for each (member pk, {campaign public id: points asked}), in order, what each campaign gives within its
    budget and the member's limit; the budgets' counters and CampaignMember are updated. A constant number
    of queries whatever the number of requests."""
    refs = {ref for _, parts in wanted for ref in parts}
    campaigns = {str(c.public_id): c for c in Campaign.objects.filter(public_id__in=refs).order_by("pk")}
    budgeted = sorted(c.pk for c in campaigns.values() if c.budget is not None)
    budget_left: dict[int, int] = {}
    if budgeted:
        # The row locks make concurrent orders take their turn on a budget (in pk order: no deadlock); the
        # budget left is read under the lock, so it is exact. Campaigns without a budget take no lock.
        locked = Campaign.objects.select_for_update().filter(pk__in=budgeted).order_by("pk")
        budget_left = {pk: budget - given for pk, budget, given in locked.values_list("pk", "budget", "points_given")}
    member_left: dict[tuple[int, int], int] = {}
    limited = [c for c in campaigns.values() if c.member_limit is not None]
    if limited:
        members = {member_pk for member_pk, _ in wanted}
        # Consistent without a lock of its own: the ledger holds each member's account lock until commit, and
        # every writer of a member's usage holds it.
        used = CampaignMember.objects.filter(campaign__in=limited, member_id__in=members).values_list(
            "campaign_id", "member_id", "points"
        )
        used_by = {(c, m): p for c, m, p in used}
        member_left = {(c.pk, m): c.member_limit - used_by.get((c.pk, m), 0) for c in limited for m in members}

    grants: list[dict[str, Grant]] = []
    usage: dict[tuple[int, int], list] = {}
    for member_pk, parts in wanted:
        given: dict[str, Grant] = {}
        for ref, points in parts.items():
            campaign = campaigns.get(ref)
            if campaign is None:  # deleted since the order was evaluated: nothing to count it against
                given[ref] = Grant(points)
                continue
            key = (campaign.pk, member_pk)
            grant, why = points, ""
            if campaign.pk in budget_left and budget_left[campaign.pk] < grant:
                grant, why = max(budget_left[campaign.pk], 0), "the campaign's budget is used up"
            if key in member_left and member_left[key] < grant:
                grant, why = max(member_left[key], 0), "the member reached the campaign's limit"
            if campaign.pk in budget_left:
                budget_left[campaign.pk] -= grant
            if key in member_left:
                member_left[key] -= grant
            given[ref] = Grant(grant, why)
            if grant > 0:
                row = usage.setdefault(key, [0, 0])
                row[0] += grant
                row[1] += 1
        grants.append(given)
    if usage:
        _member_usage_upsert(usage, timezone.now())
    if budget_left:
        changed = []
        for c in campaigns.values():
            if c.pk in budget_left:
                c.points_given = c.budget - budget_left[c.pk]  # never above the budget: grants were capped
                changed.append(c)
        Campaign.objects.bulk_update(changed, ["points_given"])
    return campaigns, grants


def campaigns_orders_earned(earned: Sequence) -> None:
    """Inside the orders' transaction: use up the campaigns' budgets and per-member limits, never beyond
    them (a capped order loses the part of its campaign points that did not fit); record what each
    campaign gave each member. No query when no order got campaign points."""
    wanted = [(e, _campaign_points(e.breakdown)) for e in earned]
    wanted = [(e, parts) for e, parts in wanted if parts]
    if not wanted:
        return
    campaigns, grants = _campaigns_use([(e.member.pk, parts) for e, parts in wanted])
    for (e, parts), given in zip(wanted, grants, strict=True):
        breakdown, cut = e.breakdown, 0
        for ref, points in parts.items():
            grant = given[ref]
            if grant.points < points:
                cut += points - grant.points
                reason = f"{campaigns[ref].name}: {grant.points} of {points} bonus points given; {grant.why}."
                breakdown = breakdown_capped(breakdown, ref=ref, keep=grant.points, reason=reason)
        if cut:
            _order_capped(e.order, member=e.member, breakdown=breakdown, cut=cut)


def _order_capped(order, *, member, breakdown: dict, cut: int) -> None:
    """Lower an order's points by `cut` campaign points that did not fit a budget or limit: its breakdown and
    points, and its lot by a reversal entry (in the order's transaction, before anyone saw the points)."""
    from integrations.models import Order

    points_reverse(
        lot=order.lot,
        points=cut,
        reason=f"Order {order.external_id}: campaign points over a budget or limit",
        actor=Actor.system("campaigns"),
        idempotency_key=f"campaign-cap:{order.public_id}",
    )
    # The caller's account object (webhooks and answers read its balance) gets the balance just written.
    member.points_account.refresh_from_db(fields=["available", "pending", "debt", "lifetime_earned"])
    order.breakdown = breakdown
    order.points = breakdown["points"]
    Order.objects.filter(pk=order.pk).update(breakdown=breakdown, points=order.points, updated_at=timezone.now())


def campaign_points_given_sync(*, campaign: Campaign) -> Campaign:
    """Set a campaign's `points_given` to what CampaignMember says it gave (for a budget added to a campaign
    that ran without one: only budgeted campaigns keep the counter), under its row lock."""
    from django.db.models import Sum

    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        given = CampaignMember.objects.filter(campaign=locked).aggregate(s=Sum("points"))["s"] or 0
        if locked.budget is not None:
            given = min(given, locked.budget)
        Campaign.objects.filter(pk=locked.pk).update(points_given=given)
        campaign.points_given = given
    return campaign
