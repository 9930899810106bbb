"""A friend on a phone, in a real browser: follow a member's referral link, sign up with the code filled in,
get the welcome reward, then open their own referral page and copy their link. The referrer then sees them.

Drives Debian's Chromium through Playwright's sync API against the live test server, as
members/tests/test_browser.py does. Skipped when Playwright or Chromium is missing. Screenshots at phone
size go to the temporary directory (loyalty-browser/).
"""

import shutil
import tempfile
from pathlib import Path

import pytest
from django.db import connections

from members.tests.factories import member_create
from referrals.models import Referral
from referrals.services import referral_code_get_or_create
from rewards.selectors import program_get

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
PASSWORD = "a-long-and-unusual-passphrase"
SCREENSHOTS = Path(tempfile.gettempdir()) / "loyalty-browser"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture
def anna(live_server, program):
    """A referrer, and the program (100 points for the friend), made before the browser starts."""
    bakery = program_get()
    bakery.name = "Corner Bakery"
    bakery.save()
    return member_create(email="anna@example.com", password=PASSWORD, first_name="Anna", last_name="Smith")


@pytest.fixture
def phone(anna, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; nothing here is async (see members' test_browser).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
            connections.close_all()  # the ORM's connections opened under Playwright's loop


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_follow_a_link_sign_up_and_share_on_a_phone(live_server, phone, anna):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = phone
    code = referral_code_get_or_create(member=anna).code

    page.goto(f"{live_server.url}/r/{code}")
    page.wait_for_url(f"{live_server.url}/accounts/signup/?ref={code}")
    assert page.get_by_test_id("invited").is_visible()
    assert page.get_by_label("A friend's referral code").input_value() == code
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["loyalty_ref"]["httpOnly"] and cookies["loyalty_ref"]["sameSite"] == "Lax"
    assert fits_the_screen(page)
    page.screenshot(path=str(SCREENSHOTS / "referral-signup.png"), full_page=True)

    page.get_by_label("First name").fill("Ben")
    page.get_by_label("Last name").fill("Lee")
    page.get_by_label("Email").fill("ben@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url(f"{live_server.url}/me/")
    assert page.get_by_test_id("available").inner_text() == "100"  # the friend's welcome reward
    referral = Referral.objects.get()
    assert referral.referrer == anna and referral.friend.first_name == "Ben" and referral.channel == "link"

    page.get_by_role("navigation", name="Your membership").get_by_role("link", name="Invite").click()
    page.wait_for_url(f"{live_server.url}/me/referrals/")
    link = page.get_by_test_id("referral-link").inner_text()
    ben_code = page.get_by_test_id("referral-code").inner_text()
    assert link == f"{live_server.url}/r/{ben_code}" and ben_code.startswith("BEN")
    assert page.get_by_test_id("qr").locator("svg").is_visible()
    assert (
        page.get_by_test_id("share-links")
        .get_by_role("link", name="WhatsApp")
        .get_attribute("href")
        .startswith("https://wa.me/?text=")
    )
    copy = page.get_by_role("button", name="Copy your link")
    assert copy.is_visible()  # shown by its script: the browser can copy
    copy.click()
    page.get_by_text("The link is copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == link
    assert fits_the_screen(page)
    page.screenshot(path=str(SCREENSHOTS / "referral-page.png"), full_page=True)

    # The referrer signs in and finds Ben among their referrals (masked), with the click counted.
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{live_server.url}/accounts/login/?next=/me/referrals/")
    page.get_by_label("Email").fill("anna@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/me/referrals/")
    friends = page.get_by_test_id("friends")
    assert "Ben L." in friends.inner_text() and "Joined" in friends.inner_text()
    assert page.get_by_test_id("clicks").inner_text() == "1"
    page.set_viewport_size({"width": 320, "height": 640})
    assert fits_the_screen(page)
    page.screenshot(path=str(SCREENSHOTS / "referral-page-referrer.png"), full_page=True)
