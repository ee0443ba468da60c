"""Workbooks that would take the machine down (zip bombs, huge shared-strings tables, DTDs) are refused before
openpyxl parses them, with a catalogue error naming the file, the part and the limit (issue 9)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from forms.errors import FormDefinitionError, FormError
from forms.safe_xlsx import XLSFORM_LIMITS, XlsxLimits, open_workbook, sheet_rows
from forms.xlsform import read_xlsform
from tests.support.bombs import (
    PYTHON,
    _rewrite,
    dtd_workbook,
    run_measured,
    shared_strings_bomb,
    whitespace_bomb,
    xlsform_workbook,
)

SHEET = "xl/worksheets/sheet1.xml"


def refused(path: Path) -> FormError:
    with pytest.raises(FormDefinitionError) as info:
        read_xlsform(path)
    (error,) = info.value.errors
    assert error.location.file == str(path)
    assert error.message_zh and error.message_en
    return error


def graft(tmp_path: Path, name: str, parts: dict[str, bytes | list[bytes]]) -> Path:
    base = xlsform_workbook(tmp_path / f"{name}-base.xlsx")
    target = tmp_path / f"{name}.xlsx"
    _rewrite(base, target, parts)
    return target


def sheet_xml(tmp_path: Path) -> bytes:
    with zipfile.ZipFile(xlsform_workbook(tmp_path / "plain.xlsx")) as z:
        return z.read(SHEET)


def test_a_plain_xlsform_still_reads(tmp_path: Path):
    form = read_xlsform(xlsform_workbook(tmp_path / "demo.xlsx")).form
    assert [f.name for f in form.all_fields()] == ["school_name"]


def test_whitespace_bomb_is_refused_by_its_compression_ratio(tmp_path: Path):
    path = whitespace_bomb(tmp_path / "blanks.xlsx", mib=48)
    assert path.stat().st_size < 200_000
    error = refused(path)
    assert error.code == "xlsx_ratio"
    assert SHEET in error.message_en and "压缩炸弹" in error.message_zh


def test_shared_strings_bomb_is_refused_by_the_size_of_the_table(tmp_path: Path):
    path = shared_strings_bomb(tmp_path / "strings.xlsx", strings=600_000)
    error = refused(path)
    assert error.code == "xlsx_too_large"
    assert "xl/sharedStrings.xml" in error.message_en
    assert str(XLSFORM_LIMITS.max_shared_strings_bytes) in error.message_en


def test_dtd_is_refused(tmp_path: Path):
    error = refused(dtd_workbook(tmp_path / "dtd.xlsx"))
    assert error.code == "xlsx_dtd"
    assert SHEET in error.message_en


def test_forms_check_refuses_every_bomb_in_bounded_memory(tmp_path: Path):
    bombs = [
        whitespace_bomb(tmp_path / "blanks.xlsx", mib=256),
        shared_strings_bomb(tmp_path / "strings.xlsx", strings=600_000),
        dtd_workbook(tmp_path / "dtd.xlsx"),
    ]
    run = run_measured([PYTHON, "-m", "forms", "check", *map(str, bombs)], cwd=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    for code in ("xlsx_ratio", "xlsx_too_large", "xlsx_dtd"):
        assert f"[{code}]" in run.stdout
    assert "3 with problems" in run.stdout
    assert run.peak_mb < 200, run.peak_mb


def test_too_many_rows_even_as_a_gap(tmp_path: Path):
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label"])
    ws.cell(row=1_000_000, column=1, value="text")
    wb.save(tmp_path / "tall.xlsx")
    error = refused(tmp_path / "tall.xlsx")
    assert error.code == "xlsx_too_many_rows"
    assert error.location.sheet == "survey"
    assert str(XLSFORM_LIMITS.max_rows) in error.message_en


def test_too_many_columns(tmp_path: Path):
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label"])
    ws.cell(row=2, column=XLSFORM_LIMITS.max_columns + 1, value="far")
    wb.save(tmp_path / "wide.xlsx")
    error = refused(tmp_path / "wide.xlsx")
    assert error.code == "xlsx_too_many_columns"
    assert (error.location.sheet, error.location.line) == ("survey", 2)


def test_row_limit_is_a_parameter(tmp_path: Path):
    path = xlsform_workbook(tmp_path / "demo.xlsx")
    with open_workbook(path, XlsxLimits(max_rows=1)) as wb:
        rows = sheet_rows(wb["survey"], str(path), XlsxLimits(max_rows=1))
        assert next(rows) == ("type", "name", "label")
        with pytest.raises(FormDefinitionError) as info:
            next(rows)
    assert info.value.errors[0].code == "xlsx_too_many_rows"


def test_too_many_parts(tmp_path: Path):
    junk: dict[str, bytes | list[bytes]] = {
        f"junk/{i}.txt": b"x" for i in range(XLSFORM_LIMITS.max_parts)
    }
    path = tmp_path / "parts.xlsx"
    _rewrite(xlsform_workbook(tmp_path / "base.xlsx"), path, {})
    with zipfile.ZipFile(path, "a") as z:
        for name in junk:
            z.writestr(name, b"x")
    assert refused(path).code == "xlsx_too_many_parts"


def test_utf16_part_is_refused(tmp_path: Path):
    xml = sheet_xml(tmp_path).decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    path = graft(tmp_path, "wide-chars", {SHEET: xml.encode("utf-16")})
    assert refused(path).code == "xlsx_encoding"


def test_long_text_run_is_refused_at_any_ratio(tmp_path: Path):
    text = os.urandom(XLSFORM_LIMITS.max_text_run).hex().encode()  # packs about 2:1
    xml = sheet_xml(tmp_path).replace(b"<sheetData>", b"<sheetData>" + text)
    error = refused(graft(tmp_path, "long", {SHEET: xml}))
    assert error.code == "xlsx_long_text"


def test_a_large_part_that_is_not_a_worksheet_gets_the_small_limit(tmp_path: Path):
    formats = b"".join(
        b'<numFmt numFmtId="%d" formatCode="0.%d"/>' % (i, i) for i in range(150_000)
    )
    styles = (
        b'<?xml version="1.0"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts>'
        + formats
        + b"</numFmts></styleSheet>"
    )
    assert len(styles) > XLSFORM_LIMITS.max_part_bytes
    error = refused(graft(tmp_path, "styles", {"xl/styles.xml": styles}))
    assert error.code == "xlsx_too_large"
    assert "xl/styles.xml" in error.message_en


def test_a_damaged_sheet_is_a_catalogue_error_not_a_traceback(tmp_path: Path):
    xml = sheet_xml(tmp_path)
    cut = xml[: xml.index(b"</sheetData>")]  # the XML stops in the middle
    error = refused(graft(tmp_path, "cut", {SHEET: cut}))
    assert error.code == "xlsx_unreadable"
    assert error.location.sheet == "survey"


def test_not_a_zip(tmp_path: Path):
    path = tmp_path / "text.xlsx"
    path.write_text("hello", encoding="utf-8")
    assert refused(path).code == "xlsx_unreadable"


def test_tags_are_counted_in_the_parts_read_whole(tmp_path: Path):
    from forms.safe_xlsx import check_xlsx

    strings = shared_strings_bomb(tmp_path / "strings.xlsx", strings=600)
    check_xlsx(strings)  # within the real limits
    with pytest.raises(FormDefinitionError) as info:
        check_xlsx(strings, XlsxLimits(max_shared_strings_tags=2000))
    error = info.value.errors[0]
    assert error.code == "xlsx_too_many_tags" and "xl/sharedStrings.xml" in error.message_en
    with pytest.raises(FormDefinitionError) as info:
        check_xlsx(strings, XlsxLimits(max_part_tags=50))  # styles, workbook, rels... together
    assert info.value.errors[0].code == "xlsx_too_many_tags"


def test_to_xlsform_refuses_text_longer_than_a_cell(tmp_path: Path):
    from forms.catalog import DEFINITIONS_DIR
    from tests.support.bombs import PYTHON

    text = (DEFINITIONS_DIR / "teachers.yaml").read_text(encoding="utf-8")
    source = tmp_path / "long.yaml"
    source.write_text(text.replace("label: {zh: 姓名,", f"label: {{zh: {'长' * 40_000},"), "utf-8")
    run = run_measured(
        [PYTHON, "-m", "forms", "to-xlsform", str(source), str(tmp_path / "o.xlsx")], cwd=tmp_path
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "32767" in run.stderr
    assert not (tmp_path / "o.xlsx").exists()


def test_worksheets_typed_by_the_default_content_type_are_streamed_parts(tmp_path: Path):
    """A workbook that types its sheets by extension (no Override per sheet) is read like any other."""
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label"])
    for i in range(
        XLSFORM_LIMITS.max_part_tags // 8
    ):  # more tags than the parts read whole may hold
        ws.append(["text", f"q{i}", f"题{i}"])
    wb.save(tmp_path / "plain.xlsx")
    with zipfile.ZipFile(tmp_path / "plain.xlsx") as z:
        types = z.read("[Content_Types].xml").decode()
    worksheet = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    override = f'<Override PartName="/{SHEET}" ContentType="{worksheet}"/>'
    assert override in types
    types = types.replace(override, "").replace(
        'ContentType="application/xml"', f'ContentType="{worksheet}"'
    )
    path = graft(tmp_path, "by-extension", {})
    _rewrite(tmp_path / "plain.xlsx", path, {"[Content_Types].xml": types.encode()})
    assert len(read_xlsform(path).form.all_fields()) == XLSFORM_LIMITS.max_part_tags // 8


def test_a_part_read_whole_never_gets_the_worksheet_limits(tmp_path: Path):
    """Typing every .xml part as a worksheet does not let styles.xml grow like a sheet."""
    with zipfile.ZipFile(xlsform_workbook(tmp_path / "plain.xlsx")) as z:
        types = z.read("[Content_Types].xml").decode()
    worksheet = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    types = types.replace('ContentType="application/xml"', f'ContentType="{worksheet}"')
    types = types.replace(
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.styles+xml"/>',
        "",
    )
    from tests.support.bombs import styles_part

    styles = styles_part(XLSFORM_LIMITS.max_part_tags + 10)
    path = graft(
        tmp_path,
        "styles-as-sheet",
        {"[Content_Types].xml": types.encode(), "xl/styles.xml": styles},
    )
    error = refused(path)
    assert error.code == "xlsx_too_many_tags" and "xl/styles.xml" in error.message_en
