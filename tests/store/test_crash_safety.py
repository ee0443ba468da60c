"""Nothing a clerk saved is lost: kill -9 a writer at random moments, then check the database.

Each of the 50 rounds starts a process that submits records in a loop and reports each one after its
commit, kills it with SIGKILL after a random delay, and checks that the database is intact and that every
reported record is there with its outbox entry (and no record lacks one).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.encrypted import db_connect

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 50

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")


def _run_and_kill(data_dir: Path, tag: str, delay: float) -> list[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.crash_writer", str(data_dir), tag],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    assert first == "ready", proc.stderr.read() if proc.stderr else first
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return [line.split()[1] for line in out.splitlines() if line.startswith("saved ")]


def test_sigkill_never_loses_a_reported_save(tmp_path: Path):
    rnd = random.Random(20261128)
    data_dir = tmp_path / "data"
    reported: list[str] = []
    for round_no in range(ROUNDS):
        reported += _run_and_kill(data_dir, str(round_no), rnd.uniform(0.0, 0.25))
        con = db_connect(data_dir / "store.db")
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            ids = {r[0] for r in con.execute("SELECT id FROM records")}
            with_outbox = {r[0] for r in con.execute("SELECT DISTINCT record_id FROM outbox")}
            revisions = {r[0] for r in con.execute("SELECT record_id FROM record_revisions")}
            missing = [rid for rid in reported if rid not in ids]
            assert missing == [], f"round {round_no}: reported saves lost: {missing[:3]}"
            assert ids == with_outbox == revisions, (
                f"round {round_no}: a record without its outbox entry"
            )
        finally:
            con.close()
    assert len(reported) > ROUNDS  # the kills landed while records were being written
