"""The recovery code dialog: shown once for a folder whose key was just made, with the code to print."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from client.store import keys
from client.store.db import open_store


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "school"
    open_store(folder).close()
    return folder


def test_the_recovery_code_is_shown_once_and_can_be_printed(qtbot, data_dir: Path) -> None:
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
