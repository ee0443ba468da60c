"""Group commit (issue 14, goal 3; services.group_commit): pushes waiting for the database's writer are
applied in one transaction, each in its own savepoint, under one commit. Each is answered on its own; one that
fails is undone alone; nothing is answered before the commit that holds it, so killing the server loses
nothing it answered. SQLite only (PostgreSQL's pushes run at once, each its own transaction): real SQLite
files, the real app on loopback, a real `sync-server serve` killed with SIGKILL."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync_server import models as M
from sync_server.db import open_database
from sync_server.services.group_commit import GroupAborted, GroupWriter, writer_for
from sync_server.state import get_state
from tests.server.conftest import LiveServer, change
from tests.support import served
from tests.support.samples import inspection


def _hold(writer: GroupWriter, Session_: Any) -> tuple[threading.Thread, threading.Event]:
    """A job that holds the writer (its group running) until the returned event is set."""
    started, release = threading.Event(), threading.Event()

    def blocker(session: Session) -> str:
        started.set()
        assert release.wait(20)
        return "held"

    thread = threading.Thread(target=writer.run, args=(Session_, blocker))
    thread.start()
    assert started.wait(10)
    return thread, release


def _wait_queued(writer: GroupWriter, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(writer._queue) < count:
        assert time.monotonic() < deadline, f"{len(writer._queue)} of {count} jobs queued"
        time.sleep(0.01)


def _queue_behind(
    writer: GroupWriter,
    holder: threading.Thread,
    release: threading.Event,
    jobs: list[Callable[[], None]],
    join: float = 20,
) -> None:
    """Each of `jobs` started in a thread once the one before is queued behind the held group (queued in
    this order); then the group let go, and all awaited."""
    threads = []
    for i, job in enumerate(jobs):
        threads.append(threading.Thread(target=job))
        threads[-1].start()
        _wait_queued(writer, i + 1)
    release.set()
    holder.join(20)
    for t in threads:
        t.join(join)


def test_jobs_queued_behind_a_group_commit_together_and_a_failing_one_is_undone_alone(
    tmp_path: Path,
) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY)")
        writer = GroupWriter()
        holder, release = _hold(writer, db.Session)
        results: dict[str, Any] = {}

        def insert(*keys: str, fail: Exception | None = None) -> Callable[[Session], str]:
            def work(session: Session) -> str:
                for k in keys:
                    session.execute(text("INSERT INTO t VALUES (:k)"), {"k": k})
                if fail is not None:
                    raise fail
                return "+".join(keys)

            return work

        def submit(name: str, work: Callable[[Session], str]) -> None:
            try:
                results[name] = writer.run(db.Session, work)
            except Exception as exc:
                results[name] = exc

        jobs = [
            ("a", insert("a")),
            ("raises", insert("r1", "r2", fail=ValueError("this batch is bad"))),
            ("clash", insert("c1", "a")),  # a unique violation after a row of its own
            ("b", insert("b1", "b2")),
        ]
        _queue_behind(writer, holder, release, [partial(submit, name, work) for name, work in jobs])
        assert results["a"] == "a" and results["b"] == "b1+b2"
        assert isinstance(results["raises"], ValueError)
        assert isinstance(results["clash"], IntegrityError)
        assert writer.group_sizes[-2:] == [1, 4]  # the holder alone, then the four queued together
        with db.engine.connect() as conn:
            stored = {r[0] for r in conn.exec_driver_sql("SELECT k FROM t")}
        assert stored == {"a", "b1", "b2"}
    finally:
        db.close()


def test_two_devices_batches_commit_together_and_a_refused_batch_beside_them_changes_nothing(
    live_sqlite: LiveServer,
) -> None:
    """Through the API (SQLite: on PostgreSQL pushes run at once, each in its own transaction): while the
    writer is held, device A sends a batch under a key it used for another body (422) and a good batch,
    device B a good batch; they run in one group."""
    live = live_sqlite
    state = get_state(live.app)
    writer = writer_for(state.db.Session)
    assert writer is not None
    a, b = live.device(), live.device()
    first = [change(inspection())]
    assert a.push_ok(first, key="k-1")[0]["result"] == "applied"
    holder, release = _hold(writer, state.db.Session)
    sent: dict[str, requests.Response] = {}
    batches = {
        "a-reused": (a, [change(inspection())], "k-1"),
        "a-good": (a, [change(inspection()) for _ in range(3)], "k-2"),
        "b-good": (b, [change(inspection()) for _ in range(2)], "k-1"),
    }

    def send(name: str) -> None:
        dev, changes, key = batches[name]
        sent[name] = dev.push(changes, key=key)

    _queue_behind(writer, holder, release, [partial(send, name) for name in batches], join=30)
    assert writer.group_sizes[-1] == 3
    assert sent["a-reused"].status_code == 422, sent["a-reused"].text
    assert sent["a-reused"].json()["error"]["code"] == "idempotency_key_reused"
    for name in ("a-good", "b-good"):
        assert sent[name].status_code == 200, sent[name].text
        results = sent[name].json()["results"]
        assert [r["result"] for r in results] == ["applied"] * len(batches[name][1])
        for c in batches[name][1]:
            assert live.record(c["record_id"]) is not None
    assert live.record(batches["a-reused"][1][0]["record_id"]) is None
    assert live.count(M.Record) == 1 + 3 + 2
    # each answer stands on its own: sent again, each gets its own stored answer
    again = a.push(batches["a-good"][1], key="k-2")
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == sent["a-good"].json()


def test_a_server_killed_while_devices_push_has_stored_everything_it_answered(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """A real `sync-server serve` on SQLite, 6 devices pushing small batches at once, killed (SIGKILL) in
    the middle: every change it answered `applied` is in the database afterwards."""
    path = tmp_path / "sync.db"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    db = open_database(url)
    from sync_server.services.schools import add_school
    from tests.server.conftest import START

    with db.Session.begin() as s:
        codes = [
            add_school(s, code=f"K{i}", name=f"学校{i}", now=START).enrollment_code
            for i in range(6)
        ]
    db.close()
    server = served.start_served(tmp_path / "instance", url)
    answered: list[str] = []
    stop = threading.Event()
    try:
        tokens = []
        for code in codes:
            r = requests.post(
                server.url + "/api/v1/enroll",
                json={"enrollment_code": code, "device_name": "电脑"},
                timeout=20,
            )
            assert r.status_code == 201, r.text
            tokens.append(r.json()["token"])

        def device(token: str) -> None:
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {token}"
            while not stop.is_set():
                changes = [change(inspection()) for _ in range(5)]
                try:
                    r = http.post(
                        server.url + "/api/v1/push",
                        data=json.dumps({"changes": changes}, ensure_ascii=False).encode(),
                        headers={
                            "Idempotency-Key": str(uuid.uuid4()),
                            "Content-Type": "application/json; charset=utf-8",
                        },
                        timeout=20,
                    )
                except requests.RequestException:
                    return  # the server is gone
                if r.status_code != 200:
                    return
                for res in r.json()["results"]:
                    assert res["result"] == "applied"
                    answered.append(res["record_id"])

        threads = [threading.Thread(target=device, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(answered) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        stop.set()
        for t in threads:
            t.join(30)
    finally:
        stop.set()
        server.stop()
    assert len(answered) >= 150
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            stored = set(conn.execute(sa.select(M.Record.id)).scalars())
            ops = conn.execute(sa.select(sa.func.count()).select_from(M.AppliedOp)).scalar_one()
            revisions = conn.execute(
                sa.select(sa.func.count()).select_from(M.RecordRevision)
            ).scalar_one()
    finally:
        engine.dispose()
    assert set(answered) <= stored, f"{len(set(answered) - stored)} answered changes lost"
    assert ops == revisions == len(stored)  # each stored record whole, with its op and revision


@pytest.mark.parametrize("jobs", [1, 3])
def test_a_failing_commit_fails_every_job_of_the_group(tmp_path: Path, jobs: int) -> None:
    """Nothing of a group is answered when its commit fails (here a deferred foreign key, checked at
    commit): each job gets the error, none a result."""
    db = open_database(f"sqlite:///{tmp_path / 'f.db'}")
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE p (id INTEGER PRIMARY KEY)")
            conn.exec_driver_sql(
                "CREATE TABLE c (id INTEGER PRIMARY KEY, "
                "p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)"
            )
        writer = GroupWriter()
        holder, release = _hold(writer, db.Session)
        results: list[Any] = []

        def submit(i: int) -> None:
            def work(session: Session) -> int:
                # the last job's row points nowhere: the commit fails for all of them
                target = 99 if i == jobs - 1 else None
                session.execute(text("INSERT INTO c VALUES (:i, :p)"), {"i": i, "p": target})
                return i

            try:
                results.append(writer.run(db.Session, work))
            except Exception as exc:
                results.append(exc)

        _queue_behind(writer, holder, release, [partial(submit, i) for i in range(jobs)])
        assert len(results) == jobs and all(isinstance(r, IntegrityError) for r in results)
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM c").scalar_one() == 0
    finally:
        db.close()


def _limit_pages(engine: sa.Engine) -> dict[str, int | None]:
    """While `limit["pages"]` is set, each write connection checked out may not grow the database file
    beyond that many pages (`PRAGMA max_page_count`): SQLite's SQLITE_FULL, a full disk as the server
    meets it. Set back to None, the room is there again."""
    limit: dict[str, int | None] = {"pages": None}

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        pages = limit["pages"] or 1_073_741_823
        dbapi_connection.execute(f"PRAGMA max_page_count = {int(pages)}")

    sa.event.listen(engine, "checkout", on_checkout)
    return limit


def test_a_full_disk_in_one_push_of_a_group_fails_the_whole_group_and_its_retry_stores_each_once(
    live_sqlite: LiveServer,
) -> None:
    """SQLITE_FULL (here `max_page_count`) on a big batch in the middle of a group undoes the whole shared
    transaction, not just that batch's savepoint: the batches before it in the group are gone too, and the
    one after it must not be committed on its own. So nobody is answered `applied`: every push of the group
    gets a 503 that the client retries with the same key; sent again once there is room, each batch is
    stored exactly once."""
    live = live_sqlite
    state = get_state(live.app)
    writer = writer_for(state.db.Session)
    assert writer is not None
    limit = _limit_pages(state.db.engine)
    a, b, c = live.device(), live.device(), live.device()
    batches = {
        "a": (a, [change(inspection())]),
        "big": (b, [change(inspection(inspectors="检查人" * 2000)) for _ in range(60)]),
        "c": (c, [change(inspection())]),
    }
    holder, release = _hold(writer, state.db.Session)
    with state.db.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
    limit["pages"] = pages + 60  # room for a small batch, not for the big one (~1.5 MB)
    sent: dict[str, requests.Response] = {}

    def send(name: str) -> None:
        dev, changes = batches[name]
        sent[name] = dev.push(changes, key=f"key-{name}")

    _queue_behind(writer, holder, release, [partial(send, name) for name in batches], join=30)
    assert writer.group_sizes[-1] == 3
    for name in batches:
        assert sent[name].status_code == 503, (name, sent[name].status_code, sent[name].text)
        assert sent[name].headers.get("Retry-After")
        assert "error" in sent[name].json()
    assert live.count(M.Record) == 0
    assert live.count(M.IdempotencyKey) == 0
    # room again: each batch sent again under its key is stored, once
    limit["pages"] = None
    for name in batches:
        dev, changes = batches[name]
        results = dev.push_ok(changes, key=f"key-{name}")
        assert [r["result"] for r in results] == ["applied"] * len(changes)
    assert live.count(M.Record) == 1 + 60 + 1
    assert live.count(M.AppliedOp) == 1 + 60 + 1
    assert live.count(M.IdempotencyKey) == 3


def test_a_system_exit_in_one_job_is_raised_only_in_the_leading_thread_the_others_get_an_answerable_error(
    tmp_path: Path,
) -> None:
    """A SystemExit inside one job (library code calling sys.exit()) is raised again only in the thread that
    ran it, the group's leader; each other thread of the group, the healthy job's too, gets a GroupAborted
    (an Exception, answered 503, so its connection is not left hanging: waitress catches only Exception).
    Nothing of the group is stored, and the writer goes on."""
    db = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY)")
        writer = GroupWriter()
        holder, release = _hold(writer, db.Session)
        results: dict[str, BaseException | str] = {}

        def insert(k: str, session: Session) -> str:
            session.execute(text("INSERT INTO t VALUES (:k)"), {"k": k})
            return k

        def exits(session: Session) -> str:
            session.execute(text("INSERT INTO t VALUES ('x')"))
            raise SystemExit(3)

        def submit(name: str, work: Callable[[Session], str]) -> None:
            try:
                results[name] = writer.run(db.Session, work)
            except BaseException as exc:
                results[name] = exc

        jobs: list[tuple[str, Callable[[Session], str]]] = [
            ("b", partial(insert, "b")),
            ("exits", exits),
            ("c", partial(insert, "c")),
        ]
        _queue_behind(writer, holder, release, [partial(submit, name, work) for name, work in jobs])
        assert writer.group_sizes[-1] == 3
        raised = {name: type(r).__name__ for name, r in results.items()}
        assert sorted(raised.values()) == ["GroupAborted", "GroupAborted", "SystemExit"], raised
        for r in results.values():
            if isinstance(r, GroupAborted):
                assert r.status == 503 and r.headers.get("Retry-After")
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 0
        assert writer.run(db.Session, partial(insert, "after")) == "after"
        with db.engine.connect() as conn:
            assert [r[0] for r in conn.exec_driver_sql("SELECT k FROM t")] == ["after"]
    finally:
        db.close()
