"""The overview in real headless Chromium at 1366x768 (issue 11, item 5): it opens on each form's latest period
past its due date with the overdue schools across forms on top, the current period is one click away, and
screenshots are written only when asked (WRITE_SCREENSHOTS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from sync_server.state import get_state
from tests.server import browser as browser_module
from tests.server.browser import LiveDashboard
from tests.server.dashboard_seed import demo


def wait_for(driver: Any, by: str, what: str) -> Any:
    return WebDriverWait(driver, 10).until(EC.presence_of_element_located((by, what)))


def test_the_overview_shows_who_is_late_now_and_the_current_period_one_click_away(
    browser: Any, live_dashboard: LiveDashboard
):
    live = live_dashboard
    with get_state(live.app).db.Session.begin() as s:
        demo(s)
    live.login(browser, "viewer")
    browser.get(live.url + "/")
    overdue = wait_for(browser, By.ID, "overdue-list")
    # On top, without scrolling: who owes what.
    assert overdue.location["y"] < 768
    s006 = overdue.find_element(By.CSS_SELECTOR, 'tr[data-school="S006"]')
    assert "校园安全隐患排查整治记录" in s006.text and "2026年10月" in s006.text
    assert "已逾期" in s006.text
    row = browser.find_element(By.CSS_SELECTOR, '#form-rates tr[data-form="safety_inspection"]')
    picked = row.find_element(By.TAG_NAME, "select").get_attribute("value")
    assert picked == "2026-10" and "未到截止日" not in row.text
    live.screenshot(browser, "overview")

    # One click to the current month, which is not due yet.
    row.find_element(By.CLASS_NAME, "current-period").click()
    WebDriverWait(browser, 10).until(EC.url_contains("period=2026-11"))
    row = wait_for(browser, By.CSS_SELECTOR, '#form-rates tr[data-form="safety_inspection"]')
    assert row.find_element(By.TAG_NAME, "select").get_attribute("value") == "2026-11"
    assert "未到截止日" in row.text
    chase = browser.find_element(By.ID, "chase")
    assert "截止日期 2026-12-05 未到" in chase.text
    live.screenshot(browser, "overview_current")


def test_screenshots_are_written_only_when_asked(
    browser: Any,
    live_dashboard: LiveDashboard,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    shots = tmp_path / "screenshots"
    monkeypatch.setattr(browser_module, "SCREENSHOTS", shots)
    browser.get(live_dashboard.url + "/login")
    wait_for(browser, By.ID, "username")
    monkeypatch.delenv("WRITE_SCREENSHOTS", raising=False)
    assert live_dashboard.screenshot(browser, "login") is None
    monkeypatch.setenv("WRITE_SCREENSHOTS", "0")
    assert live_dashboard.screenshot(browser, "login") is None
    assert not shots.exists()
    monkeypatch.setenv("WRITE_SCREENSHOTS", "1")
    written = live_dashboard.screenshot(browser, "login")
    assert written == shots / "dashboard_login.png"
    assert written.read_bytes().startswith(b"\x89PNG")
