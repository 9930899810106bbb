"""The insights page in Debian's Chromium on a phone: every chart is drawn by static/js/insights.js with the
vendored Chart.js, no script error, nothing sticks out sideways (skipped without Chromium or Playwright)."""

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import pytest
from django.db import connections

from insights.services.rollups import rollups_refresh
from insights.services.scores import member_scores_refresh
from insights.tests.conftest import at, clock, order, today
from members.models import User

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
CHARTS = [
    "chart-members",
    "chart-points",
    "chart-redemption",
    "chart-outstanding",
    "chart-revenue",
    "chart-referrals",
    "chart-tiers",
    "chart-tier-moves",
    "chart-campaigns",
    "chart-segments",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"),
]


def test_the_dashboard_draws_its_charts_on_a_phone(live_server, shop, make_member, monkeypatch):
    with clock(at(today() - dt.timedelta(days=1))):
        ana = make_member()
        order(shop, total="80.00", placed_at=at(today() - dt.timedelta(days=1)), member=ana)
        order(shop, total="20.00", placed_at=at(today() - dt.timedelta(days=1)), email="guest@example.com")
    rollups_refresh(since=today() - dt.timedelta(days=60))
    member_scores_refresh()
    User.objects.create_superuser("boss@example.com", "a-long-and-unusual-passphrase")

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # as members/tests/test_browser.py explains
    errors = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            page.goto(f"{live_server.url}/admin/login/?next=/admin/insights/insightsdashboard/")
            page.fill("#id_username", "boss@example.com")
            page.fill("#id_password", "a-long-and-unusual-passphrase")
            page.click("input[type=submit]")
            page.wait_for_url("**/admin/insights/insightsdashboard/")
            page.wait_for_function("window.Chart && Chart.getChart('chart-segments')")
            drawn = page.evaluate(f"{CHARTS}.filter(id => Chart.getChart(id)).length")
            wide = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            shots = Path(tempfile.gettempdir()) / "loyalty-browser"
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "insights.png"), full_page=True)
        finally:
            context.close()
            browser.close()
            connections.close_all()
    assert errors == []
    assert drawn == len(CHARTS)
    assert wide
