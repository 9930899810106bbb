"""The points ledger: every change of a member's points goes through these functions.

The rules that keep it correct (DESIGN.md, "The points ledger"):
- Each function locks the member's PointsAccount row first and changes lots, entries and the
  account only while holding that lock, in one transaction. Two accounts are locked in pk order.
- Each call carries an idempotency key. Replaying a key returns the first entry and changes nothing;
  the unique constraint on the key backs that up when two copies race.
- Every change writes one PointEntry and one PointMovement per lot it touched, so `audit_ledger`
  can rebuild every balance from them.
"""

import datetime as dt
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.base import ModelState
from django.utils import timezone

from core.db import (
    server_bound_cursor,
    sql_insert_many,
    sql_insert_parts,
    sql_inserted,
    sql_json_rows,
    sql_next_id,
    sql_random_uuid,
    sql_update_from_values,
    sql_value,
)
from core.exceptions import ApplicationError
from core.prepared import PreparedSelect
from rewards.models import PointEntry, PointLot, PointMovement, PointsAccount, Program
from rewards.selectors import program_get
from rewards.services.program import inactivity_cutoff, lot_expires_at

Kind = PointEntry.Kind
State = PointLot.State


@dataclass(frozen=True)
class Actor:
    """Who caused a change: a member, a shop, a staff user or the system."""

    kind: str
    user: object | None = None
    ref: str = ""

    @classmethod
    def system(cls, ref: str = "") -> "Actor":
        return cls(kind=PointEntry.Actor.SYSTEM, ref=ref)

    @classmethod
    def staff(cls, user) -> "Actor":
        return cls(kind=PointEntry.Actor.STAFF, user=user)

    @classmethod
    def member(cls, user) -> "Actor":
        return cls(kind=PointEntry.Actor.MEMBER, user=user)

    @classmethod
    def shop(cls, ref: str) -> "Actor":
        return cls(kind=PointEntry.Actor.SHOP, ref=ref)


# --- helpers shared by the services --------------------------------------------------------------


def _lock(account_id: int, *, with_member: bool = False) -> PointsAccount:
    """Lock the account row for the rest of the transaction (serialises all changes to one member);
    `with_member` reads the member (for its status) in the same query, without locking the member's row."""
    if with_member:  # every order and event: compiled once per connection
        account = _LOCK_WITH_MEMBER.first(account_id)
        if account is None:
            raise PointsAccount.DoesNotExist(f"No points account {account_id}.")
        return account
    return PointsAccount.objects.select_for_update(no_key=True, of=("self",)).get(pk=account_id)


_LOCK_WITH_MEMBER = PreparedSelect(
    lambda pk: (
        PointsAccount.objects.select_for_update(no_key=True, of=("self",)).select_related("member").filter(pk=pk)
    ),
    -1,
)


def _replayed(
    key: str, *, account_id: int, kind: str, requested: int | None, same: dict | None = None
) -> PointEntry | None:
    """The entry an earlier call with this key wrote, or None; a key reused for something else is a 409.

    `same`: further details the first call recorded that must match (the reversed lot, the receiver);
    without them a key reused for another lot or receiver silently returned the first entry."""
    entry = PointEntry.objects.filter(idempotency_key=key).first()
    if entry is None:
        return None
    if (
        entry.account_id != account_id
        or entry.kind != kind
        or entry.details.get("requested") != requested
        or any(entry.details.get(name) != value for name, value in (same or {}).items())
    ):
        raise ApplicationError(
            "This idempotency key was already used for a different operation.",
            code="idempotency_conflict",
            status=409,
            extra={"idempotency_key": key},
        )
    return entry


def _entry(account: PointsAccount, *, kind: str, actor: Actor, key: str, reason: str, details: dict) -> PointEntry:
    return PointEntry(
        account=account,
        kind=kind,
        actor_kind=actor.kind,
        actor_user=actor.user,
        actor_ref=actor.ref,
        idempotency_key=key,
        reason=reason,
        details=details,
    )


def _save(entry: PointEntry, movements: list[PointMovement]) -> PointEntry:
    """Write the entry with its movements; the entry's totals are the sum of its movements."""
    entry.available_change = sum(m.available_change for m in movements)
    entry.pending_change = sum(m.pending_change for m in movements)
    entry.save()
    for m in movements:
        m.entry = entry
    PointMovement.objects.bulk_create(movements)
    return entry


def _close_if_empty(lot: PointLot) -> None:
    """A lot stays live only while it holds points (the lot_live_iff_holds_points constraint)."""
    if lot.remaining == 0 and lot.state in (State.PENDING, State.AVAILABLE):
        lot.state = State.REVERSED if lot.reversed_points == lot.points else State.SPENT


def _take_available(account: PointsAccount, points: int, *, exclude_lot_id: int | None = None) -> list[PointMovement]:
    """Take `points` from available lots, soonest-expiring first (lots without expiry last)."""
    lots = (
        PointLot.objects.filter(account=account, state=State.AVAILABLE)
        .exclude(pk=exclude_lot_id)
        .order_by(F("expires_at").asc(nulls_last=True), "earned_at", "pk")
    )
    movements, changed, now = [], [], timezone.now()
    for lot in lots.iterator(chunk_size=200):
        if points == 0:
            break
        take = min(points, lot.remaining)
        lot.remaining -= take
        lot.updated_at = now
        points -= take
        _close_if_empty(lot)
        changed.append(lot)
        movements.append(PointMovement(lot=lot, available_change=-take))
    PointLot.objects.bulk_update(changed, ["remaining", "state", "updated_at"])
    return movements


def _apply(account: PointsAccount, entry: PointEntry, *, active_at: dt.datetime | None = None, **counters: int) -> None:
    """Add an entry's changes (and lifetime counters) to the locked account; `active_at` marks member
    activity (earning, spending), which the inactivity expiry policy counts from."""
    account.available += entry.available_change
    account.pending += entry.pending_change
    account.debt += entry.debt_change
    fields = ["available", "pending", "debt", "updated_at"]
    for name, value in counters.items():
        setattr(account, name, getattr(account, name) + value)
        fields.append(name)
    if active_at:
        account.last_activity_at = active_at
        fields.append("last_activity_at")
    account.save(update_fields=fields)


def _points_used_from(lot: PointLot) -> int:
    """Points of `lot` the member used: spent, given away, or taken to cover another lot's refund.
    Not counted: what expired, and what this lot's own reversals took from it."""
    used = 0
    for m in lot.movements.select_related("entry").only(
        "available_change", "pending_change", "entry__kind", "entry__details"
    ):
        change = m.available_change + m.pending_change
        kind = m.entry.kind
        own_reversal = kind == Kind.REVERSE and m.entry.details.get("lot") == str(lot.public_id)
        if change < 0 and kind != Kind.EXPIRE and not own_reversal:
            used -= change
    return used


def _require_positive(points: int) -> None:
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise ApplicationError("Points must be a whole number above zero.", code="invalid_points", status=400)


def _require_member_active(account: PointsAccount, *, allow_suspended: bool = False) -> None:
    _require_status_active(account.member.status, allow_suspended=allow_suspended)


def _require_status_active(status: str, *, allow_suspended: bool = False) -> None:
    if status == "closed" or (status == "suspended" and not allow_suspended):
        raise ApplicationError(f"The member's account is {status}.", code="member_not_active")


_BY_POLICY = object()  # a new lot's expiry comes from the program's policy unless given (None: never)


def _new_lot(account: PointsAccount, **fields) -> PointLot:
    lot = _lot_unsaved(account, **fields)
    lot.save(force_insert=True)
    return lot


def _lot_unsaved(
    account: PointsAccount,
    *,
    program: Program,
    points: int,
    source: str,
    source_ref: str,
    now: dt.datetime,
    available_at: dt.datetime | None,
    expires_at: dt.datetime | None | object = _BY_POLICY,
    value: Decimal = Decimal(0),
) -> PointLot:
    """The lot _new_lot saves (points_earn_many saves many at once)."""
    pending = available_at is not None and available_at > now
    return PointLot(
        account=account,
        points=points,
        remaining=points,
        state=State.PENDING if pending else State.AVAILABLE,
        source=source,
        source_ref=source_ref,
        earned_at=now,
        available_at=available_at if pending else now,
        expires_at=lot_expires_at(program=program, earned_at=now) if expires_at is _BY_POLICY else expires_at,
        value=value,
        value_currency=program.currency,
    )


def _earn_write(account: PointsAccount, lot: PointLot, entry: PointEntry, movement: PointMovement, *, now) -> None:
    """Save a new lot with its earn entry and movement and add them to the locked account. On PostgreSQL in
    one statement (data-modifying CTEs): one round trip and no ORM compiling instead of four of each, which
    is most of an order's time in the database layer."""
    if connection.vendor != "postgresql":
        lot.save(force_insert=True)
        _apply(account, _save(entry, [movement]), active_at=now, lifetime_earned=lot.points)
        return
    entry.available_change, entry.pending_change = movement.available_change, movement.pending_change
    account.available += entry.available_change
    account.pending += entry.pending_change
    account.lifetime_earned += lot.points
    account.last_activity_at = account.updated_at = now
    lot_sql, lot_params = sql_insert_parts(lot)
    entry_sql, entry_params = sql_insert_parts(entry)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH l AS ({lot_sql} RETURNING id), e AS ({entry_sql} RETURNING id), "
            "m AS (INSERT INTO rewards_pointmovement (entry_id, lot_id, available_change, pending_change) "
            "SELECT e.id, l.id, %s, %s FROM e, l RETURNING id), "
            "a AS (UPDATE rewards_pointsaccount SET available = %s, pending = %s, lifetime_earned = %s, "
            "last_activity_at = %s, updated_at = %s WHERE id = %s) "
            "SELECT l.id, e.id, m.id FROM l, e, m",
            [
                *lot_params,
                *entry_params,
                movement.available_change,
                movement.pending_change,
                account.available,
                account.pending,
                account.lifetime_earned,
                now,
                now,
                account.pk,
            ],
        )
        lot_id, entry_id, movement_id = cursor.fetchone()
    sql_inserted(lot, lot_id)
    sql_inserted(entry, entry_id)
    movement.entry = entry
    sql_inserted(movement, movement_id)


def _settle_debt(account: PointsAccount, lot: PointLot, *, actor: Actor, key: str) -> None:
    """New points pay off a recorded debt first."""
    if account.debt == 0:
        return
    take = min(account.debt, lot.remaining)
    bucket = "pending_change" if lot.state == State.PENDING else "available_change"
    lot.remaining -= take
    _close_if_empty(lot)
    lot.save(update_fields=["remaining", "state", "updated_at"])
    movement = PointMovement(lot=lot, **{bucket: -take})
    entry = _entry(account, kind=Kind.SETTLE, actor=actor, key=f"{key}:settle", reason="Debt paid off", details={})
    entry.debt_change = -take
    _apply(account, _save(entry, [movement]))


# --- the services --------------------------------------------------------------------------------


def points_earn(
    *,
    account: PointsAccount,
    points: int,
    source: str,
    actor: Actor,
    idempotency_key: str,
    source_ref: str = "",
    reason: str = "",
    available_at: dt.datetime | None = None,
    value: Decimal = Decimal(0),
    program: Program | None = None,
    key_is_new: bool = False,
    lot_id: int | None = None,
) -> PointEntry:
    """Credit a new lot, pending until `available_at` if that is in the future; replaying the key returns
    the first entry. `program`: the caller's, when it has loaded it already. `key_is_new`, `lot_id`: see
    points_earn_with_lot."""
    entry, _lot = points_earn_with_lot(
        account=account,
        points=points,
        source=source,
        actor=actor,
        idempotency_key=idempotency_key,
        source_ref=source_ref,
        reason=reason,
        available_at=available_at,
        value=value,
        program=program,
        key_is_new=key_is_new,
        lot_id=lot_id,
    )
    return entry


def points_earn_with_lot(
    *,
    account: PointsAccount,
    points: int,
    source: str,
    actor: Actor,
    idempotency_key: str,
    source_ref: str = "",
    reason: str = "",
    available_at: dt.datetime | None = None,
    value: Decimal = Decimal(0),
    program: Program | None = None,
    key_is_new: bool = False,
    lot_id: int | None = None,
) -> tuple[PointEntry, PointLot]:
    """points_earn, also returning the entry's lot (on a replay, the first call's lot).

    `key_is_new=True` is for a caller whose own unique constraint already guarantees that this key was
    never used and that no copy of the call is in flight, because it inserted that row earlier in the same
    transaction (integrations.services.orders.order_record: the order's (shop, external_id)). It skips the
    replay lookup and the savepoint: should the key exist after all, the entry's unique constraint raises
    IntegrityError and the caller's whole transaction rolls back, as does any other error then.

    `lot_id`: the id the new lot gets, taken in advance from the lots' sequence (core.db.sql_next_ids) by a
    caller that has already written a row naming it (on PostgreSQL that foreign key is checked at commit).
    A replayed key returns the first call's lot, whose id differs: the caller compares."""
    _require_positive(points)

    def replay():
        return _replayed(idempotency_key, account_id=account.pk, kind=Kind.EARN, requested=points)

    try:
        with transaction.atomic(savepoint=not key_is_new):
            locked = _lock(account.pk, with_member=True)
            if not key_is_new and (entry := replay()):
                return entry, PointLot.objects.get(public_id=entry.details["lot"])
            _require_member_active(locked, allow_suspended=True)
            program = program or program_get()
            now = timezone.now()
            lot = _lot_unsaved(
                locked,
                program=program,
                points=points,
                source=source,
                source_ref=source_ref,
                now=now,
                available_at=available_at,
                value=value,
            )
            lot.pk = lot_id
            bucket = "pending_change" if lot.state == State.PENDING else "available_change"
            entry = _entry(
                locked,
                kind=Kind.EARN,
                actor=actor,
                key=idempotency_key,
                reason=reason,
                details={"requested": points, "lot": str(lot.public_id)},
            )
            _earn_write(locked, lot, entry, PointMovement(lot=lot, **{bucket: points}), now=now)
            _settle_debt(locked, lot, actor=actor, key=idempotency_key)
    except IntegrityError:
        if not key_is_new and (entry := replay()):
            return entry, PointLot.objects.get(public_id=entry.details["lot"])
        raise
    _refresh(account, locked)
    return entry, lot


def points_redeem(
    *, account: PointsAccount, points: int, reason: str, actor: Actor, idempotency_key: str
) -> PointEntry:
    """Debit `points` from the soonest-expiring available lots, or fail with nothing changed; replaying the
    key returns the first entry."""
    _require_positive(points)

    def replay():
        return _replayed(idempotency_key, account_id=account.pk, kind=Kind.REDEEM, requested=points)

    try:
        with transaction.atomic():
            locked = _lock(account.pk)
            if entry := replay():
                return entry
            _require_member_active(locked)
            if points > locked.available:
                raise ApplicationError(
                    f"Not enough points: {locked.available} available, {points} needed.",
                    code="insufficient_points",
                    extra={"available": locked.available, "requested": points},
                )
            entry = _entry(
                locked,
                kind=Kind.REDEEM,
                actor=actor,
                key=idempotency_key,
                reason=reason,
                details={"requested": points},
            )
            movements = _take_available(locked, points)
            _apply(locked, _save(entry, movements), active_at=timezone.now(), lifetime_redeemed=points)
    except IntegrityError:
        if entry := replay():
            return entry
        raise
    _refresh(account, locked)
    return entry


def points_reverse(
    *, lot: PointLot, points: int | None = None, reason: str, actor: Actor, idempotency_key: str
) -> PointEntry:
    """Reverse `points` of an earned lot (all that is left to reverse when None), e.g. for a refund.

    What is still in the lot is taken first. If the lot was already spent, the program's reversal policy
    decides: `lot` writes the rest off, `balance` takes it from other available points down to zero,
    `debt` does the same and records what is still missing as a debt. The entry's details say which.
    """
    if points is not None:
        _require_positive(points)

    def replay():
        return _replayed(
            idempotency_key,
            account_id=lot.account_id,
            kind=Kind.REVERSE,
            requested=points,
            same={"lot": str(lot.public_id)},
        )

    try:
        with transaction.atomic():
            locked = _lock(lot.account_id)
            if entry := replay():
                return entry
            lot = PointLot.objects.get(pk=lot.pk)  # stable: every lot change holds the account lock
            reversible = lot.points - lot.reversed_points
            wanted = reversible if points is None else points
            if reversible == 0:  # also for a partial refund: it conflicts with the full one already done
                raise ApplicationError("These points were already reversed.", code="already_reversed", status=409)
            if wanted > reversible:
                raise ApplicationError(
                    f"Only {reversible} points of this lot can still be reversed.",
                    code="reversal_exceeds_lot",
                    extra={"reversible": reversible, "requested": wanted},
                )
            used = _points_used_from(lot)
            from_lot = min(wanted, lot.remaining)
            bucket = "pending_change" if lot.state == State.PENDING else "available_change"
            movements = [PointMovement(lot=lot, **{bucket: -from_lot})] if from_lot else []
            # Only points the member actually used can be charged again; points of the lot that expired
            # (or that earlier refunds already covered) were lost already and are not taken twice.
            unspent = lot.points - used
            charge = max(0, lot.reversed_points + wanted - unspent) - max(0, lot.reversed_points - unspent)
            shortfall = wanted - from_lot
            charge = min(charge, shortfall)
            lot.remaining -= from_lot
            lot.reversed_points += wanted
            _close_if_empty(lot)
            if lot.reversed_points == lot.points and lot.state == State.SPENT:
                lot.state = State.REVERSED
            lot.save(update_fields=["remaining", "reversed_points", "state", "updated_at"])

            policy = program_get().reversal_policy
            if locked.member.status == "closed":
                policy = Program.ReversalPolicy.LOT  # nothing left to take, and no debt on a closed account
            from_balance = debt = 0
            if charge and policy in (Program.ReversalPolicy.BALANCE, Program.ReversalPolicy.DEBT):
                available_now = locked.available + sum(m.available_change for m in movements)
                from_balance = min(charge, available_now)
                if from_balance:
                    movements += _take_available(locked, from_balance, exclude_lot_id=lot.pk)
                if policy == Program.ReversalPolicy.DEBT:
                    debt = charge - from_balance
            entry = _entry(
                locked,
                kind=Kind.REVERSE,
                actor=actor,
                key=idempotency_key,
                reason=reason,
                details={
                    "requested": points,
                    "lot": str(lot.public_id),
                    "reversed": wanted,
                    "from_lot": from_lot,
                    "already_lost": shortfall - charge,
                    "from_balance": from_balance,
                    "debt": debt,
                    "written_off": charge - from_balance - debt,
                },
            )
            entry.debt_change = debt
            # Transferred-in points never counted as earned, so reversing them does not un-earn them.
            earned = 0 if lot.source == PointLot.Source.TRANSFER else -wanted
            _apply(locked, _save(entry, movements), lifetime_earned=earned)
    except IntegrityError:
        if entry := replay():
            return entry
        raise
    return entry


def points_adjust(
    *, account: PointsAccount, points: int, reason: str, actor: Actor, idempotency_key: str
) -> PointEntry:
    """Add (points > 0, as a new lot) or remove (points < 0, soonest-expiring first) points by hand.

    A reason is mandatory; a staff user needs the adjust permission, and beyond the program's staff limit
    the unlimited one."""
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        raise ApplicationError(
            "An adjustment is a whole number of points, not zero.", code="invalid_points", status=400
        )
    if not reason or not reason.strip():
        raise ApplicationError("An adjustment needs a reason.", code="reason_required", status=400)
    program = program_get()

    def replay():
        return _replayed(idempotency_key, account_id=account.pk, kind=Kind.ADJUST, requested=points)

    try:
        with transaction.atomic():
            locked = _lock(account.pk)
            # A replay answers with the first entry even if the staff limit changed since.
            if entry := replay():
                return entry
            if actor.kind == PointEntry.Actor.STAFF:
                _check_staff_may_adjust(actor.user, points, program=program)
            _require_member_active(locked, allow_suspended=True)
            now = timezone.now()
            entry = _entry(
                locked,
                kind=Kind.ADJUST,
                actor=actor,
                key=idempotency_key,
                reason=reason.strip(),
                details={"requested": points},
            )
            if points > 0:
                lot = _new_lot(
                    locked,
                    program=program,
                    points=points,
                    source=PointLot.Source.ADJUSTMENT,
                    source_ref=reason.strip()[:200],
                    now=now,
                    available_at=None,
                )
                entry.details["lot"] = str(lot.public_id)
                _apply(locked, _save(entry, [PointMovement(lot=lot, available_change=points)]), lifetime_earned=points)
                _settle_debt(locked, lot, actor=actor, key=idempotency_key)
            else:
                if -points > locked.available:
                    raise ApplicationError(
                        f"Cannot remove {-points} points: only {locked.available} are available.",
                        code="insufficient_points",
                        extra={"available": locked.available, "requested": -points},
                    )
                _apply(locked, _save(entry, _take_available(locked, -points)))
    except IntegrityError:
        if entry := replay():
            return entry
        raise
    _refresh(account, locked)
    return entry


def _check_staff_may_adjust(user, points: int, *, program: Program) -> None:
    if user is None or not user.has_perm("rewards.adjust_points"):
        raise ApplicationError("You may not adjust points.", code="permission_denied", status=403)
    if abs(points) > program.staff_adjust_limit and not user.has_perm("rewards.adjust_points_unlimited"):
        raise ApplicationError(
            f"Adjustments above {program.staff_adjust_limit} points need a program manager.",
            code="adjustment_over_limit",
            extra={"limit": program.staff_adjust_limit},
        )


def points_transfer(
    *, source: PointsAccount, target: PointsAccount, points: int, reason: str, actor: Actor, idempotency_key: str
) -> PointEntry:
    """Move available points from one member to another (only when the program allows transfers).

    The receiver's lot keeps the earliest expiry and the money value of the points it came from."""
    _require_positive(points)
    program = program_get()
    if not program.transfers_enabled:
        raise ApplicationError("This program does not allow point transfers.", code="transfers_disabled")
    if source.pk == target.pk:
        raise ApplicationError("A member cannot transfer points to themselves.", code="same_account", status=400)

    def replay():
        return _replayed(
            idempotency_key,
            account_id=source.pk,
            kind=Kind.TRANSFER,
            requested=-points,
            same={"to": str(target.member.public_id)},
        )

    try:
        with transaction.atomic():
            first, second = sorted([source.pk, target.pk])  # pk order: two transfers cannot deadlock
            locked = {first: _lock(first), second: _lock(second)}
            giver, receiver = locked[source.pk], locked[target.pk]
            if entry := replay():
                return entry
            _require_member_active(giver)
            _require_member_active(receiver)
            if points > giver.available:
                raise ApplicationError(
                    f"Not enough points: {giver.available} available, {points} needed.",
                    code="insufficient_points",
                    extra={"available": giver.available, "requested": points},
                )
            now = timezone.now()
            taken = _take_available(giver, points)
            lots = {lot.pk: lot for lot in PointLot.objects.filter(pk__in=[m.lot_id for m in taken])}
            expiries = [lots[m.lot_id].expires_at for m in taken if lots[m.lot_id].expires_at]
            value = sum((lots[m.lot_id].value * -m.available_change / lots[m.lot_id].points for m in taken), Decimal(0))
            out = _entry(
                giver,
                kind=Kind.TRANSFER,
                actor=actor,
                key=idempotency_key,
                reason=reason,
                details={"requested": -points, "to": str(receiver.member.public_id)},
            )
            _apply(giver, _save(out, taken), active_at=now)
            lot = _new_lot(
                receiver,
                program=program,
                points=points,
                source=PointLot.Source.TRANSFER,
                source_ref=str(giver.member.public_id),
                now=now,
                available_at=None,
                # The earliest expiry of the points given; if none of them expire, neither do these.
                expires_at=min(expiries) if expiries else None,
                value=value.quantize(Decimal("0.0001")),
            )
            incoming = _entry(
                receiver,
                kind=Kind.TRANSFER,
                actor=actor,
                key=f"{idempotency_key}:in",
                reason=reason,
                details={"requested": points, "from": str(giver.member.public_id), "lot": str(lot.public_id)},
            )
            _apply(receiver, _save(incoming, [PointMovement(lot=lot, available_change=points)]))
            _settle_debt(receiver, lot, actor=actor, key=f"{idempotency_key}:in")
            entry = out
    except IntegrityError:
        if entry := replay():
            return entry
        raise
    # Like the other services: the caller's objects show the new balances (they kept the old ones).
    _refresh(source, giver)
    _refresh(target, receiver)
    return entry


def _refresh(account: PointsAccount, locked: PointsAccount) -> None:
    """Give the caller's account object the balances just written."""
    for name in ("available", "pending", "debt", "lifetime_earned", "lifetime_redeemed", "lifetime_expired"):
        setattr(account, name, getattr(locked, name))


# --- release and expiry: one account at a time, and set-based sweeps ------------------------------


@dataclass(frozen=True)
class _Sweep:
    """How a sweep turns the lots it picks: the SQL for their changes and their new state."""

    kind: str
    available_sql: str
    pending_sql: str
    new_state: str
    empties_lot: bool


_RELEASE = _Sweep(Kind.RELEASE, "l.remaining", "-l.remaining", State.AVAILABLE, empties_lot=False)
_EXPIRE = _Sweep(
    Kind.EXPIRE,
    "CASE WHEN l.state = 'available' THEN -l.remaining ELSE 0 END",
    "CASE WHEN l.state = 'pending' THEN -l.remaining ELSE 0 END",
    State.EXPIRED,
    empties_lot=True,
)


def _sweep_accounts(
    sweep: _Sweep,
    *,
    account_ids: list[int],
    lots_sql: str,
    lots_params: list,
    key_prefix: str,
    reason: str,
    actor: Actor,
    now: dt.datetime,
) -> int:
    """Within the caller's transaction, with `account_ids` locked: turn the lots matching `lots_sql`
    (alias `l`) with one entry per account, one movement per lot, set-based. Returns lots turned."""
    if not account_ids:
        return 0
    lot_t, entry_t = PointLot._meta.db_table, PointEntry._meta.db_table
    move_t, account_t = PointMovement._meta.db_table, PointsAccount._meta.db_table
    ids = ", ".join(str(int(i)) for i in account_ids)
    lots_where = f"l.account_id IN ({ids}) AND ({lots_sql})"
    key_sql = "%s || CAST(l.account_id AS VARCHAR(20))"
    stamp = sql_value(now)
    actor_user_id = actor.user.pk if actor.user else None
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {entry_t} (public_id, created_at, account_id, kind, available_change, pending_change,
                                   debt_change, reason, actor_kind, actor_user_id, actor_ref, idempotency_key, details)
            SELECT {sql_random_uuid()}, %s, l.account_id, %s, SUM({sweep.available_sql}), SUM({sweep.pending_sql}),
                   0, %s, %s, %s, %s, {key_sql}, %s
            FROM {lot_t} l WHERE {lots_where}
            GROUP BY l.account_id
            """,
            [stamp, sweep.kind, reason, actor.kind, actor_user_id, actor.ref, key_prefix, "{}", *lots_params],
        )
        # Entries are narrowed to the chunk's accounts too: otherwise, for a large chunk, PostgreSQL hashes
        # the whole entries table (a second per chunk at a million entries; bench/expiry_sweep.py).
        cursor.execute(
            f"""
            INSERT INTO {move_t} (entry_id, lot_id, available_change, pending_change)
            SELECT e.id, l.id, {sweep.available_sql}, {sweep.pending_sql}
            FROM {lot_t} l JOIN {entry_t} e ON e.idempotency_key = {key_sql}
            WHERE {lots_where} AND e.account_id IN ({ids})
            """,
            [key_prefix, *lots_params],
        )
        lifetime = (
            "lifetime_expired = a.lifetime_expired - e.available_change - e.pending_change, "
            if (sweep.kind == Kind.EXPIRE)
            else ""
        )
        cursor.execute(
            f"""
            UPDATE {account_t} AS a
            SET available = a.available + e.available_change, pending = a.pending + e.pending_change,
                {lifetime} updated_at = %s
            FROM {entry_t} e
            WHERE a.id IN ({ids}) AND e.account_id = a.id
              AND e.idempotency_key = %s || CAST(a.id AS VARCHAR(20))
            """,
            [stamp, key_prefix],
        )
        remaining = ", remaining = 0" if sweep.empties_lot else ""
        cursor.execute(
            f"UPDATE {lot_t} AS l SET state = %s{remaining}, updated_at = %s WHERE {lots_where}",
            [sweep.new_state, stamp, *lots_params],
        )
        return cursor.rowcount


def _sweep_published(sweep: _Sweep, *, account_ids: list[int], key_prefix: str) -> None:
    """Webhooks points.released / points.expired for the entries just written, in their transaction, set-based."""
    # Imported here: webhooks imports integrations, whose services import this module.
    from webhooks.services import ledger_entries_publish

    keys = [f"{key_prefix}{account_id}" for account_id in account_ids]
    ledger_entries_publish(kind=sweep.kind, account_pks=account_ids, entry_keys=keys)


def _sweep(
    sweep: _Sweep,
    *,
    pick_account_ids,
    lock_filter: dict,
    lots_sql: str,
    lots_params: list,
    reason: str,
    now: dt.datetime,
    chunk_size: int,
    progress=None,
) -> int:
    """Repeat in short transactions: pick accounts with due lots, lock them in pk order, turn their due
    lots. A second sweep running at once waits on the locks and then finds those lots already done."""
    total = 0
    while True:
        with transaction.atomic():
            candidates = pick_account_ids(chunk_size)
            if not candidates:
                return total
            account_ids = list(
                PointsAccount.objects.select_for_update(no_key=True)
                .filter(pk__in=candidates, **lock_filter)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            key_prefix = f"{sweep.kind}:{uuid.uuid4().hex}:"
            done = _sweep_accounts(
                sweep,
                account_ids=account_ids,
                lots_sql=lots_sql,
                lots_params=lots_params,
                key_prefix=key_prefix,
                reason=reason,
                actor=Actor.system(),
                now=now,
            )
            if done:
                _sweep_published(sweep, account_ids=account_ids, key_prefix=key_prefix)
        if done == 0 and len(account_ids) == len(candidates):
            return total  # what we picked was done by a sweep running beside us; it carries on
        # (When the re-check under the lock dropped accounts, e.g. members active since the pick, carry on:
        # the next pick skips them. Stopping here left every other inactive account for the next run.)
        total += done
        if progress:
            progress(total)


def _due_account_ids(lots, chunk_size: int) -> list[int]:
    # A chunk of due lots names the accounts; all of those accounts' due lots go in the same chunk.
    return sorted(set(lots.values_list("account_id", flat=True)[:chunk_size]))


# Due lots (or inactive accounts) picked per chunk, i.e. per transaction. A chunk keeps its accounts locked
# until it commits: at a million lots 1,000 takes about 0.5 s a chunk and 5,000 about 2.6 s, for the same
# total time (bench/expiry_sweep.py), so members earning or spending during a sweep wait less.
SWEEP_CHUNK_SIZE = 1000


def lots_release_due(*, now: dt.datetime | None = None, chunk_size: int = SWEEP_CHUNK_SIZE, progress=None) -> int:
    """Make pending lots whose return window has closed available. Safe to run twice at once."""
    now = now or timezone.now()
    due = PointLot.objects.filter(state=State.PENDING, available_at__lte=now)
    return _sweep(
        _RELEASE,
        pick_account_ids=lambda n: _due_account_ids(due, n),
        lock_filter={},
        lots_sql="l.state = 'pending' AND l.available_at <= %s",
        lots_params=[sql_value(now)],
        reason="Return window closed",
        now=now,
        chunk_size=chunk_size,
        progress=progress,
    )


def lots_expire_due(*, now: dt.datetime | None = None, chunk_size: int = SWEEP_CHUNK_SIZE, progress=None) -> int:
    """Expire available lots past their expiry date, or, under the inactivity policy, all available
    points of accounts inactive for the program's period. Safe to run twice at once."""
    now = now or timezone.now()
    cutoff = inactivity_cutoff(program=program_get(), now=now)
    if cutoff is not None:
        inactive = PointsAccount.objects.filter(last_activity_at__lt=cutoff, available__gt=0).order_by("pk")
        after = [0]  # the last account picked: each chunk reads on from there (last_activity_at has no index)

        def pick_inactive(n: int) -> list[int]:
            ids = list(inactive.filter(pk__gt=after[0]).values_list("pk", flat=True)[:n])
            after[0] = ids[-1] if ids else after[0]
            return ids

        return _sweep(
            _EXPIRE,
            pick_account_ids=pick_inactive,
            lock_filter={"last_activity_at__lt": cutoff},  # re-checked under the lock: activity since the pick
            lots_sql="l.state = 'available'",
            lots_params=[],
            reason="Expired after inactivity",
            now=now,
            chunk_size=chunk_size,
            progress=progress,
        )
    due = PointLot.objects.filter(state=State.AVAILABLE, expires_at__lte=now)
    return _sweep(
        _EXPIRE,
        pick_account_ids=lambda n: _due_account_ids(due, n),
        lock_filter={},
        lots_sql="l.state = 'available' AND l.expires_at <= %s",
        lots_params=[sql_value(now)],
        reason="Points expired",
        now=now,
        chunk_size=chunk_size,
        progress=progress,
    )


def points_release(*, lot: PointLot, actor: Actor, idempotency_key: str, reason: str = "Released early") -> PointEntry:
    """Make one pending lot available now (e.g. staff release it early); replaying the key returns the entry."""
    return _sweep_one(
        _RELEASE,
        account_id=lot.account_id,
        lots_sql="l.id = %s AND l.state = 'pending'",
        lots_params=[lot.pk],
        actor=actor,
        idempotency_key=idempotency_key,
        reason=reason,
        nothing="This lot is not pending.",
        lot_id=lot.pk,
    )


def points_expire(
    *, account: PointsAccount, actor: Actor, idempotency_key: str, reason: str, everything: bool = False
) -> PointEntry:
    """Expire the account's available lots that are due, or with `everything` all its points, pending
    included (account closure). Replaying the key returns the entry."""
    now = timezone.now()
    if everything:
        lots_sql, params = "l.state IN ('pending', 'available')", []
    else:
        lots_sql, params = "l.state = 'available' AND l.expires_at <= %s", [sql_value(now)]
    return _sweep_one(
        _EXPIRE,
        account_id=account.pk,
        lots_sql=lots_sql,
        lots_params=params,
        actor=actor,
        idempotency_key=idempotency_key,
        reason=reason,
        nothing="There are no points to expire.",
    )


def _sweep_one(
    sweep: _Sweep,
    *,
    account_id: int,
    lots_sql: str,
    lots_params: list,
    actor: Actor,
    idempotency_key: str,
    reason: str,
    nothing: str,
    lot_id: int | None = None,
) -> PointEntry:
    key = f"{idempotency_key}:"
    full_key = f"{key}{account_id}"
    with transaction.atomic():
        _lock(account_id)
        used = PointEntry.objects.filter(idempotency_key__in=[full_key, idempotency_key])
        used = {e.idempotency_key: e for e in used}
        entry = used.get(full_key) or used.get(idempotency_key)
        # A key already used by another service (stored as is), for another operation or for another lot
        # is a 409, as in _replayed; it used to return the first entry, leaving the second lot pending.
        if entry and (
            entry.idempotency_key != full_key
            or entry.kind != sweep.kind
            or (lot_id is not None and not entry.movements.filter(lot_id=lot_id).exists())
        ):
            raise ApplicationError(
                "This idempotency key was already used for a different operation.",
                code="idempotency_conflict",
                status=409,
                extra={"idempotency_key": idempotency_key},
            )
        if entry:
            return entry
        done = _sweep_accounts(
            sweep,
            account_ids=[account_id],
            lots_sql=lots_sql,
            lots_params=lots_params,
            key_prefix=key,
            reason=reason,
            actor=actor,
            now=timezone.now(),
        )
        if not done:
            raise ApplicationError(nothing, code="nothing_to_do", status=409)
        _sweep_published(sweep, account_ids=[account_id], key_prefix=key)
    return PointEntry.objects.get(idempotency_key=full_key)


# --- many earns at once, set-based (order batches) -----------------------------------------------


@dataclass(frozen=True)
class Earning:
    """One credit for points_earn_many: what points_earn takes, for one account."""

    account: PointsAccount
    points: int
    source: str
    actor: Actor
    idempotency_key: str
    source_ref: str = ""
    reason: str = ""
    available_at: dt.datetime | None = None
    value: Decimal = Decimal(0)
    lot_id: int | None = None  # the new lot's id, taken in advance (see points_earn_with_lot); PostgreSQL


def points_earn_many(*, items: Sequence[Earning]) -> list[PointEntry]:
    """Credit each item as points_earn would (a new lot, pending until `available_at` if that is in the future;
    a replayed key returns the first entry), in one transaction and a constant number of queries: one insert
    each for the lots, entries and movements, then the accounts locked in pk order by one query and one update
    for them (locked after the inserts, so that calls sharing accounts wait on each other for less). Returns
    the entries in the items' order. All or nothing: what points_earn refuses for one item (a closed member, a
    key used for something else) raises and nothing is written. An account that
    owes a debt earns through points_earn, which pays the debt off first. A key that a concurrent call is
    writing raises IntegrityError, and an account that came to owe a debt since the caller loaded it raises
    AccountsChanged (the caller retries one by one)."""
    return _earn_many(items, lots=[None] * len(items))


def points_earn_many_with_lots(*, items: Sequence[Earning]) -> list[tuple[PointEntry, PointLot]]:
    """points_earn_many, with each entry's lot: those made now as they were inserted (no query to read them
    back), the lots of replayed keys and of debt-paying earns read in one query. A new lot gets its item's
    `lot_id` when given (on PostgreSQL; the ORM path leaves ids to the database): the caller compares."""
    lots: list[PointLot | None] = [None] * len(items)
    entries = _earn_many(items, lots=lots)
    return list(zip(entries, _lots_of(entries, lots), strict=True))


def points_earn_many_lots(*, items: Sequence[Earning]) -> list[PointLot]:
    """The lots of points_earn_many_with_lots alone, for a caller that uses no entry (an order batch): the same
    rows are written and the same lots returned, but no PointEntry instance is made for a new lot."""
    lots: list[PointLot | None] = [None] * len(items)
    return _lots_of(_earn_many(items, lots=lots, entries_wanted=False), lots)


def _lots_of(entries: list[PointEntry | None], lots: list[PointLot | None]) -> list[PointLot]:
    """`lots` with the gaps (replayed keys, debt-paying earns) filled from their entries, read in one query."""
    if missing := [entry.details["lot"] for entry, lot in zip(entries, lots, strict=True) if lot is None]:
        found = {str(lot.public_id): lot for lot in PointLot.objects.filter(public_id__in=missing)}
        lots = [lot or found[entry.details["lot"]] for entry, lot in zip(entries, lots, strict=True)]
    return lots


def _earn_many(
    items: Sequence[Earning], *, lots: list[PointLot | None], entries_wanted: bool = True
) -> list[PointEntry | None]:
    """points_earn_many's work; fills `lots` at the items' places with the lots made now (None for a replayed key
    or a debt-paying earn). Without `entries_wanted` the new lots' entries are written but not made in Python:
    their places in the list returned stay None."""
    for item in items:
        _require_positive(item.points)
    keys = [item.idempotency_key for item in items]
    if len(set(keys)) < len(keys):
        raise ApplicationError(
            "Each earning needs its own idempotency key.", code="duplicate_idempotency_key", status=400
        )
    if not items:
        return []
    with transaction.atomic():
        earlier = _keys_used(keys)
        entries: list[PointEntry | None] = [None] * len(items)
        fresh: list[tuple[int, Earning]] = []
        in_debt: list[tuple[int, Earning]] = []
        for i, item in enumerate(items):
            if item.idempotency_key in earlier:
                entries[i] = _replayed(
                    item.idempotency_key, account_id=item.account.pk, kind=Kind.EARN, requested=item.points
                )
            elif item.account.debt:
                in_debt.append((i, item))
            else:
                fresh.append((i, item))
        # The new lots, entries and movements are written before the accounts are locked, not after: concurrent
        # batches sharing accounts (nearly every two batches do) then queue on each other only from the balance
        # update to their commit. Which earnings go in set-based is decided from the accounts as the caller
        # loaded them (no debt), and checked again under the locks.
        inserted = _earn_insert(fresh, entries_wanted=entries_wanted) if fresh else None
        balances = {
            pk: [status, *row] for pk, status, *row in _accounts_lock({item.account.pk for item in items})
        }  # account pk -> [member status, *_BALANCES]
        for _, item in fresh:
            _require_status_active(balances[item.account.pk][0], allow_suspended=True)
            if balances[item.account.pk][_DEBT]:
                raise AccountsChanged()
        for i, item in in_debt:
            _require_status_active(balances[item.account.pk][0], allow_suspended=True)
            entries[i] = points_earn(
                account=item.account,
                points=item.points,
                source=item.source,
                actor=item.actor,
                idempotency_key=item.idempotency_key,
                source_ref=item.source_ref,
                reason=item.reason,
                available_at=item.available_at,
                value=item.value,
                lot_id=item.lot_id,
            )
            balances[item.account.pk][1:] = [getattr(item.account, name) for name in _BALANCES]  # as it left them
        if inserted is not None:
            _earn_balances_add(
                fresh, inserted, balances=balances, entries=entries if entries_wanted else None, lots=lots
            )
    for item in items:
        for name, value in zip(_BALANCES, balances[item.account.pk][1:], strict=True):
            setattr(item.account, name, value)
    return entries


_BALANCES = ("available", "pending", "debt", "lifetime_earned", "lifetime_redeemed", "lifetime_expired")
_DEBT = 1 + _BALANCES.index("debt")  # its place in a points_earn_many balances row


def _accounts_lock(pks: set[int]) -> list[tuple]:
    """Lock these accounts in pk order and read (pk, member status, *_BALANCES) of each: plain rows, not accounts
    with their members (building 500 model instances cost more than the query). On PostgreSQL the pks travel as
    one JSON parameter: Django's IN with 500 placeholders, and psycopg splitting them out of the SQL again, took
    several times the query's own cost."""
    if connection.vendor == "postgresql":
        with server_bound_cursor() as cursor:
            cursor.execute(_ACCOUNTS_LOCK_SQL, [sql_json_rows(list(pks))])
            return cursor.fetchall()
    return list(
        PointsAccount.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=pks)
        .order_by("pk")
        .values_list("pk", "member__status", *_BALANCES)
    )


def _keys_used(keys: list[str]) -> set[str]:
    """Which of these idempotency keys an entry has already (JSON on PostgreSQL, as _accounts_lock)."""
    if connection.vendor == "postgresql":
        with server_bound_cursor() as cursor:
            cursor.execute(_KEYS_USED_SQL, [sql_json_rows(keys)])
            return {key for (key,) in cursor.fetchall()}
    return set(PointEntry.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True))


# The queryset of _accounts_lock's other path, in SQL (the lock taken on the accounts' rows only, in pk order).
_ACCOUNTS_LOCK_SQL = (
    "SELECT a.id, m.status, {balances} FROM rewards_pointsaccount a JOIN {members} m ON m.id = a.member_id "
    "WHERE a.id IN (SELECT json_array_elements_text(%s::json)::bigint) ORDER BY a.id FOR NO KEY UPDATE OF a"
).format(
    balances=", ".join(f"a.{name}" for name in _BALANCES),
    members=PointsAccount._meta.get_field("member").related_model._meta.db_table,
)
_KEYS_USED_SQL = (
    "SELECT idempotency_key FROM rewards_pointentry "
    "WHERE idempotency_key IN (SELECT json_array_elements_text(%s::json))"
)


class AccountsChanged(ApplicationError):
    """An account came to owe a debt between the caller's loading it and points_earn_many's lock: the earnings
    were written as for an account without one, so the call is refused (nothing stays written) and the caller
    retries them one by one, as after a concurrent call's key."""

    def __init__(self):
        super().__init__(
            "An account changed while its points were being earned; try again.", code="accounts_changed", status=409
        )


@dataclass(frozen=True)
class _Inserted:
    """What _earn_insert wrote, for _earn_balances_add."""

    lots: list[PointLot]
    entries: list[PointEntry]
    now: dt.datetime


def _earn_insert(fresh: list[tuple[int, Earning]], *, entries_wanted: bool) -> _Inserted:
    """points_earn_many's lots, entries and movements for earnings on accounts that owe no debt."""
    program = program_get()
    now = timezone.now()  # UTC (USE_TZ)
    expires_at = lot_expires_at(program=program, earned_at=now)
    if expires_at is not None:  # the lots' times in UTC, as a lot read back has them (webhooks print them)
        expires_at = expires_at.astimezone(dt.UTC)
    insert = _earn_insert_pg if connection.vendor == "postgresql" else _earn_insert_orm
    new_lots, new_entries = insert(fresh, program=program, now=now, expires_at=expires_at, entries=entries_wanted)
    return _Inserted(new_lots, new_entries, now)


def _earn_balances_add(
    fresh: list[tuple[int, Earning]],
    inserted: _Inserted,
    *,
    balances: dict[int, list],
    entries: list[PointEntry | None] | None,
    lots: list[PointLot | None],
) -> None:
    """The accounts' update for what _earn_insert wrote (the accounts locked); fills in `lots` and (unless None)
    `entries` at the items' places."""
    now = inserted.now
    totals: dict[int, list[int]] = {}  # account pk -> [available, pending, earned]
    for lot in inserted.lots:
        total = totals.setdefault(lot.account_id, [0, 0, 0])
        total[1 if lot.state == State.PENDING else 0] += lot.points
        total[2] += lot.points
    sql_update_from_values(
        PointsAccount._meta.db_table,
        columns=["available", "pending", "earned"],
        types=["bigint", "integer", "integer", "integer"],
        rows=[(pk, *total) for pk, total in totals.items()],
        set_sql="available = t.available + v.available, pending = t.pending + v.pending, "
        "lifetime_earned = t.lifetime_earned + v.earned, last_activity_at = %s, updated_at = %s",
        params=[sql_value(now), sql_value(now)],
    )
    at = {name: 1 + _BALANCES.index(name) for name in ("available", "pending", "lifetime_earned")}
    for pk, (available, pending, earned) in totals.items():
        row = balances[pk]
        row[at["available"]] += available
        row[at["pending"]] += pending
        row[at["lifetime_earned"]] += earned
    for (i, _), lot in zip(fresh, inserted.lots, strict=True):
        lots[i] = lot
    if entries is not None:
        for (i, _), entry in zip(fresh, inserted.entries, strict=True):
            entries[i] = entry


def _earn_insert_orm(
    fresh: list[tuple[int, Earning]],
    *,
    program: Program,
    now: dt.datetime,
    expires_at: dt.datetime | None,
    entries: bool = True,
) -> tuple[list[PointLot], list[PointEntry]]:
    """The lots, entries and movements of _earn_insert, inserted from model instances (any database); the
    entries are made whether `entries` asks for them or not (they are saved from them)."""
    new_lots, new_entries = [], []
    for _, item in fresh:
        lot = _lot_unsaved(
            item.account,
            program=program,
            points=item.points,
            source=item.source,
            source_ref=item.source_ref,
            now=now,
            available_at=None if item.available_at is None else item.available_at.astimezone(dt.UTC),
            expires_at=expires_at,
            value=item.value,
        )
        entry = _entry(
            item.account,
            kind=Kind.EARN,
            actor=item.actor,
            key=item.idempotency_key,
            reason=item.reason,
            details={"requested": item.points, "lot": str(lot.public_id)},
        )
        if lot.state == State.PENDING:
            entry.pending_change = item.points
        else:
            entry.available_change = item.points
        new_lots.append(lot)
        new_entries.append(entry)
    sql_insert_many(new_lots)
    sql_insert_many(new_entries)
    sql_insert_many(
        [
            PointMovement(entry=e, lot=lot, available_change=e.available_change, pending_change=e.pending_change)
            for e, lot in zip(new_entries, new_lots, strict=True)
        ]
    )
    return new_lots, new_entries


# Each earning's row as one JSON object (its keys and their types); the values every row shares are parameters.
# What PostgreSQL can work out itself is not sent (each key of 500 rows costs it JSON parsing): the ids, the
# row's place, the state and the changes (a pending lot is one with an `available_at`). The public ids are made
# here (_random_uuids): PostgreSQL's gen_random_uuid() took it 5 us each, reading these 0.3 us.
_EARN_ROW = {
    "lot_id": "bigint",  # the new lot's id when taken in advance, else null
    "lot_uid": "uuid",
    "entry_uid": "uuid",
    "account_id": "bigint",
    "points": "integer",
    "source": "text",
    "source_ref": "text",
    "available_at": "timestamptz",  # null unless the lot is pending
    "value": "numeric",
    "actor_kind": "text",
    "actor_user_id": "bigint",
    "actor_ref": "text",
    "idempotency_key": "text",
    "reason": "text",
}
# v: the rows, in the items' order (n), each with its lot's and entry's ids, taken once (a CTE read more than once,
# and one calling volatile functions, is computed once); the lots, entries and movements are inserted from it in
# that order, and it answers with the ids and the lots' public ids (as UUIDs, which psycopg makes faster).
_EARN_SQL = (
    "WITH v AS (SELECT r.*, coalesce(r.lot_id, {next_lot_id}) AS lot_pk, {next_entry_id} AS entry_pk, "
    "CASE WHEN r.available_at IS NULL THEN r.points ELSE 0 END AS available_change, "
    "CASE WHEN r.available_at IS NULL THEN 0 ELSE r.points END AS pending_change "
    "FROM ROWS FROM (json_to_recordset(%s::json) AS ({row})) WITH ORDINALITY AS r ({names}, n)), "
    "l AS (INSERT INTO rewards_pointlot (id, public_id, created_at, updated_at, account_id, points, remaining, "
    "reversed_points, state, source, source_ref, earned_at, available_at, expires_at, value, value_currency) "
    "SELECT lot_pk, lot_uid, %s, %s, account_id, points, points, 0, "
    "CASE WHEN available_at IS NULL THEN '{available}' ELSE '{pending}' END, source, source_ref, %s, "
    "coalesce(available_at, %s), %s, value, %s FROM v ORDER BY n), "
    "e AS (INSERT INTO rewards_pointentry (id, public_id, created_at, account_id, kind, available_change, "
    "pending_change, debt_change, reason, actor_kind, actor_user_id, actor_ref, idempotency_key, details) "
    "SELECT entry_pk, entry_uid, %s, account_id, %s, available_change, pending_change, 0, reason, actor_kind, "
    "actor_user_id, actor_ref, idempotency_key, jsonb_build_object('requested', points, 'lot', lot_uid::text) "
    "FROM v ORDER BY n), "
    "m AS (INSERT INTO rewards_pointmovement (entry_id, lot_id, available_change, pending_change) "
    "SELECT entry_pk, lot_pk, available_change, pending_change FROM v ORDER BY n) "
    "SELECT lot_pk, lot_uid, entry_pk, entry_uid FROM v ORDER BY n"
).format(
    row=", ".join(f"{name} {t}" for name, t in _EARN_ROW.items()),
    names=", ".join(_EARN_ROW),
    next_lot_id=sql_next_id(PointLot),
    next_entry_id=sql_next_id(PointEntry),
    available=State.AVAILABLE.value,
    pending=State.PENDING.value,
)


def _earn_insert_pg(
    fresh: list[tuple[int, Earning]],
    *,
    program: Program,
    now: dt.datetime,
    expires_at: dt.datetime | None,
    entries: bool = True,
) -> tuple[list[PointLot], list[PointEntry] | None]:
    """_earn_insert_orm's rows in one statement on PostgreSQL: the earnings travel as one JSON parameter (a
    row per earning; arrays of 500 values took psycopg longer to send than JSON, and PostgreSQL longer to
    read) and the lots, entries and movements are inserted by data-modifying CTEs (the entry's details built in
    SQL), so no model instance is prepared for saving, no movement is made at all, and there are a few
    parameters instead of thousands. The lots and entries it returns are as _earn_insert_orm leaves them
    (created_at is `now` here); no entries (None) unless `entries`."""
    uids = _random_uuids(2 * len(fresh))
    rows, pending = [], []
    for n, (_, item) in enumerate(fresh):
        at = item.available_at
        at = at.astimezone(dt.UTC) if at is not None and at > now else None  # UTC, as a lot read back has it
        pending.append(at)
        actor = item.actor
        rows.append(
            {
                "lot_id": item.lot_id,
                "lot_uid": uids[2 * n],
                "entry_uid": uids[2 * n + 1],
                "account_id": item.account.pk,
                "points": item.points,
                "source": str(item.source),
                "source_ref": item.source_ref,
                "available_at": at,
                "value": item.value,
                "actor_kind": str(actor.kind),
                "actor_user_id": actor.user.pk if actor.user is not None else None,
                "actor_ref": actor.ref,
                "idempotency_key": item.idempotency_key,
                "reason": item.reason,
            }
        )
    with server_bound_cursor() as cursor:  # the JSON sent as it is, not quoted into the SQL
        cursor.execute(
            _EARN_SQL,
            [sql_json_rows(rows), now, now, now, now, expires_at, program.currency, now, Kind.EARN.value],
        )
        ids = cursor.fetchall()  # (lot id, lot public id, entry id, entry public id) per row
    new_lots = [
        _loaded(
            PointLot,
            {"account": item.account},
            id=lot_id,
            public_id=lot_uid,
            created_at=now,
            account_id=item.account.pk,
            points=item.points,
            remaining=item.points,
            reversed_points=0,
            state=State.AVAILABLE if at is None else State.PENDING,
            source=item.source,
            source_ref=item.source_ref,
            earned_at=now,
            available_at=now if at is None else at,
            expires_at=expires_at,
            value=item.value,
            value_currency=program.currency,
            updated_at=now,
        )
        for (_, item), at, (lot_id, lot_uid, _, _) in zip(fresh, pending, ids, strict=True)
    ]
    if not entries:
        return new_lots, None
    new_entries = [
        _loaded(
            PointEntry,
            {"account": item.account, "actor_user": item.actor.user},
            id=entry_id,
            public_id=entry_uid,
            created_at=now,
            account_id=item.account.pk,
            kind=Kind.EARN,
            available_change=item.points if at is None else 0,
            pending_change=0 if at is None else item.points,
            debt_change=0,
            reason=item.reason,
            actor_kind=item.actor.kind,
            actor_user_id=row["actor_user_id"],
            actor_ref=item.actor.ref,
            idempotency_key=item.idempotency_key,
            details={"requested": item.points, "lot": str(lot_uid)},
        )
        for (_, item), row, at, (_, lot_uid, entry_id, entry_uid) in zip(fresh, rows, pending, ids, strict=True)
    ]
    return new_lots, new_entries


def _random_uuids(n: int) -> list[str]:
    """`n` random UUIDs (version 4, as uuid.uuid4() makes them) as the text PostgreSQL reads, 32 hex digits each:
    one call for random bytes and no UUID object (uuid4() took 2 us each, two an earning)."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = bytes(b & 0x0F | 0x40 for b in raw[6::16])  # the version: 4
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])  # the variant: RFC 4122
    text = raw.hex()
    return [text[i : i + 32] for i in range(0, 32 * n, 32)]


def _loaded(model, related: dict, /, **values):
    """An instance of `model` as one read from the database is (saved, of this connection), with `values` for
    all its columns (by attname, in the model's order) and the `related` objects cached (by field name). Made
    as Django makes an instance it unpickles (Model.__reduce__: __new__, then the attributes), without
    __init__: its per-field work cost more than the rest of a batch's earn in Python (the model has no
    pre_init/post_init receiver to miss: rewards/tests/test_points_earn_many_lots.py checks)."""
    state = ModelState()
    state.adding = False
    state.db = DEFAULT_DB_ALIAS  # connection.alias, without the proxy's thread-local lookup (most of the time here)
    state.fields_cache = related
    obj = model.__new__(model)
    obj._state = state
    obj.__dict__.update(values)
    return obj
