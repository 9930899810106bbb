"""Changes of estimate and period close: the two staff actions that post."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounting.ifrs15 import CENT, revenue_cumulative
from accounting.models import Account, AccountingPeriod, EstimateChange, Kind, LotValuation, PostingCursor, SourceKind
from accounting.services.common import (
    Periods,
    Posting,
    accounts_by_role,
    local_date,
    month_start,
    policy_get,
    postings_write,
)
from core.exceptions import ApplicationError
from rewards.selectors import program_get

Role = Account.Role
Basis = LotValuation.Basis
RATE_PLACES = Decimal("0.0001")
CATCH_UP_BATCH = 5000


def redemption_rate_set(*, rate: Decimal, source: str, reason: str, user=None) -> EstimateChange:
    """Change the expected redemption rate, log it, and post the cumulative catch-up on every live lot in the
    same transaction (IFRS 15: a change of estimate; the sales' allocations are never redone)."""
    rate = Decimal(rate).quantize(RATE_PLACES)
    if not (Decimal(0) < rate <= Decimal(1)):
        raise ApplicationError(
            "The expected redemption rate is above 0 and at most 1.", code="invalid_rate", status=400
        )
    if not reason or not reason.strip():
        raise ApplicationError("A change of estimate needs a reason.", code="reason_required", status=400)
    if source not in EstimateChange.Source.values:
        raise ApplicationError("Unknown source of the estimate.", code="invalid_source", status=400)
    with transaction.atomic():
        # The posting's cursor lock: no chunk changes the lots' valuations while the catch-up reads them.
        PostingCursor.objects.get_or_create(source_kind=SourceKind.POINT_ENTRY)
        PostingCursor.objects.select_for_update().get(source_kind=SourceKind.POINT_ENTRY)
        policy = policy_get(lock=True)
        old = policy.expected_redemption_rate
        change = EstimateChange.objects.create(
            old_rate=old, new_rate=rate, source=source, reason=reason.strip(), user=user
        )
        policy.expected_redemption_rate = rate
        policy.rate_overridden = source == EstimateChange.Source.OVERRIDE
        policy.save()
        totals = _catch_up(rate)
        today = local_date(timezone.now(), ZoneInfo(program_get().time_zone))
        postings = []
        for currency, (deferral, provision) in totals.items():
            p = Posting(
                date=today,
                kind=Kind.ESTIMATE,
                description=f"Expected redemption rate {old} -> {rate}: cumulative catch-up",
                source_kind=SourceKind.ESTIMATE_CHANGE,
                source_id=change.pk,
                currency=currency,
            )
            p.move(deferral, debit=Role.CONTRACT_LIABILITY, credit=Role.BREAKAGE_REVENUE)
            p.move(provision, debit=Role.LOYALTY_EXPENSE, credit=Role.PROVISION)
            postings.append(p)
        postings_write(postings, periods=Periods(), accounts=accounts_by_role())
        change.details = {c: {"revenue": str(d), "provision": str(p)} for c, (d, p) in totals.items()}
        change.save(update_fields=["details"])
    return change


def _catch_up(rate: Decimal) -> dict[str, list[Decimal]]:
    """Re-measure every live lot under `rate`; returns per currency [revenue recognised (deferral),
    provision added]."""
    totals: dict[str, list[Decimal]] = {}
    live = LotValuation.objects.filter(remaining__gt=0, basis__in=[Basis.DEFERRAL, Basis.PROVISION]).order_by("pk")
    last = 0
    while True:
        batch = list(live.filter(pk__gt=last)[:CATCH_UP_BATCH])
        if not batch:
            return totals
        changed = []
        for v in batch:
            total = totals.setdefault(v.currency, [Decimal(0), Decimal(0)])
            if v.basis == Basis.DEFERRAL:
                cap = v.value - v.released
                target = min(cap, revenue_cumulative(allocated=v.value, redeemed=v.redeemed, expected=v.points * rate))
                if target != v.recognised:
                    total[0] += target - v.recognised
                    v.recognised = target
                    changed.append(v)
            else:
                # A provision holds the expected cost of the redemptions still to come from this lot.
                expected_left = max(
                    Decimal(0), min(Decimal(v.remaining), (v.remaining + v.redeemed) * rate - v.redeemed)
                )
                target = (v.unit_cost * expected_left).quantize(CENT)
                delta = target - v.outstanding
                if delta:
                    total[1] += delta
                    v.value += delta
                    changed.append(v)
        LotValuation.objects.bulk_update(changed, ["recognised", "value"], batch_size=1000)
        last = batch[-1].pk


def period_close(*, start: dt.date, user=None) -> AccountingPeriod:
    """Close the month starting `start`: from now on postings dated in it go to the first open month after it.
    Closing a closed period changes nothing."""
    start = month_start(start)
    with transaction.atomic():
        # The posting's cursors first: a chunk being posted finishes (into the still-open period) before the
        # close, instead of failing on PostgreSQL's closed-period guard and waiting for the next run.
        for kind in (SourceKind.POINT_ENTRY, SourceKind.STORE_CREDIT_ENTRY):
            PostingCursor.objects.get_or_create(source_kind=kind)
        list(PostingCursor.objects.select_for_update().order_by("source_kind"))
        period, _ = AccountingPeriod.objects.get_or_create(start=start)
        period = AccountingPeriod.objects.select_for_update().get(pk=period.pk)
        if period.closed:
            return period
        period.closed, period.closed_at, period.closed_by = True, timezone.now(), user
        period.save(update_fields=["closed", "closed_at", "closed_by"])
    return period
