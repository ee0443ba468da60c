"""forms.safe_workbook, the writer of both record exports (issue 14, goal 4): every cell safe (no formula, the
quote prefix on formula-like text, text XML cannot hold escaped as Excel does), typed cells read back as they
were written, text too long for a cell refused or cut, and nothing left behind by a failed export."""

from __future__ import annotations

import datetime as dt
import tempfile
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from forms.cells import MAX_CELL_TEXT, RISKY_START, TRUNCATED, CellTooLong, xl_unescape
from forms.safe_workbook import Column, SafeWorkbook

RISKY = [f"{start}1+1" for start in RISKY_START] + ["#REF!", "#N/A", "="]
COLUMNS = [Column("a", "甲", 10), Column("b", "=乙", 20)]


def no_formula(path: Path) -> bool:
    with zipfile.ZipFile(path) as z:
        sheets = [z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")]
    return all(b"<f>" not in xml and b"<f " not in xml for xml in sheets)


def test_every_cell_is_safe_and_typed(tmp_path: Path) -> None:
    path = tmp_path / "s.xlsx"
    book = SafeWorkbook(path)
    sheet = book.add_sheet("数据", COLUMNS, names_row=True)
    for text in [*RISKY, "plain", "\r回车\r\n第二行", "_x0041_ 与 \x07 控制符", "坏\ufffe字"]:
        sheet.append([text])
    r = sheet.next_row()
    sheet.number(r, 0, 12345678901234567)  # more digits than Excel keeps: text
    sheet.number(r, 1, 0.1 + 0.2)  # float noise Excel would round away: text
    r = sheet.next_row()
    sheet.date(r, 0, "2026-11-28")
    sheet.time(r, 1, "16:30")
    r = sheet.next_row()
    sheet.datetime(r, 0, "2026-11-20T08:30:00")
    sheet.datetime(r, 1, "2026-11-20T08:30:00+08:00")  # a zone: Excel has none, so text
    r = sheet.next_row()
    sheet.styled(r, 0, 0.9333, "0.0%")
    sheet.any(r, 1, {"x": [1, "二"]})
    sheet.append(["合计", 3], bold=True)
    book.key_value_sheet("_meta", [("form_version", "=1+1"), ("records", 3)])
    book.close()

    assert no_formula(path)
    wb = load_workbook(path)
    ws = wb["数据"]
    assert ws.freeze_panes == "A3" and ws.row_dimensions[2].hidden
    assert ws.column_dimensions["B"].width >= 20
    head = ws["B1"]
    assert (head.value, head.data_type, head.quotePrefix, head.font.b) == ("=乙", "s", True, True)
    assert [c.value for c in ws[2]] == ["a", "b"]
    cells = [ws.cell(3 + i, 1) for i in range(len(RISKY) + 4)]
    assert [xl_unescape(c.value) for c in cells[: len(RISKY)]] == RISKY
    assert all(c.data_type == "s" and c.quotePrefix for c in cells[: len(RISKY)])
    plain, cr, escaped, bad = cells[len(RISKY) :]
    assert not plain.quotePrefix
    assert xl_unescape(cr.value) == "\r回车\r\n第二行"  # Excel's _x000D_, read back by the import
    assert xl_unescape(escaped.value) == "_x0041_ 与 \x07 控制符"
    assert bad.value == "坏\ufffd字"  # a non-character XML cannot hold
    r = 3 + len(RISKY) + 4
    assert (ws.cell(r, 1).value, ws.cell(r, 2).value) == ("12345678901234567", repr(0.1 + 0.2))
    assert ws.cell(r + 1, 1).value == dt.datetime(2026, 11, 28)
    assert ws.cell(r + 1, 1).number_format == "yyyy-mm-dd"
    assert ws.cell(r + 1, 2).value == dt.time(16, 30)
    assert ws.cell(r + 2, 1).value == dt.datetime(2026, 11, 20, 8, 30)
    assert ws.cell(r + 2, 2).value == "2026-11-20T08:30:00+08:00"
    rate = ws.cell(r + 3, 1)
    assert (rate.value, rate.data_type, rate.number_format) == (0.9333, "n", "0.0%")
    assert ws.cell(r + 3, 2).value == '{"x": [1, "二"]}'
    total = [ws.cell(r + 4, c) for c in (1, 2)]
    assert [c.value for c in total] == ["合计", 3] and all(c.font.b for c in total)
    meta = wb["_meta"]
    assert meta.sheet_state == "hidden"
    version = meta["B2"]
    assert (version.value, version.data_type, version.quotePrefix) == ("=1+1", "s", True)


def test_too_long_text_is_refused_or_cut(tmp_path: Path) -> None:
    book = SafeWorkbook(tmp_path / "cut.xlsx")
    sheet = book.add_sheet("s", COLUMNS)
    sheet.append(["长" * 40_000, "😀" * 20_000])  # the second: 40,000 UTF-16 units
    book.close()
    ws = load_workbook(tmp_path / "cut.xlsx")["s"]
    for cell in ws[2]:
        assert cell.value.endswith(TRUNCATED)
        assert len(cell.value.encode("utf-16-le")) // 2 <= MAX_CELL_TEXT

    strict = SafeWorkbook(tmp_path / "refused.xlsx", too_long="raise")
    sheet = strict.add_sheet("s", COLUMNS)
    with pytest.raises(CellTooLong) as caught:
        sheet.append(["short", "长" * 40_000])
    assert caught.value.column == 1


def test_a_discarded_workbook_leaves_no_file_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where each sheet's rows are kept
    out = tmp_path / "out"
    out.mkdir()
    book = SafeWorkbook(out / "half.xlsx")
    for title in ("a", "b"):
        book.add_sheet(title, COLUMNS).append(["x", 1])
    assert list(scratch.iterdir())  # the sheets' row files
    book.discard()
    assert list(scratch.iterdir()) == [] and list(out.iterdir()) == []


def test_text_shaped_like_rich_text_xml_stays_text(tmp_path: Path) -> None:
    """xlsxwriter's constant-memory mode writes a string that starts with <r> and ends with </r> into the
    sheet's XML as it is (taking it for rich text): a clerk's answer could then add cells, a formula among
    them. Such text is written as text like any other."""
    sneaky = '<r></r></is></c><c r="Z9"><f>1+1</f></c><c r="Z10" t="inlineStr"><is><r></r>'
    path = tmp_path / "rich.xlsx"
    book = SafeWorkbook(path)
    sheet = book.add_sheet("s", COLUMNS)
    sheet.append([sneaky, "<r><t>粗体</t></r>"])
    book.close()
    assert no_formula(path)
    ws = load_workbook(path)["s"]
    assert [c.value for c in ws[2]] == [sneaky, "<r><t>粗体</t></r>"]
    assert ws["Z9"].value is None


def test_the_quicker_cell_writer_writes_what_xlsxwriter_writes(tmp_path: Path) -> None:
    """forms.safe_workbook writes text, numbers and dates itself (about twice as fast): byte for byte the XML
    xlsxwriter's own worksheet writes, for every kind of value and format (an xlsxwriter upgrade that
    changes its cells fails here)."""
    import xlsxwriter

    from forms.safe_workbook import _Worksheet

    texts = [
        " 前后空格 ",
        "行\n行",
        "\t制表",
        "控制\x07符",
        "_x0041_",
        'a&b<c>"d"',
        "😀",
        "<r>x</r>",
        "x",
    ]
    xml = []
    for kind in (None, _Worksheet):
        path = tmp_path / f"{kind is None}.xlsx"
        wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        bold, date = wb.add_format({"bold": True}), wb.add_format({"num_format": "yyyy-mm-dd"})
        ws = wb.add_worksheet("s", worksheet_class=kind)
        ws.set_column(3, 3, 12, bold)  # a column format
        ws.set_row(1, None, date, {"hidden": True})  # a row format
        for r in range(3):
            for c, text in enumerate(texts):
                ws.write_string(r, c, text, bold if c % 2 else None)
            ws.write_number(r, len(texts), 12345678.125, date if r else None)
            ws.write_number(r, len(texts) + 1, -3)
            ws.write_datetime(r, len(texts) + 2, dt.datetime(2026, 11, 28, 16, 30, 5), date)
            ws.write_datetime(r, len(texts) + 3, dt.time(16, 30))
            ws.write_blank(r, len(texts) + 4, None, bold)
        wb.close()
        with zipfile.ZipFile(path) as z:
            xml.append(z.read("xl/worksheets/sheet1.xml"))
    assert xml[0] == xml[1]
