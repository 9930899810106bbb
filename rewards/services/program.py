"""The program's rules that the ledger applies: when points expire, when pending points release."""

import datetime as dt
from zoneinfo import ZoneInfo

from core.timeutils import add_months, start_of_next_month, start_of_next_year
from rewards.models import Program


def lot_expires_at(*, program: Program, earned_at: dt.datetime) -> dt.datetime | None:
    """When points earned at `earned_at` expire under the program's policy (None: no fixed date)."""
    n = program.expiry_period
    policy = program.expiry_policy
    if policy == Program.Expiry.DAYS:
        return earned_at + dt.timedelta(days=n)
    # Count the N months from the local date: counted in UTC, 22:30 UTC on 30 April (1 May in Amsterdam)
    # + 1 month gave 30 May, so points earned in May expired at the end of May, a month early.
    if policy == Program.Expiry.END_OF_MONTH:
        local = earned_at.astimezone(ZoneInfo(program.time_zone))
        return start_of_next_month(add_months(local, n), tz=program.time_zone)
    if policy == Program.Expiry.END_OF_YEAR:
        local = earned_at.astimezone(ZoneInfo(program.time_zone))
        return start_of_next_year(add_months(local, n), tz=program.time_zone)
    return None  # never, or inactivity (decided per account, not per lot)


def inactivity_cutoff(*, program: Program, now: dt.datetime) -> dt.datetime | None:
    """Accounts inactive since before this instant lose their points (inactivity policy only)."""
    if program.expiry_policy != Program.Expiry.INACTIVITY:
        return None
    return add_months(now, -program.expiry_period)


def pending_until(*, program: Program, placed_at: dt.datetime) -> dt.datetime:
    """When points from an order placed at `placed_at` become available (end of the return window)."""
    return placed_at + dt.timedelta(days=program.pending_days)
