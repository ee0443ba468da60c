"""Re-importing the clerk's own export (issue 11, item 3): an unchanged file writes nothing.

Prints, for N safety inspections (two hazards each, a tenth of them drafts) and a roster of 200 teachers: the
export time, the time to import the same file again (all unchanged: no revision, nothing queued), and the time
to import it with every row changed (each a new revision and one change to send), with the revisions and
outbox entries written by each.

    .venv/bin/python benchmarks/reimport_bench.py [--records 1000 5000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openpyxl import load_workbook  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from client.excel import export_records, import_file  # noqa: E402
from client.store.models import OutboxEntry, Revision  # noqa: E402
from tests.client import make_ctx, save  # noqa: E402
from tests.store.todo_data import hazard, inspection  # noqa: E402


def counts(ctx) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with ctx.store.Session() as s:
        revisions = s.execute(select(func.count()).select_from(Revision)).scalar_one()
        queued = s.execute(select(func.count()).select_from(OutboxEntry)).scalar_one()
    return int(revisions), int(queued)


def run(records: int, folder: Path) -> None:
    ctx = make_ctx(folder / f"school-{records}")
    try:
        for i in range(200):
            save(ctx, "teachers", {"teacher_id": f"T{i:04d}", "name": f"教师{i}", "active": "yes"})
        for i in range(records):
            day = f"2026-11-{1 + i % 27:02d}"
            data = inspection(
                day,
                [
                    hazard(deadline="2026-12-20"),
                    hazard(location=f"教室 {i}", deadline="2026-12-21"),
                ],
                inspectors=f"检查员{i}",
            )
            save(ctx, "safety_inspection", data, submit=i % 10 != 0)
        out = folder / f"inspections-{records}.xlsx"
        start = time.perf_counter()
        export_records(ctx, "safety_inspection", out)
        exported = time.perf_counter() - start

        before = counts(ctx)
        start = time.perf_counter()
        result = import_file(ctx, "safety_inspection", out)
        same = time.perf_counter() - start
        after_same = counts(ctx)

        wb = load_workbook(out)
        ws = wb.worksheets[0]
        column = next(c.column for c in ws[2] if c.value == "inspectors")
        for row in range(3, ws.max_row + 1):
            ws.cell(row, column).value = f"{ws.cell(row, column).value}、王校长"
        wb.save(out)
        start = time.perf_counter()
        changed = import_file(ctx, "safety_inspection", out)
        every = time.perf_counter() - start
        after_changed = counts(ctx)
    finally:
        ctx.close()
    print(f"{records:>6} records: export {exported:6.2f} s")
    print(
        f"        unchanged re-import {same:6.2f} s ({same / records * 1000:.2f} ms/row): "
        f"{result.unchanged} unchanged ({result.drafts} drafts), "
        f"{after_same[0] - before[0]} revisions and {after_same[1] - before[1]} changes to send written"
    )
    print(
        f"        every row changed   {every:6.2f} s ({every / records * 1000:.2f} ms/row): "
        f"{changed.updated} updated, {after_changed[0] - after_same[0]} revisions and "
        f"{after_changed[1] - after_same[1]} changes to send written"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, nargs="+", default=[1000, 5000])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.records:
            run(n, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
