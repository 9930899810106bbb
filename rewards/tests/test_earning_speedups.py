"""What evaluate_order's faster paths must keep: the result classes behave as the frozen dataclasses they
were, and sharing points by any kind of weight gives the largest-remainder shares."""

import dataclasses
import math
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewards.services.earning import (
    Breakdown,
    Contribution,
    LineBreakdown,
    MemberContext,
    Note,
    OrderInput,
    OrderLine,
    RuleSummary,
    _allocate,
    _quick_init,
)


def test_the_result_classes_take_their_fields_by_position_or_name_with_their_defaults():
    summary = RuleSummary("rule", "r-1", "Base", "base_rate", 5)
    assert (summary.scope, summary.amount, summary.factor) == ("", None, None)
    assert summary == RuleSummary(source="rule", ref="r-1", name="Base", kind="base_rate", points=5)
    assert MemberContext() == MemberContext(None, D(1), "")
    assert OrderInput("EUR", D(1), D(1), D(0), D(0), D(0), None).lines == ()
    assert Note("code", "message").ref == ""
    with pytest.raises(TypeError):
        Contribution("rule", "r-1", "Base", "base_rate")  # a field missing
    with pytest.raises(TypeError):
        Contribution("rule", "r-1", "Base", "base_rate", 5, unknown=1)


def test_the_result_classes_stay_frozen_hashable_and_replaceable():
    line = LineBreakdown(0, "A", "Shoe", "shoes", D(1), D(10), 10, (Contribution("rule", "", "Base", "base_rate", 10),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        line.points = 11
    assert hash(line) == hash(dataclasses.replace(line, points=10))
    assert dataclasses.replace(line, points=11).points == 11 and line.points == 10
    assert dataclasses.asdict(OrderLine("A", "Shoe", "shoes", D(1), D(10), D(10)))["sku"] == "A"
    breakdown = Breakdown(10, "EUR", D(10), (line,), 0, (), (), (), None)
    assert breakdown.member_id is None and breakdown.unallocated_contributions == ()


def test_quick_init_refuses_what_it_cannot_copy():
    with pytest.raises(TypeError):

        @_quick_init
        @dataclasses.dataclass(frozen=True)  # no slots
        class NoSlots:
            x: int

    with pytest.raises(TypeError):

        @_quick_init
        @dataclasses.dataclass(frozen=True, slots=True)
        class WithFactory:
            x: list = dataclasses.field(default_factory=list)


def _largest_remainder(total: int, weights: list) -> list[int]:
    """The shares by exact fractions, as _allocate promises them."""
    exact = [abs(Fraction(w)) for w in weights]
    whole = sum(exact)
    if whole == 0:
        exact, whole = [Fraction(1)] * len(exact), len(exact)
    size = abs(total)
    parts = [size * w / whole for w in exact]
    shares = [math.floor(p) for p in parts]
    for i in sorted(range(len(parts)), key=lambda i: (-(parts[i] - shares[i]), i))[: size - sum(shares)]:
        shares[i] += 1
    return [s if total >= 0 else -s for s in shares]


weights = st.one_of(
    st.integers(-50, 50),
    st.fractions(min_value=-50, max_value=50, max_denominator=30),
    st.decimals(min_value=-50, max_value=50, places=2),
)


@given(st.integers(-1000, 1000), st.lists(weights, min_size=2, max_size=6))
def test_allocate_shares_by_the_largest_remainder_whatever_the_weights(total, ws):
    shares = _allocate(total, ws)
    assert shares == _largest_remainder(total, ws)
    assert sum(shares) == total
