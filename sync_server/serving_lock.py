"""Which SQLite database a running `sync-server serve` holds: a lock file beside it, held while it serves.

`sync-server restore` replaces the database file; a server still running would keep writing to the file it
opened (the replaced one) while devices heal against it, and the restore would be lost. So the restore
refuses a database that a server holds, and a second server refuses to serve it too. The operating system
drops the lock when the process ends, however it ends (filelock: fcntl on POSIX, msvcrt on Windows).
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout


class DatabaseServed(Exception):
    """A running sync-server holds this database."""

    def __init__(self, db_path: Path) -> None:
        super().__init__(str(db_path))
        self.db_path = db_path


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".serving")


def hold(db_path: Path) -> FileLock:
    """Hold the database for this process (released by `release()` or when the process ends); raises
    DatabaseServed when another process serves it."""
    lock = FileLock(str(lock_path(db_path)), timeout=0, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        raise DatabaseServed(db_path) from None
    return lock


def is_served(db_path: Path) -> bool:
    """True while a running server holds the database (checked without keeping the lock)."""
    if not lock_path(db_path).exists():
        return False
    try:
        hold(db_path).release()
    except DatabaseServed:
        return True
    return False
