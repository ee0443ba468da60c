"""Shared fixtures for dashboard browser tests: real headless Chromium (Debian's chromium and chromium-driver,
driven by selenium) against the real create_app() served by werkzeug on 127.0.0.1 port 0 in a thread.

    def test_something(browser, live_dashboard):
        live_dashboard.login(browser, "admin")
        browser.get(live_dashboard.url + "/schools")

The fixtures are imported by tests/server/conftest.py, so every test in tests/server can ask for them.
`browser` is skipped when Chromium or its driver is missing, unless the environment variable CI is set (then
it fails). Screenshots: `live_dashboard.screenshot(browser, "schools")` writes
docs/screenshots/dashboard_schools.png at 1366x768, only when asked: with the environment variable
WRITE_SCREENSHOTS=1 (`WRITE_SCREENSHOTS=1 python3 dev.py test tests/server/test_dashboard_browser.py`); a
plain run leaves docs/screenshots alone.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from sync_server.services.schools import add_school
from sync_server.services.users import add_user
from sync_server.state import get_state
from tests.server.conftest import MovableClock, serve

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
WIDTH, HEIGHT = 1366, 768
PASSWORD = "测试密码-correct-horse"
WAIT_SECONDS = 10
WRITE_SCREENSHOTS = "WRITE_SCREENSHOTS"  # the environment variable that asks for docs/screenshots


def screenshots_wanted() -> bool:
    return os.environ.get(WRITE_SCREENSHOTS, "").strip().lower() not in ("", "0", "no", "false")


# Staff made in every live dashboard: (username, role, ethics permission).
STAFF = (
    ("admin", "admin", True),
    ("reviewer", "reviewer", False),
    ("viewer", "viewer", False),
    ("ethics", "reviewer", True),
)


def _require_chromium() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if not missing:
        return
    message = f"headless Chromium needs {', '.join(missing)} (apt install chromium chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def _chromium() -> Iterator[Any]:
    _require_chromium()
    driver = chromium_driver()
    try:
        yield driver
    finally:
        driver.quit()


def chromium_driver() -> Any:
    """A headless Chromium at 1366x768 in Chinese (also for scripts/screenshot_usb_page.py)."""
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not look for drivers online
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WIDTH},{HEIGHT}",
        "--lang=zh-CN",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--disable-extensions",
        "--no-first-run",
        "--password-store=basic",
    ):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    # Chromium on Linux takes its UI language (file pickers, validation bubbles) from the environment.
    env = {**os.environ, "LANGUAGE": "zh_CN:zh", "LC_ALL": "C.UTF-8"}
    service = Service(executable_path=CHROMEDRIVER, env=env)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture
def browser(_chromium: Any) -> Iterator[Any]:
    """A headless Chromium (selenium WebDriver) with no cookies, sized 1366x768."""
    _chromium.delete_all_cookies()
    _chromium.set_window_size(WIDTH, HEIGHT + 200)
    # The page itself (not the window with its frame) is 1366x768, as on the bureau's laptops.
    _chromium.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    yield _chromium
    _chromium.delete_all_cookies()


@dataclass
class LiveDashboard:
    app: Flask
    url: str
    clock: MovableClock
    instance: Path
    passwords: dict[str, str] = field(default_factory=dict)

    def session(self) -> Any:
        return get_state(self.app).db.Session()

    def add_user(self, username: str, role: str, *, ethics: bool = False) -> str:
        """A staff account; returns its password."""
        with get_state(self.app).db.Session.begin() as s:
            add_user(
                s,
                username=username,
                password=PASSWORD,
                role=role,
                can_view_sensitive=ethics,
                now=self.clock(),
            )
        self.passwords[username] = PASSWORD
        return PASSWORD

    def new_school(self, code: str | None = None, name: str = "城关镇中心小学") -> tuple[str, str]:
        """(school code, enrollment code), made directly in the database."""
        code = code or "S" + uuid.uuid4().hex[:6].upper()
        with get_state(self.app).db.Session.begin() as s:
            made = add_school(s, code=code, name=name, now=self.clock())
        return code, made.enrollment_code

    def enroll(self, enrollment_code: str, name: str = "教务处电脑", version: str = "0.1.0") -> str:
        """Enroll a device through the API; returns its id."""
        r = requests.post(
            self.url + "/api/v1/enroll",
            json={"enrollment_code": enrollment_code, "device_name": name, "app_version": version},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["device_id"])

    def login(self, driver: Any, username: str, password: str | None = None) -> None:
        """Log in through the login page and wait for the dashboard."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(self.url + "/login")
        driver.find_element(By.ID, "username").send_keys(username)
        driver.find_element(By.ID, "password").send_keys(password or self.passwords[username])
        driver.find_element(By.ID, "login-submit").click()
        WebDriverWait(driver, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "logout")))

    def screenshot(self, driver: Any, name: str) -> Path | None:
        """docs/screenshots/dashboard_<name>.png of the current page, when WRITE_SCREENSHOTS asks for it
        (else nothing is written, and None is returned)."""
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise ValueError(name)
        if not screenshots_wanted():
            return None
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"dashboard_{name}.png"
        driver.save_screenshot(str(path))
        return path


@pytest.fixture
def live_dashboard(tmp_path: Path, sqlite_template: Path) -> Iterator[LiveDashboard]:
    """The real app on a fresh SQLite copy, served on 127.0.0.1 port 0, with the STAFF accounts."""
    path = tmp_path / "dashboard.db"
    shutil.copyfile(sqlite_template, path)
    clock = MovableClock()
    instance = tmp_path / "instance-dashboard"
    app = _make_app(f"sqlite:///{path}", instance, clock)
    server, thread = serve(app)
    live = LiveDashboard(app, f"http://127.0.0.1:{server.server_port}", clock, instance)
    for username, role, ethics in STAFF:
        live.add_user(username, role, ethics=ethics)
    try:
        yield live
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        get_state(app).db.close()


def _make_app(url: str, instance: Path, clock: MovableClock) -> Flask:
    from sync_server.app import create_app

    return create_app(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": url,
            "SECRET_KEY": "browser-tests-" + uuid.uuid4().hex,
            "CLOCK": clock,
            "LOGIN_FAILURE_DELAY": 0,
        }
    )
