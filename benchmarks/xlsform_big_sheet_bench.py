"""An XLSForm saved by LibreOffice with formatted empty rows down to row 1,048,576: how long ours and pyxform
take to read it (issue 15: import time must follow the content, not the sheet's formatted size).

    .venv/bin/python benchmarks/xlsform_big_sheet_bench.py [--rows 1048576]

LibreOffice writes every formatted row, empty or not, as its own <row> element; the workbook below is a real
XLSForm (openpyxl) whose survey sheet gets those rows the way LibreOffice writes them.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
import zipfile
from pathlib import Path

from openpyxl import Workbook

LO_ROW = (
    '<row r="{r}" s="1" customFormat="true" ht="12.8" hidden="false" customHeight="false" '
    'outlineLevel="0" collapsed="false"></row>'
)


def build(path: Path, last_row: int) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label::Chinese (zh)", "required"])
    ws.append(["text", "school", "学校名称", "yes"])
    ws.append(["integer", "pupils", "学生人数", "yes"])
    ws.append(["date", "visit", "到访日期", None])
    ch = wb.create_sheet("choices")
    ch.append(["list_name", "name", "label::Chinese (zh)"])
    st = wb.create_sheet("settings")
    st.append(["form_id", "version", "form_title", "default_language"])
    st.append(["big_sheet", "1", "大表", "zh"])
    plain = path.with_suffix(".plain.xlsx")
    wb.save(plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode("utf-8")
                rows = "".join(LO_ROW.format(r=r) for r in range(5, last_row + 1))
                text = text.replace("</sheetData>", rows + "</sheetData>")
                text = re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="A1:D{last_row}"', text)
                data = text.encode("utf-8")
            dst.writestr(item, data)
    plain.unlink()
    return path


def timed(fn: object) -> tuple[float, str]:
    t0 = time.perf_counter()
    try:
        fn()  # type: ignore[operator]
        outcome = "ok"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {str(exc)[:120]}"
    return time.perf_counter() - t0, outcome


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_048_576)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = build(Path(tmp) / "big_sheet.xlsx", args.rows)
        print(
            f"workbook: {path.stat().st_size / 1e6:.1f} MB, survey sheet formatted to row {args.rows:,}"
        )
        from forms.xlsform import read_xlsform

        runs = [timed(lambda: read_xlsform(path)) for _ in range(3)]
        print(
            "ours (forms.xlsform.read_xlsform): "
            + ", ".join(f"{t:.2f} s" for t, _ in runs)
            + f" (first run includes imports)  {runs[-1][1]}"
        )
        try:
            from pyxform.xls2xform import convert
        except ImportError:
            print("pyxform: not installed (pip install pyxform)")
            return
        theirs, theirs_outcome = timed(lambda: convert(xlsform=str(path), validate=False))
        print(
            f"pyxform {__import__('pyxform').__version__} (convert): {theirs:.2f} s  {theirs_outcome}"
        )


if __name__ == "__main__":
    main()
