"""Opening the local store: SQLCipher (SQLite encrypted with the data folder's key, client.store.keys) in WAL
mode, synchronous=FULL, foreign keys on, migrations at start-up.

Everything that opens store.db or a backup goes through here: `connect` for a plain DB-API connection,
`make_engine`/`open_store` for SQLAlchemy. A plaintext store of an older version is encrypted on first open
(client.store.encrypt_migration).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import sqlcipher3
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from client.store.dberrors import DB_ERRORS
from client.store.keys import DataKey, ensure_key
from client.store.paths import DB_NAME
from forms import json_fast

log = logging.getLogger(__name__)
__all__ = ["DB_ERRORS", "Store", "connect", "make_engine", "open_store"]

PLAINTEXT_HEADER = b"SQLite format 3\x00"


def is_plaintext(path: Path) -> bool:
    """Whether the file is an unencrypted SQLite database (an older version's store or backup)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(PLAINTEXT_HEADER)) == PLAINTEXT_HEADER
    except FileNotFoundError:
        return False


def file_salt(path: Path) -> bytes | None:
    """The salt an encrypted database starts with (SQLCipher keeps it in the clear), None for a plaintext one."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    return None if head == PLAINTEXT_HEADER or len(head) < 16 else head


def connect(
    path: Path,
    key: DataKey | None,
    *,
    read_only: bool = False,
    timeout: float = 30,
    check: bool = True,
) -> sqlcipher3.Connection:
    """A DB-API connection to the database at path, keyed (key None: a plaintext database). check: the key is
    tried at once, a wrong one raising sqlcipher3.DatabaseError ("file is not a database")."""
    if read_only:
        conn = sqlcipher3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout, check_same_thread=False
        )
    else:
        conn = sqlcipher3.connect(str(path), timeout=timeout, check_same_thread=False)
    try:
        conn.execute(
            "PRAGMA cipher_log_level = NONE"
        )  # a wrong key is reported by the exception alone
        if key is not None:
            conn.execute(f"PRAGMA key = {key.sqlcipher_key}")
        if check:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def make_engine(db_path: Path, key: DataKey | bool | None = True) -> Engine:
    """An engine on the store at db_path. key: the key to use, None for a plaintext database, True (the
    default) for the key of the data folder db_path lies in (made now if it has none)."""
    if key is True:
        key = prepare_folder(db_path.parent)
    the_key: DataKey | None = key if isinstance(key, DataKey) else None
    engine = create_engine(
        "sqlite://",
        module=sqlcipher3,
        creator=lambda: connect(db_path, the_key),
        # A file database's pool, as sqlite:///FILE gets: the bare "sqlite://" URL would choose
        # SingletonThreadPool (meant for :memory:), which closes the connections of threads beyond its
        # size - under the window's background tasks a sync then met "Cannot operate on a closed database".
        poolclass=QueuePool,
        # Stored answers read with orjson (the same values as json.loads; issue 14: decoding was a seventh
        # of a sync's CPU). Written as before (the standard library's text, which search reads).
        json_deserializer=json_fast.loads,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below open transactions, so DDL is transactional too.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: no deadlock between two readers that both turn writer.
        # A read-only session (Store.ReadSession) begins DEFERRED instead: in WAL mode it reads the last
        # commit without waiting for a writer (the window's reads on the GUI thread no longer wait for a
        # write on the database thread, up to the busy timeout) and holds no writer up.
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


READ_ONLY_OPTION = "school_read_only"  # an execution option: begin DEFERRED (reads only)
Sessions: TypeAlias = "sessionmaker[Session]"  # (in Store's body, `Session` is its field)


# SQLite's own checkpoint (copying the WAL back into the database file, then syncing it) runs inside the
# commit that takes the WAL past wal_autocheckpoint pages (default 1,000): with a save writing ~35 pages, about
# every 30th save waited for ~4 MB to be written and synced. A store opened by open_store checkpoints on a
# thread of its own instead (Checkpointer), a moment after commits; the connections' limit stays as a safety
# net should that thread fall behind.
WAL_AUTOCHECKPOINT_PAGES = 8000  # ~32 MB
CHECKPOINT_DELAY_S = 0.5


class Checkpointer:
    """A PASSIVE checkpoint of the store's WAL on its own thread, CHECKPOINT_DELAY_S after commits (one per
    burst of commits, at most every CHECKPOINT_DELAY_S). PASSIVE neither waits for nor blocks readers and
    writers: saves go on committing meanwhile. Each checkpoint opens a connection and closes it (no file
    handle is kept between them: a restore replaces the file after Store.close has stopped the thread)."""

    def __init__(self, db_path: Path, key: DataKey | None) -> None:
        self.db_path = db_path
        self._key = key
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-checkpoint", daemon=True)
        self.runs = 0  # checkpoints done (benchmarks/client_scale_bench.py prints them)
        self.seconds = 0.0
        self.frames = 0  # WAL frames copied back

    def start(self) -> None:
        self._thread.start()

    def committed(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            if self._stop.wait(CHECKPOINT_DELAY_S):
                return
            self._wake.clear()
            try:
                self.checkpoint()
            except Exception as exc:  # the safety net (wal_autocheckpoint) remains
                log.warning("background checkpoint of %s failed: %s", self.db_path, exc)

    def checkpoint(self) -> None:
        t0 = time.perf_counter()
        conn = connect(self.db_path, self._key, check=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            conn.close()
        self.runs += 1
        self.frames += int(row[2]) if row and row[2] and row[2] > 0 else 0
        self.seconds += time.perf_counter() - t0


@dataclass
class Store:
    """An open local store: its folder, engine and session factories: Session for anything that may write
    (each transaction takes the write lock at its start), ReadSession for reads only (a snapshot of the last
    commit, never waiting for a writer; a write in it may fail with "database is locked")."""

    data_dir: Path
    engine: Engine
    Session: sessionmaker[Session]
    ReadSession: Sessions = field(init=False, repr=False)
    checkpointer: Checkpointer | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.ReadSession = sessionmaker(
            self.engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()


def prepare_folder(data_dir: Path) -> DataKey:
    """The data folder's key (made when the folder has none), with anything of the folder still in plaintext
    (a store, backups or attachments of an older version, or of a migration that was interrupted) encrypted."""
    from client.store.encrypt_migration import encrypt_folder

    data_dir.mkdir(parents=True, exist_ok=True)
    key, _made = ensure_key(data_dir)
    encrypt_folder(data_dir, key)
    return key


def recover_folder_key(data_dir: Path, code: str) -> DataKey:
    """Take the key made from the recovery code as the folder's key, when this PC lost it (a new Windows
    profile, the folder carried from another PC): checked against the store (the salt at its start) first."""
    from client.store.keys import DataKey as Key
    from client.store.keys import DataKeyError, forget_cached, save_key, valid_code

    db = data_dir / DB_NAME
    salt = file_salt(db) if db.is_file() else None
    if salt is None:
        raise DataKeyError(
            f"数据文件夹 {data_dir} 中没有加密的数据库，无需恢复码",
            f"the data folder {data_dir} holds no encrypted store: no recovery code is needed",
        )
    key = Key.from_code(code, salt) if valid_code(code) else None
    try:
        if key is None:
            raise sqlcipher3.DatabaseError("malformed code")
        connect(db, key, read_only=True).close()
    except DB_ERRORS as exc:
        raise DataKeyError(
            f"恢复码不正确：无法用它打开 {db}，未做任何更改",
            f"wrong recovery code: it does not open {db}; nothing was changed",
        ) from exc
    forget_cached(data_dir)
    save_key(data_dir, key)
    return key


def open_store(data_dir: Path, *, migrate: bool = True, encrypted: bool = True) -> Store:
    """Open (creating if needed) the store in data_dir and bring its schema up to date. encrypted=False: a
    plaintext store (benchmarks compare the two; the product always encrypts)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key = prepare_folder(data_dir) if encrypted else None
    engine = make_engine(data_dir / DB_NAME, key)
    checkpointer = Checkpointer(data_dir / DB_NAME, key)

    @event.listens_for(engine, "connect")
    def _checkpoints_elsewhere(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")

    @event.listens_for(engine, "commit")
    def _wrote(conn: Any) -> None:
        # Only a commit that changed rows put frames in the WAL; reads (the window's lists, 待办's pages)
        # commit too. total_changes counts this connection's changed rows since it opened.
        changes = getattr(conn.connection.dbapi_connection, "total_changes", None)
        if changes is None or changes != conn.info.get("changes_at_commit"):
            conn.info["changes_at_commit"] = changes
            checkpointer.committed()

    try:
        if migrate:
            from client.store.migrate import upgrade

            upgrade(engine)
        store = Store(data_dir, engine, sessionmaker(engine, expire_on_commit=False))
        store.attachments_dir.mkdir(exist_ok=True)
    except BaseException:
        engine.dispose()
        raise
    store.checkpointer = checkpointer
    checkpointer.start()
    return store
