"""A Jepsen-style world for the convergence test (issue 10): two PCs of one school and the bureau.

Real parts only: two client stores on disk, each with its real sync engine, talking to the real server
through a fault proxy (tests/support/faultproxy.py) that can lose a push's answer, cut a push on its way up or
lose a pull's page; the bureau's reviewers act through sync_server.services.review. A PC can be restarted
(its store closed and opened again from disk, as after a crash between two steps).

    world = World(server, folder, name="s1")
    world.add_record("a", "初查")
    world.sync("b", fault="push_lost")
    ...
    world.quiesce(chooser)        # sync until nothing moves; the clerks and the bureau answer what is open
    world.check()                 # AssertionError naming what diverged, was lost, or is stuck

Every revision a clerk saves is tracked (PC, record, local revision). At quiescence each must be on the
server (a server revision or a change request with its data, or a deletion), or visible as an open conflict
or request on its PC, or have been set aside by that PC's clerk in a conflict choice (who saw both sides).
`pick` arguments choose among the candidates (Hypothesis draws, or random.Random in the long run).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from client.clock import FixedClock
from client.context import ClientContext
from client.store import records as R
from client.store import sync_state as S
from client.store.db import open_store
from client.store.formset import ROSTER_FORM, FormSet
from client.store.models import OutboxEntry, Record, Revision, Status, SyncBatch, SyncIssue
from client.store.roster import save_teacher
from client.sync.engine import SyncEngine
from client.sync.errors import SyncError
from client.sync.http import RetryPolicy, Timeouts
from sync_server import models as M
from sync_server.services import review
from sync_server.services.schools import add_school
from tests.support.encrypted import db_connect
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.samples import inspection

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
Pick = Callable[[Sequence[T]], T]

NOW = dt.datetime(2026, 11, 28, 2, 0)
TODAY = dt.date(2026, 11, 28)
SERVER_NOW = NOW.replace(tzinfo=dt.UTC)
FORM = "safety_inspection"
LOCAL, SERVER = "local", "server"
FAULTS = (None, "push_lost", "push_cut", "pull_lost")
REMARKS = ("初查", "已整改", "复查合格", "补充照片说明", "请示校长")
SIGNERS = ("赵校长", "钱副校长", "孙主任")
TEACHER_IDS = ("T1", "T2")
NAMES = ("李老师", "王老师", "张老师")


@dataclass(frozen=True)
class Saved:
    """A revision a clerk saved (or a conflict choice made), as it must reach the server."""

    pc: str
    op_id: str  # its outbox entry's
    record_id: str
    revision: int
    deleted: bool
    data: dict[str, Any]


class ServerHandle:
    """What the world needs of the server: its URL and port, and write sessions on its database."""

    url: str
    port: int

    def session(self) -> Session:  # pragma: no cover - an interface
        raise NotImplementedError


class Served(ServerHandle):
    """The real create_app() on 127.0.0.1, in a thread (as tests/sync/conftest.py serves it), that can be
    stopped, restored from a backup the way the bureau's IT person does it (docs/deployment.md: SQLite
    `sync-server restore BACKUP.db`; PostgreSQL pg_dump / pg_restore, then `sync-server restore
    --after-pg-restore`) and started again on the same address."""

    def __init__(self, instance: Path, database_url: str) -> None:
        self.instance = instance
        self.db_url = database_url
        self.port = 0
        self.start()

    def start(self) -> None:
        from werkzeug.serving import make_server

        from sync_server.app import create_app
        from sync_server.state import get_state

        self.app = create_app(
            {
                "INSTANCE_PATH": str(self.instance),
                "DATABASE_URL": self.db_url,
                "SECRET_KEY": "convergence",
                "CLOCK": lambda: SERVER_NOW,
            }
        )
        self._state = get_state(self.app)
        # Started again after a restore on the same port, if it is still free: another test's socket may have
        # taken it meanwhile (seen on a loaded machine); then a new one (the worlds' proxy follows `port`).
        for attempt in range(20):
            try:
                self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
                break
            except (OSError, SystemExit):  # werkzeug exits on "address already in use"
                if self.port == 0 or attempt == 19:
                    raise
                if attempt >= 9:
                    self.port = 0
                time.sleep(0.2)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"

    def session(self) -> Session:
        return self._state.db.Session()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._state.db.close()

    @property
    def _postgres(self) -> bool:
        return self.db_url.startswith("postgresql")

    def backup(self, out: Path) -> Path:
        out.parent.mkdir(parents=True, exist_ok=True)
        if not self._postgres:
            source = sqlite3.connect(self.db_url.removeprefix("sqlite:///"))
            target = sqlite3.connect(out)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            return out
        schema = self.db_url.rsplit("search_path%3D", 1)[1]
        _run(["pg_dump", "--format=custom", f"--schema={schema}", f"--file={out}", self._libpq])
        return out

    def restore(self, backup: Path) -> None:
        self.close()
        try:
            if not self._postgres:
                self._cli("restore", str(backup))
            else:
                _run(
                    [
                        "pg_restore",
                        "--clean",
                        "--if-exists",
                        "--no-owner",
                        f"--dbname={self._libpq}",
                        str(backup),
                    ]
                )
                self._cli("restore", "--after-pg-restore")
        finally:
            self.start()

    @property
    def _libpq(self) -> str:
        from sqlalchemy.engine import make_url

        parsed = make_url(self.db_url.split("?")[0])
        return f"postgresql://{parsed.username}@{parsed.host}:{parsed.port}/{parsed.database}"

    def _cli(self, *args: str) -> None:
        env = dict(os.environ)
        env.pop("SYNC_SERVER_DB", None)
        where = ["--db", self.db_url, "--instance", str(self.instance)]
        _run([sys.executable, "-m", "sync_server", *args, *where], env=env)


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    r = subprocess.run(
        argv, capture_output=True, text=True, encoding="utf-8", env=env, cwd=ROOT, timeout=120
    )
    if r.returncode != 0:
        raise AssertionError(f"{argv[0]} {' '.join(argv[1:3])} failed: {r.stdout}{r.stderr}")


class PC:
    """One school PC: a store folder, and (while open) its context and engine."""

    def __init__(self, name: str, folder: Path, forms: FormSet, server_url: str) -> None:
        self.name = name
        self.folder = folder
        self.forms = forms
        self.server_url = server_url
        self.ctx: ClientContext | None = None
        self.engine: SyncEngine | None = None
        self.http: requests.Session | None = None
        self.open()

    def open(self) -> None:
        forms = FormSet(dict(self.forms.latest), dict(self.forms.versions))
        ctx = ClientContext(open_store(self.folder), forms, FixedClock(NOW, TODAY))
        with ctx.store.Session() as s:
            S.load_stored_forms(s, ctx.forms)
        self.http = requests.Session()
        self.ctx = ctx
        self.engine = SyncEngine(
            ctx,
            self.http,
            sleep=lambda _s: None,
            rng=random.Random(7),
            policy=RetryPolicy(attempts=1, base=0.01, cap=0.01),  # a cut ends the sync
            timeouts=Timeouts(connect=5.0, read=10.0),
            batch_changes=3,  # several batches per sync: more places for a cut to land
        )

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
        if self.ctx is not None:
            self.ctx.close()
        self.ctx = self.engine = self.http = None

    def restart(self) -> None:
        self.close()
        self.open()

    @property
    def c(self) -> ClientContext:
        assert self.ctx is not None
        return self.ctx

    @property
    def e(self) -> SyncEngine:
        assert self.engine is not None
        return self.engine

    def session(self) -> Session:
        return self.c.store.Session()

    def begin(self) -> Any:
        return self.c.store.Session.begin()


@dataclass
class Figures:
    """What happened, for the long run's report."""

    actions: Counter[str] = field(default_factory=Counter)
    conflicts: Counter[str] = field(default_factory=Counter)  # by reason and server status
    choices: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    sync_errors: int = 0
    settle_rounds: list[int] = field(default_factory=list)


class World:
    def __init__(
        self, server: ServerHandle, folder: Path, *, name: str, forms: FormSet | None = None
    ) -> None:
        self.server = server
        self.folder = folder
        self.school = "C" + uuid.uuid4().hex[:10]
        self.figures = Figures()
        # What clerks saved that must reach the server, in the order it was saved (a PC restore may take a
        # store back to lower revision numbers: a save is known by its place in this list, not its number).
        self.saved: list[Saved] = []
        # (pc, record id) -> saves of it up to this place in `saved` that its clerk set aside in a conflict
        self.set_aside: dict[tuple[str, str], int] = {}
        # record id -> when the world first saw it: candidates are offered in this order (uuids are
        # random), so a seed or a Hypothesis example replays the same choices
        self.order: dict[str, int] = {}
        # revisions a PC restore took back before they were sent (the clerk is told: work_lost_by_restore)
        self.lost_by_pc_restore: set[int] = set()  # places in `saved`
        self.server_backup_file: Path | None = None
        self.pc_backups: dict[str, Path] = {}
        self.proxy = FaultProxy(("127.0.0.1", server.port)).start()
        forms = forms or FormSet.shipped()
        self.pcs: dict[str, PC] = {}
        for _ in range(2):
            with server.session() as s, s.begin():
                made = add_school(s, code=self.school, name=f"{name}小学", now=SERVER_NOW)
            # each code voids the unused ones before it: enroll right away
            pc_name = "ab"[len(self.pcs)]
            pc = PC(pc_name, folder / f"{name}-{pc_name}", forms, self.proxy.url)
            pc.e.enroll(self.proxy.url, made.enrollment_code, device_name=f"PC {pc_name}")
            self.pcs[pc_name] = pc

    def close(self) -> None:
        for pc in self.pcs.values():
            pc.close()
        self.proxy.stop()

    # -- what the clerks do ---------------------------------------------------------------------------

    def _sorted(self, ids: Sequence[str]) -> list[str]:
        for rid in ids:
            self.order.setdefault(rid, len(self.order))
        return sorted(ids, key=self.order.__getitem__)

    def _track(self, pc: PC, record_ids: Sequence[str]) -> None:
        """Keep the unsent changes of these records as revisions that must reach the server."""
        self._sorted(record_ids)
        with pc.session() as s:
            known = {x.op_id for x in self.saved}
            for op_id, row in s.execute(
                select(OutboxEntry.op_id, Revision)
                .join(
                    OutboxEntry,
                    (OutboxEntry.record_id == Revision.record_id)
                    & (OutboxEntry.revision == Revision.revision),
                )
                .where(OutboxEntry.record_id.in_(list(record_ids)), OutboxEntry.sent_at.is_(None))
            ):
                if op_id not in known:
                    self.saved.append(
                        Saved(
                            pc.name, op_id, row.record_id, row.revision, row.deleted, dict(row.data)
                        )
                    )

    def _live(self, pc: PC, form_id: str, *, editable: bool = True) -> list[Record]:
        with pc.session() as s:
            rows = list(
                s.execute(
                    select(Record)
                    .where(Record.form_id == form_id, Record.deleted.is_(False))
                    .order_by(Record.created_at, Record.id)
                ).scalars()
            )
            held = S.held_record_ids(s)
            s.expunge_all()
        if editable:
            rows = [r for r in rows if r.status != Status.ACCEPTED and r.id not in held]
        by_id = {r.id: r for r in rows}
        return [by_id[rid] for rid in self._sorted(list(by_id))]

    def add_record(self, pc_name: str, remarks: str) -> None:
        pc = self.pcs[pc_name]
        with pc.begin() as s:
            rid = R.save_record(
                s,
                form=pc.c.forms.get(FORM),
                data=inspection(remarks=remarks),
                submit=True,
                today=TODAY,
                now=NOW,
            ).record_id
        self._track(pc, [rid])
        self.figures.actions["add"] += 1

    def edit(self, pc_name: str, pick: Pick[Record], field_name: str, value: str) -> None:
        """Change one answer of a record here (answering a return, when it is returned)."""
        pc = self.pcs[pc_name]
        rows = self._live(pc, FORM)
        if not rows:
            return
        record = pick(rows)
        with pc.begin() as s:
            R.save_record(
                s,
                form=pc.c.forms.get(record.form_id, record.form_version),
                data={**record.data, field_name: value},
                record_id=record.id,
                submit=True,
                today=TODAY,
                now=NOW,
            )
        self._track(pc, [record.id])
        self.figures.actions["edit"] += 1

    def delete(self, pc_name: str, pick: Pick[Record]) -> None:
        pc = self.pcs[pc_name]
        rows = self._live(pc, FORM)
        if not rows:
            return
        record = pick(rows)
        with pc.begin() as s:
            R.delete_record(s, record.id, now=NOW)
        self._track(pc, [record.id])
        self.figures.actions["delete"] += 1

    def add_teacher(self, pc_name: str, teacher_id: str, name: str) -> None:
        pc = self.pcs[pc_name]
        try:
            with pc.begin() as s:
                rid = save_teacher(
                    s,
                    forms=pc.c.forms,
                    values={"teacher_id": teacher_id, "name": name},
                    today=TODAY,
                    now=NOW,
                ).record_id
        except R.StoreError:
            return  # this PC has that 工号 already: the roster page says so
        self._track(pc, [rid])
        self.figures.actions["add_teacher"] += 1

    def rename_teacher(self, pc_name: str, pick: Pick[Record], name: str) -> None:
        pc = self.pcs[pc_name]
        rows = self._live(pc, ROSTER_FORM)
        if not rows:
            return
        record = pick(rows)
        with pc.begin() as s:
            save_teacher(
                s,
                forms=pc.c.forms,
                values={**record.data, "name": name},
                record_id=record.id,
                today=TODAY,
                now=NOW,
            )
        self._track(pc, [record.id])
        self.figures.actions["rename_teacher"] += 1

    def resolve(self, pc_name: str, pick: Pick[Any], side: Callable[[], str]) -> bool:
        """The clerk opens a conflict and chooses a side per difference (as the dialog offers)."""
        from client.ui import conflict_dialog as D

        pc = self.pcs[pc_name]
        with pc.session() as s:
            issues = [i.id for i in S.open_issues(s, kind=S.IssueKind.CONFLICT)]
        if not issues:
            return False
        issue_id = pick(issues)
        view = D.load_conflict(pc.c, issue_id)
        rows = D.choosable(D.rows_of(view))
        choices = {r.path: side() for r in rows}
        decision = D.decide(view, choices)
        touched = [view.record_id]
        if view.duplicate:
            with pc.session() as s:
                issue = s.get(SyncIssue, issue_id)
                assert issue is not None
                touched.append(str(issue.details["server"]["record_id"]))
        with pc.session() as s:
            for rid in touched:
                current = s.get(Record, rid)
                if current is not None:
                    key = (pc.name, rid)
                    self.set_aside[key] = len(self.saved)
        reason = view.reason + ("/deleted_here" if view.local_deleted else "")
        self.figures.conflicts[f"{reason} vs {view.server_status}"] += 1
        self.figures.choices[
            "delete"
            if decision == D.DELETE
            else "server"
            if decision is None
            else "local"
            if all(c == LOCAL for c in choices.values())
            else "merge"
        ] += 1
        D.resolve(pc.c, issue_id, decision)
        self._track(pc, touched)
        return True

    def dismiss_declined(self, pc_name: str) -> None:
        pc = self.pcs[pc_name]
        with pc.begin() as s:
            for issue in S.open_issues(s, kind=S.IssueKind.REQUEST):
                if issue.reason == "request_declined":
                    S.dismiss_issue(s, issue.id, now=NOW)
                    self.figures.actions["dismiss"] += 1

    # -- the network, crashes ---------------------------------------------------------------------------

    def sync(self, pc_name: str, fault: str | None = None) -> None:
        pc = self.pcs[pc_name]
        if fault == "push_lost":
            self.proxy.plan(Fault(cut_down_after=20, trigger=b"POST /api/v1/push"))
        elif fault == "push_cut":
            self.proxy.plan(Fault(cut_up_after=60, trigger=b"POST /api/v1/push"))
        elif fault == "pull_lost":
            self.proxy.plan(Fault(cut_down_after=20, trigger=b"GET /api/v1/pull"))
        try:
            pc.e.sync()
        except SyncError:
            self.figures.sync_errors += 1
        finally:
            self.proxy.clear()
        self.figures.faults[fault or "none"] += 1

    def restart(self, pc_name: str) -> None:
        self.pcs[pc_name].restart()
        self.figures.actions["restart"] += 1

    # -- restores (issue 10 part G: the server heals with the PCs, a PC reads back what it sent) -------

    def server_backup(self) -> None:
        assert isinstance(self.server, Served), "restores need a server of their own"
        n = self.figures.actions["server_backup"]
        self.server_backup_file = self.server.backup(self.folder / f"server-backup-{n}.dump")
        self.figures.actions["server_backup"] += 1

    def server_restore(self) -> None:
        """The bureau restores its database from the backup; the PCs find out at their next sync."""
        assert isinstance(self.server, Served) and self.server_backup_file is not None
        self.server.restore(self.server_backup_file)
        self.proxy.target = ("127.0.0.1", self.server.port)
        self.figures.actions["server_restore"] += 1

    def pc_backup(self, pc_name: str) -> None:
        from client.store.backup import backup_to

        pc = self.pcs[pc_name]
        self.pc_backups[pc_name] = backup_to(pc.c.store, self.folder / f"{pc_name}-backup.db")
        self.figures.actions["pc_backup"] += 1

    def pc_restore(self, pc_name: str) -> None:
        """The clerk restores this PC from its own backup: what was saved after it and never sent is lost
        (and the clerk is told so); what was sent comes back from the server."""
        from client.store.backup import restore_from
        from client.store.healing import work_lost_by_restore

        pc = self.pcs[pc_name]
        backup = self.pc_backups[pc_name]
        with pc.session() as s:
            unsent = set(
                s.execute(select(OutboxEntry.op_id).where(OutboxEntry.sent_at.is_(None))).scalars()
            )
        with contextlib.closing(db_connect(backup)) as conn:
            in_backup = {op for (op,) in conn.execute("SELECT op_id FROM outbox")}
        store = pc.c.store
        pc.close()
        saved = restore_from(store, backup)
        lost_now = {
            place
            for place, x in enumerate(self.saved)
            if x.pc == pc_name and x.op_id in unsent and x.op_id not in in_backup
        }
        told = work_lost_by_restore(store.db_path, saved)
        told_changes = told.changes if told is not None else 0
        if told_changes != len(lost_now):
            raise AssertionError(
                f"PC {pc_name} restore: the clerk is told {told_changes} changes are lost, "
                f"{len(lost_now)} were"
            )
        self.lost_by_pc_restore |= lost_now
        pc.open()
        self.figures.actions["pc_restore"] += 1

    # -- the bureau ---------------------------------------------------------------------------------

    def _server_records(self, s: Session) -> list[M.Record]:
        return list(
            s.execute(
                select(M.Record)
                .join(M.School, M.School.id == M.Record.school_id)
                .where(M.School.code == self.school, M.Record.form_id == FORM)
                .order_by(M.Record.created_at, M.Record.id)
            ).scalars()
        )

    def bureau_return(self, pick: Pick[str], comment: str) -> None:
        with self.server.session() as s, s.begin():
            ids = self._sorted(
                [r.id for r in self._server_records(s) if r.status != M.Status.DELETED]
            )
            if not ids:
                return
            review.return_record(s, pick(ids), {"signed_by": comment}, "王科长", now=SERVER_NOW)
        self.figures.actions["return"] += 1

    def bureau_accept(self, pick: Pick[str]) -> None:
        with self.server.session() as s, s.begin():
            ids = self._sorted(
                [
                    r.id
                    for r in self._server_records(s)
                    if r.status not in (M.Status.DELETED, M.Status.ACCEPTED)
                ]
            )
            if not ids:
                return
            review.accept_record(s, pick(ids), "王科长", now=SERVER_NOW)
        self.figures.actions["accept"] += 1

    def _school_id(self, s: Session) -> int:
        return int(s.execute(select(M.School.id).where(M.School.code == self.school)).scalar_one())

    def bureau_decide(self, pick: Pick[str], accept: bool) -> bool:
        with self.server.session() as s, s.begin():
            found = review.change_requests(
                s, school_id=self._school_id(s), status=review.REQUEST_OPEN
            )
            self._sorted([r.record_id for r in found])
            found.sort(
                key=lambda r: (self.order[r.record_id], r.kind, repr(sorted(r.data.items())))
            )
            ids = [r.id for r in found]
            if not ids:
                return False
            chosen = pick(ids)
            if accept:
                review.accept_change_request(s, chosen, "王科长", now=SERVER_NOW)
            else:
                review.decline_change_request(s, chosen, "王科长", "以检查当日为准", now=SERVER_NOW)
        self.figures.actions["request_accept" if accept else "request_decline"] += 1
        return True

    # -- quiescence and the checks ----------------------------------------------------------------------

    def _fingerprint(self) -> tuple[Any, ...]:
        out: list[Any] = []
        for pc in self.pcs.values():
            with pc.session() as s:
                out.append(S.get_cursor(s))
                out.append(S.pending_count(s))
                out.append(len(S.open_issues(s)))
                out.append(int(s.execute(select(func.sum(Record.revision))).scalar_one() or 0))
        with self.server.session() as s:
            out.append(int(s.execute(select(M.ChangeCounter.value)).scalar_one()))
        return tuple(out)

    def settle(self, *, rounds: int = 8) -> int:
        """Sync every PC in turn, without faults, until nothing moves; the rounds it took."""
        before = self._fingerprint()
        for n in range(1, rounds + 1):
            for name in self.pcs:
                self.sync(name)
            after = self._fingerprint()
            if after == before:
                return n
            before = after
        raise AssertionError(f"stuck: still moving after {rounds} rounds of syncs")

    def quiesce(self, pick: Pick[Any], side: Callable[[], str], coin: Callable[[], bool]) -> None:
        """Sync until nothing moves, then let the clerks answer every conflict (and read every declined
        request) and the bureau decide every change request; again until nothing is open."""
        for _ in range(10):
            self.figures.settle_rounds.append(self.settle())
            acted = False
            for name in self.pcs:
                while self.resolve(name, pick, side):
                    acted = True
                self.dismiss_declined(name)
            while self.bureau_decide(pick, coin()):
                acted = True
            if not acted:
                return
        raise AssertionError("stuck: conflicts or requests keep coming back")

    def check(self) -> None:
        problems = self.problems()
        if problems:
            raise AssertionError("\n".join(problems))

    def problems(self) -> list[str]:
        out: list[str] = []
        with self.server.session() as s:
            school_id = self._school_id(s)
            server_records = list(
                s.execute(select(M.Record).where(M.Record.school_id == school_id)).scalars()
            )
            live = {
                r.id: (r.data, r.status, r.review_comments or {})
                for r in server_records
                if r.status != M.Status.DELETED
            }
            revisions: dict[str, list[tuple[str, dict[str, Any]]]] = {}
            for rid, status, data in s.execute(
                select(M.RecordRevision.record_id, M.RecordRevision.status, M.RecordRevision.data)
                .join(M.Record, M.Record.id == M.RecordRevision.record_id)
                .where(M.Record.school_id == school_id)
            ):
                revisions.setdefault(rid, []).append((status, data))
            for req in review.change_requests(s, school_id=school_id):
                status = M.Status.DELETED if req.kind == "delete" else "requested"
                revisions.setdefault(req.record_id, []).append((status, req.data))
            open_requests = review.change_requests(
                s, school_id=school_id, status=review.REQUEST_OPEN
            )
        if open_requests:
            out.append(f"stuck: {len(open_requests)} change requests still open on the server")
        tids = Counter(
            d["teacher_id"]
            for d, st, _ in live.values()
            if isinstance(d, dict) and "teacher_id" in d
        )
        out += [f"roster: {n} live entries for 工号 {t}" for t, n in tids.items() if n > 1]
        for pc in self.pcs.values():
            with pc.session() as s:
                mine = {
                    r.id: (r.data, r.status, r.review_comments or {})
                    for r in s.execute(select(Record).where(Record.deleted.is_(False))).scalars()
                }
                for rid in sorted(set(mine) | set(live)):
                    if mine.get(rid) != live.get(rid):
                        out.append(
                            f"PC {pc.name} differs from the server on {rid}: "
                            f"{_brief(mine.get(rid))} vs {_brief(live.get(rid))}"
                        )
                unsent = S.pending_count(s)
                if unsent:
                    out.append(f"stuck: PC {pc.name} has {unsent} unsent changes")
                if s.execute(select(func.count()).select_from(SyncBatch)).scalar_one():
                    out.append(f"stuck: PC {pc.name} has a push batch in flight")
                for issue in S.open_issues(s):
                    out.append(f"stuck: PC {pc.name} open {issue.kind} issue {issue.reason}")
                visible = {i.record_id for i in S.open_issues(s)}
                for place, x in enumerate(self.saved):
                    if x.pc != pc.name or place < self.set_aside.get((x.pc, x.record_id), 0):
                        continue
                    if place in self.lost_by_pc_restore:
                        continue
                    found = any(
                        st == M.Status.DELETED if x.deleted else data == x.data
                        for st, data in revisions.get(x.record_id, [])
                    )
                    if not found and x.record_id not in visible:
                        out.append(
                            f"lost: PC {pc.name}'s revision {x.revision} of {x.record_id} "
                            f"({'delete' if x.deleted else _brief((x.data, '', {}))}) "
                            "is neither on the server nor shown"
                        )
        return out


def _brief(state: Any) -> str:
    if state is None:
        return "absent"
    data, status, comments = state
    keys = ("remarks", "signed_by", "teacher_id", "name")
    shown = {k: data.get(k) for k in keys if isinstance(data, dict) and k in data}
    return f"{status} {shown}{' ' + str(comments) if comments else ''}"


@contextlib.contextmanager
def world(server: ServerHandle, folder: Path, name: str) -> Iterator[World]:
    w = World(server, folder, name=name)
    try:
        yield w
    finally:
        w.close()
