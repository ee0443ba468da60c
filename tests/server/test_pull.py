"""Pull: this school's changes in seq order, paged by cursor; the bureau's returns and accepts reach the school."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from sqlalchemy import select

from forms.loader import load_yaml_text
from forms.serialize import to_yaml
from sync_server import models as M
from sync_server.services.forms import publish_form
from sync_server.services.review import accept_record, return_record
from sync_server.state import get_state
from tests.server.conftest import Device, LiveServer, change, inspection


def _records(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in changes if c["type"] == "record"]


def test_a_new_device_pulls_the_published_forms(live: LiveServer):
    dev = live.device()
    page = dev.pull(0)
    forms = {c["form_id"]: c for c in page["changes"] if c["type"] == "form"}
    assert {"safety_inspection", "teachers", "teacher_ethics"} <= set(forms)
    assert forms["teachers"]["version"] == "2026.1" and len(forms["teachers"]["sha256"]) == 64
    assert page["more"] is False and page["cursor"] >= max(c["seq"] for c in page["changes"])


def test_another_device_of_the_school_pulls_what_one_pushed_but_not_its_own_echo(live: LiveServer):
    pc1 = live.device()
    pc2 = live.device(pc1.school_code, name="二号机")
    _, start = pc1.pull_all()
    c = change()
    pc1.push_ok([c])
    mine, cursor1 = pc1.pull_all(start)
    assert _records(mine) == []  # pc1 knows its own change from the push answer
    assert cursor1 > start  # ... yet its cursor moves past it
    r = pc1.http.get(
        pc1.url("/api/v1/pull"), params={"since": start, "include_own": "true"}, timeout=10
    )
    assert [x["record_id"] for x in _records(r.json()["changes"])] == [c["record_id"]]
    theirs, _ = pc2.pull_all(start)
    [rec] = _records(theirs)
    assert rec["record_id"] == c["record_id"] and rec["status"] == "received"
    assert rec["server_revision"] == 1 and rec["data"]["inspectors"] == "张伟、李娜"
    assert rec["form_id"] == "safety_inspection" and rec["form_version"] == "2026.1"


def test_a_device_never_pulls_another_schools_records(live: LiveServer):
    a = live.device()
    b = live.device()
    a_mate = live.device(a.school_code, name="A 二号机")
    a.push_ok([change(inspection(remarks="A"))])
    b.push_ok([change(inspection(remarks="B"))])
    seen_by_b, _ = b.pull_all()
    seen_by_a, _ = a_mate.pull_all()
    assert _records(seen_by_b) == []
    assert [r["data"]["remarks"] for r in _records(seen_by_a)] == ["A"]


def test_paging_by_cursor_returns_every_change_once_in_order(live: LiveServer):
    pc1 = live.device()
    pc2 = live.device(pc1.school_code, name="二号机")
    _, start = pc2.pull_all()
    ids = []
    for _ in range(3):
        batch = [change() for _ in range(9)]
        ids += [c["record_id"] for c in batch]
        pc1.push_ok(batch)
    pages = []
    cursor = start
    while True:
        page = pc2.pull(cursor, limit=4)
        pages.append(page)
        assert len(page["changes"]) <= 4
        cursor = page["cursor"]
        if not page["more"]:
            break
    got = [c for p in pages for c in p["changes"]]
    assert [c["record_id"] for c in got] == ids
    seqs = [c["seq"] for c in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len(pages) == 7  # 27 changes, 4 a page
    assert pc2.pull(cursor)["changes"] == []


def test_bad_pull_parameters_are_400(live: LiveServer):
    dev = live.device()
    for params in (
        {"since": "x"},
        {"since": -1},
        {"limit": 0},
        {"limit": "many"},
        {"include_own": "y"},
        {"limit": 100000},  # above the maximum the OpenAPI document states (1000)
        {"since": 2**63},  # beyond a BIGINT
    ):
        r = dev.http.get(dev.url("/api/v1/pull"), params=params, timeout=10)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_parameter"


def _review(live: LiveServer, fn: Any, *args: Any) -> Any:
    with get_state(live.app).db.Session.begin() as s:
        return fn(s, *args, now=live.clock())


def test_a_return_reaches_the_school_with_comments_per_field(live: LiveServer):
    dev = live.device()
    c = change()
    dev.push_ok([c])
    _, cursor = dev.pull_all()
    comments = {"hazards[0].deadline": "期限过长", "_record": "请补充照片"}
    res = _review(live, return_record, c["record_id"], comments, "县教育局安全科李科长")
    assert res.status == "returned" and res.server_revision == 2
    [got] = _records(dev.pull(cursor)["changes"])
    assert got["status"] == "returned" and got["server_revision"] == 2
    assert got["review_comments"] == comments
    assert got["data"]["signed_by"] == "赵校长"
    # The clerk fixes it on top of revision 2: received again, the comments are done with.
    [fixed] = dev.push_ok(
        [change(inspection(remarks="已改"), record_id=c["record_id"], revision=2, base=2)]
    )
    assert fixed["result"] == "applied" and fixed["server_revision"] == 3
    rec = live.record(c["record_id"])
    assert rec is not None and rec.status == "received" and rec.review_comments == {}
    with live.session() as s:
        kinds = s.execute(
            select(M.RecordRevision.kind)
            .where(M.RecordRevision.record_id == c["record_id"])
            .order_by(M.RecordRevision.server_revision)
        ).scalars()
        assert list(kinds) == ["push", "return", "push"]
        assert s.execute(
            select(M.AuditEntry.actor).where(M.AuditEntry.action == "record.return")
        ).scalar_one() == ("县教育局安全科李科长")


def test_a_return_against_an_offline_edit_keeps_both(live: LiveServer):
    dev = live.device()
    c = change()
    dev.push_ok([c])
    _review(live, return_record, c["record_id"], {"signed_by": "请校长签字"}, "科员")
    # The clerk had edited revision 1 offline, before seeing the return.
    [res] = dev.push_ok([change(inspection(remarks="离线修改"), record_id=c["record_id"], base=1)])
    assert res["result"] == "conflict"
    assert res["server"]["status"] == "returned"
    assert res["server"]["review_comments"] == {"signed_by": "请校长签字"}


def test_an_accepted_record_is_locked(live: LiveServer):
    dev = live.device()
    c = change()
    dev.push_ok([c])
    _, cursor = dev.pull_all()
    _review(live, accept_record, c["record_id"], "科长")
    [got] = _records(dev.pull(cursor)["changes"])
    assert got["status"] == "accepted" and got["server_revision"] == 2
    [res] = dev.push_ok([change(inspection(remarks="补报"), record_id=c["record_id"], base=2)])
    assert res["result"] == "rejected" and res["reason"] == "locked"
    assert res["server"]["status"] == "accepted"
    # Not lost: kept as a change request for the bureau (protocol 1.5); the record stays as accepted.
    assert res["change_request"]["status"] == "open"
    [same] = dev.push_ok([change(record_id=c["record_id"], base=2)])  # asks for what it holds
    assert same["result"] == "applied" and same["status"] == "accepted"


def test_return_refuses_paths_that_are_not_fields(live: LiveServer):
    import pytest

    from sync_server.errors import ServiceError

    dev = live.device()
    c = change()
    dev.push_ok([c])
    with pytest.raises(ServiceError) as info:
        _review(live, return_record, c["record_id"], {"no_such_field": "x"}, "科员")
    assert info.value.code == "bad_comment_path"
    with pytest.raises(ServiceError) as info:
        _review(live, return_record, str(uuid.uuid4()), {"signed_by": "x"}, "科员")
    assert info.value.code == "unknown_record"


def test_a_new_form_version_reaches_every_school(live: LiveServer):
    a, b = live.device(), live.device()
    _, ca = a.pull_all()
    _, cb = b.pull_all()
    state = get_state(live.app)
    with state.db.ReadSession.begin() as s:
        fv = s.execute(
            select(M.FormVersion).where(M.FormVersion.form_id == "teachers")
        ).scalar_one()
        text = fv.definition.replace("version: '2026.1'", "version: '2027.1'")
    with state.db.Session.begin() as s:
        publish_form(s, load_yaml_text(text), now=live.clock())
    for dev, cursor in ((a, ca), (b, cb)):
        [form] = dev.pull(cursor)["changes"]
        assert form["type"] == "form" and form["form_id"] == "teachers"
        assert form["version"] == "2027.1"
    r = a.http.get(a.url("/api/v1/forms/teachers/2027.1"), timeout=10)
    assert r.status_code == 200
    assert to_yaml(load_yaml_text(r.json()["definition"])) == r.json()["definition"]
    listed = {
        f["form_id"]: f for f in a.http.get(a.url("/api/v1/forms"), timeout=10).json()["forms"]
    }
    assert listed["teachers"]["version"] == "2027.1"
    assert listed["safety_inspection"]["title_zh"] == "校园安全隐患排查整治记录"


def test_unknown_form_version_is_404(live: LiveServer):
    dev = live.device()
    r = dev.http.get(dev.url("/api/v1/forms/teachers/1999.1"), timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_form"


def test_concurrent_pushes_never_leave_a_gap_a_reader_could_skip(live: LiveServer):
    """Many devices push at once while a reader pulls: the union of pulled seqs is every committed one."""
    school = live.device()
    devices = [school] + [live.device(school.school_code, name=f"机{i}") for i in range(5)]
    reader = live.device(school.school_code, name="读者")
    _, start = reader.pull_all()
    pushed: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    seen: list[int] = []

    def push(dev: Device) -> None:
        for _ in range(4):
            batch = [change() for _ in range(8)]
            dev.push_ok(batch)
            with lock:
                pushed.extend(c["record_id"] for c in batch)

    def read() -> None:
        cursor = start
        while True:
            finished = stop.is_set()  # read before the page: every push committed before it
            page = reader.pull(cursor, limit=7)
            seen.extend(c["seq"] for c in page["changes"])
            cursor = page["cursor"]
            if finished and not page["more"]:
                return

    reader_thread = threading.Thread(target=read)
    reader_thread.start()
    threads = [threading.Thread(target=push, args=(d,)) for d in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    reader_thread.join()
    with live.session() as s:
        committed = list(
            s.execute(
                select(M.Change.seq)
                .join(M.School, M.School.id == M.Change.school_id)
                .where(M.School.code == school.school_code, M.Change.seq > start)
                .order_by(M.Change.seq)
            ).scalars()
        )
    assert len(pushed) == 6 * 4 * 8
    assert len(committed) == len(pushed)
    assert seen == committed  # each once, in order, none skipped
