"""IFRS 15 Illustrative Example 52 (customer loyalty programme), from the standard's own figures.

An entity sells products for CU100,000 and awards 10,000 points (1 point per CU10). Each point is worth CU1
at redemption; the entity expects 9,500 to be redeemed, so the points' stand-alone selling price is CU9,500.
The allocation: goods CU91,324, points CU8,676. Year 1: 4,500 points redeemed, revenue CU4,110
(4,500 / 9,500 x 8,676). Year 2: 8,500 redeemed in total, expected redemptions revised to 9,700: cumulative
revenue CU7,603 (8,500 / 9,700 x 8,676), so year 2's revenue is CU3,493 (7,603 - 4,110).
"""

from decimal import Decimal

from accounting.ifrs15 import allocate, points_ssp, release_on_lapse, revenue_cumulative, revenue_for_period, share

UNIT = Decimal(1)  # the example works in whole currency units


def test_example_52_allocation():
    ssp = points_ssp(points=10_000, face_value=Decimal(1), expected_rate=Decimal("0.95"))
    assert ssp == Decimal(9_500)
    goods, to_points = allocate(price=Decimal(100_000), goods_ssp=Decimal(100_000), points_ssp=ssp, places=UNIT)
    assert (goods, to_points) == (Decimal(91_324), Decimal(8_676))


def test_example_52_year_1():
    revenue = revenue_for_period(
        allocated=Decimal(8_676), redeemed=4_500, expected=Decimal(9_500), recognised_before=Decimal(0), places=UNIT
    )
    assert revenue == Decimal(4_110)
    assert Decimal(8_676) - revenue == Decimal(4_566)  # the contract liability at the end of year 1


def test_example_52_year_2_estimate_change_is_a_cumulative_catch_up():
    cumulative = revenue_cumulative(allocated=Decimal(8_676), redeemed=8_500, expected=Decimal(9_700), places=UNIT)
    assert cumulative == Decimal(7_603)
    year_2 = revenue_for_period(
        allocated=Decimal(8_676), redeemed=8_500, expected=Decimal(9_700), recognised_before=Decimal(4_110), places=UNIT
    )
    assert year_2 == Decimal(3_493)
    assert Decimal(8_676) - cumulative == Decimal(1_073)  # liability carried into year 3


def test_the_allocation_is_never_redone_when_the_estimate_changes():
    # Year 2 still uses the 8,676 allocated at the sale, not a re-split at 97 %.
    resplit = allocate(
        price=Decimal(100_000),
        goods_ssp=Decimal(100_000),
        points_ssp=points_ssp(points=10_000, face_value=Decimal(1), expected_rate=Decimal("0.97")),
        places=UNIT,
    )[1]
    assert resplit != Decimal(8_676)
    assert revenue_cumulative(allocated=Decimal(8_676), redeemed=8_500, expected=Decimal(9_700), places=UNIT) != (
        revenue_cumulative(allocated=resplit, redeemed=8_500, expected=Decimal(9_700), places=UNIT)
    )


def test_remainder_is_released_on_lapse_and_revenue_never_exceeds_the_allocation():
    assert release_on_lapse(allocated=Decimal(8_676), recognised=Decimal(7_603)) == Decimal(1_073)
    assert revenue_cumulative(allocated=Decimal(8_676), redeemed=9_800, expected=Decimal(9_700)) == Decimal(8_676)


def test_allocation_adds_up_to_the_price_in_cents():
    goods, to_points = allocate(price=Decimal("59.99"), goods_ssp=Decimal("59.99"), points_ssp=Decimal("0.48"))
    assert goods + to_points == Decimal("59.99")
    assert to_points == Decimal("0.48")  # 59.99 x 0.48 / 60.47 = 0.4762


def test_share_leaves_no_cent_behind():
    assert share(Decimal("10.00"), part=1, whole=3) == Decimal("3.33")
    assert share(Decimal("10.00"), part=3, whole=3) == Decimal("10.00")
    assert allocate(price=Decimal(0), goods_ssp=Decimal(0), points_ssp=Decimal(5))[1] == Decimal("0.00")
