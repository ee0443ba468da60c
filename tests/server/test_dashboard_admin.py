"""The admin pages of the dashboard (schools and devices, forms), `sync-server add-user`, and a walk through
the pages in real headless Chromium with screenshots in docs/screenshots/dashboard_*.png."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from forms.catalog import DEFINITIONS_DIR
from forms.loader import load_yaml
from forms.xlsform import write_xlsform
from sync_server import models as M
from sync_server.app import create_app
from sync_server.errors import ServiceError
from sync_server.services.schools import enroll
from sync_server.state import get_state
from tests.server.browser import LiveDashboard
from tests.server.conftest import MovableClock
from tests.server.test_dashboard_security import (
    PASSWORD,
    add_staff,
    csrf_of,
    is_login_redirect,
    session_csrf,
)

ROOT = Path(__file__).resolve().parents[2]
CODE_RE = re.compile(r'id="slip-code">([A-Z0-9-]+)<')
PUBLIC_URL = "http://192.168.1.10:8700"


class Admin:
    def __init__(self, app: Any, clock: MovableClock) -> None:
        self.app = app
        self.clock = clock

    def db(self) -> Any:
        return get_state(self.app).db

    def client(self, username: str = "boss") -> FlaskClient:
        c = self.app.test_client()
        token = csrf_of(c)
        r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 302
        return c

    def post(self, c: FlaskClient, url: str, **data: Any) -> Any:
        return c.post(url, data={"csrf_token": session_csrf(c), **data})

    def add_school(self, c: FlaskClient, code: str, name: str) -> str:
        r = self.post(c, "/schools", code=code, name=name)
        assert r.status_code == 302, r.get_data(as_text=True)
        assert r.headers["Location"] == f"/schools/{code}/slip"
        page = c.get(r.headers["Location"]).get_data(as_text=True)
        m = CODE_RE.search(page)
        assert m, page
        return m.group(1)

    def enroll(self, code: str, name: str = "教务处电脑", version: str = "0.3.1") -> str:
        with self.db().Session.begin() as s:
            made = enroll(
                s,
                enrollment_code=code,
                device_name=name,
                app_version=version,
                now=self.clock(),
                secret=str(self.app.config["SECRET_KEY"]),  # codes are keyed with it (issue 12)
            )
        return made.device_id


@pytest.fixture
def admin(tmp_path: Path, sqlite_template: Path) -> Iterator[Admin]:
    path = tmp_path / "admin.db"
    shutil.copyfile(sqlite_template, path)
    clock = MovableClock()
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{path}",
            "SECRET_KEY": "dashboard-admin-tests",
            "CLOCK": clock,
            "LOGIN_FAILURE_DELAY": 0,
            "PUBLIC_URL": PUBLIC_URL,
        }
    )
    now = clock().replace(tzinfo=None)
    with get_state(app).db.Session.begin() as s:
        add_staff(s, "boss", "admin", True, now)
        add_staff(s, "admin", "admin", False, now)
        add_staff(s, "viewer", "viewer", False, now)
    yield Admin(app, clock)
    get_state(app).db.close()


# -- schools and devices ----------------------------------------------------------------------------


def test_adding_a_school_shows_its_code_on_a_printable_slip(admin: Admin):
    c = admin.client()
    r = admin.post(c, "/schools", code="S101", name="城关镇中心小学")
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    m = CODE_RE.search(page)
    assert m
    code = m.group(1)
    assert "城关镇中心小学" in page and "S101" in page
    assert PUBLIC_URL in page
    assert "有效期至 2026-12-05 10:00" in page  # 7 days, bureau time
    assert "打印登记单" in page
    assert admin.enroll(code)  # the code on the slip enrolls a computer
    listing = c.get("/schools").get_data(as_text=True)
    assert "登记码已使用" in listing


def test_the_slip_shows_a_code_only_to_who_issued_it(admin: Admin):
    admin.add_school(admin.client(), "S102", "河西小学")
    page = admin.client().get("/schools/S102/slip").get_data(as_text=True)  # another session
    assert CODE_RE.search(page) is None
    assert "登记码只在发放时显示一次" in page


def test_a_fresh_code_replaces_the_unused_one(admin: Admin):
    c = admin.client()
    old = admin.add_school(c, "S103", "东关小学")
    r = admin.post(c, "/schools/S103/enrollment-code")
    assert r.headers["Location"] == "/schools/S103/slip"
    m = CODE_RE.search(c.get("/schools/S103/slip").get_data(as_text=True))
    assert m
    new = m.group(1)
    assert new != old
    with pytest.raises(ServiceError) as err:
        admin.enroll(old)
    assert err.value.code == "enrollment_code_replaced"
    assert admin.enroll(new)
    actions = [
        e.action
        for e in admin.db().ReadSession().execute(select(M.AuditEntry)).scalars()
        if e.object_id == "S103"
    ]
    assert actions == ["school.add", "school.new_code"]


def test_an_existing_school_code_is_refused(admin: Admin):
    c = admin.client()
    admin.add_school(c, "S104", "南关小学")
    with admin.db().ReadSession() as s:
        codes = s.execute(select(func.count()).select_from(M.EnrollmentCode)).scalar_one()
    r = admin.post(c, "/schools", code="S104", name="别的学校")
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "学校代码 S104 已存在" in page
    assert 'value="别的学校"' in page  # what was typed stays in the form
    with admin.db().ReadSession() as s:
        assert s.execute(select(func.count()).select_from(M.EnrollmentCode)).scalar_one() == codes


@pytest.mark.parametrize(("code", "name"), [("S 1!", "某小学"), ("S105", ""), ("", "某小学")])
def test_bad_school_input_is_explained(admin: Admin, code: str, name: str):
    r = admin.post(admin.client(), "/schools", code=code, name=name)
    assert r.status_code == 422
    assert "flash-error" in r.get_data(as_text=True)


def test_devices_are_listed_with_version_and_last_sync(admin: Admin):
    c = admin.client()
    code = admin.add_school(c, "S106", "北关小学")
    device = admin.enroll(code, "校长室电脑", "0.3.1")
    page = c.get("/schools").get_data(as_text=True)
    row = page[page.index(f'data-device-id="{device}"') :][:1500]
    assert "校长室电脑" in row
    assert "版本 0.3.1" in row
    assert "最近同步 2026-11-28 10:00" in row  # 02:00 UTC is 10:00 in the bureau
    assert "正常" in row
    admin.clock.advance(days=8)
    row = admin.client().get("/schools").get_data(as_text=True)
    assert "7 天未同步" in row


def test_revoking_a_device_asks_first_then_locks_it_out(admin: Admin, make_server_for: Any):
    c = admin.client()
    code = admin.add_school(c, "S107", "西关小学")
    device = admin.enroll(code)
    page = c.get(f"/devices/{device}/revoke").get_data(as_text=True)
    assert "撤销后，这台电脑将无法再同步数据" in page and device in page
    r = admin.post(c, f"/devices/{device}/revoke")  # the box not ticked
    assert r.headers["Location"] == f"/devices/{device}/revoke"
    with admin.db().ReadSession() as s:
        assert s.get_one(M.Device, device).revoked_at is None
    r = admin.post(c, f"/devices/{device}/revoke", confirm="yes")
    assert r.status_code == 302
    with admin.db().ReadSession() as s:
        assert s.get_one(M.Device, device).revoked_at is not None
    assert "已撤销" in c.get("/schools").get_data(as_text=True)
    assert c.get("/devices/not-a-device/revoke").status_code == 404


def test_a_revoked_device_gets_403_from_the_api(live_dashboard: LiveDashboard):
    _school, code = live_dashboard.new_school()
    r = requests.post(
        live_dashboard.url + "/api/v1/enroll",
        json={"enrollment_code": code, "device_name": "电脑", "app_version": "0.1.0"},
        timeout=10,
    )
    token = r.json()["token"]
    device = r.json()["device_id"]
    http = requests.Session()
    page = http.get(live_dashboard.url + "/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    http.post(
        live_dashboard.url + "/login",
        data={
            "username": "admin",
            "password": live_dashboard.passwords["admin"],
            "csrf_token": csrf.group(1),
        },
        timeout=10,
    )
    page = http.get(f"{live_dashboard.url}/devices/{device}/revoke").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    r = http.post(
        f"{live_dashboard.url}/devices/{device}/revoke",
        data={"confirm": "yes", "csrf_token": csrf.group(1)},
        timeout=10,
    )
    assert r.status_code == 200 and "已撤销" in r.text
    pulled = requests.get(
        live_dashboard.url + "/api/v1/pull",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert pulled.status_code == 403


def test_viewers_see_no_admin_controls(admin: Admin):
    c = admin.client()
    code = admin.add_school(c, "S108", "中心小学")
    admin.enroll(code)
    page = admin.client("viewer").get("/schools").get_data(as_text=True)
    assert "中心小学" in page
    assert "添加学校" not in page and "撤销" not in page.replace("已撤销", "")
    assert "发放新登记码" not in page
    forms = admin.client("viewer").get("/forms").get_data(as_text=True)
    assert "发布新版本" not in forms


def test_schools_can_be_searched(admin: Admin):
    c = admin.client()
    admin.add_school(c, "S201", "城关小学")
    admin.add_school(c, "S202", "河西中学")
    page = c.get("/schools?q=河西").get_data(as_text=True)
    assert "河西中学" in page and "城关小学" not in page


# -- forms ------------------------------------------------------------------------------------------

SAFETY = (DEFINITIONS_DIR / "safety_inspection.yaml").read_text(encoding="utf-8")


def upload(admin: Admin, c: FlaskClient, name: str, data: bytes) -> Any:
    import io

    return c.post(
        "/forms",
        data={"csrf_token": session_csrf(c), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_publishing_a_new_yaml_version(admin: Admin):
    c = admin.client()
    text = SAFETY.replace("version: '2026.1'", "version: '2026.2'")
    r = upload(admin, c, "安全排查.yaml", text.encode())
    assert r.status_code == 302, r.get_data(as_text=True)
    page = c.get("/forms").get_data(as_text=True)
    assert "已发布“校园安全隐患排查整治记录”（safety_inspection）版本 2026.2" in page
    section = page[page.index('id="form-safety_inspection"') :]
    assert section.index("2026.2") < section.index("2026.1")  # newest first
    with admin.db().ReadSession() as s:
        entry = s.execute(
            select(M.AuditEntry).where(M.AuditEntry.object_id == "safety_inspection/2026.2")
        ).scalar_one()
        assert (entry.action, entry.actor) == ("form.publish", "boss")
        changes = s.execute(
            select(func.count()).select_from(M.Change).where(M.Change.type == "form")
        ).scalar_one()
        assert changes >= 7  # the shipped forms, and this one for every school
    again = upload(admin, c, "安全排查.yaml", text.encode())
    assert again.status_code == 302
    assert "内容相同，未作改动" in c.get("/forms").get_data(as_text=True)
    version = c.get("/forms/safety_inspection/2026.2").get_data(as_text=True)
    assert "form_id: safety_inspection" in version


def test_form_errors_are_listed_with_their_locations(admin: Admin):
    c = admin.client()
    text = SAFETY.replace("version: '2026.1'", "version: '2026.3'").replace(
        "constraint: . <= today()", "constraint: . <= ${no_such_field}", 1
    )
    line = text.splitlines().index("  - type: date") + 1  # where the field starts
    r = upload(admin, c, "坏表单.yaml", text.encode())
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "“坏表单.yaml”未通过检查" in page
    rows = re.findall(r'<tr class="form-error">(.*?)</tr>', page, re.S)
    assert rows
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "|", rows[0]))]
    assert "坏表单.yaml" in cells[0]
    assert f"|{line}|" in cells[0].replace(" ", "")
    assert "no_such_field" in page
    assert "/tmp" not in page  # the server's temporary path is not shown
    with admin.db().ReadSession() as s:
        assert (
            s.execute(select(M.FormVersion).where(M.FormVersion.version == "2026.3")).first()
            is None
        )
        refused = s.execute(
            select(M.AuditEntry).where(M.AuditEntry.action == "form.publish_refused")
        ).scalar_one()
        assert refused.object_id == "坏表单.yaml"


def test_xlsform_errors_name_the_sheet_and_row(admin: Admin, tmp_path: Path):
    form = load_yaml(DEFINITIONS_DIR / "safety_inspection.yaml")
    path = tmp_path / "表.xlsx"
    write_xlsform(form, path)
    wb = load_workbook(path)
    ws = wb["survey"]
    header = [cell.value for cell in ws[1]]
    col = header.index("constraint") + 1
    target_row = next(row for row in range(2, ws.max_row + 1) if ws.cell(row=row, column=col).value)
    ws.cell(row=target_row, column=col).value = "${missing_field} > 1"
    wb.save(path)
    r = upload(admin, admin.client(), "表.xlsx", path.read_bytes())
    assert r.status_code == 422
    rows = re.findall(r'<tr class="form-error">(.*?)</tr>', r.get_data(as_text=True), re.S)
    assert rows
    first = re.sub(r"\s+", "", re.sub(r"<[^>]+>", "|", rows[0]))
    assert "|survey|" in first and f"|{target_row}|" in first and "表.xlsx" in first


def test_a_changed_form_under_the_same_version_is_refused(admin: Admin):
    text = SAFETY.replace("排查日期不能晚于今天", "排查日期不可晚于今天")
    r = upload(admin, admin.client(), "安全排查.yaml", text.encode())
    assert r.status_code == 409
    assert "已发布且内容不同" in r.get_data(as_text=True)


def test_only_yaml_and_xlsx_are_accepted(admin: Admin):
    r = upload(admin, admin.client(), "表单.docx", b"PK...")
    assert r.status_code == 422
    assert "不支持的文件类型" in r.get_data(as_text=True)


def test_sensitive_forms_need_the_ethics_permission_to_publish(admin: Admin):
    text = (DEFINITIONS_DIR / "teacher_ethics.yaml").read_text(encoding="utf-8")
    text = text.replace("version: '2026.1'", "version: '2026.2'")
    r = upload(admin, admin.client("admin"), "师德.yaml", text.encode())
    assert r.status_code == 403
    assert "需由具有伦理查看权限的管理员发布" in r.get_data(as_text=True)
    r = upload(admin, admin.client("boss"), "师德.yaml", text.encode())
    assert r.status_code == 302


# -- sync-server add-user ---------------------------------------------------------------------------


def add_user_cli(
    *args: str, db: str, instance: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("SYNC_SERVER_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "sync_server", "add-user", *args, "--db", db],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env={**env, "SYNC_SERVER_INSTANCE": str(instance)},
        timeout=120,
    )


def test_add_user_from_stdin_then_log_in(tmp_path: Path, sqlite_template: Path):
    path = tmp_path / "cli.db"
    shutil.copyfile(sqlite_template, path)
    db = f"sqlite:///{path}"
    r = add_user_cli(
        "--username",
        "zhang.wei",
        "--role",
        "reviewer",
        "--ethics",
        "--password-stdin",
        "--json",
        db=db,
        instance=tmp_path,
        stdin="长一点的密码-2026\n",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {
        "username": "zhang.wei",
        "role": "reviewer",
        "ethics": True,
    }
    assert "已添加用户 zhang.wei（审核员，可查看师德与控辍记录）" in r.stdout
    app = create_app(
        {"INSTANCE_PATH": str(tmp_path / "i"), "DATABASE_URL": db, "LOGIN_FAILURE_DELAY": 0}
    )
    try:
        with get_state(app).db.ReadSession() as s:
            user = s.execute(select(M.User)).scalar_one()
            assert user.password_hash.startswith("scrypt:")
            assert "长一点的密码" not in user.password_hash
            actions = [e.action for e in s.execute(select(M.AuditEntry)).scalars()]
            assert "user.add" in actions
        c = app.test_client()
        token = csrf_of(c)
        r2 = c.post(
            "/login",
            data={"username": "zhang.wei", "password": "长一点的密码-2026", "csrf_token": token},
        )
        assert r2.status_code == 302 and not is_login_redirect(r2)
    finally:
        get_state(app).db.close()


@pytest.mark.parametrize(
    ("args", "stdin", "code"),
    [
        (["--role", "admin", "--password-stdin"], "short\n", "password_too_short"),
        (["--role", "boss", "--password-stdin"], "long-enough-password\n", "bad_arguments"),
        (["--role", "viewer"], "", "no_terminal"),  # no terminal to ask at, no --password-stdin
    ],
)
def test_add_user_refusals(tmp_path: Path, args: list[str], stdin: str, code: str):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    r = add_user_cli("--username", "li.na", *args, "--json", db=db, instance=tmp_path, stdin=stdin)
    assert r.returncode == 2, r.stdout + r.stderr
    if code == "bad_arguments":  # argparse refuses before --json is read
        assert "参数错误" in r.stderr and "boss" in r.stderr
    else:
        assert json.loads(r.stdout.strip().splitlines()[-1])["error"]["code"] == code
    assert "Traceback" not in r.stderr
    assert "错误" in r.stderr


def test_add_user_twice_is_refused(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ("--username", "wang", "--role", "viewer", "--password-stdin", "--json")
    first = add_user_cli(*args, db=db, instance=tmp_path, stdin="first-password-1\n")
    assert first.returncode == 0, first.stderr
    second = add_user_cli(*args, db=db, instance=tmp_path, stdin="other-password-2\n")
    assert second.returncode == 2
    assert json.loads(second.stdout.strip().splitlines()[-1])["error"]["code"] == "user_exists"


# -- in a real browser ------------------------------------------------------------------------------


@pytest.mark.slow
def test_browser_admin_walk(browser: Any, live_dashboard: LiveDashboard):
    """Log in, add a school, read its code on the slip, see its device, revoke it; screenshots."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 10)
    live = live_dashboard
    browser.get(live.url + "/schools")
    assert "/login?next=" in browser.current_url  # anonymous: sent to the login page
    assert browser.find_element(By.ID, "login-submit").text == "登录"
    live.screenshot(browser, "login")

    browser.find_element(By.ID, "username").send_keys("admin")
    browser.find_element(By.ID, "password").send_keys(live.passwords["admin"])
    browser.find_element(By.ID, "login-submit").click()
    wait.until(EC.presence_of_element_located((By.ID, "add-school")))
    assert browser.current_url.endswith("/schools")  # back to the page asked for

    browser.find_element(By.ID, "school-code").send_keys("S301")
    browser.find_element(By.ID, "school-name").send_keys("城关镇第一小学")
    browser.find_element(By.ID, "add-school-submit").click()
    code_el = wait.until(EC.presence_of_element_located((By.ID, "slip-code")))
    code = code_el.text
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code)  # 74 bits
    assert browser.find_element(By.ID, "slip-server").text == live.url
    assert "城关镇第一小学" in browser.find_element(By.ID, "slip").text
    live.screenshot(browser, "slip")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:  # as printed: no navigation, no buttons, only the slip
        assert not browser.find_element(By.ID, "print-slip").is_displayed()
        assert not browser.find_element(By.ID, "logout").is_displayed()
        live.screenshot(browser, "slip_print")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    device = live.enroll(code, "教务处电脑", "0.3.1")  # the school's computer enrolls with it
    live.new_school("S302", "河西镇中心小学")
    browser.get(live.url + "/schools")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-device-id="{device}"]')
    assert "0.3.1" in row.text and "正常" in row.text
    live.screenshot(browser, "schools")

    row.find_element(By.LINK_TEXT, "撤销").click()
    wait.until(EC.presence_of_element_located((By.ID, "confirm-revoke"))).click()
    browser.find_element(By.ID, "revoke-submit").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".flash-success")))
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-device-id="{device}"]')
    assert "已撤销" in row.text
    with live.session() as s:
        assert s.get_one(M.Device, device).revoked_at is not None

    browser.get(live.url + "/forms")
    wait.until(EC.presence_of_element_located((By.ID, "forms-table")))
    assert "teacher_ethics" in browser.find_element(By.ID, "forms-table").text  # admin has ethics
    live.screenshot(browser, "forms")

    browser.get(live.url + "/audit")
    audit = wait.until(EC.presence_of_element_located((By.ID, "audit-table"))).text
    assert "撤销设备" in audit and "添加学校" in audit and "登录" in audit
    live.screenshot(browser, "audit")

    browser.find_element(By.ID, "logout").click()
    wait.until(EC.presence_of_element_located((By.ID, "login-submit")))
    browser.get(live.url + "/schools")
    assert "/login" in browser.current_url


@pytest.mark.slow
def test_browser_form_errors_page(browser: Any, live_dashboard: LiveDashboard, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    bad = tmp_path / "安全排查-新版.yaml"
    bad.write_text(
        SAFETY.replace("version: '2026.1'", "version: '2026.5'")
        .replace("constraint: . <= today()", "constraint: . <= ${no_such_field}", 1)
        .replace("relevant: ${hazards_found} = 'yes'", "relevant: ${hazard_found} = 'yes'", 1),
        encoding="utf-8",
    )
    live_dashboard.login(browser, "admin")
    browser.get(live_dashboard.url + "/forms")
    browser.find_element(By.ID, "form-file").send_keys(str(bad))
    browser.find_element(By.ID, "publish-submit").click()
    table = WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.ID, "form-errors")))
    assert "安全排查-新版.yaml" in table.text
    live_dashboard.screenshot(browser, "form_errors")
