"""Small helpers for ledger tests. Every change goes through the ledger services, so the data they make
obeys the same rules as production data (and `ledger_audit()` holds on it)."""

import datetime as dt
import itertools
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from core.exceptions import ApplicationError
from members.models import User
from rewards.models import PointEntry, PointLot, PointMovement, PointsAccount, Program
from rewards.selectors import program_get
from rewards.services.ledger import Actor, points_earn, points_redeem

SHOP = Actor.shop("web-shop")
SYSTEM = Actor.system("tests")
_keys = itertools.count(1)


def new_key(prefix: str = "key") -> str:
    return f"{prefix}-{next(_keys)}"


def set_program(**fields) -> Program:
    """Change the program's settings (the single row the services read on every call)."""
    program = program_get()
    for name, value in fields.items():
        setattr(program, name, value)
    program.save()
    return program


def earn(
    account: PointsAccount,
    points: int,
    *,
    pending_days: int | None = None,
    value: Decimal = Decimal(0),
    key: str | None = None,
    source: str = PointLot.Source.ORDER,
    source_ref: str = "",
) -> PointLot:
    """Earn `points` as a new lot (pending for `pending_days` days when given) and return that lot."""
    available_at = timezone.now() + dt.timedelta(days=pending_days) if pending_days else None
    entry = points_earn(
        account=account,
        points=points,
        source=source,
        source_ref=source_ref,
        actor=SHOP,
        idempotency_key=key or new_key("earn"),
        available_at=available_at,
        value=value,
    )
    return lot_of(entry)


def redeem(account: PointsAccount, points: int, *, key: str | None = None) -> PointEntry:
    return points_redeem(
        account=account, points=points, reason="Reward", actor=SYSTEM, idempotency_key=key or new_key("redeem")
    )


def lot_of(entry: PointEntry) -> PointLot:
    """The lot an earn (or positive adjustment, or incoming transfer) created."""
    return PointLot.objects.get(public_id=entry.details["lot"])


def balances(account: PointsAccount) -> dict:
    """The account's stored counters, read fresh from the database."""
    account.refresh_from_db()
    return {
        "available": account.available,
        "pending": account.pending,
        "debt": account.debt,
        "lifetime_earned": account.lifetime_earned,
        "lifetime_redeemed": account.lifetime_redeemed,
        "lifetime_expired": account.lifetime_expired,
    }


def counters(**given: int) -> dict:
    """What `balances()` should read: the counters given, every other one zero."""
    names = ("available", "pending", "debt", "lifetime_earned", "lifetime_redeemed", "lifetime_expired")
    assert set(given) <= set(names), set(given) - set(names)
    return {name: given.get(name, 0) for name in names}


def ledger_counts() -> tuple[int, int, int]:
    """(entries, movements, lots): what a refused or replayed call must leave unchanged."""
    return PointEntry.objects.count(), PointMovement.objects.count(), PointLot.objects.count()


def staff_user(*perms: str, email: str | None = None) -> User:
    """A staff login holding the given `rewards` permissions (codenames), fetched fresh so that the
    permission cache is empty."""
    user = User.objects.create_user(email or f"{new_key('staff')}@example.com", "pw-staff-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="rewards", codename__in=perms))
    return User.objects.get(pk=user.pk)


@contextmanager
def refused(code: str, status: int):
    """Expect an ApplicationError with this code and HTTP status."""
    with pytest.raises(ApplicationError) as info:
        yield info
    assert (info.value.code, info.value.status) == (code, status), info.value.message
