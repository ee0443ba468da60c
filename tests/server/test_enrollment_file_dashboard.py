"""写登记文件 on 学校与设备 (issue 13 item 1, protocol 1.15): admins write an enrollment file for a school, see its
code once and download the file once; the device it carries shows as 登记文件未使用 until used, and is revoked
like any device."""

from __future__ import annotations

import re
from typing import Any

import pytest

from forms import enrollment_file as EF
from tests.server.browser import LiveDashboard
from tests.server.test_dashboard_admin import Admin, admin  # noqa: F401 (the fixture)

CODE_RE = re.compile(r'id="enrollment-file-code"[^>]*>([A-Z0-9-]{14})<')


def test_admin_writes_a_file_sees_its_code_once_and_downloads_it_once(
    admin: Admin,  # noqa: F811
) -> None:
    c = admin.client()
    admin.add_school(c, "S301", "西山村小学")
    page = c.get("/schools").get_data(as_text=True)
    assert "写登记文件（U盘）" in page

    r = admin.post(c, "/schools/S301/enrollment-file")

    assert r.status_code == 302 and r.headers["Location"] == "/schools/S301/enrollment-file"
    shown = c.get(r.headers["Location"])
    assert shown.headers["Cache-Control"] == "no-store"
    m = CODE_RE.search(shown.get_data(as_text=True))
    assert m, shown.get_data(as_text=True)
    code = m.group(1)
    assert code not in c.get("/schools/S301/enrollment-file").get_data(as_text=True)  # once
    got = c.get("/schools/S301/enrollment-file/download")
    assert got.status_code == 200 and "filename*=UTF-8''S301_" in got.headers["Content-Disposition"]
    header, payload = EF.open_file(got.data, code)
    assert (header.school_code, header.school_name) == ("S301", "西山村小学")
    assert payload["server_url"] == admin.app.config["PUBLIC_URL"]
    again = c.get("/schools/S301/enrollment-file/download")
    assert again.status_code == 302  # downloaded once
    assert "只能下载一次" in c.get(again.headers["Location"]).get_data(as_text=True)

    device = payload["device_id"]
    row = re.search(
        rf'data-device-id="{device}".*?</tr>', c.get("/schools").get_data(as_text=True), re.S
    )
    assert row and "登记文件未使用" in row.group(0)
    # Only admins write files, and only for known schools.
    viewer = admin.client("viewer")
    assert "写登记文件" not in viewer.get("/schools").get_data(as_text=True)
    assert admin.post(viewer, "/schools/S301/enrollment-file").status_code == 403
    assert admin.post(c, "/schools/NOSUCH/enrollment-file").status_code == 404

    admin.post(c, f"/devices/{device}/revoke", confirm="yes")
    row = re.search(
        rf'data-device-id="{device}".*?</tr>', c.get("/schools").get_data(as_text=True), re.S
    )
    assert row and "已撤销" in row.group(0) and "登记文件未使用" not in row.group(0)


@pytest.mark.usefixtures("browser")
def test_browser_admin_writes_an_enrollment_file(
    browser: Any, live_dashboard: LiveDashboard
) -> None:
    """In Chromium: 写登记文件（U盘） asks first, then shows the code and the download (screenshots
    docs/screenshots/dashboard_enrollment_file.png and dashboard_schools_enrollment_file.png with
    WRITE_SCREENSHOTS=1)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    live = live_dashboard
    live.new_school("S501", "西山村小学")
    live.login(browser, "admin")
    browser.get(live.url + "/schools")
    row = browser.find_element(By.ID, "school-S501")
    row.find_element(By.CSS_SELECTOR, "button.enrollment-file-write").click()
    wait = WebDriverWait(browser, 10)
    alert = wait.until(EC.alert_is_present())
    assert "U盘登记文件" in alert.text
    alert.accept()
    shown = wait.until(EC.presence_of_element_located((By.ID, "enrollment-file-code"))).text
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", shown)
    assert browser.find_element(By.ID, "enrollment-file-download").is_displayed()
    live.screenshot(browser, "enrollment_file")
    browser.get(live.url + "/schools#school-S501")
    assert "登记文件未使用" in browser.find_element(By.ID, "school-S501").text
    live.screenshot(browser, "schools_enrollment_file")


def test_a_file_device_heard_from_is_not_shown_unused(admin: Admin) -> None:  # noqa: F811
    """The usb trial's D2: a file device the bureau has heard from (最近同步 shown) is never 登记文件未使用 -
    an admin could 撤销 a PC that syncs. A bound device is used; so is one heard from while its file stayed
    unbound (bundles imported by an older bureau program: installation id still empty)."""
    from sync_server.services.schools import touch_device

    c = admin.client()
    admin.add_school(c, "S302", "东山村小学")
    r = admin.post(c, "/schools/S302/enrollment-file")
    m = CODE_RE.search(c.get(r.headers["Location"]).get_data(as_text=True))
    assert m
    _, payload = EF.open_file(c.get("/schools/S302/enrollment-file/download").data, m.group(1))
    device = payload["device_id"]

    def row() -> str:
        found = re.search(
            rf'data-device-id="{device}".*?</tr>', c.get("/schools").get_data(as_text=True), re.S
        )
        assert found
        return found.group(0)

    assert "登记文件未使用" in row()
    with admin.db().Session.begin() as s:
        touch_device(s, device, now=admin.clock.now)  # what a USB import or a request does

    assert "登记文件未使用" not in row()
