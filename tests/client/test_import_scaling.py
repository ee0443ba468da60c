"""A roster import is linear in its rows (5,000 rows took 226 s, 10,000 did not finish: issue 9).

No timing here (benchmarks/import_bench.py prints the seconds): the work is counted as the SQLite virtual
machine instructions the import runs, which is what a scan of the whole roster for each row makes grow as
rows x roster. Twice the rows must cost about twice the work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import event

from client.context import ClientContext
from client.excel import ImportFailed, import_file
from client.store.records import roster
from tests.client import make_ctx

STEP = 1000  # instructions per progress-handler call


def roster_file(path: Path, rows: int, *, start: int = 0) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(["teacher_id", "name", "gender", "subject", "title", "active"])
    for i in range(start, start + rows):
        ws.append(
            [f"T{i:06d}", f"教师{i}", "female" if i % 2 else "male", "语文", "一级教师", "yes"]
        )
    wb.save(path)
    return path


def counted(ctx: ClientContext) -> list[int]:
    """Count SQLite VM instructions on every connection the store opens from now on."""
    calls = [0]

    def tick() -> int:
        calls[0] += 1
        return 0

    ctx.store.engine.dispose()

    @event.listens_for(ctx.store.engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_progress_handler(tick, STEP)

    return calls


def import_work(tmp_path: Path, rows: int) -> int:
    ctx = make_ctx(tmp_path / f"school-{rows}")
    try:
        path = roster_file(tmp_path / f"roster-{rows}.xlsx", rows)
        calls = counted(ctx)
        result = import_file(ctx, "teachers", path)
        assert result.created == rows
        return calls[0] * STEP
    finally:
        ctx.close()


def test_roster_import_work_grows_linearly(tmp_path: Path):
    small = import_work(tmp_path, 300)
    large = import_work(tmp_path, 900)
    ratio = large / small
    assert ratio < 3.6, (
        f"3x the rows cost {ratio:.1f}x the work ({small:,} -> {large:,} instructions)"
    )


def test_a_second_import_updates_by_teacher_id_and_refuses_clashes(tmp_path: Path):
    ctx = make_ctx(tmp_path / "school")
    try:
        assert import_file(ctx, "teachers", roster_file(tmp_path / "a.xlsx", 50)).created == 50
        again = import_file(ctx, "teachers", roster_file(tmp_path / "b.xlsx", 60, start=40))
        assert (again.created, again.updated, again.unchanged) == (50, 0, 10)  # same ten teachers
        with ctx.store.Session() as s:
            assert len(roster(s).items) == 100
        wb = Workbook()
        ws = wb.active
        ws.append(["teacher_id", "name", "active"])
        ws.append(["T000001", "甲", "yes"])
        ws.append(["T000001", "乙", "yes"])
        wb.save(tmp_path / "dup.xlsx")
        with pytest.raises(ImportFailed) as info:
            import_file(ctx, "teachers", tmp_path / "dup.xlsx")
        assert "T000001" in info.value.message_zh and "第 2 行" in info.value.message_zh
    finally:
        ctx.close()
