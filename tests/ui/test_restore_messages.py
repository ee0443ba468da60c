"""What the window tells the clerk about restores (issue 10): after restoring this PC from a backup, what is
lost for good (saved after the backup, never sent) and that what was sent comes back; after a sync that
healed, what came back - in Chinese, and in English when chosen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from client.store.backup import backup_to
from client.sync.state import HealReport, SyncResult
from client.ui.tasks import TaskManager
from tests.store.todo_data import inspection, save
from tests.ui.main_helpers import make_window, open_ctx, settle

FORM = "safety_inspection"

pytest_plugins = ("tests.ui.fixtures_main",)


def test_a_restore_says_how_much_unsent_work_is_lost_and_that_the_sent_comes_back(
    qtbot, monkeypatch, tmp_path: Path, chinese, main_data_dir: Path, main_tasks: TaskManager
):
    ctx = open_ctx(main_data_dir)
    save(ctx, FORM, inspection("2026-11-20", []))
    backup = backup_to(ctx.store, tmp_path / "备份.db")
    for day in ("2026-11-21", "2026-11-22"):
        save(ctx, FORM, inspection(day, []))  # after the backup, never sent
    w = make_window(qtbot, ctx, main_tasks)
    w.go_to("settings")
    told: list[str] = []
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: told.append(str(a[2])))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(backup), ""))

    def confirm(*a: object, **k: object) -> QMessageBox.StandardButton:
        asked.append(str(a[2]))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "warning", confirm)
    with qtbot.waitSignal(w.settings.restored):
        qtbot.mouseClick(w.settings.restore_button, Qt.MouseButton.LeftButton)
        settle(main_tasks)
    assert "还没有发出的内容会丢失" in asked[0]
    assert "从未发给教育局的 2 条修改（2 条记录）已丢失" in told[-1]
    assert "本机在备份之后发给教育局的记录会从服务器取回" in told[-1]
    ctx.close()


def test_a_sync_that_healed_says_what_came_back(
    qtbot, chinese, main_data_dir: Path, main_tasks: TaskManager
):
    ctx = open_ctx(main_data_dir)
    w = make_window(qtbot, ctx, main_tasks)
    try:
        w._sync_finished(SyncResult(healed=HealReport("pc_restored", 0, 100)))
        box = next(b for b in w.findChildren(QMessageBox) if b.isVisible())
        assert "已从服务器取回本机在备份之后发给教育局的 100 条记录" in box.text()
        assert "100 条记录" in w.status.currentMessage()
        box.close()
        w._sync_finished(SyncResult(healed=HealReport("server_restored", 7, 2)))
        box = next(b for b in w.findChildren(QMessageBox) if b.isVisible())
        assert "重新发送服务器缺少的 7 条修改" in box.text() and "不需要做任何处理" in box.text()
        box.close()
    finally:
        ctx.close()


def test_a_sync_after_an_interruption_says_how_many_were_sent_again(
    qtbot, chinese, main_data_dir: Path, main_tasks: TaskManager
):
    ctx = open_ctx(main_data_dir)
    w = make_window(qtbot, ctx, main_tasks)
    try:
        w._sync_finished(SyncResult(pushed=8000, resent=1000, pulled=3))
        said = w.status.currentMessage()
        assert "发出 8000 条（其中 1000 条是上次中断后重发" in said and "收到 3 条更新" in said
        w._sync_finished(SyncResult(pushed=5, pulled=0))
        assert w.status.currentMessage() == "同步完成：发出 5 条，收到 0 条更新。"
    finally:
        ctx.close()
