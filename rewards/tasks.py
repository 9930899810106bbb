"""Periodic jobs of the ledger (scheduled in settings.CELERY_BEAT_SCHEDULE). Each is idempotent."""

from celery import shared_task

from rewards.services import ledger


@shared_task
def lots_release_due() -> int:
    return ledger.lots_release_due()


@shared_task
def lots_expire_due() -> int:
    return ledger.lots_expire_due()
