"""Earning rules applied to an order, and what a refund reverses: pure functions, no database access.

`evaluate_order(order, rules, member=..., now=...)` returns a `Breakdown`; `Breakdown.as_dict()` is the
JSON to store with the order. A refund later calls `points_to_reverse(stored_json, ...)`, so it reverses
what the order was awarded even after the rules changed. docs/earning.md explains the rules to merchants.

How an order is evaluated (every step is recorded in the breakdown):
1. Rules that are active, in the order's currency, inside their window at `now` and for the order's shop
   are kept; the others are ignored. No rule for the currency: 0 points and a note saying so.
2. Exclusion rules first, whatever their priority: a matching line (a gift card) earns nothing at all.
3. The other rules in priority order (highest first; ties in the given order) pick the lines they match;
   a rule with `stop_after` keeps the lines it applied to away from the rules after it. A rule whose
   minimum order value is not met does not apply (and so stops nothing).
4. Points, by kind: base rates (amount x points / per-amount), then fixed points per unit, then
   multipliers, which scale the line's base-rate points: a multiplier m adds (m - 1) x base, so two
   "x2" rules on one line give x3; use priority and "stop after" when only one should count.
   Per-line rules round every line; per-order rules round the sum once and share the whole points among
   the lines in proportion to what each line earned before rounding (largest remainder), so the lines
   always add up to the total and each line knows exactly what it earned.
5. Multipliers from outside the rules (the member's tier, campaigns: `multipliers=`) are applied after
   the rules, in sequence, each on the points so far, and shared among the lines the same way.

What an order line is worth to a rule: the order's amount as the rule counts it (total, less tax unless
`include_tax`, less shipping unless `include_shipping`, plus the discount back unless `subtract_discounts`)
shared among the lines in proportion to their totals. Orders without lines earn on that amount as a whole
("unallocated" points: reversible by amount, not by lines).
"""

import datetime as dt
import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from core.exceptions import ApplicationError
from core.money import ROUNDING_MODES, money_round
from rewards.models import EarningRule, EventRule

BREAKDOWN_VERSION = 1
ZERO = Decimal(0)
ONE = Decimal(1)
PER_UNIT_PLACES = Decimal("0.0001")
Kind = EarningRule.Kind
Scope = EarningRule.Scope
# As plain names for evaluate_order: reading a member off its enum class costs more than comparing it.
_EXCLUSION, _BASE_RATE, _FIXED, _MULTIPLIER = Kind.EXCLUSION, Kind.BASE_RATE, Kind.FIXED, Kind.MULTIPLIER
_PER_LINE = Scope.LINE


def _quick_init(cls):
    """Give a frozen dataclass with slots an __init__ of the same signature that sets each field through its
    slot directly. The generated one calls object.__setattr__ per field, which costs as much as the rest of
    making the object, and evaluate_order makes a dozen and more per order (per line, per rule, per both)."""
    if "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: _quick_init is for dataclasses with slots and no __post_init__")
    namespace, params, body = {}, [], []
    for f in fields(cls):
        if not f.init or f.kw_only or f.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: _quick_init takes plain fields only")
        namespace[f"set_{f.name}"] = getattr(cls, f.name).__set__
        if f.default is MISSING:
            params.append(f.name)
        else:
            namespace[f"default_{f.name}"] = f.default
            params.append(f"{f.name}=default_{f.name}")
        body.append(f"set_{f.name}(self, {f.name})")
    # Compiled from source, as dataclasses compile theirs.
    exec(f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body), namespace)  # noqa: S102
    cls.__init__ = namespace["__init__"]
    cls.__init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return cls


# --- inputs ------------------------------------------------------------------------------------------


@_quick_init
@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    name: str
    category: str
    quantity: Decimal
    unit_price: Decimal
    total: Decimal


@_quick_init
@dataclass(frozen=True, slots=True)
class OrderInput:
    """An order as a shop reports it. `total` is what the customer paid (tax and shipping included,
    discounts taken off); line totals are before order-level discounts."""

    currency: str
    total: Decimal
    subtotal: Decimal
    tax: Decimal
    shipping: Decimal
    discount: Decimal
    placed_at: dt.datetime
    lines: tuple[OrderLine, ...] = ()
    shop_id: str | None = None  # the shop's public id (UUID string)


@_quick_init
@dataclass(frozen=True, slots=True)
class MemberContext:
    """What the rules may know of the member. The tier multiplier is a placeholder until tiers exist."""

    member_id: str | None = None
    tier_multiplier: Decimal = ONE
    tier_name: str = ""


@dataclass(frozen=True)
class Multiplier:
    """A multiplier from outside the earning rules (a tier, a campaign), applied after them.

    `factor` 1.5 adds half of the points so far; `rounding` is one of Program.Rounding's values.
    """

    name: str
    factor: Decimal
    source: str = "campaign"  # "tier", "campaign", ...: where it came from, for the breakdown
    ref: str = ""  # the tier's or campaign's public id
    rounding: str = "down"

    def __post_init__(self):
        if not Decimal(self.factor) > 0:
            raise ValueError("a multiplier's factor must be positive")
        if self.rounding not in ROUNDING_MODES:
            raise ValueError(f"unknown rounding {self.rounding!r}")


# --- the result --------------------------------------------------------------------------------------


@_quick_init
@dataclass(frozen=True, slots=True)
class Contribution:
    """What one rule (or outside multiplier) added to a line; negative for a multiplier below 1."""

    source: str  # "rule" (or a rule's own `source`: "campaign"), a Multiplier's source, or "floor" (line kept at 0)
    ref: str  # the rule's or multiplier's public id ("" when none)
    name: str
    kind: str  # the rule's kind, or "multiplier"
    points: int

    def as_dict(self) -> dict:
        return {"source": self.source, "ref": self.ref, "name": self.name, "kind": self.kind, "points": self.points}


@_quick_init
@dataclass(frozen=True, slots=True)
class LineBreakdown:
    index: int
    sku: str
    name: str
    category: str
    quantity: Decimal
    total: Decimal
    points: int
    contributions: tuple[Contribution, ...]
    excluded_by: str = ""  # the exclusion rule's name, when the line earns nothing because of it

    @property
    def points_per_unit(self) -> Decimal:
        return (Decimal(self.points) / self.quantity).quantize(PER_UNIT_PLACES) if self.quantity else ZERO

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "sku": self.sku,
            "name": self.name,
            "category": self.category,
            "quantity": str(self.quantity),
            "total": str(self.total),
            "points": self.points,
            "points_per_unit": str(self.points_per_unit),
            "excluded_by": self.excluded_by,
            "rules": [c.as_dict() for c in self.contributions],
        }


@_quick_init
@dataclass(frozen=True, slots=True)
class RuleSummary:
    """One rule's or outside multiplier's part in the whole order."""

    source: str
    ref: str
    name: str
    kind: str
    points: int
    scope: str = ""
    amount: Decimal | None = None  # base rates: the amount the rule earned on
    factor: Decimal | None = None  # multipliers

    def as_dict(self) -> dict:
        out = {"source": self.source, "ref": self.ref, "name": self.name, "kind": self.kind, "points": self.points}
        if self.scope:
            out["scope"] = self.scope
        if self.amount is not None:
            out["amount"] = str(self.amount)
        if self.factor is not None:
            out["factor"] = str(self.factor)
        return out


@_quick_init
@dataclass(frozen=True, slots=True)
class Note:
    code: str
    message: str
    ref: str = ""

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "ref": self.ref}


@_quick_init
@dataclass(frozen=True, slots=True)
class Breakdown:
    """Points for an order: per line, per rule, and why. `lines` + `unallocated_points` add up to `points`."""

    points: int
    currency: str
    order_total: Decimal
    lines: tuple[LineBreakdown, ...]
    unallocated_points: int  # earned by an order without lines
    rules: tuple[RuleSummary, ...]
    multipliers: tuple[RuleSummary, ...]
    notes: tuple[Note, ...]
    evaluated_at: dt.datetime
    member_id: str | None = None
    unallocated_contributions: tuple[Contribution, ...] = field(default=())

    def as_dict(self) -> dict:
        """The JSON stored with the order (Decimals as strings, ids as strings)."""
        return {
            "version": BREAKDOWN_VERSION,
            "points": self.points,
            "currency": self.currency,
            "order_total": str(self.order_total),
            "evaluated_at": self.evaluated_at.isoformat(),
            "member_id": self.member_id,
            "lines": [line.as_dict() for line in self.lines],
            "unallocated_points": self.unallocated_points,
            "unallocated_rules": [c.as_dict() for c in self.unallocated_contributions],
            "rules": [r.as_dict() for r in self.rules],
            "multipliers": [m.as_dict() for m in self.multipliers],
            "notes": [n.as_dict() for n in self.notes],
        }


# --- evaluation --------------------------------------------------------------------------------------


def _norm(value: str) -> str:
    return str(value).strip().casefold()


_NO_NAMES: frozenset[str] = frozenset()


def _names(values: Iterable) -> frozenset[str]:
    if not values:
        return _NO_NAMES
    if isinstance(values, (list, tuple)):  # not list | tuple: that makes a union type every call
        try:
            return _names_of(tuple(values))
        except TypeError:  # something unhashable in a rule's JSON list
            pass
    return frozenset(_norm(v) for v in values if _norm(v))


@functools.lru_cache(maxsize=1024)
def _names_of(values: tuple) -> frozenset[str]:
    """_names of a list of names, remembered: every order of a batch asks it for the same few rules."""
    return frozenset(_norm(v) for v in values if _norm(v))


def _matching(rule, keys: Sequence[tuple[str, str]]) -> list[int]:
    """The lines a rule picks (by index), given each line's normalised (sku, category)."""
    if rule.skus or rule.categories:  # most base rates name no products: no sets to look up
        skus, categories = _names(rule.skus), _names(rule.categories)
        if skus or categories:
            return [i for i, (sku, category) in enumerate(keys) if sku in skus or category in categories]
    # An exclusion must name what it excludes; it never excludes all.
    return [] if rule.kind == _EXCLUSION else list(range(len(keys)))


def _in_window(rule, at: dt.datetime) -> bool:
    return (rule.starts_at is None or rule.starts_at <= at) and (rule.ends_at is None or at < rule.ends_at)


def _for_shop(rule, shop_id: str | None) -> bool:
    if not rule.shop_ids:  # every shop: most rules, and no set to look up
        return True
    shops = _names(rule.shop_ids)
    return not shops or (shop_id is not None and _norm(shop_id) in shops)


@functools.lru_cache(maxsize=4096)
def _exact(value) -> Fraction:
    """Amounts are computed as exact fractions and rounded once: sums of Decimal quotients (1.39 x 0.01 / 1.36
    + 1.39 x 1.35 / 1.36) can land a hair under a whole point and lose it to rounding down. Remembered: equal
    numbers (1, 1.0, Decimal("1.00")) are one key and one fraction, and fractions are immutable."""
    return Fraction(Decimal(value))


def _ratio(value) -> tuple[int, int]:
    """_exact(value) as (numerator, denominator) in lowest terms, the denominator positive (the numbers a
    fraction of it holds): the rules' arithmetic below works on whole numbers over a common denominator, which
    gives the fractions' results without making a fraction per step. Decimals (what orders and rules hold) are
    taken as they are: Decimal(value) of one is the same number, at the cost of a call."""
    return (value if type(value) is Decimal else Decimal(value)).as_integer_ratio()


@functools.lru_cache(maxsize=1024)
def _rule_ratio(value) -> tuple[int, int]:
    """_ratio of a rule's number, remembered: every order of a batch asks it for the same few rules' numbers
    (equal numbers are one key, and equal numbers have one ratio)."""
    return _ratio(value)


def _points_of(numerator: int, denominator: int, rounding: str) -> int:
    """Whole points for numerator / denominator (the denominator positive) with a Program.Rounding mode, as
    core.money.points_round does for Decimals: floor, ceiling, or halves away from zero (floor(x + 1/2) is
    (2n + d) // 2d)."""
    if rounding == "down":
        return numerator // denominator
    if rounding == "up":
        return -(-numerator // denominator)
    if rounding == "half_up":  # halves away from zero, like ROUND_HALF_UP
        if numerator >= 0:
            return (2 * numerator + denominator) // (2 * denominator)
        return -((denominator - 2 * numerator) // (2 * denominator))
    raise ValueError(f"unknown rounding {rounding!r}")


def _money(numerator: int, denominator: int) -> Decimal:
    """numerator / denominator (the denominator positive) as money: the quotient is rounded from the exact
    number, so it needs no fraction in lowest terms."""
    return money_round(Decimal(numerator) / Decimal(denominator))


def _allocate(total: int, weights: Sequence[Fraction | int]) -> list[int]:
    """Share whole `total` in proportion to `weights` (largest remainder; ties to the earlier line).

    Each share is within 1 of its exact proportion, and the shares add up to `total` exactly."""
    if total and len(weights) > 1 and not all(type(x) is int for x in weights):
        # In whole numbers over a common denominator (exact, and far cheaper than fractions): any common
        # denominator gives the same shares.
        fractions = [abs(x if type(x) is Fraction else Fraction(x)) for x in weights]
        denominator = math.lcm(*(x.denominator for x in fractions))
        weights = [x.numerator * (denominator // x.denominator) for x in fractions]
    return _allocate_whole(total, weights)


def _allocate_whole(total: int, weights: Sequence[int]) -> list[int]:
    """_allocate for whole-number weights (evaluate_order's, which need no look at their type)."""
    n = len(weights)
    if n == 0:
        return []
    if total == 0:
        return [0] * n
    if n == 1:
        return [total]  # one line takes it all, whatever its weight
    sign, size = (1 if total > 0 else -1), abs(total)
    w = [abs(x) for x in weights]
    whole = sum(w)
    if whole == 0:
        w, whole = [1] * n, n
    # Line i's exact share is size x w[i] / whole: its floor the quotient, its fraction part remainder / whole.
    shares, remainders = [], []
    for x in w:
        share, remainder = divmod(size * x, whole)
        shares.append(share)
        remainders.append(remainder)
    if left := size - sum(shares):
        # The largest remainders get one more; the sort is stable, so ties go to the earlier line.
        for i in sorted(range(n), key=remainders.__getitem__, reverse=True)[:left]:
            shares[i] += 1
    return shares if sign > 0 else [-s for s in shares]


def _order_amount(order: OrderInput, rule) -> tuple[int, int]:
    """The order's worth as this rule counts it (never below zero), as (numerator, denominator)."""
    terms = [_ratio(order.total)]
    for counts, value, sign in (
        (rule.include_tax, order.tax, -1),
        (rule.include_shipping, order.shipping, -1),
        (rule.subtract_discounts, order.discount, 1),
    ):
        if not counts:
            n, d = _ratio(value)
            terms.append((sign * n, d))
    numerators, denominator = _in_whole_numbers(terms)
    return max(sum(numerators), 0), denominator


def _less(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """a < b for (numerator, denominator) pairs with positive denominators."""
    return a[0] * b[1] < b[0] * a[1]


def _in_whole_numbers(ratios: Sequence[tuple[int, int]]) -> tuple[list[int], int]:
    """Numbers given as (numerator, denominator) as whole numbers over their least common denominator."""
    denominator = math.lcm(*(d for _, d in ratios))
    return [n * (denominator // d) for n, d in ratios], denominator


def _line_weights(lines: Sequence[OrderLine]) -> list[int]:
    """How the order's amount is shared among its lines: by line total, else by quantity, else evenly. As whole
    numbers over a common denominator: only their proportions count."""
    for field_name in ("total", "quantity"):
        numerators, _ = _in_whole_numbers([_ratio(getattr(x, field_name)) for x in lines])
        weights = [w if w > 0 else 0 for w in numerators]
        if sum(weights) > 0:
            return weights
    return [1] * len(lines)


def _round_rule(rule, numerators: list[int], denominator: int) -> list[int]:
    """Whole points per matched line from the exact ones (the k-th earns numerators[k] / denominator, the
    denominator positive): each line rounded, or the sum rounded once and shared."""
    rounding = rule.rounding
    if rule.scope == _PER_LINE:
        return [_points_of(x, denominator, rounding) for x in numerators]
    return _allocate_whole(_points_of(sum(numerators), denominator, rounding), numerators)


@functools.lru_cache(maxsize=4096)
def _text(value) -> str:
    """str(value), remembered: a rule's public id is written into every order's breakdown."""
    return str(value)


def evaluate_order(
    order: OrderInput,
    rules: Iterable,
    *,
    member: MemberContext,
    now: dt.datetime,
    multipliers: Sequence[Multiplier] = (),
) -> Breakdown:
    """The points `order` earns under `rules` at `now`, line by line, with every rule's part recorded.

    `rules` are EarningRule instances (or objects with the same attributes); nothing here reads the
    database. Active windows are checked at `now`. The result never has negative points."""
    currency = order.currency.strip().upper()
    notes: list[Note] = []
    in_currency = [r for r in rules if r.is_active and r.currency.strip().upper() == currency]
    applicable = [r for r in in_currency if _in_window(r, now) and _for_shop(r, order.shop_id)]
    applicable.sort(key=lambda r: -r.priority)  # stable: equal priorities keep the given order
    if not in_currency:
        notes.append(Note("no_rule_for_currency", f"No active earning rule is set up for {currency}; no points."))
    elif not applicable:
        notes.append(Note("no_rule_applies", "No earning rule applies to this shop at this time; no points."))

    real_lines = tuple(order.lines)
    # An order without lines is one line standing for the whole order; its points stay "unallocated".
    lines = real_lines or (OrderLine("", "", "", ZERO, ZERO, Decimal(order.subtotal)),)
    n = len(lines)
    weights = _line_weights(lines)  # whole numbers: line i's share of the order is weights[i] / weight_sum
    weight_sum = sum(weights)

    keys = [(_norm(line.sku), _norm(line.category)) for line in lines]  # what rules match lines by
    excluded: dict[int, Any] = {}
    for rule in applicable:
        if rule.kind == _EXCLUSION and real_lines:
            for i in _matching(rule, keys):
                excluded.setdefault(i, rule)

    # Which rule applies to which lines: priority order, stop_after, minimum order value.
    selected: list[tuple[Any, list[int], tuple[int, int]]] = []  # (rule, lines, the order's amount as it counts)
    stopped: set[int] = set()
    amounts: dict[tuple, tuple[int, int]] = {}  # rules counting the order alike share one computation
    for rule in applicable:
        if rule.kind == _EXCLUSION:
            continue
        counting = (not rule.include_tax, not rule.include_shipping, not rule.subtract_discounts)
        if (amount := amounts.get(counting)) is None:
            amount = amounts[counting] = _order_amount(order, rule)
        if rule.minimum_order_value is not None and _less(amount, _rule_ratio(rule.minimum_order_value)):
            notes.append(
                Note(
                    "below_minimum",
                    f"{rule.name}: the order is under the minimum of {rule.minimum_order_value} {currency}.",
                    _text(rule.public_id),
                )
            )
            continue
        matched = _matching(rule, keys)
        if excluded or stopped:
            matched = [i for i in matched if i not in excluded and i not in stopped]
        if not matched:
            continue
        selected.append((rule, matched, amount))
        if rule.stop_after:
            stopped.update(matched)

    per_line: list[list[Contribution]] = [[] for _ in range(n)]
    points = [0] * n  # each line's points so far
    summaries: list[RuleSummary] = []
    base = [0] * n

    def record(rule, matched: list[int], rounded: list[int], amount: Decimal | None = None) -> None:
        source = getattr(rule, "source", "rule")  # a campaign's bonus rule says "campaign"
        ref, name, kind = _text(rule.public_id), rule.name, rule.kind
        for i, p in zip(matched, rounded, strict=True):
            per_line[i].append(Contribution(source, ref, name, kind, p))
            points[i] += p
        summaries.append(RuleSummary(source, ref, name, kind, sum(rounded), rule.scope, amount))

    # Exact arithmetic in whole numbers: each rule's points for its lines as numerators over one positive
    # denominator, rounded by integer division (the same numbers as with fractions, without one per step).
    base_rates, fixed, multiplying = [], [], []  # by kind, each in priority order
    for item in selected:
        kind = item[0].kind
        if kind == _BASE_RATE:
            base_rates.append(item)
        elif kind == _FIXED:
            fixed.append(item)
        elif kind == _MULTIPLIER:
            multiplying.append(item)
    for rule, matched, (an, ad) in base_rates:
        # Line i earns amount x (weights[i] / weight_sum) x points / rule amount.
        (pn, pd), (rn, rd) = _rule_ratio(rule.points), _rule_ratio(rule.amount)
        scale, denominator = an * pn * rd, ad * pd * rn * weight_sum
        if denominator == 0:
            raise ZeroDivisionError(f"a base rate per {rule.amount} {currency}")
        if denominator < 0:
            scale, denominator = -scale, -denominator
        rounded = _round_rule(rule, [scale * weights[i] for i in matched], denominator)
        for i, p in zip(matched, rounded, strict=True):
            base[i] += p
        share = sum(weights[i] for i in matched)
        record(rule, matched, rounded, _money(an * share, ad * weight_sum))
    for rule, matched, _amount in fixed:
        pn, pd = _rule_ratio(rule.points)
        quantities, denominator = _in_whole_numbers([_ratio(lines[i].quantity) for i in matched])
        record(rule, matched, _round_rule(rule, [q * pn for q in quantities], denominator * pd))
    for rule, matched, _amount in multiplying:
        mn, md = _rule_ratio(rule.multiplier)  # adds (multiplier - 1) x the line's base-rate points
        record(rule, matched, _round_rule(rule, [base[i] * (mn - md) for i in matched], md))

    for i, p in enumerate(points):
        if p < 0:  # multipliers below 1 that add up to more than the base: the line earns 0, not less
            per_line[i].append(Contribution("floor", "", "No negative points", "floor", -p))
            points[i] = 0

    # The seam for tiers and campaigns: outside multipliers after the rules, each on the points so far.
    outside = list(multipliers)
    if Decimal(member.tier_multiplier) != ONE:
        outside.insert(0, Multiplier(member.tier_name or "Tier", Decimal(member.tier_multiplier), source="tier"))
    multiplier_summaries = []
    for m in outside:
        factor = Decimal(m.factor)
        fn, fd = _ratio(factor)
        extra = _points_of(sum(points) * (fn - fd), fd, m.rounding)
        shares = _allocate_whole(extra, points) if sum(points) else [0] * n
        for i, share in enumerate(shares):
            if points[i] or share:
                per_line[i].append(Contribution(m.source, m.ref, m.name, "multiplier", share))
            points[i] += share
        multiplier_summaries.append(RuleSummary(m.source, m.ref, m.name, "multiplier", sum(shares), factor=factor))

    line_results = tuple(
        [
            LineBreakdown(
                i,
                line.sku,
                line.name,
                line.category,
                Decimal(line.quantity),
                Decimal(line.total),
                points[i],
                tuple(per_line[i]),
                excluded[i].name if i in excluded else "",
            )
            for i, line in enumerate(real_lines)
        ]
    )
    return Breakdown(
        points=sum(points),
        currency=currency,
        order_total=Decimal(order.total),
        lines=line_results,
        unallocated_points=0 if real_lines else points[0],
        unallocated_contributions=() if real_lines else tuple(per_line[0]),
        rules=tuple(summaries),
        multipliers=tuple(multiplier_summaries),
        notes=tuple(notes),
        evaluated_at=now,
        member_id=member.member_id,
    )


# --- refunds -----------------------------------------------------------------------------------------


def _consume(
    stored_lines: list[dict], refunded: Iterable[tuple[str, Decimal]], taken: list[Decimal], *, what: str
) -> None:
    """Add each (sku, quantity) to `taken`, filling the order's lines with that SKU in order."""
    for sku, quantity in refunded:
        left = Decimal(quantity)
        if left < 0:
            raise ApplicationError("A refunded quantity cannot be negative.", code="invalid_refund")
        indexes = [i for i, line in enumerate(stored_lines) if line["sku"] == sku]
        if not indexes:
            raise ApplicationError(
                f"The order has no line with SKU {sku!r}.", code="refund_unknown_line", extra={"sku": sku}
            )
        for i in indexes:
            room = Decimal(stored_lines[i]["quantity"]) - taken[i]
            step = min(left, max(room, ZERO))
            taken[i] += step
            left -= step
        if left > 0:
            raise ApplicationError(
                f"{what} more of SKU {sku!r} than the order has.",
                code="refund_exceeds_order",
                extra={"sku": sku},
            )


def _share(points: int, part: Decimal, whole: Decimal) -> int:
    """floor(points x part / whole), exact in Decimal; `part` never exceeds `whole`."""
    if whole <= 0:
        return 0
    return math.floor(points * _exact(part) / _exact(whole))


def points_to_reverse(
    breakdown: Mapping | Breakdown,
    *,
    lines: Sequence[tuple[str, Decimal | int]] | None = None,
    amount: Decimal | None = None,
    refunded_lines: Sequence[tuple[str, Decimal | int]] = (),
    refunded_amount: Decimal = ZERO,
    already_reversed: int = 0,
) -> int:
    """Points a refund takes back, from the order's stored breakdown (not today's rules).

    Exactly one of `lines` [(sku, quantity)] or `amount` (money, in the order's currency):
    - by lines: each line gives back its points in proportion to the quantity refunded;
    - by amount: the order's points in proportion to the amount over the order's total.
    Earlier refunds of the order are passed in (`refunded_lines`, `refunded_amount`) and the share is
    counted cumulatively: floor(points x refunded so far / whole) minus the same before this refund. So
    every partial refund rounds down (never more than its share), and refunding everything gives back
    exactly what was earned, however it was split. `already_reversed` (all earlier reversals of the
    order, of either kind) caps the answer so the total never exceeds what the order earned.
    Raises ApplicationError for an unknown SKU, more than was bought, or more money than the total.
    """
    data = breakdown.as_dict() if isinstance(breakdown, Breakdown) else breakdown
    if (lines is None) == (amount is None):
        raise ValueError("give either lines or amount")
    earned = int(data["points"])
    if lines is not None:
        stored = list(data["lines"])
        before = [ZERO] * len(stored)
        _consume(stored, refunded_lines, before, what="Earlier refunds return")
        after = list(before)
        _consume(stored, lines, after, what="The refund returns")
        result = 0
        for i, line in enumerate(stored):
            quantity = Decimal(line["quantity"])
            result += _share(line["points"], after[i], quantity) - _share(line["points"], before[i], quantity)
    else:
        total = Decimal(data["order_total"])
        prior, amount = Decimal(refunded_amount), Decimal(amount)
        if amount < 0 or prior < 0:
            raise ApplicationError("A refunded amount cannot be negative.", code="invalid_refund")
        if prior + amount > total:
            raise ApplicationError(
                "The refunds add up to more than the order's total.",
                code="refund_exceeds_order",
                extra={"order_total": str(total), "refunded": str(prior + amount)},
            )
        result = _share(earned, prior + amount, total) - _share(earned, prior, total)
    return max(0, min(result, earned - already_reversed))


# --- event rules -------------------------------------------------------------------------------------


def event_period_start(*, period: str, at: dt.datetime, time_zone: str) -> dt.datetime | None:
    """When the limit period of an event rule that contains `at` began, in the program's time zone
    (weeks start on Monday); None for "ever". Count the member's awards since then against the limit."""
    if period == EventRule.Period.EVER:
        return None
    zone = ZoneInfo(time_zone)
    day = at.astimezone(zone).date()
    match period:
        case EventRule.Period.DAY:
            start = day
        case EventRule.Period.WEEK:
            start = day - dt.timedelta(days=day.weekday())
        case EventRule.Period.MONTH:
            start = day.replace(day=1)
        case EventRule.Period.YEAR:
            start = day.replace(month=1, day=1)
        case _:
            raise ValueError(f"unknown period {period!r}")
    return dt.datetime.combine(start, dt.time(), tzinfo=zone)
