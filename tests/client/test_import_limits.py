"""The client's Excel import refuses hostile workbooks (zip bombs, huge shared-strings tables, DTDs, too many
rows) with one bilingual line naming the file and the limit, exit 2, bounded memory, nothing saved (issue 9)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from client.context import ClientContext
from client.excel import ExcelError, import_file
from client.excel.importer import MAX_JSON_BYTES
from client.store.models import Record
from forms.safe_xlsx import IMPORT_LIMITS
from tests.client import make_ctx
from tests.support.bombs import dtd_workbook, run_measured, shared_strings_bomb, whitespace_bomb

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def ctx(tmp_path: Path):
    context = make_ctx(tmp_path / "school")
    yield context
    context.close()


def records(ctx: ClientContext) -> int:
    with ctx.store.Session() as s:
        return int(s.execute(select(func.count()).select_from(Record)).scalar_one())


def refused(ctx: ClientContext, path: Path) -> ExcelError:
    with pytest.raises(ExcelError) as info:
        import_file(ctx, "teachers", path)
    assert path.name in info.value.message_zh and path.name in info.value.message_en
    assert records(ctx) == 0
    return info.value


def test_whitespace_bomb(ctx: ClientContext, tmp_path: Path):
    error = refused(ctx, whitespace_bomb(tmp_path / "blanks.xlsx", mib=48))
    assert "zip bomb" in error.message_en and "压缩炸弹" in error.message_zh


def test_shared_strings_bomb(ctx: ClientContext, tmp_path: Path):
    strings = IMPORT_LIMITS.max_shared_strings_bytes // 15
    error = refused(ctx, shared_strings_bomb(tmp_path / "strings.xlsx", strings=strings))
    assert "xl/sharedStrings.xml" in error.message_en
    assert str(IMPORT_LIMITS.max_shared_strings_bytes) in error.message_en


def test_dtd(ctx: ClientContext, tmp_path: Path):
    error = refused(ctx, dtd_workbook(tmp_path / "dtd.xlsx"))
    assert "DTD" in error.message_en and "DTD" in error.message_zh


def test_rows_beyond_the_limit(ctx: ClientContext, tmp_path: Path):
    wb = Workbook()
    ws = wb.active
    ws.append(["teacher_id", "name", "active"])
    ws.cell(row=IMPORT_LIMITS.max_rows + 5, column=1, value="T9")
    path = tmp_path / "tall.xlsx"
    wb.save(path)
    error = refused(ctx, path)
    assert str(IMPORT_LIMITS.max_rows) in error.message_en
    assert ws.title in error.message_zh


def test_school_client_import_refuses_bombs_in_bounded_memory(tmp_path: Path):
    bombs = [
        whitespace_bomb(tmp_path / "blanks.xlsx", mib=256),
        shared_strings_bomb(tmp_path / "strings.xlsx", strings=2_500_000),
        dtd_workbook(tmp_path / "dtd.xlsx"),
    ]
    data_dir = tmp_path / "data"
    for bomb in bombs:
        command = ["import", "--data-dir", str(data_dir), "--form", "teachers", str(bomb)]
        run = run_measured(
            [sys.executable, "-m", "client.cli", *command],
            cwd=ROOT,
        )
        assert run.returncode == 2, (bomb.name, run.stdout, run.stderr)
        assert "Traceback" not in run.stderr
        first = run.stderr.splitlines()[0]
        zh, _, en = first.partition(" / ")
        assert bomb.name in zh and bomb.name in en and CJK.search(zh), first
        assert run.peak_mb < 200, (bomb.name, run.peak_mb)


def test_json_nested_too_deeply_or_too_large(ctx: ClientContext, tmp_path: Path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert "too deeply" in refused(ctx, deep).message_en
    large = tmp_path / "large.json"
    with large.open("wb") as f:
        f.truncate(MAX_JSON_BYTES + 1)
    assert str(MAX_JSON_BYTES) in refused(ctx, large).message_en
