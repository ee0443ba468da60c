"""从文件登记… in 连接教育局服务器 (issue 13 item 1, protocol 1.15): the real window and dialog, a file the real server
wrote, a wrong code said in the dialog, the right one enrolls this computer offline. Screenshot
docs/screenshots/enroll_file_dialog.png (1366x768: the window with the dialog over it) with WRITE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel

from client.context import ClientContext
from client.enrollment_file import installation_id
from client.store import sync_state as S
from client.ui.app import install_translators
from client.ui.enroll_dialog import EnrollDialog
from client.ui.main_window import MainWindow
from client.ui.tasks import TaskManager
from sync_server.enrollment_files import Written
from tests.support.enrollment_files import on_stick, written
from tests.sync.conftest import LiveServer
from tests.ui.main_helpers import settle
from tests.ui.test_sync_gui import open_window, server  # noqa: F401 (the fixture)

pytest_plugins = ("tests.ui.fixtures_main",)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TITLE_BAR = 28


def screenshot(window: MainWindow, dialog: EnrollDialog, name: str) -> None:
    """The window at 1366x768 with the dialog painted where it stands, when WRITE_SCREENSHOTS asks."""
    if os.environ.get("WRITE_SCREENSHOTS", "").strip().lower() in ("", "0", "no", "false"):
        return
    window.resize(1366, 768)
    settle(window.tasks)
    image = window.grab()
    painter = QPainter(image)
    x = (1366 - dialog.width()) // 2
    y = (768 - dialog.height()) // 2
    title = QRect(x - 1, y - TITLE_BAR, dialog.width() + 2, dialog.height() + TITLE_BAR + 1)
    painter.fillRect(
        title, QColor("#dfe3e8")
    )  # a plain frame with the title, as a window manager draws
    painter.setPen(QColor("#8a929b"))
    painter.drawRect(title)
    painter.setPen(QColor("#1f2328"))
    painter.drawText(
        QRect(x + 10, y - TITLE_BAR, dialog.width() - 20, TITLE_BAR),
        int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
        dialog.windowTitle(),
    )
    painter.drawPixmap(QPoint(x, y), dialog.grab())
    painter.end()
    assert image.save(str(SCREENSHOTS / f"{name}.png"))


def test_enroll_from_file_in_the_dialog(
    qtbot: Any,
    chinese: None,
    main_ctx: ClientContext,
    main_tasks: TaskManager,
    server: LiveServer,  # noqa: F811
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    school, _ = server.new_school("西山村小学")
    w = written(server, school)
    path = on_stick(tmp_path, w)
    app = QApplication.instance()
    assert app is not None
    translators = install_translators(
        app, "zh_CN"
    )  # as the app runs: Qt's own buttons in Chinese too
    try:
        enroll_in_the_dialog(qtbot, main_ctx, main_tasks, school, w, path, monkeypatch)
    finally:
        for t in translators:
            app.removeTranslator(t)


def enroll_in_the_dialog(
    qtbot: Any,
    main_ctx: ClientContext,
    main_tasks: TaskManager,
    school: str,
    w: Written,
    path: Path,
    monkeypatch: Any,
) -> None:
    window = open_window(qtbot, main_ctx, main_tasks)
    window.show_enroll_dialog()
    dialog = window.enroll_dialog
    assert dialog is not None and dialog.mode_button.text() == "从文件登记…"

    qtbot.mouseClick(dialog.mode_button, Qt.MouseButton.LeftButton)

    assert dialog.from_file() and dialog.connect_button.text() == "登记(&O)"
    texts = " ".join(label.text() for label in dialog.findChildren(QLabel) if label.isVisible())
    assert "登记文件" in texts and "不需要联网" in texts and "注册" not in texts
    assert not dialog.connect_button.isEnabled()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    assert dialog.file_edit.text() == str(path)

    qtbot.keyClicks(dialog.file_code_edit, w.code)
    screenshot(window, dialog, "enroll_file_dialog")
    dialog.file_code_edit.clear()
    qtbot.keyClicks(dialog.file_code_edit, "AAAA-AAAA-AAAA")
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "没有登记成功" in dialog.message_text(), timeout=10000)
    assert "登记码不对" in dialog.message_text() and dialog.isVisible()
    screenshot(window, dialog, "enroll_file_dialog_error")

    dialog.file_code_edit.clear()
    qtbot.keyClicks(dialog.file_code_edit, w.code)
    with qtbot.waitSignal(dialog.enrolled, timeout=10000):
        qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    settle(window.tasks)

    assert window.enroll_dialog is None  # closed
    with main_ctx.store.Session() as s:
        enrollment = S.get_enrollment(s)
    assert enrollment is not None and (enrollment.school_code, enrollment.device_id) == (
        school,
        w.device_id,
    )
    assert installation_id(main_ctx) is not None
    window.go_to("settings")
    assert window.settings.school_label.text() == f"西山村小学（{school}）"
