"""PIN reset through the bureau (issue 12 point 2, protocol revision 1.11): the enroll and pull answers carry
the device's reset key; 重置PIN码 on 学校与设备 gives admins a one-day code the client accepts, audited."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

from sqlalchemy import select

from client.store import pin as client_pin
from sync_server import models as M
from sync_server.services import pin_reset
from tests.server.browser import LiveDashboard
from tests.server.conftest import LiveServer
from tests.server.test_dashboard_admin import Admin, admin  # noqa: F401 (the fixture)

CODE_RE = re.compile(r'id="pin-reset-code"[^>]*>(\d{5}-\d{5})<')


def _key(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def test_enroll_and_pull_answers_carry_the_devices_reset_key(live: LiveServer) -> None:
    school, code = live.new_school()
    r = live.enroll(code)
    assert r.status_code == 201, r.text
    body = r.json()
    secret = str(live.app.config["SECRET_KEY"])
    expected = pin_reset.encoded_reset_key(secret, body["device_id"])
    assert body["pin_reset_key"] == expected
    assert len(_key(expected)) == 32
    device = live.device(school)
    page = device.pull()
    assert page["pin_reset_key"] == pin_reset.encoded_reset_key(secret, device.device_id)
    assert page["pin_reset_key"] != expected  # one key per device


def test_client_and_server_compute_the_same_codes() -> None:
    key = pin_reset.device_reset_key("s3cret", "dev-1")
    for n in (1, 2, 20):
        day = dt.date(2026, 11, 28)
        assert pin_reset.reset_code(key, day, n) == client_pin.reset_code(key, day, n)
    assert pin_reset.beijing_day(dt.datetime(2026, 11, 28, 17, 0)) == dt.date(2026, 11, 29)
    assert client_pin.beijing_date(dt.datetime(2026, 11, 28, 17, 0)) == dt.date(2026, 11, 29)


def _device_row(page: str, device: str) -> str:
    return page[page.index(f'data-device-id="{device}"') :][:2500]


def test_admin_gets_a_reset_code_for_a_device_and_it_is_audited(admin: Admin) -> None:  # noqa: F811
    c = admin.client()
    code = admin.add_school(c, "S201", "南关小学")
    device = admin.enroll(code, "教务处电脑")
    row = _device_row(c.get("/schools").get_data(as_text=True), device)
    assert "重置PIN码" in row
    r = admin.post(c, f"/devices/{device}/pin-reset")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    text = r.get_data(as_text=True)
    m = CODE_RE.search(text)
    assert m, text
    secret = str(admin.app.config["SECRET_KEY"])
    key = pin_reset.device_reset_key(secret, device)
    day = pin_reset.beijing_day(admin.clock())
    assert m.group(1).replace("-", "") == client_pin.reset_code(key, day, 1)
    assert "南关小学" in text and "教务处电脑" in text
    again = CODE_RE.search(admin.post(c, f"/devices/{device}/pin-reset").get_data(as_text=True))
    assert again and again.group(1).replace("-", "") == client_pin.reset_code(key, day, 2)
    with admin.db().ReadSession() as s:
        entries = (
            s.execute(select(M.AuditEntry).where(M.AuditEntry.action == pin_reset.ACTION))
            .scalars()
            .all()
        )
    assert [(e.actor, e.object_id, e.details["n"]) for e in entries] == [
        ("boss", device, 1),
        ("boss", device, 2),
    ]
    assert all("code" not in e.details for e in entries)  # the code itself is never kept
    audit_page = c.get("/audit").get_data(as_text=True)
    assert "生成PIN码重置码" in audit_page and "教务处电脑" in audit_page
    assert m.group(1) not in audit_page


def test_only_admins_reset_and_never_for_a_revoked_or_unknown_device(admin: Admin) -> None:  # noqa: F811
    c = admin.client()
    code = admin.add_school(c, "S202", "北关小学")
    device = admin.enroll(code)
    viewer = admin.client("viewer")
    assert "重置PIN码" not in viewer.get("/schools").get_data(as_text=True)
    r: Any = admin.post(viewer, f"/devices/{device}/pin-reset")
    assert r.status_code == 403
    assert admin.post(c, "/devices/no-such-device/pin-reset").status_code == 404
    admin.post(c, f"/devices/{device}/revoke", confirm="yes")
    r = admin.post(c, f"/devices/{device}/pin-reset")
    assert r.status_code == 302
    assert "已撤销，不能重置PIN码" in c.get("/schools").get_data(as_text=True)


def test_browser_admin_reads_a_reset_code(browser: Any, live_dashboard: LiveDashboard) -> None:
    """In Chromium: 重置PIN码 on the device's row asks first, then shows the code (screenshot
    docs/screenshots/dashboard_pin_reset.png with WRITE_SCREENSHOTS=1)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    live = live_dashboard
    _school, code = live.new_school("S401", "城关镇第二小学")
    device = live.enroll(code, "教务处电脑", "0.4.0")
    live.login(browser, "admin")
    browser.get(live.url + "/schools")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-device-id="{device}"]')
    row.find_element(By.XPATH, ".//button[text()='重置PIN码']").click()
    wait = WebDriverWait(browser, 10)
    alert = wait.until(EC.alert_is_present())
    assert "核实对方身份" in alert.text
    alert.accept()
    shown = wait.until(EC.presence_of_element_located((By.ID, "pin-reset-code"))).text
    secret = str(live.app.config["SECRET_KEY"])
    day = pin_reset.beijing_day(live.clock())
    expected = client_pin.reset_code(pin_reset.device_reset_key(secret, device), day, 1)
    assert shown.replace("-", "") == expected
    live.screenshot(browser, "pin_reset")
