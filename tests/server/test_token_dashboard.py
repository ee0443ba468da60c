"""学校与设备 and device credentials (issue 12 points 3 and 5): a device unseen for `device_unseen_days`
(config.toml, default 30) is flagged; a computer enrolled again shows as such; a freshly issued enrollment
code never rides in the admin's session cookie (signed, not encrypted) and is shown once."""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from sync_server import models as M
from sync_server.app import create_app
from sync_server.services.schools import enroll
from sync_server.state import get_state
from tests.server.conftest import MovableClock
from tests.server.test_dashboard_admin import CODE_RE, Admin
from tests.server.test_dashboard_security import add_staff

COOKIE = "school_sync_session"


def make_admin(tmp_path: Path, sqlite_template: Path, **config: Any) -> Admin:
    path = tmp_path / "tokens.db"
    shutil.copyfile(sqlite_template, path)
    clock = MovableClock()
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{path}",
            "SECRET_KEY": "token-dashboard-tests",
            "CLOCK": clock,
            "LOGIN_FAILURE_DELAY": 0,
            **config,
        }
    )
    with get_state(app).db.Session.begin() as s:
        add_staff(s, "boss", "admin", True, clock().replace(tzinfo=None))
    return Admin(app, clock)


@pytest.fixture
def admin(tmp_path: Path, sqlite_template: Path) -> Iterator[Admin]:
    made = make_admin(tmp_path, sqlite_template)
    yield made
    get_state(made.app).db.close()


def seen(admin: Admin, device_id: str, *, days_ago: float) -> None:
    with admin.db().Session.begin() as s:
        device = s.get_one(M.Device, device_id)
        device.last_seen_at = (admin.clock() - dt.timedelta(days=days_ago)).replace(tzinfo=None)


def device_row_html(page: str, device_id: str) -> str:
    start = page.index(f'data-device-id="{device_id}"')
    return page[start : page.index("</tr>", start)]


# -- unseen devices -----------------------------------------------------------------------------------


def test_a_device_unseen_for_30_days_is_flagged(admin: Admin):
    c = admin.client()
    code = admin.add_school(c, "S501", "城关镇中心小学")
    gone = admin.enroll(code, "教务处电脑")
    recent = admin.enroll(admin.add_school(c, "S502", "河西小学"), "校长室电脑")
    seen(admin, gone, days_ago=31)
    seen(admin, recent, days_ago=10)

    page = c.get("/schools").get_data(as_text=True)

    flagged = device_row_html(page, gone)
    assert "device-unseen" in flagged and "30 天以上未连接" in flagged
    assert "device-unseen" not in device_row_html(page, recent)
    assert 'id="unseen-devices"' in page and "1 台电脑已超过 30 天未连接服务器" in page


def test_a_revoked_or_replaced_device_is_not_flagged_as_unseen(admin: Admin):
    c = admin.client()
    device = admin.enroll(admin.add_school(c, "S503", "东关小学"))
    seen(admin, device, days_ago=90)
    with admin.db().Session.begin() as s:
        s.get_one(M.Device, device).revoked_at = admin.clock().replace(tzinfo=None)
    page = c.get("/schools").get_data(as_text=True)
    assert "device-unseen" not in page and 'id="unseen-devices"' not in page


def test_a_computer_enrolled_again_shows_its_earlier_device_as_replaced(admin: Admin):
    c = admin.client()
    first_code = admin.add_school(c, "S504", "南关小学")
    secret = str(admin.app.config["SECRET_KEY"])
    with admin.db().Session.begin() as s:
        first = enroll(
            s,
            enrollment_code=first_code,
            device_name="教务处电脑",
            app_version="1",
            now=admin.clock(),
            secret=secret,
        )
    r = admin.post(c, "/schools/S504/enrollment-code")
    m = CODE_RE.search(c.get(r.headers["Location"]).get_data(as_text=True))
    assert m
    with admin.db().Session.begin() as s:
        enroll(
            s,
            enrollment_code=m.group(1),
            device_name="教务处电脑",
            app_version="1",
            now=admin.clock(),
            secret=secret,
            replaces_token=first.token,
        )
    row = device_row_html(c.get("/schools").get_data(as_text=True), first.device_id)
    assert "已重新登记" in row and "撤销</a>" not in row


def test_the_unseen_time_comes_from_config_toml(tmp_path: Path, sqlite_template: Path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.toml").write_text("device_unseen_days = 7\n", encoding="utf-8")
    admin = make_admin(tmp_path, sqlite_template)
    try:
        assert admin.app.config["DEVICE_UNSEEN_DAYS"] == 7
        c = admin.client()
        device = admin.enroll(admin.add_school(c, "S505", "北关小学"))
        seen(admin, device, days_ago=8)
        row = device_row_html(c.get("/schools").get_data(as_text=True), device)
        assert "7 天以上未连接" in row
    finally:
        get_state(admin.app).db.close()


def test_a_bad_unseen_setting_falls_back_to_30_days_without_a_500(admin: Admin):
    admin.app.config["DEVICE_UNSEEN_DAYS"] = "soon"
    c = admin.client()
    device = admin.enroll(admin.add_school(c, "S506", "西关小学"))
    seen(admin, device, days_ago=40)
    r = c.get("/schools")
    assert r.status_code == 200
    assert "30 天以上未连接" in device_row_html(r.get_data(as_text=True), device)


# -- the enrollment code and the session cookie ---------------------------------------------------------


def cookie_payload(c: FlaskClient) -> str:
    """What anyone holding the cookie reads without the key: itsdangerous's payload, base64 (zlib)."""
    cookie = c.get_cookie(COOKIE)
    assert cookie is not None
    value = cookie.value
    compressed = value.startswith(".")
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode("utf-8")


def test_a_fresh_enrollment_code_is_not_in_the_session_cookie(admin: Admin):
    c = admin.client()
    r = admin.post(c, "/schools", code="S601", name="城关镇第一小学")
    assert r.status_code == 302

    signed = admin.app.session_interface.get_signing_serializer(admin.app)  # type: ignore[attr-defined]
    cookie = c.get_cookie(COOKIE)
    assert cookie is not None
    session = signed.loads(cookie.value)  # itsdangerous, with the key
    readable = cookie_payload(c)  # without it
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    m = CODE_RE.search(page)
    assert m, page
    code = m.group(1)
    for form in (code, code.replace("-", "")):
        assert form not in json.dumps(session, ensure_ascii=False)
        assert form not in readable
    assert session["slip"]["school"] == "S601" and session["slip"]["slip"]
    assert admin.enroll(code)


def test_the_code_is_shown_once(admin: Admin):
    c = admin.client()
    admin.add_school(c, "S602", "河西小学")  # the slip page shows it
    again = c.get("/schools/S602/slip").get_data(as_text=True)
    assert CODE_RE.search(again) is None
    assert "登记码只在发放时显示一次" in again


def test_a_copied_cookie_does_not_show_the_code_twice(admin: Admin):
    """The one-time store is on the server: replaying the cookie from before the slip was shown finds
    nothing (what a cookie thief would try)."""
    c = admin.client()
    r = admin.post(c, "/schools", code="S603", name="东关小学")
    cookie = c.get_cookie(COOKIE)
    assert cookie is not None
    thief = admin.app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    assert CODE_RE.search(c.get(r.headers["Location"]).get_data(as_text=True))
    assert CODE_RE.search(thief.get(r.headers["Location"]).get_data(as_text=True)) is None


def test_browser_shows_the_unseen_and_the_replaced_devices(browser: Any, live_dashboard: Any):
    """学校与设备 in headless Chromium: one PC unseen for 40 days, one enrolled again, one syncing; a
    screenshot (docs/screenshots/dashboard_schools_devices.png with WRITE_SCREENSHOTS=1)."""
    from selenium.webdriver.common.by import By

    live = live_dashboard
    school, code = live.new_school("S701", "城关镇第一小学")
    first = requests_enroll(live.url, code, "教务处电脑")
    _, again = live.new_school(school, "城关镇第一小学")
    requests_enroll(live.url, again, "教务处电脑", replaces=first["token"])
    _, other = live.new_school("S702", "河西镇中心小学")
    gone = requests_enroll(live.url, other, "校长室电脑")
    with live.session() as s, s.begin():
        s.get_one(M.Device, gone["device_id"]).last_seen_at = (
            live.clock() - dt.timedelta(days=40)
        ).replace(tzinfo=None)

    live.login(browser, "admin")
    browser.get(live.url + "/schools")

    banner = browser.find_element(By.ID, "unseen-devices")
    assert "1 台电脑已超过 30 天未连接服务器" in banner.text
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-device-id="{gone["device_id"]}"]')
    assert "30 天以上未连接" in row.text
    replaced = browser.find_element(By.CSS_SELECTOR, f'tr[data-device-id="{first["device_id"]}"]')
    assert "已重新登记" in replaced.text
    live.screenshot(browser, "schools_devices")


def requests_enroll(url: str, code: str, name: str, *, replaces: str | None = None) -> Any:
    import requests

    body = {"enrollment_code": code, "device_name": name, "app_version": "0.9.0"}
    if replaces:
        body["replaces_token"] = replaces
    r = requests.post(url + "/api/v1/enroll", json=body, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()
