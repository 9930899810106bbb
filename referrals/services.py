"""Writes of the referral program: codes, clicks, attribution at sign-up, qualification by the friend's
orders, the rewards of both sides, reversal on refunds, the review queue and invitations.

The life of a referral (docs/referrals.md):
1. `referral_click`: a browser follows /r/<code>; a Referral in status `clicked` (no personal data) whose
   id goes into a signed cookie for `attribution_days`.
2. `referral_join`: the friend signs up (web, with the cookie or a typed code) or a shop registers them with
   `referral_code`. The checks gather `facts`; `checks.decide` accepts, holds for review or rejects. An
   accepted friend gets their reward at once; with the `signup` trigger the referral qualifies then too.
3. `referrals_orders_earned`: inside the transaction of each order of a referred member (the boosts seam),
   an order that qualifies makes the referrer's reward, pending until the order's return window has passed.
4. `referral_order_reversed`: a refund or cancel of that order inside its transaction reverses the pending
   reward (once the window has passed, the reward is the referrer's).
5. `referral_rewards_release`: a periodic task grants pending rewards that are due and not held.

Locks: a referral's row is locked (select_for_update) before its rewards are made or changed, so two orders
of one friend at the same moment make one reward; the (referral, side, sequence) constraint backs that up.
Order of locks on the order path: the friend's points account (the ledger), then the referral row; the
referrer's account is only locked by the release, in its own transaction, never inside the friend's.
"""

import datetime as dt
import logging
import secrets
import unicodedata
from collections.abc import Sequence
from decimal import Decimal

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.exceptions import ApplicationError
from members.models import Member
from referrals import checks
from referrals.models import Referral, ReferralCode, ReferralInvite, ReferralProgram, ReferralReward
from referrals.selectors import referral_program_cached, referral_program_get
from rewards.models import PointLot
from rewards.selectors import program_get
from rewards.services.ledger import Actor, points_earn

Status = Referral.Status
Review = Referral.Review
RewardStatus = ReferralReward.Status
LIVE_STATUSES = (Status.SIGNED_UP, Status.QUALIFIED, Status.REWARDED)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read aloud and typed
CODE_SUFFIX = 4
COOKIE_SALT = "referrals.click"
SEEN_KEEP = 5  # hashes of the last IPs and devices a member was seen on
logger = logging.getLogger(__name__)


# --- codes ------------------------------------------------------------------------------------------------


def code_clean(code: str | None) -> str:
    """A typed or linked code as stored: upper case, no spaces or dashes."""
    return "".join(ch for ch in str(code or "").upper() if ch.isalnum())[:16]


def _code_new(member: Member) -> str:
    name = unicodedata.normalize("NFKD", member.first_name).encode("ascii", "ignore").decode()
    prefix = "".join(ch for ch in name.upper() if ch.isalpha())[:6] or "FRIEND"
    return prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_SUFFIX))


def referral_code_get_or_create(*, member: Member) -> ReferralCode:
    """The member's referral code, made on first use (a clash of random suffixes is retried)."""
    if found := ReferralCode.objects.filter(member=member).first():
        return found
    for _ in range(8):
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(member=member, code=_code_new(member))
        except IntegrityError:
            if found := ReferralCode.objects.filter(member=member).first():
                return found  # made by a request at the same moment
    raise ApplicationError("Could not make a referral code; please try again.", code="code_exhausted")


def referral_code_seen(*, member: Member, ip: str = "", device: str = "") -> None:
    """Remember (as keyed hashes) the IP and device the member was just seen on, for the same-device and
    same-IP checks on the friends they bring."""
    code = referral_code_get_or_create(member=member)
    ip_hash, device_hash = checks.keyed_hash("ip", ip), checks.keyed_hash("device", device)
    seen_ips = _seen_add(code.seen_ips, ip_hash)
    seen_devices = _seen_add(code.seen_devices, device_hash)
    if seen_ips != code.seen_ips or seen_devices != code.seen_devices:
        ReferralCode.objects.filter(pk=code.pk).update(seen_ips=seen_ips, seen_devices=seen_devices)


def _seen_add(seen: list, value: str) -> list:
    if not value:
        return seen
    return ([value] + [v for v in seen if v != value])[:SEEN_KEEP]


# --- clicks and attribution --------------------------------------------------------------------------------


def referral_click(*, code: str, cookie: str | None = None) -> tuple[Referral | None, str | None]:
    """A browser followed /r/<code>. Returns (referral, cookie value to set): a new `clicked` referral and
    its signed cookie; (None, None) for an unknown code or an inactive program; with first-click
    attribution a browser that already carries a live click keeps it (None, None)."""
    rules = referral_program_get()
    owner = ReferralCode.objects.filter(code=code_clean(code)).select_related("member").first()
    if not rules.active or owner is None or owner.member.status != Member.Status.ACTIVE:
        return None, None
    current = click_from_cookie(cookie, rules=rules)
    if current is not None and (
        rules.attribution == ReferralProgram.Attribution.FIRST_CLICK or current.code == owner.code
    ):
        return None, None
    referral = Referral.objects.create(
        referrer=owner.member,
        code=owner.code,
        channel=Referral.Channel.LINK,
        status=Status.CLICKED,
        clicked_at=timezone.now(),
    )
    return referral, signing.dumps(str(referral.public_id), salt=COOKIE_SALT)


def click_from_cookie(cookie: str | None, *, rules: ReferralProgram | None = None) -> Referral | None:
    """The clicked referral a signed cookie names, if it is still within the attribution window."""
    if not cookie:
        return None
    rules = rules or referral_program_get()
    try:
        public_id = signing.loads(cookie, salt=COOKIE_SALT, max_age=dt.timedelta(days=rules.attribution_days))
    except signing.BadSignature:
        return None
    return Referral.objects.filter(public_id=public_id, status=Status.CLICKED).select_related("referrer").first()


# --- joining ----------------------------------------------------------------------------------------------


def referral_join(
    *,
    friend: Member,
    code: str | None = None,
    cookie: str | None = None,
    channel: str = Referral.Channel.CODE,
    ip: str = "",
    device: str = "",
    existed: bool = False,
) -> Referral | None:
    """Attribute `friend` to a referrer: by the click in `cookie` (a link) or by `code` (typed, or sent by a
    shop); the typed code wins when both are there. Runs the checks and stores the decision with its
    reasons: accepted (the friend's reward is given now; with the `signup` trigger the referral qualifies),
    held for review, or rejected. `existed`: the friend was a member before this call (a shop's upsert of
    a known customer). Returns None when there is nothing to attribute (no code, no live click, inactive
    program); an unknown code, or one of a member who is not active, is a 422 `unknown_referral_code`."""
    rules = referral_program_get()
    if not rules.active:
        return None
    click = None
    if code_clean(code):
        owner = ReferralCode.objects.filter(code=code_clean(code)).select_related("member__user").first()
        # A suspended or closed member's code brings nobody (said as "unknown": their status is theirs).
        if owner is None or owner.member.status != Member.Status.ACTIVE:
            raise ApplicationError(
                "No member has this referral code.", code="unknown_referral_code", extra={"referral_code": code}
            )
    else:
        click = click_from_cookie(cookie, rules=rules)
        if click is None:
            return None
        owner = ReferralCode.objects.select_related("member__user").get(member_id=click.referrer_id)
        if owner.member.status != Member.Status.ACTIVE:
            return None
        channel = Referral.Channel.LINK
    now = timezone.now()
    with transaction.atomic():
        # The referrer's code row is the lock that serialises their sign-ups, so the velocity counts hold.
        owner = ReferralCode.objects.select_for_update().select_related("member__user").get(pk=owner.pk)
        referrer = owner.member
        friend = Member.objects.select_related("user").get(pk=friend.pk)
        email_hash = checks.keyed_hash("email", checks.email_canonical(friend.user.email))
        ip_hash, device_hash = checks.keyed_hash("ip", ip), checks.keyed_hash("device", device)
        facts = _join_facts(
            referrer=referrer,
            friend=friend,
            owner=owner,
            email_hash=email_hash,
            ip_hash=ip_hash,
            device_hash=device_hash,
            existed=existed,
            now=now,
        )
        decision = checks.decide(facts, rules)
        if click is None or click.referrer_id != referrer.pk:
            click = Referral(referrer=referrer, code=owner.code, channel=channel)
        click.friend = None if facts["same_member"] else friend
        click.channel = channel if click.pk is None else click.channel
        click.facts, click.decisions = facts, decision.reasons
        click.email_hash, click.ip_hash, click.device_hash = email_hash, ip_hash, device_hash
        click.signed_up_at = now
        if click.friend is None:  # the referrer's own sign-up link: nothing to attribute
            return None
        _decision_apply(click, decision, now=now)
        try:
            with transaction.atomic():
                click.save()
        except IntegrityError:
            # Another path referred this friend at the same moment (the friend-once constraint let it in).
            if other := Referral.objects.filter(friend=friend).exclude(status=Status.REJECTED).first():
                return other
            raise
        if decision.outcome == checks.ACCEPT:
            _accepted(click, rules=rules, now=now)
    return click


def _join_facts(*, referrer, friend, owner, email_hash, ip_hash, device_hash, existed, now) -> dict:
    from integrations.models import Order, ShopCustomer  # integrations builds on members and rewards

    friend_email = friend.user.email
    earlier = Referral.objects.filter(referrer=referrer).exclude(friend=None).exclude(friend=friend)
    friends_hashes = earlier.filter(signed_up_at__gte=now - dt.timedelta(days=365))
    same_ip = bool(ip_hash) and (ip_hash in owner.seen_ips or friends_hashes.filter(ip_hash=ip_hash).exists())
    same_device = bool(device_hash) and (
        device_hash in owner.seen_devices or friends_hashes.filter(device_hash=device_hash).exists()
    )
    return {
        "same_member": friend.pk == referrer.pk,
        "same_email": checks.email_canonical(friend_email) == checks.email_canonical(referrer.user.email),
        "already_member": existed,
        "already_customer": Order.objects.filter(
            Q(member=friend) | Q(status="unmatched", email=friend_email.lower())
        ).exists()
        or (existed and ShopCustomer.objects.filter(member=friend).exists()),
        "already_referred": Referral.objects.filter(Q(friend=friend) | Q(email_hash=email_hash))
        .exclude(status__in=[Status.REJECTED, Status.CLICKED])
        .exists(),
        "same_ip": same_ip,
        "same_device": same_device,
        # Counting this one: the 6th sign-up of a day is over a limit of 5.
        "referrer_day": earlier.filter(signed_up_at__gte=now - dt.timedelta(days=1)).count() + 1,
        "referrer_week": earlier.filter(signed_up_at__gte=now - dt.timedelta(days=7)).count() + 1,
    }


def _decision_apply(referral: Referral, decision: checks.Decision, *, now) -> None:
    """Set the status, review state and reason from a decision (at sign-up or at a qualifying order)."""
    reason = decision.first_reason
    if decision.outcome == checks.REJECT:
        referral.status = Status.REJECTED
        referral.rejected_at = now
        referral.review = Review.NONE if referral.review == Review.PENDING else referral.review
    elif decision.outcome == checks.FLAG and referral.review != Review.APPROVED:
        referral.review = Review.PENDING
    if referral.status in ("", Status.CLICKED):
        referral.status = Status.SIGNED_UP
    referral.reason_code = reason["code"] if reason else ""
    referral.reason = reason["message"] if reason else ""


def _held(referral: Referral) -> bool:
    return referral.review == Review.PENDING or referral.status == Status.REJECTED


def _accepted(referral: Referral, *, rules: ReferralProgram, now) -> None:
    """An accepted (or approved) sign-up: the friend's reward now; with the `signup` trigger the referrer's too."""
    _friend_reward_make(referral, rules=rules, now=now)
    if rules.trigger == ReferralProgram.Trigger.SIGNUP and not _held(referral):
        _qualify(referral, rules=rules, order=None, due_at=now, now=now)


def _friend_reward_make(referral: Referral, *, rules: ReferralProgram, now) -> None:
    if rules.friend_reward == ReferralProgram.FriendReward.NONE:
        return
    if rules.friend_reward == ReferralProgram.FriendReward.POINTS and not rules.friend_points:
        return
    if rules.friend_reward == ReferralProgram.FriendReward.REWARD and rules.friend_reward_item_id is None:
        return
    reward, created = _reward_row(
        referral,
        side=ReferralReward.Side.FRIEND,
        member=referral.friend,
        sequence=1,
        order=None,
        due_at=now,
        kind=rules.friend_reward,
        points=rules.friend_points if rules.friend_reward == ReferralProgram.FriendReward.POINTS else 0,
        reward_item=rules.friend_reward_item if rules.friend_reward == ReferralProgram.FriendReward.REWARD else None,
    )
    if created:
        # The friend is new: their account is free to lock in this transaction. A gift that cannot be given
        # now (out of stock) leaves the reward pending for the release, and the friend joined all the same.
        try:
            with transaction.atomic():
                _grant(reward, now=now)
        except ApplicationError as error:
            logger.warning("Referral reward %s not granted: %s (%s)", reward.pk, error.message, error.code)


def _reward_row(referral, *, side, member, sequence, order, due_at, kind, points=0, amount=None, reward_item=None):
    """The ReferralReward for (referral, side, sequence), made once (a savepoint catches a racing copy)."""
    try:
        with transaction.atomic():
            return (
                ReferralReward.objects.create(
                    referral=referral,
                    member=member,
                    side=side,
                    sequence=sequence,
                    order=order,
                    kind=kind,
                    points=points,
                    amount=amount,
                    currency=program_get().currency if amount is not None else "",
                    reward=reward_item,
                    due_at=due_at,
                ),
                True,
            )
    except IntegrityError:
        return ReferralReward.objects.get(referral=referral, side=side, sequence=sequence), False


# --- qualifying orders -------------------------------------------------------------------------------------


def referrals_orders_earned(earned: Sequence) -> None:
    """Inside the orders' transaction (rewards.services.boosts.orders_earned): the orders of referred
    members that qualify their referral make the referrer's reward, pending for the return window. One
    query for the whole batch when nobody in it was referred; nothing at all when the program is off."""
    rules = referral_program_cached()
    if not rules.active or rules.trigger == ReferralProgram.Trigger.SIGNUP:
        return
    by_friend: dict[int, list] = {}
    for item in earned:
        by_friend.setdefault(item.member.pk, []).append(item.order)
    referrals = list(
        Referral.objects.select_for_update(of=("self",))
        .filter(friend_id__in=by_friend, status__in=LIVE_STATUSES)
        .select_related("referrer__user")
        .order_by("pk")
    )
    if not referrals:
        return
    now = timezone.now()
    for referral in referrals:
        for order in sorted(by_friend[referral.friend_id], key=lambda o: (o.placed_at, o.pk)):
            _order_consider(referral, order, rules=rules, now=now)


def _order_qualifies(referral: Referral, order, *, rules: ReferralProgram) -> bool:
    if order.status == "cancelled":
        return False
    if order.placed_at < referral.signed_up_at - dt.timedelta(minutes=5) and (
        order.created_at is None or order.created_at < referral.signed_up_at
    ):
        # An order from before the sign-up (matched later) is not one the referral brought; one that arrives
        # after it (a code given with the order, or a shop that posts its orders later) is.
        return False
    if Decimal(order.total) < rules.min_order_total:
        return False
    if rules.trigger == ReferralProgram.Trigger.EACH_ORDER:
        return order.placed_at <= referral.signed_up_at + dt.timedelta(days=rules.orders_within_days)
    return True


def _order_consider(referral: Referral, order, *, rules: ReferralProgram, now) -> None:
    if referral.status == Status.REJECTED or not _order_qualifies(referral, order, rules=rules):
        return
    wanted = 1 if rules.trigger == ReferralProgram.Trigger.FIRST_ORDER else rules.orders_count
    live = list(
        referral.rewards.filter(side=ReferralReward.Side.REFERRER).exclude(
            status__in=[RewardStatus.REVERSED, RewardStatus.CANCELLED]
        )
    )
    if len(live) >= wanted or any(r.order_id == order.pk for r in live):
        return
    seen = _order_facts(referral, order)
    for name in ("same_address", "same_payment"):  # what an earlier order showed stays: a later order's own
        seen[name] = seen[name] or bool(referral.facts.get(name))  # address does not clear a hold's reason
    facts = dict(referral.facts, **seen)
    decision = checks.decide(facts, rules)
    referral.facts, referral.decisions = facts, decision.reasons
    _decision_apply(referral, decision, now=now)
    if referral.status == Status.REJECTED:
        referral.save()
        _rewards_cancel(referral, now=now, reason=referral.reason)
        return
    program = program_get()
    days = rules.return_window_days if rules.return_window_days is not None else program.pending_days
    _qualify(referral, rules=rules, order=order, due_at=order.placed_at + dt.timedelta(days=days), now=now)


def _order_facts(referral: Referral, order) -> dict:
    from integrations.models import Order

    referrer_orders = Order.objects.filter(member_id=referral.referrer_id)
    rewarded = (
        Referral.objects.filter(referrer_id=referral.referrer_id, status__in=[Status.QUALIFIED, Status.REWARDED])
        .exclude(pk=referral.pk)
        .count()
    )
    return {
        "qualifying": True,
        "same_address": bool(order.shipping_hash)
        and referrer_orders.filter(shipping_hash=order.shipping_hash).exists(),
        "same_payment": bool(order.payment_hash) and referrer_orders.filter(payment_hash=order.payment_hash).exists(),
        "referrer_rewarded": rewarded,
    }


def _qualify(referral: Referral, *, rules: ReferralProgram, order, due_at, now) -> ReferralReward | None:
    """The referral qualified (sign-up or an order): the referrer's reward, pending until `due_at`;
    `referral.qualified` to the referrer's shops. Granted now when due and not held (after commit)."""
    sequence = referral.rewards.filter(side=ReferralReward.Side.REFERRER).count() + 1
    kind = rules.referrer_reward
    reward, created = _reward_row(
        referral,
        side=ReferralReward.Side.REFERRER,
        member=referral.referrer,
        sequence=sequence,
        order=order,
        due_at=due_at,
        kind=kind,
        points=rules.referrer_points if kind == ReferralProgram.ReferrerReward.POINTS else 0,
        amount=rules.referrer_store_credit if kind == ReferralProgram.ReferrerReward.STORE_CREDIT else None,
        reward_item=rules.referrer_reward_item if kind == ReferralProgram.ReferrerReward.REWARD else None,
    )
    if referral.status in (Status.SIGNED_UP, Status.CLICKED):
        referral.status = Status.QUALIFIED
    referral.qualified_at = referral.qualified_at or now
    referral.orders_rewarded = sequence
    referral.save()
    if created:  # a racing copy that found the reward made publishes nothing more
        _publish(referral, "referral.qualified", reward=reward)
    if created and due_at <= now and not _held(referral):
        # The referrer's account is locked by the grant: never inside the friend's order transaction.
        transaction.on_commit(lambda: referral_rewards_release(reward_ids=[reward.pk]))
    return reward


def _order_refunded_total(order) -> Decimal:
    """The money of `order` refunded so far: amounts as given, lines at their share of the line's total."""
    line_totals = {}
    for line in order.lines or []:
        quantity = Decimal(str(line.get("quantity") or 0))
        if quantity:
            line_totals[str(line.get("sku"))] = Decimal(str(line.get("total") or 0)) / quantity
    refunded = Decimal(0)
    for refund in order.refunds.all():
        if refund.amount is not None:
            refunded += refund.amount
        for line in refund.lines or []:
            refunded += line_totals.get(str(line["sku"]), Decimal(0)) * Decimal(str(line["quantity"]))
    return refunded


def referral_order_reversed(*, order) -> int:
    """Inside a refund's or cancel's transaction (order row locked): the pending referrer rewards of `order`
    are reversed when it was cancelled or what is left of it is below the qualifying minimum. The
    referral can then qualify with another order. Returns how many rewards were reversed."""
    now = timezone.now()
    # Once the return window has passed (due_at), the reward is the referrer's, granted or about to be.
    rewards = list(
        ReferralReward.objects.filter(order=order, status=RewardStatus.PENDING, due_at__gt=now).select_related(
            "referral"
        )
    )
    if not rewards:
        return 0
    rules = referral_program_get()
    left = Decimal(order.total) - _order_refunded_total(order)
    if order.status != "cancelled" and left > 0 and left >= rules.min_order_total:
        return 0
    why = (
        f"Order {order.external_id} cancelled" if order.status == "cancelled" else f"Order {order.external_id} refunded"
    )
    for reward in rewards:
        referral = Referral.objects.select_for_update().get(pk=reward.referral_id)
        reward = ReferralReward.objects.select_for_update().get(pk=reward.pk)
        if reward.status != RewardStatus.PENDING:
            continue
        reward.status, reward.ended_at, reward.end_reason = RewardStatus.REVERSED, now, why
        reward.save(update_fields=["status", "ended_at", "end_reason", "updated_at"])
        still = referral.rewards.filter(
            side=ReferralReward.Side.REFERRER, status__in=[RewardStatus.PENDING, RewardStatus.GRANTED]
        ).exists()
        if not still and referral.status == Status.QUALIFIED:
            referral.status, referral.qualified_at = Status.SIGNED_UP, None
            referral.save(update_fields=["status", "qualified_at", "updated_at"])
    return len(rewards)


# --- granting -----------------------------------------------------------------------------------------------


def referral_rewards_release(*, now: dt.datetime | None = None, reward_ids: list[int] | None = None) -> int:
    """Grant the pending rewards that are due, of referrals not held for review nor rejected (the periodic
    task; `reward_ids` limits it to those). Each in its own transaction; safe to run twice at once (the
    rows are locked, skipping those another run holds). Returns how many were granted."""
    now = now or timezone.now()
    due = ReferralReward.objects.filter(status=RewardStatus.PENDING, due_at__lte=now).exclude(
        referral__review=Review.PENDING
    )
    if reward_ids is not None:
        due = due.filter(pk__in=reward_ids)
    granted = 0
    for reward_id in due.order_by("due_at", "pk").values_list("pk", flat=True)[:10_000]:
        try:
            with transaction.atomic():
                reward = (
                    ReferralReward.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("referral", "member__user")
                    .filter(pk=reward_id, status=RewardStatus.PENDING)
                    .first()
                )
                if reward is None or _held(reward.referral):
                    continue
                _grant(reward, now=now)
                granted += 1
        except ApplicationError as error:
            # One reward that cannot be given now (a suspended account, a gift out of stock) stays pending and
            # is tried again next run; it must not stop the others. A closed account never comes back: cancel.
            if Member.objects.filter(referral_rewards=reward_id, status=Member.Status.CLOSED).exists():
                ReferralReward.objects.filter(pk=reward_id, status=RewardStatus.PENDING).update(
                    status=RewardStatus.CANCELLED,
                    ended_at=now,
                    end_reason="Not given: the member closed their account",
                    updated_at=timezone.now(),
                )
                continue
            logger.warning("Referral reward %s not granted: %s (%s)", reward_id, error.message, error.code)
    return granted


def _grant(reward: ReferralReward, *, now) -> None:
    """Give the reward (inside the caller's transaction): points, store credit or a catalogue reward."""
    from rewards.services.redemptions import reward_grant  # rewards.services imports members' services
    from rewards.services.store_credit import store_credit_add

    referral = reward.referral
    member = reward.member
    key = f"referral:{reward.public_id}"
    if reward.side == ReferralReward.Side.REFERRER:
        why = (
            "Referral reward: a friend you invited joined"
            if reward.order_id is None
            else "Referral reward: a friend you invited ordered"
        )
    else:
        why = "Welcome reward: you joined with a friend's invitation"
    if reward.kind == "points" and reward.points:
        entry = points_earn(
            account=member.points_account,
            points=reward.points,
            source=PointLot.Source.REFERRAL,
            source_ref=f"referral:{referral.public_id}",
            actor=Actor.system("referral"),
            idempotency_key=key,
            reason=why,
        )
        reward.grant_ref = f"entry:{entry.public_id}"
    elif reward.kind == "store_credit" and reward.amount:
        entry = store_credit_add(
            member=member,
            amount=reward.amount,
            currency=reward.currency or program_get().currency,
            kind="reward",
            reason=why,
            idempotency_key=key,
            source_ref=f"referral:{referral.public_id}",
        )
        reward.grant_ref = f"store_credit:{entry.public_id}"
    elif reward.kind == "reward" and reward.reward_id:
        redemption, _created = reward_grant(member=member, reward=reward.reward, idempotency_key=key, reason=why)
        reward.grant_ref = f"redemption:{redemption.public_id}"
    reward.status, reward.granted_at = RewardStatus.GRANTED, now
    reward.save(update_fields=["status", "granted_at", "grant_ref", "updated_at"])
    if reward.side == ReferralReward.Side.REFERRER:
        referral = Referral.objects.select_for_update().get(pk=referral.pk)
        if referral.status in (Status.QUALIFIED, Status.SIGNED_UP):
            referral.status = Status.REWARDED
        referral.rewarded_at = referral.rewarded_at or now
        referral.save(update_fields=["status", "rewarded_at", "updated_at"])
        _publish(referral, "referral.rewarded", reward=reward)


def _rewards_cancel(referral: Referral, *, now, reason: str) -> None:
    referral.rewards.filter(status=RewardStatus.PENDING).update(
        status=RewardStatus.CANCELLED, ended_at=now, end_reason=reason[:500], updated_at=now
    )


def _publish(referral: Referral, event: str, *, reward: ReferralReward) -> None:
    """`referral.qualified` / `referral.rewarded` to the referrer's shops, in the caller's transaction."""
    from webhooks.services import member_event_publish  # webhooks imports integrations, which imports members

    member_event_publish(member=referral.referrer, event=event, data=referral_event_data(referral, reward=reward))


def referral_event_data(referral: Referral, *, reward: ReferralReward) -> dict:
    """The data of the referral webhooks (docs/webhooks.md)."""
    return {
        "member": {"id": str(referral.referrer.public_id)},
        "referral": {
            "id": str(referral.public_id),
            "status": referral.status,
            "friend": {"id": str(referral.friend.public_id)} if referral.friend_id else None,
            "signed_up_at": referral.signed_up_at.isoformat() if referral.signed_up_at else None,
            "qualified_at": referral.qualified_at.isoformat() if referral.qualified_at else None,
        },
        "reward": {
            "id": str(reward.public_id),
            "kind": reward.kind,
            "points": reward.points,
            "amount": None if reward.amount is None else str(reward.amount),
            "currency": reward.currency or None,
            "status": reward.status,
            "due_at": reward.due_at.isoformat(),
            "order_external_id": reward.order.external_id if reward.order_id else None,
        },
    }


# --- staff review -----------------------------------------------------------------------------------------


def referral_review(*, referral: Referral, approve: bool, note: str, user) -> Referral:
    """Approve or reject a referral held for review, with the staff member's note. Approving gives what the
    hold kept back (the friend's reward, the referrer's when due); rejecting cancels the pending rewards."""
    note = (note or "").strip()
    if not approve and not note:
        raise ApplicationError("Say why the referral is rejected.", code="note_required")
    rules = referral_program_get()
    now = timezone.now()
    with transaction.atomic():
        referral = Referral.objects.select_for_update().get(pk=referral.pk)
        if referral.review != Review.PENDING:
            raise ApplicationError("This referral is not waiting for review.", code="not_pending_review")
        referral.review_note, referral.reviewed_by, referral.reviewed_at = note, user, now
        if approve:
            referral.review = Review.APPROVED
            referral.save()
            _accepted(referral, rules=rules, now=now)
            due = list(
                referral.rewards.filter(status=RewardStatus.PENDING, due_at__lte=now).values_list("pk", flat=True)
            )
            if due:
                transaction.on_commit(lambda: referral_rewards_release(reward_ids=due))
        else:
            referral.review, referral.status, referral.rejected_at = Review.REJECTED, Status.REJECTED, now
            referral.reason_code, referral.reason = "rejected_by_staff", note[:500]
            referral.save()
            _rewards_cancel(referral, now=now, reason=f"Rejected in review: {note}")
    return referral


# --- invitations --------------------------------------------------------------------------------------------


INVITE_SENT = "If this address is not a member yet, we have sent your invitation."


def referral_invite_send(*, member: Member, email: str, now: dt.datetime | None = None) -> str:
    """Send one fixed invitation e-mail from `member` to `email` (after commit, through Celery). Never an
    open relay: a fixed template, one address per call, `invites_per_day` per member, one invitation per
    address per member, none to members (the answer is the same, so it tells nobody who is a member)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    from referrals.tasks import referral_invite_email

    rules = referral_program_get()
    if not rules.active:
        raise ApplicationError("The referral program is not running.", code="referrals_inactive")
    if member.status != Member.Status.ACTIVE:
        raise ApplicationError("Your account is not active.", code="member_not_active")
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError("Enter one valid e-mail address.", code="invalid_email", status=400) from None
    canonical = checks.email_canonical(email)
    if canonical == checks.email_canonical(member.user.email):
        raise ApplicationError("That is your own address.", code="own_address")
    now = now or timezone.now()
    with transaction.atomic():
        code = referral_code_get_or_create(member=member)
        ReferralCode.objects.select_for_update().get(pk=code.pk)  # serialises one member's invitations
        sent_today = ReferralInvite.objects.filter(member=member, created_at__gte=now - dt.timedelta(days=1)).count()
        if sent_today >= rules.invites_per_day:
            raise ApplicationError(
                f"You can send {rules.invites_per_day} invitations a day; try again tomorrow.",
                code="invite_limit",
                status=429,
                extra={"limit": rules.invites_per_day},
            )
        email_hash = checks.keyed_hash("email", canonical)
        if ReferralInvite.objects.filter(member=member, email_hash=email_hash).exists():
            return INVITE_SENT
        ReferralInvite.objects.create(member=member, email_hash=email_hash)
        is_member = Member.objects.filter(user__email__iexact=email).exists()
        if not is_member:
            transaction.on_commit(lambda: referral_invite_email.delay(member_id=member.pk, to=email))
    return INVITE_SENT
