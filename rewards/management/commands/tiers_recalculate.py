"""manage.py tiers_recalculate [--date YYYY-MM-DD] [--chunk-size N] [--pay-dividends YEAR]"""

import datetime as dt
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import ApplicationError
from rewards.selectors import program_get
from rewards.services.tiers import CHUNK_SIZE, tier_dividends_pay, tiers_recalculate


class Command(BaseCommand):
    help = (
        "Re-evaluate every member's tier now (or as at the start of --date in the program's time zone): up to "
        "what they qualify for, down under each tier's downgrade policy; staff overrides and paid memberships "
        "are respected until they end. With --pay-dividends YEAR, credit that year's paid-membership dividends "
        "as store credit instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Evaluate as at 00:00 of this date (YYYY-MM-DD), program time zone.")
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="Accounts per transaction.")
        parser.add_argument("--pay-dividends", type=int, metavar="YEAR", help="Pay the dividends of YEAR.")

    def handle(self, *args, **options):
        say = self.stdout.write
        if options["pay_dividends"]:
            try:
                paid = tier_dividends_pay(year=options["pay_dividends"], progress=say)
            except ApplicationError as error:
                raise CommandError(error.message) from error
            total = sum((d.amount for d in paid), start=0)
            self.stdout.write(self.style.SUCCESS(f"{len(paid)} dividends, {total} in all."))
            return
        at = None
        if options["date"]:
            try:
                day = dt.date.fromisoformat(options["date"])
            except ValueError as error:
                raise CommandError(f"--date: {error}") from error
            at = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(program_get().time_zone))
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1")
        result = tiers_recalculate(at=at, chunk_size=options["chunk_size"], progress=say)
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.accounts} accounts evaluated, {result.changed} tiers changed "
                f"({result.upgraded} up or first set, {result.downgraded} down)."
            )
        )
