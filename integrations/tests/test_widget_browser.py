"""The widget in a real browser, on the demo shop (/demo/shop/): a guest, a member redeeming and copying a code,
the keyboard, a phone, a forged token, and a page on an unlisted origin that CORS keeps out.

Drives Debian's Chromium through Playwright's sync API against the live test server, as
members/tests/test_browser.py does. Skipped when Playwright or Chromium is missing. The demo shop's URLs
exist in local mode only, so these tests use a URL map with them (demo/tests/urls.py).
"""

import shutil
import tempfile
import time
from pathlib import Path

import jwt
import pytest
from django.db import connections

from integrations.models import Shop
from integrations.services.members import member_upsert
from integrations.services.shops import shop_create
from rewards.models import PointLot, Redemption, Reward
from rewards.selectors import program_get
from rewards.services.ledger import Actor, points_earn

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(tempfile.gettempdir()) / "loyalty-browser"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture
def demo(live_server, settings):
    """The demo shop's page served by the live server, a program, a reward and Ada with 800 points."""
    settings.ROOT_URLCONF = "demo.tests.urls"
    program = program_get()
    program.name = "Corner Rewards"
    program.save()
    shop = shop_create(name="Demo Webshop", currency="EUR", time_zone="Europe/Amsterdam")
    Reward.objects.create(title="5 euro off", kind=Reward.Kind.FIXED_AMOUNT, points=500, value="5.00")
    Reward.objects.create(title="Weekend away", kind=Reward.Kind.PERK, points=90000)
    ada, _ = member_upsert(shop=shop, external_id="demo-customer-1", email="ada@example.com", first_name="Ada")
    points_earn(
        account=ada.points_account,
        points=800,
        source=PointLot.Source.BONUS,
        actor=Actor.system(),
        idempotency_key="browser-ada",
        reason="Welcome gift",
    )
    return shop


def _launch(playwright, **context_kwargs):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = browser.new_context(**context_kwargs)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return browser, context, page


@pytest.fixture
def browser_page(demo, monkeypatch):
    # See members/tests/test_browser.py: Playwright's loop runs in this thread; the ORM is safe to use here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser, context, page = _launch(playwright, viewport={"width": 1280, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        try:
            yield page
        finally:
            context.close()
            browser.close()
            connections.close_all()


def widget(page):
    """The widget's shadow root content (Playwright's CSS locators pierce open shadow roots)."""
    return page.locator("[data-loyalty-widget]")


def open_shop(page, live_server, *, as_customer: str = ""):
    page.goto(f"{live_server.url}/demo/shop/")
    if as_customer:
        page.get_by_label("Logged in as").select_option(as_customer)
        page.get_by_role("button", name="Switch").click()
        page.wait_for_load_state()
    launcher = widget(page).locator("button.launcher")
    launcher.wait_for()
    return launcher


def test_a_guest_sees_the_offer_and_links_to_join(browser_page, live_server):
    page = browser_page
    launcher = open_shop(page, live_server)
    launcher.click()
    dialog = widget(page).get_by_role("dialog")
    dialog.get_by_role("heading", name="Corner Rewards").wait_for()  # the config has arrived
    assert dialog.is_visible()
    assert "5 euro off" in dialog.inner_text()
    assert dialog.get_by_role("link", name="Join now").get_attribute("href").endswith("/accounts/signup/")
    assert launcher.get_attribute("aria-expanded") == "true"


def test_a_member_redeems_and_copies_the_code(browser_page, live_server):
    page = browser_page
    launcher = open_shop(page, live_server, as_customer="demo-customer-1")
    launcher.click()
    dialog = widget(page).get_by_role("dialog")
    available = dialog.locator("[data-lw=available]")
    available.wait_for()
    assert available.inner_text() == "800"
    assert "Welcome gift" in dialog.inner_text()
    perk = dialog.locator("[data-lw=reward]").filter(has_text="Weekend away")
    assert perk.get_by_role("button").is_disabled()  # 90,000 points: too many
    assert "more points" in perk.inner_text()

    dialog.get_by_role("button", name="Redeem: 5 euro off").click()
    assert "Redeem 5 euro off for 500 points?" in dialog.inner_text()
    dialog.get_by_role("button", name="Yes, redeem").click()
    code = dialog.locator("[data-lw=code]")
    code.wait_for()
    redemption = Redemption.objects.get()
    assert code.inner_text() == redemption.coupon.code
    assert redemption.channel == "widget"

    dialog.get_by_role("button", name="Copy").click()
    dialog.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == redemption.coupon.code

    dialog.get_by_role("button", name="Close", exact=True).last.click()
    assert dialog.locator("[data-lw=available]").inner_text() == "300"


def test_the_widget_is_keyboard_operable(browser_page, live_server):
    page = browser_page
    launcher = open_shop(page, live_server, as_customer="demo-customer-1")
    widget(page).locator("[data-lw=available]").wait_for(state="attached")
    launcher.focus()
    page.keyboard.press("Enter")
    dialog = widget(page).get_by_role("dialog")
    assert dialog.is_visible()
    inside = "el => el.shadowRoot.activeElement && el.shadowRoot.activeElement.closest('[role=dialog]') !== null"
    assert widget(page).evaluate(inside)  # focus moved into the panel
    for _ in range(25):  # more presses than the panel has stops: focus wraps, never leaves
        page.keyboard.press("Tab")
        assert widget(page).evaluate(inside)
    for _ in range(5):
        page.keyboard.press("Shift+Tab")
        assert widget(page).evaluate(inside)
    page.keyboard.press("Escape")
    assert dialog.is_hidden()
    assert widget(page).evaluate("el => el.shadowRoot.activeElement.classList.contains('launcher')")
    assert launcher.get_attribute("aria-expanded") == "false"


def test_on_a_phone_the_panel_takes_the_full_width(demo, live_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser, context, page = _launch(
            playwright, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
        )
        try:
            launcher = open_shop(page, live_server, as_customer="demo-customer-1")
            launcher.click()
            dialog = widget(page).get_by_role("dialog")
            dialog.locator("[data-lw=available]").wait_for()
            box = dialog.bounding_box()
            assert box["x"] == 0 and box["width"] == PHONE["width"]
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "widget-phone.png"))
        finally:
            context.close()
            browser.close()
            connections.close_all()


def test_a_forged_token_shows_the_guest_view_with_a_notice(browser_page, live_server, demo):
    page = browser_page
    launcher = open_shop(page, live_server)
    now = int(time.time())
    forged = jwt.encode(
        {"iss": demo.widget_key, "sub": "demo-customer-1", "iat": now, "exp": now + 600},
        "wsk_a-secret-that-is-not-the-shops-at-all-00000",
        algorithm="HS256",
    )
    page.evaluate("token => window.LoyaltyWidget.setToken(token)", forged)
    launcher.click()
    dialog = widget(page).get_by_role("dialog")
    notice = dialog.locator("[data-lw=notice]")
    notice.wait_for()
    assert "session has expired" in notice.inner_text()
    assert dialog.locator("[data-lw=available]").count() == 0  # no member data
    assert dialog.get_by_role("link", name="Join now").is_visible()


def test_a_page_on_an_unlisted_origin_is_kept_out_by_cors(browser_page, live_server, demo):
    page = browser_page
    # The same server under its other name (localhost / 127.0.0.1) is another origin, not in the list.
    if "localhost" in live_server.url:
        other = live_server.url.replace("localhost", "127.0.0.1")
    else:
        other = live_server.url.replace("127.0.0.1", "localhost")
    assert other != live_server.url
    Shop.objects.filter(pk=demo.pk).update(widget_enabled=True, allowed_origins=[live_server.url])
    page.goto(f"{other}/static/widget/loyalty.js")  # any page of the other origin to fetch from
    outcome = page.evaluate(
        """url => fetch(url).then(r => 'read ' + r.status, e => 'refused: ' + e.name)""",
        f"{live_server.url}/api/v1/widget/{demo.widget_key}/config",
    )
    assert outcome == "refused: TypeError"
    page.goto(f"{live_server.url}/static/widget/loyalty.js")  # the allowed origin reads it
    allowed = page.evaluate(
        "url => fetch(url).then(r => 'read ' + r.status, e => 'refused')",
        f"{live_server.url}/api/v1/widget/{demo.widget_key}/config",
    )
    assert allowed == "read 200"
