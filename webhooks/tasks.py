"""Webhook jobs. Each takes ids (or nothing) and is idempotent: running one twice sends nothing twice."""

from celery import shared_task

from webhooks import services


@shared_task(ignore_result=True)
def webhook_deliver(delivery_id: int) -> str:
    return services.delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def webhooks_requeue_due() -> int:
    """Every minute (CELERY_BEAT_SCHEDULE): queue pending deliveries that are due, so none is lost."""
    return services.deliveries_requeue_due()


@shared_task(ignore_result=True)
def points_expiring_publish() -> int:
    """Daily: announce lots expiring WEBHOOK_EXPIRING_DAYS ahead (each lot once)."""
    return services.points_expiring_publish()
