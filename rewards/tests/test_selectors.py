"""Reads of the ledger (rewards.selectors): a member's history and the next expiry shown to them."""

import datetime as dt

import pytest
from django.utils import timezone

from members.tests.factories import member_create
from rewards.models import PointsAccount, Program
from rewards.selectors import account_entries, next_expiry_get
from rewards.services.ledger import lots_expire_due
from rewards.tests.helpers import earn, redeem, set_program

pytestmark = pytest.mark.django_db


def test_history_is_newest_first_and_can_show_one_kind(account, other_account):
    earn(account, 10)
    redeem(account, 4)
    earn(account, 20)
    earn(other_account, 99)

    history = list(account_entries(account=account))
    assert [(e.kind, e.points) for e in history] == [("earn", 20), ("redeem", -4), ("earn", 10)]
    assert [e.points for e in account_entries(account=account, kind="earn")] == [20, 10]


def test_next_expiry_is_the_soonest_date_and_the_points_expiring_then(account):
    set_program(expiry_policy=Program.Expiry.END_OF_MONTH, expiry_period=1)
    first, second = earn(account, 30), earn(account, 50)  # same end of month
    redeem(account, 10)
    set_program(expiry_policy=Program.Expiry.END_OF_MONTH, expiry_period=6)
    earn(account, 500)
    earn(account, 70, pending_days=3)  # pending points are not counted

    upcoming = next_expiry_get(account=account)

    assert upcoming.expires_at == first.expires_at == second.expires_at
    assert upcoming.points == 70


def test_no_next_expiry_when_nothing_expires(account):
    earn(account, 30)
    assert next_expiry_get(account=account) is None
    set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=10)
    earn(account, 30, pending_days=3)
    assert next_expiry_get(account=account) is None  # only available points count


def test_under_inactivity_all_available_points_expire_together(account):
    set_program(expiry_policy=Program.Expiry.INACTIVITY, expiry_period=12)
    assert next_expiry_get(account=account) is None  # nothing yet
    earn(account, 30)
    earn(account, 40)
    account.refresh_from_db()

    upcoming = next_expiry_get(account=account)

    assert upcoming.points == 70
    assert upcoming.expires_at - account.last_activity_at >= dt.timedelta(days=365)


@pytest.mark.parametrize(
    ("last_active", "now"),
    [
        (dt.datetime(2024, 1, 31, 10, tzinfo=dt.UTC), dt.datetime(2024, 2, 15, tzinfo=dt.UTC)),
        (dt.datetime(2024, 3, 31, 10, tzinfo=dt.UTC), dt.datetime(2024, 4, 10, tzinfo=dt.UTC)),
        (dt.datetime(2024, 6, 15, 10, tzinfo=dt.UTC), dt.datetime(2024, 7, 1, tzinfo=dt.UTC)),
    ],
)
def test_the_inactivity_date_shown_is_never_later_than_the_sweep_expires_the_points(account, last_active, now):
    set_program(expiry_policy=Program.Expiry.INACTIVITY, expiry_period=1)
    earn(account, 30)
    PointsAccount.objects.filter(pk=account.pk).update(last_activity_at=last_active)
    account.refresh_from_db()

    shown = next_expiry_get(account=account, now=now).expires_at

    assert lots_expire_due(now=shown) == 0  # the points are still there on the date the member was shown
    assert shown - last_active >= dt.timedelta(days=28)
    assert lots_expire_due(now=shown + dt.timedelta(days=4)) == 1  # and go within days after it


def test_next_expiry_defaults_to_now(account):
    set_program(expiry_policy=Program.Expiry.DAYS, expiry_period=10)
    lot = earn(account, 30)
    upcoming = next_expiry_get(account=account)
    assert upcoming.expires_at == lot.expires_at and upcoming.expires_at > timezone.now()


def test_the_inactivity_sweep_reads_on_chunk_after_chunk_and_skips_who_is_active(db):
    set_program(expiry_policy=Program.Expiry.INACTIVITY, expiry_period=12)
    accounts = [member_create().points_account for _ in range(7)]
    for account in accounts:
        earn(account, 10)
    long_ago = timezone.now() - dt.timedelta(days=800)
    active = accounts[3]
    PointsAccount.objects.exclude(pk=active.pk).update(last_activity_at=long_ago)

    assert lots_expire_due(chunk_size=2) == 6

    balances = dict(PointsAccount.objects.values_list("pk", "available"))
    assert balances == {a.pk: (10 if a.pk == active.pk else 0) for a in accounts}
    assert lots_expire_due(chunk_size=2) == 0
