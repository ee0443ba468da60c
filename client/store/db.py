"""Opening the local store: SQLite in WAL mode, synchronous=FULL, foreign keys on, migrations at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from client.store.paths import DB_NAME

log = logging.getLogger(__name__)


def make_engine(db_path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{db_path}", connect_args={"timeout": 30})

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
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@dataclass
class Store:
    """An open local store: its folder, engine and session factory."""

    data_dir: Path
    engine: Engine
    Session: sessionmaker[Session]

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
        self.engine.dispose()


def open_store(data_dir: Path, *, migrate: bool = True) -> Store:
    """Open (creating if needed) the store in data_dir and bring its schema up to date."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(data_dir / DB_NAME)
    if migrate:
        from client.store.migrate import upgrade

        upgrade(engine)
    store = Store(data_dir, engine, sessionmaker(engine, expire_on_commit=False))
    store.attachments_dir.mkdir(exist_ok=True)
    return store
