"""Member emails' Celery tasks (settings.CELERY_BEAT_SCHEDULE "member-emails"): each takes ids and is idempotent."""

from celery import shared_task

from notifications import services


@shared_task
def email_send(email_id: int) -> str:
    return services.email_send(email_id=email_id)


@shared_task
def emails_run() -> int:
    """Every minute: queue the emails of the events since the last run, then hand each due email to a worker."""
    services.emails_collect()
    due = services.emails_due()
    for email_id in due:
        email_send.delay(email_id)
    return len(due)
