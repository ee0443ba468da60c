"""Owner-only files on the bureau's disk (issue 12, point 5).

The server database (sync.db and its -wal/-shm), attachments and unfinished uploads, logs, the copies
`sync-server restore` keeps and the workbooks `sync-server export` writes hold teacher-ethics and dropout
records: on POSIX every folder the server creates for them is 0700 and every file 0600, whatever the
process umask (the umask can only take bits away, and each file is made with its mode, not chmod-ed later).
Files found with wider modes (an older version, a copy made by hand) are tightened at start, with a
line in the log (sync-server.log) naming them; one that cannot be tightened is a warning.

On Windows the modes mean nothing: the folders inherit the ACL of the data folder the installer made
(only the service account and Administrators; see docs/deployment.md), so these functions only create
folders there.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

POSIX = os.name == "posix"
DIR_MODE = 0o700
FILE_MODE = 0o600
_OPEN_TO_OTHERS = 0o077
# SQLite's companions of a database file (it gives -wal and -shm the database file's own mode).
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """`path` and its missing parents, the ones made here 0700 (an existing folder is left as it is:
    it may be a shared one such as /srv; tighten() the server's own)."""
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another thread or process
        if POSIX:
            os.chmod(folder, DIR_MODE)
    return path


def opener(path: str | os.PathLike[str], flags: int) -> int:
    """For open(..., opener=opener): a file this creates is 0600 (one that exists keeps its mode: the
    start tightens it, with a line in the log - which this may be opening)."""
    return os.open(path, flags, FILE_MODE)


def create_file(path: Path, *, exclusive: bool = True) -> None:
    """An empty owner-only file (FileExistsError if `exclusive` and it exists)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else 0)
    os.close(opener(path, flags))


def tighten(path: Path, *, quiet: bool = False) -> bool:
    """Take group and other access away from a file (0600) or folder (0700) of the server; True if it
    was wider (logged unless `quiet`). A symbolic link is not followed (its target may be anything)."""
    if not POSIX:
        return False
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode) or not info.st_mode & _OPEN_TO_OTHERS:
        return False
    wanted = DIR_MODE if stat.S_ISDIR(info.st_mode) else FILE_MODE
    try:
        os.chmod(path, wanted)
    except OSError as exc:
        log.warning(
            "%s can be read by other users (mode %o) and cannot be tightened: %s",
            path,
            stat.S_IMODE(info.st_mode),
            exc,
        )
        return False
    if not quiet:
        log.info(
            "tightened %s from mode %o to %o: server data is for the server's account only",
            path,
            stat.S_IMODE(info.st_mode),
            wanted,
        )
    return True


LOGGED_BY_NAME = 5


def tighten_tree(root: Path) -> int:
    """tighten() the folder `root` and everything under it; how many were wider. The first few are
    logged by name, then one line counts them all (an attachments folder holds thousands of files)."""
    if not POSIX or not root.is_dir() or root.is_symlink():
        return 0
    count = 0
    for path in _walk(root):
        count += tighten(path, quiet=count >= LOGGED_BY_NAME)
    if count > LOGGED_BY_NAME:
        log.info("tightened %d files and folders under %s in all (owner only)", count, root)
    return count


def _walk(root: Path) -> Iterable[Path]:
    yield root
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in dirs + files:
            yield base / name


def secure_sqlite_file(path: Path) -> None:
    """Before SQLite opens `path`: its folder made owner-only if missing, the database created empty
    0600 if missing (SQLite then gives its -wal and -shm the same mode), else it and its companions
    tightened."""
    private_dir(path.parent)
    try:
        create_file(path)
    except FileExistsError:
        for candidate in (path, *(Path(f"{path}{extra}") for extra in SQLITE_COMPANIONS)):
            tighten(candidate)


def secure_instance(instance: Path, *extra_roots: Path) -> None:
    """At start: the instance folder (database, key, logs, restore copies) and the attachments folder
    (when kept elsewhere) exist, owner-only, with nothing inside readable by other users."""
    private_dir(instance)
    tighten_tree(instance)
    for root in extra_roots:
        private_dir(root)
        if not root.resolve().is_relative_to(instance.resolve()):
            tighten_tree(root)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files (the current one and each one it starts) are 0600."""

    def _open(self) -> Any:
        return open(
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=opener,
        )
