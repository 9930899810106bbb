"""The tier jobs and reads: the tiers_recalculate command and tasks, the annual dividend, tier_status."""

import datetime as dt
from decimal import Decimal as D
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from integrations.services.members import member_upsert
from integrations.services.orders import order_record, order_refund
from integrations.services.shops import shop_create
from members.tests.factories import member_create
from rewards import tasks
from rewards.models import EarningRule, PointsAccount, Tier, TierHold
from rewards.selectors.tiers import TierPerks, tier_history, tier_status, tiers_list
from rewards.services.tiers import tier_dividends_compute, tier_set, tiers_recalculate
from rewards.tests.helpers import set_program

AMS = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def shop(db):
    set_program(time_zone="Europe/Amsterdam", currency="EUR")
    EarningRule.objects.all().delete()
    EarningRule.objects.create(name="Base rate", kind="base_rate", currency="EUR", points=1, amount=1)
    return shop_create(name="Webshop NL", currency="EUR", time_zone="Europe/Amsterdam")


@pytest.fixture
def tiers(db):
    base = Tier.objects.create(name="Member", rank=0, metric="spend", entry_threshold=0)
    club = Tier.objects.create(
        name="Club",
        rank=1,
        metric="spend",
        entry_threshold=D("200"),
        retention_threshold=D("150"),
        membership_sku="CLUB",
        membership_months=12,
        dividend_percent=D("10"),
        free_shipping=True,
        earning_multiplier=D("1.2"),
    )
    return base, club


_n = iter(range(10**6))


def buy(shop, member, total, at, lines=()):
    total = D(total)
    order, _ = order_record(
        shop=shop,
        data={
            "external_id": f"o-{next(_n)}",
            "member_id": member.public_id,
            "currency": "EUR",
            "total": total,
            "subtotal": total,
            "placed_at": at,
            "lines": list(lines),
        },
    )
    return order


def test_command_prints_progress_and_takes_a_date(shop, tiers):
    for _ in range(3):
        member_create()
    out = StringIO()
    call_command("tiers_recalculate", "--date", "2026-01-01", "--chunk-size", "2", stdout=out)
    text = out.getvalue()
    assert "Evaluated 3 accounts" in text and "tiers changed so far" in text
    assert "3 accounts evaluated, 3 tiers changed (3 up or first set, 0 down)." in text
    assert PointsAccount.objects.filter(tier__name="Member").count() == 3
    out = StringIO()
    call_command("tiers_recalculate", stdout=out)
    assert "0 tiers changed" in out.getvalue()


def test_command_without_tiers(db):
    out = StringIO()
    call_command("tiers_recalculate", stdout=out)
    assert "No tiers are defined" in out.getvalue()


def test_the_nightly_task_acts_in_its_local_hour(shop, tiers, monkeypatch):
    member_create()
    monkeypatch.setattr(
        tasks.tiers, "program_local_now", lambda: dt.datetime(2026, 5, 5, tasks.TIERS_NIGHT_HOUR - 1, tzinfo=AMS)
    )
    assert tasks.tiers_recalculate_nightly.delay().get() == 0
    assert not PointsAccount.objects.filter(tier__isnull=False).exists()
    monkeypatch.setattr(
        tasks.tiers, "program_local_now", lambda: dt.datetime(2026, 5, 5, tasks.TIERS_NIGHT_HOUR, 30, tzinfo=AMS)
    )
    assert tasks.tiers_recalculate_nightly.delay().get() == 1


def test_dividend_is_a_percent_of_last_years_spend_for_paid_members(shop, tiers):
    _base, club = tiers
    ana = member_upsert(shop=shop, external_id="ana", email="ana@example.com")[0]
    bob = member_upsert(shop=shop, external_id="bob", email="bob@example.com")[0]  # spends, never paid
    buy(shop, ana, "25.00", dt.datetime(2025, 1, 10, tzinfo=AMS), lines=[{"sku": "CLUB", "quantity": 1, "total": 25}])
    hold = TierHold.objects.get(account__member=ana)
    hold.floor_until = None  # for life, so that it is live at the end of 2025 whatever today is
    hold.save()
    second = buy(shop, ana, "500.00", dt.datetime(2025, 12, 31, 23, 30, tzinfo=AMS))  # 2025 in Amsterdam
    buy(shop, ana, "999.00", dt.datetime(2026, 1, 1, 0, 30, tzinfo=AMS))  # 2026
    order_refund(order=second, external_id="r-1", amount=D("100.05"))
    buy(shop, bob, "800.00", dt.datetime(2025, 6, 1, tzinfo=AMS))
    dividends = tier_dividends_compute(year=2025)
    assert [(d.member_id, d.tier_id, d.spend, d.amount) for d in dividends] == [
        (ana.pk, club.pk, D("424.95"), D("42.49"))  # 10% of 25.00 + 500.00 - 100.05, rounded down
    ]


def test_dividends_paid_as_store_credit_once(shop, tiers):
    pytest.importorskip("rewards.services.store_credit")
    from rewards.models import StoreCreditEntry

    ana = member_upsert(shop=shop, external_id="ana", email="ana@example.com")[0]
    buy(shop, ana, "300.00", dt.datetime(2025, 3, 1, tzinfo=AMS), lines=[{"sku": "CLUB", "quantity": 1, "total": 5}])
    TierHold.objects.filter(account__member=ana).update(floor_until=None)
    out = StringIO()
    call_command("tiers_recalculate", "--pay-dividends", "2025", stdout=out)
    call_command("tiers_recalculate", "--pay-dividends", "2025", stdout=out)  # replay: nothing more
    entries = StoreCreditEntry.objects.filter(kind="dividend")
    assert [e.amount for e in entries] == [D("30.00")]


# --- tier_status -------------------------------------------------------------------------------------


def test_tier_status_progress_and_keeping(shop, tiers):
    base, club = tiers
    ana = member_upsert(shop=shop, external_id="ana", email="ana@example.com")[0]
    buy(shop, ana, "50.00", timezone.now() - dt.timedelta(minutes=1))
    status = tier_status(account=PointsAccount.objects.get(member=ana))
    assert (status.tier, status.next_tier, status.metric, status.window) == (base, club, "spend", "calendar_year")
    assert (status.value, status.needed, status.percent, status.currency) == (D("50.00"), D("150.00"), 25, "EUR")
    assert status.kept and status.keep_by is None  # the lowest tier is never lost
    assert status.perks == TierPerks.of(base)
    year = timezone.now().astimezone(AMS).year
    assert status.window_end == dt.datetime(year + 1, 1, 1, tzinfo=AMS)

    buy(shop, ana, "150.00", timezone.now() - dt.timedelta(minutes=1))
    status = tier_status(account=PointsAccount.objects.get(member=ana))
    assert (status.tier, status.next_tier, status.needed, status.percent) == (club, None, None, 100)
    assert (status.keep_threshold, status.keep_value, status.kept) == (D("150"), D("200.00"), True)
    assert status.keep_by == dt.datetime(year + 1, 1, 1, tzinfo=AMS)
    assert status.kept_until == dt.datetime(year + 2, 1, 1, tzinfo=AMS)  # kept on this year's figures
    assert status.perks.free_shipping and status.perks.earning_multiplier == D("1.2")


def test_tier_status_of_a_new_member_and_without_tiers(db):
    account = member_create().points_account
    assert tier_status(account=account) is None  # no tiers: nothing to show
    base = Tier.objects.create(name="Member", rank=0, metric="orders", entry_threshold=0)
    status = tier_status(account=account)
    assert (status.tier, status.next_tier, status.value, status.percent) == (base, None, D(0), 100)


def test_tier_status_shows_a_hold(shop, tiers):
    _base, club = tiers
    ana = member_create()
    ends = timezone.now() + dt.timedelta(days=5)
    tier_set(member=ana, tier=club, ends_at=ends, actor=None, reason="Goodwill")
    status = tier_status(account=PointsAccount.objects.get(member=ana))
    assert (status.tier, status.held_until, status.held_reason, status.kept) == (club, ends, "staff", False)
    assert [c.reason for c in tier_history(account=ana.points_account)] == ["staff"]
    assert tiers_list() == list(tiers)


def test_recalculate_twice_is_idempotent_and_counts(shop, tiers):
    members = [member_create() for _ in range(5)]
    first = tiers_recalculate()
    assert (first.accounts, first.changed, first.upgraded, first.downgraded) == (5, 5, 5, 0)
    assert tiers_recalculate().changed == 0
    assert all(tier_history(account=m.points_account).count() == 1 for m in members)


def test_the_tiers_are_cached_per_process_and_a_change_clears_them(db, settings, django_assert_num_queries):
    from rewards.services.tiers import _tiers_cache, tiers_config

    settings.CONFIG_CACHE_SECONDS = 60
    _tiers_cache.clear()
    try:
        base = Tier.objects.create(name="Member", rank=0, entry_threshold=0)
        assert tiers_config().tiers == (base,)
        with django_assert_num_queries(0):
            assert tiers_config().base == base
        Tier.objects.create(name="Plus", rank=1, entry_threshold=10)
        assert [t.name for t in tiers_config().tiers] == ["Member", "Plus"]  # saved here: cleared at once
    finally:
        _tiers_cache.clear()
