"""manage.py insights_refresh [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--chunk-days N] [--scores]"""

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from insights.services.rollups import local_today, rollups_refresh
from insights.services.scores import member_scores_refresh


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"{option}: {error}") from error


class Command(BaseCommand):
    help = (
        "Recompute the insights' daily rollups from --since (default: yesterday) to --until (default: today, "
        "program's time zone), --chunk-days days at a time with progress; with --scores also every member's "
        "RFM and churn-risk scores. Safe to repeat: the days' rows are replaced."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="First day to recompute (YYYY-MM-DD), e.g. the program's start.")
        parser.add_argument("--until", help="Last day (YYYY-MM-DD); default today.")
        parser.add_argument("--chunk-days", type=int, default=31, help="Days per refresh call (default 31).")
        parser.add_argument("--scores", action="store_true", help="Also recompute the member scores.")

    def handle(self, *args, **options):
        last = _date(options["until"], "--until") if options["until"] else local_today()
        first = _date(options["since"], "--since") if options["since"] else last - dt.timedelta(days=1)
        if first > last:
            raise CommandError("--since is after --until")
        if options["chunk_days"] < 1:
            raise CommandError("--chunk-days must be at least 1")
        total = (last - first).days + 1
        done, began = 0, time.monotonic()
        start = first
        while start <= last:
            end = min(start + dt.timedelta(days=options["chunk_days"] - 1), last)
            rollups_refresh(since=start, until=end)
            done += (end - start).days + 1
            self.stdout.write(
                f"{start} .. {end}: {done}/{total} days ({100 * done // total} %), {time.monotonic() - began:.1f} s"
            )
            start = end + dt.timedelta(days=1)
        if options["scores"]:
            result = member_scores_refresh()
            self.stdout.write(f"scores: {result.members} members, {result.scored} with orders in 365 days")
        self.stdout.write(self.style.SUCCESS(f"{total} days refreshed in {time.monotonic() - began:.1f} s."))
