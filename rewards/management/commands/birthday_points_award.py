import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from rewards.services.events import birthday_points_award


class Command(BaseCommand):
    help = (
        "Give the birthday event rules' points to the members whose birthday is today in the program's time zone "
        "(the hourly task does this too); --date catches up a day the task missed. Once per member per year."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="The day to award, as YYYY-MM-DD (default: today).")

    def handle(self, *args, date=None, **options):
        try:
            day = dt.date.fromisoformat(date) if date else None
        except ValueError:
            raise CommandError(f"--date {date!r}: write it as YYYY-MM-DD.") from None
        recorded = birthday_points_award(today=day)
        self.stdout.write(self.style.SUCCESS(f"Recorded {recorded} birthday events."))
