"""The enrollment dialog calls the code 登记码, as the bureau's slip and the server do (issue 11, item 7), and
a failed enrollment says the PC did not connect, never that a sync failed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from client.sync.errors import ErrorKind, SyncError
from client.ui.enroll_dialog import EnrollDialog


def test_the_dialog_says_dengjima_and_a_failure_is_no_sync_failure(qtbot: QtBot):
    calls: list[Callable[[Exception], None]] = []

    def enroll(url: str, code: str, *, on_done: Any, on_error: Callable[[Exception], None]) -> None:
        calls.append(on_error)

    dialog = EnrollDialog(enroll, server_url="http://192.168.1.10:8700", school="城关镇中心小学")
    qtbot.addWidget(dialog)
    dialog.show()
    texts = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "登记码" in texts and "注册" not in texts
    dialog.connect_server()  # nothing typed
    assert "登记码" in dialog.message_text() and "注册" not in dialog.message_text()
    qtbot.keyClicks(dialog.code_edit, "AAA-BBB-CCC")
    dialog.connect_server()
    calls[0](
        SyncError(
            ErrorKind.NETWORK,
            "无法连接县教育局服务器，请检查网络",
            "cannot reach the bureau server; check the network",
        )
    )
    said = dialog.message_text()
    assert "没有连接成功" in said and "无法连接" in said and "同步" not in said
