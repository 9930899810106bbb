"""Reads of campaigns and segments: what a member can benefit from now ("how to earn"), and the figures
staff see per campaign."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import formats, timezone

from rewards.models import Campaign, CampaignMember
from rewards.services.segments import member_segment_ids

_FACTOR_WORDS = {Decimal(2): "Double", Decimal(3): "Triple", Decimal(4): "Quadruple"}


def _amount(value: Decimal) -> str:
    """2.0000 -> "2", 1.5000 -> "1.5"."""
    text = format(Decimal(value).normalize(), "f")
    return text


def _what(campaign: Campaign) -> str:
    names = [*campaign.categories, *campaign.skus]
    return ", ".join(str(n) for n in names) if names else "everything"


def campaign_description(campaign: Campaign) -> str:
    """The campaign in plain words for members: staff's own description, else one written from its settings."""
    if campaign.description.strip():
        return campaign.description.strip()
    factor = Decimal(campaign.factor).normalize()
    match campaign.kind:
        case Campaign.Kind.ORDER_MULTIPLIER:
            words = _FACTOR_WORDS.get(factor)
            text = f"{words} points on every order" if words else f"{_amount(factor)}x points on every order"
        case Campaign.Kind.PRODUCT_MULTIPLIER:
            text = f"{_amount(factor)}x points on {_what(campaign)}"
        case Campaign.Kind.PRODUCT_POINTS:
            text = f"{_amount(campaign.points)} extra points for each {_what(campaign)} you buy"
        case _:
            text = f"{_amount(campaign.points)} extra points when you do this: {campaign.event.replace('_', ' ')}"
    ends = formats.date_format(timezone.localtime(campaign.ends_at), "j F Y, H:i")
    text += f", until {ends}"
    if campaign.currency:
        text += f" (orders in {campaign.currency})"
    if campaign.member_limit:
        text += f"; up to {campaign.member_limit} extra points per member"
    return text + "."


@dataclass(frozen=True)
class MemberCampaign:
    public_id: str
    name: str
    kind: str
    description: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    shop_ids: tuple[str, ...]  # empty: every shop
    targeted: bool  # an offer for a segment the member is in


def campaigns_in_force(*, at: dt.datetime | None = None) -> QuerySet[Campaign]:
    at = at or timezone.now()
    return Campaign.objects.filter(is_active=True, starts_at__lte=at, ends_at__gt=at)


def campaigns_for_member(*, member, at: dt.datetime | None = None) -> list[MemberCampaign]:
    """The campaigns in force at `at` (default now) that `member` can benefit from: every campaign for all
    members, and the targeted ones whose segments hold the member; those whose budget is used up are left
    out. Shop scoping is not a filter: each lists its shops (`shop_ids`, empty for all). Ending soonest
    first. A few queries, whatever the number of campaigns."""
    campaigns = list(campaigns_in_force(at=at).prefetch_related("segments").order_by("ends_at", "pk"))
    targeted = [c for c in campaigns if c.segments.all()]
    mine = member_segment_ids(member=member) if targeted else set()
    result = []
    for c in campaigns:
        segment_ids = {s.pk for s in c.segments.all()}
        if segment_ids and not segment_ids & mine:
            continue
        if c.budget is not None and c.points_given >= c.budget:
            continue
        result.append(
            MemberCampaign(
                public_id=str(c.public_id),
                name=c.name,
                kind=c.kind,
                description=campaign_description(c),
                starts_at=c.starts_at,
                ends_at=c.ends_at,
                shop_ids=tuple(str(s) for s in c.shop_ids or ()),
                targeted=bool(segment_ids),
            )
        )
    return result


def campaigns_with_figures(queryset: QuerySet[Campaign] | None = None) -> QuerySet[Campaign]:
    """Campaigns annotated with what they gave: `given_points`, `given_times` (orders and actions) and
    `members_count` (members reached), from CampaignMember, in one query."""
    queryset = Campaign.objects.all() if queryset is None else queryset
    usage = CampaignMember.objects.filter(campaign=OuterRef("pk")).order_by().values("campaign")

    def total(expression):
        return Coalesce(Subquery(usage.annotate(v=expression).values("v"), output_field=IntegerField()), 0)

    return queryset.annotate(
        given_points=total(Sum("points")), given_times=total(Sum("times")), members_count=total(Count("pk"))
    )


@dataclass(frozen=True)
class CampaignPreview:
    currency: str
    order_total: Decimal
    line: str  # what the sample order holds, in words
    points: int  # all the order earns with the campaign
    campaign_points: int  # of which the campaign gives (before any budget or limit)


def campaign_preview(campaign: Campaign, *, total: Decimal = Decimal(100)) -> CampaignPreview | None:
    """What a sample order (one product for `total`, of the campaign's first category or SKU, in its
    currency or the first one with earning rules) earns under today's earning rules with this campaign, at
    its start; None when no earning rule has a currency to show. For the admin; a few queries."""
    from rewards.models import EarningRule
    from rewards.selectors import earning_rules_active
    from rewards.services.campaigns import CampaignsConfig, _in_force, campaign_boosts
    from rewards.services.earning import MemberContext, OrderInput, OrderLine, evaluate_order

    currency = campaign.currency or (
        EarningRule.objects.filter(is_active=True).order_by("id").values_list("currency", flat=True).first()
    )
    if not currency:
        return None
    shop_id = (campaign.shop_ids or [None])[0]
    category = (campaign.categories or [""])[0]
    sku = (campaign.skus or ["SAMPLE"])[0]
    at = campaign.starts_at
    order = OrderInput(
        currency,
        total,
        total,
        Decimal(0),
        Decimal(0),
        Decimal(0),
        at,
        (OrderLine(sku, "", category, 1, total, total),),
        shop_id,
    )
    config = CampaignsConfig(campaigns=(_in_force(campaign, frozenset()),))
    rules, multipliers = campaign_boosts(config, account=None, order=order, at=at, shop_id=shop_id)
    earning = earning_rules_active(currency=currency, shop_id=shop_id, at=at)
    breakdown = evaluate_order(order, [*earning, *rules], member=MemberContext(), now=at, multipliers=multipliers)
    ref = str(campaign.public_id)
    given = sum(s.points for s in (*breakdown.rules, *breakdown.multipliers) if s.ref == ref)
    what = f"1 × {category or sku}" if (category or campaign.skus) else "1 product"
    return CampaignPreview(currency, total, what, breakdown.points, given)
