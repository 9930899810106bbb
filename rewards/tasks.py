"""Periodic jobs of the ledger and the birthday points (settings.CELERY_BEAT_SCHEDULE). Each is idempotent."""

from celery import shared_task

from rewards.services import events, ledger


@shared_task
def lots_release_due() -> int:
    return ledger.lots_release_due()


@shared_task
def lots_expire_due() -> int:
    return ledger.lots_expire_due()


@shared_task
def birthday_points_award() -> int:
    return events.birthday_points_award()
