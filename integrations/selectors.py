"""Reads for shops and API keys."""

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import QuerySet, Sum
from django.utils import timezone

from integrations.keys import key_hash_matches, key_prefix
from integrations.models import ApiKey, Shop, ShopCustomer
from rewards.models import PointEntry, PointLot, PointsAccount
from rewards.selectors import account_entries, next_expiry_get, program_get


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The live key (with its shop) that `raw` is, or None: malformed, unknown, wrong secret, revoked, or its
    shop inactive. One indexed query by the unique prefix, then a constant-time comparison of hashes."""
    raw = (raw or "").strip()
    prefix = key_prefix(raw)
    if prefix is None:
        return None
    api_key = ApiKey.objects.select_related("shop").filter(prefix=prefix).first()
    if api_key is None or not key_hash_matches(raw, api_key.key_hash):
        return None
    if api_key.is_revoked(timezone.now()) or not api_key.shop.active:
        return None
    return api_key


# --- members as shops see them ----------------------------------------------------------------------

EXPIRING_DATES = 3  # how many upcoming expiry dates a member's summary lists


def shop_customer_get(
    *, shop: Shop, member_id: uuid.UUID | None = None, external_id: str | None = None, email: str | None = None
) -> ShopCustomer | None:
    """The shop's link to a member found by the member's public id, the shop's external id or the e-mail,
    with the member, login and points account (one query); None if that member is not the shop's customer."""
    links = ShopCustomer.objects.select_related("member__user", "member__points_account").filter(shop=shop)
    if member_id is not None:
        links = links.filter(member__public_id=member_id)
    elif external_id is not None:
        links = links.filter(external_id=external_id.strip())
    elif email is not None:
        links = links.filter(member__user__email__iexact=email.strip())
    else:
        return None
    return links.first()


@dataclass(frozen=True)
class Expiring:
    points: int
    expires_at: dt.datetime


def points_expiring(*, account: PointsAccount, limit: int = EXPIRING_DATES) -> list[Expiring]:
    """The next `limit` dates on which some of the member's points expire, with how many: from the live
    (pending and available) lots in one grouped query, or, under the inactivity policy, all available points
    at the end of the inactivity period (rewards.selectors.next_expiry_get)."""
    program = program_get()
    if program.expiry_policy == program.Expiry.INACTIVITY:
        nxt = next_expiry_get(account=account)
        return [] if nxt is None else [Expiring(points=nxt.points, expires_at=nxt.expires_at)]
    rows = (
        PointLot.objects.filter(
            account=account, state__in=[PointLot.State.PENDING, PointLot.State.AVAILABLE], expires_at__isnull=False
        )
        .values("expires_at")
        .annotate(points=Sum("remaining"))
        .order_by("expires_at")[:limit]
    )
    return [Expiring(points=row["points"], expires_at=row["expires_at"]) for row in rows]


def member_activity(*, account: PointsAccount) -> QuerySet[PointEntry]:
    """The member's ledger entries, newest first (rewards.selectors.account_entries)."""
    return account_entries(account=account)
