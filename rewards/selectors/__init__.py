"""Reads of the loyalty engine: the program, balances, history, and the ledger audit."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from core.process_cache import ProcessCache
from core.timeutils import add_months
from rewards.models import (
    EarningRule,
    EventAward,
    EventRule,
    MemberEvent,
    PointEntry,
    PointLot,
    PointMovement,
    PointsAccount,
    Program,
)
from rewards.services.program import inactivity_cutoff


def program_get() -> Program:
    """The program's settings; the row is created with defaults on first use."""
    program, _ = Program.objects.get_or_create(pk=1)
    return program


# The order intake reads the program on every order; a change applies within CONFIG_CACHE_SECONDS.
_program = ProcessCache("program")
post_save.connect(_program.invalidate, sender=Program, dispatch_uid="program_cache_save")


def program_cached() -> Program:
    """program_get() as this process last read it (at most settings.CONFIG_CACHE_SECONDS old): for hot
    paths that only read it (the order intake). Shared by the requests: never change it."""
    return _program.get("program", program_get)


def account_entries(*, account: PointsAccount, kind: str | None = None) -> QuerySet[PointEntry]:
    """A member's history, newest first, optionally one kind only."""
    entries = PointEntry.objects.filter(account=account).order_by("-created_at", "-id")
    if kind:
        entries = entries.filter(kind=kind)
    return entries


@dataclass(frozen=True)
class NextExpiry:
    points: int
    expires_at: dt.datetime


def next_expiry_get(*, account: PointsAccount, now: dt.datetime | None = None) -> NextExpiry | None:
    """The next date on which some of the member's available points expire, and how many."""
    program = program_get()
    now = now or timezone.now()
    cutoff = inactivity_cutoff(program=program, now=now)
    if cutoff is not None:
        if not account.available or account.last_activity_at is None:
            return None
        # The sweep expires them once add_months(sweep time, -N) passes the last activity, which is never
        # before add_months(last activity, N). Adding (now - cutoff) used this month's length instead and
        # could show a date after the points were already gone (31 Jan + "31 days" = 2 Mar; gone 1 Mar).
        return NextExpiry(
            points=account.available, expires_at=add_months(account.last_activity_at, program.expiry_period)
        )
    first = (
        PointLot.objects.filter(account=account, state=PointLot.State.AVAILABLE, expires_at__isnull=False)
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )
    if first is None:
        return None
    points = PointLot.objects.filter(account=account, state=PointLot.State.AVAILABLE, expires_at=first).aggregate(
        total=Sum("remaining")
    )["total"]
    return NextExpiry(points=points, expires_at=first)


@dataclass(frozen=True)
class Violation:
    invariant: str
    account_id: int | None
    member_number: str | None
    detail: str


def _total(queryset: QuerySet, *, group_by: str, field) -> Coalesce:
    """A correlated SUM over `queryset` (filtered with OuterRef), 0 when it has no rows."""
    summed = queryset.order_by().values(group_by).annotate(total=Sum(field)).values("total")
    return Coalesce(Subquery(summed, output_field=IntegerField()), 0)


def ledger_audit() -> list[Violation]:
    """Check every ledger invariant over all accounts, lots and entries with set-based queries."""
    violations: list[Violation] = []
    live_lots = PointLot.objects.filter(account=OuterRef("pk"))
    account_entries_ = PointEntry.objects.filter(account=OuterRef("pk"))
    accounts = PointsAccount.objects.annotate(
        lots_available=_total(live_lots.filter(state="available"), group_by="account", field="remaining"),
        lots_pending=_total(live_lots.filter(state="pending"), group_by="account", field="remaining"),
        entries_available=_total(account_entries_, group_by="account", field="available_change"),
        entries_pending=_total(account_entries_, group_by="account", field="pending_change"),
        entries_debt=_total(account_entries_, group_by="account", field="debt_change"),
    ).filter(
        ~Q(available=F("lots_available"))
        | ~Q(pending=F("lots_pending"))
        | ~Q(available=F("entries_available"))
        | ~Q(pending=F("entries_pending"))
        | ~Q(debt=F("entries_debt"))
        | Q(available__lt=0)
        | Q(pending__lt=0)
        | Q(debt__lt=0)
    )
    for a in accounts.select_related("member"):
        violations.append(
            Violation(
                invariant="balance",
                account_id=a.pk,
                member_number=a.member.number,
                detail=(
                    f"available {a.available} (lots {a.lots_available}, entries {a.entries_available}); "
                    f"pending {a.pending} (lots {a.lots_pending}, entries {a.entries_pending}); "
                    f"debt {a.debt} (entries {a.entries_debt})"
                ),
            )
        )

    # Per lot: its movements add up to what it holds, in the bucket its state says.
    lot_movements = PointMovement.objects.filter(lot=OuterRef("pk"))
    lots = PointLot.objects.annotate(
        moved_available=_total(lot_movements, group_by="lot", field="available_change"),
        moved_pending=_total(lot_movements, group_by="lot", field="pending_change"),
    ).filter(
        ~Q(remaining=F("moved_available") + F("moved_pending"))
        | (Q(state="available") & ~Q(moved_pending=0))
        | (Q(state="pending") & ~Q(moved_available=0))
        | Q(remaining__lt=0)
        | Q(remaining__gt=F("points"))
    )
    for lot in lots.select_related("account__member"):
        violations.append(
            Violation(
                invariant="lot",
                account_id=lot.account_id,
                member_number=lot.account.member.number,
                detail=(
                    f"lot {lot.public_id} ({lot.state}) remaining {lot.remaining} of {lot.points}; "
                    f"movements: available {lot.moved_available}, pending {lot.moved_pending}"
                ),
            )
        )

    # Per entry: its totals are the sum of the lot movements it recorded.
    entry_movements = PointMovement.objects.filter(entry=OuterRef("pk"))
    entries = PointEntry.objects.annotate(
        moved_available=_total(entry_movements, group_by="entry", field="available_change"),
        moved_pending=_total(entry_movements, group_by="entry", field="pending_change"),
    ).filter(~Q(available_change=F("moved_available")) | ~Q(pending_change=F("moved_pending")))
    for entry in entries.select_related("account__member"):
        violations.append(
            Violation(
                invariant="entry",
                account_id=entry.account_id,
                member_number=entry.account.member.number,
                detail=(
                    f"entry {entry.public_id} ({entry.kind}) records available {entry.available_change}, "
                    f"pending {entry.pending_change}; its movements add to {entry.moved_available}, "
                    f"{entry.moved_pending}"
                ),
            )
        )
    return violations


def _window_at(at: dt.datetime) -> Q:
    return (Q(starts_at__isnull=True) | Q(starts_at__lte=at)) & (Q(ends_at__isnull=True) | Q(ends_at__gt=at))


def _for_shop(rules, shop_id: str | None) -> list:
    """Rules whose shop list is empty or names `shop_id`; filtered here because SQLite cannot search JSON lists."""
    wanted = str(shop_id).strip().casefold() if shop_id else None
    return [r for r in rules if not r.shop_ids or wanted in {str(s).strip().casefold() for s in r.shop_ids}]


# Every order reads them; staff change them rarely. A change applies in every web process within
# settings.CONFIG_CACHE_SECONDS (docs/earning.md); the rows are shared, read-only, by the requests.
_active_earning_rules = ProcessCache("active earning rules")
post_save.connect(_active_earning_rules.invalidate, sender=EarningRule, dispatch_uid="earning_rules_cache_save")
post_delete.connect(_active_earning_rules.invalidate, sender=EarningRule, dispatch_uid="earning_rules_cache_delete")


def _earning_rules_switched_on() -> tuple[EarningRule, ...]:
    return tuple(EarningRule.objects.filter(is_active=True).order_by("-priority", "id"))


def earning_rules_active(*, currency: str, shop_id: str | None, at: dt.datetime) -> list[EarningRule]:
    """The earning rules that apply to an order in `currency` from `shop_id` at `at`, highest priority first
    (one query for all active rules, or none while this process's copy of them is fresh: core.process_cache);
    rewards.services.earning.evaluate_order takes them as they are and never changes them."""
    currency = currency.strip().upper()
    rules = [
        rule
        for rule in _active_earning_rules.get("all", _earning_rules_switched_on)
        if rule.currency == currency
        and (rule.starts_at is None or rule.starts_at <= at)
        and (rule.ends_at is None or rule.ends_at > at)
    ]
    return _for_shop(rules, shop_id)


def event_rules_active(*, event: str, shop_id: str | None, at: dt.datetime) -> list[EventRule]:
    """The event rules for `event` from `shop_id` at `at` (one query), oldest first."""
    rules = EventRule.objects.filter(_window_at(at), is_active=True, event=event.strip())
    return _for_shop(rules.order_by("id"), shop_id)


def event_awards(*, member_event: MemberEvent) -> list[EventAward]:
    """What each event rule gave (or refused) for one recorded event, with the rules (one query)."""
    return list(EventAward.objects.filter(member_event=member_event).select_related("rule").order_by("id"))
