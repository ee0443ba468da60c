"""Group commit: the pushes waiting for the database's writer are applied in one transaction, one commit.

Each push used to be its own transaction, and each commit waits for the disk (SQLite with synchronous=FULL,
PostgreSQL with synchronous_commit on: an fsync, ~9 ms here). With 300 devices pushing at once the pushes
queued one behind another on the writer (issue 14, goal 3: p95 batch latency 4-19 s), each paying its own
fsync while every other push waited.

Here a push hands its work (a function of the write session) to the database's GroupWriter. One of the
waiting threads leads: it takes every job queued (up to MAX_GROUP_JOBS, MAX_GROUP_WEIGHT changes), opens
one write transaction, runs each job inside its own SAVEPOINT and commits once; then each job's thread gets
its own result, or its own exception. Durability is unchanged: a job's result is handed back only after the
COMMIT that holds it returned, so nothing answered can be lost; a job that raises is rolled back to its
savepoint, alone - the others in the group commit as if it had never run. If the COMMIT itself fails, every
job of the group gets that error (nothing of it was stored, nothing was answered).

Some SQLite errors (SQLITE_FULL: disk full; SQLITE_IOERR; SQLITE_NOMEM; SQLITE_INTERRUPT) undo the whole
transaction, not one savepoint: the jobs before the failing one are gone as well, and a job after it would
run outside any transaction (its RELEASE committing it alone) while the final COMMIT did nothing. So after a
job fails, and just before the COMMIT, the connection must still be in its transaction, and a failing job's
savepoint must have been rolled back; otherwise the whole group fails with GroupAborted (a 503 the client
retries with the same key), each of its jobs answered with it, none as applied.

A BaseException (SystemExit, KeyboardInterrupt) in a job is raised again only in the leading thread, where it
happened; every other job of the group gets a GroupAborted (an ordinary exception, answered) instead.

Jobs run in the order they queued, each seeing what the jobs before it in the group wrote (one transaction),
exactly as if they had committed one after another.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sync_server.errors import ServiceError

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_GROUP_JOBS = 64  # jobs in one transaction at most
MAX_GROUP_WEIGHT = (
    2_000  # changes in one transaction at most (a job heavier alone still runs, alone)
)


class GroupAborted(ServiceError):
    """The group's shared transaction is gone (or the group stopped): nothing of it was stored. A 503: the
    client sends the batch again, under the same key."""

    status = 503

    def __init__(self, reason: str) -> None:
        super().__init__(
            "unavailable",  # the 503 of docs/protocol.md: busy, come back (no new code)
            "服务器写入数据库时出错（如磁盘已满），本批未保存，请稍后重试",
            "the server could not write to its database (a full disk, say); this batch was not stored; "
            "try again later",
            details={"reason": reason},
            headers={"Retry-After": "5"},
        )


def _in_transaction(session: Session) -> bool:
    """Whether the session's connection still holds its transaction, as the driver sees it (sqlite3's
    in_transaction; a driver without that attribute is taken at its word). A session that cannot give its
    connection any more has lost it."""
    try:
        dbapi_connection = session.connection().connection.driver_connection
    except Exception:
        return False
    return bool(getattr(dbapi_connection, "in_transaction", True))


class _Job(Generic[T]):
    __slots__ = ("done", "error", "value", "weight", "work")

    def __init__(self, work: Callable[[Session], T], weight: int) -> None:
        self.work = work
        self.weight = max(1, weight)
        self.done = False
        self.value: T | None = None
        self.error: BaseException | None = None


class GroupWriter:
    """One per database engine (see writer_for). Thread-safe."""

    def __init__(
        self, *, max_jobs: int = MAX_GROUP_JOBS, max_weight: int = MAX_GROUP_WEIGHT
    ) -> None:
        self.max_jobs = max_jobs
        self.max_weight = max_weight
        self._cv = threading.Condition()
        self._queue: list[_Job[Any]] = []
        self._leading = False
        # What the last groups were (for tests and figures): jobs in each, most recent last.
        self.group_sizes: list[int] = []

    def run(
        self, Session_: sessionmaker[Session], work: Callable[[Session], T], weight: int = 1
    ) -> T:
        """`work(session)` inside a savepoint of a shared write transaction; its value once that committed.
        Its exception is raised here (its savepoint rolled back, the others' work kept)."""
        job: _Job[T] = _Job(work, weight)
        with self._cv:
            self._queue.append(job)
        while True:
            with self._cv:
                while self._leading and not job.done:
                    self._cv.wait()
                if job.done:
                    break
                self._leading = True
                group = self._take()
            try:
                self._commit(Session_, group)
            except BaseException:
                # a BaseException raised again here, in the thread it happened in: this thread's own job,
                # if it was not in that group, will not be waited for
                with self._cv:
                    if not job.done and job in self._queue:
                        self._queue.remove(job)
                raise
            finally:
                with self._cv:
                    self._leading = False
                    self._cv.notify_all()
        if job.error is not None:
            raise job.error
        return job.value  # type: ignore[return-value]

    def _take(self) -> list[_Job[Any]]:
        """The queue's first jobs, up to the limits (at least one)."""
        count, weight = 0, 0
        for job in self._queue:
            if count and (count >= self.max_jobs or weight + job.weight > self.max_weight):
                break
            count += 1
            weight += job.weight
        group = self._queue[:count]
        del self._queue[:count]
        return group

    def _commit(self, Session_: sessionmaker[Session], group: list[_Job[Any]]) -> None:
        ran: list[_Job[Any]] = []
        try:
            with Session_.begin() as session:
                for job in group:
                    raised: list[BaseException] = []
                    try:
                        with session.begin_nested():
                            try:
                                value = job.work(session)
                            except BaseException as exc:
                                raised.append(exc)
                                raise
                    except Exception as exc:  # this job's own failure: its savepoint is rolled back
                        job.error = exc
                        if not raised or exc is not raised[0]:
                            # its savepoint could not be released or rolled back
                            raise GroupAborted("savepoint") from exc
                        if not _in_transaction(session):
                            raise GroupAborted("transaction") from exc
                    else:
                        job.value = value
                        ran.append(job)
                if not _in_transaction(session):
                    raise GroupAborted("transaction")
        except (
            BaseException
        ) as exc:  # the transaction or its commit failed: nothing of the group stored
            if isinstance(exc, GroupAborted):
                log.error(
                    "a group of %d pushes failed: nothing of it stored", len(group), exc_info=exc
                )
            whole = isinstance(exc, GroupAborted) or not isinstance(exc, Exception)
            for job in group:
                if whole or job.error is None or job in ran:
                    job.error = exc if isinstance(exc, Exception) else self._aborted(exc)
                    job.value = None
            self._finish(group)
            if not isinstance(exc, Exception):
                raise  # in this, the leading thread, where it happened; the others answer GroupAborted
            return
        self._finish(group)

    @staticmethod
    def _aborted(exc: BaseException) -> GroupAborted:
        aborted = GroupAborted(type(exc).__name__)
        aborted.__cause__ = exc
        return aborted

    def _finish(self, group: list[_Job[Any]]) -> None:
        for job in group:
            job.done = True
        self.group_sizes.append(len(group))
        del self.group_sizes[:-1000]


_WRITERS: weakref.WeakKeyDictionary[Engine, GroupWriter] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


# SQLite only. On PostgreSQL the pushes run at once, each in its own transaction, as before: measured (issue
# 14), one writer for them there was slower - 1,500-1,650 against 2,860-3,085 records/s, crowd p95 4.7-5.4 s
# against 3.5-3.6 s - since the database's own processes work on the other core meanwhile, and its commits
# already share WAL flushes.
GROUPED_DIALECTS = frozenset({"sqlite"})


def writer_for(Session_: sessionmaker[Session]) -> GroupWriter | None:
    """The GroupWriter of the session factory's engine (None: not bound to one engine, or not SQLite)."""
    bind = Session_.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name not in GROUPED_DIALECTS:
        return None
    with _WRITERS_LOCK:
        writer = _WRITERS.get(bind)
        if writer is None:
            writer = _WRITERS[bind] = GroupWriter()
        return writer
