"""Schema migrations with Alembic, run at start-up; each one is a transaction, so a failure changes nothing.

A store already at the newest revision (every start but the first after an upgrade) is told by one query,
without importing Alembic (and Mako, Pygments...: a second of the start-up on a slow PC). The newest revision
is the highest number the files in migrations/versions/ start with (NNNN_what.py, revision "NNNN"); a test
checks it is Alembic's head.

A migration of a large store can take a while (0005 fills 待办's table: 40-50 s at 100,000 records on a slow
PC): whoever opens the store may watch for one with `guarded(guard)` - in that thread, the guard is entered
around each migration about to run (the start-up window says so, and holds the data folder so that a second
start is told rather than racing it) and may refuse it by raising.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Entered around a migration about to run, with its target; see guarded().
Guard = Callable[[str], AbstractContextManager[None]]
_local = threading.local()


def _guards() -> list[Guard]:
    if not hasattr(_local, "guards"):
        _local.guards = []
    guards: list[Guard] = _local.guards
    return guards


@contextlib.contextmanager
def guarded(guard: Guard) -> Iterator[None]:
    """While inside, each migration this thread runs is run inside guard(target) (guards registered
    earlier outermost)."""
    _guards().append(guard)
    try:
        yield
    finally:
        _guards().remove(guard)


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def newest_file_revision() -> str:
    """The head by the migration files' names (NNNN_*.py), without Alembic."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _stored_revision(engine: Engine) -> str | None:
    """alembic_version's revision by a plain query (None: no such table or no row)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        return None
    return str(rows[0]) if len(rows) == 1 else None


def upgrade(engine: Engine, target: str = "head") -> None:
    if target == "head" and _stored_revision(engine) == newest_file_revision():
        return
    from alembic import command

    cfg = _config()
    if target == "head" and current_revision(engine) == head_revision():
        return
    with _guarded(target):
        if target == "head" and current_revision(engine) == head_revision():
            return  # another program migrated it while the guard waited
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            log.info("migrating the local store to %s", target)
            command.upgrade(cfg, target)


@contextlib.contextmanager
def _guarded(target: str) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for guard in list(_guards()):
            stack.enter_context(guard(target))
        yield
