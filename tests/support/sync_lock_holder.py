"""Another process holding a data folder's sync lock, as a sync running there would (client.sync.lock)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from client.sync.lock import LOCK_NAME

_HOLD = (
    "import sys, time\n"
    "from filelock import FileLock\n"
    "lock = FileLock(sys.argv[1], thread_local=False)\n"
    "lock.acquire(timeout=10)\n"
    "print('held', flush=True)\n"
    "time.sleep(120)\n"
)


def hold_sync_lock(folder: Path) -> subprocess.Popen[str]:
    """A process that holds `folder`'s sync lock until it is killed (returned once it holds it)."""
    p = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(Path(folder) / LOCK_NAME)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def end(p: subprocess.Popen[str]) -> None:
    if p.poll() is None:
        p.kill()
    p.wait(10)
