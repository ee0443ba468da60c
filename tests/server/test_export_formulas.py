"""No cell of the consolidated export is a formula, the hidden _meta sheet included: a form version "=1+1"
became a live formula there (issue 9). Versions are checked at publish now (forms.identifiers), so the
version is put in the database as an older server could have stored it."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import update

from sync_server import models as M
from sync_server.export import export_form
from sync_server.state import get_state
from tests.server.conftest import inspection
from tests.server.dashboard_seed import make_app, record, school

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
RISKY = [
    "=1+1",
    '=HYPERLINK("http://x","点我")',
    "+86 138",
    "-危险",
    "@SUM(A1)",
    "\t制表",
    "\r回车",
]


def formulas(path: Path) -> list[str]:
    found = []
    wb = load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            found += [f"{ws.title}!{c.coordinate}={c.value!r}" for c in row if c.data_type == "f"]
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            body = z.read(name)
            if name.startswith("xl/worksheets/") and (b"<f>" in body or b"<f " in body):
                found.append(name)
    return found


def test_consolidated_export_writes_no_formula_anywhere(ready_db_url: str, tmp_path: Path):
    db = get_state(make_app(ready_db_url, tmp_path / "instance")).db
    try:
        with db.Session.begin() as s:
            s.execute(
                update(M.FormVersion)
                .where(M.FormVersion.form_id == "safety_inspection")
                .values(version="=1+1")
            )
            for i, risky in enumerate(RISKY):
                sch = school(s, f"X{i:02d}", risky)
                hazard = {**inspection()["hazards"][0], "location": risky}
                record(s, sch, inspection(remarks=risky, hazards=[hazard]), form_version=risky)
        out = tmp_path / "汇总.xlsx"
        result = export_form(db.ReadSession, "safety_inspection", out, now=NOW)
        assert result.version == "=1+1" and result.records == len(RISKY)
        assert formulas(out) == []
        wb = load_workbook(out)
        meta = {row[0].value: row[1] for row in wb["_meta"].iter_rows() if row[0].value}
        assert (meta["form_version"].value, meta["form_version"].data_type) == ("=1+1", "s")
        main = wb.worksheets[1]
        names = [c.value for c in main[2]]
        for column in ("_school_name", "remarks", "_form_version"):
            cells = [row[names.index(column)] for row in main.iter_rows(min_row=3)]
            assert sorted(c.value.replace("_x000D_", "\r") for c in cells) == sorted(RISKY)
            assert {c.data_type for c in cells} == {"s"}
    finally:
        db.close()
