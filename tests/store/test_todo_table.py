"""The open hazards 待办 lists come from a maintained table (todo_hazards, migration 0005) kept current by
triggers on `records`; these tests compare it with the from-scratch scan 待办 ran before (tests/store/
todo_oracle.py): after random saves, edits, follow-ups, deletions, pulls, conflicts and their resolutions,
status changes made with plain SQL, a restore from a backup (of today's schema and of an older one), and the
migration of an existing store (encrypted, and an older plaintext one that is encrypted on the same start).

Known difference, left out of the random inspection dates here: a draft whose inspection date is a JSON
number with a fraction (never a date the form accepts) sorts by SQLite's text of that number, not Python's,
among hazards with the same deadline.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from client.clock import FixedClock
from client.context import ClientContext
from client.store import sync_state as S
from client.store.backup import backup_to, restore_from
from client.store.conflicts import resolve_conflict
from client.store.db import make_engine, open_store
from client.store.formset import FormSet
from client.store.keys import ensure_key
from client.store.migrate import current_revision, head_revision, upgrade
from client.store.models import Base, OutboxEntry, Record, Status
from client.store.paths import DB_NAME
from client.store.records import StoreError, delete_record, save_record
from client.store.todo import (
    HAZARD_STATUSES,
    NO_DEADLINE,
    HazardItem,
    read_hazards,
    update_hazard,
)
from tests.store.todo_data import hazard, inspection
from tests.store.todo_oracle import _date, open_hazards_scan

FORM = "safety_inspection"
NOW = dt.datetime(2026, 11, 28, 9, 0)
TODAY = dt.date(2026, 11, 28)
DAYS = (TODAY, dt.date(2026, 10, 1), dt.date(2027, 3, 1))  # 待办 read on other days too

# -- what 待办 shows, both ways -------------------------------------------------------------------------


def pages(
    session: Session, *, today: dt.date, forms: FormSet | None, size: int, **kw: Any
) -> list[Any]:
    """Every hazard, read `size` at a time the way the home page's model reads them."""
    hazards = read_hazards(session, today=today, forms=forms, limit=size, **kw)
    page, items = hazards.first, list(hazards.first.items)
    while page.more:
        page = hazards.next_page(session, page.last, size)
        items += page.items
    return items


def assert_same_as_a_scan(session: Session, forms: FormSet) -> list[HazardItem]:
    """The maintained table lists what the scan computes: same items, same order, same counts - whole, a
    page at a time, overdue only; with the forms (drafts' refused deadlines) and without."""
    for today in DAYS:
        for with_forms in (forms, None):
            expected = open_hazards_scan(session, today=today, forms=with_forms)
            whole = read_hazards(session, today=today, forms=with_forms, limit=None)
            assert whole.first.items == expected
            assert (whole.total, whole.overdue) == (len(expected), sum(h.overdue for h in expected))
            assert pages(session, today=today, forms=with_forms, size=2) == expected
            late = [h for h in expected if h.overdue]
            assert pages(session, today=today, forms=with_forms, size=3, overdue_only=True) == late
    return open_hazards_scan(session, today=TODAY, forms=forms)


# -- random records ---------------------------------------------------------------------------------------

DEADLINES = st.one_of(
    st.dates(dt.date(2026, 9, 1), dt.date(2027, 2, 1)).map(dt.date.isoformat),
    st.sampled_from(
        [
            "2026-W48-1",
            "20261128xx",
            "2026-02-30",
            "2025-11-25",
            "明天",
            "2026-11",
            "",
            "2026-12-01T09:00",
        ]
    ),
    st.none(),
    st.integers(-5, 20261128),
)
HAZARDS = st.builds(
    lambda d, status, place, severity: hazard(
        deadline=d,
        location=place,
        severity=severity,
        **({} if status is None else {"status": status}),
        **({"rectified_date": "2026-11-20"} if status in ("rectified", "verified") else {}),
    ),
    DEADLINES,
    st.none() | st.sampled_from(HAZARD_STATUSES),
    st.sampled_from(["食堂后厨", "锅炉房", "教学楼三层"]) | st.integers(0, 9),
    st.sampled_from(["general", "major", "serious"]),
)
INSPECTED = st.dates(dt.date(2026, 9, 1), TODAY).map(dt.date.isoformat) | st.sampled_from(
    ["", "十一月", 20261101]
)
RECORDS = st.builds(
    lambda day, hazards, found: inspection(day, hazards, hazards_found=found),
    INSPECTED,
    st.lists(HAZARDS, max_size=4),
    st.sampled_from(["yes", "yes", "no"]),
)
PICK = st.integers(0, 10**6)
OPS = st.one_of(
    st.tuples(st.just("new"), RECORDS, st.booleans()),
    st.tuples(st.just("edit"), PICK, RECORDS, st.booleans()),
    st.tuples(st.just("follow"), PICK, st.integers(0, 3), st.sampled_from(HAZARD_STATUSES)),
    st.tuples(st.just("delete"), PICK),
    st.tuples(st.just("pull_new"), RECORDS, st.sampled_from(["received", "returned", "accepted"])),
    st.tuples(
        st.just("pull"),
        PICK,
        RECORDS,
        st.sampled_from(["received", "returned", "accepted", "deleted"]),
    ),
    st.tuples(st.just("sent"), PICK),
    st.tuples(st.just("resolve"), PICK, st.sampled_from(["server", "local", "delete"])),
    st.tuples(st.just("status"), PICK, st.sampled_from(Status.ALL)),
)
SERVER_REVISIONS = itertools.count(1000)


def save(
    s: Session, forms: FormSet, data: dict[str, Any], submit: bool, rid: str | None = None
) -> None:
    """Submit when the form accepts it, else keep a draft (the way the clerk's save goes)."""
    for attempt in (True, False) if submit else (False,):
        try:
            with s.begin_nested():
                save_record(
                    s,
                    form=forms.get(FORM),
                    data=data,
                    record_id=rid,
                    submit=attempt,
                    today=TODAY,
                    now=NOW,
                )
            return
        except StoreError:
            continue


def pulled(rid: str, data: dict[str, Any], status: str) -> dict[str, Any]:
    revision = next(SERVER_REVISIONS)
    return {
        "seq": revision,
        "type": "record",
        "record_id": rid,
        "form_id": FORM,
        "form_version": "2026.1",
        "server_revision": revision,
        "status": status,
        "review_comments": {"signed_by": "请签字"} if status == "returned" else {},
        "data": data,
    }


def pull(s: Session, forms: FormSet, change: dict[str, Any]) -> None:
    S.apply_pull_page(
        s, formset=forms, changes=[change], cursor=change["seq"], definitions={}, now=NOW
    )


def apply(s: Session, forms: FormSet, op: tuple[Any, ...]) -> None:
    ids = list(
        s.execute(select(Record.id).where(Record.form_id == FORM).order_by(Record.id)).scalars()
    )
    kind = op[0]
    if kind == "new":
        save(s, forms, op[1], op[2])
    elif kind == "pull_new":
        pull(s, forms, pulled(str(uuid.uuid4()), op[1], op[2]))
    elif not ids:
        return
    elif kind == "edit":
        save(s, forms, op[2], op[3], ids[op[1] % len(ids)])
    elif kind == "follow":
        try:
            with s.begin_nested():
                update_hazard(
                    s,
                    forms=forms,
                    record_id=ids[op[1] % len(ids)],
                    index=op[2],
                    status=op[3],
                    rectified_date=TODAY,
                    rectified_photo=None,
                    today=TODAY,
                    now=NOW,
                )
        except StoreError:
            pass
    elif kind == "delete":
        try:
            with s.begin_nested():
                delete_record(s, ids[op[1] % len(ids)], now=NOW)
        except StoreError:
            pass
    elif kind == "pull":  # a conflict when a change of the record waits to be sent
        pull(s, forms, pulled(ids[op[1] % len(ids)], op[2], op[3]))
    elif kind == "sent":
        s.execute(
            update(OutboxEntry)
            .where(OutboxEntry.record_id == ids[op[1] % len(ids)])
            .values(sent_at=NOW)
        )
    elif kind == "resolve":
        conflicts = [i for i in S.open_issues(s) if i.kind == S.IssueKind.CONFLICT]
        if conflicts:
            issue = conflicts[op[1] % len(conflicts)]
            record = s.get(Record, issue.record_id)
            local = dict(record.data) if record is not None and op[2] == "local" else None
            try:
                with s.begin_nested():
                    resolve_conflict(
                        s,
                        forms=forms,
                        issue_id=issue.id,
                        data=local,
                        delete=op[2] == "delete",
                        today=TODAY,
                        now=NOW,
                    )
            except StoreError:
                pass
    elif kind == "status":  # what a sync does with plain SQL (tests.store.todo_data.set_status)
        s.execute(update(Record).where(Record.id == ids[op[1] % len(ids)]).values(status=op[2]))


def empty_out(ctx: ClientContext) -> None:
    """Every example starts from an empty store (one store for all: opening one per example is slow); the
    records go with a DELETE, which empties the table through its trigger."""
    with ctx.store.Session.begin() as s:
        for table in reversed(Base.metadata.sorted_tables):
            if not table.name.startswith("todo_") and table.name != "settings":
                s.execute(table.delete())
        s.execute(text("DELETE FROM record_search"))
        s.execute(text("DELETE FROM record_search_cjk"))
        assert not s.execute(text("SELECT * FROM todo_hazards")).all()
        assert not s.execute(text("SELECT * FROM todo_hazard_days")).all()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, formset: FormSet) -> Iterator[ClientContext]:
    ctx = ClientContext(
        open_store(tmp_path_factory.mktemp("todo-table") / "data"), formset, FixedClock(NOW, TODAY)
    )
    yield ctx
    ctx.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(OPS, min_size=1, max_size=8))
def test_the_table_lists_what_a_scan_finds_after_any_edits(
    shared: ClientContext, ops: list[tuple[Any, ...]]
) -> None:
    forms = shared.forms
    empty_out(shared)
    for op in ops:
        with shared.store.Session.begin() as s:  # each its own transaction, as in the program
            apply(s, forms, op)
    with shared.store.Session() as s:
        assert_same_as_a_scan(s, forms)


def test_a_rolled_back_save_leaves_the_table_as_it_was(shared: ClientContext) -> None:
    forms = shared.forms
    with shared.store.Session() as s:
        before = read_hazards(s, today=TODAY, forms=forms, limit=None).first.items
    with pytest.raises(RuntimeError), shared.store.Session.begin() as s:
        save(s, forms, inspection("2026-11-20", [hazard(deadline="2026-11-21")]), True)
        assert len(read_hazards(s, today=TODAY, limit=None).first.items) == len(before) + 1
        raise RuntimeError("the clerk's transaction fails after the save")
    with shared.store.Session() as s:
        assert read_hazards(s, today=TODAY, forms=forms, limit=None).first.items == before


# -- the deadline as Python reads it --------------------------------------------------------------------


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory, formset: FormSet) -> Iterator[ClientContext]:
    ctx = ClientContext(
        open_store(tmp_path_factory.mktemp("todo-deadlines") / "data"),
        formset,
        FixedClock(NOW, TODAY),
    )
    yield ctx
    ctx.close()


TEXTS = st.one_of(
    st.builds(
        lambda y, m, d, sep, tail: f"{y:04d}{sep}{m:02d}{sep}{d:02d}{tail}",
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.sampled_from(["-", ""]),
        st.text("0123456789x T:-\x00é", max_size=4),
    ),
    st.builds(
        lambda y, w, d, sep, tail: f"{y:04d}{sep}W{w:02d}{sep}{d}{tail}",
        st.sampled_from([0, 1, 2004, 2015, 2020, 2025, 2026, 2032, 9999]) | st.integers(0, 9999),
        st.integers(0, 54) | st.sampled_from([1, 52, 53]),
        st.integers(0, 9),
        st.sampled_from(["-", ""]),
        st.text("0123456789x -\x00", max_size=3),
    ),
    st.text("0123456789-W: T\x00０é", min_size=6, max_size=13),
    st.text(max_size=12),
)
VALUES = (
    TEXTS
    | st.none()
    | st.integers()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.lists(TEXTS, max_size=2)
    | st.dictionaries(st.text(max_size=3), TEXTS, max_size=2)
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(deadlines=st.lists(VALUES, min_size=1, max_size=40), inspected=VALUES)
@example(
    deadlines=[
        *("2026-W53-4", "2020-W53-7", "2021-W53-1", "2015W534xx", "0001-W01-1", "9999-W52-5"),
        *("9999-W52-6", "0000-01-01", "2024-02-29", "2026-02-29", "20261128\x00x", "2026-11-2\x00"),
        *("2026-w48-1", "２０２６-11-28", "2026-11-28T", "2026W48", "2026-W48xx", "2026-W00-1"),
    ],
    inspected="2026-11-20",
)
def test_a_deadline_is_read_as_python_reads_it(
    empty: ClientContext, deadlines: list[Any], inspected: Any
) -> None:
    """Any JSON value as the deadline (and the inspection date), written with plain SQL: the table's order
    key is Python's date.fromisoformat(value[:10]) (or none), and the rows are what the scan shows."""
    rid = str(uuid.uuid4())
    data = {
        "inspection_date": inspected if not isinstance(inspected, float) else str(inspected),
        "hazards": [{"location": "x", "deadline": d} for d in deadlines],
    }
    with empty.store.Session.begin() as s:
        s.execute(
            text(
                "INSERT INTO records (id, form_id, form_version, status, revision, deleted, summary, "
                "created_at, updated_at, data) VALUES (:id, :f, '2026.1', 'draft', 1, 0, '', :t, :t, :d)"
            ),
            {"id": rid, "f": FORM, "t": NOW, "d": json.dumps(data)},
        )
        rows = s.execute(
            text("SELECT idx, sort_deadline FROM todo_hazards WHERE record_id = :r ORDER BY idx"),
            {"r": rid},
        ).all()
        stored = [
            s.execute(text("SELECT json_extract(:d, :p)"), {"d": json.dumps(d), "p": "$"}).scalar()
            for d in deadlines
        ]
        wanted = [(i, iso(_date(v))) for i, v in enumerate(stored)]
        assert rows == wanted
        mine = [
            h for h in read_hazards(s, today=TODAY, limit=None).first.items if h.record_id == rid
        ]
        assert mine == [h for h in open_hazards_scan(s, today=TODAY) if h.record_id == rid]
        s.execute(text("DELETE FROM records WHERE id = :r"), {"r": rid})  # the delete trigger too
        assert not s.execute(
            text("SELECT 1 FROM todo_hazards WHERE record_id = :r"), {"r": rid}
        ).all()


def iso(day: dt.date | None) -> str:
    return day.isoformat() if day is not None else NO_DEADLINE


# -- existing stores: migration and restore -------------------------------------------------------------


def varied(rnd: random.Random) -> list[tuple[dict[str, Any], bool]]:
    """Inspections of every kind: submitted and drafts, deadlines good, refused and odd, closed hazards."""
    out = []
    for i in range(12):
        day = (TODAY - dt.timedelta(days=rnd.randint(0, 60))).isoformat()
        hazards = []
        for _ in range(rnd.randint(0, 3)):
            deadline = rnd.choice(
                [
                    (TODAY + dt.timedelta(days=rnd.randint(-20, 20))).isoformat(),
                    "2025-11-25",  # before the inspection: a draft's is refused
                    "2026-W49-2",
                    None,
                ]
            )
            status = rnd.choice(["open", "in_progress", "rectified"])
            extra = {"rectified_date": day} if status == "rectified" else {}
            hazards.append(hazard(deadline=deadline, status=status, **extra))
        out.append((inspection(day, hazards), i % 3 != 0))
    return out


def fill(engine: Any, forms: FormSet) -> None:
    from sqlalchemy.orm import sessionmaker

    sessions = sessionmaker(engine)
    for data, submit in varied(random.Random(5)):
        with sessions.begin() as s:
            save(s, forms, data, submit)


def old_store(data_dir: Path, forms: FormSet, *, encrypted: bool) -> None:
    """A store left by the version before 0005, holding inspections."""
    data_dir.mkdir(parents=True)
    key = ensure_key(data_dir)[0] if encrypted else None
    engine = make_engine(data_dir / DB_NAME, key)
    upgrade(engine, "0004")
    fill(engine, forms)
    engine.dispose()


@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "older-plaintext"])
def test_an_existing_store_gets_the_table_on_its_first_start(
    tmp_path: Path, formset: FormSet, encrypted: bool
) -> None:
    data_dir = tmp_path / "data"
    old_store(data_dir, formset, encrypted=encrypted)
    store = open_store(data_dir)  # a plaintext one is encrypted first, then migrated
    try:
        assert current_revision(store.engine) == head_revision()
        with store.Session() as s:
            assert len(assert_same_as_a_scan(s, formset)) > 5
            save(s, formset, inspection("2026-11-27", [hazard(deadline="2026-11-29")]), True)
            assert_same_as_a_scan(s, formset)
    finally:
        store.close()
    assert (data_dir / DB_NAME).read_bytes()[:16] != b"SQLite format 3\x00"


def test_a_restored_backup_brings_its_table_or_builds_it(tmp_path: Path, formset: FormSet) -> None:
    data_dir = tmp_path / "data"
    ctx = ClientContext(open_store(data_dir), formset, FixedClock(NOW, TODAY))
    fill(ctx.store.engine, formset)
    with ctx.store.Session() as s:
        at_backup = assert_same_as_a_scan(s, formset)
    backup = backup_to(ctx.store, tmp_path / "today.db")
    with ctx.store.Session.begin() as s:  # work after the backup, which the restore rolls back
        for op in [("delete", 1), ("edit", 2, inspection("2026-11-20", [hazard()]), True)]:
            apply(s, formset, op)
        assert_same_as_a_scan(s, formset)
    # A backup of the schema before 0005 (made by the older version, with this folder's key).
    older = tmp_path / "older"
    older.mkdir()
    engine = make_engine(older / DB_NAME, ensure_key(data_dir)[0])
    upgrade(engine, "0004")
    fill(engine, formset)
    engine.dispose()  # the last connection's close settles the WAL into the file
    try:
        restore_from(ctx.store, backup, now=NOW)
        store = open_store(data_dir)
        with store.Session() as s:
            assert assert_same_as_a_scan(s, formset) == at_backup
        restore_from(store, older / DB_NAME, now=NOW)
        store = open_store(data_dir)  # migrated: the table is built from the backup's records
        with store.Session() as s:
            assert len(assert_same_as_a_scan(s, formset)) > 5
        store.close()
    finally:
        ctx.close()


# -- a status-only change (migration 0006) ----------------------------------------------------------------


def _rebuilt_rows(s: Session) -> int:
    """Rows the triggers deleted from todo_hazards since the counter was armed (a rebuild deletes them all)."""
    return int(s.execute(text("SELECT n FROM temp.todo_rebuilds")).scalar_one())


def _arm_rebuild_counter(s: Session) -> None:
    s.execute(text("CREATE TEMP TABLE IF NOT EXISTS todo_rebuilds (n INTEGER NOT NULL)"))
    s.execute(text("DELETE FROM temp.todo_rebuilds"))
    s.execute(text("INSERT INTO temp.todo_rebuilds VALUES (0)"))
    s.execute(
        text(
            "CREATE TEMP TRIGGER IF NOT EXISTS count_todo_rebuilds AFTER DELETE ON main.todo_hazards "
            "BEGIN UPDATE todo_rebuilds SET n = n + 1; END"
        )
    )


def _status_round(s: Session, forms: FormSet, ids: list[str]) -> None:
    """What a sync does to pushed records (plain SQL, status alone), then an edit that also changes the
    status: the first keeps the rows in place, the second rebuilds them; the table stays right."""
    _arm_rebuild_counter(s)
    s.execute(
        update(Record).where(Record.id.in_(ids)).values(status=Status.RECEIVED)
    )  # as outbox.apply_push_answer: submitted -> received
    s.execute(
        text("UPDATE records SET status = 'returned', data = data WHERE id = :r"), {"r": ids[0]}
    )  # the data named but the same value: still a status-only change
    assert _rebuilt_rows(s) == 0
    statuses = dict(s.execute(select(Record.id, Record.status)).all())
    for rid, status in s.execute(text("SELECT record_id, record_status FROM todo_hazards")):
        assert status == statuses[rid]
    assert_same_as_a_scan(s, forms)
    s.execute(
        text(
            "UPDATE records SET status = 'accepted', "
            "data = json_set(data, '$.hazards[0].status', 'verified') WHERE id = :r"
        ),
        {"r": ids[1]},
    )
    assert _rebuilt_rows(s) > 0
    assert_same_as_a_scan(s, forms)


def test_a_status_only_change_updates_the_rows_in_place(tmp_path: Path, formset: FormSet) -> None:
    store = open_store(tmp_path / "data")
    try:
        fill(store.engine, formset)
        with store.Session.begin() as s:
            ids = [
                rid
                for (rid,) in s.execute(
                    text("SELECT DISTINCT record_id FROM todo_hazards ORDER BY record_id")
                )
            ]
            assert len(ids) > 3
            _status_round(s, formset, ids)
    finally:
        store.close()


def test_0006_goes_down_to_0005_and_up_again_with_the_table_right(
    tmp_path: Path, formset: FormSet
) -> None:
    from alembic import command

    from client.store.migrate import _config

    engine = make_engine(tmp_path / DB_NAME)
    try:
        upgrade(engine)
        fill(engine, formset)
        with engine.begin() as conn:
            cfg = _config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
        assert current_revision(engine) == "0005"
        with Session(engine) as s, s.begin():
            s.execute(update(Record).values(status=Status.RECEIVED))  # 0005 rebuilds: still right
            assert_same_as_a_scan(s, formset)
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with Session(engine) as s, s.begin():
            ids = [r for (r,) in s.execute(text("SELECT DISTINCT record_id FROM todo_hazards"))]
            _status_round(s, formset, sorted(ids))
    finally:
        engine.dispose()
