"""The insights' periodic job (settings.CELERY_BEAT_SCHEDULE, "insights-refresh"): hourly rollups of
yesterday and today, and once a night the member scores. Idempotent: a run repeated changes nothing more."""

from celery import shared_task

from insights.services.rollups import rollups_refresh
from insights.services.scores import member_scores_refresh
from rewards.services.tiers import program_local_now

SCORES_NIGHT_HOUR = 4  # local hour (program's time zone): after the tiers' night (rewards.tasks, 3 o'clock)


@shared_task
def insights_refresh_hourly(force_scores: bool = False) -> int:
    """Refresh yesterday's and today's rollups; in the hour after SCORES_NIGHT_HOUR o'clock (or with
    force_scores) also every member's scores (a missed night is caught up by the next). Returns days written."""
    result = rollups_refresh(since=None)
    if force_scores or program_local_now().hour == SCORES_NIGHT_HOUR:
        member_scores_refresh()
    return result.days
