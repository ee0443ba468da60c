"""The one error the sync raises: SyncError, with a kind the caller acts on and a message in Chinese and English.

AUTH      401/403, or not enrolled: the clerk must enroll (again); retrying does not help
NETWORK   the server could not be reached, timed out, the link broke, or the answer was not from our
          server (a captive portal's 200 login page, a redirect, a cut or malformed answer)
REFUSED   our server refused the request (400/404/413/422): retrying the same request does not help
SERVER    our server failed or is busy (5xx, 429) even after retries; `retry_after` says when to try again
CONFLICT  409 where the caller did not expect one
DISK_FULL this computer's disk (or the store's size limit) is full: what the server sent cannot be stored;
          the store is intact (the page's transaction rolled back), the sync goes on once space is freed
"""

from __future__ import annotations

import enum
import errno
import shutil
from pathlib import Path
from typing import Any

from client.store.dberrors import DB_ERRORS


class ErrorKind(enum.StrEnum):
    AUTH = "auth"
    NETWORK = "network"
    REFUSED = "refused"
    SERVER = "server"
    CONFLICT = "conflict"
    DISK_FULL = "disk_full"


class SyncError(Exception):
    def __init__(
        self,
        kind: ErrorKind,
        message_zh: str,
        message_en: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.kind = kind
        self.message_zh = message_zh
        self.message_en = message_en
        self.retry_after = retry_after  # seconds the server asked us to wait, when it said
        self.status = status  # the HTTP status, when there was an answer
        self.code = code  # the server's error code, when it gave one
        self.details = details or {}
        self.result: Any = (
            None  # the SyncResult of what a sync did before it failed, when there was one
        )

    @property
    def retryable(self) -> bool:
        return self.kind in (ErrorKind.NETWORK, ErrorKind.SERVER)

    def one_line(self) -> str:
        return " ".join(f"{self.message_zh} / {self.message_en}".split())

    def as_problem(self) -> dict[str, Any]:
        """What the store keeps as the last problem (JSON)."""
        return {
            "kind": str(self.kind),
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "status": self.status,
            "code": self.code,
            "retry_after": self.retry_after,
        }

    def __repr__(self) -> str:
        return f"SyncError({self.kind!s}, {self.message_en!r}, status={self.status})"


def not_enrolled() -> SyncError:
    return SyncError(
        ErrorKind.AUTH,
        "本机尚未注册到县教育局服务器，请先注册",
        "this computer is not enrolled with the bureau server; enroll first",
    )


SQLITE_FULL = 13
SQLITE_IOERR = 10
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})
LOW_SPACE = (
    1024 * 1024
)  # bytes free under which an SQLite I/O error on that disk is taken for a full disk


def is_disk_full(exc: BaseException, folder: Path | None = None) -> bool:
    """Whether this error (or one it wraps) says the disk is full: SQLite's SQLITE_FULL, a file write
    refused with ENOSPC, EDQUOT or EFBIG, or (given the store's folder) an SQLite I/O error while that disk
    has (almost) no space left - how a full disk shows when the WAL cannot grow. Like client/cli.py."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    io_error = False
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, DB_ERRORS):
            code = getattr(e, "sqlite_errorcode", None)
            if code == SQLITE_FULL or "database or disk is full" in str(e):
                return True
            io_error = io_error or (code is not None and code & 0xFF == SQLITE_IOERR)
        if isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS:
            return True
        orig = getattr(e, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
        todo += [orig if isinstance(orig, BaseException) else None, e.__cause__, e.__context__]
    return io_error and folder is not None and _free_bytes(folder) < LOW_SPACE


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return LOW_SPACE  # not known: not taken for full


def disk_full(data_dir: Path) -> SyncError:
    return SyncError(
        ErrorKind.DISK_FULL,
        f"本机磁盘已满，从服务器收到的数据无法保存（数据文件夹：{data_dir}）。请清理磁盘空间后再同步；"
        "本机已保存的数据没有受影响",
        f"this computer's disk is full: what the server sent cannot be stored (data folder: "
        f"{data_dir}). Free some space, then sync again; nothing saved here was harmed",
        code="disk_full",
        details={"data_dir": str(data_dir)},
    )
