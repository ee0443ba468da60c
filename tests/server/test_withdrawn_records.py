"""Records of a form whose every version was withdrawn are kept (docs/forms.md): they stay listed, reviewable
and exportable on the dashboard and by `sync-server export`, laid out by the form's newest version. The
form is no longer expected for reporting rates: no school can fill it in any more."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from sync_server import reporting
from sync_server.services.forms import latest_forms, withdraw_form
from tests.server.conftest import START, LiveServer, change, inspection
from tests.server.test_cli import last_json, run_here
from tests.server.test_dashboard_security import PASSWORD, add_staff, login

FORM = "safety_inspection"


def _withdrawn_with_records(live: LiveServer) -> list[str]:
    dev = live.device()
    pushed = [change(inspection(remarks=f"记录{i}")) for i in range(2)]
    dev.push_ok(pushed)
    with live.session() as s, s.begin():
        assert withdraw_form(s, FORM, "2026.1", now=START, actor="tester").current is None
    late = change(inspection(remarks="撤回后才推送"))  # a PC that had not heard yet: still applied
    assert dev.push_ok([late])[0]["result"] == "applied"
    return [c["record_id"] for c in [*pushed, late]]


def _staff(live: LiveServer) -> FlaskClient:
    with live.session() as s, s.begin():
        add_staff(s, "viewer", "viewer", True, START.replace(tzinfo=None))
    c = live.app.test_client()
    assert login(c, "viewer", PASSWORD).status_code == 302
    return c


def test_the_cli_exports_the_records_of_a_withdrawn_form(
    live: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    ids = _withdrawn_with_records(live)
    out = tmp_path / "withdrawn.xlsx"
    r = last_json(
        run_here(
            capsys,
            "export",
            "--form",
            FORM,
            str(out),
            "--json",
            db=live.app.config["DATABASE_URL"],
            instance=tmp_path,
        )
    )
    assert r["records"] == 3 and r["version"] == "2026.1"
    sheet = load_workbook(out)[r["sheets"][0]]
    names = [c.value for c in sheet[2]]
    exported = {row[names.index("_uuid")] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert exported == set(ids)


def test_the_dashboard_lists_shows_and_exports_a_withdrawn_forms_records(live: LiveServer):
    ids = _withdrawn_with_records(live)
    c = _staff(live)
    listing = c.get(f"/records?form={FORM}")
    assert listing.status_code == 200
    page = listing.get_data(as_text=True)
    assert all(record_id in page for record_id in ids)
    detail = c.get(f"/records/{ids[0]}")
    assert detail.status_code == 200 and "记录0" in detail.get_data(as_text=True)
    assert f'value="{FORM}"' in c.get("/export").get_data(as_text=True)  # still offered for export
    export = c.get(f"/export?form={FORM}")
    assert export.status_code == 200
    wb = load_workbook(io.BytesIO(export.get_data()))
    assert wb.worksheets[1].max_row == 2 + len(ids)  # labels, names, then the records


def test_a_withdrawn_form_is_no_longer_expected_for_reporting(live: LiveServer):
    _withdrawn_with_records(live)
    with live.session() as s:
        assert FORM not in {fv.form_id for fv in latest_forms(s)}  # not offered to devices
        assert FORM in {fv.form_id for fv in latest_forms(s, include_withdrawn=True)}
        periodic = reporting.periodic_forms(s, include_sensitive=True)
        assert FORM not in {fv.form_id for fv, _ in periodic}
        found = reporting.latest_form(s, FORM)
        assert found is not None and found[0].version == "2026.1"
