"""The 客户端更新 page in a real Chromium (issue 16): an admin sees each PC's version, last check, update state
and failures, and widens a pilot release to all schools with the page's button. Screenshot (when asked with
WRITE_SCREENSHOTS=1): docs/screenshots/dashboard_updates.png, 1366x768."""

from __future__ import annotations

from typing import Any

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from sync_server import models as M
from sync_server import updates as U
from sync_server.state import get_state
from tests.server.browser import LiveDashboard


def _device(live: LiveDashboard, school: str, name: str, **report: Any) -> None:
    _code, enrollment = live.new_school(school, name=report.pop("school_name"))
    r = requests.post(
        live.url + "/api/v1/enroll",
        json={"enrollment_code": enrollment, "device_name": name, "app_version": "0.1.0"},
        timeout=10,
    )
    token = r.json()["token"]
    body = {"platform": "windows", **report}
    r = requests.post(
        live.url + "/api/v1/update/check",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text


def test_an_admin_sees_each_pcs_version_and_widens_a_pilot_to_all(
    browser: Any, live_dashboard: LiveDashboard
) -> None:
    live = live_dashboard
    _device(live, "S001", "教务处电脑", school_name="城关镇中心小学", app_version="0.2.0",
            state="installed", target_version="0.2.0")  # fmt: skip
    _device(live, "S002", "校长室", school_name="河西乡小学", app_version="0.1.0",
            state="rolled_back", target_version="0.2.0", failures=1,
            error="0.2.0 failed its first start (exit code 127); 0.1.0 kept")  # fmt: skip
    _device(live, "S003", "财务室", school_name="东山镇中学", app_version="0.1.0",
            state="downloading", target_version="0.2.0")  # fmt: skip
    with get_state(live.app).db.Session.begin() as s:
        for version, stage in (("0.2.0", "pilot"), ("0.1.0", "all")):
            U.add_release(s, version=version, platform="windows",
                          target=f"windows/school-client-{version}.zip", stage=stage,
                          schools=["S001", "S002", "S003"] if stage == "pilot" else [],
                          now=live.clock())  # fmt: skip
    live.login(browser, "admin")
    browser.get(live.url + "/updates")
    table = browser.find_element(By.ID, "device-updates-table").text
    assert "河西乡小学" in table and "exit code 127" in table
    assert "新版本 0.2.0 启动失败，仍在用 0.1.0" in table  # the one that failed, the one kept
    assert "正在下载" in table and "已安装新版本" in table
    assert "1 台电脑的更新失败" in browser.find_element(By.ID, "devices").text
    assert "未提供" not in browser.find_element(By.ID, "releases").text
    live.screenshot(browser, "updates")
    row = browser.find_element(By.CSS_SELECTOR, 'tr.release[data-version="0.2.0"]')
    # removing every pilot school is a pause: asked first, as 暂停 is; dismissed, nothing changes
    row.find_element(By.NAME, "schools").send_keys("s001，S002,S003")
    row.find_element(By.CSS_SELECTOR, 'button[value="remove"]').click()
    alert = WebDriverWait(browser, 10).until(EC.alert_is_present())
    assert "等于暂停" in alert.text
    alert.dismiss()
    row = browser.find_element(By.CSS_SELECTOR, 'tr.release[data-version="0.2.0"]')
    assert row.get_attribute("data-stage") == "pilot"
    row.find_element(By.CSS_SELECTOR, 'button[value="all"]').click()
    alert = WebDriverWait(browser, 10).until(EC.alert_is_present())  # the riskiest click, confirmed
    assert "全部学校" in alert.text
    alert.accept()
    WebDriverWait(browser, 10).until(
        EC.presence_of_element_located(
            (By.CSS_SELECTOR, 'tr.release[data-version="0.2.0"][data-stage="all"]')
        )
    )
    with live.session() as s:
        release = s.query(M.ClientRelease).filter_by(version="0.2.0").one()
    assert release.stage == "all"
