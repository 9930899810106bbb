"""A member on a phone, in a real browser: sign in, redeem a reward through its confirmation, see the code,
copy it, and find the rewards, coupons, tier and how-to-earn pages without sideways scrolling.

Drives Debian's Chromium (`apt-get install chromium`) through Playwright's sync API against the live test
server, as members/tests/test_browser.py does. Skipped when Playwright or Chromium is missing. Screenshots at
phone size go to the temporary directory (loyalty-browser/) for a person to look at.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
from django.db import connections

from members.tests.factories import member_create
from rewards.models import Redemption, Reward, Tier
from rewards.services.redemptions import reward_redeem
from rewards.tests.helpers import earn, set_program
from rewards.tests.test_catalogue import reward_make

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
def shop_floor(live_server):
    """A program with tiers and a few rewards, and a member with 500 points, made before the browser starts."""
    set_program(name="Corner Bakery")
    Tier.objects.create(name="Crumb", rank=0, colour="#8A6D3B", icon="\U0001f950")
    Tier.objects.create(name="Loaf", rank=1, entry_threshold=1000, colour="#B5651D", free_shipping=True)
    reward_make(title="Five euros off", points=300, coupon_valid_days=30, description="On any order over the counter.")
    reward_make("pay_with_points", title="Pay with points", min_points=100, max_points=2000)
    reward_make(title="A whole cake for the table on your birthday (serves twelve)", points=2500)
    member = member_create(email="ada@example.com", password=PASSWORD, first_name="Ada")
    earn(member.points_account, 500)
    return member


@pytest.fixture
def phone(shop_floor, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; nothing here is async (see test_browser.py).
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


def test_redeem_a_reward_on_a_phone_and_copy_its_code(live_server, phone, shop_floor):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = phone

    page.goto(f"{live_server.url}/accounts/login/?next=/me/rewards/")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/me/rewards/")

    assert page.get_by_test_id("available").inner_text() == "500"
    now = page.get_by_test_id("rewards-now")
    assert "Five euros off" in now.inner_text()
    later = page.get_by_test_id("rewards-later")
    assert "You need 2,000 more points" in later.inner_text()
    assert fits_the_screen(page)
    page.screenshot(path=str(SCREENSHOTS / "rewards.png"), full_page=True)

    # Pay with points: the worth and the balance after follow what the member types.
    page.get_by_role("link", name="Redeem Pay with points").click()
    page.wait_for_url("**/redeem/")
    page.get_by_label("Points to pay with").fill("250")
    assert page.get_by_test_id("worth").inner_text() == "EUR 2.50"
    assert page.get_by_test_id("balance-after").inner_text() == "250"
    assert fits_the_screen(page)
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(f"{live_server.url}/me/rewards/")

    page.get_by_role("link", name="Redeem Five euros off").click()
    page.wait_for_url("**/redeem/")
    assert page.get_by_test_id("balance-after").inner_text() == "200"
    assert fits_the_screen(page)
    page.screenshot(path=str(SCREENSHOTS / "confirm.png"), full_page=True)
    # A double submit: the same form (its CSRF token and key) sent once behind the page's back, then for real.
    form = page.get_by_test_id("confirm-form")
    fields = {
        name: form.locator(f"input[name={name}]").get_attribute("value") for name in ("csrfmiddlewaretoken", "key")
    }
    sent = page.request.post(page.url, form=fields, headers={"Referer": page.url}, max_redirects=0)
    assert sent.status == 302
    page.get_by_test_id("redeem").click()

    page.wait_for_url("**/rewards/redeemed/**")
    assert Redemption.objects.count() == 1
    redemption = Redemption.objects.select_related("coupon").get()
    assert page.url.endswith(sent.headers["location"])
    code = page.get_by_test_id("coupon-code")
    assert code.inner_text() == redemption.coupon.code
    assert "You have 200 left." in page.locator("main").inner_text()
    copy = page.get_by_role("button", name="Copy")
    assert copy.is_visible()  # shown by its script: the browser can copy
    copy.click()
    page.get_by_text("The code is copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == redemption.coupon.code
    assert fits_the_screen(page)
    page.screenshot(path=str(SCREENSHOTS / "redeemed.png"), full_page=True)

    page.get_by_role("navigation", name="Your membership").get_by_role("link", name="Coupons").click()
    page.wait_for_url(f"{live_server.url}/me/coupons/")
    assert redemption.coupon.code in page.get_by_test_id("coupon-code").first.inner_text()
    assert fits_the_screen(page)
    page.screenshot(path=str(SCREENSHOTS / "coupons.png"), full_page=True)

    page.goto(f"{live_server.url}/me/tier/")
    bar = page.get_by_role("progressbar")
    assert bar.get_attribute("aria-valuenow") == "50"  # 500 of the 1,000 points Loaf asks
    assert "Crumb" in page.get_by_test_id("tier").inner_text()
    assert fits_the_screen(page)
    page.screenshot(path=str(SCREENSHOTS / "tier.png"), full_page=True)

    for path, name in (("/me/earn/", "earn"), ("/me/", "dashboard")):
        page.goto(f"{live_server.url}{path}")
        assert fits_the_screen(page), path
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    # The current tab is scrolled into view in the tab strip.
    page.goto(f"{live_server.url}/me/preferences/")
    current = page.get_by_role("navigation", name="Your membership").get_by_role("link", name="Preferences")
    box = current.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

    # The smallest phones in use (320px wide) too.
    page.set_viewport_size({"width": 320, "height": 640})
    for path in ("/me/rewards/", "/me/coupons/", "/me/tier/", "/me/earn/", "/me/", page.url):
        page.goto(path if path.startswith("http") else f"{live_server.url}{path}")
        assert fits_the_screen(page), path


def test_the_copy_button_stays_hidden_without_javascript_and_the_code_is_text(live_server, shop_floor, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    redemption, _ = reward_redeem(
        member=shop_floor, reward=Reward.objects.get(title="Five euros off"), idempotency_key="nojs", channel="web"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, java_script_enabled=False)
        page = context.new_page()
        try:
            page.goto(f"{live_server.url}/accounts/login/?next=/me/coupons/")
            page.get_by_label("Email").fill("ada@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_server.url}/me/coupons/")
            assert page.get_by_test_id("coupon-code").inner_text() == redemption.coupon.code
            assert not page.get_by_role("button", name="Copy").is_visible()
        finally:
            context.close()
            browser.close()
            connections.close_all()
