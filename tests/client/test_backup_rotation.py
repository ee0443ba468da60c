"""Daily backup rotation keeps the newest by when they were written, whatever the clock said (issue 10).

A PC whose clock was once a year ahead wrote store-2027-...; sorted by its clock-stamped name it stayed the
"newest" for a year and took one of the seven slots, and a backup written while the clock was behind was the
"oldest" and removed at once.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from client.context import ClientContext
from client.store.backup import KEEP_DAILY, backup_to, daily_backup, daily_backups
from tests.client import make_ctx, populate
from tests.support.encrypted import db_connect

DAY = dt.timedelta(days=1)


@pytest.fixture
def ctx(tmp_path: Path):
    context = make_ctx(tmp_path / "school")
    yield context
    context.close()


def dates(ctx: ClientContext) -> list[str]:
    """The kept daily backups' clock dates, in the order they were written."""
    return [p.stem[-10:] for p in daily_backups(ctx.store)]


def run_days(ctx: ClientContext, first: dt.date, n: int) -> None:
    for i in range(n):
        assert daily_backup(ctx.store, first + i * DAY) is not None


def test_a_backup_dated_a_year_ahead_does_not_keep_a_slot_for_ever(ctx: ClientContext):
    populate(ctx)
    run_days(ctx, dt.date(2026, 11, 1), 3)
    assert daily_backup(ctx.store, dt.date(2027, 11, 4)) is not None  # the clock a year ahead, once
    run_days(ctx, dt.date(2026, 11, 5), 10)  # the clock put right
    assert dates(ctx) == [f"2026-11-{d:02d}" for d in range(8, 15)]
    assert len(daily_backups(ctx.store)) == KEEP_DAILY


def test_a_backup_written_while_the_clock_was_behind_is_the_newest(ctx: ClientContext):
    populate(ctx)
    run_days(ctx, dt.date(2026, 11, 1), 10)
    made = daily_backup(ctx.store, dt.date(2025, 11, 11))  # the clock a year behind
    assert made is not None and made.exists()  # not removed as "the oldest" the moment it was made
    assert dates(ctx)[-1] == "2025-11-11"
    assert dates(ctx)[:-1] == [f"2026-11-{d:02d}" for d in range(5, 11)]


def test_the_same_day_again_makes_no_second_backup_but_a_clock_back_on_an_old_date_does(
    ctx: ClientContext,
):
    populate(ctx)
    run_days(ctx, dt.date(2026, 11, 1), 2)
    assert daily_backup(ctx.store, dt.date(2026, 11, 2)) is None
    # A date whose backup exists but is not the newest one (the clock went back): back it up again, as
    # the store may hold more than that older file.
    again = daily_backup(ctx.store, dt.date(2026, 11, 1))
    assert again is not None and dates(ctx) == ["2026-11-01", "2026-11-02", "2026-11-01"]
    with db_connect(again) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_backups_named_by_date_only_by_an_older_version_are_rotated_out_first(
    ctx: ClientContext,
):
    populate(ctx)
    folder = ctx.store.backups_dir
    # What an older version left: store-YYYY-MM-DD.db, one of them dated a year ahead.
    for stamp in ("2026-10-20", "2026-10-21", "2027-10-22"):
        backup_to(ctx.store, folder / f"store-{stamp}.db")
    assert len(daily_backups(ctx.store)) == 3
    run_days(ctx, dt.date(2026, 10, 23), 5)
    kept = [p.name for p in daily_backups(ctx.store)]
    assert kept[:2] == ["store-2026-10-21.db", "store-2027-10-22.db"]  # older than any new one
    run_days(ctx, dt.date(2026, 10, 28), 2)
    assert not any(p.name.startswith("store-20") for p in daily_backups(ctx.store))
    assert dates(ctx) == [f"2026-10-{d:02d}" for d in range(23, 30)]


def test_a_temp_file_left_while_the_clock_was_a_year_ahead_is_cleaned_up(ctx: ClientContext):
    """The same defect nearby: a backup interrupted while the clock was ahead left a temp file stamped in the
    future; "older than an hour" never became true, so it stayed for a year."""
    populate(ctx)
    folder = ctx.store.backups_dir
    folder.mkdir(parents=True, exist_ok=True)
    ahead, fresh = folder / ".backup-ahead.tmp", folder / ".backup-fresh.tmp"
    for p in (ahead, fresh):
        p.write_bytes(b"x" * 1000)
    year = 365 * 24 * 3600
    os.utime(ahead, (time.time() + year, time.time() + year))
    daily_backup(ctx.store, dt.date(2026, 11, 1))
    assert not ahead.exists()
    assert fresh.exists()  # a backup in progress right now keeps its temp file
