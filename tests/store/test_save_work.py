"""Issue 14 goal 1, saving: a save does only the work its record needs - the roster is read only for a form
that names it, and a new record's search rows are written without first deleting rows it cannot have - and
the search finds what was saved, after a correction only the new text; the WAL is copied back into the
database on the store's own thread, not inside a save's commit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

from client.clock import FixedClock
from client.context import ClientContext
from client.store import records as R
from client.store.formset import FormSet
from tests.store.conftest import NOW, TODAY
from tests.support.after_school import after_school
from tests.support.samples import inspection


@contextmanager
def statements(ctx: ClientContext) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def executed(_c: Any, _cur: Any, statement: str, params: Any, *_a: Any) -> None:
        seen.append((statement, params))

    event.listen(ctx.store.engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        event.remove(ctx.store.engine, "before_cursor_execute", executed)


def save(ctx: ClientContext, form_id: str, data: dict[str, Any], **kw: Any) -> R.SaveResult:
    with ctx.store.Session.begin() as s:
        return R.save_record(s, form=ctx.forms.get(form_id), data=data, today=TODAY, now=NOW, **kw)


def _reads_roster(seen: list[tuple[str, Any]]) -> bool:
    return any(
        st.lstrip().upper().startswith("SELECT") and "teachers" in repr(params)
        for st, params in seen
    )


def test_a_form_that_does_not_name_the_roster_is_saved_without_reading_it(
    ctx: ClientContext,
) -> None:
    save(ctx, "teachers", {"teacher_id": "T001", "name": "张丽", "active": "yes"}, submit=True)
    with statements(ctx) as seen:
        save(ctx, "safety_inspection", inspection(), submit=True)
    assert not _reads_roster(seen)
    service = after_school()
    with statements(ctx) as seen:
        res = save(ctx, "after_school_service", service, submit=True)
    assert _reads_roster(seen)  # this one names the roster: its teachers are checked and shown
    with ctx.store.ReadSession() as s:
        assert R.count_records(s, R.RecordFilter("after_school_service", search="张丽")) == 1
        assert R.get_record(s, res.record_id).summary


def test_a_new_record_is_indexed_without_deletes_and_a_correction_replaces_its_text(
    ctx: ClientContext,
) -> None:
    data = inspection()
    with statements(ctx) as seen:
        res = save(ctx, "safety_inspection", data, submit=True)
    assert not [st for st, _ in seen if st.lstrip().upper().startswith("DELETE")]
    assert len([st for st, _ in seen if "INSERT INTO record_search" in st]) == 2

    def found(word: str) -> int:
        with ctx.store.ReadSession() as s:
            return R.count_records(s, R.RecordFilter("safety_inspection", search=word))

    old = str(data["inspectors"]).split("、")[0]
    assert found(old) == 1
    with statements(ctx) as seen:
        save(
            ctx,
            "safety_inspection",
            {**data, "inspectors": "欧阳修"},
            record_id=res.record_id,
            submit=True,
        )
    assert [st for st, _ in seen if "DELETE FROM record_search" in st]
    assert found("欧阳修") == 1
    assert found(old) == 0


def test_the_wal_is_checkpointed_on_the_stores_own_thread(tmp_path: Path) -> None:
    from client.store.db import WAL_AUTOCHECKPOINT_PAGES, open_store

    store = open_store(tmp_path / "data")
    ctx = ClientContext(store, FormSet.shipped(), FixedClock(NOW, TODAY))
    checkpointer = store.checkpointer
    assert checkpointer is not None
    try:
        with store.ReadSession() as s:
            limit = s.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert limit == WAL_AUTOCHECKPOINT_PAGES  # a commit no longer copies the WAL back itself
        for _ in range(5):
            save(ctx, "safety_inspection", inspection(), submit=True)
        deadline = time.monotonic() + 10
        while checkpointer.frames == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.runs >= 1 and checkpointer.frames > 0
    finally:
        store.close()
    assert (
        not checkpointer._thread.is_alive()
    )  # stopped with the store (a restore replaces the file)


def test_reads_alone_do_not_wake_the_checkpointer(tmp_path: Path) -> None:
    """A read's commit writes nothing to the WAL: only a commit that changed rows asks for a checkpoint (the
    window's reads - lists, 待办's next pages - would otherwise open a keyed connection every half second)."""
    from client.store.db import open_store

    store = open_store(tmp_path / "data")
    ctx = ClientContext(store, FormSet.shipped(), FixedClock(NOW, TODAY))
    checkpointer = store.checkpointer
    assert checkpointer is not None
    try:
        deadline = time.monotonic() + 10  # the migration's commits: let their checkpoint pass
        while checkpointer._wake.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not checkpointer._wake.is_set()
        for _ in range(5):
            with store.ReadSession() as s:
                s.connection().exec_driver_sql("SELECT count(*) FROM records").scalar()
            with store.Session.begin() as s:  # a writing session that wrote nothing
                s.connection().exec_driver_sql("SELECT count(*) FROM records").scalar()
        assert not checkpointer._wake.is_set()
        save(ctx, "safety_inspection", inspection(), submit=True)
        assert checkpointer._wake.is_set()
    finally:
        store.close()
