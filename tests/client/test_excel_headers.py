"""The clerk's export speaks Chinese in its header row (issue 11, item 7): a helper calculation without a label
(is_open) is no column; it is worked out again when the file comes back."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from client.excel import export_records, import_file
from tests.client import make_ctx, populate, stored


def test_no_helper_calculation_in_the_export_and_it_comes_back_on_import(tmp_path: Path):
    ctx = make_ctx(tmp_path / "school")
    try:
        ids = populate(ctx)
        out = tmp_path / "安全.xlsx"
        export_records(ctx, "safety_inspection", out)
        wb = load_workbook(out)
        for ws in wb.worksheets:
            if ws.title == "_meta":
                continue
            labels = [c.value for c in ws[1]]
            names = [c.value for c in ws[2]]
            assert "is_open" not in names and "is_open" not in labels, ws.title
            assert all(label and not str(label).isascii() for label in labels), labels
        before = stored(ctx, "safety_inspection")
        opened = [h["is_open"] for data in before.values() for h in data.get("hazards") or []]
        assert 0 in opened and 1 in opened  # the samples have open and closed hazards
        import_file(ctx, "safety_inspection", out)
        after = stored(ctx, "safety_inspection")
        assert set(after) == set(ids["safety_inspection"])
        for rid, data in before.items():
            assert [h["is_open"] for h in after[rid].get("hazards") or []] == [
                h["is_open"] for h in data.get("hazards") or []
            ]
    finally:
        ctx.close()
