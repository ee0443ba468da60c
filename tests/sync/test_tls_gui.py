"""The window enrolls with the bureau's pinned certificate and shows a certificate mismatch (issue 12, point 4).

Real parts: `sync-server serve` over TLS in a subprocess with a certificate made by make-cert, the real
window offscreen (pytest-qt), school-client.ini carrying the address and the fingerprint, as a bureau ships it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from client.context import ClientContext
from client.store import sync_state as S
from client.store.prefs import set_setting
from client.sync.pinning import K_FINGERPRINT
from client.ui import app as app_module
from client.ui.main_window import MainWindow
from client.ui.tasks import TaskManager
from sync_server.db import open_database
from sync_server.services.schools import add_school
from sync_server.tls import default_paths, make_certificate
from tests.support.samples import inspection
from tests.support.served import Served, start_served
from tests.sync.conftest import SERVER_NOW
from tests.ui.main_helpers import settle
from tests.ui.test_sync_gui import open_window, save, start, sync_and_wait

pytest_plugins = ("tests.ui.fixtures_main",)
app_module.guard_singleton_refcounts()

WRONG = ":".join(["AB"] * 32)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    instance = tmp_path_factory.mktemp("tls-gui")
    made = make_certificate(["127.0.0.1"], *default_paths(instance))
    served = start_served(instance, f"sqlite:///{instance / 'sync.db'}")
    yield served, made.fingerprint
    assert "Traceback" not in served.stop()


def _code(served: Served, school: str) -> str:
    db = open_database(served.db_url)
    try:
        with db.Session.begin() as s:
            return add_school(s, code=school, name="城关镇中心小学", now=SERVER_NOW).enrollment_code
    finally:
        db.close()


def test_the_window_enrolls_over_pinned_tls_and_shows_a_certificate_mismatch(
    qtbot: Any,
    chinese: None,
    main_ctx: ClientContext,
    main_tasks: TaskManager,
    tls_server: tuple[Served, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served, fingerprint = tls_server
    ini = tmp_path / "school-client.ini"
    ini.write_text(f"[server]\nurl = {served.url}\nfingerprint = {fingerprint}\n", "utf-8")
    monkeypatch.setenv("SCHOOL_CLIENT_CONFIG", str(ini))
    window: MainWindow = open_window(qtbot, main_ctx, main_tasks)
    try:
        start(window)
        qtbot.mouseClick(window.status.sync_label, Qt.MouseButton.LeftButton)
        dialog = window.enroll_dialog
        assert dialog is not None
        qtbot.keyClicks(dialog.url_edit, served.url)
        qtbot.keyClicks(dialog.code_edit, _code(served, "GUI001"))
        with qtbot.waitSignal(dialog.enrolled, timeout=20000):
            qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
        settle(window.tasks)
        with main_ctx.store.Session() as s:
            assert S.get_enrollment(s) is not None
        assert window.status.sync_label.text().startswith("上次同步")

        save(main_ctx, inspection())
        with main_ctx.store.Session.begin() as s:  # the server now shows another certificate
            set_setting(s, K_FINGERPRINT, WRONG)
        sync_and_wait(qtbot, window)
        label = window.status.sync_label
        # A short headline that fits, said once: not cut off, not repeated by a transient message.
        assert "证书不符" in label.text() and "点击查看" in label.text(), label.text()
        assert "…" not in label.text()
        assert window.status.currentMessage() == ""  # nor an earlier sync's "同步完成"
        assert "证书不符" in label.toolTip() and "冒充" in label.toolTip()
        qtbot.mouseClick(label, Qt.MouseButton.LeftButton)  # the whole message, both languages
        box = window.problem_box
        assert box is not None and box.isVisible()
        assert "冒充" in box.text() and "certificate mismatch" in box.text()
        assert window.enroll_dialog is None or not window.enroll_dialog.isVisible()
        box.close()
        with main_ctx.store.Session() as s:
            assert S.sync_status(s).pending == 1  # nothing went out
        if os.environ.get("GRAB_SCREENSHOTS"):
            shots = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
            window.grab().save(str(shots / "status_certificate_mismatch.png"))
    finally:
        window.close()
        settle(main_tasks)
