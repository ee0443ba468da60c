"""忘记PIN码 through the bureau (issue 12 point 2, protocol revision 1.11), end to end: the real server on
loopback gives the PC its reset key at enrollment; an admin presses 重置PIN码 on the real dashboard (学校与设备)
and reads out the code; the clerk types it into the client's dialog with no connection, sets a new PIN and
the record opens. The code works once."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PySide6.QtCore import Qt
from werkzeug.serving import BaseWSGIServer, make_server

from client.context import ClientContext
from client.store import pin
from client.store import records as R
from client.store import sync_state as S
from client.sync.engine import SyncEngine
from client.ui import app as app_module
from client.ui.lock import SensitiveLock, SetPinDialog, UnlockDialog, install
from client.ui.main_window import MainWindow
from client.ui.tasks import TaskManager
from sync_server.app import create_app
from sync_server.state import get_state
from tests.server.test_dashboard_security import PASSWORD, add_staff, csrf_of, session_csrf
from tests.sync.conftest import SERVER_NOW, LiveServer
from tests.ui.main_helpers import make_window, settle

pytest_plugins = ("tests.ui.fixtures_main",)
app_module.guard_singleton_refcounts()

OLD_PIN = "246801"
NEW_PIN = "975310"
CODE_RE = re.compile(r'id="pin-reset-code"[^>]*>(\d{5}-\d{5})<')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    instance = tmp_path_factory.mktemp("sync-server-pin")
    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": f"sqlite:///{instance / 'sync.db'}",
            "SECRET_KEY": "pin-reset-tests",
            "CLOCK": lambda: SERVER_NOW,
            "LOGIN_FAILURE_DELAY": 0,
        }
    )
    with get_state(app).db.Session.begin() as s:
        add_staff(s, "boss", "admin", False, SERVER_NOW.replace(tzinfo=None))
    httpd: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{httpd.server_port}", httpd.server_port)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
        get_state(app).db.close()


def bureau_reset_code(server: LiveServer, device_id: str) -> str:
    """What the admin reads out: 重置PIN码 on 学校与设备, through the dashboard's pages."""
    c = server.app.test_client()
    token = csrf_of(c)
    r = c.post("/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    page = c.get("/schools").get_data(as_text=True)
    assert f'data-device-id="{device_id}"' in page and "重置PIN码" in page
    r = c.post(f"/devices/{device_id}/pin-reset", data={"csrf_token": session_csrf(c)})
    assert r.status_code == 200
    m = CODE_RE.search(r.get_data(as_text=True))
    assert m is not None
    return m.group(1)


@pytest.fixture
def enrolled(
    qtbot: Any, chinese: None, main_ctx: ClientContext, main_tasks: TaskManager, server: LiveServer
) -> Iterator[tuple[MainWindow, SensitiveLock, str]]:
    _school, code = server.new_school("城关镇中心小学")
    with requests.Session() as http:
        SyncEngine(main_ctx, http).enroll(server.url, code, device_name="教务处电脑")
    with main_ctx.store.Session.begin() as s:
        enrollment = S.get_enrollment(s)
        assert enrollment is not None
        assert pin.has_reset_key(s)  # handed over with the enrollment
        pin.set_pin(s, OLD_PIN, now=main_ctx.clock.now())
    window = make_window(qtbot, main_ctx, main_tasks)
    lock = install(window, SensitiveLock(main_ctx, window, idle_ms=60 * 60_000))
    yield window, lock, enrollment.device_id
    lock.stop()
    window.close()
    settle(main_tasks)


def test_the_bureaus_reset_code_unlocks_and_sets_a_new_pin(
    qtbot: Any,
    main_ctx: ClientContext,
    server: LiveServer,
    enrolled: tuple[MainWindow, SensitiveLock, str],
) -> None:
    window, lock, device_id = enrolled
    with main_ctx.store.Session.begin() as s:
        rid = R.save_record(
            s,
            form=main_ctx.forms.get("dropout_followup"),
            data={},
            today=main_ctx.clock.today(),
            now=main_ctx.clock.now(),
        ).record_id
    window.open_record("dropout_followup", rid)
    unlock = lock.dialog
    assert isinstance(unlock, UnlockDialog)
    qtbot.mouseClick(unlock.forgot_button, Qt.MouseButton.LeftButton)
    reset = unlock.reset_dialog
    assert isinstance(reset, SetPinDialog) and reset.isVisible()
    assert reset.windowTitle() == "忘记PIN码"

    # A wrong code is refused (and counted as a wrong try).
    qtbot.keyClicks(reset.code_edit, "12345-67890")
    qtbot.keyClicks(reset.pin_edit, NEW_PIN)
    qtbot.keyClicks(reset.again_edit, NEW_PIN)
    qtbot.mouseClick(reset.ok_button, Qt.MouseButton.LeftButton)
    assert "重置码不正确" in reset.error.text() and lock.locked

    code = bureau_reset_code(server, device_id)  # read out over the phone
    reset.code_edit.clear()
    qtbot.keyClicks(reset.code_edit, code)
    qtbot.mouseClick(reset.ok_button, Qt.MouseButton.LeftButton)
    settle(window.tasks)
    assert not lock.locked
    assert [e.record_id() for e in window.editors()] == [rid]
    with main_ctx.store.Session.begin() as s:
        assert pin.verify_pin(s, NEW_PIN, now=main_ctx.clock.now())
        assert not pin.verify_pin(s, OLD_PIN, now=main_ctx.clock.now())
        with pytest.raises(pin.PinError, match="已经用过"):  # the same code again
            pin.check_reset_code(s, code, now=main_ctx.clock.now())


def test_each_sync_hands_the_key_again(
    main_ctx: ClientContext, server: LiveServer, enrolled: tuple[MainWindow, SensitiveLock, str]
) -> None:
    """A PC enrolled before revision 1.11 (or whose server's secret key changed) gets it at its next pull."""
    from client.store.prefs import set_setting

    with main_ctx.store.Session.begin() as s:
        set_setting(s, pin.RESET_KEY_SETTING, None)
        assert not pin.has_reset_key(s)
    with requests.Session() as http:
        SyncEngine(main_ctx, http).sync()
    with main_ctx.store.Session() as s:
        assert pin.has_reset_key(s)
