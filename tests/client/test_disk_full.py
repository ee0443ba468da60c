"""A full disk during `school-client import`, `export` or `backup`: one plain line in Chinese and English that
says the disk is full and where, exit 3, no traceback (the log file on the same disk included), and the
store intact (issue 9).

The disk is real: a 4 MiB tmpfs mounted for the test (root only; skipped where mounting is not allowed),
filled with a file until a few kilobytes are left.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.cli import EXIT_DISK_FULL
from tests.client import TEACHERS, make_ctx, save
from tests.client.test_import_scaling import roster_file
from tests.support.encrypted import db_connect

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode(errors='replace')}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill the disk until `leave` bytes are free."""
    filler = disk / "filler.bin"
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with filler.open("ab") as f:
        f.write(b"\0" * max(free - leave, 0))
    return filler


def client(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCHOOL_CLIENT_DATA_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "client.cli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env={**env, "PYTHONIOENCODING": "utf-8"},
        timeout=300,
    )


def assert_disk_full(done: subprocess.CompletedProcess[str], where: Path) -> None:
    assert done.returncode == EXIT_DISK_FULL, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "Logging error" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    zh, _, en = lines[0].partition(" / ")
    assert "磁盘已满" in zh and "disk is full" in en, lines[0]
    assert str(where) in zh and str(where) in en, lines[0]


def teachers_in(data: Path) -> int:
    with db_connect(data / "store.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])


def test_import_export_and_backup_on_a_full_disk(small_disk: Path, tmp_path: Path):
    data = small_disk / "data"
    ctx = make_ctx(data)
    for teacher in TEACHERS[:3]:
        save(ctx, "teachers", teacher)
    ctx.close()
    big = roster_file(tmp_path / "roster.xlsx", 3000)

    filler = fill(small_disk, leave=300_000)
    assert_disk_full(
        client("import", "--data-dir", str(data), "--form", "teachers", str(big)), data
    )
    assert_disk_full(
        client("backup", "--data-dir", str(data), str(small_disk / "copy.db")),
        small_disk / "copy.db",
    )
    filler.unlink()
    fill(small_disk, leave=0)
    assert_disk_full(
        client("export", "--data-dir", str(data), "--form", "teachers", str(small_disk / "t.xlsx")),
        small_disk / "t.xlsx",
    )
    assert_disk_full(
        client("import", "--data-dir", str(data), "--form", "teachers", str(big)), data
    )

    (small_disk / "filler.bin").unlink()
    assert teachers_in(data) == 3  # nothing saved was lost, nothing half-imported
    done = client("export", "--data-dir", str(data), "--form", "teachers", str(tmp_path / "t.xlsx"))
    assert done.returncode == 0, done.stderr
