"""Identifiers on the server (issue 9): a form id or version outside forms/identifiers.py is refused at every
publishing door - the CLI, the dashboard upload, the service itself - with an error naming the field and the
rule; a school code likewise; and a version published before the rules (`2026/1`, already in a database) can
still be fetched by its quoted URL, so devices are not stuck on it and the bureau can withdraw it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from forms.catalog import DEFINITIONS_DIR
from forms.loader import load_yaml
from forms.model import FormDef
from forms.serialize import to_yaml
from forms.xlsform import write_xlsform
from sync_server import models as M
from sync_server.errors import ServiceError
from sync_server.services.changes import form_change, write_changes
from sync_server.services.common import naive_utc, sha256_hex
from sync_server.services.forms import publish_form
from sync_server.services.schools import add_school
from sync_server.state import get_state
from tests.server.conftest import START, LiveServer, assert_error
from tests.server.test_cli import last_json, one_line_error, run, run_here
from tests.server.test_dashboard_admin import Admin, admin, upload  # noqa: F401 - fixture

TEACHERS = DEFINITIONS_DIR / "teachers.yaml"


def with_version(form: FormDef, version: str) -> FormDef:
    return dataclasses.replace(form, settings=dataclasses.replace(form.settings, version=version))


def insert_legacy_version(live: LiveServer, form: FormDef) -> M.FormVersion:
    """A version stored before the identifier rules existed: straight into the tables, as publish did then."""
    definition = to_yaml(form)
    with get_state(live.app).db.Session.begin() as s:
        fv = M.FormVersion(
            form_id=form.form_id,
            version=form.version,
            sha256=sha256_hex(definition),
            title_zh=form.title.get("zh") or form.form_id,
            published_at=naive_utc(START),
            definition=definition,
        )
        s.add(fv)
        s.flush()
        write_changes(s, [form_change(fv)], now=naive_utc(START))
        s.expunge(fv)
    return fv


# -- publishing -------------------------------------------------------------------------------------


def test_the_cli_refuses_a_version_with_a_slash(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    text = TEACHERS.read_text(encoding="utf-8").replace("version: '2026.1'", "version: '2026/1'")
    path = tmp_path / "teachers.yaml"
    path.write_text(text, encoding="utf-8")
    r = run("publish-form", str(path), "--json", db=db, instance=tmp_path, check=2)
    line = one_line_error(r)
    assert "teachers.yaml" in line and "version" in line and "2026/1" in line
    assert "斜杠" in line and "no slash" in line
    err = last_json(r)["error"]
    assert err["code"] == "form_invalid"
    assert err["details"]["errors"][0]["code"] == "invalid_identifier"


def test_the_cli_refuses_a_formula_version_in_an_xlsform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    path = tmp_path / "teachers.xlsx"
    write_xlsform(load_yaml(TEACHERS), path)
    wb = load_workbook(path)
    ws = wb["settings"]
    col = [c.value for c in ws[1]].index("version") + 1
    ws.cell(row=2, column=col).value = "=1+1"
    ws.cell(row=2, column=col).data_type = "s"  # the text, as a clerk would type it with a quote
    wb.save(path)
    r = run_here(capsys, "publish-form", str(path), "--json", db=db, instance=tmp_path, check=2)
    line = one_line_error(r)
    assert "sheet settings" in line and "column version" in line


def test_the_dashboard_upload_lists_the_bad_version_with_its_location(admin: Admin):  # noqa: F811
    text = TEACHERS.read_text(encoding="utf-8").replace("version: '2026.1'", "version: 2026 v2")
    r = upload(admin, admin.client(), "名册.yaml", text.encode())
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    rows = re.findall(r'<tr class="form-error">(.*?)</tr>', page, re.S)
    assert len(rows) == 1
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "|", rows[0]))
    assert "名册.yaml" in cells and "version" in cells and "invalid_identifier" in cells
    assert "版本号（version）“2026 v2”无效" in cells


def test_the_service_refuses_a_bad_identifier_however_the_form_was_made(live: LiveServer):
    form = load_yaml(TEACHERS)
    for bad, field in ((with_version(form, "2026/1"), "version"),):
        with live.session() as s, pytest.raises(ServiceError) as info:
            publish_form(s, bad, now=START)
        assert info.value.code == "bad_identifier" and info.value.status == 422
        assert info.value.details["field"] == field
        assert "2026/1" in info.value.message_zh and "no slash" in info.value.message_en
    bad_id = dataclasses.replace(form, settings=dataclasses.replace(form.settings, form_id="a/b"))
    with live.session() as s, pytest.raises(ServiceError) as info:
        publish_form(s, bad_id, now=START)
    assert info.value.details["field"] == "form_id"
    assert live.count(M.FormVersion, M.FormVersion.version == "2026/1") == 0


@pytest.mark.parametrize("code", ["S 1", "S/1", "-S1", "学校1", "S1\x00", "x" * 33])
def test_a_bad_school_code_names_the_rule(live: LiveServer, code: str):
    with live.session() as s, pytest.raises(ServiceError) as info:
        add_school(s, code=code, name="某小学", now=START)
    assert info.value.code == "bad_school_code"
    assert "学校代码（school_code）" in info.value.message_zh
    assert "at most 32 characters" in info.value.message_en


# -- a legacy bad version -----------------------------------------------------------------------------


def test_a_legacy_version_with_a_slash_is_served_by_its_quoted_url(live: LiveServer):
    legacy = insert_legacy_version(live, with_version(load_yaml(TEACHERS), "2026/1"))
    dev = live.device()
    r = dev.http.get(dev.url(f"/api/v1/forms/teachers/{quote('2026/1', safe='')}"), timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == "2026/1" and body["sha256"] == legacy.sha256
    assert sha256_hex(body["definition"]) == legacy.sha256
    # What an old client sent (unquoted) reaches the same version; an unknown one is still a JSON 404.
    assert dev.http.get(dev.url("/api/v1/forms/teachers/2026/1"), timeout=10).status_code == 200
    missing = dev.http.get(dev.url("/api/v1/forms/teachers/2026%2F9"), timeout=10)
    err = assert_error(missing, 404, "unknown_form")
    assert err["details"]["version"] == "2026/9"
