"""The sync engine against the real server on loopback: enroll, push with photos, pull the bureau's answers."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from client.store import records as R
from client.store import sync_state as S
from client.store.models import Attachment, FormVersion, Record, Status
from client.store.prefs import set_setting
from client.store.roster import roster_entries, save_teacher
from client.store.todo import returned_records
from client.sync.commands import enroll_command, sync_command
from client.sync.http import RetryPolicy
from sync_server import models as M
from sync_server.services.schools import revoke_device
from tests.sync.conftest import (
    SERVER_NOW,
    TODAY,
    Client,
    ClientFactory,
    LiveServer,
    Sleeps,
    inspection,
    photo_file,
)


def enrolled(
    make_client: ClientFactory, server: LiveServer, url: str | None = None, **kw
) -> tuple[Client, str]:
    school_code, code = server.new_school()
    client = make_client(**kw)
    client.engine.enroll(url or server.url, code, device_name="教务处电脑")
    return client, school_code


def test_enroll_then_sync_records_and_a_photo_arrive_exactly_once(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
):
    client, school = enrolled(make_client, live_server)
    with client.Session() as s:
        enrollment = S.get_enrollment(s)
    assert enrollment is not None and enrollment.school_code == school
    sha = client.add_photo(photo_file(tmp_path, 150_000))
    hazard = dict(inspection()["hazards"][0], photo=sha)  # type: ignore[index]
    ids = [client.save(inspection(hazards=[hazard]))] + [
        client.save(inspection(inspectors=f"检查员{i}")) for i in range(3)
    ]

    result = client.engine.sync()

    assert result.complete, result
    assert (result.pushed, result.uploaded, result.rejected, result.conflicts) == (4, 1, [], [])
    on_server = live_server.school_records(school)
    assert sorted(r.id for r in on_server) == sorted(ids)
    assert all(r.status == "received" and r.server_revision == 1 for r in on_server)
    assert live_server.count(M.Attachment, M.Attachment.sha256 == sha, M.Attachment.complete) == 1
    assert client.unsent() == 0
    with client.Session() as s:
        assert {r.status for r in s.execute(select(Record)).scalars()} == {Status.RECEIVED}
        assert s.get(Attachment, sha).uploaded_at is not None
        status = S.sync_status(s)
    assert status.pending == 0 and status.last_sync_at is not None and status.last_problem is None

    again = client.engine.sync()  # nothing new either way
    assert (again.pushed, again.pulled, again.uploaded) == (0, 0, 0)
    assert len(live_server.school_records(school)) == 4


def bureau_returns(server: LiveServer, record_id: str, comments: dict[str, str]) -> None:
    from sync_server.services.review import return_record

    with server.session() as s, s.begin():
        return_record(s, record_id, comments, "王科长", now=SERVER_NOW)


def bureau_accepts(server: LiveServer, record_id: str) -> None:
    from sync_server.services.review import accept_record

    with server.session() as s, s.begin():
        accept_record(s, record_id, "王科长", now=SERVER_NOW)


def test_a_record_the_bureau_returns_shows_as_returned_with_its_comment_and_the_fix_goes_back(
    make_client: ClientFactory, live_server: LiveServer
):
    client, school = enrolled(make_client, live_server)
    rid = client.save(inspection())
    other = client.save(inspection(inspectors="王五"))
    assert client.engine.sync().complete
    bureau_returns(live_server, rid, {"inspectors": "请写全名", "hazards[0].deadline": "期限过长"})
    bureau_accepts(live_server, other)

    result = client.engine.sync()

    assert result.complete and result.conflicts == []
    with client.Session() as s:
        returned, accepted = s.get(Record, rid), s.get(Record, other)
        assert returned.status == Status.RETURNED
        assert returned.review_comments == {
            "inspectors": "请写全名",
            "hazards[0].deadline": "期限过长",
        }
        assert returned.data["inspectors"] == "张伟、李娜"  # the data is the same on both sides
        assert accepted.status == Status.ACCEPTED
        assert [i.record_id for i in returned_records(s)] == [rid]

    client.save(
        inspection(inspectors="张伟（副校长）、李娜（安全员）"), record_id=rid
    )  # the clerk fixes it
    assert client.engine.sync().complete
    (on_server,) = [r for r in live_server.school_records(school) if r.id == rid]
    assert on_server.status == "received" and on_server.server_revision == 3
    assert on_server.data["inspectors"] == "张伟（副校长）、李娜（安全员）"
    with client.Session() as s:
        fixed = s.get(Record, rid)
        assert fixed.status == Status.RECEIVED and fixed.review_comments is None


def test_a_return_against_an_offline_edit_keeps_both_and_the_clerks_choice_syncs_to_both_sides(
    make_client: ClientFactory, live_server: LiveServer
):
    client, school = enrolled(make_client, live_server)
    rid = client.save(inspection())
    assert client.engine.sync().complete
    bureau_returns(live_server, rid, {"signed_by": "请校长签字"})
    mine = inspection(remarks="已补充整改照片")
    client.save(mine, record_id=rid)  # offline, before the return arrived

    result = client.engine.sync()

    assert not result.complete
    assert [(c.record_id, c.server_status) for c in result.conflicts] == [(rid, "returned")]
    with client.Session() as s:
        record = s.get(Record, rid)
        assert record.data["remarks"] == "已补充整改照片"  # nothing the clerk saved is lost
        assert record.status == Status.RETURNED and record.review_comments == {
            "signed_by": "请校长签字"
        }
        (issue,) = S.open_issues(s, kind=S.IssueKind.CONFLICT)
        assert issue.record_id == rid
        assert issue.details["server"]["data"].get("remarks") is None  # the server's version, kept
        assert issue.details["local"]["data"]["remarks"] == "已补充整改照片"
        status = S.sync_status(s)
    assert status.conflicts == 1 and status.pending == 1
    (on_server,) = live_server.school_records(school)
    assert on_server.status == "returned" and "remarks" not in on_server.data

    held = client.engine.sync()  # a held change is not pushed again into the same conflict
    assert held.pushed == 0 and held.pending == 1

    with client.Session.begin() as s:
        S.resolve_conflict(
            s,
            forms=client.ctx.forms,
            issue_id=issue.id,
            data=dict(mine, signed_by="赵校长（已签）"),  # a merge of both
            today=client.ctx.clock.today(),
            now=client.ctx.clock.now(),
        )
    after = client.engine.sync()

    assert after.complete and after.pushed == 1
    (on_server,) = live_server.school_records(school)
    # The choice is on the server, and the bureau's return stays open until answered (issue 10).
    assert on_server.status == "returned" and on_server.server_revision == 3
    assert on_server.review_comments == {"signed_by": "请校长签字"}
    assert (
        on_server.data["remarks"] == "已补充整改照片"
        and on_server.data["signed_by"] == "赵校长（已签）"
    )
    with client.Session() as s:
        assert s.get(Record, rid).status == Status.RETURNED
        assert S.open_issues(s) == []
    assert client.unsent() == 0


def test_a_change_the_server_rejects_stays_unsent_with_its_reason_and_the_rest_goes(
    make_client: ClientFactory, live_server: LiveServer, capsys
):
    client, school = enrolled(make_client, live_server)
    form = client.ctx.forms.get("safety_inspection")
    unknown = replace(form, settings=replace(form.settings, version="2099.9"))
    with client.Session.begin() as s:
        bad = R.save_record(
            s, form=unknown, data=inspection(), submit=True, today=TODAY, now=client.ctx.clock.now()
        ).record_id
    good = client.save(inspection(inspectors="王五"))

    result = client.engine.sync()

    assert not result.complete and result.pushed == 1
    assert [(r.record_id, r.reason) for r in result.rejected] == [(bad, "unknown_form")]
    assert [r.id for r in live_server.school_records(school)] == [good]
    with client.Session() as s:
        assert s.get(Record, bad).status == Status.SUBMITTED  # and the problem shows:
        (issue,) = S.open_issues(s)
        assert (issue.kind, issue.record_id, issue.reason) == ("rejected", bad, "unknown_form")
        assert S.sync_status(s).rejected == 1
    assert client.unsent() == 1

    assert sync_command(client.ctx, sleep=client.sleeps) == 2  # tried again, refused again
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "服务器上没有该表单或版本" in err and "refused" in err
    with client.Session() as s:
        assert len(S.open_issues(s)) == 1  # the same issue, not a second one

    # The clerk re-saves it with a form the server knows: the old change is superseded.
    with client.Session.begin() as s:
        R.save_record(
            s, form=form, data=inspection(), record_id=bad, today=TODAY, now=client.ctx.clock.now()
        )
    final = client.engine.sync()
    assert final.complete and final.pushed == 1  # the refused change made way, and is superseded
    with client.Session() as s:
        assert S.open_issues(s) == []
        assert s.get(Record, bad).status == Status.RECEIVED
    assert sorted(r.id for r in live_server.school_records(school)) == sorted([bad, good])


def test_another_device_of_the_school_gets_the_roster_and_records_and_new_form_versions(
    make_client: ClientFactory, live_server: LiveServer
):
    from forms.loader import load_yaml_text
    from forms.serialize import to_yaml
    from sync_server.services.forms import publish_form

    school, code_a = live_server.new_school("河口乡小学")
    a = make_client("pc-a")
    a.engine.enroll(live_server.url, code_a)
    _, code_b = live_server.new_school("河口乡小学", school)  # the same school: a fresh code
    b = make_client("pc-b")
    b.engine.enroll(live_server.url, code_b)
    of_school = select(M.School.id).where(M.School.code == school).scalar_subquery()
    assert live_server.count(M.Device, M.Device.school_id == of_school) == 2

    with a.Session.begin() as s:
        teacher = save_teacher(
            s,
            forms=a.ctx.forms,
            values={"teacher_id": "T001", "name": "李老师", "gender": "female", "subject": "语文"},
            today=TODAY,
            now=a.ctx.clock.now(),
        ).record_id
    rid = a.save(inspection())
    assert a.engine.sync().complete

    conditions = a.ctx.forms.get("school_conditions")
    newer = load_yaml_text(
        to_yaml(replace(conditions, settings=replace(conditions.settings, version="2099.1")))
    )
    with live_server.session() as s, s.begin():
        publish_form(s, newer, now=SERVER_NOW)

    result = b.engine.sync()

    assert result.complete and "school_conditions 2099.1" in result.forms
    with b.Session() as s:
        assert [t.name for t in roster_entries(s)] == ["李老师"]
        assert s.get(Record, teacher).status == Status.RECEIVED
        copy = s.get(Record, rid)
        assert copy.status == Status.RECEIVED and copy.data["inspectors"] == "张伟、李娜"
        assert copy.summary  # listed like any record
        assert R.count_records(s, R.RecordFilter("safety_inspection", search="食堂后厨")) == 1
        assert s.get(FormVersion, ("school_conditions", "2099.1")) is not None
    assert b.ctx.forms.latest["school_conditions"].version == "2099.1"

    # B corrects A's record: it goes up on top of the revision B pulled, no conflict.
    b.save(inspection(remarks="复查"), record_id=rid)
    assert b.engine.sync().complete
    (on_server,) = [r for r in live_server.school_records(school) if r.id == rid]
    assert on_server.server_revision == 2 and on_server.data["remarks"] == "复查"
    assert a.engine.sync().complete
    with a.Session() as s:
        assert s.get(Record, rid).data["remarks"] == "复查"

    fresh = make_client("pc-c")  # a later start-up loads the stored form versions
    with b.Session() as s:
        assert S.load_stored_forms(s, fresh.ctx.forms) >= 1


def test_commands_exit_0_when_done_1_when_unreachable_2_when_refused(
    make_client: ClientFactory, live_server: LiveServer, capsys
):
    school, code = live_server.new_school()
    client = make_client()
    assert sync_command(client.ctx, sleep=client.sleeps) == 2  # not enrolled yet
    assert "enroll" in capsys.readouterr().err

    assert enroll_command(client.ctx, live_server.url + "/api/v1/", code, sleep=client.sleeps) == 0
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and "已登记" in out and school in out
    assert enroll_command(client.ctx, live_server.url, code, sleep=client.sleeps) == 2  # single use
    assert "登记失败" in capsys.readouterr().err

    client.save(inspection())
    assert sync_command(client.ctx, sleep=client.sleeps) == 0
    assert "同步完成" in capsys.readouterr().out

    with client.Session() as s:
        enrollment = S.get_enrollment(s)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    with client.Session.begin() as s:
        set_setting(s, S.K_SERVER_URL, f"http://127.0.0.1:{port}")
    client.save(inspection(inspectors="王五"))
    sleeps = Sleeps()
    assert sync_command(client.ctx, sleep=sleeps, policy=RetryPolicy(attempts=3)) == 1
    assert "cannot reach" in capsys.readouterr().err
    assert (
        len(sleeps.waits) == 2 and 0.5 <= sleeps.waits[0] <= 1.0 and 1.0 <= sleeps.waits[1] <= 2.0
    )

    with client.Session.begin() as s:
        set_setting(s, S.K_SERVER_URL, live_server.url)
    with live_server.session() as s, s.begin():
        revoke_device(s, enrollment.device_id, now=SERVER_NOW)
    assert sync_command(client.ctx, sleep=client.sleeps) == 2
    err = capsys.readouterr().err
    assert "撤销" in err and "revoked" in err
    assert client.unsent() == 1
    with client.Session() as s:
        assert S.sync_status(s).last_problem["kind"] == "auth"


def push_statuses(client: Client) -> list[int]:
    return [
        r.status_code
        for r in client.responses
        if r.request.method == "POST" and r.request.path_url.endswith("/push")
    ]


def test_a_batch_refused_whole_for_one_bad_change_sets_only_that_change_aside(
    make_client: ClientFactory, live_server: LiveServer
):
    client, school = enrolled(make_client, live_server)
    good = [client.save(inspection(inspectors=f"检查员{i}")) for i in range(3)]
    client.save(inspection(), record_id="legacy-001")  # an old import kept an id that is no uuid

    result = client.engine.sync()

    assert [(r.record_id, r.reason) for r in result.rejected] == [("legacy-001", "bad_change")]
    assert result.pushed == 3 and result.pending == 1
    assert sorted(r.id for r in live_server.school_records(school)) == sorted(good)
    assert push_statuses(client) == [400, 200]  # the server named the change; no bisecting needed
    with client.Session() as s:
        (issue,) = S.open_issues(s)
        assert issue.record_id == "legacy-001" and "record_id" in issue.message_en
