import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.money import Money, money_round, points_round
from core.timeutils import add_months, start_of_next_month, start_of_next_year


@pytest.mark.parametrize(
    ("value", "rounding", "points"),
    [("12.5", "down", 12), ("12.5", "half_up", 13), ("12.4", "half_up", 12), ("12.01", "up", 13), ("12", "up", 12)],
)
def test_points_round_follows_the_program_rounding(value, rounding, points):
    assert points_round(Decimal(value), rounding=rounding) == points


def test_money_rounds_half_up_to_cents_and_prints_with_currency():
    assert money_round(Decimal("2.005")) == Decimal("2.01")
    assert str(Money(Decimal("5"), "EUR")) == "5.00 EUR"


def test_add_months_clamps_to_the_last_day_of_the_month():
    assert add_months(dt.datetime(2027, 1, 31, tzinfo=dt.UTC), 1).date() == dt.date(2027, 2, 28)
    assert add_months(dt.datetime(2028, 1, 31, tzinfo=dt.UTC), 1).date() == dt.date(2028, 2, 29)
    assert add_months(dt.datetime(2027, 3, 15, tzinfo=dt.UTC), -3).date() == dt.date(2026, 12, 15)
    assert add_months(dt.datetime(2026, 11, 30, tzinfo=dt.UTC), 14).date() == dt.date(2028, 1, 30)


def test_end_of_month_is_local_to_the_program_time_zone():
    # 23:30 UTC on 31 March is already 1 April in Amsterdam: the month that ends is April.
    late = dt.datetime(2027, 3, 31, 23, 30, tzinfo=dt.UTC)
    assert start_of_next_month(late, tz="Europe/Amsterdam") == dt.datetime(
        2027, 5, 1, tzinfo=ZoneInfo("Europe/Amsterdam")
    )
    assert start_of_next_month(late, tz="UTC") == dt.datetime(2027, 4, 1, tzinfo=ZoneInfo("UTC"))


def test_end_of_year_crosses_into_the_next_year():
    assert start_of_next_year(dt.datetime(2027, 12, 31, 12, tzinfo=dt.UTC), tz="UTC").year == 2028
    assert start_of_next_month(dt.datetime(2027, 12, 5, tzinfo=dt.UTC), tz="UTC").date() == dt.date(2028, 1, 1)
