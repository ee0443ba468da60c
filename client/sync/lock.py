"""One sync at a time per data folder, across processes (product trial 2026-12-01, finding 2).

The window's syncs (client/ui/sync_controller.py), `school-client sync`, and the USB export and import (window
and command line) each hold `<data>/sync.lock` while they read and write the outbox: an OS lock (filelock:
fcntl on POSIX, msvcrt on Windows), released when the process ends however it ends, so a killed sync never
blocks the next. Two lock objects on the file conflict even inside one process (one open file each).

Whoever holds it writes `<data>/sync.holder` ({"by": "window"|"command", "what": "sync"|"usb-export"|
"usb-import", "pid": N}) so that a sync that finds the lock held can say who is syncing; it is read only
while the lock is held by someone else (a stale one is never believed otherwise).

    with hold_sync(data_dir, by="command", what="sync", wait=0.0):   # SyncBusy when held elsewhere
        ...
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCK_NAME = "sync.lock"
HOLDER_NAME = "sync.holder"

_WHO_ZH = {"window": "已打开的程序窗口", "command": "另一个 school-client 命令"}
_WHO_EN = {"window": "the open program window", "command": "another school-client command"}
_WHAT_ZH = {"sync": "联网同步", "usb-export": "U盘导出", "usb-import": "U盘导入"}
_WHAT_EN = {"sync": "syncing online", "usb-export": "exporting to a USB stick",
            "usb-import": "importing a USB answer"}  # fmt: skip


class SyncBusy(Exception):
    """Another sync (online or USB) of this data folder runs now, in this or another process."""

    def __init__(self, data_dir: Path, holder: dict[str, Any] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.holder = holder or {}
        by = str(self.holder.get("by") or "")
        what = str(self.holder.get("what") or "")
        pid = self.holder.get("pid")
        if by in _WHO_ZH and what in _WHAT_ZH:
            process_zh = f"（进程 {pid}）" if by == "command" and isinstance(pid, int) else ""
            process_en = f" (process {pid})" if by == "command" and isinstance(pid, int) else ""
            who_zh = f"：{_WHO_ZH[by]}{process_zh}正在{_WHAT_ZH[what]}"
            who_en = f": {_WHO_EN[by]}{process_en} is {_WHAT_EN[what]}"
        else:
            who_zh = "（在已打开的程序窗口或另一个命令中）"
            who_en = " (in the open program window or another command)"
        self.message_zh = (
            f"另一个同步正在进行{who_zh}。本次没有发送任何内容，请等它结束后再试"
            f"（数据文件夹 {self.data_dir}）"
        )
        self.message_en = (
            f"another sync is already running{who_en}. Nothing was sent by this one; try again "
            f"when it ends (data folder {self.data_dir})"
        )
        super().__init__(f"{self.message_zh} / {self.message_en}")


def lock_path(data_dir: Path) -> Path:
    return Path(data_dir) / LOCK_NAME


def read_holder(data_dir: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((Path(data_dir) / HOLDER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class SyncLock:
    """The data folder's sync lock. Not tied to a thread: the window takes it on the GUI thread and its
    network thread lets it go when the sync ends."""

    def __init__(self, data_dir: Path, *, by: str, what: str) -> None:
        from filelock import FileLock  # (imports asyncio: only when a sync starts)

        self.data_dir = Path(data_dir)
        self.by = by
        self.what = what
        self._lock = FileLock(str(lock_path(self.data_dir)), thread_local=False)

    @property
    def held(self) -> bool:
        return bool(self._lock.is_locked)

    def acquire(self, *, wait: float = 0.0) -> None:
        """Take the lock, waiting up to `wait` seconds; SyncBusy (naming who holds it) when it stays held."""
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=max(0.0, wait), poll_interval=0.1)
        except Timeout:
            raise SyncBusy(self.data_dir, read_holder(self.data_dir)) from None
        holder = {"by": self.by, "what": self.what, "pid": os.getpid()}
        try:
            (self.data_dir / HOLDER_NAME).write_text(json.dumps(holder), encoding="utf-8")
        except OSError as exc:  # only the words of a busy message depend on it
            log.warning("the sync holder file cannot be written: %s", exc)

    def try_acquire(self) -> bool:
        try:
            self.acquire()
        except SyncBusy:
            return False
        return True

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()


@contextmanager
def hold_sync(data_dir: Path, *, by: str, what: str, wait: float = 0.0) -> Iterator[SyncLock]:
    """Hold the data folder's sync lock for the block; SyncBusy (nothing done) when another holds it."""
    lock = SyncLock(data_dir, by=by, what=what)
    lock.acquire(wait=wait)
    try:
        yield lock
    finally:
        lock.release()
