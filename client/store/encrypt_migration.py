"""Encrypting what an older version left in plaintext: the store, its backups, its attachments.

One database at a time, in one step that cannot lose data: the plaintext file's WAL is folded in, the whole
database is exported (sqlcipher_export) into a temp file beside it, fsynced, checked (integrity_check, and every
table holds as many rows as in the original), and only then renamed over the original - an atomic rename, so at
every instant the file is either the whole plaintext original or the whole checked encrypted copy. A migration
that is stopped (killed, a power cut) leaves the original and a temp file, removed and done again at the next
start. Attachments: each file is written encrypted under its new name (temp, fsync, rename) before the plaintext
file is removed; one stopped between the two is found plaintext again and redone.

Deleted plaintext is not wiped from the disk's free space (no program can promise that on an SSD): see
docs/security.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

from client.store.attachments import MAGIC, write_attachment
from client.store.db import DB_ERRORS, connect, is_plaintext
from client.store.keys import KEY_FILE, DataKey, _write_json
from client.store.paths import DB_NAME
from client.store.records import StoreError

log = logging.getLogger(__name__)

TMP_PREFIX = ".encrypting-"
_SHA = re.compile(r"^[0-9a-f]{64}$")

# Called at each step with its name; tests stop a migration there (a subprocess killed while it waits).
step: Callable[[str], None] = lambda name: None  # noqa: E731


class MigrationError(StoreError):
    pass


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _counts(conn: object, schema: str) -> dict[str, int]:
    names = [
        r[0]
        for r in conn.execute(  # type: ignore[attr-defined]
            f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    ]
    return {
        n: conn.execute(f'SELECT count(*) FROM {schema}."{n}"').fetchone()[0]  # type: ignore[attr-defined]
        for n in names
    }


def encrypt_database(path: Path, key: DataKey) -> None:
    """Replace the plaintext database at path by an encrypted copy (see the module's docstring)."""
    tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}.tmp")
    try:
        src = connect(path, None)
        try:
            # Fold the WAL in and drop it: a plaintext -wal must never lie beside the encrypted file.
            src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            src.execute("PRAGMA journal_mode=DELETE")
            before = _counts(src, "main")
            version = src.execute("PRAGMA user_version").fetchone()[0]
            src.execute("ATTACH DATABASE ? AS enc KEY ?", (str(tmp), key.key_text))
            src.execute("SELECT sqlcipher_export('enc')")
            src.execute(f"PRAGMA enc.user_version = {int(version)}")
            src.execute("DETACH DATABASE enc")
        finally:
            src.close()
        step("exported")
        _fsync_file(tmp)
        check = connect(tmp, key)
        try:
            rows = check.execute("PRAGMA integrity_check").fetchall()
            after = _counts(check, "main")
        finally:
            check.close()
        if [r[0] for r in rows] != ["ok"] or after != before:
            raise MigrationError(
                f"加密后的数据库检查未通过（{path.name}），原文件未改动",
                f"the encrypted copy of {path.name} failed its check; the original is unchanged",
            )
        step("verified")
        for side in ("-wal", "-shm"):
            extra = path.with_name(path.name + side)
            if extra.exists():
                if side == "-wal" and extra.stat().st_size:
                    raise MigrationError(
                        f"{path.name} 仍在被其他程序使用，请关闭后重试",
                        f"{path.name} is still in use by another program; close it and try again",
                    )
                extra.unlink()
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        step("replaced")
        log.info("encrypted %s", path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _remove_temps(folder: Path) -> None:
    # The temporary database and what SQLite left beside it when the process was killed (-journal).
    for p in folder.glob(f"{TMP_PREFIX}*.tmp*"):
        with contextlib.suppress(OSError):
            p.unlink()


def encrypt_attachments(root: Path, key: DataKey) -> int:
    """Encrypt every plaintext attachment file (named by the sha256 of its content); returns how many."""
    done = 0
    if not root.is_dir():
        return 0
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(sub.iterdir()):
            if not _SHA.match(f.name) or not f.is_file():
                continue
            with open(f, "rb") as fh:
                if fh.read(len(MAGIC)) == MAGIC:
                    continue  # already encrypted (its name is the keyed name)
            write_attachment(root, f.name, f.read_bytes(), key=key, replace=True)
            step("attachment")
            f.unlink()
            done += 1
    return done


def encrypt_folder(data_dir: Path, key: DataKey) -> None:
    """Encrypt whatever of the data folder is still plaintext. Cheap when nothing is: one header read for the
    store, one per backup file, and the attachments only until they were all done once (noted in key.json)."""
    _remove_temps(data_dir)
    db = data_dir / DB_NAME
    try:
        if is_plaintext(db):
            log.info("encrypting the store %s (first start of a version that encrypts)", db)
            encrypt_database(db, key)
        backups = data_dir / "backups"
        if backups.is_dir():
            _remove_temps(backups)
            for f in sorted(backups.glob("*.db")):
                if is_plaintext(f):
                    encrypt_database(f, key)
    except DB_ERRORS as exc:
        raise MigrationError(
            f"加密数据文件夹 {data_dir} 失败，原数据未改动：{exc}",
            f"encrypting the data folder {data_dir} failed; the original data is unchanged: {exc}",
        ) from exc
    meta_path = data_dir / KEY_FILE
    meta = json.loads(meta_path.read_text("utf-8"))
    if not meta.get("attachments_encrypted"):
        n = encrypt_attachments(data_dir / "attachments", key)
        if n:
            log.info("encrypted %d attachment file(s) in %s", n, data_dir)
        meta["attachments_encrypted"] = True
        _write_json(meta_path, meta)
