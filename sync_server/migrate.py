"""Schema migrations with Alembic, run by `sync-server` at start and by create_app (AUTO_MIGRATE).

Each upgrade runs in one transaction (PostgreSQL and SQLite both have transactional DDL), so a failed
migration changes nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from sync_server.db import temporary_storage_in_files

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> None:
    cfg = _config()
    if target == "head" and current_revision(engine) == head_revision():
        return
    with engine.connect() as conn, temporary_storage_in_files(conn), conn.begin():
        cfg.attributes["connection"] = conn
        log.info("migrating the server database to %s", target)
        command.upgrade(cfg, target)
