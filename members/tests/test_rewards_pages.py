"""The rewards pages under /me/: the catalogue as the member sees it, redeeming through the confirmation
step (once, however often it is submitted), the result with its code, and the member's coupons."""

import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.services.shops import shop_create
from members.models import Member, User
from members.tests.factories import member_create
from members.tests.test_views import PASSWORD, text
from rewards.models import Coupon, PointEntry, Redemption, Reward, Segment, Tier
from rewards.services.coupons import coupon_redeem
from rewards.services.redemptions import reward_redeem
from rewards.tests.helpers import earn, new_key, redeem
from rewards.tests.test_catalogue import reward_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(db):
    member = member_create(email="ada@example.com", password=PASSWORD, first_name="Ada")
    earn(member.points_account, 500)
    member.points_account.refresh_from_db()
    return member


@pytest.fixture
def signed_in(client, member):
    client.force_login(member.user)
    return client


def redeem_url(reward: Reward) -> str:
    return reverse("members:reward_redeem", args=[reward.public_id])


def confirm_key(client, reward: Reward) -> str:
    """Open the confirmation page and return the idempotency key it minted (as a browser would send it)."""
    response = client.get(redeem_url(reward))
    assert response.status_code == 200
    match = re.search(r'name="key" value="([0-9a-f]{32})"', response.content.decode())
    assert match, "the confirmation form carries its key"
    return match.group(1)


def balance(member) -> int:
    member.points_account.refresh_from_db()
    return member.points_account.available


# --- access --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["members:rewards", "members:coupons"])
def test_guests_are_sent_to_sign_in(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={url}"


def test_guests_cannot_open_a_confirmation_or_post_a_redemption(client):
    reward = reward_make()
    for response in (client.get(redeem_url(reward)), client.post(redeem_url(reward), {"key": "k"})):
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert not Redemption.objects.exists()


def test_a_staff_login_without_membership_gets_the_friendly_page(client):
    client.force_login(User.objects.create_user("staff@example.com", PASSWORD, is_staff=True))
    assert client.get(reverse("members:rewards")).status_code == 403


# --- the catalogue -------------------------------------------------------------------------------------


def test_rewards_page_splits_what_i_can_redeem_now_from_what_i_am_short_of(signed_in, member):
    gold = Tier.objects.create(name="Gold", rank=2)
    reward_make(
        title="Five off",
        points=300,
        value=Decimal("5.00"),
        description="Off any order.",
        image_url="https://img.example.com/five.png",
    )
    reward_make(title="Big one", points=750)
    reward_make(title="Gone", stock_total=1, units_issued=1)
    once = reward_make(title="Once", limit_per_member=1, limit_period="month")
    reward_make(title="For Gold", min_tier=gold)
    reward_make(title="Secret", segments=[Segment.objects.create(name="VIP", kind="static")])
    reward_make(title="Switched off", active=False)
    reward_redeem(member=member, reward=once, idempotency_key=new_key("page"), channel="web")  # 400 left

    response = signed_in.get(reverse("members:rewards"))

    assert response.status_code == 200
    html = response.content.decode()
    page = text(response)
    assert "You have 400 points to spend." in page
    now_part = html[html.index('data-testid="rewards-now"') : html.index('data-testid="rewards-later"')]
    later_part = html[html.index('data-testid="rewards-later"') :]
    assert "Five off" in now_part and "Big one" not in now_part
    assert "EUR 5.00 off your order" in now_part and "Off any order." in now_part and "300 points" in now_part
    assert 'src="https://img.example.com/five.png"' in now_part
    five = Reward.objects.get(title="Five off")
    assert f'href="{redeem_url(five)}"' in now_part
    later = text_of(later_part)
    assert "Big one" in later and "You need 350 more points" in later
    assert "Gone" in later and "Out of stock" in later
    assert "Once" in later and "You have redeemed this as often as it allows for now" in later
    assert "For Gold" in later and "For Gold members and above" in later
    assert "Secret" not in page and "Switched off" not in page
    assert "Redeem" not in later  # no button where redeeming would be refused


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_an_empty_catalogue_says_so(signed_in):
    page = text(signed_in.get(reverse("members:rewards")))
    assert "There are no rewards in the catalogue yet." in page
    assert "Redeem now" not in page


def test_nothing_to_redeem_yet_points_to_the_rewards_below(signed_in):
    reward_make(title="Dear", points=900)
    page = text(signed_in.get(reverse("members:rewards")))
    assert "Nothing to redeem yet." in page and "Dear" in page
    assert "There are no rewards in the catalogue yet." not in page


# --- redeeming -----------------------------------------------------------------------------------------


def test_the_confirmation_says_what_will_happen_and_redeeming_shows_the_code(signed_in, member):
    reward = reward_make(title="Five off", points=300, coupon_valid_days=30, min_order=Decimal("20.00"))

    confirm = signed_in.get(redeem_url(reward))
    page = text(confirm)
    assert "Redeem Five off" in page
    assert "Points taken 300" in page and "Your points now 500" in page and "Your points after 200" in page
    assert "You get a code to use at checkout, valid for 30 days." in page
    assert 'name="csrfmiddlewaretoken"' in confirm.content.decode()
    assert not Redemption.objects.exists()  # showing the page changes nothing

    key = confirm_key(signed_in, reward)
    response = signed_in.post(redeem_url(reward), {"key": key})

    redemption = Redemption.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("members:redemption", args=[redemption.public_id])
    assert redemption.channel == "web" and redemption.points == 300
    assert balance(member) == 200
    result = signed_in.get(response["Location"])
    page = text(result)
    coupon = redemption.coupon
    assert f'data-testid="coupon-code">{coupon.code}</code>' in result.content.decode()
    assert "300 points were taken from your balance. You have 200 left." in page
    assert "EUR 5.00 off your order, on an order of EUR 20.00 or more" in page
    last_day = timezone.localtime(coupon.expires_at - dt.timedelta(microseconds=1)).date()
    assert f"Valid until {last_day.day} {last_day:%B %Y}" in page
    assert "How to use it" in page and "Ready to use" in page
    assert 'data-copy="coupon-code"' in result.content.decode()  # the copy button (shown by its script)


def test_a_double_submit_redeems_once(signed_in, member):
    reward = reward_make(points=100)
    key = confirm_key(signed_in, reward)

    first = signed_in.post(redeem_url(reward), {"key": key})
    second = signed_in.post(redeem_url(reward), {"key": key})

    assert Redemption.objects.count() == 1
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert balance(member) == 400
    assert PointEntry.objects.filter(account=member.points_account, kind="redeem").count() == 1


def test_each_confirmation_page_gets_its_own_key_so_redeeming_again_is_a_new_redemption(signed_in, member):
    reward = reward_make(points=100)
    for _ in range(2):
        signed_in.post(redeem_url(reward), {"key": confirm_key(signed_in, reward)})
    assert Redemption.objects.count() == 2 and balance(member) == 300


def test_short_of_points_at_the_moment_of_redeeming_shows_why_and_changes_nothing(signed_in, member):
    reward = reward_make(points=400)
    key = confirm_key(signed_in, reward)
    redeem(member.points_account, 200)  # spent elsewhere meanwhile: 300 left

    response = signed_in.post(redeem_url(reward), {"key": key})

    assert response.status_code == 422
    page = text(response)
    assert "You do not have enough points for this reward." in page
    assert "Nothing was redeemed and no points were taken." in page
    assert not Redemption.objects.exists() and balance(member) == 300
    assert not Coupon.objects.exists()


def test_the_last_unit_gone_meanwhile_shows_out_of_stock(signed_in, member):
    reward = reward_make(points=100, stock_total=1)
    key = confirm_key(signed_in, reward)
    Reward.objects.filter(pk=reward.pk).update(units_issued=1)

    response = signed_in.post(redeem_url(reward), {"key": key})

    assert response.status_code == 422
    assert "Out of stock." in text(response)
    assert not Redemption.objects.exists() and balance(member) == 500
    # Shown as things are now: no button to try again, a way back to the rewards.
    assert 'data-testid="confirm-form"' not in response.content.decode()
    assert "Back to the rewards" in text(response)


def test_a_key_used_for_another_reward_is_refused_with_a_fresh_page(signed_in, member):
    first, second = reward_make(title="First"), reward_make(title="Second")
    key = confirm_key(signed_in, first)
    signed_in.post(redeem_url(first), {"key": key})

    response = signed_in.post(redeem_url(second), {"key": key})

    assert response.status_code == 409
    assert "This confirmation has expired" in text(response)
    assert Redemption.objects.count() == 1
    assert f'value="{key}"' not in response.content.decode()  # a new key for the next try


@pytest.mark.parametrize("key", ["", "x" * 200])
def test_a_missing_or_malformed_key_is_refused_without_a_500(signed_in, member, key):
    reward = reward_make(points=100)
    response = signed_in.post(redeem_url(reward), {"key": key})
    assert response.status_code == 422
    assert not Redemption.objects.exists() and balance(member) == 500


def test_a_reward_i_cannot_redeem_shows_why_and_no_button(signed_in):
    reward = reward_make(points=900)
    response = signed_in.get(redeem_url(reward))
    assert response.status_code == 200
    assert "You need 400 more points." in text(response)
    assert 'data-testid="confirm-form"' not in response.content.decode()


def test_a_posted_redemption_of_a_reward_out_of_reach_is_refused(signed_in, member):
    reward = reward_make(points=900)
    response = signed_in.post(redeem_url(reward), {"key": uuid.uuid4().hex})
    assert response.status_code == 422
    assert not Redemption.objects.exists() and balance(member) == 500


def test_a_suspended_member_sees_the_rewards_but_cannot_redeem(signed_in, member):
    reward = reward_make(points=100)
    Member.objects.filter(pk=member.pk).update(status=Member.Status.SUSPENDED)

    listing = text(signed_in.get(reverse("members:rewards")))
    confirm = signed_in.get(redeem_url(reward))
    posted = signed_in.post(redeem_url(reward), {"key": uuid.uuid4().hex})

    assert "Your account cannot redeem rewards at the moment: please contact us" in listing
    assert 'data-testid="confirm-form"' not in confirm.content.decode()
    assert posted.status_code == 422 and "please contact us" in text(posted)
    assert not Redemption.objects.exists() and balance(member) == 500


def test_hidden_unknown_and_other_segments_rewards_are_not_found(signed_in):
    hidden = reward_make(visible_from=timezone.now() + dt.timedelta(days=3))
    secret = reward_make(segments=[Segment.objects.create(name="VIP", kind="static")])
    for url in (redeem_url(hidden), redeem_url(secret), reverse("members:reward_redeem", args=[uuid.uuid4()])):
        assert signed_in.get(url).status_code == 404
        assert signed_in.post(url, {"key": uuid.uuid4().hex}).status_code == 404
    assert not Redemption.objects.exists()


def test_pay_with_points_asks_how_many_points_within_the_range(signed_in, member):
    reward = reward_make("pay_with_points", title="Pay with points", min_points=100, max_points=5000)

    confirm = signed_in.get(redeem_url(reward))
    html = confirm.content.decode()
    assert 'name="points"' in html and 'min="100"' in html and 'max="500"' in html  # capped at what I have
    assert "From 100 to 500 points; 100 points are worth 1.00 off." in text(confirm)

    key = confirm_key(signed_in, reward)
    too_many = signed_in.post(redeem_url(reward), {"key": key, "points": "800"})
    assert too_many.status_code == 422
    assert "Choose from 100 to 500 points." in text(too_many)
    assert 'aria-invalid="true"' in too_many.content.decode()
    assert not Redemption.objects.exists()

    response = signed_in.post(redeem_url(reward), {"key": key, "points": "250"})
    redemption = Redemption.objects.get()
    assert redemption.points == 250 and redemption.coupon.value == Decimal("2.50")
    assert balance(member) == 250
    assert "EUR 2.50 off your order" in text(signed_in.get(response["Location"]))


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("perk", "Your perk is booked: no code needed."),
        ("donation", "Your points went to Food bank. Thank you!"),
        ("store_credit", "EUR 10.00 was added to your store credit."),
    ],
)
def test_rewards_without_a_code_say_what_happened(signed_in, kind, says):
    reward = reward_make(kind, points=100)
    response = signed_in.post(redeem_url(reward), {"key": confirm_key(signed_in, reward)})
    result = signed_in.get(response["Location"])
    assert says in text(result)
    assert 'data-testid="coupon-code"' not in result.content.decode()


def test_store_credit_shows_on_the_rewards_page(signed_in):
    assert "Store credit" not in text(signed_in.get(reverse("members:rewards")))
    reward = reward_make("store_credit", points=100, value=Decimal("1250.00"))
    signed_in.post(redeem_url(reward), {"key": confirm_key(signed_in, reward)})
    assert "Store credit to spend at checkout: EUR 1,250.00" in text(signed_in.get(reverse("members:rewards")))


def test_another_members_redemption_is_not_found(signed_in):
    other = member_create()
    earn(other.points_account, 200)
    redemption = _redeem_direct(other, reward_make(points=100)).redemption
    assert signed_in.get(reverse("members:redemption", args=[redemption.public_id])).status_code == 404


# --- coupons -------------------------------------------------------------------------------------------


def _redeem_direct(member, reward):
    redemption, _ = reward_redeem(member=member, reward=reward, idempotency_key=new_key("c"), channel="web")
    return redemption.coupon


def test_my_coupons_list_codes_newest_first_with_value_validity_and_status(signed_in, member):
    shop = shop_create(name="Webshop", currency="EUR", time_zone="UTC")
    used = _redeem_direct(member, reward_make(title="Used one", points=50))
    coupon_redeem(code=used.code, shop=shop, order_external_id="order-1")
    expired = _redeem_direct(member, reward_make(title="Old one", points=50, coupon_valid_days=1))
    Coupon.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(hours=1))
    fresh = _redeem_direct(member, reward_make("percentage", title="Fresh one", points=50))

    response = signed_in.get(reverse("members:coupons"))

    assert response.status_code == 200
    page = text(response)
    assert "3 coupons" in page
    assert page.index("Fresh one") < page.index("Old one") < page.index("Used one")
    for coupon in (used, expired, fresh):
        assert coupon.code in page
    assert "15% off your order (at most EUR 20.00)" in page
    assert "Ready to use" in page and "Expired" in page and "Used on" in page
    html = response.content.decode()
    assert html.count("data-copy=") == 1  # only the usable code gets a copy button
    assert "No expiry date" in page


def test_my_coupons_are_paginated_and_show_only_mine(signed_in, member):
    earn(member.points_account, 2000)
    reward = reward_make(points=10)
    for _ in range(23):
        _redeem_direct(member, reward)
    other = member_create()
    earn(other.points_account, 100)
    theirs = _redeem_direct(other, reward)

    first = signed_in.get(reverse("members:coupons"))
    second = signed_in.get(reverse("members:coupons"), {"page": 2})

    assert "23 coupons" in text(first) and "Page 1 of 2" in text(first)
    assert first.content.decode().count('data-testid="coupon-code"') == 20
    assert second.content.decode().count('data-testid="coupon-code"') == 3
    assert theirs.code not in first.content.decode() + second.content.decode()


def test_no_coupons_yet_points_to_the_rewards(signed_in):
    response = signed_in.get(reverse("members:coupons"))
    assert "No coupons yet." in text(response)
    assert reverse("members:rewards") in response.content.decode()


# --- query counts --------------------------------------------------------------------------------------


def _catalogue(count: int) -> None:
    gold = Tier.objects.get_or_create(name="Gold", rank=3)[0]
    for i in range(count):
        reward_make(title=f"Reward {i}", points=100 + i * 50, limit_per_member=(1 if i % 3 == 0 else None))
    reward_make(title="Gold only", min_tier=gold)
    reward_make(title="Limited", stock_total=5)


@pytest.mark.parametrize("count", [3, 30])
def test_rewards_page_queries_do_not_grow_with_the_catalogue(signed_in, member, count, django_assert_num_queries):
    _catalogue(count)
    # session, user, member with account (member_required), program (view; cached outside tests), the
    # member's account with its tier, segments, rewards, their segments, redemptions counted for limits,
    # store credit, program (page layout)
    with django_assert_num_queries(11):
        response = signed_in.get(reverse("members:rewards"))
    assert response.status_code == 200


@pytest.mark.parametrize("count", [3, 30])
def test_confirmation_page_queries_do_not_grow_with_the_catalogue(signed_in, count, django_assert_num_queries):
    _catalogue(count)
    reward = reward_make(title="This one")
    # as the rewards page: the member's catalogue finds the reward with whether it can be redeemed
    with django_assert_num_queries(10):
        response = signed_in.get(redeem_url(reward))
    assert response.status_code == 200


@pytest.mark.parametrize("count", [3, 30])
def test_coupons_page_queries_do_not_grow_with_the_coupons(signed_in, member, count, django_assert_num_queries):
    earn(member.points_account, 5000)
    rewards = [reward_make(title=f"R{i}", points=10) for i in range(3)]
    for i in range(count):
        _redeem_direct(member, rewards[i % 3])
    # session, user, member with account, coupon count, one page of coupons with their rewards, program
    with django_assert_num_queries(6):
        response = signed_in.get(reverse("members:coupons"))
    assert response.status_code == 200


def test_result_page_queries(signed_in, member, django_assert_num_queries):
    reward = reward_make(points=100)
    response = signed_in.post(redeem_url(reward), {"key": confirm_key(signed_in, reward)})
    # session, user, member with account, the redemption with its reward, coupon and cause, program
    with django_assert_num_queries(5):
        assert signed_in.get(response["Location"]).status_code == 200


# --- the dashboard's summary ---------------------------------------------------------------------------


def test_dashboard_links_to_the_rewards_i_can_redeem_and_my_tier(signed_in):
    Tier.objects.create(name="Member", rank=0, colour="#777777")
    Tier.objects.create(name="Gold", rank=1, entry_threshold=1000)
    reward_make(title="Cheap", points=100)
    reward_make(title="Also cheap", points=500)
    reward_make(title="Dear", points=900)

    response = signed_in.get(reverse("members:dashboard"))

    page = text(response)
    assert "2 rewards you can redeem now" in page
    assert "Member your tier and its perks" in page
    html = response.content.decode()
    assert f'href="{reverse("members:rewards")}"' in html and f'href="{reverse("members:tier")}"' in html


@pytest.mark.parametrize("count", [3, 30])
def test_dashboard_summary_queries_do_not_grow_with_the_catalogue(signed_in, count, django_assert_num_queries):
    _catalogue(count)
    # members/tests/test_views.py's 13 less the expiring points' total (none expire here), plus the rewards'
    # segments and the redemptions counted for the limits
    with django_assert_num_queries(14):
        response = signed_in.get(reverse("members:dashboard"))
    assert response.status_code == 200
