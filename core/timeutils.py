"""Calendar arithmetic in the program's time zone ("end of month" is a local notion)."""

import datetime as dt
from zoneinfo import ZoneInfo


def add_months(value: dt.datetime, months: int) -> dt.datetime:
    """Same day `months` later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = value.month - 1 + months
    year, month = value.year + month_index // 12, month_index % 12 + 1
    last_day = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return value.replace(year=year, month=month, day=min(value.day, last_day))


def start_of_next_month(value: dt.datetime, *, tz: str) -> dt.datetime:
    """The first instant after the local month that contains `value` (an exclusive end of month)."""
    local = value.astimezone(ZoneInfo(tz))
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return dt.datetime(year, month, 1, tzinfo=ZoneInfo(tz))


def start_of_next_year(value: dt.datetime, *, tz: str) -> dt.datetime:
    local = value.astimezone(ZoneInfo(tz))
    return dt.datetime(local.year + 1, 1, 1, tzinfo=ZoneInfo(tz))
