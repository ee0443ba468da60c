"""Sync by USB stick (issue 13, protocol 1.13) end to end: the real server's import service, real client stores,
and online syncs mixed in. Each test asserts the records on both sides."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from client.store import sync_state as S
from client.store.models import Record, Status
from client.store.todo import returned_records
from client.usb.bundle import UsbError, export_bundle, import_answer
from forms import usb_bundle as U
from sync_server import models as M
from sync_server.services.schools import revoke_device
from sync_server.state import get_state
from sync_server.usb import ImportResult, import_file
from tests.support.samples import inspection
from tests.sync.conftest import (
    SERVER_NOW,
    Client,
    ClientFactory,
    LiveServer,
    photo_file,
)

SECRET = "sync-tests"  # the live server's SECRET_KEY


def enrolled(
    make_client: ClientFactory, server: LiveServer, name: str = "pc1"
) -> tuple[Client, str]:
    school_code, code = server.new_school()
    client = make_client(name)
    client.engine.enroll(server.url, code, device_name="教务处电脑")
    return client, school_code


def stick(tmp_path: Path, name: str = "U盘") -> Path:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    return folder


def bureau_import(server: LiveServer, path: Path) -> ImportResult:
    return import_file(get_state(server.app), path)


def bureau_returns(server: LiveServer, record_id: str, comments: dict[str, str]) -> None:
    from sync_server.services.review import return_record

    with server.session() as s, s.begin():
        return_record(s, record_id, comments, "王科长", now=SERVER_NOW)


def server_rows(server: LiveServer, school: str) -> dict[str, tuple[int, str, str]]:
    return {
        r.id: (r.server_revision, r.status, r.data["inspectors"])
        for r in server.school_records(school)
    }


def client_rows(client: Client) -> dict[str, tuple[str, str]]:
    with client.Session() as s:
        return {r.id: (r.status, r.data["inspectors"]) for r in s.execute(select(Record)).scalars()}


def device_id(client: Client) -> str:
    with client.Session() as s:
        enrollment = S.get_enrollment(s)
    assert enrollment is not None
    return enrollment.device_id


def cursor(client: Client) -> int:
    with client.Session() as s:
        return S.get_cursor(s)


def test_offline_round_trip_then_a_return_by_stick_then_online_sync_duplicates_nothing(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    # Offline from here: records, a photo, and a record edited twice (two changes of one record).
    sha = client.add_photo(photo_file(tmp_path, 20_000))
    hazard = dict(inspection()["hazards"][0], photo=sha)
    a = client.save(inspection(hazards=[hazard], inspectors="甲"))
    b = client.save(inspection(inspectors="乙"))
    c = client.save(inspection(inspectors="丙"))
    client.save(inspection(inspectors="丙（改）"), record_id=c)
    assert client.unsent() == 4

    exported = export_bundle(client.ctx, stick(tmp_path))

    assert exported.path.name.startswith(f"城关镇中心小学_{school}_20261128-1000_")
    assert exported.path.suffix == ".usbsync"
    assert (exported.changes, exported.batches, exported.attachments) == (4, 2, 1)
    assert client.unsent() == 4  # exporting marks nothing sent
    assert [p.name for p in exported.path.parent.iterdir()] == [exported.path.name]

    receipt = bureau_import(live_server, exported.path)

    assert receipt.error is None
    assert dict(receipt.received) == {"safety_inspection": 4}
    assert receipt.refused == [] and receipt.attachments == 1
    assert server_rows(live_server, school) == {
        a: (1, "received", "甲"),
        b: (1, "received", "乙"),
        c: (2, "received", "丙（改）"),
    }
    assert live_server.count(M.Attachment, M.Attachment.sha256 == sha, M.Attachment.complete) == 1
    assert receipt.answer_path is not None and receipt.answer_path.is_file()
    lines = "\n".join(receipt.receipt_lines())  # the usb trial's D8: what the page's 回执 shows
    assert (
        "校园安全隐患排查整治记录（2026年11月）：收到 4 条" in lines
        and "safety_inspection" not in lines
    )
    assert (
        f"城关镇中心小学（{school}）" in lines
        and "设备“教务处电脑”" in lines
        and "北京时间" in lines
    )
    assert device_id(client) not in lines and not re.search(r"\d\dZ", lines)
    assert receipt.receipt_path is not None
    printed = receipt.receipt_path.read_text("utf-8-sig")
    assert receipt.receipt_path.name == f"{exported.path.stem}_回执.txt"
    assert printed.replace("\r\n", "\n") == lines + "\n"  # the same 回执 on the stick
    with live_server.session() as s:
        device = s.get(M.Device, device_id(client))
        assert device is not None and device.last_seen_at is not None
        (entry,) = s.execute(
            select(M.AuditEntry).where(
                M.AuditEntry.action == "device.usb_import",
                M.AuditEntry.object_id == device_id(client),
            )
        ).scalars()
        assert entry.details["received"] == {"safety_inspection": 4}

    outcome = import_answer(client.ctx, receipt.answer_path)

    assert outcome.acknowledged == 4 and outcome.rejected == [] and outcome.conflicts == 0
    assert client.unsent() == 0
    assert client_rows(client) == {
        a: (Status.RECEIVED, "甲"),
        b: (Status.RECEIVED, "乙"),
        c: (Status.RECEIVED, "丙（改）"),
    }

    # The bureau returns a record; the return reaches the clerk through the stick.
    bureau_returns(live_server, b, {"inspectors": "请写全名"})
    second = export_bundle(client.ctx, stick(tmp_path))
    assert second.changes == 0
    answer = bureau_import(live_server, second.path)
    assert answer.error is None and answer.pulled == 1 and answer.answer_path is not None
    back = import_answer(client.ctx, answer.answer_path)
    assert back.pulled == 1
    with client.Session() as s:
        returned = s.get(Record, b)
        assert returned.status == Status.RETURNED
        assert returned.review_comments == {"inspectors": "请写全名"}
        assert [i.record_id for i in returned_records(s)] == [b]

    # The same PC syncs online now: nothing is sent again, nothing read again, nothing lost.
    result = client.engine.sync()
    assert result.complete and (result.pushed, result.pulled) == (0, 0)
    assert server_rows(live_server, school) == {
        a: (1, "received", "甲"),
        b: (2, "returned", "乙"),
        c: (2, "received", "丙（改）"),
    }
    assert client_rows(client) == {
        a: (Status.RECEIVED, "甲"),
        b: (Status.RETURNED, "乙"),
        c: (Status.RECEIVED, "丙（改）"),
    }


def _answer_payload(path: Path, device: str) -> dict[str, Any]:
    _, payload = U.open_bundle(path.read_bytes(), U.device_key(SECRET, device))
    assert isinstance(payload, dict)
    return payload


def test_the_same_bundle_twice_is_applied_once_and_answered_the_same(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    ids = [client.save(inspection(inspectors=f"检查员{i}")) for i in range(3)]
    exported = export_bundle(client.ctx, stick(tmp_path))

    first = bureau_import(live_server, exported.path)
    assert first.answer_path is not None
    first_answer = _answer_payload(first.answer_path, device_id(client))
    second = bureau_import(live_server, exported.path)

    assert second.error is None and not second.received
    assert dict(second.duplicates) == {"safety_inspection": 3}
    assert second.answer_path == first.answer_path
    assert _answer_payload(second.answer_path, device_id(client))["push"] == first_answer["push"]
    assert server_rows(live_server, school) == {
        rid: (1, "received", f"检查员{i}") for i, rid in enumerate(ids)
    }
    assert live_server.count(M.AppliedOp, M.AppliedOp.op_id.in_(_op_ids(client))) == 3

    # The clerk imports the answer twice: the second changes nothing.
    import_answer(client.ctx, second.answer_path)
    at = cursor(client)
    again = import_answer(client.ctx, second.answer_path)
    assert (again.pulled, cursor(client)) == (0, at)
    assert client.unsent() == 0
    assert set(client_rows(client).values()) == {(Status.RECEIVED, f"检查员{i}") for i in range(3)}


def _op_ids(client: Client) -> list[str]:
    from client.store.models import OutboxEntry

    with client.Session() as s:
        return list(s.execute(select(OutboxEntry.op_id)).scalars())


def test_a_bundle_whose_changes_already_arrived_online(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    rid = client.save(inspection(inspectors="甲"))
    exported = export_bundle(client.ctx, stick(tmp_path))
    # The link came back before the stick went to the bureau: the same batch, same key, goes online.
    assert client.engine.sync().pushed == 1
    assert client.unsent() == 0

    receipt = bureau_import(live_server, exported.path)

    assert receipt.error is None and not receipt.received
    assert dict(receipt.duplicates) == {"safety_inspection": 1}
    assert server_rows(live_server, school) == {rid: (1, "received", "甲")}
    assert receipt.answer_path is not None
    at = cursor(client)
    back = import_answer(client.ctx, receipt.answer_path)
    assert back.pulled == 0 and cursor(client) == at
    assert client_rows(client) == {rid: (Status.RECEIVED, "甲")}
    assert client.unsent() == 0


def test_an_older_answer_after_a_newer_one_changes_nothing(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    rid = client.save(inspection(inspectors="甲"))
    old = bureau_import(live_server, export_bundle(client.ctx, stick(tmp_path)).path)
    bureau_returns(live_server, rid, {"inspectors": "请写全名"})
    new = bureau_import(live_server, export_bundle(client.ctx, stick(tmp_path)).path)
    assert old.answer_path is not None and new.answer_path is not None

    import_answer(client.ctx, new.answer_path)
    at = cursor(client)
    stale = import_answer(client.ctx, old.answer_path)

    assert stale.pulled == 0 and cursor(client) == at
    assert client_rows(client) == {rid: (Status.RETURNED, "甲")}
    assert client.unsent() == 0
    assert server_rows(live_server, school) == {rid: (2, "returned", "甲")}


# -- refused whole, nothing applied ----------------------------------------------------------------------


def _nothing_on_server(server: LiveServer, school: str, receipt: ImportResult, code: str) -> None:
    assert receipt.error is not None and receipt.error.code == code, receipt.error
    assert receipt.answer_path is None
    assert server.school_records(school) == []
    lines = receipt.receipt_lines()
    assert "未导入任何数据" in lines[0] and "nothing imported" in lines[0]


def test_a_changed_byte_or_a_truncated_file_is_refused_with_nothing_applied(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    client.save(inspection())
    exported = export_bundle(client.ctx, stick(tmp_path))
    data = exported.path.read_bytes()

    tampered = tmp_path / "tampered.usbsync"
    changed = bytearray(data)
    changed[len(data) // 2] ^= 0x20
    tampered.write_bytes(bytes(changed))
    _nothing_on_server(
        live_server, school, bureau_import(live_server, tampered), "bundle_not_authentic"
    )

    truncated = tmp_path / "truncated.usbsync"
    truncated.write_bytes(data[: len(data) - 100])  # the stick pulled out mid-write
    _nothing_on_server(
        live_server, school, bureau_import(live_server, truncated), "bundle_not_authentic"
    )
    assert client.unsent() == 1


def test_a_bundle_naming_another_device_or_from_a_revoked_device_is_refused(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    other, _ = enrolled(make_client, live_server, "pc2")
    client.save(inspection())
    data = export_bundle(client.ctx, stick(tmp_path)).path.read_bytes()

    # The header rewritten to name another device (and so another school): its key does not open it.
    own, theirs = device_id(client), device_id(other)
    assert len(own) == len(theirs)
    swapped = tmp_path / "swapped.usbsync"
    swapped.write_bytes(data.replace(own.encode(), theirs.encode(), 1))
    receipt = bureau_import(live_server, swapped)
    assert receipt.error is not None and receipt.error.code in (
        "bundle_not_authentic",
        "bundle_wrong_school",
    )
    assert live_server.school_records(school) == []

    with live_server.session() as s, s.begin():
        revoke_device(s, own, now=SERVER_NOW)
    revoked = tmp_path / "revoked.usbsync"
    revoked.write_bytes(data)
    _nothing_on_server(
        live_server, school, bureau_import(live_server, revoked), "bundle_device_revoked"
    )


def test_the_clerk_cannot_import_another_pcs_answer_or_a_damaged_one(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, _ = enrolled(make_client, live_server)
    other, _ = enrolled(make_client, live_server, "pc2")
    other.save(inspection())
    rid = client.save(inspection(inspectors="甲"))
    theirs = bureau_import(live_server, export_bundle(other.ctx, stick(tmp_path)).path)
    ours = bureau_import(live_server, export_bundle(client.ctx, stick(tmp_path)).path)
    assert theirs.answer_path is not None and ours.answer_path is not None

    with pytest.raises(UsbError) as err:
        import_answer(client.ctx, theirs.answer_path)
    assert err.value.code == "bundle_wrong_device"

    data = ours.answer_path.read_bytes()
    cut = tmp_path / "cut.usbsync"
    cut.write_bytes(data[:-1])
    with pytest.raises(U.BundleError) as damaged:
        import_answer(client.ctx, cut)
    assert damaged.value.code == "bundle_not_authentic"
    assert client.unsent() == 1  # nothing applied: the outbox as it was
    assert client_rows(client) == {rid: (Status.SUBMITTED, "甲")}

    import_answer(client.ctx, ours.answer_path)
    assert client.unsent() == 0


# -- the key, and mixing with online syncs ----------------------------------------------------------------


def test_the_usb_key_comes_with_enrollment_and_every_pull(
    make_client: ClientFactory, live_server: LiveServer
) -> None:
    from client.store.prefs import set_setting
    from client.usb.key import USB_KEY_SETTING, usb_key

    client, _ = enrolled(make_client, live_server)
    expected = U.device_key(SECRET, device_id(client))
    with client.Session() as s:
        assert usb_key(s) == expected
    with client.Session.begin() as s:  # enrolled by a 1.12 client: no key until it pulls
        set_setting(s, USB_KEY_SETTING, None)
    with pytest.raises(UsbError) as err:
        export_bundle(client.ctx, Path("."))
    assert err.value.code == "no_usb_key" and "联网同步一次" in err.value.message_zh
    assert client.engine.sync().complete
    with client.Session() as s:
        assert usb_key(s) == expected


def test_an_answer_after_the_clerk_edited_the_record_again(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    rid = client.save(inspection(inspectors="甲"))
    exported = export_bundle(client.ctx, stick(tmp_path))
    client.save(
        inspection(inspectors="甲（改）"), record_id=rid
    )  # after the export, before the answer
    receipt = bureau_import(live_server, exported.path)
    assert receipt.answer_path is not None

    import_answer(client.ctx, receipt.answer_path)

    assert client.unsent() == 1  # the second edit still waits
    assert client_rows(client) == {rid: (Status.SUBMITTED, "甲（改）")}
    assert server_rows(live_server, school) == {rid: (1, "received", "甲")}
    result = client.engine.sync()
    assert result.complete and result.pushed == 1 and result.conflicts == []
    assert server_rows(live_server, school) == {rid: (2, "received", "甲（改）")}
    assert client_rows(client) == {rid: (Status.RECEIVED, "甲（改）")}


def test_what_another_pc_of_the_school_sent_arrives_by_stick(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    from client.store.roster import roster_entries, save_teacher
    from tests.sync.conftest import TODAY

    school, code_a = live_server.new_school("河口乡小学")
    online = make_client("pc-online")
    online.engine.enroll(live_server.url, code_a)
    _, code_b = live_server.new_school("河口乡小学", school)
    carried = make_client("pc-carried")
    carried.engine.enroll(live_server.url, code_b)
    with online.Session.begin() as s:
        teacher = save_teacher(
            s,
            forms=online.ctx.forms,
            values={"teacher_id": "T001", "name": "李老师", "gender": "female", "subject": "语文"},
            today=TODAY,
            now=online.ctx.clock.now(),
        ).record_id
    rid = online.save(inspection(inspectors="甲"))
    assert online.engine.sync().complete
    own = carried.save(inspection(inspectors="乙"))

    receipt = bureau_import(live_server, export_bundle(carried.ctx, stick(tmp_path)).path)
    assert receipt.answer_path is not None and receipt.pulled >= 2  # with the forms it never read
    import_answer(carried.ctx, receipt.answer_path)

    with carried.Session() as s:
        assert [t.name for t in roster_entries(s)] == ["李老师"]
        assert s.get(Record, teacher).status == Status.RECEIVED
    with carried.Session() as s:
        assert s.get(Record, rid).status == Status.RECEIVED
        assert s.get(Record, rid).data["inspectors"] == "甲"
        assert s.get(Record, own).status == Status.RECEIVED
    assert carried.unsent() == 0
    # The online PC reads the carried PC's record at its next sync; nothing twice on the server.
    assert online.engine.sync().pulled == 1
    assert {r: row for r, row in server_rows_all(live_server, school).items()} == {
        teacher: (1, "received"),
        rid: (1, "received"),
        own: (1, "received"),
    }


def server_rows_all(server: LiveServer, school: str) -> dict[str, tuple[int, str]]:
    return {r.id: (r.server_revision, r.status) for r in server.school_records(school)}


def test_a_return_against_an_offline_edit_is_the_same_conflict_by_stick_as_online(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    rid = client.save(inspection())
    assert client.engine.sync().complete
    bureau_returns(live_server, rid, {"signed_by": "请校长签字"})
    client.save(inspection(remarks="已补充整改照片"), record_id=rid)  # offline, before the return

    receipt = bureau_import(live_server, export_bundle(client.ctx, stick(tmp_path)).path)

    assert [r.record_id for r in receipt.refused] == [rid]  # the 回执 lists the conflict
    assert receipt.answer_path is not None
    outcome = import_answer(client.ctx, receipt.answer_path)
    assert outcome.conflicts >= 1
    with client.Session() as s:
        record = s.get(Record, rid)
        assert record.data["remarks"] == "已补充整改照片"  # nothing the clerk saved is lost
        assert record.status == Status.RETURNED
        assert record.review_comments == {"signed_by": "请校长签字"}
        (issue,) = S.open_issues(s, kind=S.IssueKind.CONFLICT)
        assert issue.record_id == rid
        assert issue.details["local"]["data"]["remarks"] == "已补充整改照片"
    assert client.unsent() == 1
    (on_server,) = live_server.school_records(school)
    assert on_server.status == "returned" and "remarks" not in on_server.data
    held = client.engine.sync()  # online now: the held change is not pushed into the same conflict
    assert held.pushed == 0 and held.pending == 1


def test_a_batch_the_bureau_refuses_whole_holds_back_only_the_change_it_names(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    import json

    client, school = enrolled(make_client, live_server)
    a = client.save(inspection(inspectors="甲"))
    b = client.save(inspection(inspectors="乙"))
    with (
        client.Session.begin() as s
    ):  # a batch in flight with one malformed change (as a buggy build sent)
        changes = [c.wire() for c in S.pending_changes(s, limit=10, max_bytes=10**7)]
        bad = dict(changes[0], saved_at=5)
        body = json.dumps({"changes": [bad, changes[1]]}, ensure_ascii=False).encode()
        S.store_batch(
            s, key="flight-1", op_ids=[c["op_id"] for c in changes], body=body, now=SERVER_NOW
        )

    first = bureau_import(live_server, export_bundle(client.ctx, stick(tmp_path)).path)

    assert first.error is None and not first.received
    assert {r.record_id for r in first.refused} == {a, b}  # nothing of the batch was received
    assert live_server.school_records(school) == []
    assert first.answer_path is not None
    outcome = import_answer(client.ctx, first.answer_path)
    assert [e["code"] for e in outcome.refused_batches] == ["bad_change"]
    with client.Session() as s:
        (issue,) = S.open_issues(s, kind=S.IssueKind.REJECTED)
        assert issue.record_id == a and issue.reason == "bad_change"
        assert S.current_batch(s) is None  # forgotten: the next export batches anew
    assert client.unsent() == 2

    second = export_bundle(client.ctx, stick(tmp_path))
    assert (second.changes, second.batches) == (2, 2)  # the refused change alone in its batch
    again = bureau_import(live_server, second.path)
    assert dict(again.received) == {"safety_inspection": 2} and again.refused == []
    assert again.answer_path is not None
    import_answer(client.ctx, again.answer_path)
    assert client.unsent() == 0
    assert server_rows(live_server, school) == {a: (1, "received", "甲"), b: (1, "received", "乙")}
    with client.Session() as s:
        assert S.open_issues(s, kind=S.IssueKind.REJECTED) == []


def test_a_pc_clock_set_back_between_two_exports_keeps_a_records_changes_in_order(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    from client.clock import FixedClock

    client, school = enrolled(make_client, live_server)
    clock = client.ctx.clock
    assert isinstance(clock, FixedClock)
    rid = client.save(inspection(inspectors="甲"))
    first = export_bundle(client.ctx, stick(tmp_path))  # lost on the way: never imported
    clock.advance(hours=-30)  # the clerk "fixes" the PC's clock
    client.save(inspection(inspectors="甲（改）"), record_id=rid)

    second = export_bundle(client.ctx, stick(tmp_path))  # both changes, the first one first

    assert (first.changes, second.changes, second.batches) == (1, 2, 2)
    # The link comes back first: the stored batches go online in the order they were made.
    result = client.engine.sync()
    assert result.complete and result.pushed == 2 and result.conflicts == []
    assert server_rows(live_server, school) == {rid: (2, "received", "甲（改）")}
    assert client_rows(client) == {rid: (Status.RECEIVED, "甲（改）")}
    # Both sticks reach the bureau later: nothing twice, and their answers change nothing.
    for bundle in (second, first):
        receipt = bureau_import(live_server, bundle.path)
        assert receipt.received == {} and receipt.refused == []
        assert receipt.answer_path is not None
        import_answer(client.ctx, receipt.answer_path)
    assert server_rows(live_server, school) == {rid: (2, "received", "甲（改）")}
    assert client_rows(client) == {rid: (Status.RECEIVED, "甲（改）")}
    assert client.unsent() == 0
