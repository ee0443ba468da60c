"""Two PCs of one school and the bureau: every conflict has one outcome, reached from every choice the clerk
can make, that ends the same on both PCs and the server (issue 10, "Why": edits and deletes on two PCs, a
roster 工号 added twice, a return answered by "keep mine", an offline edit to a record the bureau accepted).

Each test drives the real engines against the real server on loopback, makes the clerk's choice through the
conflict dialog's own decision functions (client.ui.conflict_dialog: load_conflict, decide, resolve), syncs
until nothing moves, and checks that every side holds the same live records. docs/protocol.md has the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from client.store import records as R
from client.store import sync_state as S
from client.store.models import Record, Status
from client.store.roster import save_teacher
from client.store.todo import returned_records
from client.ui import conflict_dialog as D
from sync_server import models as M
from sync_server.services import review
from tests.support import convergence as C
from tests.sync.conftest import (
    SERVER_NOW,
    TODAY,
    Client,
    ClientFactory,
    LiveServer,
    _database,
    inspection,
)

# -- helpers ------------------------------------------------------------------------------------------


def two_pcs(make_client: ClientFactory, server: LiveServer) -> tuple[Client, Client, str]:
    school, code_a = server.new_school("河口乡小学")
    a = make_client("pc-a")
    a.engine.enroll(server.url, code_a, device_name="教务处")
    _, code_b = server.new_school("河口乡小学", school)
    b = make_client("pc-b")
    b.engine.enroll(server.url, code_b, device_name="校长室")
    return a, b, school


def settle(*clients: Client, rounds: int = 3) -> None:
    """Sync every PC in turn until nothing moves (a sync with open conflicts is not complete)."""
    for _ in range(rounds):
        moved = 0
        for c in clients:
            r = c.engine.sync()
            moved += r.pushed + r.pulled
        if not moved:
            return


def live_on_pc(client: Client) -> dict[str, tuple[dict[str, Any], str]]:
    with client.Session() as s:
        rows = s.execute(select(Record).where(Record.deleted.is_(False))).scalars()
        return {r.id: (r.data, r.status) for r in rows if r.status != Status.DRAFT}


def live_on_server(server: LiveServer, school: str) -> dict[str, tuple[dict[str, Any], str]]:
    return {
        r.id: (r.data, r.status)
        for r in server.school_records(school)
        if r.status != M.Status.DELETED
    }


def assert_converged(server: LiveServer, school: str, *clients: Client) -> None:
    on_server = live_on_server(server, school)
    for c in clients:
        assert c.unsent() == 0, "something still waits to be sent"
        with c.Session() as s:
            assert S.open_issues(s, kind=S.IssueKind.CONFLICT) == []
        assert live_on_pc(c) == on_server


def the_conflict(client: Client) -> int:
    with client.Session() as s:
        (issue,) = S.open_issues(s, kind=S.IssueKind.CONFLICT)
        return issue.id


def choose(client: Client, side: str) -> None:
    """The clerk keeps one side for every difference the dialog shows, and saves."""
    issue_id = the_conflict(client)
    view = D.load_conflict(client.ctx, issue_id)
    rows = D.choosable(D.rows_of(view))
    D.resolve(client.ctx, issue_id, D.decide(view, {r.path: side for r in rows}))


def edit(client: Client, rid: str, **answers: Any) -> None:
    client.save(inspection(**answers), record_id=rid)


def delete(client: Client, rid: str) -> None:
    with client.Session.begin() as s:
        R.delete_record(s, rid, now=client.ctx.clock.now())


def shared_record(a: Client, b: Client) -> str:
    rid = a.save(inspection())
    settle(a, b)
    assert rid in live_on_pc(b)
    return rid


def bureau_returns(server: LiveServer, rid: str, comments: dict[str, str]) -> None:
    with server.session() as s, s.begin():
        review.return_record(s, rid, comments, "王科长", now=SERVER_NOW)


def bureau_accepts(server: LiveServer, rid: str) -> None:
    with server.session() as s, s.begin():
        review.accept_record(s, rid, "王科长", now=SERVER_NOW)


# -- edit vs delete -----------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [D.LOCAL, D.SERVER])
def test_delete_on_one_pc_edit_on_the_other_the_deleting_side_chooses(
    make_client: ClientFactory, live_server: LiveServer, side: str
):
    a, b, school = two_pcs(make_client, live_server)
    rid = shared_record(a, b)
    edit(b, rid, remarks="B 补充了整改情况")
    delete(a, rid)
    b.engine.sync()  # the edit reaches the server first
    a.engine.sync()  # the delete meets it: a conflict on A, whose record is deleted here

    choose(a, side)  # LOCAL: delete it after all; SERVER: keep the edited record
    settle(a, b)

    assert_converged(live_server, school, a, b)
    on_server = live_on_server(live_server, school)
    if side == D.LOCAL:
        assert rid not in on_server
    else:
        assert on_server[rid][0]["remarks"] == "B 补充了整改情况"


@pytest.mark.parametrize("side", [D.LOCAL, D.SERVER])
def test_edit_on_one_pc_delete_on_the_other_the_editing_side_chooses(
    make_client: ClientFactory, live_server: LiveServer, side: str
):
    a, b, school = two_pcs(make_client, live_server)
    rid = shared_record(a, b)
    edit(b, rid, remarks="B 补充了整改情况")
    delete(a, rid)
    a.engine.sync()  # the delete reaches the server first
    b.engine.sync()  # the edit meets the deleted record: a conflict on B

    choose(b, side)  # LOCAL: keep the record (it comes back everywhere); SERVER: delete it here too
    settle(a, b)

    assert_converged(live_server, school, a, b)
    on_server = live_on_server(live_server, school)
    if side == D.LOCAL:
        assert on_server[rid][0]["remarks"] == "B 补充了整改情况"
    else:
        assert rid not in on_server


# -- edit vs edit -------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [D.LOCAL, D.SERVER])
def test_edit_on_both_pcs_converges_whichever_side_is_kept(
    make_client: ClientFactory, live_server: LiveServer, side: str
):
    a, b, school = two_pcs(make_client, live_server)
    rid = shared_record(a, b)
    edit(a, rid, remarks="A 的修改")
    edit(b, rid, remarks="B 的修改", signed_by="钱校长")
    a.engine.sync()
    b.engine.sync()  # B's edit meets A's: a conflict on B

    choose(b, side)
    settle(a, b)

    assert_converged(live_server, school, a, b)
    kept = live_on_server(live_server, school)[rid][0]
    assert kept["remarks"] == ("B 的修改" if side == D.LOCAL else "A 的修改")


def test_a_conflict_shows_the_newest_server_state_whatever_order_it_arrives_in(
    make_client: ClientFactory, live_server: LiveServer
):
    """Found by the model-based test: the push's answer showed revision 3, the pull then brought revision 2
    (which replaced it in the conflict) and revision 3 again (equal to this PC's data, so it was not shown):
    "keep the server's" took revision 2 and the PC stayed behind for good."""
    a, b, school = two_pcs(make_client, live_server)
    rid = shared_record(a, b)
    edit(b, rid, remarks="同样的修改")  # offline
    edit(a, rid, remarks="A 先改的")
    edit(a, rid, remarks="同样的修改")  # A ends where B is
    a.engine.sync()
    b.engine.sync()

    with b.Session() as s:
        (issue,) = S.open_issues(s, kind=S.IssueKind.CONFLICT)
        assert issue.details["server"]["server_revision"] == 3
    choose(b, D.SERVER)
    settle(a, b)

    assert_converged(live_server, school, a, b)
    assert live_on_server(live_server, school)[rid][0]["remarks"] == "同样的修改"


# -- the roster: one 工号, one teacher ------------------------------------------------------------------


def add_teacher(client: Client, teacher_id: str, name: str) -> str:
    with client.Session.begin() as s:
        return save_teacher(
            s,
            forms=client.ctx.forms,
            values={"teacher_id": teacher_id, "name": name, "gender": "female", "subject": "语文"},
            today=TODAY,
            now=client.ctx.clock.now(),
        ).record_id


@pytest.mark.parametrize("side", [D.LOCAL, D.SERVER])
def test_two_pcs_adding_one_staff_number_end_with_one_teacher(
    make_client: ClientFactory, live_server: LiveServer, side: str
):
    a, b, school = two_pcs(make_client, live_server)
    first = add_teacher(a, "T001", "李老师")
    add_teacher(b, "T001", "李红梅")  # offline, the same 工号
    a.engine.sync()
    b.engine.sync()

    on_server = live_on_server(live_server, school)
    assert [d["teacher_id"] for d, _ in on_server.values()] == ["T001"]  # never two rows
    choose(b, side)  # LOCAL: B's name on the one teacher; SERVER: A's
    settle(a, b)

    assert_converged(live_server, school, a, b)
    ((rid, (data, _)),) = live_on_server(live_server, school).items()
    assert rid == first
    assert data["name"] == ("李红梅" if side == D.LOCAL else "李老师")


# -- the bureau's return ----------------------------------------------------------------------------


@pytest.mark.parametrize("side", [D.LOCAL, D.SERVER])
def test_a_return_stays_open_whichever_version_the_clerk_keeps(
    make_client: ClientFactory, live_server: LiveServer, side: str
):
    a, b, school = two_pcs(make_client, live_server)
    rid = shared_record(a, b)
    bureau_returns(live_server, rid, {"signed_by": "请校长签字"})
    edit(a, rid, remarks="已补充整改照片")  # offline, before the return arrived
    a.engine.sync()

    choose(a, side)
    settle(a, b)

    assert_converged(live_server, school, a, b)
    data, status = live_on_server(live_server, school)[rid]
    assert status == "returned"  # the bureau's request is still open ...
    assert (data.get("remarks") == "已补充整改照片") is (side == D.LOCAL)
    (on_server,) = [r for r in live_server.school_records(school) if r.id == rid]
    assert on_server.review_comments == {"signed_by": "请校长签字"}
    for c in (a, b):  # ... and on the clerk's 待办 list, with what the bureau asked
        with c.Session() as s:
            assert [i.record_id for i in returned_records(s)] == [rid]
            assert s.get(Record, rid).review_comments == {"signed_by": "请校长签字"}

    edit(a, rid, remarks="已补充整改照片", signed_by="赵校长（已签）")  # now the clerk answers it
    settle(a, b)
    assert_converged(live_server, school, a, b)
    assert live_on_server(live_server, school)[rid][1] == "received"


# -- an edit to a record the bureau accepted ----------------------------------------------------------


def open_requests(server: LiveServer, rid: str) -> list[M.ChangeRequest]:
    with server.session() as s:
        return review.change_requests(s, record_id=rid, status="open")


@pytest.mark.parametrize("decision", ["accept", "decline"])
def test_an_offline_edit_to_an_accepted_record_becomes_a_request_the_bureau_decides(
    make_client: ClientFactory, live_server: LiveServer, decision: str
):
    a, b, school = two_pcs(make_client, live_server)
    rid = shared_record(a, b)
    edit(a, rid, remarks="补报：灭火器已更换")  # offline
    bureau_accepts(live_server, rid)

    result = a.engine.sync()

    assert result.rejected == []  # not a sync problem ...
    (request,) = open_requests(live_server, rid)  # ... but a request the bureau sees
    assert request.data["remarks"] == "补报：灭火器已更换"
    with a.Session() as s:
        (pending,) = S.open_issues(s, kind=S.IssueKind.REQUEST)
        assert pending.record_id == rid and pending.reason == "request_open"
        assert S.sync_status(s).requests == 1
    settle(a, b)
    assert_converged(live_server, school, a, b)  # meanwhile both PCs show the accepted version
    assert live_on_server(live_server, school)[rid][1] == "accepted"

    with live_server.session() as s, s.begin():
        if decision == "accept":
            review.accept_change_request(s, request.id, "王科长", now=SERVER_NOW)
        else:
            review.decline_change_request(
                s, request.id, "王科长", "已确认的数据以检查当日为准", now=SERVER_NOW
            )
    settle(a, b)

    assert_converged(live_server, school, a, b)
    data, status = live_on_server(live_server, school)[rid]
    with a.Session() as s:
        issues = S.open_issues(s, kind=S.IssueKind.REQUEST)
    if decision == "accept":  # reopened, with the clerk's change, for the bureau to review again
        assert status == "received" and data["remarks"] == "补报：灭火器已更换"
        assert issues == []
    else:  # still accepted; the clerk reads why
        assert status == "accepted" and "remarks" not in data
        (declined,) = issues
        assert declined.reason == "request_declined"
        assert "已确认的数据以检查当日为准" in declined.message_zh
        with a.Session.begin() as s:
            S.dismiss_issue(s, declined.id, now=a.ctx.clock.now())
        with a.Session() as s:
            assert S.open_issues(s, kind=S.IssueKind.REQUEST) == []


# -- a restored server ---------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def restorable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[C.Served]:
    """A server of this test's own, that can be restored from its backup (tests/support/convergence.py)."""
    with _database(str(request.param), tmp_path) as url:
        served = C.Served(tmp_path / "instance", url)
        try:
            yield served
        finally:
            served.close()


def test_a_record_the_restored_server_lost_comes_back_to_every_pc(
    restorable: C.Served, tmp_path: Path
):
    """Found by the model-based test: PC A knew a record at revision 3 (the bureau had returned and
    accepted it); the server was restored from a backup older than the record; PC B, which made it, sent it
    again (revision 1 on the restored server) after A had read its school again - and A, knowing revision 3,
    took revision 1 for an older state: it kept the lost acceptance for good. Since protocol revision 1.12 A
    offers the record back at the revision it knew (3) when its heal finds the server without it, and B's
    change sent again is answered `superseded`: the record is back at 3, received (the acceptance is lost
    with the restore)."""
    w = C.World(restorable, tmp_path / "w", name="r")
    try:
        w.server_backup()  # before the record exists
        w.add_record("b", "初查")
        w.sync("b")
        with restorable.session() as s:
            (rid,) = [r.id for r in w._server_records(s)]
        w.bureau_return(lambda ids: rid, "请校长签字")
        w.bureau_accept(lambda ids: rid)
        w.sync("a")  # A: the record, accepted, at revision 3
        w.server_restore()
        w.sync("a")  # A heals first: the restored server does not hold the record
        w.sync("b")  # B heals: sends it again
        w.sync("a")

        assert w.problems() == []
        with restorable.session() as s:
            (rec,) = w._server_records(s)
            assert (rec.status, rec.server_revision) == ("received", 3)
    finally:
        w.close()


def test_a_record_only_another_pc_still_holds_comes_back_from_it(
    restorable: C.Served, tmp_path: Path
):
    """Found by the long convergence run (seed 600): PC A made a record after its own backup and sent it; PC
    B read it; the server was then restored from a backup older than the record, and A from its backup. Only
    B's read copy was left anywhere, and B re-sent only its own changes: the record stayed on B alone. B now
    offers it back (protocol revision 1.12), and every side ends with it."""
    w = C.World(restorable, tmp_path / "w", name="o")
    try:
        w.pc_backup("a")
        w.server_backup()
        w.add_record("a", "初查")
        w.sync("a")
        w.sync("b")
        w.server_restore()
        w.pc_restore("a")
        w.settle()

        assert w.problems() == []
        with restorable.session() as s:
            (rec,) = w._server_records(s)
            assert (rec.status, rec.data["remarks"]) == ("received", "初查")
    finally:
        w.close()


def test_a_revision_two_restores_lost_comes_back_once(restorable: C.Served, tmp_path: Path):
    """Found by the long convergence run (seed 612): B's edit reached the server and A; B was restored from
    its backup and read its edit back (no longer its own acknowledged change), then the server was restored
    from a backup older than the edit. Both PCs held the edit only as a read copy, so nobody sent it again and
    the server kept the older revision. Both now offer it; the first offer is taken, the second is answered
    `superseded`, and every side ends with the edit - no conflict for anyone to answer."""
    w = C.World(restorable, tmp_path / "w", name="t")
    try:
        w.add_record("a", "初查")
        w.settle()
        w.server_backup()  # holds the record at revision 1
        w.pc_backup("b")
        w.edit("b", lambda rows: rows[0], "remarks", "复查")
        w.sync("b")
        w.sync("a")
        w.pc_restore("b")
        w.sync("b")  # B reads its edit back
        w.server_restore()
        w.settle()

        assert w.problems() == []
        with restorable.session() as s:
            (rec,) = w._server_records(s)
            assert (rec.status, rec.data["remarks"]) == ("received", "复查")
        for pc in w.pcs.values():
            with pc.session() as s:
                assert S.open_issues(s) == []
    finally:
        w.close()


def test_an_offer_meeting_a_state_made_since_the_restore_is_a_conflict_not_superseded(
    restorable: C.Served, tmp_path: Path
):
    """The restored server's revision 2 of a record is a return the bureau made after the restore, while
    the PCs offer back the edit that was revision 2 before it: the same number, another history. Taken for
    `superseded`, the edit would be lost without a word; it is a conflict for the clerk, and the clerk's
    choice ends the same everywhere."""
    w = C.World(restorable, tmp_path / "w", name="n")
    try:
        w.add_record("a", "初查")
        w.settle()
        with restorable.session() as s:
            (rid,) = [r.id for r in w._server_records(s)]
        w.server_backup()  # holds the record at revision 1
        w.pc_backup("b")
        w.edit("b", lambda rows: rows[0], "remarks", "复查")
        w.sync("b")
        w.sync("a")
        w.pc_restore("b")
        w.sync("b")  # both PCs now hold the edit only as the server's state
        w.server_restore()
        w.bureau_return(lambda ids: rid, "请补充整改照片")  # revision 2 again, made anew
        w.sync("a")
        with w.pcs["a"].session() as s:
            assert [i.kind for i in S.open_issues(s)] == [S.IssueKind.CONFLICT]
        w.quiesce(lambda items: items[0], lambda: C.LOCAL, lambda: True)

        assert w.problems() == []
        with restorable.session() as s:
            (rec,) = w._server_records(s)
            assert rec.data["remarks"] == "复查"
    finally:
        w.close()


def test_a_conflict_open_across_a_restore_shows_the_restored_servers_state(
    restorable: C.Served, tmp_path: Path
):
    """Found by the long convergence run (seed 924 on PostgreSQL): a conflict with a bureau return was open
    when the server was restored from a backup older than the return. The conflict kept showing the lost
    return (revision 2) because it shows "the newest server state seen", and revisions are numbered again
    after a restore; "keep the server's" then took the lost return, and the PC stayed returned for good
    while the server held the record received. A heal marks open conflicts' server versions as stale: the
    reading again brings the restored server's state into them."""
    w = C.World(restorable, tmp_path / "w", name="x")
    try:
        w.add_record("a", "初查")
        w.settle()
        with restorable.session() as s:
            (rid,) = [r.id for r in w._server_records(s)]
        w.server_backup()
        w.bureau_return(lambda ids: rid, "签名不清")
        w.edit("a", lambda rows: rows[0], "remarks", "已整改")  # offline, before the return arrives
        w.sync("a")  # a conflict with the return
        with w.pcs["a"].session() as s:
            (issue,) = S.open_issues(s)
            assert issue.details["server"]["status"] == "returned"
        w.server_restore()
        w.sync("a")  # heals; the conflict now shows what the restored server holds
        with w.pcs["a"].session() as s:
            (issue,) = S.open_issues(s)
            assert issue.details["server"]["status"] == "received"
        assert w.resolve("a", lambda issues: issues[0], lambda: C.SERVER)
        w.settle()

        assert w.problems() == []
        with w.pcs["a"].session() as s:
            assert s.get(Record, rid).status == Status.RECEIVED
    finally:
        w.close()


def test_a_change_request_the_restored_server_lost_is_asked_again(
    restorable: C.Served, tmp_path: Path
):
    """Found by the model-based run: a change request numbered nothing in the change sequence, so a server
    restored from a backup taken just before it was not known to lack it: the PC waited for an answer that
    could never come. It is now numbered (a change_request item with request_status "open"), and sent again
    after a restore like any change the restored server lacks."""
    w = C.World(restorable, tmp_path / "w", name="q")
    try:
        w.add_record("a", "初查")
        w.settle()
        with restorable.session() as s:
            (rid,) = [r.id for r in w._server_records(s)]
        w.bureau_accept(lambda ids: rid)
        w.server_backup()
        w.edit(
            "a", lambda rows: rows[0], "remarks", "补报"
        )  # not accepted here yet: an offline edit
        w.sync("a")  # kept as a change request, after the backup
        w.server_restore()
        w.settle()

        with restorable.session() as s:
            (asked,) = review.change_requests(s, record_id=rid, status=review.REQUEST_OPEN)
            assert asked.data["remarks"] == "补报"
        assert w.bureau_decide(lambda ids: ids[0], accept=True)
        w.settle()
        assert w.problems() == []
    finally:
        w.close()


def test_a_return_the_restored_server_lost_is_not_kept_open_on_the_pc(
    restorable: C.Served, tmp_path: Path
):
    """The clerk kept this PC's version over a return (sent with keep_return, the record stays returned
    here); the server is then restored from a backup older than the return. After the heal the clerk's
    change meets the server's older state (a conflict, the clerk chooses again: nothing lost), and every
    side ends without the lost return: received, with the clerk's data."""
    w = C.World(restorable, tmp_path / "w", name="k")
    try:
        w.add_record("a", "初查")
        w.settle()
        with restorable.session() as s:
            (rid,) = [r.id for r in w._server_records(s)]
        w.server_backup()
        w.bureau_return(lambda ids: rid, "请校长签字")
        w.edit("a", lambda rows: rows[0], "remarks", "已整改")  # offline, before the return arrives
        w.sync("a")  # a conflict with the return
        assert w.resolve(
            "a", lambda issues: issues[0], lambda: C.LOCAL
        )  # keep mine: stays returned
        with w.pcs["a"].session() as s:
            assert s.get(Record, rid).status == Status.RETURNED
        w.server_restore()
        w.quiesce(lambda items: items[0], lambda: C.LOCAL, lambda: True)

        assert w.problems() == []
        with restorable.session() as s:
            (rec,) = w._server_records(s)
            assert (rec.status, rec.data["remarks"]) == ("received", "已整改")
    finally:
        w.close()


# -- returns over waiting changes, on a real store ------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    from client.clock import FixedClock
    from client.context import ClientContext
    from client.store.db import open_store
    from client.store.formset import FormSet

    ctx = ClientContext(open_store(tmp_path / "data"), FormSet.shipped(), FixedClock(C.NOW, TODAY))
    yield ctx
    ctx.close()


def _saved_and_sent(ctx: Any) -> str:
    """A record the server holds at revision 1 (its push answered), saved again here unchanged."""
    with ctx.store.Session.begin() as s:
        rid = R.save_record(
            s,
            form=ctx.forms.get("safety_inspection"),
            data=inspection(),
            submit=True,
            today=TODAY,
            now=C.NOW,
        ).record_id
        (change,) = S.pending_changes(s, limit=10, max_bytes=10**6)
        S.apply_push_answer(
            s,
            batch_key="k1",
            changes=[change.wire()],
            results=[
                {
                    "op_id": change.op_id,
                    "result": "applied",
                    "server_revision": 1,
                    "status": "received",
                }
            ],
            now=C.NOW,
        )
        R.save_record(
            s,
            form=ctx.forms.get("safety_inspection"),
            data=inspection(),
            record_id=rid,
            submit=True,
            today=TODAY,
            now=C.NOW,
        )
    return rid


def _returned(ctx: Any, rid: str, revision: int) -> dict[str, Any]:
    """The bureau's return of the record as it is here (a return does not change the data)."""
    with ctx.store.Session() as s:
        data = dict(s.get(Record, rid).data)
    return {
        "seq": revision,
        "type": "record",
        "record_id": rid,
        "form_id": "safety_inspection",
        "form_version": "2026.1",
        "server_revision": revision,
        "status": "returned",
        "review_comments": {"signed_by": "请校长签字"},
        "data": data,
    }


def test_a_waiting_change_that_holds_what_the_server_holds_does_not_answer_a_return(store: Any):
    """A change made before the return was seen, holding what the server holds, goes with keep_return:
    pushed plainly it answered the return without the clerk having seen it (found by the model run)."""
    rid = _saved_and_sent(store)
    with store.store.Session.begin() as s:
        outcome = S.apply_pull_page(
            s,
            formset=store.forms,
            changes=[_returned(store, rid, 2)],
            cursor=2,
            definitions={},
            now=C.NOW,
        )
    assert outcome.conflicts == []
    with store.store.Session() as s:
        assert s.get(Record, rid).status == Status.RETURNED
        (change,) = S.pending_changes(s, limit=10, max_bytes=10**6)
        assert change.wire()["keep_return"] is True and change.base_server_revision == 2


@pytest.mark.parametrize(
    ("answered", "revision", "status", "comments"),
    [
        ("returned", 3, Status.RETURNED, {"signed_by": "请校长签字"}),  # the return stays open
        ("received", 3, Status.RECEIVED, None),  # answered meanwhile, or lost by a restored server
        ("received", 1, Status.RETURNED, {"signed_by": "请校长签字"}),  # older than what was pulled
    ],
)
def test_a_change_sent_with_keep_return_gives_the_record_the_status_the_server_answers(
    store: Any, answered: str, revision: int, status: str, comments: Any
):
    """Found by the model run: a change sent with keep_return to a server that no longer had the return
    (restored from a backup) was answered `received`, and the PC kept showing the lost return for good."""
    rid = _saved_and_sent(store)
    with store.store.Session.begin() as s:
        S.apply_pull_page(
            s,
            formset=store.forms,
            changes=[_returned(store, rid, 2)],
            cursor=2,
            definitions={},
            now=C.NOW,
        )
        (change,) = S.pending_changes(s, limit=10, max_bytes=10**6)
        S.apply_push_answer(
            s,
            batch_key="k2",
            changes=[change.wire()],
            results=[
                {
                    "op_id": change.op_id,
                    "result": "applied",
                    "server_revision": revision,
                    "status": answered,
                }
            ],
            now=C.NOW,
        )
    with store.store.Session() as s:
        record = s.get(Record, rid)
        assert (record.status, record.review_comments) == (status, comments)
        assert S.pending_count(s) == 0
