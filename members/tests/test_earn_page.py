"""How to earn: the earning rules, the actions that earn and the member's campaigns, in plain words."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from members.tests.factories import member_create
from members.tests.test_views import PASSWORD, text
from rewards.models import Campaign, EarningRule, EventRule, Segment
from rewards.tests.helpers import set_program

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(db):
    return member_create(email="ada@example.com", password=PASSWORD, first_name="Ada")


@pytest.fixture
def signed_in(client, member):
    client.force_login(member.user)
    return client


def earn_page(client) -> str:
    response = client.get(reverse("members:earn"))
    assert response.status_code == 200
    return text(response)


def rule(**fields) -> EarningRule:
    return EarningRule.objects.create(**{"currency": "EUR", "name": "A rule", **fields})


def campaign(**fields) -> Campaign:
    segments = fields.pop("segments", ())
    values = {
        "name": "Double points weekend",
        "kind": Campaign.Kind.ORDER_MULTIPLIER,
        "factor": Decimal(2),
        "starts_at": timezone.now() - dt.timedelta(days=1),
        "ends_at": timezone.now() + dt.timedelta(days=2),
        **fields,
    }
    made = Campaign.objects.create(**values)
    made.segments.set(segments)
    return made


def test_guests_are_sent_to_sign_in(client):
    url = reverse("members:earn")
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"{reverse('account_login')}?next={url}"


def test_a_new_program_earns_a_point_per_euro_and_nothing_on_gift_cards(signed_in):
    page = earn_page(signed_in)
    assert "1 point per EUR 1.00 spent" in page
    assert "No points on gift card, gift cards, gift-card and" in page
    assert page.index("1 point per EUR 1.00 spent") < page.index("No points on gift card")  # exclusions last


def test_earning_rules_in_plain_words(signed_in):
    ends = timezone.now() + dt.timedelta(days=5)
    rule(kind="multiplier", multiplier=2, categories=["books"], ends_at=ends)
    rule(kind="multiplier", multiplier=Decimal("1.5"), skus=["TEA-1"])
    rule(kind="fixed", points=50, categories=["wine"])
    rule(kind="base_rate", points=3, amount=Decimal("2.50"), minimum_order_value=Decimal("20"))
    rule(kind="base_rate", points=5, name="Later", starts_at=timezone.now() + dt.timedelta(days=1))
    rule(
        kind="base_rate",
        points=7,
        name="Over",
        ends_at=timezone.now() - dt.timedelta(seconds=1),
        starts_at=timezone.now() - dt.timedelta(days=2),
    )
    rule(kind="base_rate", points=9, name="Paused", is_active=False)
    rule(kind="base_rate", points=11, name="One shop", shop_ids=["6f9c2a52-0000-4000-8000-000000000001"])
    rule(kind="base_rate", points=13, currency="USD")

    page = earn_page(signed_in)

    last_day = timezone.localtime(ends - dt.timedelta(microseconds=1)).date()
    assert f"Double points on books until {last_day.day} {last_day:%B %Y}" in page
    assert "1.5× points on TEA-1" in page
    assert "50 points for each wine you buy" in page
    assert "3 points per EUR 2.50 spent, on orders of EUR 20.00 or more" in page
    for hidden in ("5 points per", "7 points per", "9 points per", "11 points per", "13 points per"):
        assert hidden not in page


def test_actions_that_earn_with_their_limits(signed_in):
    EventRule.objects.create(name="Reviews", event="review_written", points=50, limit_count=1, limit_period="month")
    EventRule.objects.create(name="Birthday", event="birthday", points=100)
    EventRule.objects.create(name="Visits", event="store_visit", points=10, limit_count=3, limit_period="week")
    EventRule.objects.create(name="Newsletter", event="newsletter_signup", points=25, limit_count=1)
    EventRule.objects.create(name="Welcome", event="sign_up", points=200)
    EventRule.objects.create(name="Paused", event="social_follow", points=30, is_active=False)

    page = earn_page(signed_in)

    assert "50 points for a review, once a month" in page
    assert "100 points on your birthday" in page
    assert "10 points for this: store visit, up to 3 times a week" in page
    assert "25 points for signing up to the newsletter, once" in page
    assert "for joining" not in page  # every member who sees this page has joined
    assert "30 points" not in page


def test_campaigns_i_can_benefit_from(signed_in, member):
    set_program(time_zone="Europe/Amsterdam")
    campaign(name="Double points weekend")
    campaign(
        name="Books bonus",
        kind=Campaign.Kind.PRODUCT_MULTIPLIER,
        factor=3,
        categories=["books"],
        description="Triple points on books until Sunday.",
    )
    campaign(name="Not for me", segments=[Segment.objects.create(name="VIP", kind="static")])
    campaign(
        name="Over", starts_at=timezone.now() - dt.timedelta(days=3), ends_at=timezone.now() - dt.timedelta(days=1)
    )

    page = earn_page(signed_in)

    assert "Right now" in page
    assert "Double points weekend Double points on every order, until" in page
    assert "Books bonus Triple points on books until Sunday." in page
    assert "Not for me" not in page and "Over" not in page


def test_nothing_to_earn_says_so(signed_in):
    EarningRule.objects.all().delete()
    page = earn_page(signed_in)
    assert "No points on purchases at the moment." in page
    assert "Right now" not in page


@pytest.mark.parametrize("count", [2, 20])
def test_earn_page_queries_do_not_grow_with_the_rules(signed_in, count, django_assert_num_queries):
    for i in range(count):
        rule(kind="multiplier", multiplier=2, categories=[f"cat-{i}"])
        EventRule.objects.create(name=f"E{i}", event=f"event_{i}", points=10)
        campaign(name=f"Campaign {i}", segments=[Segment.objects.get_or_create(name="VIP", kind="static")[0]])
        campaign(name=f"Open campaign {i}")
    # session, user, member with account, program (view), earning rules, event rules, campaigns, their
    # segments, the member's segments (definitions, then membership), program (page layout)
    with django_assert_num_queries(11):
        earn_page(signed_in)
