import datetime as dt
import time

from django.core.management.base import BaseCommand

from accounting.services.posting import CHUNK_SIZE, POSTING_LAG, journal_post_pending


class Command(BaseCommand):
    help = "Post the ledger's and store credit's new entries to the journal (what the periodic task does)."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="Entries per transaction.")
        parser.add_argument(
            "--lag-seconds",
            type=float,
            default=POSTING_LAG.total_seconds(),
            help="Leave entries younger than this for the next run (transactions still committing).",
        )

    def handle(self, *args, chunk_size, lag_seconds, **options):
        started = time.monotonic()

        def progress(source, rows, journal):
            rate = rows / max(time.monotonic() - started, 1e-6)
            self.stdout.write(f"  {source}: {rows} read, {journal} journal entries written ({rate:,.0f} rows/s)")

        result = journal_post_pending(lag=dt.timedelta(seconds=lag_seconds), chunk_size=chunk_size, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"Posted {result.point_entries} point entries and {result.store_credit_entries} store-credit entries: "
                f"{result.journal_entries} journal entries in {time.monotonic() - started:.1f} s."
            )
        )
