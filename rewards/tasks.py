"""Periodic jobs of the ledger, the birthday points and the tiers (settings.CELERY_BEAT_SCHEDULE). Each is
idempotent."""

from celery import shared_task

from rewards.services import events, ledger, tiers


@shared_task
def lots_release_due() -> int:
    return ledger.lots_release_due()


@shared_task
def lots_expire_due() -> int:
    return ledger.lots_expire_due()


@shared_task
def birthday_points_award() -> int:
    return events.birthday_points_award()


TIERS_NIGHT_HOUR = 3  # local hour (the program's time zone) of the nightly tier re-evaluation


@shared_task
def tiers_recalculate_nightly(force: bool = False) -> int:
    """Run hourly by beat; re-evaluates every member's tier once a night, in the hour after TIERS_NIGHT_HOUR
    o'clock in the program's time zone (a missed night is caught up by the next: the evaluation is stateless).
    Returns the number of tiers changed."""
    if not force and tiers.program_local_now().hour != TIERS_NIGHT_HOUR:
        return 0
    return tiers.tiers_recalculate().changed


@shared_task
def tier_dividends_pay(year: int | None = None) -> int:
    """Run hourly by beat; in the hour after TIERS_NIGHT_HOUR + 1 o'clock on 2 January (program's time zone),
    credit last year's paid-membership dividends as store credit (idempotent per member and year). A missed
    hour is not caught up: run `manage.py tiers_recalculate --pay-dividends YEAR` (docs/tiers.md)."""
    if year is None:
        local = tiers.program_local_now()
        if (local.month, local.day, local.hour) != (1, 2, TIERS_NIGHT_HOUR + 1):
            return 0
        year = local.year - 1
    return len(tiers.tier_dividends_pay(year=year))
