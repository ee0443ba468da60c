"""The recovery code in the window: shown once for a folder whose key was just made, with the code to print;
another PC's backup restored from 设置 with its recovery code."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from client.store import keys
from client.store.db import open_store
from client.ui.tasks import TaskManager


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "school"
    open_store(folder).close()
    return folder


def test_the_recovery_code_is_shown_once_and_can_be_printed(qtbot: QtBot, data_dir: Path) -> None:
    from client.ui.recovery_dialog import show_recovery_code_once

    key = keys.load_key(data_dir)
    assert key is not None and key.recovery_code
    dialog = show_recovery_code_once(data_dir)
    assert dialog is not None
    qtbot.addWidget(dialog)
    assert dialog.code_label.text() == key.recovery_code
    page = dialog.page().read_text("utf-8")
    assert key.recovery_code in page and "window.print()" in page
    grab = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "recovery_code_dialog.png"
    if os.environ.get("GRAB_SCREENSHOTS"):
        dialog.grab().save(str(grab))
    dialog.accept()
    assert keys.recovery_shown(data_dir)
    assert show_recovery_code_once(data_dir) is None  # not again


@pytest.fixture
def main_tasks(qapp: QApplication) -> Iterator[TaskManager]:
    tasks = TaskManager()
    yield tasks
    tasks.wait()


def test_the_window_restores_another_pcs_backup_with_its_recovery_code(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, main_tasks: TaskManager
) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

    from client.store.backup import backup_to
    from client.store.records import get_record
    from client.ui import lang
    from tests.store.todo_data import inspection, save
    from tests.ui.main_helpers import make_window, open_ctx, settle

    lang.set_language("zh_CN")
    main_data_dir = tmp_path / "new-pc"

    old = open_ctx(tmp_path / "old-pc")
    kept = save(old, "safety_inspection", inspection("2026-11-20", [])).record_id
    backup = backup_to(old.store, tmp_path / "usb" / "备份.db")
    old_key = keys.load_key(old.store.data_dir)
    assert old_key is not None and old_key.recovery_code
    old.close()
    keys.forget_cached()  # as on a new PC

    ctx = open_ctx(main_data_dir)
    w = make_window(qtbot, ctx, main_tasks)
    w.go_to("settings")
    told: list[str] = []
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: told.append(str(a[2])))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(backup), ""))

    def typed(*a: object, **k: object) -> tuple[str, bool]:
        asked.append(str(a[2]))
        return old_key.recovery_code or "", True

    monkeypatch.setattr(QInputDialog, "getText", typed)
    with qtbot.waitSignal(w.settings.restored):
        qtbot.mouseClick(w.settings.restore_button, Qt.MouseButton.LeftButton)
        settle(main_tasks)
    assert asked and "恢复码" in asked[0]
    assert told[-1].startswith("恢复完成")
    ctx.close()
    again = open_ctx(main_data_dir)
    try:
        with again.store.Session() as s:
            assert get_record(s, kept).id == kept
    finally:
        again.close()
