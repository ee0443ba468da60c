"""Backups of the local store with SQLite's online backup API.

    backup_to(store, out_path)     a consistent copy of the live database and its attachments, verified,
                                   then renamed into place
    daily_backup(store, today)     once a day at start-up: backups/store-NNNNNN-YYYY-MM-DD.db, the last 7
                                   written kept (NNNNNN counts the backups written; the date is the clock's)
    check_backup(in_path)          verify a backup file; returns what it holds (BackupContents)
    restore_from(store, in_path)   replace the database with a checked backup (the current one saved first)
                                   and bring its attachments back

A backup is ONE SQLite file: the database copied with the backup API, plus - in the copy only - a table
backup_attachments (sha256, filename, data) holding the bytes of every attachment the attachments table lists
(photos and files live in data_dir/attachments, content-addressed by sha256). It is verified after writing:
PRAGMA integrity_check and every attachment's sha256 recomputed from its bytes. Backups written by older
versions (database only, no backup_attachments table) still restore; their attachments are left as they are.

A backup is encrypted like the store (SQLCipher, the data folder's key and salt; client.store.keys): the same PC
restores it with no code; another PC (or a new data folder) needs the recovery code printed when the key was
made, from which and the salt at the start of the file the key is made again. What is restored is written with
the restoring folder's own key. Plaintext backups of older versions still restore.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from client.store.attachments import AttachmentUnreadable, read_attachment, write_attachment
from client.store.db import DB_ERRORS, connect, file_salt, is_plaintext
from client.store.keys import DataKey, load_key, loaded_key_for_salt, valid_code
from client.store.records import StoreError

log = logging.getLogger(__name__)

KEEP_DAILY = 7
# store-000042-2026-11-28.db: the 42nd daily backup written, on a day the clock called 2026-11-28. Older
# versions wrote store-2026-11-28.db (no counter): those count as written before any numbered one.
DAILY_RE = re.compile(r"^store-(?:(\d{6,})-)?(\d{4}-\d{2}-\d{2})\.db$")
_TMP_PREFIX = ".backup-"
_STALE_TMP_SECONDS = 3600
ATTACHMENTS_TABLE = "backup_attachments"


@dataclass(frozen=True)
class BackupContents:
    """What a verified backup holds. attachments_missing: listed by the database but not in the file
    (absent or damaged on the PC when the backup was made, or a database-only backup of an older version)."""

    records: int
    attachments: int
    attachments_missing: int
    with_attachments: bool  # False: a database-only backup (older versions)


class BackupError(StoreError):
    """A backup or restore that could not be done; message_zh/message_en say why."""


class RecoveryCodeNeeded(BackupError):
    """An encrypted backup of another PC (or data folder), and no recovery code or a wrong one."""


class StoreFiles(Protocol):
    """What backups need of a store (client.store.db.Store has all of it)."""

    @property
    def db_path(self) -> Path: ...

    @property
    def backups_dir(self) -> Path: ...

    @property
    def attachments_dir(self) -> Path: ...

    def close(self) -> None: ...


Connection = Any  # a DB-API connection of client.store.db.connect


@contextlib.contextmanager
def _connect(
    path: Path, key: DataKey | None, *, read_only: bool = False, check: bool = True
) -> Iterator[Connection]:
    conn = connect(path, key, read_only=read_only, check=check)
    try:
        yield conn
    finally:
        conn.close()


def folder_key(store: StoreFiles) -> DataKey | None:
    """The key of the store's data folder (None: a plaintext store)."""
    return load_key(store.db_path.parent)


def backup_key(path: Path, own: DataKey | None, recovery_code: str | None = None) -> DataKey | None:
    """The key that opens the backup at path: None for a plaintext one (older versions), the PC's own key for
    its own backups, else the one the recovery code makes with the backup's salt. RecoveryCodeNeeded when none
    of these opens it."""
    if is_plaintext(path):
        return None
    salt = file_salt(path)
    candidates: list[DataKey] = []
    mine = own if own is not None and own.salt == salt else loaded_key_for_salt(salt)
    if mine is not None:
        candidates.append(mine)
    if recovery_code:
        if not valid_code(recovery_code):
            raise RecoveryCodeNeeded(
                "恢复码格式不对：应为 25 个字母和数字（如 ABCDE-FGHJK-…），请对照打印的恢复码重新输入",
                "the recovery code is malformed: it has 25 letters and digits (like ABCDE-FGHJK-...); "
                "type it again from the printed slip",
            )
        if salt is not None:
            candidates.append(DataKey.from_code(recovery_code, salt))
    for key in candidates:
        try:
            with _connect(path, key, read_only=True):
                return key
        except DB_ERRORS:
            continue
    if recovery_code:
        raise RecoveryCodeNeeded(
            f"恢复码不正确（或 {path.name} 不是有效的数据备份）：无法用它打开该文件，未做任何更改；"
            "请对照做备份的电脑当初打印的恢复码重新输入",
            f"wrong recovery code (or {path.name} is not a valid store backup): it does not open the "
            "file; nothing was changed; type the code printed for the PC that made the backup",
        )
    raise RecoveryCodeNeeded(
        f"{path.name} 不是有效的数据备份，或是另一台电脑（或另一个数据文件夹）的加密备份：若是后者，"
        "请加上 --recovery-code 恢复码；未做任何更改",
        f"{path.name} is not a valid store backup, or it is an encrypted backup of another PC (or data "
        "folder): then add --recovery-code CODE; nothing was changed",
    )


def _problem(conn: Connection) -> str | None:
    """None when the database passes integrity_check and holds a records table; else what is wrong."""
    rows = conn.execute("PRAGMA integrity_check").fetchall()
    if [r[0] for r in rows] != ["ok"]:
        return "; ".join(str(r[0]) for r in rows[:3])
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records'"
    ).fetchone()
    return None if found else "no records table"


def _has_table(conn: Connection, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def _add_attachments(conn: Connection, root: Path) -> None:
    """Put the bytes of every attachment the database lists into the backup copy (conn).

    One absent or damaged on this PC is left out (logged, and counted as missing by _contents): refusing
    the whole backup would leave the clerk with no backup at all."""
    conn.execute(
        f"CREATE TABLE {ATTACHMENTS_TABLE} "
        "(sha256 TEXT PRIMARY KEY, filename TEXT NOT NULL, data BLOB NOT NULL)"
    )
    listed = (
        conn.execute("SELECT sha256, filename FROM attachments").fetchall()
        if _has_table(conn, "attachments")
        else []
    )
    for sha, name in listed:
        try:
            data = read_attachment(root, sha)
        except (OSError, AttachmentUnreadable) as exc:
            log.warning("attachment %s (%s) not backed up: %s", name, sha, exc)
            continue
        if hashlib.sha256(data).hexdigest() != sha:
            log.warning("attachment %s (%s) is damaged on this PC; not backed up", name, sha)
            continue
        conn.execute(
            f"INSERT INTO {ATTACHMENTS_TABLE} (sha256, filename, data) VALUES (?, ?, ?)",
            (sha, name, data),
        )
    conn.commit()


def _damaged_attachments(conn: Connection) -> list[str]:
    """The attachments in a backup whose bytes do not match their sha256, as "name (sha256)"."""
    if not _has_table(conn, ATTACHMENTS_TABLE):
        return []
    damaged = []
    for sha, name, data in conn.execute(f"SELECT sha256, filename, data FROM {ATTACHMENTS_TABLE}"):
        if not isinstance(data, bytes) or hashlib.sha256(data).hexdigest() != sha:
            damaged.append(f"{name} ({sha})")
    return damaged


def _contents(conn: Connection) -> BackupContents:
    try:
        records = conn.execute("SELECT count(*) FROM records WHERE deleted = 0").fetchone()[0]
    except DB_ERRORS:  # a schema from before tombstones
        records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    listed = (
        conn.execute("SELECT count(*) FROM attachments").fetchone()[0]
        if _has_table(conn, "attachments")
        else 0
    )
    if not _has_table(conn, ATTACHMENTS_TABLE):
        return BackupContents(records, 0, listed, with_attachments=False)
    held = conn.execute(f"SELECT count(*) FROM {ATTACHMENTS_TABLE}").fetchone()[0]
    missing = (
        conn.execute(
            f"SELECT count(*) FROM attachments WHERE sha256 NOT IN "
            f"(SELECT sha256 FROM {ATTACHMENTS_TABLE})"
        ).fetchone()[0]
        if listed
        else 0
    )
    return BackupContents(records, held, missing, with_attachments=True)


def _verify(path: Path, key: DataKey | None) -> BackupContents:
    """What the backup at path holds; BackupError unless it passes integrity_check, holds a records table,
    and every attachment in it matches its sha256."""
    try:
        with _connect(path, key, read_only=True) as conn:
            problem = _problem(conn)
            if problem is None:
                damaged = _damaged_attachments(conn)
                if damaged:
                    raise BackupError(
                        f"{path.name} 中的附件已损坏：{'、'.join(damaged[:5])}",
                        f"damaged attachment(s) in {path.name}: {', '.join(damaged[:5])}",
                    )
                return _contents(conn)
    except DB_ERRORS as exc:
        problem = str(exc)
    raise BackupError(
        f"{path.name} 不是有效的数据备份（{problem}）",
        f"{path.name} is not a valid store backup ({problem})",
    )


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_checked(
    source: Path,
    target: Path,
    *,
    source_read_only: bool,
    source_key: DataKey | None,
    key: DataKey | None,
    attachments_root: Path | None = None,
) -> None:
    """Copy source (opened with source_key) into target (a new file, encrypted with key), as one self-contained
    file, and check it: with the backup API when the keys are the same, else with sqlcipher_export (the backup
    API cannot change a key). With attachments_root, the attachments the database lists are added to the copy."""
    if source_key != key:
        with _connect(source, source_key, read_only=source_read_only) as src:
            version = src.execute("PRAGMA user_version").fetchone()[0]
            src.execute(
                "ATTACH DATABASE ? AS copy KEY ?", (str(target), key.key_text if key else "")
            )
            src.execute("SELECT sqlcipher_export('copy')")
            src.execute(f"PRAGMA copy.user_version = {int(version)}")
            src.execute("DETACH DATABASE copy")
    with (
        _connect(source, source_key, read_only=source_read_only) as src,
        _connect(target, key) as dst,
    ):
        if source_key == key:
            src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # no -wal/-shm beside the copy
        if attachments_root is not None:
            _add_attachments(dst, attachments_root)
        problem = _problem(dst)
    if problem is not None:
        raise BackupError(
            f"备份文件检查未通过（{problem}）", f"the backup copy failed its check ({problem})"
        )
    with open(target, "rb+") as fh:
        os.fsync(fh.fileno())


def backup_to(
    store: StoreFiles, out_path: str | os.PathLike[str], *, with_attachments: bool = True
) -> Path:
    """Copy the live database (and, with_attachments, the attachments it lists) to out_path: backup API into
    a temp name in the same folder, fsync, verified (integrity_check, every attachment's sha256), then an
    atomic rename. The store stays open and usable meanwhile. Returns the path written."""
    out = Path(out_path).resolve()
    if out == store.db_path.resolve():
        raise BackupError("不能把数据库备份到它自己", "cannot back the database up onto itself")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{_TMP_PREFIX}{uuid.uuid4().hex[:12]}.tmp")
    key = folder_key(store)
    try:
        _copy_checked(
            store.db_path,
            tmp,
            source_read_only=False,
            source_key=key,
            key=key,
            attachments_root=store.attachments_dir if with_attachments else None,
        )
        _verify(tmp, key)
        os.replace(tmp, out)
        _fsync_dir(out.parent)
    except DB_ERRORS as exc:
        raise BackupError(f"备份失败：{exc}", f"backup failed: {exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    log.info("backed the store up to %s", out)
    return out


def _written_order(path: Path) -> tuple[int, str]:
    match = DAILY_RE.match(path.name)
    assert match is not None
    return int(match.group(1) or 0), match.group(2)


def daily_backups(store: StoreFiles) -> list[Path]:
    """The daily backups present, in the order they were written (oldest first).

    The order is the counter in the name, never the date: a clock that was once a year ahead (or behind)
    stamps a misleading date, and sorting by it kept a future-dated backup as "the newest" for a year."""
    folder = store.backups_dir
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if DAILY_RE.match(p.name)), key=_written_order)


def daily_backup(store: StoreFiles, today: dt.date, *, keep: int = KEEP_DAILY) -> Path | None:
    """Back the store up once a day (backups/store-NNNNNN-YYYY-MM-DD.db); keep the newest `keep` written.

    Call once at start-up. Returns the new file, or None when the newest backup already has today's date.
    A date whose backup exists but is not the newest (the clock went back) is backed up again.
    """
    folder = store.backups_dir
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(folder)
    present = daily_backups(store)
    made: Path | None = None
    if not present or _written_order(present[-1])[1] != today.isoformat():
        number = (_written_order(present[-1])[0] if present else 0) + 1
        made = backup_to(store, folder / f"store-{number:06d}-{today.isoformat()}.db")
        present.append(made)
    for old in present[:-keep] if keep > 0 else []:
        log.info("removing old daily backup %s", old.name)
        old.unlink()
    return made


def _remove_stale_temps(folder: Path) -> None:
    """Temp files left by a backup that was interrupted (a crash, a power cut): any not written within the
    last hour - before it, or after it (stamped while the clock was ahead: "older than an hour" would only
    come true once the clock caught up, a year later)."""
    now = time.time()
    for p in folder.glob(f"{_TMP_PREFIX}*.tmp"):
        with contextlib.suppress(OSError):
            if abs(now - p.stat().st_mtime) > _STALE_TMP_SECONDS:
                p.unlink()


def check_backup(
    in_path: str | os.PathLike[str],
    *,
    own: DataKey | None = None,
    recovery_code: str | None = None,
) -> BackupContents:
    """What the backup at in_path holds; BackupError unless it is a sound store backup (integrity_check ok,
    a records table, every attachment in it matching its sha256). own: the key of the data folder it is for
    (its own backups open with it); recovery_code: for a backup of another PC or folder."""
    source = Path(in_path)
    if not source.is_file():
        raise BackupError(f"找不到备份文件 {source}", f"backup file not found: {source}")
    key = backup_key(source, own, recovery_code)
    try:
        return _verify(source, key)
    except BackupError as exc:
        raise BackupError(
            f"{exc.message_zh}，未做任何更改", f"{exc.message_en}; nothing was changed"
        ) from exc


def _bring_back_attachments(staged: Path, key: DataKey | None, root: Path) -> int:
    """Write the attachments held in the staged backup copy into root (content-addressed; files already
    there are kept), then drop them from the copy. Returns how many files were written."""
    written = 0
    with _connect(staged, key) as conn:
        if not _has_table(conn, ATTACHMENTS_TABLE):
            return 0
        for sha, name, data in conn.execute(
            f"SELECT sha256, filename, data FROM {ATTACHMENTS_TABLE}"
        ):
            if hashlib.sha256(data).hexdigest() != sha:
                raise BackupError(
                    f"备份中的附件已损坏：{name} ({sha})",
                    f"damaged attachment in the backup: {name} ({sha})",
                )
            if write_attachment(root, sha, data, key=key):
                written += 1
        conn.execute(f"DROP TABLE {ATTACHMENTS_TABLE}")
        conn.commit()
        conn.execute("VACUUM")
    return written


def _known_schema(db: Path, key: DataKey | None) -> str | None:
    """None when the backup's schema is one this program knows (it is migrated on the next open)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from client.store.migrate import MIGRATIONS

    with _connect(db, key, read_only=True) as conn:
        has_table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
        version = (
            conn.execute("SELECT version_num FROM alembic_version").fetchone()
            if has_table
            else None
        )
    if version is None:
        return None
    try:
        ScriptDirectory(str(MIGRATIONS)).get_revision(version[0])
    except CommandError:
        return str(version[0])
    return None


def _mark_restored(db: Path, key: DataKey | None, *, source: str, now: dt.datetime) -> None:
    from client.store.healing import K_RESTORED, restored_store_marker
    from client.store.pull import K_CURSOR

    with _connect(db, key) as conn:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (K_CURSOR,)).fetchone()
        value = row[0] if row else 0
        # The JSON column has numeric affinity: a number comes back as one, anything else as its text.
        cursor = json.loads(value) if isinstance(value, str) else value
        marker = restored_store_marker(cursor=cursor, now=now, source=source)
        conn.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
            (K_RESTORED, json.dumps(marker)),
        )
        conn.commit()


# The machine's enrollment with its server: not part of the data a restore rolls back. A backup holds the
# token of its day, which rotation (protocol 1.9) retires after a few syncs.
CREDENTIAL_SETTINGS = (
    "sync.server_url",
    "sync.device_token",
    "sync.device_id",
    "sync.school_code",
    "sync.school_name",
    "sync.server_fingerprint",
    "pin_reset_key",
    "usb_key",
)


def _carry_credential(live: Path, staged: Path, key: DataKey | None) -> None:
    """Copy the live database's credential into the restored copy - when the live one can be read and is
    enrolled (a damaged one, or a new data folder, leaves the backup's)."""
    marks = ",".join("?" * len(CREDENTIAL_SETTINGS))
    try:
        with _connect(live, key, read_only=True) as conn:
            rows = conn.execute(
                f"SELECT key, value FROM settings WHERE key IN ({marks})", CREDENTIAL_SETTINGS
            ).fetchall()
    except DB_ERRORS as exc:
        log.warning("the current credential could not be read; the backup's is kept: %s", exc)
        return
    held = dict(rows)
    if not held.get("sync.device_token"):
        return
    with _connect(staged, key) as conn:
        conn.execute(f"DELETE FROM settings WHERE key IN ({marks})", CREDENTIAL_SETTINGS)
        conn.executemany(
            "INSERT INTO settings (key, value) VALUES (?, ?)",
            [(k, v) for k, v in rows if v is not None],
        )
        conn.commit()


def restore_from(
    store: StoreFiles,
    in_path: str | os.PathLike[str],
    *,
    now: dt.datetime | None = None,
    recovery_code: str | None = None,
) -> Path:
    """Replace the store's database with the backup at in_path; returns where the current one was saved.

    1. The backup is checked (integrity_check, a records table, every attachment's sha256), copied to a temp
       file beside the database and checked again (and for a schema version this program knows); a file that
       fails is refused and nothing changes.
    2. The current database is saved as backups/pre-restore-<timestamp>.db.
    3. store.close() disposes the engine's connections; every Session must have ended before the call, and no
       other program (the GUI, another school-client) may have the database open.
    4. The checked copy is written over the live database with the backup API (which also settles its WAL).

    Before step 2, the attachments the backup holds are written into store.attachments_dir (content-addressed:
    files already there are kept; none is deleted). A database-only backup (older versions) brings none.
    The caller reopens the store afterwards (open_store / ClientContext.open runs any migrations).

    The restored store is marked (client.store.healing.K_RESTORED, with the backup's pull cursor): its next
    sync reads again, with this computer's own changes, what the server holds since the backup - so what
    this computer sent after the backup comes back, and only what it never sent is lost
    (healing.work_lost_by_restore counts that, from the saved copy).

    An encrypted backup of another PC or data folder needs recovery_code (RecoveryCodeNeeded otherwise); what
    is restored, attachments included, is written with this folder's own key.
    """
    source = Path(in_path)
    own = folder_key(store)
    check_backup(source, own=own, recovery_code=recovery_code)
    source_key = backup_key(source, own, recovery_code)
    db = store.db_path
    if source.resolve() == db.resolve():
        raise BackupError("不能用数据库自身来恢复", "cannot restore the database from itself")
    staged = db.with_name(f"{_TMP_PREFIX}restore-{uuid.uuid4().hex[:12]}.tmp")
    try:
        try:
            _copy_checked(source, staged, source_read_only=True, source_key=source_key, key=own)
        except (*DB_ERRORS, BackupError) as exc:  # type: ignore[misc]  # mypy: starred except tuple
            raise BackupError(
                f"{source.name} 不是有效的数据备份（{exc}），未做任何更改",
                f"{source.name} is not a valid store backup ({exc}); nothing was changed",
            ) from exc
        newer = _known_schema(staged, own)
        if newer is not None:
            raise BackupError(
                f"{source.name} 来自更新版本的程序（数据库版本 {newer}），请先升级本程序",
                f"{source.name} comes from a newer version of this program (schema {newer}); upgrade first",
            )
        _mark_restored(staged, own, source=source.name, now=now or dt.datetime.now())
        _carry_credential(db, staged, own)
        # Content-addressed and only added: written before the database, so a failure here replaces nothing.
        _bring_back_attachments(staged, own, store.attachments_dir)
        stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
        saved = store.backups_dir / f"pre-restore-{stamp}.db"
        n = 2
        while saved.exists():
            saved = store.backups_dir / f"pre-restore-{stamp}-{n}.db"
            n += 1
        backup_to(store, saved, with_attachments=False)  # restore deletes no attachment file
        store.close()
        try:
            with (
                _connect(staged, own, read_only=True) as src,
                _connect(db, own, check=False) as dst,
            ):
                src.backup(dst)
                dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                problem = _problem(dst)
        except DB_ERRORS as exc:
            raise BackupError(
                f"恢复失败（当前数据库已另存为 {saved}）：{exc}",
                f"restore failed (the current database was saved as {saved}): {exc}",
            ) from exc
        if problem is not None:
            raise BackupError(
                f"恢复后的数据库检查未通过（{problem}）；原数据库已另存为 {saved}",
                f"the restored database failed its check ({problem}); the previous one is at {saved}",
            )
    finally:
        if staged.exists():
            staged.unlink()
    log.info("restored the store from %s (previous database saved as %s)", source, saved)
    return saved
