"""Helpers for accounting tests: post everything now, read account balances from the journal."""

import datetime as dt
from decimal import Decimal

from django.db.models import Sum

from accounting.models import JournalLine
from accounting.services.posting import journal_post_pending


def post():
    return journal_post_pending(lag=dt.timedelta(0))


def balance(role: str) -> Decimal:
    """The account's balance, debit positive."""
    sums = JournalLine.objects.filter(account__role=role).aggregate(d=Sum("debit"), c=Sum("credit"))
    return (sums["d"] or Decimal(0)) - (sums["c"] or Decimal(0))


def credit_balance(role: str) -> Decimal:
    return -balance(role)
