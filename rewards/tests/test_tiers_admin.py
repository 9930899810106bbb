"""Staff edit tiers (validated), read the tier history, and set a member's tier by hand in the admin."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from members.models import User
from members.tests.factories import member_create
from rewards.models import PointsAccount, Tier, TierChange, TierHold

TIERS_URL = "/admin/rewards/tier/"
HISTORY_URL = "/admin/rewards/tierchange/"


@pytest.fixture
def staff(db):
    return User.objects.create_superuser("admin@example.com", "admin-correct-horse")


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def tier_form(**changes) -> dict:
    data = {
        "name": "Silver",
        "rank": "1",
        "icon": "★",
        "colour": "#A8A9AD",
        "metric": "spend",
        "entry_threshold": "500",
        "window": "calendar_year",
        "retention_threshold": "",
        "downgrade_policy": "end_of_window",
        "grace_days": "0",
        "earning_multiplier": "1.25",
        "birthday_bonus_points": "100",
        "free_shipping": "on",
        "membership_sku": "",
        "membership_months": "",
        "dividend_percent": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def bronze(db):
    return Tier.objects.create(name="Bronze", rank=0, metric="spend", entry_threshold=0)


def test_tier_pages_render(admin_client, bronze):
    assert admin_client.get(TIERS_URL).status_code == 200
    assert admin_client.get(f"{TIERS_URL}add/").status_code == 200
    assert admin_client.get(f"{TIERS_URL}{bronze.pk}/change/").status_code == 200


def test_staff_add_a_tier(admin_client, bronze):
    response = admin_client.post(f"{TIERS_URL}add/", tier_form())
    assert response.status_code == 302, response.context["adminform"].form.errors
    silver = Tier.objects.get(name="Silver")
    assert (silver.rank, silver.entry_threshold, silver.earning_multiplier, silver.free_shipping) == (
        1,
        D("500"),
        D("1.25"),
        True,
    )
    assert silver.keep_threshold == D("500")  # no retention threshold: the entry threshold keeps it


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"colour": "silver"}, "colour"),
        ({"colour": "#12345"}, "colour"),
        ({"rank": "0"}, "rank"),  # Bronze has it
        ({"entry_threshold": "0"}, "entry_threshold"),  # not above Bronze's 0
        ({"rank": "5", "entry_threshold": "0", "name": "Zero"}, "entry_threshold"),
        ({"downgrade_policy": "grace", "grace_days": "0"}, "grace_days"),
        ({"dividend_percent": "10"}, "dividend_percent"),  # without a membership SKU
    ],
)
def test_the_tier_form_refuses(admin_client, bronze, changes, field):
    response = admin_client.post(f"{TIERS_URL}add/", tier_form(**changes))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Tier.objects.filter(rank__gt=0).exists()


def test_thresholds_must_rise_with_rank_for_the_same_metric_only(admin_client, bronze):
    Tier.objects.create(name="Gold", rank=2, metric="spend", entry_threshold=D("1000"))
    response = admin_client.post(f"{TIERS_URL}add/", tier_form(entry_threshold="1500"))
    assert "entry_threshold" in response.context["adminform"].form.errors  # above Gold's, below it in rank
    response = admin_client.post(f"{TIERS_URL}add/", tier_form(metric="orders", entry_threshold="3"))
    assert response.status_code == 302  # another metric: not compared


def test_the_lowest_tier_must_start_at_zero(admin_client, db):
    response = admin_client.post(f"{TIERS_URL}add/", tier_form(rank="0", entry_threshold="10"))
    assert "entry_threshold" in response.context["adminform"].form.errors


def test_staff_set_a_tier_by_hand_with_an_end_date(admin_client, staff, bronze):
    gold = Tier.objects.create(name="Gold", rank=2, metric="spend", entry_threshold=D("1000"))
    member = member_create()
    account = member.points_account
    ends = timezone.now() + dt.timedelta(days=30)
    assert admin_client.get(f"{HISTORY_URL}add/").status_code == 200
    response = admin_client.post(
        f"{HISTORY_URL}add/",
        {
            "account": account.pk,
            "to_tier": gold.pk,
            "ends_at_0": ends.strftime("%Y-%m-%d"),
            "ends_at_1": "12:00:00",
            "note": "Apology for a lost parcel",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert PointsAccount.objects.get(pk=account.pk).tier == gold
    change = TierChange.objects.get(account=account)
    assert (change.reason, change.actor_user, change.note) == ("staff", staff, "Apology for a lost parcel")
    assert TierHold.objects.get(account=account).override_tier == gold
    # The history is read-only.
    assert admin_client.get(HISTORY_URL).status_code == 200
    page = admin_client.get(f"{HISTORY_URL}{change.pk}/change/")
    assert page.status_code == 200 and "Apology for a lost parcel" in page.text
    assert admin_client.post(f"{HISTORY_URL}{change.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/rewards/tierhold/").status_code == 200


def test_setting_a_tier_needs_a_future_end_and_a_reason(admin_client, bronze):
    account = member_create().points_account
    past = timezone.now() - dt.timedelta(days=1)
    response = admin_client.post(
        f"{HISTORY_URL}add/",
        {"account": account.pk, "to_tier": bronze.pk, "ends_at_0": past.strftime("%Y-%m-%d"), "ends_at_1": "00:00"},
    )
    errors = response.context["adminform"].form.errors
    assert "ends_at" in errors and "note" in errors
    assert not TierChange.objects.exists()
