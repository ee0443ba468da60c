"""Backups with the SQLite backup API: checked copies, a daily backup that keeps seven, a refusing restore."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from client.context import ClientContext
from client.store.backup import (
    BackupError,
    backup_to,
    check_backup,
    daily_backup,
    daily_backups,
    restore_from,
)
from tests.client import RECORDS, make_ctx, populate, save, stored
from tests.support.encrypted import db_connect


@pytest.fixture
def ctx(tmp_path: Path):
    context = make_ctx(tmp_path / "school")
    yield context
    context.close()


def integrity(path: Path) -> str:
    with db_connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_backup_is_one_checked_file(ctx: ClientContext, tmp_path: Path):
    populate(ctx)
    out = backup_to(ctx.store, tmp_path / "备份" / "store.db")
    assert out.is_file() and integrity(out) == "ok"
    assert not out.with_name("store.db-wal").exists()
    assert [p.name for p in out.parent.iterdir()] == ["store.db"]  # no temp file left behind
    with db_connect(out) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        n = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    assert n == sum(len(v) for v in RECORDS.values()) + 5
    check_backup(out)
    with pytest.raises(BackupError):
        backup_to(ctx.store, ctx.store.db_path)


def test_restore_round_trip(ctx: ClientContext, tmp_path: Path):
    populate(ctx)
    before = stored(ctx, "safety_inspection")
    backup = backup_to(ctx.store, tmp_path / "before.db")
    later = save(
        ctx, "safety_inspection", {**RECORDS["safety_inspection"][1], "inspectors": "事后新增"}
    )

    saved = restore_from(ctx.store, backup, now=dt.datetime(2026, 11, 28, 10, 30, 5))
    assert saved == ctx.store.backups_dir / "pre-restore-20261128-103005.db"
    reopened = ClientContext.open(ctx.store.data_dir, clock=ctx.clock)
    try:
        assert stored(reopened, "safety_inspection") == before  # the later record is gone ...
    finally:
        reopened.close()
    with db_connect(saved) as conn:  # ... but kept in the pre-restore copy
        assert (
            conn.execute("SELECT count(*) FROM records WHERE id = ?", (later,)).fetchone()[0] == 1
        )
    assert integrity(ctx.store.db_path) == "ok"


def test_daily_backup_once_a_day_and_keeps_seven(ctx: ClientContext):
    populate(ctx)
    first = daily_backup(ctx.store, dt.date(2026, 11, 1))
    assert first is not None and first.name == "store-000001-2026-11-01.db"
    assert daily_backup(ctx.store, dt.date(2026, 11, 1)) is None
    for day in range(2, 11):
        daily_backup(ctx.store, dt.date(2026, 11, day))
    names = [p.name for p in daily_backups(ctx.store)]
    assert names == [f"store-{d:06d}-2026-11-{d:02d}.db" for d in range(4, 11)]
    assert all(integrity(p) == "ok" for p in daily_backups(ctx.store))


def test_restore_refuses_what_is_not_a_store(ctx: ClientContext, tmp_path: Path):
    populate(ctx)
    before = stored(ctx, "teachers")
    text = tmp_path / "notes.db"
    text.write_text("这不是数据库 / not a database\n" * 100, encoding="utf-8")
    with pytest.raises(BackupError) as caught:
        restore_from(ctx.store, text)
    assert "不是有效的数据备份" in caught.value.message_zh
    assert "not a valid store backup" in caught.value.message_en

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE something (x)")
    conn.close()
    with pytest.raises(BackupError, match="records"):
        restore_from(ctx.store, other)
    with pytest.raises(BackupError, match="找不到备份文件"):
        restore_from(ctx.store, tmp_path / "missing.db")

    assert stored(ctx, "teachers") == before  # nothing changed, the store still works
    assert not ctx.store.backups_dir.exists() or not any(ctx.store.backups_dir.iterdir())
