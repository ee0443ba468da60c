"""Enrollment by file (issue 13 item 1, protocol 1.15), end to end with the real server and real client stores:
the bureau writes the file, the clerk enrolls offline from it, records travel by USB stick, and a later online
sync pushes and pulls nothing. A second PC with the same file, a revoked file, a wrong code, a changed byte and
an unknown school are refused with their reasons."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from client.cli import main as client_main
from client.enrollment_file import (
    FREE_TRIES,
    K_FAILURES,
    EnrollFileError,
    enroll_from_file,
    installation_id,
)
from client.store import sync_state as S
from client.store.models import Record, Status
from client.store.prefs import set_setting
from client.sync.errors import SyncError
from client.usb.bundle import export_bundle, import_answer
from client.usb.key import usb_key
from forms import enrollment_file as EF
from forms import usb_bundle as U
from forms.usb_installation import bundle_installation, with_installation
from sync_server import models as M
from sync_server.cli import main as server_main
from sync_server.config import ENV_SECRET_KEY
from sync_server.enrollment_files import bind_bundle
from sync_server.errors import ServiceError
from sync_server.services.schools import adopt_token, issue_next_token, revoke_device
from sync_server.state import get_state
from sync_server.usb import import_file
from tests.support.enrollment_files import on_stick, written
from tests.support.samples import inspection
from tests.sync.conftest import SERVER_NOW, Client, ClientFactory, LiveServer

SQLITE_ONLY = pytest.mark.parametrize(
    "live_server", ["sqlite"], indirect=True
)  # no store-specific step


def file_row(server: LiveServer, device_id: str) -> M.EnrollmentFile:
    with server.session() as s:
        row = s.execute(
            select(M.EnrollmentFile).where(M.EnrollmentFile.device_id == device_id)
        ).scalar_one()
        s.expunge(row)
        return row


def client_rows(client: Client) -> dict[str, str]:
    with client.Session() as s:
        return {r.id: r.status for r in s.execute(select(Record)).scalars()}


def test_enroll_by_file_then_records_by_stick_then_online_sync_moves_nothing(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    # The school's office PC, online, sent a record before the file was written: the file brings it.
    school, code = live_server.new_school()
    office = make_client("office")
    office.engine.enroll(live_server.url, code, device_name="校长室电脑")
    earlier = office.save(inspection(inspectors="早"))
    office.engine.sync()
    w = written(live_server, school)
    path = on_stick(tmp_path, w)
    assert path.name == f"{w.school_code}_登记文件_{w.file_id[:8]}.ssenroll"
    assert w.code.encode() not in w.data and w.device_id.encode() not in w.data
    client = make_client("pc1")

    done = enroll_from_file(client.ctx, path, w.code.lower().replace("-", " "))

    e = done.enrollment
    assert (e.device_id, e.school_code, e.server_url) == (
        w.device_id,
        w.school_code,
        live_server.url,
    )
    assert e.device_token.startswith(f"f1.{w.device_id}.") and e.device_token.endswith(
        done.installation_id
    )
    assert installation_id(client.ctx) == done.installation_id
    with client.Session() as s:
        assert usb_key(s) == U.device_key("sync-tests", w.device_id)
    assert done.pulled >= 1 and client_rows(client) == {earlier: Status.RECEIVED}
    with client.Session() as s:  # the usb trial's D10: forms and records counted apart
        held = s.execute(select(func.count()).select_from(Record)).scalar_one()
    assert done.records == held == 1 and done.forms >= 1
    unused = file_row(live_server, w.device_id)
    assert unused.installation_id is None  # nothing was sent: the PC is offline

    # Offline records go by stick, through the bureau's import, and the answer comes back.
    a = client.save(inspection(inspectors="甲"))
    b = client.save(inspection(inspectors="乙"))
    stick = path.parent
    exported = export_bundle(client.ctx, stick)
    # What the bureau's USB import calls once the bundle opened with the device key (the installation id
    # from the bundle header: forms.usb_installation; see docs/protocol.md revision 1.15).
    bind_bundle(get_state(live_server.app), w.device_id, installation_id(client.ctx))
    assert file_row(live_server, w.device_id).bound_via == "usb"
    receipt = import_file(get_state(live_server.app), exported.path)
    assert receipt.error is None and dict(receipt.received) == {"safety_inspection": 2}
    assert receipt.answer_path is not None
    outcome = import_answer(client.ctx, receipt.answer_path)
    assert outcome.acknowledged == 2 and client.unsent() == 0
    assert client_rows(client) == {
        earlier: Status.RECEIVED,
        a: Status.RECEIVED,
        b: Status.RECEIVED,
    }
    assert {r.id: r.status for r in live_server.school_records(w.school_code)} == {
        earlier: "received",
        a: "received",
        b: "received",
    }

    # Later the school has a link: one online sync sends nothing and receives nothing.
    result = client.engine.sync()

    assert (result.pushed, result.pulled) == (0, 0)
    bound = file_row(live_server, w.device_id)
    assert (bound.installation_id, bound.bound_via) == (done.installation_id, "usb")
    assert len(live_server.school_records(w.school_code)) == 3
    with client.Session() as s:
        enrollment = S.get_enrollment(s)
    assert enrollment is not None and enrollment.device_token.startswith("d1.")  # rotated

    # The same file on the same (enrolled) computer again: refused, nothing changed.
    with pytest.raises(EnrollFileError) as again:
        enroll_from_file(client.ctx, path, w.code)
    assert again.value.code == "already_enrolled" and "已登记到" in again.value.message_zh


def test_a_second_pc_with_the_same_file_is_refused_online_and_by_stick(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    w = written(live_server)
    path = on_stick(tmp_path, w)
    first, second = make_client("pc1"), make_client("pc2")
    enroll_from_file(first.ctx, path, w.code)
    enroll_from_file(second.ctx, path, w.code)  # offline, nothing tells it yet
    first.save(inspection(inspectors="甲"))
    first.engine.sync()
    kept = live_server.school_records(w.school_code)
    assert len(kept) == 1
    second.save(inspection(inspectors="乙"))

    with pytest.raises(SyncError) as refused:
        second.engine.sync()

    assert refused.value.code == "enrollment_file_used"
    assert "另一台电脑上使用" in refused.value.message_zh
    assert [r.id for r in live_server.school_records(w.school_code)] == [kept[0].id]
    assert second.unsent() == 1  # nothing of the second PC is lost
    bound = file_row(live_server, w.device_id)
    assert (bound.installation_id, bound.bound_via) == (installation_id(first.ctx), "online")

    # By stick: a bundle naming the second PC's installation (as the export writes it) is refused whole.
    key = U.device_key("sync-tests", w.device_id)
    header = with_installation(
        replace(
            U.new_header(
                kind=U.TO_BUREAU,
                school_code=w.school_code,
                device_id=w.device_id,
                app_version="test",
                now=SERVER_NOW,
            ),
            format=U.FORMAT,
        ),
        installation_id(second.ctx),
    )
    bundle = U.seal(header, {"batches": [], "attachments": [], "cursor": 0}, key)
    assert (
        U.open_bundle(bundle, key)[0].device_id == w.device_id
    )  # an older reader reads it as before
    assert bundle_installation(bundle) == installation_id(second.ctx)
    with pytest.raises(ServiceError) as by_stick:
        bind_bundle(get_state(live_server.app), w.device_id, bundle_installation(bundle))
    assert by_stick.value.code == "enrollment_file_used" and by_stick.value.status == 403
    mine = with_installation(header, installation_id(first.ctx))
    assert bundle_installation(U.seal(mine, {}, key)) == installation_id(first.ctx)
    bind_bundle(get_state(live_server.app), w.device_id, installation_id(first.ctx))  # the bound PC


@SQLITE_ONLY
def test_a_file_revoked_before_use_is_refused_at_first_contact(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    w = written(live_server)
    with live_server.session() as s, s.begin():
        revoke_device(s, w.device_id, now=SERVER_NOW, actor="王科长")
    client = make_client("pc1")
    enroll_from_file(client.ctx, on_stick(tmp_path, w), w.code)  # offline: it cannot know
    rid = client.save(inspection())

    with pytest.raises(SyncError) as refused:
        client.engine.sync()

    assert refused.value.code == "enrollment_file_revoked" and "作废" in refused.value.message_zh
    assert live_server.school_records(w.school_code) == []
    assert client_rows(client) == {rid: Status.SUBMITTED}
    assert file_row(live_server, w.device_id).installation_id is None


@SQLITE_ONLY
def test_a_file_whose_token_another_pc_rotated_away_is_refused(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    """A PC heard from without binding (a USB answer handed it a next token) used the file: another PC that
    comes online with the file's token is refused, not bound."""
    w = written(live_server)
    with live_server.session() as s, s.begin():
        token = issue_next_token(s, w.device_id, secret="sync-tests", now=SERVER_NOW)
        adopt_token(s, w.device_id, token, epoch=1, now=SERVER_NOW)
    client = make_client("pc2")
    enroll_from_file(client.ctx, on_stick(tmp_path, w), w.code)

    with pytest.raises(SyncError) as refused:
        client.engine.sync()

    assert refused.value.code == "enrollment_file_used"
    assert file_row(live_server, w.device_id).installation_id is None


@SQLITE_ONLY
def test_wrong_code_changed_byte_and_the_wait_after_many_wrong_codes(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    w = written(live_server)
    path = on_stick(tmp_path, w)
    client = make_client("pc1")
    for n in range(FREE_TRIES):
        with pytest.raises(EnrollFileError) as wrong:
            enroll_from_file(client.ctx, path, "AAAA-AAAA-AAAA")
        assert wrong.value.code == "enrollment_file_wrong_code", n
    assert "登记码不对" in wrong.value.message_zh and "wrong code" in wrong.value.message_en

    with pytest.raises(EnrollFileError) as waiting:
        enroll_from_file(client.ctx, path, w.code)  # even the right code waits now
    assert waiting.value.code == "too_many_wrong_codes" and waiting.value.retry_after == 15
    assert "秒后再试" in waiting.value.message_zh

    changed = bytearray(w.data)
    changed[-40] ^= 0x01
    tampered = path.with_name("changed.ssenroll")
    tampered.write_bytes(bytes(changed))
    with client.Session.begin() as s:
        set_setting(s, K_FAILURES, None)  # the wait is over
    with pytest.raises(EnrollFileError) as bad:
        enroll_from_file(client.ctx, tampered, w.code)
    assert (
        bad.value.code == "enrollment_file_wrong_code"
    )  # a changed byte fails the tag as a wrong code
    truncated = path.with_name("cut.ssenroll")
    truncated.write_bytes(w.data[:30])
    with pytest.raises(EnrollFileError) as cut:
        enroll_from_file(client.ctx, truncated, w.code)
    assert cut.value.code == "enrollment_file_malformed" and "不完整" in cut.value.message_zh
    truncated.write_bytes(w.data[: len(w.data) // 2])  # the usb trial's D9: cut after its header
    with pytest.raises(EnrollFileError) as half:
        enroll_from_file(client.ctx, truncated, w.code)
    assert half.value.code == "enrollment_file_malformed" and "不完整" in half.value.message_zh
    assert "truncated" in half.value.message_en
    with pytest.raises(
        EnrollFileError
    ) as missing:  # the usb trial's D11: not in English in Chinese
        enroll_from_file(client.ctx, path.with_name("没有这个.ssenroll"), w.code)
    assert "找不到这个文件或文件夹" in missing.value.message_zh
    assert "No such file" in missing.value.message_en
    with client.Session() as s:
        assert S.get_enrollment(s) is None  # nothing kept

    enroll_from_file(client.ctx, path, w.code)
    with client.Session() as s:
        assert S.get_enrollment(s) is not None


@SQLITE_ONLY
def test_unknown_school_is_refused_and_nothing_is_made(live_server: LiveServer) -> None:
    devices = live_server.count(M.Device)
    with pytest.raises(ServiceError) as unknown:
        written(live_server, "NOSUCH9")
    assert unknown.value.code == "unknown_school" and "NOSUCH9" in unknown.value.message_zh
    assert live_server.count(M.Device) == devices


@SQLITE_ONLY
def test_the_command_lines_write_and_enroll(
    live_server: LiveServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("SCHOOL_CLIENT_CONFIG", raising=False)
    monkeypatch.setenv(ENV_SECRET_KEY, "sync-tests")  # the live server's secret key
    state = get_state(live_server.app)
    server = [
        "--instance",
        live_server.app.instance_path,
        "--db",
        str(state.config["DATABASE_URL"]),
    ]
    school, _ = live_server.new_school()
    stick = tmp_path / "U盘"
    stick.mkdir()

    unknown = [
        "enrollment-file",
        "--school",
        "NOSUCH9",
        "--out",
        str(stick),
        "--server",
        live_server.url,
    ]
    assert server_main([*unknown, *server]) == 2
    assert "NOSUCH9" in capsys.readouterr().err
    assert (
        server_main([*unknown[:-2], *server]) == 2
    )  # the usb trial's D11: the school is said first
    err = capsys.readouterr().err
    assert "NOSUCH9" in err and "--server" not in err
    no_url = [
        "enrollment-file",
        "--school",
        school,
        "--out",
        str(stick),
        "--server",
        "10.1.2.3:8700",
    ]
    assert server_main([*no_url, *server]) == 2
    assert "服务器地址" in capsys.readouterr().err and list(stick.iterdir()) == []
    # A folder that takes no file (as a full or pulled-out stick): the file's device is revoked at once.
    unwritable = [
        "enrollment-file",
        "--school",
        school,
        "--out",
        "/proc",
        "--server",
        live_server.url,
    ]
    assert server_main([*unwritable, *server]) == 1
    err = capsys.readouterr().err
    assert "文件或网络错误" in err
    zh = err.split(" / ")[
        0
    ]  # the usb trial's D11: the system's reason in Chinese in the Chinese half
    assert "Errno" not in zh and "denied" not in zh and "No such" not in zh, err
    with live_server.session() as s:
        (lost,) = s.execute(
            select(M.Device).join(M.School).where(M.School.code == school)
        ).scalars()
        assert lost.revoked_at is not None
    write = [
        "enrollment-file",
        "--school",
        school,
        "--out",
        str(stick),
        "--server",
        live_server.url,
    ]
    assert server_main([*write, *server, "--json"]) == 0
    out = capsys.readouterr().out

    result = json.loads(out.strip().splitlines()[-1])
    assert "登记码" in out and result["code"] in out and result["device_id"] in out
    (path,) = stick.iterdir()
    assert str(path) == result["path"] and EF.read_header(path.read_bytes()).n == EF.SCRYPT_N

    data = tmp_path / "学校电脑"
    monkeypatch.setattr("sys.stdin", io.StringIO("WRONG-CODE-XXXX\n"))
    assert client_main(["enroll", "--file", str(path), "--data-dir", str(data)]) == 2
    assert "登记码不对" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(result["code"] + "\n"))
    assert client_main(["enroll", "--file", str(path), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert f"已从登记文件登记：本机属于“城关镇中心小学”（{school}）" in out
    assert re.search(r"收到表单 \d+ 个、记录 0 条", out) and "表单、名册和记录" not in out
    assert (
        client_main(
            ["enroll", "--file", str(path), "--code", result["code"], "--data-dir", str(data)]
        )
        == 2
    )
    assert "已登记到" in capsys.readouterr().err


def _send(way: str, pc: Client, server: LiveServer, folder: Path) -> str | None:
    """`pc`'s records to the bureau by `way` ("stick": export, the bureau's import; "online": a sync); the
    refusal's code, or None when it was taken."""
    if way == "online":
        try:
            pc.engine.sync()
        except SyncError as exc:
            assert "这个登记文件已在另一台电脑上使用" in exc.message_zh
            return exc.code
        return None
    folder.mkdir(exist_ok=True)
    result = import_file(get_state(server.app), export_bundle(pc.ctx, folder).path)
    if result.error is None:
        assert result.answer_path is not None
        import_answer(pc.ctx, result.answer_path)
        return None
    assert result.answer_path is None and result.received == {}
    text = "\n".join(result.receipt_lines())
    assert "这个登记文件已在另一台电脑上使用" in text and "another computer" in text
    return result.error.code


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("first_way", "second_way", "later_pc_first"),
    [
        ("stick", "stick", False),
        ("stick", "stick", True),
        ("online", "stick", False),
        ("stick", "online", True),
    ],
)
def test_two_pcs_enrolled_from_one_file_only_the_first_heard_from_syncs(
    make_client: ClientFactory,
    live_server: LiveServer,
    tmp_path: Path,
    first_way: str,
    second_way: str,
    later_pc_first: bool,
) -> None:
    """The usb trial's D1: the same file on two PCs; whichever is heard from first (by stick or online) binds
    the file, the other is refused whole, by stick as online, every time, nothing of it applied."""
    w = written(live_server)
    path = on_stick(tmp_path, w)
    pcs = [make_client("pc1"), make_client("pc2")]
    for pc in pcs:
        enroll_from_file(pc.ctx, path, w.code)  # both offline
    first, second = reversed(pcs) if later_pc_first else pcs
    own = first.save(inspection(inspectors="甲"))
    second.save(inspection(inspectors="乙"))

    assert _send(first_way, first, live_server, tmp_path / "甲") is None

    bound = file_row(live_server, w.device_id)
    assert (bound.installation_id, bound.bound_via) == (
        installation_id(first.ctx),
        "usb" if first_way == "stick" else "online",
    )
    assert _send(second_way, second, live_server, tmp_path / "乙1") == "enrollment_file_used"
    second.save(inspection(inspectors="丙"))
    assert _send("stick", second, live_server, tmp_path / "乙2") == "enrollment_file_used"
    assert [r.id for r in live_server.school_records(w.school_code)] == [own]
    first.save(inspection(inspectors="丁"))  # the bound PC goes on, by stick and online
    assert _send("stick", first, live_server, tmp_path / "甲2") is None
    assert _send("online", first, live_server, tmp_path) is None
    assert len(live_server.school_records(w.school_code)) == 2
    assert file_row(live_server, w.device_id).installation_id == installation_id(first.ctx)


@SQLITE_ONLY
def test_a_file_left_unbound_by_an_older_bureau_binds_the_pc_that_holds_the_rotated_token(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    """The usb trial's D1 on a bureau upgraded mid-way: its older program imported the first PC's bundles
    without binding the file (installation id NULL) and that PC's token rotated since. The second PC, which
    still holds the file's token, is refused by stick too; the first one's next bundle binds the file."""
    w = written(live_server)
    path = on_stick(tmp_path, w)
    first, second = make_client("pc1"), make_client("pc2")
    for pc in (first, second):
        enroll_from_file(pc.ctx, path, w.code)
    first.save(inspection(inspectors="甲"))
    assert (
        _send("stick", first, live_server, tmp_path / "甲") is None
    )  # the answer hands a next token
    with live_server.session() as s, s.begin():  # as the older bureau program left it
        row = s.execute(
            select(M.EnrollmentFile).where(M.EnrollmentFile.device_id == w.device_id)
        ).scalar_one()
        row.installation_id = row.bound_at = row.bound_via = None
    assert _send("online", first, live_server, tmp_path) is None  # the next token taken: rotated
    assert file_row(live_server, w.device_id).installation_id is None
    second.save(inspection(inspectors="乙"))

    assert _send("stick", second, live_server, tmp_path / "乙") == "enrollment_file_used"

    assert file_row(live_server, w.device_id).installation_id is None
    first.save(inspection(inspectors="丙"))
    assert _send("stick", first, live_server, tmp_path / "甲2") is None
    assert file_row(live_server, w.device_id).installation_id == installation_id(first.ctx)
    assert len(live_server.school_records(w.school_code)) == 2
