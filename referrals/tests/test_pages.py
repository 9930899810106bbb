"""The referral link /r/<code> and the member's referral page /me/referrals/."""

import datetime as dt
import re
import time
from unittest import mock

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from members.tests.factories import member_create
from members.tests.test_views import text
from referrals import views
from referrals.cookies import ATTRIBUTION_COOKIE, DEVICE_COOKIE
from referrals.models import Referral, ReferralCode, ReferralReward
from referrals.selectors import referral_program_get
from referrals.services import COOKIE_SALT, referral_code_get_or_create, referral_join
from rewards.selectors import program_get

SIGNUP = reverse("account_signup")
PAGE = reverse("referrals:page")


@pytest.fixture
def anna(db):
    program = program_get()
    program.name = "Corner Bakery"
    program.save()
    return member_create(email="anna@example.com", first_name="Anna", last_name="Smith")


@pytest.fixture
def code(anna):
    return referral_code_get_or_create(member=anna).code


def link(code: str) -> str:
    return reverse("referrals:link", kwargs={"code": code})


def set_rules(**fields):
    rules = referral_program_get()
    for name, value in fields.items():
        setattr(rules, name, value)
    rules.save()
    return rules


# --- the link ------------------------------------------------------------------------------------------------


def test_a_click_is_counted_and_leads_to_sign_up_with_the_code(client, program, code):
    response = client.get(link(code))

    assert response.status_code == 302
    assert response["Location"] == f"{SIGNUP}?ref={code}"
    click = Referral.objects.get()
    assert click.status == Referral.Status.CLICKED and click.code == code and click.channel == "link"
    # Nothing about the visitor is kept at the click.
    assert (click.friend, click.ip_hash, click.device_hash, click.email_hash) == (None, "", "", "")
    attribution = response.cookies[ATTRIBUTION_COOKIE]
    assert attribution["max-age"] == 30 * 24 * 3600
    assert attribution["httponly"] and attribution["samesite"] == "Lax" and not attribution["secure"]
    assert signing.loads(attribution.value, salt=COOKIE_SALT) == str(click.public_id)
    device = response.cookies[DEVICE_COOKIE]
    assert device["httponly"] and int(device["max-age"]) > 365 * 24 * 3600 and len(device.value) >= 16
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_the_cookies_are_secure_over_https_and_last_the_configured_days(client, program, code):
    set_rules(attribution_days=7)
    response = client.get(link(code), secure=True)
    assert response.cookies[ATTRIBUTION_COOKIE]["secure"] and response.cookies[DEVICE_COOKIE]["secure"]
    assert response.cookies[ATTRIBUTION_COOKIE]["max-age"] == 7 * 24 * 3600


def test_a_code_typed_in_lower_case_or_with_a_slash_works(client, program, code):
    response = client.get(f"/r/{code.lower()}/")
    assert response["Location"] == f"{SIGNUP}?ref={code}"


def test_the_device_cookie_is_kept_when_the_browser_has_one(client, program, code):
    client.cookies[DEVICE_COOKIE] = "a-device-id-of-this-browser"
    response = client.get(link(code))
    assert DEVICE_COOKIE not in response.cookies


@pytest.mark.parametrize("path", ["/r/NOSUCHCODE", "/r/%3Cscript%3E", "/r/" + "A" * 64])
def test_an_unknown_code_goes_to_sign_up_without_a_code(client, program, code, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == SIGNUP
    assert ATTRIBUTION_COOKIE not in response.cookies
    assert not Referral.objects.exists()


def test_a_program_that_is_off_counts_nothing(client, program, code):
    set_rules(active=False)
    response = client.get(link(code))
    assert response.status_code == 302 and response["Location"] == SIGNUP
    assert ATTRIBUTION_COOKIE not in response.cookies
    assert not Referral.objects.exists()


def test_a_closed_referrers_link_counts_nothing(client, program, anna, code):
    anna.status = "suspended"
    anna.save()
    assert client.get(link(code))["Location"] == SIGNUP
    assert not Referral.objects.exists()


def test_first_click_keeps_the_first_link(client, program, code):
    ben = member_create(email="ben@example.com", first_name="Ben")
    ben_code = referral_code_get_or_create(member=ben).code
    first = client.get(link(code))
    client.cookies[ATTRIBUTION_COOKIE] = first.cookies[ATTRIBUTION_COOKIE].value

    second = client.get(link(ben_code))

    assert second["Location"] == f"{SIGNUP}?ref={code}"  # the form is filled in with the first link's code
    assert ATTRIBUTION_COOKIE not in second.cookies
    assert list(Referral.objects.values_list("code", flat=True)) == [code]


def test_last_click_gives_the_credit_to_the_latest_link(client, program, code):
    set_rules(attribution="last_click")
    ben = member_create(email="ben@example.com", first_name="Ben")
    ben_code = referral_code_get_or_create(member=ben).code
    first = client.get(link(code))
    client.cookies[ATTRIBUTION_COOKIE] = first.cookies[ATTRIBUTION_COOKIE].value

    second = client.get(link(ben_code))

    assert second["Location"] == f"{SIGNUP}?ref={ben_code}"
    latest = Referral.objects.get(code=ben_code)
    assert signing.loads(second.cookies[ATTRIBUTION_COOKIE].value, salt=COOKIE_SALT) == str(latest.public_id)


def test_the_same_link_twice_is_one_click(client, program, code):
    first = client.get(link(code))
    client.cookies[ATTRIBUTION_COOKIE] = first.cookies[ATTRIBUTION_COOKIE].value
    again = client.get(link(code))
    assert again["Location"] == f"{SIGNUP}?ref={code}"
    assert Referral.objects.count() == 1


def test_a_click_older_than_the_attribution_window_no_longer_counts(client, program, code):
    ben = member_create(email="ben@example.com", first_name="Ben")
    ben_code = referral_code_get_or_create(member=ben).code
    old_click = Referral.objects.create(
        referrer=ben,
        code=ben_code,
        channel="link",
        status="clicked",
        clicked_at=timezone.now() - dt.timedelta(days=31),
    )
    with mock.patch("time.time", return_value=time.time() - 31 * 24 * 3600):
        stale = signing.dumps(str(old_click.public_id), salt=COOKIE_SALT)
    client.cookies[ATTRIBUTION_COOKIE] = stale

    # First click, but the old click has expired: the new link takes the credit.
    response = client.get(link(code))
    assert response["Location"] == f"{SIGNUP}?ref={code}"
    assert ATTRIBUTION_COOKIE in response.cookies
    # And the sign-up page does not fill in the expired click's code.
    client.cookies[ATTRIBUTION_COOKIE] = stale
    assert 'value="' + ben_code not in client.get(SIGNUP).content.decode()


@pytest.mark.parametrize(
    "agent",
    [
        "WhatsApp/2.23.20.0 A",
        "TelegramBot (like TwitterBot)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    ],
)
def test_a_link_preview_is_not_a_click(client, program, code, agent):
    response = client.get(link(code), headers={"User-Agent": agent})
    assert response.status_code == 302 and response["Location"] == SIGNUP
    assert ATTRIBUTION_COOKIE not in response.cookies and not Referral.objects.exists()


def test_a_head_request_is_not_a_click(client, program, code):
    assert client.head(link(code)).status_code == 302
    assert not Referral.objects.exists()


def test_a_flood_from_one_address_stops_counting(client, program, code, monkeypatch):
    monkeypatch.setattr(views, "CLICKS_PER_IP", 3)
    for _ in range(5):
        client.cookies.clear()  # a script that keeps no cookies
        response = client.get(link(code), REMOTE_ADDR="192.0.2.1")
        assert response.status_code == 302
    assert Referral.objects.count() == 3
    assert client.get(link(code), REMOTE_ADDR="192.0.2.2")["Location"] == f"{SIGNUP}?ref={code}"


def test_a_signed_in_member_goes_to_their_own_page(client, program, anna, code):
    client.force_login(anna.user)
    response = client.get(link(code))
    assert response.status_code == 302 and response["Location"] == PAGE
    assert not Referral.objects.exists()


def test_a_forged_cookie_is_ignored(client, program, code):
    client.cookies[ATTRIBUTION_COOKIE] = "not-a-signed-value"
    response = client.get(link(code))
    assert response["Location"] == f"{SIGNUP}?ref={code}"


# --- the member's page ---------------------------------------------------------------------------------------


def _friend(referrer_code: str, email: str, **profile):
    friend = member_create(email=email, **profile)
    return friend, referral_join(friend=friend, code=referrer_code)


def test_the_page_asks_for_a_sign_in(client, program):
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_the_page_shows_link_code_qr_share_links_and_terms(client, program, anna, code):
    client.force_login(anna.user)
    response = client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    page = text(response)
    assert f"http://testserver/r/{code}" in page
    assert re.search(rf'data-testid="referral-code">{code}<', html)
    assert re.search(r'<svg viewBox="0 0 \d+ \d+" class="qr">', html)
    for href in (
        "mailto:?subject=Join%20me%20at%20Corner%20Bakery&amp;body=Join%20Corner%20Bakery%20with%20my%20link",
        "https://wa.me/?text=Join%20Corner%20Bakery",
        f"https://t.me/share/url?url=http%3A%2F%2Ftestserver%2Fr%2F{code}",
        "sms:?&amp;body=Join",
        f"https://x.com/intent/tweet?text=Join%20Corner%20Bakery%20with%20my%20link%20and%20get%20100%20points%3A&amp;url=http%3A%2F%2Ftestserver%2Fr%2F{code}",
    ):
        assert href in html, href
    assert "<script src" not in html  # no third-party scripts
    assert "Your friend gets 100 points when they join with your link or code." in page
    assert "You get 500 points when your friend places their first order of EUR 20.00 or more." in page
    assert "Your reward arrives 14 days after the order" in page
    assert "No friends have joined with your link yet." in page
    nav = re.search(r'<nav class="tabs".*?</nav>', html, re.S).group(0)
    assert f'href="{PAGE}" aria-current="page">Invite<' in nav


def test_a_page_view_remembers_where_the_member_was_seen(client, program, anna, code):
    client.force_login(anna.user)
    response = client.get(PAGE, REMOTE_ADDR="203.0.113.7")
    device = response.cookies[DEVICE_COOKIE].value
    seen = ReferralCode.objects.get(member=anna)
    assert len(seen.seen_ips) == 1 and "203.0.113.7" not in seen.seen_ips[0]  # a keyed hash, not the address
    assert len(seen.seen_devices) == 1 and device not in seen.seen_devices[0]
    # A friend signing up from the same address is then flagged for review (the same-IP check).
    client.logout()
    ben = member_create(email="ben@example.com", first_name="Ben")
    referral = referral_join(friend=ben, code=code, ip="203.0.113.7")
    assert referral.review == Referral.Review.PENDING and referral.reason_code == "same_ip"


def test_a_member_without_a_code_gets_one_on_first_visit(client, program):
    carl = member_create(email="carl@example.com", first_name="Carl")
    client.force_login(carl.user)
    response = client.get(PAGE)
    carl_code = ReferralCode.objects.get(member=carl).code
    assert carl_code.startswith("CARL") and carl_code in text(response)


def test_friends_are_masked_with_their_statuses_in_words(client, program, anna, code):
    _friend(code, "ben@example.com", first_name="Ben", last_name="Lee")
    _friend(code, "cleo@example.com")  # no name: the masked address
    held, held_referral = _friend(code, "dan@example.com", first_name="Dan")
    Referral.objects.filter(pk=held_referral.pk).update(review="pending", reason_code="same_ip", reason="IP")
    # A self-referral with a mail alias: rejected, and the page says only "not eligible".
    _friend(code, "anna+2@example.com", first_name="Eve")
    Referral.objects.filter(friend__first_name="Eve").update(
        status="rejected", reason_code="same_device", reason="The friend signed up on a device the referrer used."
    )
    client.force_login(anna.user)

    response = client.get(PAGE)

    page = text(response)
    assert "Ben L." in page and "ben@example.com" not in page
    assert "c***@example.com" in page and "cleo@example.com" not in page
    assert "Dan Being checked" in page
    assert "Eve Not eligible" in page and "This friend is not eligible for a referral reward." in page
    assert "device" not in page.lower() and "same_ip" not in response.content.decode()
    assert response.context["page"].friends_count == 4


def test_rewards_earned_and_pending_with_their_due_date(client, program, anna, code):
    ben, referral = _friend(code, "ben@example.com", first_name="Ben", last_name="Lee")
    due = timezone.now() + dt.timedelta(days=14)
    ReferralReward.objects.create(
        referral=referral, member=anna, side="referrer", kind="points", points=500, due_at=due
    )
    cleo, other = _friend(code, "cleo@example.com", first_name="Cleo")
    ReferralReward.objects.create(
        referral=other,
        member=anna,
        side="referrer",
        kind="store_credit",
        amount="5.00",
        currency="EUR",
        status="granted",
        granted_at=timezone.now(),
        due_at=timezone.now(),
    )
    ReferralReward.objects.create(
        referral=other,
        member=anna,
        side="referrer",
        sequence=2,
        kind="points",
        points=500,
        status="granted",
        granted_at=timezone.now(),
        due_at=timezone.now(),
    )
    client.force_login(anna.user)

    response = client.get(PAGE)

    page = text(response)
    assert response.context["page"].earned_points == 500
    assert "Store credit earned EUR 5.00" in page
    day = timezone.localtime(due, timezone.get_fixed_timezone(0)).strftime("%-d %B %Y")
    pending = response.context["page"].pending
    assert [(r.gives, r.status) for r in pending] == [("500 points", "pending")]
    assert f"500 points On its way Ben L. joined · due on {day}" in page
    assert "EUR 5.00 in store credit Earned Cleo joined" in page


def test_the_page_reads_in_a_fixed_number_of_queries(client, program, anna, code, django_assert_num_queries):
    client.force_login(anna.user)
    client.get(PAGE)  # the code and the device cookie exist from here on
    for n in range(12):
        friend, referral = _friend(code, f"friend{n}@example.com", first_name=f"Friend{n}")
        ReferralReward.objects.create(
            referral=referral, member=anna, side="referrer", kind="points", points=500, due_at=timezone.now()
        )
    # session, user, member with account, rules and program (the view), code (seen), code (the page), counts,
    # rewards with their referrals, friends and catalogue rewards, friends with their users, program (layout)
    with django_assert_num_queries(11):
        response = client.get(PAGE, REMOTE_ADDR="127.0.0.1")
    assert len(response.context["page"].friends) == 12


def test_a_program_that_is_off_says_so_and_shows_no_link(client, program, anna, code):
    _friend(code, "ben@example.com", first_name="Ben")
    set_rules(active=False)
    client.force_login(anna.user)
    response = client.get(PAGE)
    page = text(response)
    assert "Our referral program is not running at the moment" in page
    assert "/r/" not in response.content.decode() and "<svg" not in response.content.decode()
    assert "Ben Joined: no qualifying order yet" in page  # what happened before stays visible


def test_a_suspended_member_has_no_link(client, program, anna, code):
    anna.status = "suspended"
    anna.save()
    client.force_login(anna.user)
    response = client.get(PAGE)
    assert "Your account is not active at the moment" in text(response)
    assert f"/r/{code}" not in response.content.decode()


def test_a_login_without_a_membership_gets_the_friendly_page(client, program, django_user_model):
    staff = django_user_model.objects.create_user(email="staff@example.com", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(PAGE).status_code == 403


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"trigger": "signup", "referrer_reward": "store_credit", "referrer_store_credit": "5.00"},
            "You get EUR 5.00 in store credit as soon as your friend joins.",
        ),
        (
            {"trigger": "first_order", "min_order_total": 0},
            "You get 500 points when your friend places their first order.",
        ),
        (
            {"trigger": "each_order", "orders_count": 3, "orders_within_days": 90},
            "You get 500 points for each of your friend's first 3 orders of EUR 20.00 or more within 90 days of "
            "joining.",
        ),
        (
            {"trigger": "each_order", "orders_count": 1, "orders_within_days": 1, "min_order_total": 0},
            "You get 500 points when your friend places their first order within 1 day of joining.",
        ),
    ],
)
def test_the_terms_in_words(program, fields, expected):
    from referrals.selectors.member import referral_terms_words

    rules = set_rules(**fields)
    terms = referral_terms_words(rules, currency="EUR", pending_days=0)
    assert expected in terms
    assert terms[0] == "Your friend gets 100 points when they join with your link or code."
    if rules.trigger == "signup":
        assert not any("return period" in t for t in terms)
