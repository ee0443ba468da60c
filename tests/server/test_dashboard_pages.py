"""The data pages (概览, 记录, 隐患) through Flask's test client with a logged-in session, on the real
create_app() over a fresh SQLite copy: what they show, their filters, the reviewer's actions, attachments,
sensitive forms, and escaping."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import shutil
import zlib
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from sync_server import models as M
from sync_server.state import get_state
from tests.server.conftest import MovableClock, inspection
from tests.server.dashboard_seed import (
    demo,
    ethics,
    logged_in,
    make_app,
    record,
    school,
    service,
    teacher,
)

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)  # 10:00 on 28 November in the bureau
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Flask:
    path = tmp_path / "pages.db"
    shutil.copyfile(sqlite_template, path)
    made = make_app(
        f"sqlite:///{path}", tmp_path / "instance", MovableClock(NOW), LOGIN_FAILURE_DELAY=0
    )
    yield made
    get_state(made).db.close()


@pytest.fixture
def county(app: Flask) -> dict[str, Any]:
    with get_state(app).db.Session.begin() as s:
        return demo(s)


def audit_entries(app: Flask, action: str) -> list[M.AuditEntry]:
    with get_state(app).db.ReadSession() as s:
        return list(
            s.execute(
                select(M.AuditEntry).where(M.AuditEntry.action == action).order_by(M.AuditEntry.id)
            ).scalars()
        )


def text(r: Any) -> str:
    assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:500])
    return str(r.get_data(as_text=True))


def table(html: str, element_id: str) -> str:
    """The HTML of the element with this id up to the end of its (first) table."""
    return html.split(f'id="{element_id}"', 1)[1].split("</table>", 1)[0]


def rows_with(html: str, attr: str) -> dict[str, str]:
    """data-<attr>="value" of each table row -> that row's HTML."""
    out = {}
    for m in re.finditer(rf'<tr[^>]*data-{attr}="([^"]+)"[^>]*>(.*?)</tr>', html, re.S):
        out[m.group(1)] = m.group(0)
    return out


# -- overview ---------------------------------------------------------------------------------------


def test_overview_shows_rates_school_statuses_and_the_chase_list(
    app: Flask, county: dict[str, Any]
):
    c = logged_in(app, "viewer1", "viewer")
    html = text(c.get("/?form=safety_inspection&period=2026-11"))
    assert "报送概览" in html
    rates = rows_with(html, "form")
    assert set(rates) == {"after_school_service", "safety_inspection", "school_conditions"}
    assert "teacher_ethics" not in html and "dropout_followup" not in html
    row = rates["safety_inspection"]
    assert "2026-12-05" in row  # due: the 5th of the next month
    assert re.search(r"50%", row)  # 5 of 10 schools
    statuses = dict(
        re.findall(r'data-school="(\w+)" data-status="(\w+)"', table(html, "school-status"))
    )
    assert len(statuses) == 10
    assert statuses["S001"] == "on_time" and statuses["S006"] == "missing"
    chase = table(html, "chase-list")
    for code in ("S006", "S007", "S008", "S009", "S010"):
        assert code in chase
    assert "S001" not in chase
    assert "未到截止日" in row  # 28 November: the due date has not come yet

    # October, due 5 November: S008 sent on 9 November (late), S006 and S009 never.
    html = text(c.get("/?form=safety_inspection&period=2026-10&status=late"))
    schools = rows_with(table(html, "school-status"), "school")
    assert list(schools) == ["S008"] and "逾期" in schools["S008"]
    html = text(c.get("/?form=safety_inspection&period=2026-10"))
    chase = table(html, "chase-list")
    assert "S006" in chase and "S009" in chase and "S008" not in chase
    assert "已过截止日期" in html

    # The weekly form's picker offers weeks; a bad period or an unknown form is refused.
    assert "2026年第48周" in text(c.get("/?form=after_school_service"))
    assert c.get("/?form=safety_inspection&period=2026-W48").status_code == 400
    assert c.get("/?form=teacher_ethics").status_code == 404
    assert c.get("/?status=nope").status_code == 400


def test_overview_exports_the_report_and_the_chase_list(app: Flask, county: dict[str, Any]):
    c = logged_in(app, "viewer1", "viewer")
    r = c.get("/overview.xlsx?form=safety_inspection&period=2026-11")
    assert r.status_code == 200 and r.mimetype == XLSX
    assert "attachment" in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["报送情况", "催报名单", "逾期未报（各表）"]
    report = list(wb["报送情况"].iter_rows(values_only=True))
    assert "报送率 50.0%" in report[0][0]
    assert report[1][:3] == ("学校代码", "学校名称", "报送情况")
    by_code = {row[0]: row for row in report[2:]}
    assert by_code["S001"][2] == "按时" and by_code["S006"][2] == "未报"
    assert by_code["S001"][4] == dt.datetime(2026, 11, 6, 16, 0)  # first arrival, bureau time
    chase = [row[0] for row in list(wb["催报名单"].iter_rows(values_only=True))[2:]]
    assert chase == ["S006", "S007", "S008", "S009", "S010"]
    [entry] = audit_entries(app, "overview.export")
    assert entry.actor == "viewer1" and entry.object_id == "safety_inspection"
    assert entry.details["period"] == "2026-11"


# -- records ------------------------------------------------------------------------------------------


def test_records_list_filters_and_pages(app: Flask, county: dict[str, Any]):
    c = logged_in(app, "viewer1", "viewer")
    html = text(c.get("/records"))
    total = int(re.search(r"共 (\d+) 条记录", html).group(1))  # type: ignore[union-attr]
    assert total == 45  # the demo's live records (rosters included), none sensitive
    s001 = county["schools"]["S001"].id
    html = text(c.get(f"/records?form=safety_inspection&school={s001}"))
    listed = rows_with(html, "record")
    assert len(listed) == 2 and all("城关镇中心小学" in r for r in listed.values())
    html = text(c.get("/records?form=safety_inspection&period=2026-10"))
    assert len(rows_with(html, "record")) == 8
    assert '<option value="2026-10" selected>2026年10月</option>' in html
    html = text(c.get("/records?form=safety_inspection&status=accepted"))
    assert len(rows_with(html, "record")) == 8  # S004's November one and seven Octobers
    assert text(c.get("/records?status=deleted")).count("data-record=") == 0
    # A period needs a form with periods; one that does not fit is dropped with a note.
    html = text(c.get("/records?form=safety_inspection&period=2026-W48"))
    assert "不是该表单的报送周期" in html
    assert c.get("/records?status=bogus").status_code == 400
    assert c.get("/records?school=abc").status_code == 400

    # Paging: 50 a page.
    with get_state(app).db.Session.begin() as s:
        extra = school(s, "S099", "分页测试学校")
        for i in range(55):
            record(s, extra, inspection(inspection_date=f"2026-11-{1 + i % 27:02d}"))
    html = text(c.get(f"/records?school={extra.id}"))
    assert len(rows_with(html, "record")) == 50 and "第 1 / 2 页" in html
    html = text(c.get(f"/records?school={extra.id}&page=2"))
    assert len(rows_with(html, "record")) == 5 and "上一页" in html


def _png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    raw = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", (1).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00")
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


def attach(app: Flask, school_id: int, body: bytes) -> str:
    sha = hashlib.sha256(body).hexdigest()
    state = get_state(app)
    path = state.attachments.path(school_id, sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    with state.db.Session.begin() as s:
        s.add(
            M.Attachment(
                school_id=school_id,
                sha256=sha,
                size=len(body),
                received=len(body),
                complete=True,
                created_at=NOW.replace(tzinfo=None),
                completed_at=NOW.replace(tzinfo=None),
            )
        )
    return sha


def test_a_record_page_shows_labels_repeats_photos_roster_names_and_history(
    app: Flask, county: dict[str, Any]
):
    s001 = county["schools"]["S001"]
    png = _png()
    sha = attach(app, s001.id, png)
    pdf = b"%PDF-1.4 a certificate"
    other = attach(app, s001.id, pdf)
    with get_state(app).db.Session.begin() as s:
        rec = record(
            s,
            s001,
            inspection(
                hazards=[
                    {
                        **inspection()["hazards"][0],
                        "photo": sha,
                        "deadline": "2026-11-26",
                    }
                ]
            ),
        )
        log = record(
            s,
            s001,
            service("2026-11-24", teachers=["T001", "T002"], remarks=other),
            form_id="after_school_service",
        )
    c = logged_in(app, "viewer1", "viewer")
    html = text(c.get(f"/records/{rec.id}"))
    for label in ("排查日期", "排查类型", "排查区域", "隐患清单（1 条）", "整改期限", "负责人"):
        assert label in html
    assert "月度排查" in html and "食堂、消防设施" in html  # choices as labels
    assert "重大" in html and "消防" in html  # inside the repeat table
    assert 'id="hazards-0"' in html
    img = re.search(r'<img src="([^"]+)" width="160"', html)
    assert img is not None and sha in img.group(1)
    r = c.get(img.group(1))
    assert r.status_code == 200 and r.mimetype == "image/png" and r.data == png
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    # Only a file the record refers to, of this school, and only complete ones.
    assert c.get(f"/records/{rec.id}/files/{other}").status_code == 404
    assert c.get(f"/records/{rec.id}/files/{'a' * 64}").status_code == 404
    assert c.get(f"/records/{rec.id}/files/not-a-sha").status_code == 404
    # Roster ids as teacher names.
    html = text(c.get(f"/records/{log.id}"))
    assert "李娜、张伟" in html and "T001" not in html

    # History: the revised record shows what changed, old -> new.
    html = text(c.get(f"/records/{county['revised']}"))
    history = html.split('id="history"')[1]
    assert "第 2 版 · 学校提交" in history and "第 1 版 · 学校提交" in history
    assert re.search(
        r"排查人员</td><td class=\"old\">陈红</td><td class=\"new\">陈红、刘洋</td>", history
    )
    assert re.search(
        r"隐患清单 第1条 · 整改期限</td><td class=\"old\">2026-11-25</td><td class=\"new\">2026-12-05</td>",
        history,
    )
    assert '未整改</td><td class="new">整改中' in history
    assert c.get("/records/no-such-record").status_code == 404


def csrf(c: FlaskClient) -> str:
    return str(c.csrf)  # type: ignore[attr-defined]


def test_return_with_comments_reaches_the_schools_next_pull(app: Flask, county: dict[str, Any]):
    rid = county["revised"]
    c = logged_in(app, "rev1", "reviewer")
    form = text(c.get(f"/records/{rid}/return"))
    assert 'value="hazards[0].deadline"' in form and 'name="comment:hazards[0].deadline"' in form
    assert 'value="hazard_count"' not in form  # calculations are not the clerk's to change
    with get_state(app).db.ReadSession() as s:
        before = s.execute(select(M.ChangeCounter.value)).scalar_one()
    r = c.post(
        f"/records/{rid}/return",
        data={
            "csrf_token": csrf(c),
            "server_revision": "2",
            "path": ["hazards[0].deadline", "inspectors"],
            "comment:hazards[0].deadline": "较大隐患的整改期限请不要超过一周",
            "comment:inspectors": "请写全名",
            "comment:signed_by": "",
            "comment:_record": "请补充整改照片",
        },
    )
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/records/{rid}")
    with get_state(app).db.ReadSession() as s:
        rec = s.get(M.Record, rid)
        assert rec is not None and rec.status == "returned" and rec.server_revision == 3
        assert rec.review_comments == {
            "hazards[0].deadline": "较大隐患的整改期限请不要超过一周",
            "inspectors": "请写全名",
            "_record": "请补充整改照片",
        }
        [change] = s.execute(
            select(M.Change).where(M.Change.record_id == rid, M.Change.seq > before)
        ).scalars()
        assert change.school_id == rec.school_id and change.device_id is None
        payload = json.loads(change.payload)
        assert payload["status"] == "returned" and payload["server_revision"] == 3
        assert (
            payload["review_comments"]["hazards[0].deadline"] == "较大隐患的整改期限请不要超过一周"
        )
    [entry] = audit_entries(app, "record.return")
    assert entry.actor == "rev1" and entry.object_id == rid
    page = text(c.get(f"/records/{rid}"))
    assert "已退回" in page and "较大隐患的整改期限请不要超过一周" in page
    assert "第 3 版 · 退回修改" in page

    # A ticked field without a comment, or nothing at all, is sent back to the form.
    r = c.post(
        f"/records/{rid}/return",
        data={"csrf_token": csrf(c), "server_revision": "3", "path": ["inspectors"]},
    )
    assert r.status_code == 400 and "请填写修改意见" in r.get_data(as_text=True)
    r = c.post(f"/records/{rid}/return", data={"csrf_token": csrf(c), "server_revision": "3"})
    assert r.status_code == 400 and "请至少勾选一个题目" in r.get_data(as_text=True)
    # A page older than the record changes nothing.
    r = c.post(
        f"/records/{rid}/return",
        data={"csrf_token": csrf(c), "server_revision": "2", "comment:inspectors": "x"},
        follow_redirects=True,
    )
    assert "学校刚刚更新了这条记录" in r.get_data(as_text=True)
    # Without the CSRF token: refused, nothing changes.
    r = c.post(f"/records/{rid}/return", data={"server_revision": "3", "comment:inspectors": "x"})
    assert r.status_code == 400
    with get_state(app).db.ReadSession() as s:
        assert s.get(M.Record, rid).server_revision == 3  # type: ignore[union-attr]


def test_accept_and_roles(app: Flask, county: dict[str, Any]):
    rid = county["revised"]
    viewer = logged_in(app, "viewer1", "viewer")
    assert 'id="accept-record"' not in text(viewer.get(f"/records/{rid}"))
    r = viewer.post(
        f"/records/{rid}/accept", data={"csrf_token": csrf(viewer), "server_revision": "2"}
    )
    assert r.status_code == 403
    assert viewer.get(f"/records/{rid}/return").status_code == 403
    rev = logged_in(app, "rev1", "reviewer")
    r = rev.post(f"/records/{rid}/accept", data={"csrf_token": csrf(rev), "server_revision": "2"})
    assert r.status_code == 302
    with get_state(app).db.ReadSession() as s:
        rec = s.get(M.Record, rid)
        assert rec is not None and rec.status == "accepted"
        change = (
            s.execute(
                select(M.Change).where(M.Change.record_id == rid).order_by(M.Change.seq.desc())
            )
            .scalars()
            .first()
        )
        assert change is not None and json.loads(change.payload)["status"] == "accepted"
    html = text(rev.get(f"/records/{rid}"))
    assert "已确认" in html and 'id="accept-record"' not in html
    r = rev.post(
        f"/records/{rid}/accept",
        data={"csrf_token": csrf(rev), "server_revision": "3"},
        follow_redirects=True,
    )
    assert "该记录已确认" in r.get_data(as_text=True)


# -- sensitive forms ------------------------------------------------------------------------------------


def test_sensitive_records_exist_only_for_the_ethics_permission(app: Flask, county: dict[str, Any]):
    s001 = county["schools"]["S001"]
    with get_state(app).db.Session.begin() as s:
        secret = record(
            s, s001, ethics(description="家长举报：保密内容-Z9"), form_id="teacher_ethics"
        )
        dropout = record(
            s,
            s001,
            {
                "student_name": "小明",
                "status": "persuading",
                "contact_date": "2026-11-20",
                "measures": "家访",
            },
            form_id="dropout_followup",
        )
    plain = logged_in(app, "admin1", "admin")  # every role, no ethics permission
    for url in (
        "/records",
        "/records?status=accepted",
        f"/records?school={s001.id}",
        "/",
        "/hazards",
        "/export",
    ):
        html = text(plain.get(url))
        assert "保密内容-Z9" not in html and secret.id not in html and dropout.id not in html, url
        assert "师德师风记录" not in html and "控辍保学" not in html, url
    for url in (
        f"/records/{secret.id}",
        f"/records/{dropout.id}",
        f"/records/{secret.id}/return",
        "/records?form=teacher_ethics",
        "/export?form=teacher_ethics",
        "/export?form=dropout_followup",
    ):
        assert plain.get(url).status_code == 403, url
    token = csrf(plain)
    assert plain.post(f"/records/{secret.id}/accept", data={"csrf_token": token}).status_code == 403
    assert (
        plain.post(
            f"/records/{secret.id}/return",
            data={"csrf_token": token, "comment:_record": "x"},
        ).status_code
        == 403
    )
    with get_state(app).db.ReadSession() as s:
        assert s.get(M.Record, secret.id).status == "received"  # type: ignore[union-attr]
    total_plain = int(re.search(r"共 (\d+) 条记录", text(plain.get("/records"))).group(1))  # type: ignore[union-attr]

    boss = logged_in(app, "boss", "reviewer", ethics=True)
    html = text(boss.get("/records"))
    assert int(re.search(r"共 (\d+) 条记录", html).group(1)) == total_plain + 2  # type: ignore[union-attr]
    assert "师德师风记录" in html
    before = len(audit_entries(app, "record.view"))
    html = text(boss.get(f"/records/{secret.id}"))
    assert "保密内容-Z9" in html
    text(boss.get(f"/records/{dropout.id}"))
    views = audit_entries(app, "record.view")[before:]
    assert [(e.actor, e.object_id) for e in views] == [("boss", secret.id), ("boss", dropout.id)]
    # Plain records are not audited per view.
    text(boss.get(f"/records/{county['revised']}"))
    assert len(audit_entries(app, "record.view")) == before + 2
    assert "教师：李娜" in text(boss.get("/records?form=teacher_ethics"))
    # The unfiltered list showed both sensitive records (issue 12.5), then the filtered one.
    unfiltered, listed = audit_entries(app, "records.list_view")
    assert unfiltered.object_id is None
    assert set(unfiltered.details["sensitive_records"]) == {secret.id, dropout.id}
    assert listed.actor == "boss" and listed.object_id == "teacher_ethics"
    r = boss.get("/export?form=teacher_ethics")
    assert r.status_code == 200 and r.mimetype == XLSX


# -- escaping -------------------------------------------------------------------------------------------

EVIL = '<script>alert("x")</script>'
FORMULA = '=HYPERLINK("http://x")'


def test_user_text_renders_as_text_everywhere(app: Flask):
    with get_state(app).db.Session.begin() as s:
        bad = school(s, "X01", f"坏学校{EVIL}")
        rec = record(
            s,
            bad,
            inspection(
                inspectors=EVIL,
                remarks=FORMULA,
                hazards=[{**inspection()["hazards"][0], "location": EVIL, "description": FORMULA}],
            ),
            received=dt.datetime(2026, 11, 21),
        )
        record(s, bad, teacher("T001", EVIL), form_id="teachers")
    c = logged_in(app, "rev1", "reviewer")
    for url in (
        "/",
        "/?form=safety_inspection&period=2026-11",
        "/records",
        f"/records/{rec.id}",
        f"/records/{rec.id}/return",
        "/hazards",
        "/export",
    ):
        html = text(c.get(url))
        assert "<script>alert" not in html, url
    html = text(c.get(f"/records/{rec.id}"))
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "=HYPERLINK(&#34;http://x&#34;)" in html
    r = c.post(
        f"/records/{rec.id}/return",
        data={"csrf_token": csrf(c), "server_revision": "1", "comment:remarks": EVIL},
    )
    assert r.status_code == 302
    html = text(c.get(f"/records/{rec.id}"))
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<script>alert" not in text(c.get("/hazards"))


# -- hazards --------------------------------------------------------------------------------------------


def test_hazards_page_filters_and_counts(app: Flask, county: dict[str, Any]):
    c = logged_in(app, "viewer1", "viewer")
    html = text(c.get("/hazards"))
    listed = rows_with(table(html, "hazard-list"), "record")
    assert len(re.findall(r"<tr data-record=", html)) == 6
    assert re.search(r'id="open-total">5<', html) and re.search(r'id="overdue-total">1<', html)
    counts = rows_with(table(html, "hazard-counts"), "school")
    assert re.findall(r'class="num">(?:<strong[^>]*>)?(\d+)', counts["S003"]) == ["1", "1", "1"]
    assert re.findall(r'class="num">(?:<strong[^>]*>)?(\d+)', counts["S001"]) == ["2", "1", "0"]
    # Links go to the hazard on its record page.
    assert re.search(r'href="/records/[0-9a-f-]{36}#hazards-\d"', html)
    assert listed

    overdue = text(c.get("/hazards?overdue=1"))
    assert len(re.findall(r"<tr data-record=", overdue)) == 1
    assert "校门口" in overdue and "逾期 1 天" in overdue
    assert len(re.findall(r"<tr data-record=", text(c.get("/hazards?severity=serious")))) == 1
    assert len(re.findall(r"<tr data-record=", text(c.get("/hazards?status=rectified")))) == 1
    assert len(re.findall(r"<tr data-record=", text(c.get("/hazards?open=1")))) == 5
    s005 = county["schools"]["S005"].id
    assert len(re.findall(r"<tr data-record=", text(c.get(f"/hazards?school={s005}")))) == 2
    assert c.get("/hazards?severity=huge").status_code == 400
    assert c.get("/hazards?school=x").status_code == 400


def test_anonymous_visitors_go_to_login(app: Flask, county: dict[str, Any]):
    c = app.test_client()
    rid = county["revised"]
    for url in (
        "/",
        "/overview.xlsx?form=safety_inspection",
        "/records",
        f"/records/{rid}",
        f"/records/{rid}/return",
        f"/records/{rid}/files/{'0' * 64}",
        "/hazards",
        "/export",
        "/export?form=safety_inspection",
    ):
        r = c.get(url)
        assert r.status_code == 302 and "/login" in r.headers["Location"], url
