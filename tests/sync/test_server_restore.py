"""Issue 10: a bureau server restored from its backup lost, silently and for good, everything pushed after the
backup: the PCs' cursors stayed beyond the restored counter, what was pushed after the backup was gone while
every PC believed it sent, and the server's new changes (a return) got numbers the PCs had passed.

Here the server heals with the PCs, without a person: `sync-server restore` (SQLite: the backup file;
PostgreSQL: pg_dump/pg_restore, then `--after-pg-restore`) starts a new server generation; at their next sync
the PCs send again what the backup lacks, read their school's records again, and end in one state with the
server. Real parts: the server restarted on its own database on loopback, real PC stores, the real CLI.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import delete, func, select

from client.clock import FixedClock
from client.context import ClientContext
from client.store import records as R
from client.store import sync_state as S
from client.store.attachments import add_attachment
from client.store.db import open_store
from client.store.formset import FormSet
from client.store.healing import K_GENERATION
from client.store.models import OutboxEntry, Record, Status, SyncAck
from client.store.prefs import set_setting
from client.sync.engine import SyncEngine
from client.sync.http import RetryPolicy, Timeouts
from sync_server import models as M
from sync_server.services.generation import current_generation, latest_restore
from tests.support.restorable_server import Bureau
from tests.sync.conftest import NOW, TODAY, _database, inspection

SERVER_STATUS = {
    "received": Status.RECEIVED,
    "returned": Status.RETURNED,
    "accepted": Status.ACCEPTED,
}


@pytest.fixture(params=["sqlite", "postgresql"])
def bureau(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bureau]:
    with _database(str(request.param), tmp_path) as url:
        made = Bureau(str(request.param), url, tmp_path / "instance")
        made.start()
        try:
            yield made
        finally:
            made.stop()


# -- the school's PCs ---------------------------------------------------------------------------------


@dataclass
class PC:
    ctx: ClientContext
    http: requests.Session = field(default_factory=requests.Session)

    def engine(self) -> SyncEngine:
        return SyncEngine(
            self.ctx,
            self.http,
            sleep=lambda s: None,
            rng=random.Random(7),
            policy=RetryPolicy(attempts=3, base=0.1, cap=1.0),
            timeouts=Timeouts(connect=2.0, read=10.0),
            chunk_size=64 * 1024,
        )

    def sync(self) -> Any:
        return self.engine().sync()

    def save(self, data: dict[str, Any], record_id: str | None = None) -> str:
        with self.ctx.store.Session.begin() as s:
            return R.save_record(
                s,
                form=self.ctx.forms.get("safety_inspection"),
                data=data,
                submit=True,
                today=TODAY,
                now=NOW,
                record_id=record_id,
            ).record_id

    def live(self) -> dict[str, tuple[dict[str, Any], str]]:
        """Each live record: (data, status)."""
        with self.ctx.store.Session() as s:
            rows = s.execute(select(Record).where(Record.deleted.is_(False))).scalars()
            return {r.id: (r.data, r.status) for r in rows}

    def unsent(self) -> int:
        with self.ctx.store.Session() as s:
            return int(
                s.execute(
                    select(func.count())
                    .select_from(OutboxEntry)
                    .where(OutboxEntry.sent_at.is_(None))
                ).scalar_one()
            )

    def cursor(self) -> int:
        with self.ctx.store.Session() as s:
            return S.get_cursor(s)

    def open_issues(self) -> list[Any]:
        with self.ctx.store.Session() as s:
            return S.open_issues(s)


@pytest.fixture
def school_pcs(bureau: Bureau, tmp_path: Path) -> Iterator[tuple[str, PC, PC]]:
    school = "S" + uuid.uuid4().hex[:8]
    shipped = FormSet.shipped()
    pcs = []
    for name in ("pc1", "pc2"):
        forms = FormSet(dict(shipped.latest), dict(shipped.versions))
        pc = PC(ClientContext(open_store(tmp_path / name), forms, FixedClock(NOW, TODAY)))
        pc.engine().enroll(bureau.url, bureau.new_code(school), device_name=name)
        pcs.append(pc)
    yield school, pcs[0], pcs[1]
    for pc in pcs:
        pc.http.close()
        pc.ctx.close()


def assert_one_state(bureau: Bureau, school: str, *pcs: PC) -> dict[str, M.Record]:
    """Every PC holds exactly the server's live records, with the same data and status; nothing waits."""
    on_server = {rid: r for rid, r in bureau.records(school).items() if r.status != "deleted"}
    for pc in pcs:
        live = pc.live()
        assert sorted(live) == sorted(on_server)
        for rid, (data, status) in live.items():
            assert data == on_server[rid].data, rid
            assert status == SERVER_STATUS[on_server[rid].status], rid
        assert pc.unsent() == 0
        assert pc.open_issues() == []
    return on_server


# -- the case from the issue ----------------------------------------------------------------------------


def test_a_restored_server_gets_back_what_was_pushed_after_its_backup_and_its_news_reach_every_pc(
    bureau: Bureau, school_pcs: tuple[str, PC, PC], tmp_path: Path
):
    school, pc1, pc2 = school_pcs
    before = [pc1.save(inspection(inspectors=f"张伟{i}")) for i in range(3)]
    assert pc1.sync().complete and pc2.sync().complete
    backup = bureau.backup(tmp_path)
    held = bureau.counter()

    # After the backup: new records on both PCs, an edit, and a return by the bureau; everyone syncs.
    after1 = [pc1.save(inspection(inspectors=f"李娜{i}")) for i in range(4)]
    pc1.save(inspection(inspectors="张伟0（改）"), record_id=before[0])
    after2 = [pc2.save(inspection(inspectors=f"王五{i}")) for i in range(2)]
    assert pc1.sync().complete and pc2.sync().complete
    bureau.returns(before[1], "请写全名")  # made after the backup: lost with it
    assert pc1.sync().complete and pc2.sync().complete
    assert pc1.live()[before[1]][1] == Status.RETURNED
    lost_counter = bureau.counter()
    assert min(pc1.cursor(), pc2.cursor()) > held

    out = bureau.restore(backup)
    assert "新的服务器代次 / new server generation" in out.stdout
    assert len(bureau.records(school)) == 3  # the backup's
    # The bureau's first change after the restore: a return the PCs must not skip.
    bureau.returns(before[2], "期限过长")

    first1, first2 = pc1.sync(), pc2.sync()
    pc1.sync()  # pc2's records, sent again after pc1's reading

    on_server = assert_one_state(bureau, school, pc1, pc2)
    assert sorted(on_server) == sorted(before + after1 + after2)
    assert on_server[before[0]].data["inspectors"] == "张伟0（改）"
    assert on_server[before[2]].status == "returned"
    for pc in (pc1, pc2):
        assert pc.live()[before[2]][1] == Status.RETURNED  # the return after the restore arrived
        assert pc.live()[before[1]][1] == Status.RECEIVED  # the lost return is lost on both sides
    # Numbering went on past what the lost database had handed out (SQLite: read from it).
    if bureau.backend == "sqlite":
        with bureau.session() as s:
            assert current_generation(s).seq_floor == lost_counter
    with bureau.session() as s:
        notice = latest_restore(s)
    assert notice is not None and notice.reason == "restored" and notice.held_through == held
    assert (notice.learned, notice.healed, notice.came_back, notice.conflicts) == (2, 2, 7, 0)

    healed1, healed2 = getattr(first1, "healed", None), getattr(first2, "healed", None)
    assert healed1 is not None and healed2 is not None
    # 4 new + the edit, and pc2's 2 new records, offered back (1.12): pc1 read them before pc2 sent them
    # again (pc2's own are then answered `superseded`)
    assert (healed1.kind, healed1.resent) == ("server_restored", 7)
    assert (healed2.kind, healed2.resent) == ("server_restored", 2)
    # pc2's own records came back through pc1's offers (pc2's changes sent again were answered
    # `superseded`: the offered revision is the one they made)
    for rid in after2:
        assert [(r.kind, r.server_revision) for r in bureau.revisions(rid)] == [("offer", 1)]
    again = pc1.sync(), pc2.sync()
    assert all(r.complete and r.healed is None and r.pushed == 0 for r in again)


def test_healing_sends_photos_edit_chains_and_keeps_work_never_sent(
    bureau: Bureau, school_pcs: tuple[str, PC, PC], tmp_path: Path
):
    school, pc1, _ = school_pcs
    old = pc1.save(inspection(inspectors="张伟"))
    assert pc1.sync().complete
    backup = bureau.backup(tmp_path)

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(random.Random(3).randbytes(90_000))
    with pc1.ctx.store.Session.begin() as s:
        sha = add_attachment(s, pc1.ctx.store.attachments_dir, photo, now=NOW)
    hazard = dict(inspection()["hazards"][0], photo=sha)
    with_photo = pc1.save(inspection(hazards=[hazard]))
    chain = pc1.save(inspection(inspectors="李娜"))
    assert pc1.sync().complete
    for who in ("李娜（一改）", "李娜（二改）"):
        pc1.save(inspection(inspectors=who), record_id=chain)
        assert pc1.sync().complete
    bureau.restore(backup)
    pc1.save(
        inspection(inspectors="张伟（离线修改）"), record_id=old
    )  # made while the server was away

    result = pc1.sync()

    assert result.complete, result
    assert (
        result.healed is not None and result.healed.resent == 4
    )  # the photo record, the chain of 3
    assert result.uploaded == 1  # the restored database did not know the photo
    on_server = assert_one_state(bureau, school, pc1)
    assert on_server[with_photo].data["hazards"][0]["photo"] == sha
    assert on_server[old].data["inspectors"] == "张伟（离线修改）"
    assert on_server[old].server_revision == 2  # on top of the backup's revision: no conflict
    with bureau.session() as s:
        history = s.execute(
            select(M.RecordRevision.data).where(M.RecordRevision.record_id == chain)
        ).scalars()
        assert [d["inspectors"] for d in history] == ["李娜", "李娜（一改）", "李娜（二改）"]
        assert s.execute(
            select(M.Attachment.complete).where(M.Attachment.sha256 == sha)
        ).scalar_one()


def test_a_pc_that_never_learned_a_generation_sends_its_newest_changes_again(
    bureau: Bureau, school_pcs: tuple[str, PC, PC], tmp_path: Path
):
    """A PC that synced only with an older server (or an older version of this program) keeps no
    acknowledgements: after a restore it offers each record's newest sent change again; what the server
    holds is answered duplicate, what it lost is applied."""
    school, pc1, _ = school_pcs
    before = pc1.save(inspection(inspectors="张伟"))
    assert pc1.sync().complete
    backup = bureau.backup(tmp_path)
    after = [pc1.save(inspection(inspectors=f"李娜{i}")) for i in range(2)]
    assert pc1.sync().complete
    with pc1.ctx.store.Session.begin() as s:  # as an older version left its store
        s.execute(delete(SyncAck))
        set_setting(s, K_GENERATION, None)
    bureau.restore(backup)

    result = pc1.sync()

    assert result.healed is not None and result.healed.resent == 3
    on_server = assert_one_state(bureau, school, pc1)
    assert sorted(on_server) == sorted([before, *after])


def test_two_pcs_lost_edits_of_one_record_healing_out_of_order_meet_as_a_conflict_the_clerk_sees(
    bureau: Bureau, school_pcs: tuple[str, PC, PC], tmp_path: Path
):
    """pc1 edited a record, pc2 edited it again on top; both edits were lost. pc2 heals first: its edit
    was made on pc1's, which the server does not have yet - a conflict pc2's clerk sees (never a silent
    overwrite); pc1's edit comes back, and pc1, which had read pc2's edit, offers it back (1.12); the
    clerk's choice then settles both PCs and the server."""
    school, pc1, pc2 = school_pcs
    rid = pc1.save(inspection(inspectors="张伟"))
    assert pc1.sync().complete and pc2.sync().complete
    backup = bureau.backup(tmp_path)
    pc1.save(inspection(inspectors="张伟、李娜"), record_id=rid)
    assert pc1.sync().complete and pc2.sync().complete
    pc2.save(inspection(inspectors="张伟、李娜、王五"), record_id=rid)
    assert pc2.sync().complete and pc1.sync().complete
    bureau.restore(backup)

    first = pc2.sync()
    assert [c.record_id for c in first.conflicts] == [rid]
    assert pc1.sync().complete  # pc1's edit came back, then pc2's, offered by pc1
    assert bureau.records(school)[rid].data["inspectors"] == "张伟、李娜、王五"
    assert [(r.kind, r.server_revision) for r in bureau.revisions(rid)][-2:] == [
        ("resend", 2),
        ("offer", 3),
    ]
    pc2.sync()
    [issue] = pc2.open_issues()
    with pc2.ctx.store.Session.begin() as s:  # the clerk keeps pc2's version (made on top of pc1's)
        S.resolve_conflict(
            s,
            forms=pc2.ctx.forms,
            issue_id=issue.id,
            data=pc2.live()[rid][0],
            today=TODAY,
            now=NOW,
        )
    assert pc2.sync().complete and pc1.sync().complete
    on_server = assert_one_state(bureau, school, pc1, pc2)
    assert on_server[rid].data["inspectors"] == "张伟、李娜、王五"
