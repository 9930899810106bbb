"""The program's rules (rewards.services.program): expiry dates, the inactivity cut-off, the return window."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from rewards.models import Program
from rewards.services.program import inactivity_cutoff, lot_expires_at, pending_until
from rewards.tests.helpers import earn, set_program

UTC = dt.UTC
AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")


def expires(policy: str, n: int, earned_at: dt.datetime, tz: str = "UTC") -> dt.datetime | None:
    program = Program(expiry_policy=policy, expiry_period=n, time_zone=tz)
    return lot_expires_at(program=program, earned_at=earned_at)


@pytest.mark.parametrize("policy", [Program.Expiry.NEVER, Program.Expiry.INACTIVITY])
def test_no_fixed_date_under_never_and_inactivity(policy):
    assert expires(policy, 12, dt.datetime(2024, 5, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, dt.datetime(2024, 3, 30, 12, tzinfo=UTC)),
        (2, dt.datetime(2024, 4, 1, 12, tzinfo=UTC)),
        (365, dt.datetime(2025, 3, 30, 12, tzinfo=UTC)),
    ],
)
def test_n_days_after_earning_is_exact_even_across_a_dst_change(n, expected):
    # Amsterdam moves its clocks on 31 March 2024; "N days" is still N times 24 hours.
    assert expires(Program.Expiry.DAYS, n, dt.datetime(2024, 3, 30, 12, tzinfo=UTC), tz="Europe/Amsterdam") == expected


@pytest.mark.parametrize(
    ("earned_at", "n", "expected"),
    [
        (dt.datetime(2024, 1, 15, 10, tzinfo=UTC), 0, dt.datetime(2024, 2, 1, tzinfo=UTC)),
        (dt.datetime(2024, 1, 15, 10, tzinfo=UTC), 1, dt.datetime(2024, 3, 1, tzinfo=UTC)),
        (dt.datetime(2024, 1, 15, 10, tzinfo=UTC), 12, dt.datetime(2025, 2, 1, tzinfo=UTC)),
        (dt.datetime(2024, 11, 3, tzinfo=UTC), 2, dt.datetime(2025, 2, 1, tzinfo=UTC)),  # across the year
        (dt.datetime(2024, 1, 1, tzinfo=UTC), 0, dt.datetime(2024, 2, 1, tzinfo=UTC)),  # first instant of a month
    ],
)
def test_end_of_month_n_months_after_earning(earned_at, n, expected):
    assert expires(Program.Expiry.END_OF_MONTH, n, earned_at) == expected


@pytest.mark.parametrize(
    ("earned_at", "expected"),
    [
        # 31 January + 1 month is the end of February, not 2 or 3 March (so February's end, not March's).
        (dt.datetime(2023, 1, 31, 9, tzinfo=UTC), dt.datetime(2023, 3, 1, tzinfo=UTC)),
        (dt.datetime(2024, 1, 31, 9, tzinfo=UTC), dt.datetime(2024, 3, 1, tzinfo=UTC)),  # leap year
        (dt.datetime(2024, 8, 31, 9, tzinfo=UTC), dt.datetime(2024, 10, 1, tzinfo=UTC)),  # 31 Sep does not exist
    ],
)
def test_end_of_month_clamps_to_the_last_day_of_a_shorter_month(earned_at, expected):
    assert expires(Program.Expiry.END_OF_MONTH, 1, earned_at) == expected


@pytest.mark.parametrize(
    ("earned_at", "tz", "n", "expected"),
    [
        # 22:30 UTC on 30 April is already 1 May in Amsterdam: earned in May, so + 1 month ends with June.
        (dt.datetime(2024, 4, 30, 22, 30, tzinfo=UTC), "Europe/Amsterdam", 1, dt.datetime(2024, 7, 1, tzinfo=AMS)),
        # 21:30 UTC on 31 May is still May in Amsterdam: + 1 month also ends with June.
        (dt.datetime(2024, 5, 31, 21, 30, tzinfo=UTC), "Europe/Amsterdam", 1, dt.datetime(2024, 7, 1, tzinfo=AMS)),
        # 23:30 UTC on 31 March is 1 April (summer time) in Amsterdam: April ends at midnight CEST.
        (dt.datetime(2024, 3, 31, 23, 30, tzinfo=UTC), "Europe/Amsterdam", 0, dt.datetime(2024, 5, 1, tzinfo=AMS)),
        # 03:00 UTC on 1 March is still 29 February in New York: February ends at midnight EST.
        (dt.datetime(2024, 3, 1, 3, tzinfo=UTC), "America/New_York", 0, dt.datetime(2024, 3, 1, tzinfo=NYC)),
        (dt.datetime(2024, 3, 1, 3, tzinfo=UTC), "America/New_York", 1, dt.datetime(2024, 4, 1, tzinfo=NYC)),
    ],
)
def test_end_of_month_is_the_end_of_the_month_in_the_program_time_zone(earned_at, tz, n, expected):
    got = expires(Program.Expiry.END_OF_MONTH, n, earned_at, tz=tz)
    assert got == expected
    local = got.astimezone(ZoneInfo(tz))
    assert (local.day, local.hour, local.minute) == (1, 0, 0)  # local midnight on the 1st


@pytest.mark.parametrize(
    ("earned_at", "tz", "n", "expected"),
    [
        (dt.datetime(2024, 6, 15, tzinfo=UTC), "UTC", 0, dt.datetime(2025, 1, 1, tzinfo=UTC)),
        (dt.datetime(2024, 6, 15, tzinfo=UTC), "UTC", 6, dt.datetime(2025, 1, 1, tzinfo=UTC)),
        (dt.datetime(2024, 6, 15, tzinfo=UTC), "UTC", 7, dt.datetime(2026, 1, 1, tzinfo=UTC)),
        (dt.datetime(2024, 6, 15, tzinfo=UTC), "UTC", 12, dt.datetime(2026, 1, 1, tzinfo=UTC)),
        # 23:30 UTC on 30 November is December in Amsterdam: + 1 month is January 2025, which ends 2025.
        (dt.datetime(2024, 11, 30, 23, 30, tzinfo=UTC), "Europe/Amsterdam", 1, dt.datetime(2026, 1, 1, tzinfo=AMS)),
        # 23:30 UTC on New Year's Eve is already the new year in Amsterdam.
        (dt.datetime(2024, 12, 31, 23, 30, tzinfo=UTC), "Europe/Amsterdam", 0, dt.datetime(2026, 1, 1, tzinfo=AMS)),
        # 03:00 UTC on 1 January is still New Year's Eve in New York.
        (dt.datetime(2025, 1, 1, 3, tzinfo=UTC), "America/New_York", 0, dt.datetime(2025, 1, 1, tzinfo=NYC)),
    ],
)
def test_end_of_year_n_months_after_earning_in_the_program_time_zone(earned_at, tz, n, expected):
    assert expires(Program.Expiry.END_OF_YEAR, n, earned_at, tz=tz) == expected


@pytest.mark.django_db
def test_an_earned_lot_stores_the_local_end_of_month_as_its_expiry(account):
    set_program(expiry_policy=Program.Expiry.END_OF_MONTH, expiry_period=2, time_zone="Pacific/Auckland")
    lot = earn(account, 10)
    lot.refresh_from_db()

    local = lot.earned_at.astimezone(ZoneInfo("Pacific/Auckland"))
    month = local.month + 3  # the month after the one that ends
    year = local.year + (month - 1) // 12
    expected = dt.datetime(year, (month - 1) % 12 + 1, 1, tzinfo=ZoneInfo("Pacific/Auckland"))
    assert lot.expires_at == expected


def test_inactivity_cutoff_is_n_months_back_and_only_under_the_inactivity_policy():
    now = dt.datetime(2024, 3, 31, 8, tzinfo=UTC)
    inactivity = Program(expiry_policy=Program.Expiry.INACTIVITY, expiry_period=12)
    assert inactivity_cutoff(program=inactivity, now=now) == dt.datetime(2023, 3, 31, 8, tzinfo=UTC)
    one_month = Program(expiry_policy=Program.Expiry.INACTIVITY, expiry_period=1)
    assert inactivity_cutoff(program=one_month, now=now) == dt.datetime(2024, 2, 29, 8, tzinfo=UTC)  # clamped
    for policy in (Program.Expiry.NEVER, Program.Expiry.DAYS, Program.Expiry.END_OF_MONTH):
        assert inactivity_cutoff(program=Program(expiry_policy=policy), now=now) is None


def test_the_return_window_is_the_programs_pending_days():
    placed = dt.datetime(2024, 3, 30, 12, tzinfo=UTC)
    assert pending_until(program=Program(pending_days=14), placed_at=placed) == dt.datetime(2024, 4, 13, 12, tzinfo=UTC)
    assert pending_until(program=Program(pending_days=0), placed_at=placed) == placed
