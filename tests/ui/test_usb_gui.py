"""用U盘同步 in the GUI (issue 13 items 2 and 4): the dialog opened from the status bar, the sticks found in a
made-up Linux /proc + /sys tree (the real detection run on real files), an export onto the stick, the
bureau's import of it by the real server's import service (sync_server.usb.import_file, in-process, as
tests/sync/test_usb.py does), and the answer imported by the clerk: counts, refusals with their reasons, a
return in 待办. Damaged and foreign answers, a pulled-out stick, a read-only or full stick are refused in
Chinese with the English beneath, nothing applied. Online syncs wait for a USB export, and it for them."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from sqlalchemy import func, select

from client.context import ClientContext
from client.store import sync_state as S
from client.store.models import OutboxEntry, Record, Status, SyncBatch
from client.sync.engine import SyncEngine
from client.ui.main_window import LineRole, MainWindow
from client.ui.usb_actions import SETTING_FOLDER, ImportDone, Refusal
from client.ui.usb_dialog import UsbSyncDialog
from client.usb import drives as D
from client.usb.bundle import ImportResult
from forms import usb_bundle as U
from sync_server.state import get_state
from sync_server.usb import import_file
from tests.store.todo_data import save as save_record
from tests.support.samples import inspection
from tests.sync.conftest import LiveServer
from tests.ui import test_sync_gui
from tests.ui.main_helpers import NOW, open_ctx, settle
from tests.ui.test_sync_gui import bureau_returns, enroll, local_clock, open_window

server = (
    test_sync_gui.server
)  # the real server on loopback (module scope), shared with the sync GUI tests

pytest_plugins = ("tests.ui.fixtures_main",)

FORM = "safety_inspection"


# -- a made-up Linux: /proc/self/mounts, /sys/block, the mount folders -------------------------------------

USB_PATH = "devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block"
SATA_PATH = "devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block"


def fake_linux(root: Path, mounts: list[tuple[str, str, str, str]], disks: dict[str, Any]) -> Path:
    """`mounts`: (device, mount point, file system, options) as /proc/self/mounts writes them (a space as
    \\040); `disks`: name -> (removable flag, on USB, partitions). Mount folders are made under root."""
    for disk, (removable, usb, parts) in disks.items():
        real = root / "sys" / (USB_PATH if usb else SATA_PATH) / disk
        real.mkdir(parents=True)
        (real / "removable").write_text(f"{removable}\n")
        for part in parts:
            (real / part).mkdir()
        link = root / "sys" / "block" / disk
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(real, link.parent))
    lines = []
    for device, point, fstype, options in mounts:
        lines.append(f"{device} {point} {fstype} {options} 0 0")
        folder = root / point.replace("\\040", " ").lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "mounts").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def one_stick(root: Path) -> Path:
    fake_linux(
        root,
        [("/dev/sdb1", "/media/clerk/KINGSTON", "vfat", "rw,nosuid,nodev,relatime,uid=1000")],
        {"sdb": (1, True, ["sdb1"])},
    )
    return root / "media/clerk/KINGSTON"


def test_sticks_are_found_in_mounts_whose_disk_is_removable_or_on_usb(tmp_path: Path) -> None:
    root = fake_linux(
        tmp_path,
        [
            ("sysfs", "/sys", "sysfs", "rw"),
            ("/dev/sda2", "/", "ext4", "rw"),
            ("/dev/sda3", "/mnt/data", "ext4", "rw"),  # a second internal disk: not a stick
            ("/dev/sdb1", "/media/clerk/KINGSTON", "vfat", "rw,uid=1000"),
            # removable=0 but on the USB bus (many sticks say so), a label with a space and Chinese
            ("/dev/sdc1", "/run/media/clerk/教务处\\040U盘", "exfat", "rw"),
            ("/dev/sdd1", "/media/clerk/LOCKED", "vfat", "ro,uid=1000"),  # write-protect switch on
            ("/dev/mmcblk0p1", "/mnt/sdcard", "vfat", "rw"),  # a card reader's card
            (
                "/dev/sde1",
                "/home/clerk/stick",
                "vfat",
                "rw",
            ),  # removable, mounted elsewhere: not offered
            ("tmpfs", "/run/user/1000", "tmpfs", "rw"),
        ],
        {
            "sda": (0, False, ["sda2", "sda3"]),
            "sdb": (1, True, ["sdb1"]),
            "sdc": (0, True, ["sdc1"]),
            "sdd": (1, True, ["sdd1"]),
            "sde": (1, True, ["sde1"]),
            "mmcblk0": (1, False, ["mmcblk0p1"]),
        },
    )

    found = D.linux_drives(root)

    assert [(d.label, d.filesystem, d.read_only, d.path) for d in found] == [
        ("KINGSTON", "vfat", False, root / "media/clerk/KINGSTON"),
        ("LOCKED", "vfat", True, root / "media/clerk/LOCKED"),
        ("sdcard", "vfat", False, root / "mnt/sdcard"),
        ("教务处 U盘", "exfat", False, root / "run/media/clerk/教务处 U盘"),
    ]
    assert all(d.free > 0 and d.total >= d.free and d.removable for d in found)
    assert found[0].fat32 and not found[3].fat32
    assert [d.path for d in D.removable_drives(root=root)] == [d.path for d in found]
    assert D.linux_drives(tmp_path / "nothing") == []  # no /proc: nothing, no error


def test_a_read_only_or_too_small_stick_is_refused_before_anything_is_written(
    qtbot: Any, window: MainWindow, server: LiveServer, main_ctx: ClientContext, tmp_path: Path
) -> None:
    enroll(main_ctx, server)
    save(main_ctx, inspection(inspectors="甲"))
    root = fake_linux(
        tmp_path / "root",
        [
            ("/dev/sdb1", "/media/clerk/BIG", "vfat", "rw"),
            ("/dev/sdd1", "/media/clerk/LOCKED", "vfat", "ro"),
        ],
        {"sdb": (1, True, ["sdb1"]), "sdd": (1, True, ["sdd1"])},
    )
    big, locked = D.linux_drives(root)
    tiny = replace(big, label="TINY", free=50_000)  # what a nearly full stick reports
    dialog = open_dialog(qtbot, window, lambda: [big, locked, tiny])

    assert dialog.drive_combo.count() == 3
    assert dialog.drive_combo.itemText(1).startswith("LOCKED — 可用 ")
    assert dialog.drive_combo.itemText(1).endswith("（VFAT），只读")
    dialog.drive_combo.setCurrentIndex(1)
    assert not dialog.export_button.isEnabled()
    room = plain(dialog.room_label.text())
    assert "U盘“LOCKED”是只读的" in room and "the stick 'LOCKED' is read-only" in room
    dialog.drive_combo.setCurrentIndex(2)
    assert not dialog.export_button.isEnabled()
    room = plain(dialog.room_label.text())
    assert "U盘“TINY”只剩 49 KB，这次导出约需 1.0 MB" in room and "has 49 KB free" in room
    dialog.drive_combo.setCurrentIndex(0)
    assert (
        dialog.export_button.isEnabled() and "这次导出最多约需 1.0 MB" in dialog.room_label.text()
    )
    assert list((root / "media/clerk").rglob("*.usbsync")) == []

    # The stick is pulled out between listing it and 导出: said so, nothing written, nothing marked.
    shutil.rmtree(big.path)
    export(qtbot, dialog)
    text = dialog.message_text()
    assert "读写U盘时出错，U盘可能被拔出了" in text and "没有导出" in text
    assert "it may have been pulled out" in text
    assert unsent(main_ctx) == 1


def test_export_then_the_bureaus_answer_by_stick_in_the_window(
    qtbot: Any, window: MainWindow, server: LiveServer, main_ctx: ClientContext, tmp_path: Path
) -> None:
    school = enroll(main_ctx, server)
    # Sent online earlier, and returned by the bureau since.
    returned = save(main_ctx, inspection(inspectors="王五"))
    online_sync(main_ctx)
    bureau_returns(server, returned, {"inspectors": "请写全名"})
    # Another PC of the school adds teacher T009 online; this PC, offline, adds another T009.
    other = open_ctx(tmp_path / "pc2")
    try:
        _, code = server.new_school("城关镇中心小学", code=school)
        with requests.Session() as http:
            SyncEngine(other, http).enroll(server.url, code, device_name="校长室电脑")
        save(
            other,
            {"teacher_id": "T009", "name": "王芳", "gender": "female", "active": "yes"},
            form="teachers",
        )
        online_sync(other)
    finally:
        other.close()
    # Offline from here.
    a = save(main_ctx, inspection(inspectors="甲"))
    save(
        main_ctx,
        {"teacher_id": "T009", "name": "赵六", "gender": "male", "active": "yes"},
        form="teachers",
    )
    stick = one_stick(tmp_path / "root")
    root = tmp_path / "root"
    window.refresh_all()
    settle(window.tasks)
    assert window.status.pending_label.text() == "待发送：2 条"

    dialog = open_dialog(qtbot, window, lambda: D.linux_drives(root))
    assert dialog.drive_combo.currentText().startswith("KINGSTON — 可用 ")
    assert dialog.pending_label.text() == "待发送：2 条修改"
    assert dialog.answer_combo.currentText() == "这个U盘上没有教育局的答复文件"
    assert not dialog.import_button.isEnabled()

    with qtbot.waitSignal(dialog.exported, timeout=20000) as exported:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    settle(window.tasks)
    bundle = exported.args[0].path
    assert bundle.parent == stick and bundle.name.startswith(f"城关镇中心小学_{school}_")
    text = dialog.message_text()
    assert "已写入并校验，可以安全拔出U盘。" in text and f"文件：{bundle.name}" in text
    assert "共 2 条修改（1 批）、0 个照片和文件，在U盘“KINGSTON”。" in text
    assert dialog.progress.maximum() == 1 and dialog.progress.value() == 1  # one batch written
    assert unsent(main_ctx) == 2  # sent only once the answer says so
    assert window.status.pending_label.text() == "待发送：2 条"
    with main_ctx.store.Session() as s:
        assert s.execute(select(func.count()).select_from(SyncBatch)).scalar_one() == 1
        from client.store.prefs import get_setting

        assert get_setting(s, SETTING_FOLDER) == str(stick)  # remembered

    # At the bureau.
    receipt = import_file(get_state(server.app), bundle)
    assert receipt.error is None and receipt.answer_path is not None
    assert dict(receipt.received) == {FORM: 1}
    server_ids = {r.id: r.status for r in server.school_records(school)}
    assert server_ids[a] == "received" and server_ids[returned] == "returned"

    # Back at the school: the answer is offered (the drive list is read again).
    with qtbot.waitSignal(dialog.idle, timeout=10000):
        dialog.refresh_drives()
    assert dialog.answer_combo.currentText() == receipt.answer_path.name
    with qtbot.waitSignal(dialog.imported, timeout=20000):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    settle(window.tasks)

    text = dialog.message_text()
    assert f"已导入教育局的答复：{receipt.answer_path.name}" in text
    assert "1 条修改已送达教育局，记为已发送。" in text
    assert "教育局退回 1 条记录，已放到“待办”，请修改后重新提交：" in text
    assert "月度排查 · 王五" in text  # the returned record, by its summary
    assert (
        "收到教育局的" not in text
    )  # the return and the conflict are not counted again as updates
    # 导入后从U盘删除已处理的文件 (on by default): the answer and the bundle it answers are gone.
    assert dialog.remove_done_box.isChecked()
    assert sorted(p.name for p in stick.iterdir()) == [f"{bundle.stem}_回执.txt"]
    assert f"已从U盘删除处理完的文件：{bundle.name}、{receipt.answer_path.name}" in text
    # Two teachers with staff number T009: the clerk chooses in 待办, as after an online sync.
    assert "1 条记录与教育局的版本冲突，请到“待办”选择保留哪个版本。" in text
    with main_ctx.store.Session() as s:
        statuses = {r.id: r.status for r in s.execute(select(Record)).scalars()}
        assert statuses[a] == Status.RECEIVED and statuses[returned] == Status.RETURNED
        (conflict,) = S.open_issues(s, kind=S.IssueKind.CONFLICT)
        assert conflict.reason == "roster_duplicate"
    assert unsent(main_ctx) == 1  # the teacher waits for the clerk's choice
    # The window read everything again: 待办 lists the return and the conflict, the status bar what waits.
    assert [i.record_id for i in window.home.returned_model.items()] == [returned]
    assert [i.record_id for i in window.home.issue_model.items()] == [conflict.record_id]
    home = window.nav_item("home")
    assert home is not None
    home_line = " ".join(p for p, _ in home.data(LineRole))
    assert "退回 1" in home_line and "未同步 1" in home_line
    assert window.status.pending_label.text() == "待发送：1 条"

    # Closed and opened again: the stick chosen last time is chosen.
    dialog.close()
    settle(window.tasks)
    again = open_dialog(qtbot, window, lambda: D.linux_drives(root))
    assert again.current_drive() is not None and again.current_drive().path == stick  # type: ignore[union-attr]


def test_damaged_partial_and_foreign_answers_are_refused_with_nothing_applied(
    qtbot: Any, window: MainWindow, server: LiveServer, main_ctx: ClientContext, tmp_path: Path
) -> None:
    school = enroll(main_ctx, server)
    save(main_ctx, inspection(inspectors="甲"))
    stick = one_stick(tmp_path / "root")
    root = tmp_path / "root"
    dialog = open_dialog(qtbot, window, lambda: D.linux_drives(root))
    export(qtbot, dialog)
    (bundle,) = stick.glob("*.usbsync")
    answer = import_file(get_state(server.app), bundle).answer_path
    assert answer is not None
    # Another PC of the school: its answer is not for this one.
    other = open_ctx(tmp_path / "pc2")
    try:
        _, code = server.new_school("城关镇中心小学", code=school)
        with requests.Session() as http:
            SyncEngine(other, http).enroll(server.url, code, device_name="校长室电脑")
        from client.usb.bundle import export_bundle

        theirs_dir = tmp_path / "theirs"
        theirs_dir.mkdir()
        theirs = import_file(get_state(server.app), export_bundle(other, theirs_dir).path)
    finally:
        other.close()
    assert theirs.answer_path is not None
    data = answer.read_bytes()
    damaged = stick / "damaged_answer.usbsync"
    damaged.write_bytes(data[:-40] + bytes([data[-40] ^ 1]) + data[-39:])
    partial = stick / "partial_answer.usbsync"
    partial.write_bytes(data[: len(data) // 2])

    cases = [
        (damaged, "校验失败", "failed its check"),
        (partial, "", ""),
        (
            theirs.answer_path,
            "这个答复文件是发给本校另一台电脑的",
            "another computer of this school",
        ),
        (stick / "gone_answer.usbsync", "U盘可能被拔出了", "it may have been pulled out"),
    ]
    for path, zh, en in cases:
        with qtbot.waitSignal(dialog.idle, timeout=10000):
            dialog.import_file(path)
        settle(window.tasks)
        chinese, english = dialog.message_text().splitlines()
        assert zh in chinese and chinese.endswith("未导入任何数据"), (path.name, chinese)
        assert en in english and english.endswith("nothing was imported"), (path.name, english)
        assert unsent(main_ctx) == 1  # nothing applied
    assert not window.sync.held  # every refusal let syncs go on

    # The good one is offered, downloaded from the dashboard (its name starts with the school's), beside
    # another computer's answer, which is not; it still imports, the finished files are kept when asked.
    foreign = Path(
        shutil.copy(theirs.answer_path, stick / f"{school}_1000_0badcafe_answer.usbsync")
    )
    downloaded = answer.rename(stick / f"城关镇中心小学_{school}_1000_feedbeef_answer.usbsync")
    by_cli = Path(shutil.copy(downloaded, stick / f"{school}_1000_feedbeef_answer.usbsync"))
    with qtbot.waitSignal(dialog.idle, timeout=10000):
        dialog.refresh_drives()
    offered = {dialog.answer_combo.itemText(i) for i in range(dialog.answer_combo.count())}
    assert {downloaded.name, by_cli.name} <= offered and foreign.name not in offered
    dialog.answer_combo.setCurrentIndex(dialog.answer_combo.findText(downloaded.name))
    dialog.remove_done_box.setChecked(False)
    with qtbot.waitSignal(dialog.imported, timeout=10000):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    settle(window.tasks)
    assert unsent(main_ctx) == 0
    assert downloaded.is_file() and bundle.is_file()
    finished = "、".join(sorted([bundle.name, downloaded.name]))  # in the order of their names
    assert f"U盘上这些文件已处理完，可以删除：{finished}" in dialog.message_text()
    by_cli.unlink()
    # Synced by stick only: the status bar says when, and claims no connection to the server.
    window.refresh_all()
    settle(window.tasks)
    assert window.status.sync_label.text() == f"上次U盘同步：今天 {local_clock(NOW)}"
    # The same answer again: nothing new, said so.
    with qtbot.waitSignal(dialog.imported, timeout=10000):
        dialog.import_file(downloaded)
    settle(window.tasks)
    text = dialog.message_text()
    assert "此答复已导入过，没有新的内容" in text and "记为已发送" not in text


def test_a_bundle_in_parts_and_a_batch_the_bureau_refuses_with_its_reason(
    qtbot: Any, window: MainWindow, server: LiveServer, main_ctx: ClientContext, tmp_path: Path
) -> None:
    enroll(main_ctx, server)
    first = save(main_ctx, inspection(inspectors="甲"))
    save(main_ctx, inspection(inspectors="乙"))
    with (
        main_ctx.store.Session.begin() as s
    ):  # a batch in flight with a malformed change (a buggy build)
        changes = [c.wire() for c in S.pending_changes(s, limit=10, max_bytes=10**7)]
        body = json.dumps({"changes": [dict(changes[0], saved_at=5), changes[1]]}).encode()
        S.store_batch(s, key="flight-1", op_ids=[c["op_id"] for c in changes], body=body, now=NOW)
    root = tmp_path / "root"
    stick = one_stick(root)
    dialog = open_dialog(qtbot, window, lambda: D.linux_drives(root))
    dialog.part_bytes = 1024  # numbered parts, as a bundle larger than FAT32's 4 GB is written
    export(qtbot, dialog)
    parts = sorted(stick.glob("*.usbsync"))
    assert len(parts) >= 2
    text = dialog.message_text()
    assert f"文件分成 {len(parts)} 个分卷（FAT32 的U盘一个文件最大 4 GB），请全部带上：" in text
    assert "_分卷1共" in text
    answer = import_file(get_state(server.app), parts[0], part_bytes=1024).answer_path
    assert answer is not None
    with qtbot.waitSignal(dialog.idle, timeout=10000):
        dialog.refresh_drives()
    answer_parts = sorted(stick.glob("*_answer_分卷*.usbsync"))
    assert len(answer_parts) >= 2
    stem = answer_parts[0].name.split("_分卷")[0]
    assert dialog.answer_combo.currentText() == f"{stem}（{len(answer_parts)} 个分卷）"
    # A part left behind: refused, nothing applied.
    (tmp_path / "one part").mkdir()
    alone = Path(shutil.copy(answer_parts[0], tmp_path / "one part"))
    with qtbot.waitSignal(dialog.idle, timeout=10000):
        dialog.import_file(alone)
    chinese, english = dialog.message_text().splitlines()
    assert chinese.endswith("未导入任何数据") and english.endswith("nothing was imported")
    assert unsent(main_ctx) == 2
    with qtbot.waitSignal(dialog.imported, timeout=10000):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    settle(window.tasks)

    text = dialog.message_text()
    assert "0 条修改已送达教育局，记为已发送。" in text
    assert "教育局拒收 1 条，请到“待办”查看：" in text
    with main_ctx.store.Session() as s:
        (issue,) = S.open_issues(s, kind=S.IssueKind.REJECTED)
    assert issue.record_id == first
    assert f"· {issue.message_zh}" in text and issue.message_en in text
    assert unsent(main_ctx) == 2
    assert [i.record_id for i in window.home.issue_model.items()] == [first]


def test_a_usb_export_and_an_online_sync_never_run_at_once(
    qtbot: Any, window: MainWindow, server: LiveServer, main_ctx: ClientContext, tmp_path: Path
) -> None:
    enroll(main_ctx, server)
    window.sync.start()
    settle(window.tasks)
    save(main_ctx, inspection(inspectors="甲"))
    root = tmp_path / "root"
    stick = one_stick(root)
    dialog = open_dialog(qtbot, window, lambda: D.linux_drives(root))
    syncs = window.sync.syncs

    # A sync runs when 导出 is clicked: the export waits for it, then starts by itself.
    assert window.sync.sync_now() and window.sync.running
    with qtbot.waitSignal(dialog.exported, timeout=20000) as exported:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        assert "正在联网同步，同步结束后自动开始…" in dialog.message_text()
        assert not dialog.export_button.isEnabled()
    settle(window.tasks)
    assert window.sync.syncs == syncs + 1
    assert exported.args[0].changes == 0  # the sync had sent it

    # A sync asked for during an export starts when it ends.
    save(main_ctx, inspection(inspectors="乙"))
    dialog.reload()
    settle(window.tasks)
    with qtbot.waitSignal(dialog.exported, timeout=20000) as exported:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        assert window.sync.held
        assert window.sync.sync_now()
        assert not window.sync.running  # held off
    assert exported.args[0].changes == 1
    with qtbot.waitSignal(window.sync.idle, timeout=20000):
        pass  # the held sync runs now
    settle(window.tasks)
    assert window.sync.syncs == syncs + 2 and not window.sync.held
    assert unsent(main_ctx) == 0
    assert len(list(stick.glob("*.usbsync"))) == 2


def test_a_stick_plugged_in_while_the_dialog_is_open_appears_and_any_folder_can_be_chosen(
    qtbot: Any, chinese: None, main_ctx: ClientContext, main_tasks: Any, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "mounts").write_text("/dev/sda2 / ext4 rw 0 0\n")
    dialog = UsbSyncDialog(main_ctx, main_tasks, None, list_drives=lambda: D.linux_drives(root))
    qtbot.addWidget(dialog)
    dialog.poll_ms = 20
    dialog.show()
    qtbot.waitUntil(
        lambda: dialog.state is not None and dialog.drive_combo.count() > 0, timeout=10000
    )
    assert dialog.drive_combo.currentText().startswith("没有找到U盘：请插入U盘后点“刷新”")
    assert dialog.current_drive() is None and not dialog.export_button.isEnabled()

    (root / "proc").rename(tmp_path / "old proc")  # the stick is plugged in: a new mount table
    stick = one_stick(root)
    qtbot.waitUntil(lambda: dialog.current_drive() is not None, timeout=10000)
    assert dialog.current_drive().path == stick  # type: ignore[union-attr]
    assert dialog.drive_combo.currentText().startswith("KINGSTON — 可用 ")

    folder = tmp_path / "其他文件夹"
    folder.mkdir()
    dialog.poll_ms = 0
    dialog._poll.stop()
    dialog.use_folder(folder)  # what 选择文件夹… does with the folder chosen
    assert dialog.current_drive() is not None and dialog.current_drive().path == folder  # type: ignore[union-attr]
    assert dialog.drive_combo.currentText().startswith(f"文件夹 {folder} — 可用 ")
    assert dialog.drive_combo.count() == 2  # the stick is still offered
    assert "本机尚未登记" in dialog.pending_label.text()
    settle(main_tasks)


def test_an_answer_with_many_refusals_scrolls_inside_a_dialog_that_fits_the_screen(
    qtbot: Any, chinese: None, main_ctx: ClientContext, main_tasks: Any, tmp_path: Path
) -> None:
    dialog = UsbSyncDialog(main_ctx, main_tasks, None, list_drives=lambda: [])
    qtbot.addWidget(dialog)
    dialog.poll_ms = 0
    dialog.show()
    settle(main_tasks)
    header = U.new_header(
        kind=U.TO_SCHOOL, school_code="S001", device_id="pc", app_version="1", now=NOW
    )
    reason = "记录数据过大，超过了教育局服务器允许的大小（每条记录最多 2 MB），请删掉一些照片或附件后重新提交"
    english = (
        "the record's data is too large for the bureau's server (at most 2 MB a record); remove some "
        "photos or attachments, then submit it again"
    )
    done = ImportDone(
        tmp_path / "S001_20261128-1000_12345678_answer.usbsync",
        ImportResult(header, acknowledged=40),
        new_returns=[f"校园安全隐患排查整治记录：月度排查 · 第 {i} 次" for i in range(5)],
        refusals=[Refusal(f"师德师风记录：教师 {i}", reason, english) for i in range(8)],
        roster_updates=3,
        conflicts=2,
    )

    dialog._imported(done)  # what the import job hands back
    dialog.adjustSize()
    settle(main_tasks)

    assert "教育局拒收 8 条，请到“待办”查看：" in dialog.message_text()
    assert (
        dialog.sizeHint().height() <= 768 - 60
    )  # within the screen, its title bar and the taskbar
    assert dialog.message_area.verticalScrollBar().maximum() > 0  # the rest scrolls


# -- helpers ------------------------------------------------------------------------------------------------


@pytest.fixture
def window(
    qtbot: Any, chinese: None, main_ctx: ClientContext, main_tasks: Any
) -> Iterator[MainWindow]:
    w = open_window(qtbot, main_ctx, main_tasks)
    yield w
    w.close()
    settle(main_tasks)


def plain(rich: str) -> str:
    doc = QTextDocument()
    doc.setHtml(rich)
    return doc.toPlainText()


def open_dialog(qtbot: Any, window: MainWindow, drives: Any) -> UsbSyncDialog:
    """Click 用U盘同步 in the status bar, with these sticks plugged in; wait until they are listed."""
    window.usb_drives = drives
    qtbot.mouseClick(window.usb_button, Qt.MouseButton.LeftButton)
    dialog = window.usb_dialog
    assert dialog is not None and dialog.isVisible() and dialog.windowTitle() == "用U盘同步"
    dialog.poll_ms = 0
    qtbot.waitUntil(lambda: dialog.state is not None and not dialog._listing, timeout=10000)
    settle(window.tasks)
    return dialog


def export(qtbot: Any, dialog: UsbSyncDialog) -> None:
    with qtbot.waitSignal(dialog.idle, timeout=20000):
        dialog.export()
    settle(dialog.tasks)


def save(ctx: ClientContext, data: dict[str, Any], *, form: str = FORM) -> str:
    return save_record(ctx, form, data).record_id


def online_sync(ctx: ClientContext) -> None:
    with requests.Session() as http:
        result = SyncEngine(ctx, http).sync()
    assert result.complete


def unsent(ctx: ClientContext) -> int:
    with ctx.store.Session() as s:
        return int(
            s.execute(
                select(func.count()).select_from(OutboxEntry).where(OutboxEntry.sent_at.is_(None))
            ).scalar_one()
        )


def test_the_status_bar_says_the_last_stick_sync_and_claims_no_connection(
    qtbot: Any, chinese: None
) -> None:
    from datetime import timedelta

    from client.ui.status_bar import StatusBar

    bar = StatusBar()
    qtbot.addWidget(bar)
    never = S.SyncStatus(
        enrolled=True,
        server_url="https://127.0.0.1:8791",
        school_code="S001",
        school_name="城关镇中心小学",
        pending=0,
        conflicts=0,
        rejected=0,
        attachment_problems=0,
        last_sync_at=None,
        last_attempt_at=None,
        last_problem=None,
    )
    later = NOW + timedelta(minutes=30)

    def shown(status: S.SyncStatus) -> str:
        bar.set_sync_status(status, now=later, auto_retry=True)
        return bar.sync_label.text()

    assert shown(never) == "已登记，还没有同步过"  # enrolled from a file, never linked
    by_stick = replace(never, last_usb_sync_at=NOW)
    assert shown(by_stick) == f"上次U盘同步：今天 {local_clock(NOW)}"
    assert "上次U盘同步" in bar.sync_label.toolTip()
    assert shown(replace(by_stick, last_sync_at=later)) == f"上次同步：今天 {local_clock(later)}"
    problem = {"kind": "network", "at": later.isoformat()}
    assert shown(replace(by_stick, last_problem=problem)).startswith(
        f"上次U盘同步：今天 {local_clock(NOW)} · 无法连接服务器"
    )
