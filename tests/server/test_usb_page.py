"""U盘数据 (issue 13, item 3): the dashboard page that imports a round's bundles at once. Real parts: the real app
served on 127.0.0.1, bundles exported by real client stores (tests/server/usb_seed.py), Flask's test client
for the page logic and headless Chromium for upload, results and receipt.

One county is made per module (three schools, a round of visits); the tests share it and read only what
they made, in the order they are written."""

from __future__ import annotations

import datetime as dt
import html
import io
import os
import re
import secrets
import shutil
import stat
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from client.usb.bundle import export_bundle, import_answer
from forms import usb_bundle as U
from sync_server import models as M
from sync_server.app import prepare_database
from sync_server.dashboard import usb_receipt as receipts
from sync_server.db import open_database
from sync_server.limits import BodyDoors
from sync_server.services.common import audit
from sync_server.services.users import add_user
from sync_server.state import get_state
from tests.server.browser import _make_app
from tests.server.conftest import START, MovableClock, serve
from tests.server.dashboard_seed import PASSWORD
from tests.server.usb_seed import VisitRound, device_of, visit_round
from tests.support.samples import inspection


@dataclass
class County:
    app: Flask
    url: str
    instance: Path
    clock: MovableClock
    round: VisitRound
    reviewer: FlaskClient  # wang, a reviewer without the ethics permission: imports the round
    admin: FlaskClient  # liu, an admin with the ethics permission
    viewer: FlaskClient  # zhao


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[County]:
    folder = tmp_path_factory.mktemp("usb-page")
    shutil.copyfile(sqlite_template, folder / "sync.db")
    clock = MovableClock()
    instance = folder / "instance"
    app = _make_app(f"sqlite:///{folder / 'sync.db'}", instance, clock)
    server, thread = serve(app)
    url = f"http://127.0.0.1:{server.server_port}"
    made = visit_round(app, url, folder)
    try:
        yield County(
            app,
            url,
            instance,
            clock,
            made,
            reviewer=signed_in(app, "wang", "reviewer"),
            admin=signed_in(app, "liu", "admin", ethics=True),
            viewer=signed_in(app, "zhao", "viewer"),
        )
    finally:
        made.close()
        server.shutdown()
        server.server_close()
        thread.join(5)
        get_state(app).db.close()


def signed_in(app: Flask, username: str, role: str, *, ethics: bool = False) -> FlaskClient:
    """A test client with the session a login gives (the login page itself is tested elsewhere and in the
    browser test below; each real login costs a scrypt check)."""
    state = get_state(app)
    with state.db.Session.begin() as s:
        user = add_user(
            s,
            username=username,
            password=PASSWORD,
            role=role,
            can_view_sensitive=ethics,
            now=state.now(),
        )
    client = app.test_client()
    now = int(state.now().timestamp())
    with client.session_transaction() as session:
        session.update(uid=user.id, nonce=user.session_nonce, login_at=now, seen=now)
        session["csrf"] = client.csrf = secrets.token_urlsafe(32)  # type: ignore[attr-defined]
    return client


def upload(client: FlaskClient, files: list[tuple[bytes, str]]) -> Any:
    return client.post(
        "/usb/import",
        data={
            "csrf_token": client.csrf,  # type: ignore[attr-defined]
            "bundles": [(io.BytesIO(data), name) for data, name in files],
        },
        content_type="multipart/form-data",
    )


def text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def rows(page: str, table: str = "usb-results-table") -> list[str]:
    body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [text(r) for r in re.findall(r'<tr class="usb-row.*?</tr>', body, re.S)]


def entry_ids(page: str, table: str = "usb-results-table") -> list[int]:
    body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [int(i) for i in re.findall(r'data-entry="(\d+)"', body)]


def records_of(app: Flask, code: str) -> int:
    with get_state(app).db.ReadSession() as s:
        return int(
            s.execute(
                select(func.count())
                .select_from(M.Record)
                .join(M.School, M.School.id == M.Record.school_id)
                .where(M.School.code == code)
            ).scalar_one()
        )


@pytest.fixture(scope="module")
def first_upload(county: County) -> tuple[str, list[int]]:
    """The whole round in one upload: two good bundles and four bad files."""
    r = county.round
    files = [
        r.good[0],
        r.not_a_bundle,
        r.good[1],
        r.tampered,
        r.revoked,
        r.other_server,
    ]
    answer = upload(county.reviewer, [(p.read_bytes(), p.name) for p in files])
    assert answer.status_code == 302, answer.text
    page = county.reviewer.get(answer.headers["Location"])
    assert page.status_code == 200
    return page.text, entry_ids(page.text)


def test_a_round_imports_each_good_bundle_and_names_what_is_wrong_with_each_bad_file(
    county: County, first_upload: tuple[str, list[int]]
) -> None:
    page, _ids = first_upload
    s001, junk, s002, tampered, revoked, other = rows(page)

    assert "城关镇中心小学（S001）" in s001 and "教务处电脑" in s001
    assert re.search(r"\b2 0 1 部分拒收", s001), (
        s001
    )  # 2 inspections; the accepted ethics record refused
    assert "河口乡小学（S002）" in s002 and re.search(r"\b3 0 0 已导入", s002), s002
    assert records_of(county.app, "S002") == 3
    assert records_of(county.app, "S001") == 4  # roster, ethics (online), two inspections
    assert (
        "照片.jpg" in junk
        and "不是有效的U盘同步文件" in junk
        and "not a valid USB sync file" in junk
    )
    assert "校验失败" in tampered and "failed its check" in tampered
    assert "撤销" in revoked and "was revoked" in revoked
    assert records_of(county.app, "S003") == 0
    assert "不认识的设备" in other and "does not know" in other
    for bad in (junk, tampered, revoked, other):
        assert "整个文件未导入" in bad and "下载答复文件" not in bad
    assert "下载答复文件" in s001 and "下载答复文件" in s002


def test_the_answer_downloads_under_its_chinese_name_and_the_school_pc_takes_it(
    county: County, first_upload: tuple[str, list[int]]
) -> None:
    _page, ids = first_upload
    r = county.reviewer.get(f"/usb/imports/{ids[2]}/answer")

    assert r.status_code == 200
    disposition = r.headers["Content-Disposition"]
    stem = county.round.good[1].stem
    name = f"{stem}_answer{U.SUFFIX}"  # the school's name once: the bundle's name begins with it
    assert stem.startswith("河口乡小学_S002_")
    assert f"filename*=UTF-8''{urllib.parse.quote(name)}" in disposition, disposition
    ascii_name = re.search(r'filename="?([^";]+)"?;', disposition)
    assert ascii_name is not None and ascii_name.group(1).isascii()
    header = U.read_header(r.data)
    assert header.kind == U.TO_SCHOOL and header.school_code == "S002"
    # The clerk imports it: the three inspections count as sent.
    pc = county.round.clients[1]
    assert header.device_id == device_of(pc)
    answer = county.instance / "answer-download.usbsync"
    answer.write_bytes(r.data)
    assert pc.unsent() == 3
    outcome = import_answer(pc.ctx, answer)
    assert outcome.acknowledged == 3 and pc.unsent() == 0
    # Only staff who may import download answers; a refused file has none.
    assert county.viewer.get(f"/usb/imports/{ids[2]}/answer").status_code == 403
    assert county.reviewer.get(f"/usb/imports/{ids[1]}/answer").status_code == 404


def test_the_receipt_lists_forms_and_periods_and_hides_sensitive_refusals_from_staff_without_ethics(
    county: County, first_upload: tuple[str, list[int]]
) -> None:
    _page, ids = first_upload
    plain = county.reviewer.get(f"/usb/imports/{ids[0]}/receipt")
    assert plain.status_code == 200
    shown = text(plain.text)

    assert "城关镇中心小学（S001）" in shown and "2026-11-28 10:00（北京时间）" in shown
    assert "校园安全隐患排查整治记录 2026年11月 1 0" in shown
    assert "校园安全隐患排查整治记录 2026年10月 1 0" in shown
    assert "合计 2 0" in shown
    assert "拒收的记录（1 条）" in shown
    assert "敏感表单（师德师风、控辍保学）的 1 条记录被拒收" in shown
    rid = county.round.refused_ethics
    assert rid[:8] not in plain.text and "有偿补课" not in plain.text
    assert "@media print" in county.reviewer.get("/dashboard/static/usb.css").text

    full = text(county.admin.get(f"/usb/imports/{ids[0]}/receipt").text)
    assert f"师德师风记录 — {rid[:8]} 教育局已确认该记录" in full, full
    assert "记录与原因仅对有师德与控辍查看权限的人员显示" not in full
    with get_state(county.app).db.ReadSession() as s:
        (seen,) = s.execute(
            select(M.AuditEntry).where(M.AuditEntry.action == "usb.receipt_view")
        ).scalars()
    assert seen.actor == "liu" and seen.details["sensitive_records"] == [rid]

    refused = text(county.reviewer.get(f"/usb/imports/{ids[1]}/receipt").text)
    assert "已拒收：整个文件未导入任何数据" in refused and "照片.jpg" in refused


def test_the_same_bundle_again_is_shown_as_imported_before_and_stores_nothing_twice(
    county: County, first_upload: tuple[str, list[int]]
) -> None:
    again = upload(county.reviewer, [(county.round.good[1].read_bytes(), "河口乡小学.usbsync")])
    page = county.reviewer.get(again.headers["Location"]).text
    (row,) = rows(page)

    assert re.search(r"\b0 3 0 重复导入", row), row
    assert "由 wang 导入过" in row
    assert records_of(county.app, "S002") == 3
    receipt = text(county.reviewer.get(f"/usb/imports/{entry_ids(page)[0]}/receipt").text)
    assert "由 wang 导入过；本次导入未重复保存任何记录" in receipt
    assert "校园安全隐患排查整治记录 2026年11月 0 3" in receipt


def test_the_history_says_who_imported_what_and_the_audit_log_has_each_file(
    county: County, first_upload: tuple[str, list[int]]
) -> None:
    page = county.reviewer.get("/usb").text
    history = rows(page, "usb-history-table")

    assert len(history) >= 6
    assert all(" wang " in f" {r} " for r in history)
    assert any("照片.jpg" in r for r in history)
    audit = text(county.admin.get("/audit?action=usb.").text)
    assert "在“U盘数据”页导入同步文件" in audit and "照片.jpg" in audit


def test_file_names_are_escaped_and_kept_inside_the_private_folder(
    county: County, first_upload: tuple[str, list[int]]
) -> None:
    nasty = "../<script>alert(1)</script>.usbsync"
    r = upload(county.reviewer, [(b"junk", nasty)])
    page = county.reviewer.get(r.headers["Location"]).text

    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    root = county.instance / "usb_imports"
    saved = [p for p in root.rglob("*") if p.is_file()]
    assert saved and all(p.resolve().is_relative_to(root.resolve()) for p in saved)
    assert not (county.instance / "<script>alert(1)</script>.usbsync").exists()
    # An answered bundle is removed (its data are in the database; photos make bundles large), its answer
    # and receipt kept; a refused file is kept for a look.
    b = county.round.good[1]
    assert list(root.rglob(b.name)) == []
    assert len(list(root.rglob(f"{b.stem}_answer{U.SUFFIX}"))) == 1
    assert len(list(root.rglob(f"{b.name}{receipts.RECEIPT_SUFFIX}"))) == 1
    assert len(list(root.rglob(county.round.tampered.name))) == 1
    assert list(root.rglob("*_回执.txt")) == []  # the command line's text receipt: not needed here
    if os.name == "posix":
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
        folders = [p for p in root.iterdir() if p.is_dir()]
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in folders)
        mine = [p for p in saved if p.name.endswith(".receipt.json") or p.suffix == ".jpg"]
        assert mine and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in mine)


def test_viewers_may_not_import_posts_need_the_csrf_token_and_an_empty_upload_is_explained(
    county: County,
) -> None:
    viewer = county.viewer
    assert viewer.get("/usb").status_code == 403
    assert "U盘数据" not in viewer.get("/schools").text
    assert upload(viewer, [(b"x", "a.usbsync")]).status_code == 403
    assert "U盘数据" in county.reviewer.get("/schools").text
    assert county.reviewer.get("/usb/imports/x/receipt").status_code == 404
    assert county.reviewer.get("/usb/imports/1/answer").status_code == 404  # not an import

    no_token = county.reviewer.post(
        "/usb/import",
        data={"bundles": [(io.BytesIO(b"x"), "a.usbsync")]},
        content_type="multipart/form-data",
    )
    assert no_token.status_code == 400 and "安全校验" in no_token.text

    empty = upload(county.reviewer, [])
    assert empty.status_code == 422
    assert "请选择要导入的U盘同步文件" in text(empty.text)


def test_an_upload_past_its_door_is_refused_from_its_head_with_a_clear_page(county: County) -> None:
    doors = BodyDoors.from_config({**get_state(county.app).config, "MAX_USB_UPLOAD_BYTES": 4096})
    assert doors.door(method="POST", path="/usb/import", device=False, staff=True) == (
        "usb_upload",
        4096,
    )
    assert doors.door(method="POST", path="/usb/import", device=False, staff=False)[0] == "request"
    assert doors.door(method="POST", path="/forms", device=False, staff=True)[0] == "dashboard"

    limit = int(get_state(county.app).config["MAX_USB_UPLOAD_BYTES"])
    r = county.reviewer.post(
        "/usb/import",
        data=b"x",
        content_type="multipart/form-data; boundary=x",
        environ_overrides={"CONTENT_LENGTH": str(limit + 1)},
    )
    assert r.status_code == 413
    assert "一次上传的U盘文件合计最多 512 MB" in text(r.text)


def test_a_staff_member_uploads_a_round_in_the_browser_and_prints_a_receipt(
    county: County, first_upload: tuple[str, list[int]], browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    # wang's session, as the login page gives it (a real login costs seconds of scrypt; the login page has
    # its own browser tests).
    cookie = county.reviewer.get_cookie(str(county.app.config["SESSION_COOKIE_NAME"]))
    assert cookie is not None
    browser.get(county.url + "/dashboard/static/usb.css")
    browser.add_cookie({"name": cookie.key, "value": cookie.value, "path": "/"})
    browser.get(county.url + "/schools")
    browser.find_element(By.LINK_TEXT, "U盘数据").click()
    files = [county.round.good[0], county.round.tampered]
    browser.find_element(By.ID, "usb-files").send_keys("\n".join(str(p) for p in files))
    # Files past the upload's limit are named before anything is sent (here the limit made tiny).
    form = browser.find_element(By.ID, "usb-form")
    limit = form.get_attribute("data-max-bytes")
    browser.execute_script("arguments[0].setAttribute('data-max-bytes', '100')", form)
    browser.find_element(By.ID, "usb-submit").click()
    notice = browser.find_element(By.ID, "usb-too-large")
    assert notice.is_displayed() and "一次最多 512 MB" in notice.text
    assert browser.current_url.endswith("/usb") and not browser.find_elements(By.ID, "usb-results")
    browser.execute_script("arguments[0].setAttribute('data-max-bytes', arguments[1])", form, limit)
    browser.find_element(By.ID, "usb-submit").click()
    table = WebDriverWait(browser, 10).until(
        EC.presence_of_element_located((By.ID, "usb-results-table"))
    )

    found = [r.text for r in table.find_elements(By.CSS_SELECTOR, "tr.usb-row")]
    assert len(found) == 2
    assert "城关镇中心小学（S001）" in found[0] and "重复导入" in found[0]
    assert "校验失败" in found[1]
    table.find_elements(By.CSS_SELECTOR, "a.usb-receipt-link")[0].click()
    receipt = WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.ID, "receipt")))
    assert "城关镇中心小学（S001）" in receipt.text and "2026年10月" in receipt.text
    assert browser.find_element(By.ID, "print-receipt").is_displayed()
    # Printed: the receipt alone, without the nav, the buttons or the page's footer.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert receipt.is_displayed()
        for hidden in ("print-receipt", "time-zone"):
            assert not browser.find_element(By.ID, hidden).is_displayed()
        assert not browser.find_element(By.CSS_SELECTOR, "header.topbar").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


@pytest.mark.parametrize("backend", ["postgresql"])
def test_imports_are_found_by_upload_and_bundle_in_the_json_details_on_postgresql(
    db_url: str,
) -> None:
    db = open_database(db_url)
    try:
        prepare_database(db, migrate=True, publish_forms=False, now=START)
        with db.Session.begin() as s:
            for actor, action, details in (
                ("usb-import", "device.usb_import", {"bundle_id": "b-cli"}),  # the command line
                ("usb-import", "device.usb_import", {"bundle_id": "b-cli"}),  # the page, later
                ("wang", receipts.ACTION, {"folder": "f1", "bundle_id": "b-cli"}),
                ("wang", receipts.ACTION, {"folder": "f1", "bundle_id": "b-page"}),
                ("li", receipts.ACTION, {"folder": "f2", "bundle_id": "b-page"}),
            ):
                audit(s, now=START, actor=actor, action=action, details=details)
        with db.ReadSession.begin() as s:
            f1 = [e.details["bundle_id"] for e in s.execute(receipts.upload("f1")).scalars()]
            assert f1 == ["b-cli", "b-page"]
            assert receipts.first_import(s, "b-page") == {
                "at": "2026-11-28T02:00:00Z",
                "by": "wang",
            }
            assert receipts.first_import(s, "b-none") is None
        with db.Session.begin() as s:
            s.execute(sa.delete(M.AuditEntry).where(M.AuditEntry.action == receipts.ACTION))
            # Imported twice by the command line only: the first time, by no one the page knows.
            assert receipts.first_import(s, "b-cli") == {"at": "2026-11-28T02:00:00Z", "by": None}
    finally:
        db.close()


def test_an_upload_that_cannot_be_saved_imports_nothing_and_says_why(county: County) -> None:
    root = county.instance / "usb_imports"
    kept = root.with_name("usb_imports.kept")
    root.rename(kept)
    root.write_bytes(b"")  # a file where the uploads' folder should be: it cannot be made
    try:
        before = records_of(county.app, "S002")
        r = upload(county.reviewer, [(county.round.good[1].read_bytes(), "河口乡小学.usbsync")])
        assert r.status_code == 507
        assert "上传的文件无法保存到服务器" in text(r.text) and "nothing was imported" in r.text
        assert records_of(county.app, "S002") == before
    finally:
        root.unlink()
        kept.rename(root)


def test_a_bundle_in_parts_is_imported_once_and_a_missing_part_is_named(
    county: County, first_upload: tuple[str, list[int]]
) -> None:
    # 城关镇中心小学's PC exports again (the answer never reached it), in parts as on a FAT32 stick.
    stick = county.instance.parent / "分卷"
    stick.mkdir()
    exported = export_bundle(county.round.clients[0].ctx, stick, part_bytes=1024)
    n = len(exported.paths)
    assert n >= 2

    partial = upload(county.reviewer, [(p.read_bytes(), p.name) for p in exported.paths[:-1]])
    (row,) = rows(county.reviewer.get(partial.headers["Location"]).text)
    assert f"缺少第{n}部分（共{n}部分）" in row and exported.paths[-1].name in row, row
    assert "is missing" in row and "usb_imports" not in row and "整个文件未导入" in row

    whole = upload(county.reviewer, [(p.read_bytes(), p.name) for p in reversed(exported.paths)])
    (row,) = rows(county.reviewer.get(whole.headers["Location"]).text)
    assert f"共 {n} 个分卷" in row and re.search(r"\b0 2 1 部分拒收", row), row
    assert records_of(county.app, "S001") == 4


def test_the_history_pages_back_fifty_imports_at_a_time(
    county: County, first_upload: tuple[str, list[int]]
) -> None:
    state = get_state(county.app)
    with state.db.Session.begin() as s:
        for i in range(55):  # older imports whose files are long gone: listed all the same
            audit(
                s,
                now=START,
                actor="wang",
                action=receipts.ACTION,
                object_id=f"旧文件{i:02d}.usbsync",
                details={"folder": "20261101-020000-0000abcd", "stored": f"old{i}.usbsync"},
            )
    first = county.reviewer.get("/usb").text
    assert len(rows(first, "usb-history-table")) == 50
    older = re.search(r'href="(/usb\?before=\d+)" id="usb-older"', first)
    assert older is not None
    assert "旧文件54.usbsync" in rows(first, "usb-history-table")[0]
    page = county.reviewer.get(html.unescape(older.group(1))).text
    second = rows(page, "usb-history-table")
    assert "旧文件04.usbsync" in second[0] and any("旧文件00.usbsync" in r for r in second)
    assert any("城关镇中心小学（S001）" in r for r in second)  # the first upload, further back
    assert "回执已不在服务器上" in second[0]
    raw = re.findall(r'<tr class="usb-row.*?</tr>', page, re.S)
    assert "usb-receipt-link" not in raw[0] and any("usb-receipt-link" in r for r in raw)
    assert county.reviewer.get("/usb?before=x").status_code == 400


def test_a_bundle_imported_on_the_command_line_is_in_the_history_with_its_answer(
    county: County, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usb trial's D5 and D8: `sync-server usb-import` is listed in 导入记录 as a page import is (one
    audit action), its answer downloads under the name the command line wrote on the stick (school name,
    code, date), and its text 回执 says what the page's does (form title, school, device, 北京时间)."""
    from sync_server.config import ENV_SECRET_KEY
    from sync_server.usb import import_paths

    monkeypatch.setenv(ENV_SECRET_KEY, str(county.app.config["SECRET_KEY"]))
    pc = county.round.clients[1]  # 河口乡小学
    pc.save(inspection(inspectors="命令行老师"))
    stick = tmp_path / "U盘"
    stick.mkdir()
    bundle = export_bundle(pc.ctx, stick).path

    (result,) = import_paths(
        county.instance, str(get_state(county.app).config["DATABASE_URL"]), [bundle]
    )

    assert result.error is None and result.answer_path is not None
    assert result.answer_path.name == f"{bundle.stem}_answer{U.SUFFIX}"
    assert bundle.stem.startswith("河口乡小学_S002_")
    text = "\n".join(result.receipt_lines())
    assert "河口乡小学（S002）" in text and "设备“教务处电脑”" in text and "北京时间" in text
    assert re.search(r"校园安全隐患排查整治记录（2026年11月）：收到 [14] 条", text)  # 4 run alone
    assert result.receipt_path is not None
    assert result.receipt_path.read_text("utf-8-sig").replace("\r\n", "\n") == text + "\n"
    with get_state(county.app).db.ReadSession.begin() as s:
        (entry,) = s.execute(
            select(M.AuditEntry).where(
                M.AuditEntry.action == receipts.ACTION, M.AuditEntry.object_id == bundle.name
            )
        ).scalars()
        entry_id, actor = entry.id, entry.actor
    assert actor == receipts.CLI_ACTOR
    page = county.reviewer.get("/usb").get_data(as_text=True)
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{re.escape(bundle.name)}.*?</tr>", page, re.S)
    assert row and "命令行" in row.group(0) and f"/usb/imports/{entry_id}/answer" in row.group(0)
    got = county.reviewer.get(f"/usb/imports/{entry_id}/answer")
    assert got.status_code == 200 and got.data == result.answer_path.read_bytes()
    assert urllib.parse.quote(result.answer_path.name) in got.headers["Content-Disposition"]
    shown = county.reviewer.get(f"/usb/imports/{entry_id}/receipt").get_data(as_text=True)
    assert "河口乡小学" in shown and "命令行" in shown
    assert import_answer(pc.ctx, result.answer_path).acknowledged >= 1


def test_refused_files_are_removed_by_clean_uploads_after_30_days_receipts_and_answers_stay(
    county: County, first_upload: tuple[str, list[int]]
) -> None:
    """The usb trial's D12: a refused file stays under usb_imports/ for REFUSED_KEEP_DAYS, then
    `sync-server clean-uploads` removes it; the history's receipts and answers stay. (Last in the module:
    it removes files.)"""
    from sync_server.maintenance import clean_uploads

    root = county.instance / "usb_imports"
    db = get_state(county.app).db

    def files() -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}

    before = files()
    refused = county.round.tampered.name
    assert any(n.endswith(refused) for n in before)
    early = clean_uploads(db, county.instance, hours=72, now=START + dt.timedelta(days=29))
    assert early[0]["removed_usb_files"] == 0 and files() == before

    done, lines = clean_uploads(db, county.instance, hours=72, now=START + dt.timedelta(days=31))

    left = files()
    assert not any(n.endswith((refused, county.round.not_a_bundle.name)) for n in left)
    assert done["removed_usb_files"] == len(before - left) >= 4 and done["removed_usb_bytes"] > 0
    assert all(n.endswith((receipts.RECEIPT_SUFFIX, U.SUFFIX)) for n in left)
    assert {n for n in before if n.endswith(receipts.RECEIPT_SUFFIX)} <= left
    assert any("_answer" in n for n in left) and "拒收文件" in "\n".join(lines)
    with db.ReadSession.begin() as s:  # its 回执 is still shown, with the reason
        entry = (
            s.execute(
                select(M.AuditEntry.id).where(
                    M.AuditEntry.action == receipts.ACTION, M.AuditEntry.object_id == refused
                )
            )
            .scalars()
            .first()
        )
    shown = county.reviewer.get(f"/usb/imports/{entry}/receipt")
    assert shown.status_code == 200 and "已拒收" in shown.get_data(as_text=True)
