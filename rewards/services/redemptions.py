"""Redeeming a reward: one service for the member pages, the widget and the shops' API.

In one transaction `reward_redeem` checks the reward and the member (rewards.selectors.catalogue.reward_refusal),
takes a unit of stock, debits the points through the ledger, and hands out what the reward gives: a coupon,
store credit, a donation or a perk. It publishes `reward.redeemed` in the same transaction.

Concurrency. Locks are always taken in this order: the member's points account, then the reward's row.
- The account lock serialises one member's redemptions, so the per-member limit is counted under it and two
  copies of one request (a double click) find each other's redemption by its key.
- Stock is taken with one conditional UPDATE (`units_issued < stock_total`), which holds the reward's row
  lock until commit: members racing for the last units queue there, and each sees the count the one
  before it committed. The ledger then locks the same account again (already held).
"""

import datetime as dt
from decimal import ROUND_DOWN, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.exceptions import ApplicationError
from members.models import Member
from rewards.models import Coupon, PointsAccount, Redemption, Reward
from rewards.selectors import program_get
from rewards.selectors.catalogue import redeemed_counts, reward_refusal
from rewards.services.coupons import coupon_issue
from rewards.services.ledger import Actor, points_redeem
from rewards.services.segments import member_segment_ids
from rewards.services.store_credit import store_credit_add

Channel = Redemption.Channel
Kind = Reward.Kind
KEY_MAX = 128
CENT = Decimal("0.01")


def _key_clean(idempotency_key: str) -> str:
    key = (idempotency_key or "").strip() if isinstance(idempotency_key, str) else ""
    if not key or len(key) > KEY_MAX:
        raise ApplicationError(
            f"Give an idempotency key of 1 to {KEY_MAX} characters.", code="validation_error", status=400
        )
    return key


def _conflict(key: str) -> ApplicationError:
    return ApplicationError(
        "This idempotency key was already used for a different redemption.",
        code="idempotency_conflict",
        status=409,
        extra={"idempotency_key": key},
    )


def _replayed(*, member: Member, key: str, reward: Reward, points: int | None) -> Redemption | None:
    """The redemption an earlier call with this key made, or None; the key used for another reward (or another
    amount of points, for pay-with-points) is a 409."""
    redemption = (
        Redemption.objects.select_related("reward", "coupon", "cause", "shop")
        .filter(member=member, idempotency_key=key)
        .first()
    )
    if redemption is None:
        return None
    if redemption.reward_id != reward.pk or (points is not None and redemption.points != points):
        raise _conflict(key)
    return redemption


def _actor(*, member: Member, channel: str, shop) -> Actor:
    if channel == Channel.API:
        return Actor.shop(str(shop.public_id))
    return Actor.member(member.user)


def _cost(reward: Reward, points: int | None) -> int:
    """The points this redemption costs: the reward's price, or for pay-with-points the member's choice."""
    if reward.kind != Kind.PAY_WITH_POINTS:
        if points is not None and points != reward.points:
            raise ApplicationError(
                f"This reward costs {reward.points} points; leave out `points` or send that.",
                code="invalid_points",
                extra={"points": reward.points},
            )
        return reward.points
    if points is None or isinstance(points, bool) or not isinstance(points, int):
        raise ApplicationError(
            f"Choose how many points to pay with, from {reward.min_points} to {reward.max_points}.",
            code="invalid_points",
            extra={"min_points": reward.min_points, "max_points": reward.max_points},
        )
    if not reward.min_points <= points <= reward.max_points:
        raise ApplicationError(
            f"Pay with {reward.min_points} to {reward.max_points} points.",
            code="invalid_points",
            extra={"min_points": reward.min_points, "max_points": reward.max_points, "points": points},
        )
    return points


def _value(reward: Reward, points: int) -> Decimal | None:
    """The money value the redemption gives (None when it is not known up front: percentages, free shipping,
    free products, perks)."""
    if reward.kind == Kind.PAY_WITH_POINTS:
        return (Decimal(points) / Decimal(reward.points_per_unit)).quantize(CENT, rounding=ROUND_DOWN)
    if reward.kind in (Kind.FIXED_AMOUNT, Kind.STORE_CREDIT):
        return reward.value
    return None


def _refuse(refusal) -> ApplicationError:
    return ApplicationError(refusal.message, code=refusal.code, extra=refusal.details)


def _stock_take(reward: Reward) -> None:
    """One unit of the reward, or 422 out_of_stock. A conditional UPDATE: it waits for the row lock of any
    redemption of this reward in flight and re-reads the count after it commits."""
    taken = (
        Reward.objects.filter(pk=reward.pk)
        .filter(Q(stock_total__isnull=True) | Q(units_issued__lt=F("stock_total")))
        .update(units_issued=F("units_issued") + 1)
    )
    if not taken:
        raise ApplicationError("This reward is out of stock.", code="out_of_stock")


def reward_redeem(
    *,
    member: Member,
    reward: Reward,
    idempotency_key: str,
    channel: str,
    shop=None,
    points: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[Redemption, bool]:
    """Redeem `reward` for `member` in one transaction: checks, a unit of stock, the points debited through the
    ledger, then the coupon, store credit, donation or perk; returns (redemption, created). The same key again
    returns the first redemption (also when two copies race); the key with another reward is a 409. `points`:
    the member's choice for pay-with-points (ignored otherwise unless it contradicts the price). Refusals are
    422s: reward_inactive, member_not_active, not_eligible, out_of_stock, limit_reached, insufficient_points,
    invalid_points."""
    key = _key_clean(idempotency_key)
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    if channel != Channel.WEB and shop is None:
        raise ValueError("a widget or API redemption names its shop")
    try:
        with transaction.atomic():
            # Lock order: the account, then the reward's row (in _stock_take). Never the other way round.
            account = (
                PointsAccount.objects.select_for_update(no_key=True, of=("self",))
                .select_related("member__user", "tier")
                .get(member_id=member.pk)
            )
            if redemption := _replayed(member=member, key=key, reward=reward, points=points):
                return redemption, False
            reward = (
                Reward.objects.select_related("min_tier", "cause")
                .prefetch_related("shops", "segments")
                .get(pk=reward.pk)
            )
            cost = _cost(reward, points)
            now = now or timezone.now()
            program = program_get()
            redeemed = redeemed_counts(member=member, rewards=[reward], now=now, program=program).get(reward.pk, 0)
            segment_ids = member_segment_ids(member=member) if reward.segments.all() else set()
            refusal = reward_refusal(
                reward=reward,
                account=account,
                shop=shop,
                now=now,
                segment_ids=segment_ids,
                redeemed_in_period=redeemed,
                points=cost,
            )
            if refusal is not None:
                raise _refuse(refusal)
            _stock_take(reward)
            entry = points_redeem(
                account=account,
                points=cost,
                reason=f"Reward: {reward.title}"[:500],
                actor=_actor(member=account.member, channel=channel, shop=shop),
                idempotency_key=f"redemption:{member.public_id}:{key}",
            )
            value = _value(reward, cost)
            redemption = Redemption.objects.create(
                member=member,
                reward=reward,
                points=cost,
                idempotency_key=key,
                channel=channel,
                shop=shop,
                kind=reward.kind,
                value=value,
                currency=reward.currency or program.currency,
                cause=reward.cause if reward.kind == Kind.DONATION else None,
                points_entry=entry,
            )
            _hand_out(redemption, reward=reward, value=value, now=now, reason=f"Reward: {reward.title}")
            _redeemed_publish(redemption, account=account)
    except IntegrityError:
        # A copy of this request committed the same key between our lock and insert: answer with it.
        if redemption := _replayed(member=member, key=key, reward=reward, points=points):
            return redemption, False
        raise
    return redemption, True


GIFTABLE = {Kind.FIXED_AMOUNT, Kind.PERCENTAGE, Kind.FREE_SHIPPING, Kind.FREE_PRODUCT, Kind.STORE_CREDIT, Kind.PERK}


def reward_grant(*, member: Member, reward: Reward, idempotency_key: str, reason: str) -> tuple[Redemption, bool]:
    """Give `member` one unit of `reward` for free (a referral reward): no points, no eligibility checks
    (whoever configured the gift chose it), one unit of stock taken if there is one; the coupon or store
    credit is issued as for a redemption, in the caller's transaction or its own. Returns (redemption,
    created); the same key again returns the first. Pay-with-points and donations cannot be given."""
    key = _key_clean(idempotency_key)
    if reward.kind not in GIFTABLE:
        raise ApplicationError(
            "Only a coupon, free shipping, a free product, store credit or a perk can be given.",
            code="reward_not_giftable",
            extra={"kind": reward.kind},
        )
    with transaction.atomic():
        # The member's account is locked as in reward_redeem, so two copies of one gift find each other.
        PointsAccount.objects.select_for_update(no_key=True).filter(member_id=member.pk).first()
        if redemption := Redemption.objects.filter(member=member, idempotency_key=key).first():
            return redemption, False
        _stock_take(reward)
        program = program_get()
        value = reward.value if reward.kind in (Kind.FIXED_AMOUNT, Kind.STORE_CREDIT) else None
        redemption = Redemption.objects.create(
            member=member,
            reward=reward,
            points=0,
            idempotency_key=key,
            channel=Channel.GIFT,
            kind=reward.kind,
            value=value,
            currency=reward.currency or program.currency,
        )
        _hand_out(redemption, reward=reward, value=value, now=timezone.now(), reason=reason)
    return redemption, True


def _hand_out(redemption: Redemption, *, reward: Reward, value: Decimal | None, now: dt.datetime, reason: str) -> None:
    """What a new redemption or gift gives, in its transaction: the coupon, or the store credit."""
    if reward.issues_coupon:
        coupon_issue(redemption=redemption, reward=reward, value=_coupon_value(reward, value), now=now)
    if reward.kind == Kind.STORE_CREDIT:
        store_credit_add(
            member=redemption.member,
            amount=value,
            currency=redemption.currency,
            kind="reward",
            reason=reason[:500],
            idempotency_key=f"redemption:{redemption.public_id}",
            source_ref=f"redemption:{redemption.public_id}",
        )


def _coupon_value(reward: Reward, value: Decimal | None) -> Decimal | None:
    return reward.value if reward.kind == Kind.PERCENTAGE else value


def redemption_coupon(redemption: Redemption) -> Coupon | None:
    """The coupon a redemption issued, or None (store credit, donations, perks)."""
    if redemption.kind not in Reward.COUPON_KINDS:
        return None
    try:
        return redemption.coupon
    except Coupon.DoesNotExist:
        return None


def redemption_data(redemption: Redemption, *, account: PointsAccount) -> dict:
    """The data of the `reward.redeemed` webhook (docs/webhooks.md)."""
    coupon = redemption_coupon(redemption)
    return {
        "redemption": {
            "id": str(redemption.public_id),
            "reward": {
                "id": str(redemption.reward.public_id),
                "kind": redemption.kind,
                "title": redemption.reward.title,
            },
            "points": redemption.points,
            "value": None if redemption.value is None else format(redemption.value, "f"),
            "currency": redemption.currency,
            "channel": redemption.channel,
            "shop_id": None if redemption.shop is None else str(redemption.shop.public_id),
            "created_at": redemption.created_at.isoformat(),
        },
        "member": {"id": str(redemption.member.public_id), "external_id": None},
        "coupon": None
        if coupon is None
        else {
            "code": coupon.code,
            "kind": coupon.kind,
            "value": None if coupon.value is None else format(coupon.value, "f"),
            "currency": coupon.currency,
            "sku": coupon.sku,
            "expires_at": None if coupon.expires_at is None else coupon.expires_at.isoformat(),
        },
        "balance": {"available": account.available, "pending": account.pending},
    }


def _redeemed_publish(redemption: Redemption, *, account: PointsAccount) -> None:
    """Webhook `reward.redeemed` to every shop the member is linked to, in the redemption's transaction."""
    from webhooks.services import member_event_publish  # webhooks imports integrations, which imports rewards

    member_event_publish(
        member=redemption.member, event="reward.redeemed", data=redemption_data(redemption, account=account)
    )
