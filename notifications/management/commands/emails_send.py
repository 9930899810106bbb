import datetime as dt

from django.core.management.base import BaseCommand

from notifications.services import email_send, emails_collect, emails_due


class Command(BaseCommand):
    help = "Queue the member emails of recent events and send the due ones now (local mode; beat does it otherwise)."

    def add_arguments(self, parser):
        parser.add_argument("--lag", type=int, default=None, help="Seconds; 0 collects the events up to now.")

    def handle(self, *args, lag=None, **options):
        kwargs = {} if lag is None else {"lag": dt.timedelta(seconds=lag)}
        self.stdout.write(f"collected: {emails_collect(**kwargs)} new emails considered")
        counts: dict[str, int] = {}
        while due := emails_due():
            for i, email_id in enumerate(due, 1):
                status = email_send(email_id=email_id) or "taken by another worker"
                counts[status] = counts.get(status, 0) + 1
                if i % 100 == 0:
                    self.stdout.write(f"  {i}/{len(due)} sent or skipped")
        summary = ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "nothing due"
        self.stdout.write(self.style.SUCCESS(f"done: {summary}"))
