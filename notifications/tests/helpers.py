"""Data for the email tests, made through the real services (no hand-written ledger rows)."""

import datetime as dt
import itertools

from django.utils import timezone

from integrations.services.orders import order_record
from notifications.models import MemberEmail
from notifications.services import email_send, emails_collect, emails_due

_orders = itertools.count(1)
NOW = dt.timedelta(0)


def order(shop, member, *, total="50.00", external_id=None, placed_at=None):
    placed, _ = order_record(
        shop=shop,
        data={
            "external_id": external_id or f"o-{next(_orders)}",
            "member_id": member.public_id,
            "currency": "EUR",
            "total": total,
            "placed_at": placed_at or timezone.now(),
        },
    )
    return placed


def collect(**kwargs) -> int:
    """Collect with no lag (the rows of the test are committed)."""
    kwargs.setdefault("lag", NOW)
    return emails_collect(**kwargs)


def send_all() -> list[str]:
    return [email_send(email_id=i) for i in emails_due()]


def emails(kind=None, member=None):
    qs = MemberEmail.objects.order_by("id")
    if kind:
        qs = qs.filter(kind=kind)
    if member:
        qs = qs.filter(member=member)
    return list(qs)
