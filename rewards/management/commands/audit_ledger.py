from django.core.management.base import BaseCommand, CommandError

from accounting.selectors import accounting_audit
from rewards.models import PointEntry, PointLot, PointsAccount
from rewards.selectors import ledger_audit


class Command(BaseCommand):
    help = "Check every ledger invariant over all accounts; exit non-zero naming the accounts that break one."

    def handle(self, *args, **options):
        self.stdout.write(
            f"Auditing {PointsAccount.objects.count()} accounts, {PointLot.objects.count()} lots, "
            f"{PointEntry.objects.count()} entries..."
        )
        violations = ledger_audit()
        journal = accounting_audit()  # the journal's invariants (docs/accounting.md)
        for v in journal:
            self.stdout.write(f"  journal: [{v.invariant}] {v.detail}")
        if not journal:
            self.stdout.write(self.style.SUCCESS("Journal is consistent: entries balance, liability equals the lots."))
        elif not violations:
            raise CommandError(f"{len(journal)} journal violation(s).")
        if not violations:
            self.stdout.write(self.style.SUCCESS("Ledger is consistent: every invariant holds."))
            return
        for v in violations:
            self.stdout.write(f"  member {v.member_number}: [{v.invariant}] {v.detail}")
        numbers = sorted({v.member_number for v in violations if v.member_number})
        raise CommandError(f"{len(violations)} violation(s) in {len(numbers)} account(s): {', '.join(numbers)}")
