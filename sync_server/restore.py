"""Putting a backup of the server's database back (`sync-server restore`), so that devices heal by themselves.

    restore_sqlite_file(db_path, backup, saved_dir, now)   SQLite: the backup is checked, the current database
                                                           saved beside it, then the backup written over it
    mark_restored(db, now, previous_seq, details)          any database, once it holds the backup (after
                                                           pg_restore too): a new server generation

A restored database has gone back in time: what devices pushed after the backup is gone, though each device
was told it was applied; and the change numbers after the backup's will be handed out again. mark_restored
starts a new generation (services.generation) held through the backup's change counter, so every device
hears at its next sync that it must send again what it was told applied after that number and read its
school's data again; and it moves the counter past the numbers the lost database had handed out (the
previous database's counter, when it can still be read or is given), so that older devices, which know
nothing of generations, do not skip the server's next changes.

    carry_over_identities(previous_url, db)                 who may sign in, from the replaced database

Schools, enrollment codes, devices and staff accounts are taken from the replaced database when it can
still be read (SQLite: the copy restore_sqlite_file kept; PostgreSQL: --previous-db): a PC enrolled after
the backup, or whose token was renewed since, goes on syncing without a new code, and a device revoked or
an account disabled since stays so. Records are the backup's; the devices send again what it lacks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, Table, insert, inspect, select, text, update
from sqlalchemy.engine import make_url

from sync_server.db import Database, make_engine
from sync_server.models import Device, EnrollmentCode, School, User
from sync_server.private_files import create_file, private_dir, secure_sqlite_file, tighten
from sync_server.services.generation import (
    Reason,
    change_time,
    current_generation,
    start_generation,
)

log = logging.getLogger(__name__)

# What makes a file a database of this server.
_TABLES = ("records", "change_counter", "applied_ops")


class RestoreError(Exception):
    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en


@dataclass(frozen=True)
class RestoreOutcome:
    generation: str
    parent: str  # the generation the backup was made in
    held_through: int  # the backup's change counter: the parent's changes held
    counter: int  # numbering goes on after this
    previous_seq: int | None  # the lost database's counter, when known
    backup_time: dt.datetime | None  # when the newest change in the backup was made
    saved_as: Path | None  # the database that was replaced, kept


def sqlite_path(url: str) -> Path | None:
    """The file of an sqlite:/// URL; None for another database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


@contextlib.contextmanager
def _connect(path: Path, *, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    if read_only:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    else:
        conn = sqlite3.connect(path, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def _problem(conn: sqlite3.Connection) -> str | None:
    rows = conn.execute("PRAGMA integrity_check").fetchall()
    if [r[0] for r in rows] != ["ok"]:
        return "integrity_check: " + "; ".join(str(r[0]) for r in rows[:3])
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [t for t in _TABLES if t not in names]
    return f"no table {', '.join(missing)}" if missing else None


def check_backup(backup: Path) -> None:
    """RestoreError unless `backup` is a sound SQLite database of this server."""
    if not backup.is_file():
        raise RestoreError(
            "backup_not_found", f"找不到备份文件 {backup}", f"backup file not found: {backup}"
        )
    try:
        with _connect(backup, read_only=True) as conn:
            problem = _problem(conn)
    except sqlite3.Error as exc:
        problem = str(exc)
    if problem is not None:
        raise RestoreError(
            "bad_backup",
            f"{backup} 不是有效的服务器数据库备份（{problem}），未做任何更改",
            f"{backup} is not a sound backup of this server's database ({problem}); nothing was changed",
        )


def previous_counter(db_path: Path) -> int | None:
    """The change counter of the database about to be replaced, when it can still be read."""
    if not db_path.is_file():
        return None
    try:
        with _connect(db_path, read_only=True) as conn:
            row = conn.execute("SELECT value FROM change_counter WHERE id = 1").fetchone()
    except sqlite3.Error as exc:
        log.warning("the counter of %s cannot be read (%s)", db_path, exc)
        return None
    return int(row[0]) if row else None


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def restore_sqlite_file(
    db_path: Path, backup: Path, *, saved_dir: Path, now: dt.datetime
) -> Path | None:
    """Write the checked backup over the database file (the server must be stopped). The current database,
    if there is one, is first copied to saved_dir/pre-restore-<time>.db (returned)."""
    check_backup(backup)
    if db_path.exists() and backup.resolve() == db_path.resolve():
        raise RestoreError(
            "same_file", "不能用数据库自身来恢复", "cannot restore the database from itself"
        )
    secure_sqlite_file(db_path)  # the restored database is owner-only, like every server file
    staged = db_path.with_name(f".restore-{uuid.uuid4().hex[:12]}.tmp")
    saved: Path | None = None
    try:
        create_file(staged)
        with _connect(backup, read_only=True) as src, _connect(staged) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            problem = _problem(dst)
        if problem is not None:
            raise RestoreError(
                "bad_backup",
                f"备份复制后检查未通过（{problem}），未做任何更改",
                f"the copy of the backup failed its check ({problem}); nothing was changed",
            )
        if db_path.exists():
            private_dir(saved_dir)
            tighten(saved_dir)
            saved = saved_dir / f"pre-restore-{now:%Y%m%d-%H%M%S}.db"
            n = 2
            while saved.exists():
                saved = saved_dir / f"pre-restore-{now:%Y%m%d-%H%M%S}-{n}.db"
                n += 1
            try:
                create_file(saved)
                with _connect(db_path, read_only=True) as src, _connect(saved) as dst:
                    src.backup(dst)
                _fsync(saved)
            except sqlite3.Error as exc:  # a damaged database is why one restores: keep its bytes
                log.warning("the current database cannot be read (%s); its file is kept as is", exc)
                saved.unlink(missing_ok=True)
                saved = saved.with_suffix(".damaged")
                db_path.replace(saved)
                tighten(saved)
                secure_sqlite_file(db_path)
                for extra in ("-wal", "-shm"):
                    Path(f"{db_path}{extra}").unlink(missing_ok=True)
        with _connect(staged, read_only=True) as src, _connect(db_path) as dst:
            src.backup(dst)
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            problem = _problem(dst)
        if problem is not None:
            raise RestoreError(
                "restore_failed",
                f"恢复后的数据库检查未通过（{problem}）；原数据库另存为 {saved}",
                f"the restored database failed its check ({problem}); the previous one is at {saved}",
            )
    except sqlite3.Error as exc:
        raise RestoreError(
            "restore_failed",
            f"恢复失败：{exc}（原数据库另存为 {saved}）",
            f"restore failed: {exc} (the previous database was saved as {saved})",
        ) from exc
    finally:
        staged.unlink(missing_ok=True)
    log.warning("restored %s from %s (previous database saved as %s)", db_path, backup, saved)
    return saved


def mark_restored(
    db: Database,
    *,
    now: dt.datetime,
    previous_seq: int | None = None,
    details: Mapping[str, Any] | None = None,
    saved_as: Path | None = None,
) -> RestoreOutcome:
    """Start a new generation in a database that now holds a backup (migrated to the newest schema)."""
    with db.Session.begin() as session:
        parent = current_generation(session).generation
        row = start_generation(
            session,
            reason=Reason.RESTORED,
            now=now,
            actor="cli",
            jump_to=previous_seq,
            details={
                **dict(details or {}),
                "previous_seq": previous_seq,
                "saved_as": str(saved_as) if saved_as else None,
            },
        )
        held = int(row.parent_seq or 0)
        backup_time = change_time(session, held)
        return RestoreOutcome(
            generation=row.generation,
            parent=parent,
            held_through=held,
            counter=int(row.seq_floor),
            previous_seq=previous_seq,
            backup_time=backup_time,
            saved_as=saved_as,
        )


# Parents first (codes and devices belong to schools).
IDENTITY_TABLES = (School, User, EnrollmentCode, Device)


@dataclass(frozen=True)
class CarriedOver:
    added: dict[str, int]  # table -> rows the backup lacked
    updated: dict[str, int]  # table -> rows that changed since the backup (a token, a revocation)


def counter_of(url: str) -> int | None:
    """The change counter of another database (the replaced one), when it answers."""
    try:
        engine = make_engine(url, pool_size=1)
    except Exception:
        return None
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT value FROM change_counter WHERE id = 1")).scalar_one()
            )
    except Exception as exc:
        log.warning("the counter of the previous database cannot be read: %s", exc)
        return None
    finally:
        engine.dispose()


def carry_over_identities(previous_url: str, db: Database) -> CarriedOver | None:
    """Take schools, staff accounts, enrollment codes and devices from the replaced database into the
    restored one: rows it lacks are added with their ids, rows that differ are updated. None when the
    replaced database cannot be read."""
    try:
        old = make_engine(previous_url, pool_size=1)
    except Exception as exc:
        log.warning("the previous database cannot be opened: %s", exc)
        return None
    added: dict[str, int] = {}
    updated: dict[str, int] = {}
    try:
        with old.connect() as src:
            present = set(inspect(src).get_table_names())
            rows: dict[str, list[dict[str, Any]]] = {}
            for model in IDENTITY_TABLES:
                table = model.__table__
                assert isinstance(table, Table)
                if table.name not in present:
                    continue
                theirs = {c["name"] for c in inspect(src).get_columns(table.name)}
                columns = [c for c in table.columns if c.name in theirs]
                rows[table.name] = [dict(r) for r in src.execute(select(*columns)).mappings().all()]
    except Exception as exc:
        log.warning("the previous database cannot be read: %s", exc)
        return None
    finally:
        old.dispose()
    with db.Session.begin() as session:
        for model in IDENTITY_TABLES:
            table = model.__table__
            assert isinstance(table, Table)
            key = next(iter(table.primary_key.columns))
            mine = {r[key.name]: dict(r) for r in session.execute(select(table)).mappings().all()}
            new = [r for r in rows.get(table.name, []) if r[key.name] not in mine]
            changed = [
                r
                for r in rows.get(table.name, [])
                if r[key.name] in mine and any(mine[r[key.name]].get(k) != v for k, v in r.items())
            ]
            if new:
                session.execute(insert(table), new)
            for r in changed:
                session.execute(update(table).where(key == r[key.name]).values(**r))
            added[table.name], updated[table.name] = len(new), len(changed)
            if new and db.engine.dialect.name == "postgresql" and isinstance(key.type, Integer):
                # Ids given explicitly do not move a serial's sequence: the next insert would collide.
                session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{key.name}'), "
                        f"(SELECT max({key.name}) FROM {table.name}))"
                    )
                )
    log.warning("carried over from the previous database: added %s, updated %s", added, updated)
    return CarriedOver(added, updated)
