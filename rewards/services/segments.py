"""Segments: which members a segment holds, by its rules or its uploaded list.

A rule segment's `rules` is a JSON list of conditions that must all hold; each is a dict with a "rule"
key and the fields below (docs/campaigns.md shows examples). Every condition becomes a Q over
members.Member (Exists / Subquery / a raw EXISTS over the orders' JSON lines), so a segment is one
queryset: counted, joined, or used by campaigns without a query per member.

| rule | fields | members who... |
|---|---|---|
| tier | tiers: [tier names] | hold one of these tiers now |
| spend | min, max (amounts; one may be left out), days, currency (optional) | spent that much (last N days) |
| orders | min, max, days (optional) | placed that many orders |
| last_order | within_days or not_within_days | ordered (or did not) in the last N days |
| last_activity | within_days or not_within_days | earned or spent points (or did not) in the last N days |
| birthday_month | months: [1-12] | have their birthday in one of these months |
| categories | categories: [names], days (optional) | bought something in one of these categories |
| shop | shop_ids: [shop public ids] | are a customer of, or ordered in, one of these shops |
| joined | after, before (ISO dates, either may be omitted) | joined on or after / before these dates |
| any | groups: [[conditions], [conditions]] | match all conditions of at least one group (an OR of ANDs) |
| rfm_segment | segments: [names, e.g. champions, at_risk] | are in one of these RFM segments (insights; nightly) |
| churn_risk_at_least | min (0-100) | have a churn-risk score of at least min (insights; nightly) |

Orders count unless cancelled; spend is the orders' totals as the shops sent them. Closed members are in
no segment.
"""

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from core.exceptions import ApplicationError
from core.process_cache import ProcessCache

RULES = (
    "tier",
    "spend",
    "orders",
    "last_order",
    "last_activity",
    "birthday_month",
    "categories",
    "shop",
    "joined",
    "any",
    "rfm_segment",
    "churn_risk_at_least",
)


def _invalid(message: str, rule: dict | None = None) -> ApplicationError:
    return ApplicationError(message, code="invalid_segment_rule", extra={"rule": rule} if rule else None)


def _number(rule: dict, key: str, *, whole: bool = False) -> Decimal | int | None:
    value = rule.get(key)
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _invalid(f"{rule.get('rule')}: {key} must be a number.", rule) from None
    if number < 0:
        raise _invalid(f"{rule.get('rule')}: {key} cannot be negative.", rule)
    if whole:
        if number != number.to_integral_value():
            raise _invalid(f"{rule.get('rule')}: {key} must be a whole number.", rule)
        return int(number)
    return number


def _names(rule: dict, key: str) -> list[str]:
    values = rule.get(key)
    if not isinstance(values, list) or not values:
        raise _invalid(f"{rule.get('rule')}: {key} must be a non-empty list.", rule)
    return [str(v).strip() for v in values if str(v).strip()]


def _date(rule: dict, key: str) -> dt.date | None:
    value = rule.get(key)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _invalid(f"{rule.get('rule')}: {key} must be a date (YYYY-MM-DD).", rule) from None


def _days_window(rule: dict) -> tuple[bool, int]:
    """(within, days) of a recency rule: exactly one of within_days / not_within_days."""
    within, not_within = _number(rule, "within_days", whole=True), _number(rule, "not_within_days", whole=True)
    if (within is None) == (not_within is None):
        raise _invalid(f"{rule.get('rule')}: give exactly one of within_days or not_within_days.", rule)
    return (within is not None), (within if within is not None else not_within)


def _member_orders(rule: dict, now: dt.datetime):
    from integrations.models import Order

    orders = Order.objects.filter(member=OuterRef("pk")).exclude(status=Order.Status.CANCELLED)
    days = _number(rule, "days", whole=True)
    if days is not None:
        orders = orders.filter(placed_at__gte=now - dt.timedelta(days=days))
    return orders


def _between(value, rule: dict, *, whole: bool) -> Q:
    low, high = _number(rule, "min", whole=whole), _number(rule, "max", whole=whole)
    if low is None and high is None:
        raise _invalid(f"{rule.get('rule')}: give min, max or both.", rule)
    q = Q()
    if low is not None:
        q &= Q(GreaterThanOrEqual(value, Value(low)))
    if high is not None:
        q &= Q(LessThanOrEqual(value, Value(high)))
    return q


def _categories_sql(categories: list[str], days: int | None, now: dt.datetime) -> RawSQL:
    """Members with an order (not cancelled) that has a line in one of `categories` (case-insensitive): the
    lines are JSON in the order row, so this looks into them with the database's own JSON functions."""
    from integrations.models import Order

    table = connection.ops.quote_name(Order._meta.db_table)
    marks = ", ".join(["%s"] * len(categories))
    params: list = [c.casefold() for c in categories]
    if connection.vendor == "postgresql":
        lines = (
            f"CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(o.lines) WHEN 'array' THEN o.lines "
            f"ELSE '[]'::jsonb END) AS l WHERE lower(l->>'category') IN ({marks})"
        )
    else:
        lines = f", json_each(o.lines) AS l WHERE lower(json_extract(l.value, '$.category')) IN ({marks})"
    sql = f"SELECT o.member_id FROM {table} o {lines} AND o.member_id IS NOT NULL AND o.status <> %s"
    params.append("cancelled")
    if days is not None:
        sql += " AND o.placed_at >= %s"
        params.append(now - dt.timedelta(days=days))
    return RawSQL(sql, params)  # noqa: S611 - fixed SQL, every value is a parameter


def _rule_q(rule, now: dt.datetime) -> Q:
    """One condition as a Q over members.Member; ApplicationError for a rule that makes no sense."""
    from integrations.models import Order, ShopCustomer

    if not isinstance(rule, dict) or rule.get("rule") not in RULES:
        raise _invalid(
            f"Unknown segment rule {rule!r}; known: {', '.join(RULES)}.", rule if isinstance(rule, dict) else None
        )
    match rule["rule"]:
        case "tier":
            return Q(points_account__tier__name__in=_names(rule, "tiers"))
        case "spend":
            orders = _member_orders(rule, now)
            if currency := str(rule.get("currency") or "").strip().upper():
                orders = orders.filter(currency=currency)
            spent = orders.order_by().values("member").annotate(s=Sum("total")).values("s")
            field = DecimalField(max_digits=16, decimal_places=2)
            value = Coalesce(Subquery(spent, output_field=field), Value(Decimal(0)), output_field=field)
            return _between(value, rule, whole=False)
        case "orders":
            counted = _member_orders(rule, now).order_by().values("member").annotate(n=Count("pk")).values("n")
            value = Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
            return _between(value, rule, whole=True)
        case "last_order":
            within, days = _days_window(rule)
            recent = Exists(
                Order.objects.filter(member=OuterRef("pk"), placed_at__gte=now - dt.timedelta(days=days)).exclude(
                    status=Order.Status.CANCELLED
                )
            )
            return Q(recent) if within else ~Q(recent)
        case "last_activity":
            within, days = _days_window(rule)
            recent = Q(points_account__last_activity_at__gte=now - dt.timedelta(days=days))
            return recent if within else ~recent
        case "birthday_month":
            months = _names(rule, "months")
            try:
                numbers = sorted({int(m) for m in months})
            except ValueError:
                raise _invalid("birthday_month: months are numbers 1 to 12.", rule) from None
            if not all(1 <= m <= 12 for m in numbers):
                raise _invalid("birthday_month: months are numbers 1 to 12.", rule)
            return Q(birthday__month__in=numbers)
        case "categories":
            days = _number(rule, "days", whole=True)
            return Q(pk__in=_categories_sql(_names(rule, "categories"), days, now))
        case "shop":
            shop_ids = _names(rule, "shop_ids")
            customer = Exists(ShopCustomer.objects.filter(member=OuterRef("pk"), shop__public_id__in=shop_ids))
            ordered = Exists(Order.objects.filter(member=OuterRef("pk"), shop__public_id__in=shop_ids))
            return Q(customer) | Q(ordered)
        case "joined":
            after, before = _date(rule, "after"), _date(rule, "before")
            if after is None and before is None:
                raise _invalid("joined: give after, before or both.", rule)
            q = Q()
            if after is not None:
                q &= Q(joined_at__date__gte=after)
            if before is not None:
                q &= Q(joined_at__date__lt=before)
            return q
        case "rfm_segment":
            from insights.models import MemberScore

            names = _names(rule, "segments")
            if unknown := sorted(set(names) - set(MemberScore.Segment.values)):
                raise _invalid(f"rfm_segment: unknown segments {', '.join(unknown)}.", rule)
            return Q(Exists(MemberScore.objects.filter(member=OuterRef("pk"), segment__in=names)))
        case "churn_risk_at_least":
            from insights.models import MemberScore

            low = _number(rule, "min", whole=True)
            if low is None or low > 100:
                raise _invalid("churn_risk_at_least: min must be a whole number from 0 to 100.", rule)
            return Q(Exists(MemberScore.objects.filter(member=OuterRef("pk"), churn_risk__gte=low)))
        case "any":
            groups = rule.get("groups")
            if not isinstance(groups, list) or not groups or not all(isinstance(g, list) for g in groups):
                raise _invalid("any: groups must be a non-empty list of lists of conditions.", rule)
            q = Q(pk__in=[])
            for group in groups:
                q |= rules_q(group, now=now)
            return q
    raise AssertionError("unreachable")


def rules_q(rules: Iterable, *, now: dt.datetime | None = None) -> Q:
    """All of `rules` as one Q over members.Member (an empty list: every member)."""
    now = now or timezone.now()
    q = Q()
    for rule in rules:
        q &= _rule_q(rule, now)
    return q


def segment_rules_validate(rules) -> None:
    """Raise ApplicationError (code invalid_segment_rule) unless `rules` is a list of known, sensible rules."""
    if not isinstance(rules, list):
        raise _invalid("The rules must be a list of conditions.")
    rules_q(rules)


def _members_q(segment, now: dt.datetime | None = None) -> Q:
    from rewards.models import Segment, SegmentMember

    if segment.kind == Segment.Kind.STATIC:
        return Q(Exists(SegmentMember.objects.filter(segment_id=segment.pk, member=OuterRef("pk"))))
    return rules_q(segment.rules or [], now=now)


def segment_members(segment) -> QuerySet:
    """The members in `segment` now (a queryset of members.Member, for counts and set-based use)."""
    from members.models import Member

    return Member.objects.exclude(status=Member.Status.CLOSED).filter(_members_q(segment))


# The segments' definitions, per process (core.process_cache): member_segment_ids reads them on every page.
_segments_cache = ProcessCache("segments")


def _segments() -> list:
    from rewards.models import Segment

    return _segments_cache.get("all", lambda: list(Segment.objects.only("pk", "kind", "rules")))


def member_segment_ids(*, member) -> set[int]:
    """The pks of the segments `member` is in now: one query for all segments (and one for their
    definitions when not cached), each segment a boolean column of a query on the member's row."""
    from members.models import Member

    segments = _segments()
    if not segments or member.status == Member.Status.CLOSED:
        return set()
    now = timezone.now()
    columns = {}
    for s in segments:
        try:
            columns[f"s{s.pk}"] = Exists(Member.objects.filter(pk=OuterRef("pk")).filter(_members_q(s, now)))
        except ApplicationError:
            continue  # a segment saved with a rule that no longer makes sense (a shop id gone) holds nobody
    row = Member.objects.filter(pk=member.pk).values(**columns).first() if columns else None
    return {int(key[1:]) for key, inside in (row or {}).items() if inside}


def _connect_signals() -> None:
    from rewards.models import Segment

    post_save.connect(_segments_cache.invalidate, sender=Segment, dispatch_uid="segments_cache_save")
    post_delete.connect(_segments_cache.invalidate, sender=Segment, dispatch_uid="segments_cache_delete")


_connect_signals()


# --- static segments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentUpload:
    added: int  # members newly in the segment
    already: int  # numbers of members who were in it already
    unknown: list[str]  # numbers that are no member's (or a closed member's)
    replaced: bool


def _numbers_read(text: str) -> list[str]:
    """Member numbers from a CSV: the column headed `number` (or `member_number`), else the first column.
    Spaces inside numbers are ignored (they are printed in groups of four)."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = [c.strip().casefold() for c in rows[0]]
    column, start = 0, 0
    for name in ("number", "member_number", "member number"):
        if name in header:
            column, start = header.index(name), 1
            break
    numbers = []
    for row in rows[start:]:
        if len(row) > column and (value := "".join(row[column].split())):
            numbers.append(value)
    return list(dict.fromkeys(numbers))  # once each, in the file's order


def segment_members_upload(*, segment, text: str, replace: bool = False) -> SegmentUpload:
    """Put the members with the member numbers in the CSV `text` into the static `segment` (replacing its
    members when `replace`), set-based; numbers of no member are reported, not fatal."""
    from members.models import Member
    from rewards.models import Segment, SegmentMember

    if segment.kind != Segment.Kind.STATIC:
        raise ApplicationError("Only a static segment takes an uploaded list.", code="segment_not_static")
    numbers = _numbers_read(text)
    found = dict(
        Member.objects.exclude(status=Member.Status.CLOSED).filter(number__in=numbers).values_list("number", "pk")
    )
    unknown = [n for n in numbers if n not in found]
    with transaction.atomic():
        if replace:
            SegmentMember.objects.filter(segment=segment).exclude(member_id__in=found.values()).delete()
        present = set(
            SegmentMember.objects.filter(segment=segment, member_id__in=found.values()).values_list(
                "member_id", flat=True
            )
        )
        SegmentMember.objects.bulk_create(
            [SegmentMember(segment=segment, member_id=pk) for pk in found.values() if pk not in present],
            ignore_conflicts=True,  # an upload of the same list at the same moment adds each member once
        )
        segment.save(update_fields=["updated_at"])  # and the per-process copies of segments are refreshed
    return SegmentUpload(added=len(found) - len(present), already=len(present), unknown=unknown, replaced=replace)
