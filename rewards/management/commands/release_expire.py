from django.core.management.base import BaseCommand

from rewards.services.ledger import lots_expire_due, lots_release_due


class Command(BaseCommand):
    help = "Run the periodic sweeps now: release pending points whose window closed, then expire due points."

    def handle(self, *args, **options):
        def progress(label):
            return lambda n: self.stdout.write(f"  {label}: {n} lots so far")

        released = lots_release_due(progress=progress("released"))
        expired = lots_expire_due(progress=progress("expired"))
        self.stdout.write(self.style.SUCCESS(f"Released {released} lots, expired {expired} lots."))
