"""A shopper on a phone, in a real browser: sign up, land on the dashboard with the bonus, open the history.

Drives Debian's Chromium (`apt-get install chromium`) through Playwright's sync API against the live
test server. Skipped when Playwright or Chromium is missing. Screenshots of the dashboard and the history
at phone size are saved in the temporary directory (loyalty-browser/) for a person to look at.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
from django.db import connections

from members.models import Member
from rewards.selectors import program_get

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(tempfile.gettempdir()) / "loyalty-browser"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture
def bakery(live_server):
    """A program with a sign-up bonus, set up before the browser starts (and so on the test's connection)."""
    program = program_get()
    program.name = "Corner Bakery"
    program.signup_bonus = 250
    program.save()
    return program


@pytest.fixture
def phone(bakery, monkeypatch):
    # Playwright's sync API runs an event loop in this thread, and Django refuses ORM calls from a thread
    # with a running loop unless told it is safe. It is here: nothing is async. Set for this test only,
    # so that the rest of the suite keeps Django's check.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
            # With Playwright's loop running, the ORM works on connections of their own (asgiref keys them
            # by context); close them here, or PostgreSQL refuses to drop the test database at the end.
            connections.close_all()


def fits_the_screen(page) -> bool:
    """Nothing sticks out sideways: the page never scrolls horizontally on the phone."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_sign_up_on_a_phone_and_see_the_bonus_and_the_history(live_server, phone):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = phone

    page.goto(f"{live_server.url}/accounts/signup/")
    assert "Join Corner Bakery" in page.locator("h1").inner_text()
    assert fits_the_screen(page)
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill("a-long-and-unusual-passphrase")
    page.get_by_label("Password (again)").fill("a-long-and-unusual-passphrase")
    page.get_by_label("Send me offers and news by e-mail").check()
    page.get_by_role("button", name="Create my account").click()

    page.wait_for_url(f"{live_server.url}/me/")
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, Ada"
    assert page.get_by_test_id("available").inner_text() == "250"
    member = Member.objects.get(user__email="ada@example.com")
    number = page.get_by_test_id("member-number").inner_text()
    assert number.split() == [member.number[:4], member.number[4:8], member.number[8:]]
    assert page.get_by_text("Welcome bonus").is_visible()
    assert fits_the_screen(page)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    page.get_by_role("navigation", name="Your membership").get_by_role("link", name="History").click()
    page.wait_for_url(f"{live_server.url}/me/history/")
    assert page.get_by_role("link", name="History").get_attribute("aria-current") == "page"
    assert page.get_by_test_id("entry-count").inner_text() == "1 entry"
    entry = page.locator("a.entry").first
    assert "Welcome bonus" in entry.inner_text() and "+250" in entry.inner_text()
    assert fits_the_screen(page)
    page.screenshot(path=str(SCREENSHOTS / "history.png"), full_page=True)

    entry.click()
    assert page.get_by_test_id("entry-points").inner_text() == "+250 points"
    assert "Sign-up bonus" in page.get_by_test_id("lot").inner_text()
    assert fits_the_screen(page)

    # The smallest phones in use (320px wide) get the same pages without sideways scrolling.
    page.set_viewport_size({"width": 320, "height": 640})
    for path in ("/me/", "/me/history/", "/me/profile/", "/me/preferences/", "/me/close/"):
        page.goto(f"{live_server.url}{path}")
        assert fits_the_screen(page), path
