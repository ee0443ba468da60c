"""Push against the real server, on SQLite and PostgreSQL: a result per change, exactly once, conflicts kept."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy import select

from sync_server import models as M
from sync_server.state import get_state
from tests.server.conftest import LiveServer, assert_error, change, inspection


def test_a_new_record_is_applied_and_stored_as_received(live: LiveServer):
    dev = live.device()
    c = change()
    r = dev.push([c])
    assert r.status_code == 200
    assert r.headers["X-Sync-Server"] == "school-sync/1"
    body = r.json()
    assert body["results"] == [
        {
            "op_id": c["op_id"],
            "result": "applied",
            "record_id": c["record_id"],
            "server_revision": 1,
            "status": "received",
        }
    ]
    assert isinstance(body["cursor"], int) and body["cursor"] > 0
    rec = live.record(c["record_id"])
    assert rec is not None and rec.status == "received" and rec.server_revision == 1
    # Stored as the form engine normalizes it: calculations filled in.
    assert rec.data["hazard_count"] == 1 and rec.data["open_count"] == 1
    assert live.count(M.RecordRevision, M.RecordRevision.record_id == c["record_id"]) == 1
    assert live.count(M.AppliedOp, M.AppliedOp.op_id == c["op_id"]) == 1


def test_the_same_op_again_is_a_duplicate_and_changes_nothing(live: LiveServer):
    dev = live.device()
    c = change()
    dev.push_ok([c])
    # A new batch (another key) carrying the same operation, as after a lost answer.
    again = dev.push_ok([c, change()])
    assert [a["result"] for a in again] == ["duplicate", "applied"]
    assert again[0]["server_revision"] == 1
    # One op id twice in a batch is refused whole (test_hostile_input has the case of two records).
    assert dev.push([c, c]).status_code == 400
    assert live.count(M.Record, M.Record.id == c["record_id"]) == 1
    assert live.count(M.RecordRevision, M.RecordRevision.record_id == c["record_id"]) == 1
    assert live.count(M.AppliedOp, M.AppliedOp.op_id == c["op_id"]) == 1


def test_an_edit_on_the_current_revision_applies(live: LiveServer):
    dev = live.device()
    rid = str(uuid.uuid4())
    dev.push_ok([change(record_id=rid)])
    [res] = dev.push_ok([change(inspection(remarks="已复查"), record_id=rid, revision=2, base=1)])
    assert res["result"] == "applied" and res["server_revision"] == 2
    rec = live.record(rid)
    assert rec is not None and rec.data["remarks"] == "已复查"


def test_a_stale_base_is_a_conflict_and_both_versions_are_kept(live: LiveServer):
    pc1 = live.device()
    pc2 = live.device(pc1.school_code, name="校长室电脑")
    rid = str(uuid.uuid4())
    pc1.push_ok([change(record_id=rid)])
    pc1.push_ok([change(inspection(remarks="一号机改"), record_id=rid, revision=2, base=1)])
    # pc2 edited revision 1 offline.
    c = change(inspection(remarks="二号机改"), record_id=rid, revision=2, base=1)
    [res] = pc2.push_ok([c])
    assert res["result"] == "conflict"
    assert res["server_revision"] == 2
    assert res["server"]["data"]["remarks"] == "一号机改"
    assert res["server"]["status"] == "received"
    rec = live.record(rid)
    assert rec is not None and rec.data["remarks"] == "一号机改" and rec.server_revision == 2
    with live.session() as s:
        conflict = s.execute(select(M.Conflict).where(M.Conflict.record_id == rid)).scalar_one()
    assert conflict.server_data["remarks"] == "一号机改"
    assert conflict.client_data is not None and conflict.client_data["remarks"] == "二号机改"
    assert conflict.resolved_at is None
    # The same op again answers the same conflict, and keeps no second copy.
    [again] = pc2.push_ok([c])
    assert again["result"] == "conflict"
    assert live.count(M.Conflict, M.Conflict.record_id == rid) == 1
    # The clerk resolves it on top of the server's revision: applied, and the conflict is closed.
    [fixed] = pc2.push_ok([change(inspection(remarks="合并"), record_id=rid, revision=3, base=2)])
    assert fixed["result"] == "applied" and fixed["server_revision"] == 3
    with live.session() as s:
        assert s.execute(select(M.Conflict.resolved_at)).scalar_one() is not None


def test_an_edit_on_top_of_its_own_unanswered_change_is_no_conflict(live: LiveServer):
    """The answer to a push was lost; the clerk edited again; the client still thinks base is None."""
    dev = live.device()
    rid = str(uuid.uuid4())
    dev.push_ok([change(record_id=rid, revision=1, base=None)])  # answer "lost"
    [res] = dev.push_ok([change(inspection(remarks="再改"), record_id=rid, revision=2, base=None)])
    assert res["result"] == "applied" and res["server_revision"] == 2
    # But another device's change in between makes it a conflict.
    other = live.device(dev.school_code, name="二号机")
    other.push_ok([change(inspection(remarks="他改"), record_id=rid, revision=9, base=2)])
    [late] = dev.push_ok([change(inspection(remarks="三改"), record_id=rid, revision=3, base=None)])
    assert late["result"] == "conflict"


def test_invalid_data_is_rejected_with_the_engines_problems(live: LiveServer):
    dev = live.device()
    bad = inspection(inspection_date="2027-01-01", inspection_type="nonsense")
    del bad["signed_by"]
    c = change(bad)
    [res] = dev.push_ok([c])
    assert res["result"] == "rejected" and res["reason"] == "invalid"
    paths = {p["path"]: p["code"] for p in res["problems"]}
    assert paths["inspection_type"] == "choice"
    assert paths["signed_by"] == "required"
    assert paths["inspection_date"] == "constraint"  # after the server's today (2026-11-28)
    assert all(p["message_zh"] and p["message_en"] for p in res["problems"])
    assert live.record(c["record_id"]) is None
    assert live.count(M.AppliedOp, M.AppliedOp.op_id == c["op_id"]) == 0


def test_unknown_forms_and_versions_are_rejected(live: LiveServer):
    dev = live.device()
    a, b = change(form_id="no_such_form"), change(form_version="1999.9")
    results = dev.push_ok([a, b])
    assert [(x["result"], x["reason"]) for x in results] == [
        ("rejected", "unknown_form"),
        ("rejected", "unknown_form"),
    ]


def test_one_bad_change_does_not_hold_back_the_others(live: LiveServer):
    dev = live.device()
    good1, bad, good2 = change(), change(inspection(hazards_found="maybe")), change()
    results = dev.push_ok([good1, bad, good2])
    assert [x["result"] for x in results] == ["applied", "rejected", "applied"]
    assert [x["op_id"] for x in results] == [good1["op_id"], bad["op_id"], good2["op_id"]]


def test_roster_answers_are_checked_against_the_schools_own_roster(live: LiveServer):
    dev = live.device()
    other = live.device()  # another school with teacher T900
    teacher = {"teacher_id": "T001", "name": "张明", "gender": "male", "active": "yes"}
    dev.push_ok([change(teacher, form_id="teachers")])
    other.push_ok([change(dict(teacher, teacher_id="T900"), form_id="teachers")])

    def ethics(teacher_id: str) -> dict[str, Any]:
        return {
            "record_date": "2026-11-20",
            "teacher": teacher_id,
            "record_type": "pledge",
            "description": "签订师德承诺书",
        }

    ok = change(ethics("T001"), form_id="teacher_ethics")
    foreign = change(ethics("T900"), form_id="teacher_ethics")
    results = dev.push_ok([ok, foreign])
    assert results[0]["result"] == "applied", results[0]
    assert results[1]["result"] == "rejected" and results[1]["reason"] == "invalid"
    assert results[1]["problems"][0]["path"] == "teacher"


def test_a_roster_entry_in_the_same_batch_counts_for_the_records_after_it(live: LiveServer):
    dev = live.device()
    teacher = {"teacher_id": "T777", "name": "王老师", "gender": "female", "active": "yes"}
    ethics = {
        "record_date": "2026-11-20",
        "teacher": "T777",
        "record_type": "pledge",
        "description": "签订师德承诺书",
    }
    results = dev.push_ok(
        [change(teacher, form_id="teachers"), change(ethics, form_id="teacher_ethics")]
    )
    assert [r["result"] for r in results] == ["applied", "applied"], results


def test_a_record_of_another_school_is_rejected_and_never_overwritten(live: LiveServer):
    school_a = live.device()
    school_b = live.device()
    rid = str(uuid.uuid4())
    school_b.push_ok([change(inspection(remarks="B 校"), record_id=rid)])
    for base in (None, 1):
        [res] = school_a.push_ok([change(inspection(remarks="A 校"), record_id=rid, base=base)])
        assert res["result"] == "rejected" and res["reason"] == "other_school"
        assert "server" not in res  # nothing of B's record is shown to A
    [gone] = school_a.push_ok([change(record_id=rid, kind="delete", base=1)])
    assert gone["reason"] == "other_school"
    rec = live.record(rid)
    assert rec is not None and rec.data["remarks"] == "B 校" and rec.status == "received"
    with live.session() as s:
        assert s.execute(
            select(M.School.code).where(M.School.id == rec.school_id)
        ).scalar_one() == (school_b.school_code)
    # An op id used by school B is not B's answer to give to A.
    b_op = change()
    school_b.push_ok([b_op])
    [stolen] = school_a.push_ok([dict(b_op, record_id=str(uuid.uuid4()))])
    assert stolen["result"] == "rejected" and stolen["reason"] == "op_id_in_use"


def test_delete_tombstones_the_record(live: LiveServer):
    dev = live.device()
    rid = str(uuid.uuid4())
    dev.push_ok([change(record_id=rid)])
    [res] = dev.push_ok([change(record_id=rid, kind="delete", revision=2, base=1)])
    assert res["result"] == "applied" and res["status"] == "deleted" and res["server_revision"] == 2
    rec = live.record(rid)
    assert rec is not None and rec.status == "deleted"  # a tombstone, never removed


def test_a_replayed_batch_gets_the_stored_answer(live: LiveServer):
    dev = live.device()
    changes = [change(), change(inspection(hazards_found="perhaps"))]
    key = str(uuid.uuid4())
    first = dev.push(changes, key=key)
    second = dev.push(changes, key=key, gzipped=True)  # the same JSON, sent compressed this time
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert [r["result"] for r in second.json()["results"]] == ["applied", "rejected"]
    assert live.count(M.RecordRevision, M.RecordRevision.record_id == changes[0]["record_id"]) == 1


def test_the_same_key_with_another_body_is_422(live: LiveServer):
    dev = live.device()
    key = str(uuid.uuid4())
    dev.push_ok([change()], key=key)
    other = change()
    err = assert_error(dev.push([other], key=key), 422, "idempotency_key_reused")
    assert err["details"]["idempotency_key"] == key
    assert live.record(other["record_id"]) is None


def test_keys_belong_to_their_device(live: LiveServer):
    pc1 = live.device()
    pc2 = live.device(pc1.school_code, name="二号机")
    key = str(uuid.uuid4())
    pc1.push_ok([change()], key=key)
    [res] = pc2.push_ok([change()], key=key)  # another device's key space
    assert res["result"] == "applied"


def test_a_gzip_body_is_accepted_and_answers_are_gzipped_on_request(live: LiveServer):
    dev = live.device()
    changes = [change(inspection(remarks="压缩" * 50)) for _ in range(20)]
    r = dev.push(changes, gzipped=True)
    assert r.status_code == 200, r.text
    assert r.headers.get("Content-Encoding") == "gzip"  # requests asks for gzip and unpacks it
    assert [x["result"] for x in r.json()["results"]] == ["applied"] * 20


def test_the_same_batch_sent_twice_at_once_applies_once(live: LiveServer):
    dev = live.device()
    changes = [change() for _ in range(30)]
    key = str(uuid.uuid4())
    answers: list[requests.Response] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        http = requests.Session()
        http.headers.update(dev.http.headers)
        barrier.wait()
        answers.append(
            http.post(
                dev.url("/api/v1/push"),
                json={"changes": changes},
                headers={"Idempotency-Key": key},
                timeout=60,
            )
        )

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 4
    assert {a.status_code for a in answers} <= {200, 409}
    bodies = {a.content for a in answers if a.status_code == 200}
    assert len(bodies) == 1  # every 200 is the one stored answer
    assert [x["result"] for x in answers[0].json()["results"]] == ["applied"] * 30
    for c in changes:
        assert live.count(M.RecordRevision, M.RecordRevision.record_id == c["record_id"]) == 1


def test_two_devices_racing_on_one_record_never_both_apply_on_one_base(live: LiveServer):
    pc1 = live.device()
    pc2 = live.device(pc1.school_code, name="二号机")
    rid = str(uuid.uuid4())
    pc1.push_ok([change(record_id=rid)])
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def edit(dev: Any, remark: str) -> None:
        barrier.wait()
        results.extend(dev.push_ok([change(inspection(remarks=remark), record_id=rid, base=1)]))

    threads = [
        threading.Thread(target=edit, args=(pc1, "一")),
        threading.Thread(target=edit, args=(pc2, "二")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["result"] for r in results) == ["applied", "conflict"]
    rec = live.record(rid)
    assert rec is not None and rec.server_revision == 2


def test_a_batch_of_roster_changes_reads_the_roster_once(live: LiveServer):
    """Each roster change used to make the next change read the school's whole roster again (a batch of 200
    teachers took 30-40 s for a school with 10,000). The roster is now read once per batch and kept up to date:
    a teacher added, renamed, set inactive or deleted earlier in the batch counts for the changes after it."""
    dev = live.device()

    def teacher(tid: str, name: str, active: str = "yes") -> dict[str, Any]:
        return {"teacher_id": tid, "name": name, "gender": "female", "active": active}

    def ethics(tid: str) -> dict[str, Any]:
        return {
            "record_date": "2026-11-20",
            "teacher": tid,
            "record_type": "pledge",
            "description": "签订师德承诺书",
        }

    gone_id = str(uuid.uuid4())
    dev.push_ok([change(teacher("T000", "要离开的老师"), form_id="teachers", record_id=gone_id)])
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "records" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = get_state(live.app).db.engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        batch = [change(ethics("T000"), form_id="teacher_ethics")]  # loads the roster
        batch += [
            change(teacher(f"T{i:03d}", f"老师{i}"), form_id="teachers") for i in range(1, 41)
        ]
        batch += [change(ethics("T040"), form_id="teacher_ethics")]  # added in this batch
        batch += [change(record_id=gone_id, kind="delete", base=1, form_id="teachers")]
        batch += [change(ethics("T000"), form_id="teacher_ethics")]  # deleted in this batch
        results = dev.push_ok(batch)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert [r["result"] for r in results[:-1]] == ["applied"] * 43, results
    assert results[-1]["result"] == "rejected" and results[-1]["reason"] == "invalid"
    roster_reads = [s for s in statements if "teachers" in s or "form_id" in s]
    assert len(roster_reads) < 10, len(roster_reads)


def test_pushes_share_one_group_writer_per_database(tmp_path: Any) -> None:
    """Issue 14: pushes wait for the writer of their database in this process (services.group_commit: the
    waiting ones are committed together), not in SQLite's busy handler, which sleeps up to 100 ms between
    looks; one writer per database, none for PostgreSQL (its pushes run at once, each its own transaction)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from sync_server.db import open_database
    from sync_server.services.group_commit import GroupWriter, writer_for

    a = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    b = open_database(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        assert writer_for(a.Session) is writer_for(a.Session)
        assert writer_for(a.Session) is not writer_for(b.Session)
        assert isinstance(writer_for(a.Session), GroupWriter)
        pg = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
        assert writer_for(sessionmaker(pg)) is None
        pg.dispose()
    finally:
        a.close()
        b.close()
