"""The member pages under /me/: what a member sees, that they see only their own, and what they can change."""

import datetime as dt
import html as html_lib
import itertools
import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import Member, User
from members.tests.factories import member_create
from rewards.models import PointEntry, PointLot, Program
from rewards.selectors import ledger_audit, program_get
from rewards.services.ledger import Actor, points_earn, points_redeem

PASSWORD = "correct-horse-battery"
SHOP = Actor.shop("web-shop")
_keys = itertools.count(1)

MEMBER_PAGES = [
    "members:dashboard",
    "members:history",
    "members:profile",
    "members:preferences",
    "members:close",
]


def earn(member: Member, points: int, *, reason: str = "Order", pending_days: int = 0) -> PointEntry:
    available_at = timezone.now() + dt.timedelta(days=pending_days) if pending_days else None
    return points_earn(
        account=member.points_account,
        points=points,
        source=PointLot.Source.ORDER,
        actor=SHOP,
        idempotency_key=f"test-earn-{next(_keys)}",
        reason=reason,
        available_at=available_at,
    )


def redeem(member: Member, points: int, *, reason: str = "Reward") -> PointEntry:
    return points_redeem(
        account=member.points_account,
        points=points,
        reason=reason,
        actor=Actor.member(member.user),
        idempotency_key=f"test-redeem-{next(_keys)}",
    )


def text(response) -> str:
    """The page's visible text with the whitespace squeezed, so assertions read like the page."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    squeezed = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()
    return html_lib.unescape(re.sub(r" ([,.;:])", r"\1", squeezed))


@pytest.fixture
def member(db):
    return member_create(email="ada@example.com", password=PASSWORD, first_name="Ada", last_name="Lovelace")


@pytest.fixture
def signed_in(client, member):
    client.force_login(member.user)
    return client


# --- access --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", MEMBER_PAGES)
def test_every_member_page_asks_for_a_sign_in(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={url}"


@pytest.mark.django_db
def test_entry_detail_asks_for_a_sign_in(client, member):
    entry = earn(member, 10)
    response = client.get(reverse("members:history_entry", args=[entry.public_id]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("name", MEMBER_PAGES)
def test_every_member_page_renders_for_its_member_in_the_site_layout(signed_in, name):
    response = signed_in.get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="site-header"' in html and '<main id="main"' in html and "css/site.css" in html
    assert 'aria-current="page"' in html or name == "members:close"


@pytest.mark.django_db
@pytest.mark.parametrize("name", MEMBER_PAGES)
def test_a_staff_login_without_membership_gets_a_friendly_page(client, name):
    staff = User.objects.create_user("staff@example.com", PASSWORD, is_staff=True)
    client.force_login(staff)
    response = client.get(reverse(name))
    assert response.status_code == 403
    page = text(response)
    assert "This login has no membership" in page
    assert "staff@example.com" in page
    assert reverse("admin:index") in response.content.decode()


@pytest.mark.django_db
def test_a_login_without_membership_that_is_not_staff_gets_no_admin_link(client):
    user = User.objects.create_user("someone@example.com", PASSWORD)
    client.force_login(user)
    response = client.get(reverse("members:dashboard"))
    assert response.status_code == 403
    assert "contact us" in text(response)
    assert reverse("admin:index") not in response.content.decode()


# --- dashboard -----------------------------------------------------------------------------------


def test_dashboard_shows_balances_expiry_card_and_recent_activity(signed_in, member):
    program = program_get()
    program.expiry_policy = Program.Expiry.DAYS
    program.expiry_period = 30
    program.save()
    earn(member, 1200, reason="Order #1")
    earn(member, 300, reason="Order #2", pending_days=14)
    redeem(member, 200, reason="Reward: coffee")

    response = signed_in.get(reverse("members:dashboard"))

    page = text(response)
    assert "Hello, Ada" in page
    assert "1,000 available to spend" in page
    assert "300 pending" in page
    last_day = timezone.localtime(timezone.now() + dt.timedelta(days=30)).date()
    assert f"Use 1,000 points by {last_day.day} {last_day:%B %Y}, or they expire." in page
    number = member.number
    assert f"{number[:4]} {number[4:8]} {number[8:]}" in page
    assert "Ada Lovelace" in page
    # Recent activity, newest first, with signed amounts and a link to each entry.
    assert page.index("Reward: coffee") < page.index("Order #2") < page.index("Order #1")
    assert "\u2212200" in page and "+300 pending" in page and "+1,200" in page
    html = response.content.decode()
    for entry in PointEntry.objects.filter(account=member.points_account):
        assert reverse("members:history_entry", args=[entry.public_id]) in html


def test_dashboard_without_expiry_or_pending_points_says_nothing_about_them(signed_in, member):
    earn(member, 50)
    page = text(signed_in.get(reverse("members:dashboard")))
    assert "50 available to spend" in page
    assert "0 pending" in page
    assert "expire" not in page
    assert "return period" not in page


def test_dashboard_shows_only_the_five_latest_entries(signed_in, member):
    for i in range(8):
        earn(member, 10 + i, reason=f"Order #{i}")
    page = text(signed_in.get(reverse("members:dashboard")))
    assert [f"Order #{i}" in page for i in range(8)] == [False, False, False] + [True] * 5


def test_a_new_member_dashboard_has_a_friendly_empty_state(signed_in):
    page = text(signed_in.get(reverse("members:dashboard")))
    assert "No points yet" in page


def test_dashboard_queries_do_not_grow_with_the_history(signed_in, member, django_assert_num_queries):
    program = program_get()
    program.expiry_policy = Program.Expiry.DAYS
    program.save()
    for _ in range(30):
        earn(member, 10)
    redeem(member, 25)
    # session, user, program (page), member with account, program (expiry), first expiry, its total,
    # recent entries; +5 for the rewards and tier summary (members/tests/test_rewards_pages.py pins it with
    # rewards): program, account with tier, segments, rewards, tiers (program, segments and tiers are cached
    # between requests outside tests)
    with django_assert_num_queries(13):
        response = signed_in.get(reverse("members:dashboard"))
    assert response.status_code == 200


# --- history -------------------------------------------------------------------------------------


def test_history_lists_entries_newest_first_with_a_count(signed_in, member):
    earn(member, 100, reason="Order #1")
    redeem(member, 40, reason="Reward: tote bag")
    response = signed_in.get(reverse("members:history"))
    page = text(response)
    assert "2 entries" in page
    assert page.index("Reward: tote bag") < page.index("Order #1")


def test_history_filters_by_kind_and_ignores_an_unknown_kind(signed_in, member):
    earn(member, 100, reason="Order #1")
    redeem(member, 40, reason="Reward: tote bag")

    page = text(signed_in.get(reverse("members:history"), {"kind": "redeem"}))
    assert "1 entry" in page and "Reward: tote bag" in page and "Order #1" not in page

    page = text(signed_in.get(reverse("members:history"), {"kind": "expire"}))
    assert "0 entries" in page and "Nothing of this kind yet." in page

    page = text(signed_in.get(reverse("members:history"), {"kind": "nonsense"}))
    assert "2 entries" in page


def test_history_is_paginated_by_25_and_pages_keep_the_filter(signed_in, member):
    for i in range(30):
        earn(member, 1 + i, reason=f"Order #{i:02d}")
    redeem(member, 5, reason="Reward")

    first = signed_in.get(reverse("members:history"), {"kind": "earn"})
    assert len(first.context["page"].object_list) == 25
    page = text(first)
    assert "30 entries" in page and "Page 1 of 2" in page
    assert "Order #29" in page and "Order #04" not in page
    assert 'href="?kind=earn&amp;page=2"' in first.content.decode()

    second = signed_in.get(reverse("members:history"), {"kind": "earn", "page": 2})
    page = text(second)
    assert "Page 2 of 2" in page and "Order #04" in page and "Order #00" in page and "Order #05" not in page
    assert 'href="?kind=earn&amp;page=1"' in second.content.decode()

    # A page past the end shows the last one rather than an error.
    assert "Page 2 of 2" in text(signed_in.get(reverse("members:history"), {"kind": "earn", "page": 99}))


def test_history_queries_do_not_grow_with_the_page(signed_in, member, django_assert_num_queries):
    for _ in range(30):
        earn(member, 10)
    # session, user, program (page), member with account, count, the page of entries
    with django_assert_num_queries(6):
        response = signed_in.get(reverse("members:history"))
    assert len(response.context["page"].object_list) == 25


def test_history_shows_only_the_members_own_entries(signed_in, member):
    other = member_create(email="grace@example.com")
    earn(other, 999, reason="Grace's order")
    earn(member, 10, reason="Ada's order")
    page = text(signed_in.get(reverse("members:history")))
    assert "Ada's order" in page and "Grace's order" not in page


# --- entry detail --------------------------------------------------------------------------------


def test_entry_detail_shows_the_lots_it_touched(signed_in, member, django_assert_max_num_queries):
    earn(member, 100, reason="Order #1")
    earn(member, 50, reason="Order #2")
    entry = redeem(member, 120, reason="Reward: blender")

    with django_assert_max_num_queries(7):
        response = signed_in.get(reverse("members:history_entry", args=[entry.public_id]))

    assert response.status_code == 200
    page = text(response)
    assert "Redeemed" in page and "\u2212120 points" in page and "Reward: blender" in page
    assert "Recorded by You" in page
    html = response.content.decode()
    assert html.count('data-testid="lot"') == 2
    assert "\u2212100 available" in page and "\u221220 available" in page
    assert "Left now 0" in page and "Left now 30" in page


def test_entry_detail_of_pending_points_says_when_they_become_available(signed_in, member):
    entry = earn(member, 80, reason="Order #3", pending_days=14)
    page = text(signed_in.get(reverse("members:history_entry", args=[entry.public_id])))
    assert "+80 points" in page and "+80 pending" in page
    available_from = timezone.localtime(timezone.now() + dt.timedelta(days=14))
    assert f"Available from {available_from.day} {available_from:%b %Y}" in page


@pytest.mark.django_db
def test_another_members_entry_is_not_found(client, member):
    other = member_create(email="grace@example.com")
    others_entry = earn(other, 500, reason="Grace's order")
    client.force_login(member.user)
    response = client.get(reverse("members:history_entry", args=[others_entry.public_id]))
    assert response.status_code == 404
    assert "We could not find that page" in text(response) and "Grace's order" not in text(response)
    assert client.get(reverse("members:history_entry", args=[uuid.uuid4()])).status_code == 404


# --- profile and preferences ---------------------------------------------------------------------


def test_profile_saves_names_and_birthday(signed_in, member):
    response = signed_in.post(
        reverse("members:profile"), {"first_name": " Augusta ", "last_name": "King", "birthday": "1975-12-10"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("members:profile")
    member.refresh_from_db()
    assert (member.first_name, member.last_name, member.birthday) == ("Augusta", "King", dt.date(1975, 12, 10))
    page = text(signed_in.get(reverse("members:profile")))
    assert "Your profile is saved." in page
    assert "ada@example.com" in page


def test_profile_refuses_a_birthday_in_the_future_and_a_missing_first_name(signed_in, member):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = signed_in.post(reverse("members:profile"), {"first_name": "", "birthday": tomorrow.isoformat()})
    assert response.status_code == 200
    page = text(response)
    assert "This field is required." in page and "A birthday cannot be in the future." in page
    assert 'aria-invalid="true"' in response.content.decode()
    member.refresh_from_db()
    assert member.first_name == "Ada" and member.birthday is None

    response = signed_in.post(reverse("members:profile"), {"first_name": "Ada", "birthday": "1815-12-10"})
    assert "Please check the year." in text(response)


def test_profile_can_clear_the_birthday(signed_in, member):
    member.birthday = dt.date(1990, 5, 1)
    member.save()
    signed_in.post(reverse("members:profile"), {"first_name": "Ada", "last_name": "", "birthday": ""})
    member.refresh_from_db()
    assert member.birthday is None and member.last_name == ""


def test_preferences_record_consent_and_when_it_changed(signed_in, member):
    assert "You have not said yes to offers and news." in text(signed_in.get(reverse("members:preferences")))

    before = timezone.now()
    response = signed_in.post(reverse("members:preferences"), {"marketing_consent": "on"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.marketing_consent is True and member.marketing_consent_at >= before
    given_at = member.marketing_consent_at

    page = text(signed_in.get(reverse("members:preferences")))
    assert "Your preferences are saved." in page
    assert f"You said yes on {given_at.day} {given_at:%B %Y, %H:%M}." in page

    # Saving without a change keeps the date of the last real change.
    signed_in.post(reverse("members:preferences"), {"marketing_consent": "on"})
    member.refresh_from_db()
    assert member.marketing_consent_at == given_at

    signed_in.post(reverse("members:preferences"), {})
    member.refresh_from_db()
    assert member.marketing_consent is False and member.marketing_consent_at > given_at
    assert "You said no on" in text(signed_in.get(reverse("members:preferences")))


# --- closing the account -------------------------------------------------------------------------


def test_closing_needs_the_right_password_and_the_confirmation(signed_in, member):
    earn(member, 100)
    response = signed_in.post(reverse("members:close"), {"password": "wrong", "confirm": "on"})
    assert response.status_code == 200
    assert "That password is not right." in text(response)

    response = signed_in.post(reverse("members:close"), {"password": PASSWORD})
    assert "Please tick the box to confirm." in text(response)

    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE and member.points_account.available == 100


def test_the_closure_page_says_how_many_points_will_be_lost(signed_in, member):
    earn(member, 1500)
    earn(member, 20, pending_days=5)
    assert "you lose your 1,520 points" in text(signed_in.get(reverse("members:close")))


def test_closing_anonymises_forfeits_the_points_keeps_the_ledger_and_signs_out(signed_in, member):
    earn(member, 100, reason="Order #1")
    earn(member, 30, reason="Order #2", pending_days=10)
    user_pk = member.user.pk

    response = signed_in.post(reverse("members:close"), {"password": PASSWORD, "confirm": "on"})

    assert response.status_code == 302 and response["Location"] == reverse("account_login")
    member.refresh_from_db()
    user = User.objects.get(pk=user_pk)
    assert member.status == Member.Status.CLOSED
    assert (member.first_name, member.last_name, member.birthday, member.marketing_consent) == ("", "", None, False)
    assert user.email != "ada@example.com" and user.email.endswith("@invalid")
    assert not user.is_active and not user.has_usable_password()

    account = member.points_account
    account.refresh_from_db()
    assert (account.available, account.pending) == (0, 0)
    entries = PointEntry.objects.filter(account=account)
    assert list(entries.values_list("kind", flat=True).order_by("created_at", "id")) == ["earn", "earn", "expire"]
    forfeit = entries.get(kind=PointEntry.Kind.EXPIRE)
    assert forfeit.points == -130 and forfeit.reason == "Account closed"
    assert ledger_audit() == []

    # Signed out, and the old login no longer works.
    assert "_auth_user_id" not in signed_in.session
    follow = signed_in.get(reverse("account_login"))
    assert "Your account is closed" in text(follow)
    assert signed_in.get(reverse("members:dashboard")).status_code == 302
    assert not signed_in.login(email="ada@example.com", password=PASSWORD)
