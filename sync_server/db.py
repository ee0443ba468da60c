"""Opening the server database: SQLite (WAL, synchronous=FULL, foreign keys) by default, or PostgreSQL.

Two session factories:
- `Session` for writes. On SQLite its transactions start with BEGIN IMMEDIATE, so writers queue for the one
  write lock up front instead of deadlocking when two readers both turn writer.
- `ReadSession` for reads. On SQLite a plain BEGIN: a snapshot that does not wait for writers (WAL).
On SQLite each has an engine (a pool of connections) of its own: the writers keep temporary storage in
memory, the readers in files (see open_database). On PostgreSQL both share one engine and are ordinary READ
COMMITTED transactions; writers lock what they change (see services).

And `read_connection()` for reads through a Connection, no Session (the token read of every device request):
on SQLite the same plain BEGIN; on PostgreSQL autocommit - each statement its own snapshot, as in a READ
COMMITTED transaction, without the BEGIN and COMMIT round trips (issue 14, goal 3). The pool gives each
connection back to the next user in the engine's own isolation level. `one_write()` likewise for a write of
one statement (a device's last_seen_at): on SQLite in a BEGIN IMMEDIATE transaction, on PostgreSQL autocommit
(the statement commits by itself).

Every JSON column is written as sync_server.json_text.dumps writes it (compact, Chinese kept as is), whichever path
writes it: the push's fast insert sends text it encoded so, and the ORM (edits, conflicts, reviews) encodes
through the engine's json_serializer, so a plain `LIKE '%张伟%'` finds edited records too. Rows an older
server wrote with escaped Chinese (`\\u5f20`) are not rewritten: they read back the same; the next change of
such a record writes it in the one form.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, orm, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from forms import json_fast
from sync_server.json_text import dumps
from sync_server.private_files import secure_sqlite_file

log = logging.getLogger(__name__)


class DatabaseUrlError(ValueError):
    """The database URL cannot be used."""


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise DatabaseUrlError(f"{url!r}: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, pool_size)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(
                parsed,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                json_serializer=dumps,
                json_deserializer=json_fast.loads,
            )
        except Exception as exc:
            raise DatabaseUrlError(f"{url!r}: {exc}") from None
    raise DatabaseUrlError(f"{url!r}: only sqlite:/// and postgresql+psycopg:// are supported")


def _sqlite_engine(url: str, pool_size: int, *, writes: bool = True) -> Engine:
    """An engine for writes (`writes`: transactions BEGIN IMMEDIATE, temporary storage in memory) or for
    reads (plain BEGIN, temporary storage in files): see open_database."""
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        secure_sqlite_file(Path(parsed.database))  # owner-only, before SQLite makes it
    engine = create_engine(
        url,
        # A pooled connection is used by one thread at a time, never shared while checked out.
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=pool_size,
        max_overflow=pool_size,
        # the connection given back last is taken first: the writer's pages stay in one connection's cache
        pool_use_lifo=True,
        json_serializer=dumps,
        json_deserializer=json_fast.loads,  # the same values as json.loads, faster
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let the "begin" listener below open transactions, so DDL is transactional too.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if writes:
            cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


@dataclass
class Database:
    engine: Engine
    Session: sessionmaker[orm.Session]
    ReadSession: sessionmaker[orm.Session]
    # ReadSession's: on SQLite an engine of its own (its transactions start with a plain BEGIN), on
    # PostgreSQL the same engine
    read_engine: Engine

    def close(self) -> None:
        """Closes every pooled connection (writers' and readers'); the next use opens new ones."""
        self.engine.dispose()
        if self.read_engine.pool is not self.engine.pool:
            self.read_engine.dispose()

    def read_connection(self) -> Connection:
        if is_sqlite(self.engine):
            return self.read_engine.connect()
        # Set on the connection, not on an engine copy made with the option: such an engine has an event
        # listener, and an engine with one dispatches events around every statement (~10% of the read).
        return self._autocommit()

    @contextlib.contextmanager
    def one_write(self) -> Iterator[Connection]:
        """A Connection for ONE write statement, committed when the block ends without an exception."""
        if is_sqlite(self.engine):
            with self.engine.begin() as conn:
                yield conn
            return
        with self._autocommit() as conn:
            yield conn

    def _autocommit(self) -> Connection:
        conn = self.engine.connect()
        try:
            conn.execution_options(isolation_level="AUTOCOMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    def ping(self) -> bool:
        try:
            # A read transaction: on SQLite a health check never takes the write lock.
            with self.read_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            log.warning("the database does not answer", exc_info=True)
            return False


@contextlib.contextmanager
def temporary_storage_in_files(conn: Connection) -> Iterator[None]:
    """On SQLite, the connection's temporary storage in files for the block, then as it was: a migration's
    CREATE INDEX sorts a whole table, which in memory would grow the server's memory with the table's size.
    Enter it outside a transaction (SQLite changes the setting only there)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    # the driver's connection: a statement through the Connection would begin a transaction first
    raw = conn.connection.driver_connection
    assert raw is not None
    was = raw.execute("PRAGMA temp_store").fetchone()[0]
    raw.execute("PRAGMA temp_store=DEFAULT")
    try:
        yield
    finally:
        # a connection that cannot take it any more (broken by the block's error) just keeps files
        with contextlib.suppress(Exception):
            raw.execute(f"PRAGMA temp_store={int(was)}")


def open_database(url: str, *, pool_size: int = 10) -> Database:
    engine = make_engine(url, pool_size=pool_size)
    # SQLite: reads take connections of their own. A push in a group commit runs in a SAVEPOINT, and SQLite
    # copies each page the push changes into a savepoint journal, a temporary file beyond 64 KiB (a
    # 20-change push changes ~150 pages): with 300 devices at once ~180,000 pwrite calls, a fifth of the
    # serving process's CPU in the kernel (issue 14, goal 3). The writers' connections keep temporary
    # storage in memory; the readers' keep files, so an export's or a page's large sort spills to disk
    # instead of growing the server's memory.
    reader = _sqlite_engine(url, pool_size, writes=False) if is_sqlite(engine) else engine
    return Database(
        engine,
        sessionmaker(engine, expire_on_commit=False),
        sessionmaker(reader, expire_on_commit=False),
        reader,
    )
