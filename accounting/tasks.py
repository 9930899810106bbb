"""Periodic jobs of the accounting (settings.CELERY_BEAT_SCHEDULE). Idempotent and safe to run twice at once."""

from celery import shared_task

from accounting.services.posting import journal_post_pending


@shared_task
def journal_post() -> int:
    """Post what the ledger wrote since the last run; returns the journal entries written."""
    return journal_post_pending().journal_entries
