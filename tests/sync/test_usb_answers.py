"""The bureau's answers back at the school (issue 13, the no-link trial): another computer's answer is refused
whole, an answer imported again or an older one says it changed nothing, a return is named by the command
line, answers are found on a stick whatever their name, and the finished files are named. Real client
stores, the real server's import service in-process (sync_server.usb.import_file)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from client.cli import main as client_main
from client.enrollment_file import enroll_from_file
from client.store.models import Record
from client.store.prefs import set_setting
from client.usb import history
from client.usb.bundle import UsbError, export_bundle, import_answer
from client.usb.stick_files import answer_files
from tests.support.enrollment_files import on_stick, written
from tests.support.samples import inspection
from tests.sync.conftest import ClientFactory, LiveServer
from tests.sync.test_enrollment_file import SQLITE_ONLY
from tests.sync.test_usb import (
    bureau_import,
    bureau_returns,
    cursor,
    device_id,
    enrolled,
    stick,
)


@SQLITE_ONLY
def test_the_answer_of_another_pc_enrolled_from_the_same_file_is_refused_whole(
    make_client: ClientFactory,
    live_server: LiveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w = written(live_server)
    path = on_stick(tmp_path, w)
    pc1, pc2 = make_client("pc1"), make_client("pc2")
    enroll_from_file(pc1.ctx, path, w.code)
    enroll_from_file(pc2.ctx, path, w.code)  # offline: the same device id as pc1
    mine = pc1.save(inspection(inspectors="甲"))
    export_bundle(pc1.ctx, stick(tmp_path, "pc1 U盘"))
    pc2.save(inspection(inspectors="乙"))
    theirs = bureau_import(live_server, export_bundle(pc2.ctx, stick(tmp_path, "pc2 U盘")).path)
    assert theirs.error is None and theirs.answer_path is not None
    at = cursor(pc1)

    with pytest.raises(UsbError) as refused:
        import_answer(pc1.ctx, theirs.answer_path)

    assert refused.value.code == "bundle_wrong_device"
    assert refused.value.message_zh.startswith("这个答复文件是发给本校另一台电脑的")
    assert "another computer of this school" in refused.value.message_en
    with pc1.Session() as s:
        assert list(s.execute(select(Record.id)).scalars()) == [mine]
    assert pc1.unsent() == 1 and cursor(pc1) == at  # nothing applied
    # Not told by memory alone: a store that remembers no export refuses it all the same.
    with pc1.Session.begin() as s:
        set_setting(s, history.K_EXPORTED, None)
    capsys.readouterr()
    assert (
        client_main(["usb-import", str(theirs.answer_path), "--data-dir", str(tmp_path / "pc1")])
        == 2
    )
    out, err = capsys.readouterr()
    assert "这个答复文件是发给本校另一台电脑的" in err and "Traceback" not in out + err
    assert "FOREIGN KEY" not in err
    assert pc1.unsent() == 1 and cursor(pc1) == at


@SQLITE_ONLY
def test_the_command_line_names_returns_and_says_when_an_answer_brings_nothing_new(
    make_client: ClientFactory,
    live_server: LiveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SCHOOL_CLIENT_CONFIG", raising=False)
    client, _ = enrolled(make_client, live_server)
    returned = client.save(inspection(inspectors="王五"))
    assert client.engine.sync().complete
    bureau_returns(live_server, returned, {"inspectors": "请写全名"})
    client.save(inspection(inspectors="甲"))  # offline from here
    folder = stick(tmp_path)
    first = export_bundle(client.ctx, folder)
    second = export_bundle(
        client.ctx, folder
    )  # the same change again, and what the bureau has since
    older = bureau_import(live_server, first.path).answer_path
    newer = bureau_import(live_server, second.path).answer_path
    assert older is not None and newer is not None
    data = ["--data-dir", str(tmp_path / "pc1")]
    capsys.readouterr()

    def usb_import(answer: Path) -> str:
        assert client_main(["usb-import", str(answer), *data]) == 0
        return capsys.readouterr().out

    out = usb_import(newer)
    assert "1 条修改已送达教育局，记为已发送。" in out
    assert "教育局退回 1 条记录，已放到“待办”，请修改后重新提交：" in out
    assert "the bureau returned 1 record(s); they are in To do" in out
    assert "月度排查 · 王五" in out  # the returned record, by its summary
    assert "收到教育局的" not in out  # the return is not counted again as an update
    assert "U盘上这些文件已处理完，可以删除" in out
    assert str(newer) in out and str(second.path) in out and str(first.path) not in out
    assert client.unsent() == 0

    again = usb_import(newer)
    assert "此答复已导入过，没有新的内容" in again and "记为已发送" not in again
    old = usb_import(older)
    assert "较旧的答复：没有改动" in old and "退回" not in old and "记为已发送" not in old
    with client.Session() as s:
        statuses = sorted(str(r.status) for r in s.execute(select(Record)).scalars())
    assert statuses == ["received", "returned"]


@SQLITE_ONLY
def test_answers_are_found_by_their_header_whatever_their_name(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
) -> None:
    client, school = enrolled(make_client, live_server)
    other, _ = enrolled(make_client, live_server, "pc2")
    folder = stick(tmp_path)
    client.save(inspection(inspectors="甲"))
    by_cli = bureau_import(live_server, export_bundle(client.ctx, folder).path).answer_path
    assert by_cli is not None
    client.save(inspection(inspectors="乙"))
    downloaded = bureau_import(live_server, export_bundle(client.ctx, folder).path).answer_path
    assert downloaded is not None
    # As the dashboard names a download, and as the clerk may rename a file.
    dashboard = folder / f"城关镇中心小学_{downloaded.name}"
    downloaded.rename(dashboard)
    renamed = folder / "答复（教育局）.usbsync"
    shutil.copy(by_cli, renamed)
    by_cli.unlink()
    theirs = bureau_import(live_server, export_bundle(other.ctx, stick(tmp_path, "pc2")).path)
    assert theirs.answer_path is not None
    shutil.copy(theirs.answer_path, folder / f"{school}_其他电脑_answer.usbsync")
    (folder / "照片.usbsync").write_bytes(b"not a bundle")

    found = answer_files(folder, school, device_id(client))

    assert sorted(a.path.name for a in found) == sorted([dashboard.name, renamed.name])
    assert all(a.parts == 1 for a in found)
    assert [a.path.name for a in answer_files(folder, "S-other")] == []
    outcome = import_answer(client.ctx, dashboard)
    assert outcome.acknowledged == 2 and client.unsent() == 0


@SQLITE_ONLY
def test_refused_commands_say_the_os_reason_in_chinese_and_leave_no_new_folder_behind(
    make_client: ClientFactory,
    live_server: LiveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SCHOOL_CLIENT_CONFIG", raising=False)
    folder = stick(tmp_path)
    new = tmp_path / "新的数据文件夹"

    assert client_main(["usb-export", str(folder), "--data-dir", str(new)]) == 2
    assert "里没有客户端数据" in capsys.readouterr().err
    assert not new.exists()  # no logs/, store.db or key.json in a folder made by mistake

    missing = folder / "没有这个文件_answer.usbsync"
    enrolled(make_client, live_server)
    existing = tmp_path / "pc1"
    assert client_main(["usb-import", str(missing), "--data-dir", str(existing)]) == 2
    assert existing.is_dir()  # a folder that was there stays
    err = capsys.readouterr().err
    chinese, english = err.split(" / ", 1)
    assert "找不到这个文件或文件夹" in chinese and "No such file" not in chinese
    assert "No such file or directory" in english
