"""The member's tier page: the tier with its colour and icon, an accessible progress bar to the next tier
with what is missing, what keeps the current tier and by when, its perks, and every tier with its perks."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from members.tests.factories import member_create
from members.tests.test_views import PASSWORD, text
from rewards.models import PointsAccount, Tier
from rewards.services.tiers import tier_set
from rewards.tests.helpers import earn, set_program, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(db):
    set_program(time_zone="Europe/Amsterdam")
    return member_create(email="ada@example.com", password=PASSWORD, first_name="Ada")


@pytest.fixture
def signed_in(client, member):
    client.force_login(member.user)
    return client


def tiers(window="calendar_year", policy="end_of_window"):
    base = Tier.objects.create(name="Member", rank=0, metric="points", window=window, colour="#777777")
    silver = Tier.objects.create(
        name="Silver",
        rank=1,
        metric="points",
        window=window,
        entry_threshold=1000,
        downgrade_policy=policy,
        colour="#8A9BA8",
        earning_multiplier=D("1.5"),
        birthday_bonus_points=100,
    )
    gold = Tier.objects.create(
        name="Gold",
        rank=2,
        metric="points",
        window=window,
        entry_threshold=3000,
        downgrade_policy=policy,
        colour="#C9A227",
        icon="\u2605",
        earning_multiplier=2,
        free_shipping=True,
        early_access=True,
        can_gift=True,
    )
    return base, silver, gold


def in_tier(member, tier):
    PointsAccount.objects.filter(member=member).update(tier=tier)


def year_end() -> str:
    return f"31 December {timezone.localtime().year}"


def tier_page(client):
    response = client.get(reverse("members:tier"))
    assert response.status_code == 200
    return response


def test_guests_are_sent_to_sign_in(client):
    url = reverse("members:tier")
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"{reverse('account_login')}?next={url}"


def test_a_program_without_tiers_says_so(signed_in):
    assert "This program has no tiers." in text(tier_page(signed_in))


def test_a_new_member_sees_the_lowest_tier_and_the_way_to_the_next(signed_in, member):
    tiers()
    earn(member.points_account, 600)

    response = tier_page(signed_in)

    page, html = text(response), response.content.decode()
    assert "Your tier Member" in page
    bar = re.search(r'<div class="progress" role="progressbar"[^>]*>', html).group(0)
    assert 'aria-valuemin="0"' in bar and 'aria-valuemax="100"' in bar and 'aria-valuenow="60"' in bar
    assert 'aria-valuetext="600 points of 1,000 points this year"' in bar
    assert "On your way to Silver" in page
    assert f"400 more points earned on orders by {year_end()} to reach Silver." in page
    assert "Member is where everyone starts: it is yours to keep." in page
    assert "No extra perks at this tier yet" in page


def test_every_tier_with_how_to_reach_it_and_its_perks(signed_in, member):
    tiers()
    page = text(tier_page(signed_in))
    assert page.index("Member You are here Where everyone starts") < page.index(
        "Silver Earn 1,000 points on orders in a calendar"
    )
    assert "1.5× points on every order" in page and "100 points on your birthday" in page
    assert "Gold Earn 3,000 points on orders in a calendar year" in page
    for perk in (
        "Double points on every order",
        "Free shipping",
        "Early access to sales and new products",
        "Give a lower tier to a friend once a year",
    ):
        assert perk in page
    html = tier_page(signed_in).content.decode()
    assert "--tier: #C9A227" in html and "\u2605" in html  # Gold's colour and icon
    assert 'aria-current="true"' in html and "You are here" in page


def test_a_member_who_did_what_keeps_the_tier_sees_until_when(signed_in, member):
    _base, silver, _gold = tiers()
    earn(member.points_account, 1200)
    in_tier(member, silver)

    page = text(tier_page(signed_in))

    assert "Your tier Silver" in page
    assert "1,200 points of 3,000 points this year" in page
    assert f"1,800 more points earned on orders by {year_end()} to reach Gold." in page
    next_year_end = f"31 December {timezone.localtime().year + 1}"
    assert f"You have done what keeps Silver: it is yours until {next_year_end}." in page
    assert "1.5× points on every order" in page.split("All tiers")[0]  # the current tier's perks


def test_a_member_short_of_keeping_the_tier_sees_what_is_missing_and_by_when(signed_in, member):
    _base, silver, _gold = tiers()
    earn(member.points_account, 200)
    in_tier(member, silver)

    page = text(tier_page(signed_in))

    assert (
        f"To keep Silver after that, reach 1,000 points by {year_end()}: 800 more points earned on orders to go."
        in page
    )


def test_a_tier_that_never_goes_down(signed_in, member):
    _base, silver, _gold = tiers(policy="never")
    in_tier(member, silver)
    assert "Silver is yours for good: it never goes down." in text(tier_page(signed_in))


def test_a_rolling_window_is_kept_while_the_figures_hold(signed_in, member):
    _base, silver, _gold = tiers(window="rolling_12_months")
    earn(member.points_account, 1100)
    in_tier(member, silver)
    page = text(tier_page(signed_in))
    assert "Silver stays yours while you have 1,000 points in the last 12 months; you have 1,100 points now." in page
    assert "1,100 points of 3,000 points in the last 12 months" in page
    assert "1,900 more points earned on orders to reach Gold." in page  # no date: the window ends every day


def test_the_top_tier_and_a_staff_override(signed_in, member):
    _base, _silver, gold = tiers()
    ends = timezone.now() + dt.timedelta(days=40)
    tier_set(member=member, tier=gold, ends_at=ends, actor=staff_user(), reason="Goodwill")
    in_tier(member, gold)

    page = text(tier_page(signed_in))

    assert "You are at the top tier." in page
    last_day = timezone.localtime(ends - dt.timedelta(microseconds=1), timezone.get_fixed_timezone(0)).date()
    assert "Your Gold tier is set for you until" in page
    assert str(last_day.year) in page
    assert 'role="progressbar"' not in page


@pytest.mark.parametrize("extra", [0, 6])
def test_tier_page_queries_do_not_grow_with_the_tiers(signed_in, member, extra, django_assert_num_queries):
    tiers()
    for i in range(extra):
        Tier.objects.create(name=f"Level {i}", rank=10 + i, metric="orders", entry_threshold=10 + i)
    earn(member.points_account, 600)
    # session, user, member with account, program (view), the tiers, the member's figures and holds,
    # program (page layout)
    with django_assert_num_queries(7):
        tier_page(signed_in)
