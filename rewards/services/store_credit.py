"""Store credit: a member's money balance per currency, with one append-only entry per change.

The rules (the same as the points ledger's):
- The balance changes only here, under the account row's lock, in the transaction that writes its entry.
- Each call carries an idempotency key, unique per account: replaying it returns the first entry; the same
  key with another amount or kind is a 409.
- The balance never goes below zero (a check constraint backs the 422 up).
"""

import re
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from core.exceptions import ApplicationError
from members.models import Member
from rewards.models import StoreCreditAccount, StoreCreditEntry

Kind = StoreCreditEntry.Kind
CENT = Decimal("0.01")
AMOUNT_MAX = Decimal("1000000")  # one change at most; keeps sums far from the columns' 12 integer digits
_CURRENCY_RE = re.compile(r"^[A-Z]{3}\Z")


def _amount_clean(amount) -> Decimal:
    try:
        amount = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        amount = Decimal("NaN")
    if not amount.is_finite() or amount <= 0 or amount > AMOUNT_MAX or amount != amount.quantize(CENT):
        raise ApplicationError(
            f"A store credit amount is above 0, at most {AMOUNT_MAX}, in whole cents.",
            code="invalid_amount",
            status=400,
            extra={"amount": str(amount)},
        )
    return amount.quantize(CENT)


def _check(*, currency: str, kind: str, reason: str, idempotency_key: str) -> None:
    if not isinstance(currency, str) or not _CURRENCY_RE.match(currency):
        raise ApplicationError("Give a three-letter ISO 4217 currency code.", code="invalid_currency", status=400)
    if kind not in Kind.values:
        raise ApplicationError(f"Unknown store credit kind {kind!r}.", code="invalid_kind", status=400)
    if not (reason or "").strip():
        raise ApplicationError("A store credit change needs a reason.", code="reason_required", status=400)
    if not idempotency_key or len(idempotency_key) > 200:
        raise ApplicationError("Give an idempotency key of 1 to 200 characters.", code="invalid_key", status=400)


def _account_lock(member: Member, currency: str) -> StoreCreditAccount:
    """The member's account in `currency` (made on first use), locked for the rest of the transaction."""
    account, _ = StoreCreditAccount.objects.get_or_create(member=member, currency=currency)
    return StoreCreditAccount.objects.select_for_update(no_key=True).get(pk=account.pk)


def _replayed(account: StoreCreditAccount, *, key: str, amount: Decimal, kind: str) -> StoreCreditEntry | None:
    entry = StoreCreditEntry.objects.filter(account=account, idempotency_key=key).first()
    if entry is not None and (entry.amount != amount or entry.kind != kind):
        raise ApplicationError(
            "This idempotency key was already used for a different store credit change.",
            code="idempotency_conflict",
            status=409,
            extra={"idempotency_key": key},
        )
    return entry


def _change(
    *, member: Member, amount: Decimal, currency: str, kind: str, reason: str, idempotency_key: str, source_ref: str
) -> StoreCreditEntry:
    try:
        with transaction.atomic():
            account = _account_lock(member, currency)
            if entry := _replayed(account, key=idempotency_key, amount=amount, kind=kind):
                return entry
            if amount < 0 and account.balance + amount < 0:
                raise ApplicationError(
                    f"Not enough store credit: {account.balance} {currency} available, {-amount} needed.",
                    code="insufficient_store_credit",
                    extra={"balance": str(account.balance), "requested": str(-amount), "currency": currency},
                )
            account.balance += amount
            account.save(update_fields=["balance", "updated_at"])
            return StoreCreditEntry.objects.create(
                account=account,
                amount=amount,
                balance_after=account.balance,
                kind=kind,
                reason=reason.strip()[:500],
                idempotency_key=idempotency_key,
                source_ref=source_ref[:200],
            )
    except IntegrityError:
        # Only the account's creation can race (the lock serialises the rest); its replay is the answer.
        account = StoreCreditAccount.objects.get(member=member, currency=currency)
        if entry := _replayed(account, key=idempotency_key, amount=amount, kind=kind):
            return entry
        raise


def store_credit_add(
    *,
    member: Member,
    amount: Decimal,
    currency: str,
    kind: str,
    reason: str,
    idempotency_key: str,
    source_ref: str = "",
) -> StoreCreditEntry:
    """Add `amount` (> 0) to the member's store credit in `currency`; replaying the key returns the first entry."""
    amount = _amount_clean(amount)
    _check(currency=currency, kind=kind, reason=reason, idempotency_key=idempotency_key)
    return _change(
        member=member,
        amount=amount,
        currency=currency,
        kind=kind,
        reason=reason,
        idempotency_key=idempotency_key,
        source_ref=source_ref,
    )


def store_credit_spend(
    *,
    member: Member,
    amount: Decimal,
    currency: str,
    reason: str,
    idempotency_key: str,
    kind: str = Kind.SPEND,
    source_ref: str = "",
) -> StoreCreditEntry:
    """Take `amount` (> 0) from the member's store credit, never below zero (422 insufficient_store_credit);
    a closed member's credit is not spent (422 member_not_active); replaying the key returns the first entry."""
    amount = _amount_clean(amount)
    _check(currency=currency, kind=kind, reason=reason, idempotency_key=idempotency_key)
    if member.status == Member.Status.CLOSED:
        raise ApplicationError("The member's account is closed.", code="member_not_active")
    return _change(
        member=member,
        amount=-amount,
        currency=currency,
        kind=kind,
        reason=reason,
        idempotency_key=idempotency_key,
        source_ref=source_ref,
    )
