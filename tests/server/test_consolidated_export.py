"""The consolidated export (汇总表): /export and `sync-server export --period`, in the client's layout plus
school columns and a summary sheet; formula-like text stays text; audited; sensitive forms need ethics."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from sync_server import models as M
from sync_server.cli import main as cli_main
from sync_server.errors import ServiceError
from sync_server.export import SUMMARY_TITLE, export_form
from sync_server.state import get_state
from tests.server.conftest import MovableClock, inspection
from tests.server.dashboard_seed import UTC8, demo, local, logged_in, make_app, record, school

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RISKY = ['=HYPERLINK("http://x")', "+86 138", "-危险", "@SUM(A1)", "\t制表", "\r回车", "=1+1"]


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Flask]:
    path = tmp_path / "export.db"
    shutil.copyfile(sqlite_template, path)
    made = make_app(
        f"sqlite:///{path}", tmp_path / "instance", MovableClock(NOW), LOGIN_FAILURE_DELAY=0
    )
    yield made
    get_state(made).db.close()


def sheet_xml(body: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        return {
            n: z.read(n).decode("utf-8")
            for n in z.namelist()
            if n.startswith("xl/worksheets/sheet")
        }


def test_export_of_one_period_with_the_summary_sheet_first(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # This process's temporary files in a folder of its own: another worker's export does not show up.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with get_state(app).db.Session.begin() as s:
        county = demo(s)
    c = logged_in(app, "viewer1", "viewer")
    page = c.get("/export")
    assert page.status_code == 200 and "汇总表导出" in page.get_data(as_text=True)
    before = set(Path(tempfile.gettempdir()).glob("sync-export-*"))
    r = c.get("/export?form=safety_inspection&period=2026-11")
    assert r.status_code == 200 and r.mimetype == XLSX
    assert (
        "filename*=UTF-8''%E6%B1%87%E6%80%BB%E8%A1%A8_safety_inspection_2026-11.xlsx"
        in (r.headers["Content-Disposition"])
    )
    body = r.get_data()
    assert int(r.headers["Content-Length"]) == len(body)
    r.close()
    assert set(Path(tempfile.gettempdir()).glob("sync-export-*")) == before  # the file is gone

    wb = load_workbook(io.BytesIO(body))
    assert wb.sheetnames[:3] == [SUMMARY_TITLE, "校园安全隐患排查整治记录", "隐患清单"]
    assert wb.active.title == SUMMARY_TITLE
    main = wb["校园安全隐患排查整治记录"]
    names = [c.value for c in main[2]]
    assert names[:4] == ["_school_code", "_school_name", "_uuid", "_status"]
    col = {n: i for i, n in enumerate(names)}
    rows = list(main.iter_rows(min_row=3, values_only=True))
    assert sorted(r[col["_school_code"]] for r in rows) == ["S001", "S002", "S003", "S004", "S005"]
    assert all(r[col["inspection_date"]].month == 11 for r in rows)  # October's are left out
    assert county["revised"] in {r[col["_uuid"]] for r in rows}

    summary = list(wb[SUMMARY_TITLE].iter_rows(values_only=True))
    assert summary[0] == (
        "学校代码",
        "学校名称",
        "报送情况",
        "首次报送时间（北京时间）",
        "记录数",
        "教育局已收到",
        "已退回",
        "已确认",
    )
    by_code = {row[0]: row for row in summary[1:-1]}
    assert len(by_code) == 10  # every school expected for November, reported or not
    assert by_code["S001"][2:5] == ("按时", dt.datetime(2026, 11, 6, 16, 0), 1)
    assert by_code["S004"][4:] == (1, 0, 0, 1)  # accepted
    assert by_code["S006"][2:] == ("未报", None, 0, 0, 0, 0)
    total = summary[-1]
    assert total[0] == "合计" and total[1] == "10 所学校" and total[4] == 5
    assert total[2] == "报送率 50%，及时率 50%"
    meta = {k: v for k, v in wb["_meta"].iter_rows(values_only=True)}
    assert meta["period"] == "2026-11" and meta["records"] == 5

    [entry] = [
        e for e in _audit(app) if e.action == "form.export" and e.object_id == "safety_inspection"
    ]
    assert entry.actor == "viewer1"
    assert entry.details["records"] == 5 and entry.details["period"] == "2026-11"


def _audit(app: Flask) -> list[M.AuditEntry]:
    with get_state(app).db.ReadSession() as s:
        return list(s.execute(select(M.AuditEntry).order_by(M.AuditEntry.id)).scalars())


def test_formula_like_text_and_script_are_exported_as_text(app: Flask):
    with get_state(app).db.Session.begin() as s:
        bad = school(s, "X01", '=HYPERLINK("http://x")')
        for i, risky in enumerate(RISKY):
            record(
                s,
                bad,
                inspection(
                    inspectors="<script>alert(1)</script>",
                    remarks=risky,
                    hazards=[{**inspection()["hazards"][0], "location": risky}],
                ),
                received=local(2026, 11, 1 + i),
            )
    c = logged_in(app, "viewer1", "viewer")
    for url in ("/export?form=safety_inspection", "/export?form=safety_inspection&period=2026-11"):
        r = c.get(url)
        assert r.status_code == 200
        body = r.get_data()
        for name, xml in sheet_xml(body).items():
            assert "<f>" not in xml and "<f " not in xml, name  # no formula anywhere
        wb = load_workbook(io.BytesIO(body))
        main = wb["校园安全隐患排查整治记录"]
        names = [c.value for c in main[2]]
        remarks = names.index("remarks")
        cells = [row[remarks] for row in main.iter_rows(min_row=3)]
        # (Excel reads the _x000D_ escape as CR; openpyxl leaves it escaped.)
        assert sorted(c.value.replace("_x000D_", "\r") for c in cells) == sorted(RISKY)
        assert all(c.data_type == "s" for c in cells)
        assert {
            row[names.index("inspectors")] for row in main.iter_rows(min_row=3, values_only=True)
        } == {"<script>alert(1)</script>"}
        assert {row[0].value for row in wb[SUMMARY_TITLE].iter_rows(min_row=2)} >= {"X01"}
        names_cells = [
            row[1] for row in wb[SUMMARY_TITLE].iter_rows(min_row=2) if row[0].value == "X01"
        ]
        assert names_cells[0].value == '=HYPERLINK("http://x")' and names_cells[0].data_type == "s"
        hazards = list(wb["隐患清单"].iter_rows(min_row=3))
        assert sorted(row[0].value for row in hazards) == ["X01"] * len(RISKY)


def test_export_refuses_bad_periods_unknown_forms_and_hidden_forms(app: Flask):
    c = logged_in(app, "viewer1", "viewer")
    r = c.get("/export?form=safety_inspection&period=2026-W48")
    assert r.status_code == 422 and "不是有效的报送周期" in r.get_data(as_text=True)
    assert c.get("/export?form=teacher_ethics&period=2026-11").status_code == 403
    assert c.get("/export?form=no_such_form").status_code == 404
    r = c.get("/export?form=teachers&period=2026-11")
    assert r.status_code == 422 and "不按周期报送" in r.get_data(as_text=True)
    assert not [e for e in _audit(app) if e.action == "form.export"]


def test_export_function_filters_by_period_on_each_backend(ready_db_url: str, tmp_path: Path):
    """The period filter reads the JSON answer in SQL: the same on SQLite and PostgreSQL."""
    made = make_app(ready_db_url, tmp_path / "instance")
    db = get_state(made).db
    try:
        with db.Session.begin() as s:
            a = school(s, "A01", "城关镇中心小学")
            b = school(s, "B02", "河口乡小学")
            record(s, a, inspection(inspection_date="2026-11-30"), received=local(2026, 12, 1))
            record(s, a, inspection(inspection_date="2026-12-01"), received=local(2026, 12, 1))
            record(s, b, inspection(inspection_date="2026-11-01"), received=local(2026, 12, 9))
            record(s, b, inspection(inspection_date="2026-11-02"), status=M.Status.DELETED)
        out = tmp_path / "汇总.xlsx"
        result = export_form(
            db.ReadSession, "safety_inspection", out, now=NOW, period="2026-11", utc_offset=UTC8
        )
        assert (result.records, result.schools, result.period) == (2, 2, "2026-11")
        wb = load_workbook(out)
        summary = {row[0]: row for row in wb[SUMMARY_TITLE].iter_rows(min_row=2, values_only=True)}
        assert summary["A01"][2] == "按时" and summary["B02"][2] == "逾期"
        everything = export_form(db.ReadSession, "safety_inspection", out, now=NOW)
        assert everything.records == 3 and everything.period is None
        summary_all = list(load_workbook(out)[SUMMARY_TITLE].iter_rows(values_only=True))
        assert summary_all[0] == (
            "学校代码",
            "学校名称",
            "记录数",
            "教育局已收到",
            "已退回",
            "已确认",
        )
        with pytest.raises(ServiceError) as err:
            export_form(db.ReadSession, "safety_inspection", out, now=NOW, period="2026-13")
        assert err.value.code == "bad_period"
    finally:
        db.close()


def test_cli_export_with_a_period(
    ready_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    made = make_app(ready_db_url, tmp_path / "instance")
    db = get_state(made).db
    with db.Session.begin() as s:
        a = school(s, "A01")
        record(s, a, inspection(inspection_date="2026-11-30"))
        record(s, a, inspection(inspection_date="2026-10-30"))
    db.close()
    out = tmp_path / "十一月.xlsx"
    common = ("--db", ready_db_url, "--instance", str(tmp_path / "instance"), "--json")
    code = cli_main(
        ["export", "--form", "safety_inspection", "--period", "2026-11", str(out), *common]
    )
    printed = capsys.readouterr().out.strip().splitlines()
    assert code == 0, printed
    assert '"period": "2026-11"' in printed[-1] and '"records": 1' in printed[-1]
    assert load_workbook(out).sheetnames[0] == SUMMARY_TITLE
    code = cli_main(
        ["export", "--form", "safety_inspection", "--period", "11月", str(out), *common]
    )
    assert code == 2
    assert re.search(r"不是有效的报送周期", capsys.readouterr().err)
