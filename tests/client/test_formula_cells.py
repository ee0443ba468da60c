"""No cell the client writes is a formula: answers, the hidden _meta sheet (a form version "=1+1" became a
live formula there, issue 9), headers; and the XLSForm writer, whose labels are the bureau's text."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from client.context import ClientContext
from client.excel import export_records, import_file
from client.store.formset import FormSet
from forms.cells import RISKY_START, SafeCells
from forms.model import FormDef
from forms.text import Text
from forms.xlsform import read_xlsform, write_xlsform
from tests.client import FORMS, TEACHERS, make_ctx, save

RISKY = [
    "=1+1",
    '=HYPERLINK("http://x","点我")',
    "+86 138",
    "-危险",
    "@SUM(A1)",
    "\t制表",
    "\r回车",
]


def with_version(form: FormDef, version: str) -> FormDef:
    return dataclasses.replace(form, settings=dataclasses.replace(form.settings, version=version))


def formulas(path: Path) -> list[str]:
    """Every formula cell in the workbook (openpyxl's data_type 'f') and every <f> element in its XML."""
    found = []
    wb = load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            found += [f"{ws.title}!{c.coordinate}={c.value!r}" for c in row if c.data_type == "f"]
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and (
                b"<f>" in z.read(name) or b"<f " in z.read(name)
            ):
                found.append(name)
    return found


def meta(path: Path) -> dict[str, Any]:
    ws = load_workbook(path)["_meta"]
    return {row[0].value: row[1] for row in ws.iter_rows() if row[0].value}


@pytest.fixture
def ctx(tmp_path: Path):
    forms = FormSet(dict(FORMS.latest), dict(FORMS.versions))
    risky = with_version(FORMS.get("teachers"), "=1+1")
    forms.versions[("teachers", "=1+1")] = forms.latest["teachers"] = risky
    context = make_ctx(tmp_path / "school")
    context.forms = forms
    yield context
    context.close()


def test_client_export_writes_no_formula_anywhere(ctx: ClientContext, tmp_path: Path):
    assert ctx.forms.get("teachers").version == "=1+1"
    for i, risky in enumerate(RISKY):
        save(ctx, "teachers", {**TEACHERS[0], "teacher_id": f"R{i}", "name": risky, "title": risky})
    out = tmp_path / "teachers.xlsx"
    assert export_records(ctx, "teachers", out) == len(RISKY)
    assert formulas(out) == []
    version = meta(out)["form_version"]
    assert (version.value, version.data_type) == ("=1+1", "s")
    sheet = load_workbook(out).worksheets[0]
    column = [c.value for c in sheet[2]].index("name")
    cells = [row[column] for row in sheet.iter_rows(min_row=3)]
    assert sorted(c.value.replace("_x000D_", "\r") for c in cells) == sorted(RISKY)
    assert {c.data_type for c in cells} == {"s"}
    # and the file imports back (its _meta names the same form), every value as it was
    assert import_file(ctx, "teachers", out).total == len(RISKY)


def test_safe_cells_make_every_risky_start_a_string(tmp_path: Path):
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("s")
    cells = SafeCells(ws)
    values = [f"{start}1+1" for start in RISKY_START] + ["#REF!", "=", "plain"]
    ws.append(cells.row(values))
    ws.append([cells.header("=title")])
    wb.save(tmp_path / "s.xlsx")
    assert formulas(tmp_path / "s.xlsx") == []
    row = next(load_workbook(tmp_path / "s.xlsx")["s"].iter_rows())
    assert all(c.data_type == "s" for c in row)
    assert [c.quotePrefix for c in row] == [True] * (len(RISKY_START) + 2) + [False]


def test_xlsform_writer_keeps_formula_like_text_as_text(tmp_path: Path):
    form = FORMS.get("teachers")
    first = form.fields[0]
    risky = dataclasses.replace(
        first,
        label=Text.of({"zh": '=HYPERLINK("http://x")', "en": "+1"}),
        hint=Text.of({"zh": "@SUM(A1)"}),
    )
    form = dataclasses.replace(form, fields=(risky, *form.fields[1:]))
    path = tmp_path / "teachers.xlsx"
    write_xlsform(form, path)
    assert formulas(path) == []
    back = read_xlsform(path).form.fields[0]
    assert back.label.get("zh") == '=HYPERLINK("http://x")' and back.label.get("en") == "+1"
    assert back.hint.get("zh") == "@SUM(A1)"
