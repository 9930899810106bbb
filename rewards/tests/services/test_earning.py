"""The earning rules engine: evaluate_order and points_to_reverse are pure, so most tests need no database."""

import datetime as dt
import importlib
import json
import math
from decimal import Decimal as D
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.exceptions import ApplicationError
from core.money import points_round
from rewards.models import EarningRule, EventRule
from rewards.selectors import earning_rules_active, program_get
from rewards.services.earning import (
    MemberContext,
    Multiplier,
    OrderInput,
    OrderLine,
    _allocate,
    _points_of,
    evaluate_order,
    event_period_start,
    points_to_reverse,
)

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MEMBER = MemberContext(member_id="m-1")
SHOP_A = "6f1f3b2e-0000-4000-8000-00000000000a"
SHOP_B = "6f1f3b2e-0000-4000-8000-00000000000b"
Kind, Scope = EarningRule.Kind, EarningRule.Scope


def rule(name="Base", **fields) -> EarningRule:
    """An unsaved rule (evaluation never reads the database): 1 point per 1.00 EUR, per order, by default."""
    return EarningRule(name=name, **{"currency": "EUR", **fields})


def line(sku="A", total="10.00", quantity=1, category="shoes") -> OrderLine:
    total = D(total)
    return OrderLine(sku, f"Product {sku}", category, D(quantity), total / D(quantity), total)


def order(*lines, tax="0", shipping="0", discount="0", currency="EUR", shop_id=None, total=None) -> OrderInput:
    subtotal = sum((x.total for x in lines), D(0))
    paid = D(total) if total is not None else subtotal - D(discount) + D(tax) + D(shipping)
    return OrderInput(currency, paid, subtotal, D(tax), D(shipping), D(discount), NOW, tuple(lines), shop_id)


def evaluate(o, *rules, multipliers=(), now=NOW, member=MEMBER):
    return evaluate_order(o, rules, member=member, now=now, multipliers=multipliers)


def line_points(breakdown) -> list[int]:
    return [x.points for x in breakdown.lines]


# --- base rates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "amount", "expected"),
    [("1", "1.00", 123), ("1", "10.00", 12), ("5", "1.00", 617), ("0.5", "1.00", 61), ("3", "2.50", 148)],
)
def test_base_rate_in_any_ratio(points, amount, expected):
    result = evaluate(order(line(total="123.45")), rule(points=D(points), amount=D(amount)))
    assert result.points == expected
    assert result.rules[0].amount == D("123.45")


def test_the_order_is_worth_its_total_less_tax_and_shipping_unless_the_rule_says_otherwise():
    o = order(line(total="100.00"), tax="21.00", shipping="5.00", discount="10.00")  # paid 116.00
    assert evaluate(o, rule()).points == 90  # 116 - 21 - 5: after the discount
    assert evaluate(o, rule(include_tax=True)).points == 111
    assert evaluate(o, rule(include_shipping=True)).points == 95
    assert evaluate(o, rule(subtract_discounts=False)).points == 100
    assert evaluate(o, rule(include_tax=True, include_shipping=True, subtract_discounts=False)).points == 126


def test_the_order_total_decides_even_when_the_lines_do_not_add_up_to_it():
    o = order(line("A", "30.00"), line("B", "10.00"), total="60.00")  # e.g. a fee the lines do not show
    result = evaluate(o, rule())
    assert result.points == 60 and line_points(result) == [45, 15]


def test_minimum_order_value_counts_the_way_the_rule_counts():
    o = order(line(total="45.00"), tax="9.45")
    assert evaluate(o, rule(minimum_order_value=D("50.00"), include_tax=True)).points == 54
    result = evaluate(o, rule(minimum_order_value=D("50.00")))
    assert result.points == 0
    assert [n.code for n in result.notes] == ["below_minimum"]


@pytest.mark.parametrize(("rounding", "expected"), [("down", 9), ("half_up", 10), ("up", 10)])
def test_rounding_modes(rounding, expected):
    assert evaluate(order(line(total="9.50")), rule(rounding=rounding)).points == expected


def test_half_up_rounds_a_fraction_under_a_half_down():
    assert evaluate(order(line(total="9.49")), rule(rounding="half_up")).points == 9


def test_per_line_rounds_each_line_and_per_order_rounds_once():
    o = order(line("A", "9.90"), line("B", "9.90"), line("C", "9.90"))
    per_order = evaluate(o, rule(scope=Scope.ORDER))
    per_line = evaluate(o, rule(scope=Scope.LINE))
    assert per_order.points == 29 and sum(line_points(per_order)) == 29
    assert per_line.points == 27 and line_points(per_line) == [9, 9, 9]


def test_per_order_points_are_shared_among_the_lines_by_what_each_earned():
    result = evaluate(order(line("A", "5.00"), line("B", "2.50"), line("C", "2.50")), rule(amount=D("3.00")))
    assert result.points == 3
    assert line_points(result) == [1, 1, 1]  # exact shares 1.5, 0.75, 0.75: the largest remainders get the rest


def test_the_discount_is_shared_among_the_lines():
    result = evaluate(order(line("A", "60.00"), line("B", "40.00"), discount="10.00"), rule(scope=Scope.LINE))
    assert line_points(result) == [54, 36]


def test_a_base_rate_for_a_category_only_earns_on_that_category():
    o = order(line("A", "50.00", category="shoes"), line("B", "50.00", category="books"))
    result = evaluate(o, rule("Books", categories=["Books"], points=D(2)))
    assert line_points(result) == [0, 100]


def test_base_rates_add_up_unless_the_higher_one_stops_the_others():
    o = order(line("A", "10.00", category="books"), line("B", "10.00"))
    books = rule("Books", categories=["books"], points=D(2), priority=5)
    assert line_points(evaluate(o, rule(), books)) == [30, 10]
    books.stop_after = True
    assert line_points(evaluate(o, rule(), books)) == [20, 10]


# --- multipliers, fixed points, exclusions -----------------------------------------------------------


def test_category_and_sku_multipliers_scale_the_base_points_of_their_lines():
    o = order(line("A", "10.00", category="shoes"), line("B", "10.00", category="books"), line("C", "10.00"))
    result = evaluate(
        o,
        rule(),
        rule("Double shoes", kind=Kind.MULTIPLIER, multiplier=D(2), categories=["shoes"]),
        rule("Triple B", kind=Kind.MULTIPLIER, multiplier=D(3), skus=["B"]),
    )
    assert line_points(result) == [20, 30, 20]  # C is in "shoes" too
    shoes = result.lines[0].contributions
    assert [(c.name, c.points) for c in shoes] == [("Base", 10), ("Double shoes", 10)]


def test_multipliers_below_one_reduce_and_never_go_below_zero():
    o = order(line("A", "10.00"))
    assert evaluate(o, rule(), rule("Half", kind=Kind.MULTIPLIER, multiplier=D("0.5"), skus=["A"])).points == 5
    two_small = [rule(f"Tiny {i}", kind=Kind.MULTIPLIER, multiplier=D("0.1"), skus=["A"]) for i in range(2)]
    result = evaluate(o, rule(), *two_small)
    assert result.points == 0 and result.lines[0].contributions[-1].kind == "floor"


def test_fixed_points_per_unit_add_to_the_base_rate():
    o = order(line("A", "30.00", quantity=3), line("B", "10.00"))
    result = evaluate(o, rule(), rule("Bonus A", kind=Kind.FIXED, points=D(50), skus=["A"], scope=Scope.LINE))
    assert line_points(result) == [180, 10]
    assert result.lines[0].points_per_unit == D(60)


def test_fixed_points_can_replace_the_base_rate_with_priority_and_stop_after():
    o = order(line("A", "30.00", quantity=3), line("B", "10.00"))
    fixed = rule("Only fixed for A", kind=Kind.FIXED, points=D(50), skus=["A"], priority=10, stop_after=True)
    result = evaluate(o, rule(), fixed)
    assert line_points(result) == [150, 10]


def test_gift_cards_never_earn_even_with_a_multiplier_or_a_higher_priority_rule():
    o = order(line("GC", "50.00", category="Gift Card"), line("A", "50.00"))
    result = evaluate(
        o,
        rule("Base", priority=50),
        rule("Gift cards", kind=Kind.EXCLUSION, categories=["gift card"], priority=-5),
        rule("Double everything", kind=Kind.MULTIPLIER, multiplier=D(2)),
        rule("Fixed", kind=Kind.FIXED, points=D(10), categories=["gift card"]),
    )
    assert line_points(result) == [0, 100]
    assert result.lines[0].excluded_by == "Gift cards" and result.lines[0].contributions == ()
    assert result.rules[0].amount == D("50.00")  # the gift card's half is not counted


def test_an_exclusion_without_products_excludes_nothing():
    assert evaluate(order(line()), rule(), rule("Oops", kind=Kind.EXCLUSION)).points == 10


# --- priority, windows, shops, currency --------------------------------------------------------------


def test_stop_after_keeps_lines_from_lower_priority_rules_only():
    o = order(line("A", "10.00", category="sale"), line("B", "10.00"))
    result = evaluate(
        o,
        rule("Base"),
        rule("Sale: 1 per 2.00", categories=["sale"], amount=D(2), priority=10, stop_after=True),
        rule("Double sale", kind=Kind.MULTIPLIER, multiplier=D(2), categories=["sale"], priority=20),
    )
    assert line_points(result) == [10, 10]  # A: 5 by the sale rate, doubled; the base rate stopped
    assert [c.name for c in result.lines[0].contributions] == ["Sale: 1 per 2.00", "Double sale"]


def test_a_rule_below_its_minimum_stops_nothing():
    o = order(line("A", "10.00"))
    stop = rule("Big orders", points=D(2), minimum_order_value=D(100), priority=5, stop_after=True)
    assert evaluate(o, rule(), stop).points == 10


def test_active_windows_and_the_active_switch():
    o = order(line())
    later = rule("Later", points=D(5), starts_at=NOW + dt.timedelta(seconds=1))
    ended = rule("Ended", points=D(7), ends_at=NOW)
    current = rule("Current", points=D(2), starts_at=NOW, ends_at=NOW + dt.timedelta(days=1))
    paused = rule("Paused", points=D(3), is_active=False)
    assert evaluate(o, later, ended, current, paused).points == 20
    assert evaluate(o, later, ended, current, paused, now=NOW + dt.timedelta(days=2)).points == 50


def test_shop_scoped_rules_apply_to_their_shops_only():
    scoped = rule("Shop A", points=D(3), shop_ids=[SHOP_A.upper()])
    assert evaluate(order(line(), shop_id=SHOP_A), scoped, rule()).points == 40
    assert evaluate(order(line(), shop_id=SHOP_B), scoped, rule()).points == 10
    assert evaluate(order(line()), scoped, rule()).points == 10


def test_no_rule_for_the_currency_earns_nothing_and_says_why():
    result = evaluate(order(line(), currency="usd"), rule(), rule("Pounds", currency="GBP"))
    assert result.points == 0 and line_points(result) == [0]
    assert [n.code for n in result.notes] == ["no_rule_for_currency"]
    assert "USD" in result.notes[0].message
    assert evaluate(order(line(), currency="usd"), rule(currency="USD")).points == 10


def test_rules_of_the_currency_that_do_not_apply_now_are_noted():
    result = evaluate(order(line()), rule(ends_at=NOW))
    assert result.points == 0 and [n.code for n in result.notes] == ["no_rule_applies"]


# --- the seam for tier and campaign multipliers ------------------------------------------------------


def test_outside_multipliers_apply_after_the_rules_in_sequence_and_are_recorded():
    o = order(line("A", "10.00"), line("B", "5.00"))
    gold = MemberContext(member_id="m-1", tier_multiplier=D("1.5"), tier_name="Gold")
    campaign = Multiplier("Summer x2", D(2), source="campaign", ref="c-1")
    result = evaluate(o, rule(), multipliers=[campaign], member=gold)
    assert result.points == 44  # 15, then +7 for Gold (rounded down), then doubled
    assert [(m.name, m.source, m.points) for m in result.multipliers] == [
        ("Gold", "tier", 7),
        ("Summer x2", "campaign", 22),
    ]
    assert sum(line_points(result)) == 44
    assert [c.source for c in result.lines[0].contributions] == ["rule", "tier", "campaign"]


def test_a_multiplier_needs_a_positive_factor():
    with pytest.raises(ValueError):
        Multiplier("Broken", D(0))


# --- the stored breakdown and refunds ----------------------------------------------------------------


def stored(breakdown) -> dict:
    """The breakdown as the orders table keeps it: through JSON and back."""
    return json.loads(json.dumps(breakdown.as_dict()))


def test_the_breakdown_is_json_and_names_every_rule_applied():
    o = order(line("A", "20.00", quantity=2), line("GC", "25.00", category="giftcard"))
    exclusion = rule("No gift cards", kind=Kind.EXCLUSION, categories=["giftcard"])
    data = stored(evaluate(o, rule(), exclusion))
    assert data["points"] == 20 and data["currency"] == "EUR" and data["order_total"] == "45.00"
    first = data["lines"][0]
    assert (first["sku"], first["quantity"], first["points"], first["points_per_unit"]) == ("A", "2", 20, "10.0000")
    base_id = data["rules"][0]["ref"]
    assert first["rules"] == [{"source": "rule", "ref": base_id, "name": "Base", "kind": "base_rate", "points": 20}]
    assert data["lines"][1]["excluded_by"] == "No gift cards"
    assert data["rules"][0]["amount"] == "20.00" and data["rules"][0]["scope"] == "order"


def test_a_refund_reverses_what_was_awarded_even_after_the_rules_changed():
    o = order(line("A", "30.00", quantity=3), line("B", "10.00"))
    base = rule()
    data = stored(evaluate(o, base, rule("Triple A", kind=Kind.MULTIPLIER, multiplier=D(3), skus=["A"])))
    assert data["points"] == 100
    base.points = D(10)  # the merchant changes the rules afterwards; the stored breakdown decides
    assert evaluate(o, base).points == 400
    assert points_to_reverse(data, lines=[("A", 1)]) == 30
    assert points_to_reverse(data, lines=[("B", 1)]) == 10
    assert points_to_reverse(data, lines=[("A", 3), ("B", 1)]) == 100
    assert points_to_reverse(data, amount=D("20.00")) == 50


def test_partial_refunds_by_lines_round_down_and_add_up_to_exactly_what_was_earned():
    data = stored(evaluate(order(line("A", "10.00", quantity=3)), rule()))
    assert data["lines"][0]["points"] == 10
    steps = []
    for n in range(3):
        steps.append(points_to_reverse(data, lines=[("A", 1)], refunded_lines=[("A", 1)] * n))
    assert steps == [3, 3, 4] and sum(steps) == 10


def test_partial_refunds_by_amount_round_down_and_add_up_to_exactly_what_was_earned():
    data = stored(evaluate(order(line("A", "10.00"), tax="2.00"), rule()))  # 10 points on 12.00 paid
    first = points_to_reverse(data, amount=D("5.00"))
    second = points_to_reverse(data, amount=D("5.00"), refunded_amount=D("5.00"))
    third = points_to_reverse(data, amount=D("2.00"), refunded_amount=D("10.00"))
    assert (first, second, third) == (4, 4, 2)


def test_a_refund_never_reverses_more_than_is_left_of_the_order():
    data = stored(evaluate(order(line("A", "10.00"), line("B", "10.00")), rule()))
    assert points_to_reverse(data, amount=D("20.00"), already_reversed=15) == 5
    assert points_to_reverse(data, lines=[("A", 1)], already_reversed=20) == 0


def test_same_sku_on_two_lines_is_refunded_line_after_line():
    data = stored(evaluate(order(line("A", "10.00", quantity=2), line("A", "30.00", quantity=2)), rule()))
    assert points_to_reverse(data, lines=[("A", 2)]) == 10
    assert points_to_reverse(data, lines=[("A", 1)], refunded_lines=[("A", 2)]) == 15


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"lines": [("Z", 1)]}, "refund_unknown_line"),
        ({"lines": [("A", 3)]}, "refund_exceeds_order"),
        ({"lines": [("A", 1)], "refunded_lines": [("A", 2)]}, "refund_exceeds_order"),
        ({"lines": [("A", -1)]}, "invalid_refund"),
        ({"amount": D("20.01")}, "refund_exceeds_order"),
        ({"amount": D("5.00"), "refunded_amount": D("16.00")}, "refund_exceeds_order"),
        ({"amount": D("-1")}, "invalid_refund"),
    ],
)
def test_impossible_refunds_are_refused(kwargs, code):
    data = stored(evaluate(order(line("A", "20.00", quantity=2)), rule()))
    with pytest.raises(ApplicationError) as info:
        points_to_reverse(data, **kwargs)
    assert info.value.code == code and info.value.status == 422


def test_an_order_without_lines_earns_on_its_total_and_reverses_by_amount():
    o = OrderInput("EUR", D("50.00"), D("45.00"), D("5.00"), D("0"), D("0"), NOW, (), None)
    result = evaluate(o, rule(), rule("Shoes", categories=["shoes"], points=D(9)))
    assert result.points == 45 and result.unallocated_points == 45 and result.lines == ()
    assert points_to_reverse(stored(result), amount=D("50.00")) == 45


# --- properties --------------------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False)
names = st.sampled_from(["a", "b", "c"])


@st.composite
def orders(draw):
    lines = [
        OrderLine(draw(names), "x", draw(names), D(draw(st.integers(1, 5))), D(0), draw(money))
        for _ in range(draw(st.integers(1, 5)))
    ]
    subtotal = sum((x.total for x in lines), D(0))
    tax, shipping = draw(money), draw(money)
    discount = draw(st.decimals(min_value=0, max_value=subtotal, places=2))
    total = subtotal - discount + tax + shipping
    return OrderInput(
        "EUR", total, subtotal, tax, shipping, discount, NOW, tuple(lines), draw(st.sampled_from([None, SHOP_A]))
    )


@st.composite
def rules(draw):
    return EarningRule(
        name=f"r{draw(st.integers(0, 99))}",
        kind=draw(st.sampled_from(Kind.values)),
        currency=draw(st.sampled_from(["EUR", "EUR", "USD"])),
        points=draw(st.decimals(min_value=0, max_value=20, places=2)),
        amount=draw(st.decimals(min_value=D("0.01"), max_value=50, places=2)),
        multiplier=draw(st.decimals(min_value=D("0.01"), max_value=5, places=2)),
        include_tax=draw(st.booleans()),
        include_shipping=draw(st.booleans()),
        subtract_discounts=draw(st.booleans()),
        minimum_order_value=draw(st.none() | money),
        rounding=draw(st.sampled_from(["down", "half_up", "up"])),
        scope=draw(st.sampled_from(Scope.values)),
        categories=draw(st.lists(names, max_size=2)),
        skus=draw(st.lists(names, max_size=2)),
        shop_ids=draw(st.sampled_from([[], [SHOP_A]])),
        priority=draw(st.integers(-2, 2)),
        stop_after=draw(st.booleans()),
    )


factors = st.decimals(min_value=D("0.1"), max_value=3, places=2)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    orders(),
    st.lists(rules(), max_size=6),
    st.lists(factors, max_size=2),
    st.data(),
)
def test_property_points_add_up_and_a_full_refund_reverses_exactly_the_total(o, rule_list, factor_list, data):
    multipliers = [Multiplier(f"m{i}", f, rounding="half_up") for i, f in enumerate(factor_list)]
    result = evaluate_order(o, rule_list, member=MEMBER, now=NOW, multipliers=multipliers)
    stored_ = stored(result)
    assert isinstance(result.points, int) and result.points >= 0
    assert all(isinstance(x.points, int) and x.points >= 0 for x in result.lines)
    assert sum(line_points(result)) == result.points and result.unallocated_points == 0
    for x in result.lines:
        assert sum(c.points for c in x.contributions) == x.points

    everything = [(x.sku, x.quantity) for x in o.lines]
    assert points_to_reverse(stored_, lines=everything) == result.points
    assert points_to_reverse(stored_, amount=o.total) == (result.points if o.total else 0)

    # Refund the units one at a time in a random order: never more than earned, exactly all at the end.
    units = [x.sku for x in o.lines for _ in range(int(x.quantity))]
    units = data.draw(st.permutations(units))
    done, reversed_ = [], 0
    for sku in units:
        step = points_to_reverse(stored_, lines=[(sku, 1)], refunded_lines=done, already_reversed=reversed_)
        assert step >= 0
        reversed_ += step
        done.append((sku, 1))
        assert reversed_ <= _exact_share(result, done)  # rounded down, never ahead of the refunded share
    assert reversed_ == result.points


def _exact_share(result, refunded: list[tuple[str, int]]) -> D:
    """The points of the refunded units, unrounded (units fill same-SKU lines in order, like a refund)."""
    share, left = D(0), {}
    for sku, quantity in refunded:
        left[sku] = left.get(sku, 0) + quantity
    for x in result.lines:
        taken = min(left.get(x.sku, 0), x.quantity)
        left[x.sku] = left.get(x.sku, 0) - taken
        share += D(x.points) * taken / x.quantity
    return share


@settings(max_examples=200, deadline=None)
@given(orders(), st.sampled_from(["down", "half_up", "up"]), st.decimals(min_value=D("0.01"), max_value=50, places=2))
def test_property_a_per_order_base_rate_rounds_the_whole_order_once(o, rounding, amount):
    base = rule(amount=amount, points=D(3), rounding=rounding, include_tax=True)
    result = evaluate(o, base)
    assert result.points == points_round((o.total - o.shipping) * 3 / amount, rounding=rounding)
    assert sum(line_points(result)) == result.points


# --- the selector and the default rules (database) ---------------------------------------------------


@pytest.mark.django_db
def test_earning_rules_active_returns_the_applicable_rules_in_priority_order(django_assert_num_queries):
    EarningRule.objects.all().delete()
    low = EarningRule.objects.create(name="Low", currency="EUR", priority=1)
    high = EarningRule.objects.create(name="High", currency="EUR", priority=9)
    shop = EarningRule.objects.create(name="Shop A", currency="EUR", priority=5, shop_ids=[SHOP_A])
    EarningRule.objects.create(name="USD", currency="USD")
    EarningRule.objects.create(name="Paused", currency="EUR", is_active=False)
    EarningRule.objects.create(name="Ended", currency="EUR", ends_at=NOW)
    EarningRule.objects.create(name="Future", currency="EUR", starts_at=NOW + dt.timedelta(hours=1))
    with django_assert_num_queries(1):
        assert earning_rules_active(currency="eur", shop_id=SHOP_A, at=NOW) == [high, shop, low]
    assert earning_rules_active(currency="EUR", shop_id=SHOP_B, at=NOW) == [high, low]
    assert earning_rules_active(currency="EUR", shop_id=None, at=NOW) == [high, low]


def default_rules_migration():
    return importlib.import_module("rewards.migrations.0005_default_earning_rule")


@pytest.mark.django_db
def test_a_fresh_program_earns_1_point_per_1_00_on_the_total_less_tax_and_shipping():
    rules = earning_rules_active(currency=program_get().currency, shop_id=SHOP_A, at=NOW)
    assert [(r.kind, r.points, r.amount, r.scope, r.rounding) for r in rules if r.kind == Kind.BASE_RATE] == [
        (Kind.BASE_RATE, D(1), D("1.00"), Scope.ORDER, "down")
    ]
    lines = (line("A", "80.00"), line("GC", "20.00", category="Gift Cards"))
    o = order(*lines, tax="19.00", shipping="4.95", discount="5", currency=program_get().currency)
    result = evaluate_order(o, rules, member=MEMBER, now=NOW)
    assert result.points == 76  # (118.95 - 19.00 - 4.95) = 95.00, less the gift card's 19.00 share; rounded down
    assert line_points(result) == [76, 0] and result.lines[1].excluded_by == "Gift cards never earn"


@pytest.mark.django_db
def test_the_default_rules_are_made_only_when_there_is_no_rule(program):
    EarningRule.objects.all().delete()
    program.currency = "GBP"
    program.save()
    default_rules_migration().create_default_rules(django_apps, None)
    assert sorted(EarningRule.objects.values_list("kind", "currency")) == [("base_rate", "GBP"), ("exclusion", "GBP")]
    default_rules_migration().create_default_rules(django_apps, None)
    assert EarningRule.objects.count() == 2


# --- event rule limits -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("day", dt.datetime(2026, 11, 1, tzinfo=AMSTERDAM)),
        ("week", dt.datetime(2026, 10, 26, tzinfo=AMSTERDAM)),  # the Monday before Sunday 1 November
        ("month", dt.datetime(2026, 11, 1, tzinfo=AMSTERDAM)),
        ("year", dt.datetime(2026, 1, 1, tzinfo=AMSTERDAM)),
        ("ever", None),
    ],
)
def test_event_limit_periods_start_at_local_midnight(period, expected):
    at = dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC)  # already 1 November in Amsterdam
    assert event_period_start(period=period, at=at, time_zone="Europe/Amsterdam") == expected
    if expected:
        assert expected <= at


@pytest.mark.django_db
def test_evaluation_and_reversal_read_nothing_from_the_database(django_assert_num_queries):
    rules = earning_rules_active(currency="EUR", shop_id=None, at=NOW)
    with django_assert_num_queries(0):
        result = evaluate_order(order(line("A", "12.00", quantity=2)), rules, member=MEMBER, now=NOW)
        assert points_to_reverse(stored(result), lines=[("A", 2)]) == result.points == 12


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "fields", "constraint"),
    [
        (EarningRule, {"points": D(-1)}, "earningrule_points_not_negative"),
        (EarningRule, {"amount": D(0)}, "earningrule_amount_positive"),
        (EarningRule, {"multiplier": D(0)}, "earningrule_multiplier_positive"),
        (EarningRule, {"minimum_order_value": D(-1)}, "earningrule_minimum_not_negative"),
        (EarningRule, {"starts_at": NOW, "ends_at": NOW}, "earningrule_ends_after_starts"),
        (EventRule, {"limit_count": 0}, "eventrule_limit_positive"),
        (EventRule, {"event": ""}, "eventrule_event_named"),
        (EventRule, {"starts_at": NOW, "ends_at": NOW - dt.timedelta(days=1)}, "eventrule_ends_after_starts"),
    ],
)
def test_the_database_refuses_impossible_rules(model, fields, constraint):
    defaults = {"name": "x", "currency": "EUR"} if model is EarningRule else {"name": "x", "event": "e", "points": 5}
    with pytest.raises(IntegrityError) as info, transaction.atomic():
        model.objects.create(**{**defaults, **fields})
    assert constraint in str(info.value)


# --- the whole-number arithmetic (exactly what fractions would give) ------------------------------------


def _rounded(value: Fraction, rounding: str) -> int:
    """A fraction rounded to whole points by the definition: floor, ceiling, halves away from zero."""
    if rounding == "down":
        return math.floor(value)
    if rounding == "up":
        return math.ceil(value)
    return math.floor(value + Fraction(1, 2)) if value >= 0 else -math.floor(-value + Fraction(1, 2))


@settings(max_examples=500, deadline=None)
@given(st.integers(-(10**30), 10**30), st.integers(1, 10**12), st.sampled_from(["down", "half_up", "up"]))
def test_property_whole_number_rounding_is_the_fractions_rounding(numerator, denominator, rounding):
    assert _points_of(numerator, denominator, rounding) == _rounded(Fraction(numerator, denominator), rounding)


@settings(max_examples=500, deadline=None)
@given(
    st.integers(-(10**6), 10**6),
    st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=6),
    st.integers(1, 10**9),
)
def test_property_sharing_by_whole_numbers_is_sharing_by_their_fractions(total, numerators, denominator):
    shares = _allocate(total, numerators)
    assert shares == _allocate(total, [Fraction(x, denominator) for x in numerators])
    assert sum(shares) == total


def test_a_base_rate_in_thousandths_on_fractional_quantities_rounds_once_per_order():
    # 1 point per 0.003 on 10.02: exactly 3340, shared 3336.67 / 3.33 (largest remainder); 3.3 points per unit
    # on 1.75 units: 5.775, rounded up once.
    lines = (line("A", "10.01", quantity="0.5"), line("B", "0.01", quantity="1.25"))
    result = evaluate(order(*lines), rule(points=D("1"), amount=D("0.003"), rounding="half_up"))
    assert result.points == 3340 and line_points(result) == [3337, 3]
    fixed = evaluate(order(*lines), rule(kind=Kind.FIXED, points=D("3.3"), rounding="up"))
    assert fixed.points == 6 and sum(line_points(fixed)) == 6
