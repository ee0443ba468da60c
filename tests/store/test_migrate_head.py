"""The start-up's quick check of the store's schema (client.store.migrate.upgrade, without Alembic when the
store is current) knows the same head as Alembic."""

from __future__ import annotations

from pathlib import Path

from client.store.db import make_engine
from client.store.migrate import current_revision, head_revision, newest_file_revision, upgrade
from client.store.paths import DB_NAME


def test_the_newest_migration_file_is_alembics_head() -> None:
    assert newest_file_revision() == head_revision()


def test_an_older_store_is_still_migrated(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / DB_NAME)
    try:
        upgrade(engine, "0004")
        upgrade(engine)  # the quick check sees 0004 and lets Alembic migrate
        assert current_revision(engine) == head_revision()
        upgrade(engine)  # current: nothing to do
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
