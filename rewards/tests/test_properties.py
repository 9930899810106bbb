"""Property test of the points ledger: any sequence of operations keeps every invariant.

A hypothesis state machine runs random earn (available or pending), release (one lot, or the sweep),
redeem, reverse (under a random reversal policy), expire (due lots, everything, or the sweep), adjust,
transfer and replays of earlier calls against two members. Beside the database it keeps its own plain
model of the lots and counters, written from the rules in docs/ledger.md, and after every step checks:

- `ledger_audit()` (the code behind `manage.py audit_ledger`) finds nothing;
- every account counter and every lot (state, remaining, reversed) equals the model's.

Time: lots earn at the real now, with their return window and expiry counted in whole days; the sweeps
run at "now + d days", so a lot with a window (or expiry period) of k days is due exactly when k <= d.
Each run of the machine works inside a savepoint that is rolled back at the end, so runs never see each
other's data (the sweeps work on the whole table).

Settings: the `ledger` profile below (30 runs of up to 20 steps, no deadline) keeps this file to about
15 s on SQLite, most of it in `ledger_audit()` (about 25 ms a call). For a longer search:
LEDGER_HYPOTHESIS_PROFILE=ledger-thorough (500 runs of up to 50 steps).
"""

import datetime as dt
import itertools
import os
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule, run_state_machine_as_test

from core.exceptions import ApplicationError
from members.tests.factories import member_create
from rewards.models import PointEntry, PointLot, PointsAccount, Program
from rewards.selectors import ledger_audit
from rewards.services import ledger
from rewards.services.ledger import Actor
from rewards.tests.helpers import set_program

settings.register_profile(
    "ledger",
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ledger-thorough",
    max_examples=500,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

LIVE = ("pending", "available")
POLICIES = [p.value for p in Program.ReversalPolicy]
SYSTEM = Actor.system("property-test")


# --- the model -----------------------------------------------------------------------------------


@dataclass
class Lot:
    pk: int
    owner: int  # 0 or 1: which member
    points: int
    remaining: int
    state: str
    window: int | None  # days pending (None: available at once)
    expiry: int | None  # days until it expires (None: never)
    origin: int  # the lot whose earning time `expiry` counts from (a transfer copies it)
    seq: int  # creation order
    reversed: int = 0
    used: int = 0  # taken by spending, transfers, debt or another lot's refund (not expiry, not own refunds)
    earned: bool = True  # False for a transfer's lot: it never counted as earned

    def spend_order(self) -> tuple:
        """Soonest-expiring first (then the earliest earned), lots without expiry last."""
        return (0, self.expiry, self.origin, self.seq) if self.expiry is not None else (1, 0, 0, self.seq)


@dataclass
class Counters:
    available: int = 0
    pending: int = 0
    debt: int = 0
    lifetime_earned: int = 0
    lifetime_redeemed: int = 0
    lifetime_expired: int = 0


class Model:
    def __init__(self):
        self.lots: dict[int, Lot] = {}
        self.accounts = [Counters(), Counters()]
        self._seq = itertools.count()

    def _close(self, lot: Lot) -> None:
        if lot.remaining == 0 and lot.state in LIVE:
            lot.state = "reversed" if lot.reversed == lot.points else "spent"

    def _bucket(self, lot: Lot, change: int) -> None:
        account = self.accounts[lot.owner]
        if lot.state == "pending":
            account.pending += change
        else:
            account.available += change

    def take(self, owner: int, points: int, *, exclude: Lot | None = None) -> list[Lot]:
        taken = []
        lots = [lot for lot in self.lots.values() if lot.owner == owner and lot.state == "available"]
        for lot in sorted(lots, key=Lot.spend_order):
            if points == 0:
                break
            if lot is exclude:
                continue
            n = min(points, lot.remaining)
            lot.remaining -= n
            lot.used += n
            points -= n
            self.accounts[owner].available -= n
            self._close(lot)
            taken.append(lot)
        assert points == 0
        return taken

    def _settle(self, lot: Lot) -> None:
        account = self.accounts[lot.owner]
        n = min(account.debt, lot.remaining)
        if n:
            lot.remaining -= n
            lot.used += n
            account.debt -= n
            self._bucket(lot, -n)
            self._close(lot)

    def new_lot(self, pk, owner, points, *, window, expiry, origin=None, earned=True) -> None:
        seq = next(self._seq)
        lot = Lot(pk, owner, points, points, "pending" if window else "available", window, expiry, origin, seq)
        lot.earned = earned
        if origin is None:
            lot.origin = seq
        self.lots[pk] = lot
        self._bucket(lot, points)
        if earned:
            self.accounts[owner].lifetime_earned += points
        self._settle(lot)

    def reverse(self, lot: Lot, points: int | None, policy: str) -> None:
        reversible = lot.points - lot.reversed
        wanted = reversible if points is None else points
        account = self.accounts[lot.owner]
        from_lot = min(wanted, lot.remaining)
        # Only points the member used are charged again; expired ones were already lost.
        unspent = lot.points - lot.used
        charge = max(0, lot.reversed + wanted - unspent) - max(0, lot.reversed - unspent)
        charge = min(charge, wanted - from_lot)
        lot.remaining -= from_lot
        self._bucket(lot, -from_lot)
        lot.reversed += wanted
        self._close(lot)
        if lot.state == "spent" and lot.reversed == lot.points:
            lot.state = "reversed"
        if policy in ("balance", "debt"):
            from_balance = min(charge, account.available)
            self.take(lot.owner, from_balance, exclude=lot)
            if policy == "debt":
                account.debt += charge - from_balance
        if lot.earned:
            account.lifetime_earned -= wanted

    def release(self, lot: Lot) -> None:
        self.accounts[lot.owner].pending -= lot.remaining
        self.accounts[lot.owner].available += lot.remaining
        lot.state = "available"

    def expire(self, lot: Lot) -> None:
        self._bucket(lot, -lot.remaining)
        self.accounts[lot.owner].lifetime_expired += lot.remaining
        lot.remaining = 0
        lot.state = "expired"


# --- the machine ---------------------------------------------------------------------------------


def in_days(days: int) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=days)


class LedgerMachine(RuleBasedStateMachine):
    lots = Bundle("lots")

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.program = set_program(expiry_policy=Program.Expiry.NEVER, transfers_enabled=True, staff_adjust_limit=1000)
        self.accounts = [member_create().points_account, member_create().points_account]
        self.model = Model()
        self.calls: list[tuple] = []  # (service, kwargs, entry pk) of every call that succeeded
        self._keys = itertools.count()

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # helpers

    def key(self) -> str:
        return f"prop-{next(self._keys)}"

    def expiry(self, days: int | None) -> None:
        """Set the program's expiry policy for the next new lot: N days, or never."""
        if days is None:
            self.program.expiry_policy = Program.Expiry.NEVER
        else:
            self.program.expiry_policy, self.program.expiry_period = Program.Expiry.DAYS, days
        self.program.save()

    def call(self, service, **kwargs) -> PointEntry:
        entry = service(**kwargs)
        self.calls.append((service, kwargs, entry.pk))
        return entry

    def refused(self, code: str, service, **kwargs) -> None:
        with pytest.raises(ApplicationError) as info:
            service(**kwargs)
        assert info.value.code == code, info.value.message

    # rules

    @rule(
        target=lots,
        owner=st.integers(0, 1),
        points=st.integers(1, 400),
        window=st.none() | st.integers(1, 30),
        expiry=st.none() | st.integers(0, 60),
    )
    def earn(self, owner, points, window, expiry):
        self.expiry(expiry)
        entry = self.call(
            ledger.points_earn,
            account=self.accounts[owner],
            points=points,
            source=PointLot.Source.ORDER,
            actor=SYSTEM,
            idempotency_key=self.key(),
            available_at=in_days(window) if window else None,
        )
        pk = PointLot.objects.get(public_id=entry.details["lot"]).pk
        self.model.new_lot(pk, owner, points, window=window, expiry=expiry)
        return pk

    @rule(owner=st.integers(0, 1), points=st.integers(1, 600))
    def redeem(self, owner, points):
        kwargs = {
            "account": self.accounts[owner],
            "points": points,
            "reason": "r",
            "actor": SYSTEM,
            "idempotency_key": self.key(),
        }
        if points > self.model.accounts[owner].available:
            self.refused("insufficient_points", ledger.points_redeem, **kwargs)
            return
        self.call(ledger.points_redeem, **kwargs)
        self.model.take(owner, points)
        self.model.accounts[owner].lifetime_redeemed += points

    @rule(
        pk=lots,
        points=st.none() | st.integers(1, 60) | st.integers(1, 500),
        policy=st.sampled_from(POLICIES),
    )
    def reverse(self, pk, points, policy):
        self.program.reversal_policy = policy
        self.program.save()
        lot = self.model.lots[pk]
        kwargs = {
            "lot": PointLot.objects.get(pk=pk),
            "points": points,
            "reason": "refund",
            "actor": SYSTEM,
            "idempotency_key": self.key(),
        }
        reversible = lot.points - lot.reversed
        if reversible == 0:
            self.refused("already_reversed", ledger.points_reverse, **kwargs)
        elif points is not None and points > reversible:
            self.refused("reversal_exceeds_lot", ledger.points_reverse, **kwargs)
        else:
            self.call(ledger.points_reverse, **kwargs)
            self.model.reverse(lot, points, policy)

    @rule(
        target=lots,
        owner=st.integers(0, 1),
        points=st.integers(-300, 300).filter(bool),
        expiry=st.none() | st.integers(0, 60),
    )
    def adjust(self, owner, points, expiry):
        self.expiry(expiry)
        kwargs = {
            "account": self.accounts[owner],
            "points": points,
            "reason": "correction",
            "actor": SYSTEM,
            "idempotency_key": self.key(),
        }
        if points < 0 and -points > self.model.accounts[owner].available:
            self.refused("insufficient_points", ledger.points_adjust, **kwargs)
            return multiple()
        entry = self.call(ledger.points_adjust, **kwargs)
        if points < 0:
            self.model.take(owner, -points)
            return multiple()
        pk = PointLot.objects.get(public_id=entry.details["lot"]).pk
        self.model.new_lot(pk, owner, points, window=None, expiry=expiry)
        return pk

    @rule(target=lots, giver=st.integers(0, 1), points=st.integers(1, 300))
    def transfer(self, giver, points):
        receiver = 1 - giver
        kwargs = {
            "source": self.accounts[giver],
            "target": self.accounts[receiver],
            "points": points,
            "reason": "gift",
            "actor": SYSTEM,
            "idempotency_key": self.key(),
        }
        if points > self.model.accounts[giver].available:
            self.refused("insufficient_points", ledger.points_transfer, **kwargs)
            return multiple()
        self.call(ledger.points_transfer, **kwargs)
        taken = self.model.take(giver, points)
        with_expiry = [(lot.expiry, lot.origin) for lot in taken if lot.expiry is not None]
        # The earliest expiry of the points given; if none of them expire, neither do these.
        expiry, origin = min(with_expiry) if with_expiry else (None, None)
        incoming = PointEntry.objects.get(idempotency_key=f"{kwargs['idempotency_key']}:in")
        pk = PointLot.objects.get(public_id=incoming.details["lot"]).pk
        self.model.new_lot(pk, receiver, points, window=None, expiry=expiry, origin=origin, earned=False)
        return pk

    @rule(pk=lots)
    def release_one(self, pk):
        lot = self.model.lots[pk]
        kwargs = {"lot": PointLot.objects.get(pk=pk), "actor": SYSTEM, "idempotency_key": self.key()}
        if lot.state != "pending":
            self.refused("nothing_to_do", ledger.points_release, **kwargs)
            return
        self.call(ledger.points_release, **kwargs)
        self.model.release(lot)

    @rule(days=st.integers(0, 40))
    def release_due(self, days):
        due = [lot for lot in self.model.lots.values() if lot.state == "pending" and lot.window <= days]
        assert ledger.lots_release_due(now=in_days(days), chunk_size=3) == len(due)
        for lot in due:
            self.model.release(lot)

    @rule(days=st.integers(0, 90))
    def expire_due(self, days):
        due = [
            lot
            for lot in self.model.lots.values()
            if lot.state == "available" and lot.expiry is not None and lot.expiry <= days
        ]
        assert ledger.lots_expire_due(now=in_days(days), chunk_size=3) == len(due)
        for lot in due:
            self.model.expire(lot)

    @rule(owner=st.integers(0, 1), everything=st.booleans())
    def expire_account(self, owner, everything):
        kwargs = {
            "account": self.accounts[owner],
            "actor": SYSTEM,
            "idempotency_key": self.key(),
            "reason": "expired",
            "everything": everything,
        }
        lots = [lot for lot in self.model.lots.values() if lot.owner == owner]
        if everything:
            due = [lot for lot in lots if lot.state in LIVE]
        else:
            due = [lot for lot in lots if lot.state == "available" and lot.expiry == 0]  # expires when earned
        if not due:
            self.refused("nothing_to_do", ledger.points_expire, **kwargs)
            return
        self.call(ledger.points_expire, **kwargs)
        for lot in due:
            self.model.expire(lot)

    @rule(data=st.data())
    def replay(self, data):
        if not self.calls:
            return
        service, kwargs, entry_pk = data.draw(st.sampled_from(self.calls))
        assert service(**kwargs).pk == entry_pk  # and the invariants below show that nothing changed

    # what must hold after every step

    @invariant()
    def audit_finds_nothing(self):
        assert ledger_audit() == []

    @invariant()
    def counters_match_the_model(self):
        for account, expected in zip(self.accounts, self.model.accounts, strict=True):
            stored = PointsAccount.objects.get(pk=account.pk)
            assert (
                Counters(
                    stored.available,
                    stored.pending,
                    stored.debt,
                    stored.lifetime_earned,
                    stored.lifetime_redeemed,
                    stored.lifetime_expired,
                )
                == expected
            )

    @invariant()
    def lots_match_the_model(self):
        stored = {
            pk: (state, remaining, reversed_points)
            for pk, state, remaining, reversed_points in PointLot.objects.filter(
                account__in=[a.pk for a in self.accounts]
            ).values_list("pk", "state", "remaining", "reversed_points")
        }
        assert stored == {pk: (lot.state, lot.remaining, lot.reversed) for pk, lot in self.model.lots.items()}


@pytest.mark.django_db
def test_any_sequence_of_ledger_operations_keeps_every_invariant():
    profile = settings.get_profile(os.environ.get("LEDGER_HYPOTHESIS_PROFILE", "ledger"))
    run_state_machine_as_test(LedgerMachine, settings=profile)
