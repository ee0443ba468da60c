"""CPU time of a server process and of its children (the form check workers), read from Linux's /proc; 0.0
where there is none. Shared by the benchmarks that measure a real `sync-server serve`."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found.extend(int(c) for c in task.read_text().split())
    return found


def server_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of the serving process, and of its running child processes (the form check workers)."""
    return process_cpu(pid), sum(process_cpu(child) for child in children(pid))
