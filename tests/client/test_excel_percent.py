"""The clerk's export writes a rate the form marks `appearance: percent` as the number with a percent format
(issue 11, item 4): Excel shows 93.3%, the cell still holds 0.9333, and it imports back unchanged."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from client.excel import export_records
from forms.display import PERCENT_FORMAT
from tests.client import make_ctx, populate


def test_a_percent_calculate_is_a_number_with_a_percent_format(tmp_path: Path):
    ctx = make_ctx(tmp_path / "school")
    try:
        populate(ctx)
        out = tmp_path / "课后.xlsx"
        export_records(ctx, "after_school_service", out)
    finally:
        ctx.close()
    ws = load_workbook(out).worksheets[0]
    names = [c.value for c in ws[2]]
    rates = [row[names.index("attendance_rate")] for row in ws.iter_rows(min_row=3)]
    filled = [c for c in rates if c.value is not None]
    assert filled, "the populated records have attendance rates"
    for cell in filled:
        assert cell.data_type == "n" and 0 <= cell.value <= 1
        assert cell.number_format == PERCENT_FORMAT
    enrolled = [row[names.index("enrolled")] for row in ws.iter_rows(min_row=3)]
    assert all(c.number_format == "General" for c in enrolled)
