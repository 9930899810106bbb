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
