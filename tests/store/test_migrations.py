"""Schema migrations at start-up never lose data: a database made by the first schema upgrades in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from client.store import records as R
from client.store.db import make_engine, open_store
from client.store.migrate import current_revision, head_revision, upgrade
from client.store.models import Base
from client.store.paths import DB_NAME, ENV_DATA_DIR, resolve_data_dir
from tests.support.encrypted import db_connect


def _not_search_table(name: str | None, type_: str, _parent: object) -> bool:
    return not (type_ == "table" and name is not None and name.startswith("record_search"))


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_fresh_store_is_at_head_and_matches_the_models(tmp_path: Path):
    store = open_store(tmp_path)
    try:
        assert current_revision(store.engine) == head_revision()
        with store.engine.connect() as conn:
            # FTS5 keeps its own shadow tables; the models do not describe them.
            ctx = MigrationContext.configure(conn, opts={"include_name": _not_search_table})
            diff = compare_metadata(ctx, Base.metadata)
        assert diff == []
    finally:
        store.close()


def test_upgrade_from_the_first_schema_keeps_every_record(tmp_path: Path):
    engine = make_engine(tmp_path / DB_NAME)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    with engine.begin() as conn:
        for i in range(3):
            conn.exec_driver_sql(
                "INSERT INTO records (id, form_id, form_version, data, status, revision, period, record_date, "
                "summary, created_at, updated_at, deleted) VALUES (?, 'safety_inspection', '2026.1', ?, "
                "'submitted', 1, '2026-11', '2026-11-20', ?, '2026-11-20 08:00:00', '2026-11-20 08:00:00', 0)",
                (
                    f"id-{i}",
                    json.dumps(
                        {"inspectors": f"检查员{i}号", "hazards": [{"location": "锅炉房"}]},
                        ensure_ascii=False,
                    ),
                    f"2026-11-20 · 第{i}次",
                ),
            )
    engine.dispose()

    store = open_store(tmp_path)  # migrates to head at start-up
    try:
        assert current_revision(store.engine) == head_revision()
        with store.Session() as s:
            flt = R.RecordFilter("safety_inspection")
            assert R.count_records(s, flt) == 3
            # the search index was filled from the records already there, repeat answers included
            assert R.count_records(s, R.RecordFilter("safety_inspection", search="检查员1号")) == 1
            assert R.count_records(s, R.RecordFilter("safety_inspection", search="锅炉房")) == 3
            assert (
                R.count_records(s, R.RecordFilter("safety_inspection", search="锅炉")) == 3
            )  # pair index
    finally:
        store.close()


def test_failed_migration_changes_nothing(tmp_path: Path):
    engine = make_engine(tmp_path / DB_NAME)
    upgrade(engine, "0001")
    with engine.begin() as conn:  # a clash the next migration cannot get past
        conn.exec_driver_sql("CREATE TABLE record_search (x)")
    with pytest.raises(Exception, match="record_search"):
        upgrade(engine)
    assert current_revision(engine) == "0001"
    engine.dispose()
    con = db_connect(tmp_path / DB_NAME)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "uq_roster_teacher_id" not in indexes
    con.close()


def test_data_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "from-env"))
    assert resolve_data_dir(tmp_path / "explicit") == (tmp_path / "explicit").resolve()
    assert resolve_data_dir(None) == (tmp_path / "from-env").resolve()
    monkeypatch.delenv(ENV_DATA_DIR)
    assert "school-client" in str(resolve_data_dir(None))
