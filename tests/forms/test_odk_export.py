"""Our XLSForm exports go back to the ODK world: pyxform (the converter ODK and Kobo use) accepts every
shipped form's export, and the XForm's binds say what ours say."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyxform.xls2xform import convert

from forms.catalog import DEFINITIONS_DIR, definition_files
from forms.cli import main
from forms.loader import load_yaml
from forms.model import Field, FieldType, FormDef
from forms.serialize import flag_value
from forms.xlsform import read_xlsform, repeat_bounds_constraint, write_xlsform

FORM_FILES = definition_files(DEFINITIONS_DIR)
XF = "{http://www.w3.org/2002/xforms}"


def _fields(fields: tuple[Field, ...], prefix: str) -> Iterator[tuple[str, Field]]:
    for f in fields:
        path = f"{prefix}/{f.name}"
        yield path, f
        yield from _fields(f.children, path)


def _plain(xpath: str) -> str:
    """pyxform's `/data/g/x` and `../x` back to `${x}`, spaces dropped, for comparison with our source."""
    text = re.sub(
        r"(?:/data(?:/[\w-]+)+|(?:\.\./)+[\w-]+)",
        lambda m: "${" + m.group(0).rsplit("/", 1)[1] + "}",
        xpath,
    )
    return re.sub(r"\s+", "", text)


def _ours(source: str) -> str:
    return re.sub(r"\s+", "", source)


def _binds(xform: str) -> dict[str, dict[str, str]]:
    root = ET.fromstring(xform)
    return {b.attrib["nodeset"]: b.attrib for b in root.iter(f"{XF}bind")}


def _export(form: FormDef, tmp_path: Path) -> str:
    out = tmp_path / f"{form.form_id}.xlsx"
    write_xlsform(form, out)
    return convert(xlsform=str(out), validate=False).xform


@pytest.mark.parametrize("path", FORM_FILES, ids=lambda p: p.stem)
def test_pyxform_converts_every_shipped_form_and_binds_match(path: Path, tmp_path: Path):
    form = load_yaml(path)
    xform = _export(form, tmp_path)
    binds = _binds(xform)
    root = ET.fromstring(xform)
    title = root.find("{http://www.w3.org/1999/xhtml}head/{http://www.w3.org/1999/xhtml}title")
    assert title is not None and title.text == form.settings.title.get(
        form.settings.default_language
    )
    for xpath, f in _fields(form.fields, "/data"):
        bind = binds.get(xpath, {})
        if f.type is FieldType.NOTE and not f.relevant:
            continue
        required = flag_value(f.required)
        if required is True:
            assert bind.get("required") == "true()", xpath
        elif required is False:
            assert bind.get("required") in (None, "false()"), xpath
        else:
            assert _plain(bind["required"]) == _ours(str(required)), xpath
        for ours, attr in (("relevant", "relevant"), ("calculation", "calculate")):
            expr = getattr(f, ours)
            if expr is None:
                assert attr not in bind, (xpath, attr)
            else:
                assert _plain(bind[attr]) == _ours(expr.source), (xpath, attr)
        constraint = f.constraint.source if f.constraint else repeat_bounds_constraint(f)
        if constraint is None:
            assert "constraint" not in bind, xpath
        else:
            assert _plain(bind["constraint"]) == _ours(constraint), xpath


def test_repeat_bounds_travel_as_a_constraint_and_come_back(tmp_path: Path):
    form = load_yaml(DEFINITIONS_DIR / "safety_inspection.yaml")
    hazards = next(f for _, f in _fields(form.fields, "") if f.name == "hazards")
    assert hazards.min_count == 1
    binds = _binds(_export(form, tmp_path))
    assert _plain(binds["/data/hazards"]["constraint"]) == "count(${hazards})>=1"
    back = read_xlsform(tmp_path / f"{form.form_id}.xlsx")
    assert back.form == form


def test_to_xlsform_says_repeat_bounds_are_not_enforced_by_collect(tmp_path: Path, capsys):
    out = tmp_path / "s.xlsx"
    code = main(["to-xlsform", str(DEFINITIONS_DIR / "safety_inspection.yaml"), str(out)])
    assert code == 0
    err = capsys.readouterr().err
    assert "count(${hazards}) >= 1" in err and "do not enforce" in err


def _workbook(path: Path, survey: list[list[object]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    for row in survey:
        ws.append(row)
    st = wb.create_sheet("settings")
    st.append(["form_id", "version", "form_title", "form_title_en"])
    st.append(["f1", "1", "标题", "Title"])
    wb.save(path)
    return path


def test_an_odk_authors_count_constraint_on_a_repeat_is_its_bounds(tmp_path: Path):
    rows = [
        ["type", "name", "label", "constraint"],
        ["begin_repeat", "kids", "孩子", "count(${kids}) >= 2 and count(${kids}) <= 4"],
        ["text", "kid", "姓名", None],
        ["end_repeat", None, None, None],
    ]
    form = read_xlsform(_workbook(tmp_path / "a.xlsx", rows)).form
    kids = form.fields[0]
    assert (kids.min_count, kids.max_count, kids.constraint) == (2, 4, None)
    assert form.settings.title.get("en", fallback=False) == "Title"


def test_another_constraint_on_a_repeat_is_refused_not_dropped(tmp_path: Path):
    from forms.errors import FormDefinitionError

    rows = [
        ["type", "name", "label", "constraint"],
        ["begin_repeat", "kids", "孩子", "count(${kids}) > 2"],
        ["text", "kid", "姓名", None],
        ["end_repeat", None, None, None],
    ]
    with pytest.raises(FormDefinitionError) as e:
        read_xlsform(_workbook(tmp_path / "a.xlsx", rows))
    err = e.value.errors[0]
    assert (err.code, err.location.line, err.location.column) == (
        "unsupported_feature",
        2,
        "constraint",
    )
