"""The app factory: configuration layers, a secret key made once and kept, migrations that match the models,
and the shipped forms published on a fresh server (only then)."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, func, select, text

from forms.catalog import definition_files
from sync_server import models as M
from sync_server.app import create_app, prepare_database
from sync_server.config import DEFAULTS, ENV_DB, ENV_SECRET_KEY, build_config
from sync_server.db import open_database
from sync_server.migrate import current_revision, head_revision
from sync_server.state import get_state


def test_no_secret_ships_in_the_defaults():
    assert "SECRET_KEY" not in DEFAULTS
    assert all("secret" not in str(v).lower() for v in DEFAULTS.values())


def test_the_secret_key_is_made_once_and_kept_private(tmp_path: Path):
    cfg = build_config(tmp_path, None, env={})
    again = build_config(tmp_path, None, env={})
    key_file = tmp_path / "secret_key"
    assert len(cfg["SECRET_KEY"]) == 64 and cfg["SECRET_KEY"] == again["SECRET_KEY"]
    assert key_file.read_text().strip() == cfg["SECRET_KEY"]
    if os.name == "posix":
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    other = build_config(tmp_path / "elsewhere", None, env={})
    assert other["SECRET_KEY"] != cfg["SECRET_KEY"]


def test_configuration_layers_in_order(tmp_path: Path):
    (tmp_path / "config.toml").write_text(
        'database_url = "sqlite:///from-file.db"\nmax_batch_changes = 50\npull_default_limit = 100\n',
        encoding="utf-8",
    )
    cfg = build_config(tmp_path, None, env={})
    assert cfg["DATABASE_URL"] == "sqlite:///from-file.db"  # the file over the defaults
    assert cfg["MAX_BATCH_CHANGES"] == 50 and cfg["ENROLLMENT_DAYS"] == 7
    env = {ENV_DB: "sqlite:///from-env.db", ENV_SECRET_KEY: "k" * 32}
    cfg = build_config(tmp_path, None, env=env)
    assert cfg["DATABASE_URL"] == "sqlite:///from-env.db"  # the environment over the file
    assert cfg["SECRET_KEY"] == "k" * 32
    cfg = build_config(
        tmp_path, {"DATABASE_URL": "sqlite:///test.db", "PULL_DEFAULT_LIMIT": 7}, env=env
    )
    assert cfg["DATABASE_URL"] == "sqlite:///test.db"  # the caller over everything
    assert cfg["PULL_DEFAULT_LIMIT"] == 7 and cfg["MAX_BATCH_CHANGES"] == 50


def test_the_default_database_is_sqlite_in_the_instance_folder(tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv(ENV_DB, raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    try:
        assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'sync.db'}"
        assert (tmp_path / "sync.db").exists() and (tmp_path / "secret_key").exists()
        with get_state(app).db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        get_state(app).db.close()


def test_migrations_reach_head_and_match_the_models(db_url: str):
    db = open_database(db_url)
    try:
        assert current_revision(db.engine) is None
        prepare_database(db, migrate=True, publish_forms=False, now=dt.datetime.now(dt.UTC))
        assert current_revision(db.engine) == head_revision()
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), M.Base.metadata) == []
        with db.Session.begin() as s:
            assert s.execute(select(M.ChangeCounter.value)).scalar_one() == 0
        # Running again is a no-op.
        prepare_database(db, migrate=True, publish_forms=False, now=dt.datetime.now(dt.UTC))
        assert current_revision(db.engine) == head_revision()
    finally:
        db.close()


def test_shipped_forms_are_published_on_a_fresh_server_only(db_url: str):
    db = open_database(db_url)
    now = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    try:
        prepare_database(db, migrate=True, publish_forms=True, now=now)
        with db.Session.begin() as s:
            forms = s.execute(select(M.FormVersion.form_id)).scalars().all()
            seq = s.execute(select(M.ChangeCounter.value)).scalar_one()
            changes = s.execute(select(func.count()).select_from(M.Change)).scalar_one()
        assert sorted(forms) == sorted(p.stem for p in definition_files())
        assert seq == changes == len(forms)  # one `form` change each, for every school
        with db.Session.begin() as s:
            s.execute(M.FormVersion.__table__.delete().where(M.FormVersion.form_id == "teachers"))
        prepare_database(db, migrate=True, publish_forms=True, now=now)
        with db.Session.begin() as s:  # not empty: nothing is republished
            assert "teachers" not in s.execute(select(M.FormVersion.form_id)).scalars().all()
    finally:
        db.close()


def test_a_bad_database_url_is_refused(tmp_path: Path):
    from sync_server.db import DatabaseUrlError

    with pytest.raises(DatabaseUrlError):
        create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "mysql://x@y/z"})


def _sqlite_temp_files() -> set[str]:
    """The temporary files SQLite holds open in this process (on Linux: etilqs_*, unlinked at once)."""
    fds = Path("/proc/self/fd")
    found = set()
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if "etilqs_" in target:
            found.add(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads Linux's /proc")
def test_sqlite_writers_keep_savepoint_journals_in_memory_and_readers_sort_in_files(tmp_path: Path):
    """A push in a group commit runs in a SAVEPOINT, for which SQLite copies every page it changes into a
    journal: in a temporary file once that passes 64 KiB (issue 14: a fifth of the serving process's CPU in
    pwrite calls with 300 devices at once). The writers' connections keep it in memory; the readers' keep
    temporary storage in files, so a large sort of an export does not grow the server's memory."""
    db = open_database(f"sqlite:///{tmp_path / 't.db'}")
    try:
        with db.Session.begin() as s:
            s.execute(text("CREATE TABLE big (x TEXT)"))
            s.execute(
                text(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
                    "INSERT INTO big SELECT printf('%0500d', i) FROM n"
                )
            )
        before = _sqlite_temp_files()
        with db.Session.begin() as s:
            assert s.execute(text("PRAGMA temp_store")).scalar_one() == 2  # MEMORY
            with s.begin_nested():
                s.execute(text("UPDATE big SET x = x || 'y'"))  # ~1 MB of pages in the savepoint
                assert _sqlite_temp_files() == before
        with db.ReadSession() as s:
            assert s.execute(text("PRAGMA temp_store")).scalar_one() == 0  # the default: files
        # the probe sees such a file where temporary storage is in files: the same write on a reader's
        # connection (a plain BEGIN takes the write lock at its first write)
        with db.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            with conn.begin_nested():
                conn.execute(text("UPDATE big SET x = x || 'z'"))
                assert _sqlite_temp_files() - before
            conn.rollback()
    finally:
        db.close()


def test_sqlite_migrations_sort_in_files_and_the_writer_keeps_memory_after(tmp_path: Path):
    """A migration's CREATE INDEX sorts a whole table (0007 indexes every change row): on a large database
    that sort in memory would grow the server's memory at start-up, so migrations keep temporary storage in
    files; the writer's connection is given back to the pool with it in memory again."""
    db = open_database(f"sqlite:///{tmp_path / 'm.db'}", pool_size=1)
    seen: list[int] = []

    def on_statement(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("CREATE INDEX"):
            seen.append(cursor.connection.execute("PRAGMA temp_store").fetchone()[0])

    event.listen(db.engine, "before_cursor_execute", on_statement)
    try:
        prepare_database(db, migrate=True, publish_forms=False, now=dt.datetime.now(dt.UTC))
        assert seen and set(seen) == {0}  # every index built with temporary storage in files
        with db.Session.begin() as s:
            assert s.execute(text("PRAGMA temp_store")).scalar_one() == 2
    finally:
        event.remove(db.engine, "before_cursor_execute", on_statement)
        db.close()
