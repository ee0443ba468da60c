"""The window while another process syncs its data folder (product trial 2026-12-01, finding 2): the automatic
sync skips quietly, 立即同步 says 另一个同步正在进行, a USB export refuses; nothing is sent twice. The other
process is real (it holds <data>/sync.lock as `school-client sync` does); once it is killed the next sync
works."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from client.context import ClientContext
from client.sync.lock import SyncBusy
from client.ui import app as app_module
from client.ui.tasks import TaskManager
from client.ui.usb_actions import export_to
from client.usb import drives as D
from tests.support.sync_lock_holder import end, hold_sync_lock
from tests.sync.conftest import LiveServer, inspection
from tests.ui.main_helpers import settle
from tests.ui.test_sync_gui import enroll, open_window, save, server  # noqa: F401 - the fixture

pytest_plugins = ("tests.ui.fixtures_main",)
app_module.guard_singleton_refcounts()


@pytest.fixture
def other_sync(main_ctx: ClientContext) -> Iterator[subprocess.Popen[str]]:
    """Another process syncing the window's data folder (holding its sync lock)."""
    p = hold_sync_lock(main_ctx.store.data_dir)
    yield p
    end(p)


def test_the_window_skips_its_sync_while_a_command_syncs_and_syncs_once_it_is_gone(
    qtbot: Any,
    chinese: None,
    main_ctx: ClientContext,
    main_tasks: TaskManager,
    server: LiveServer,  # noqa: F811
    other_sync: subprocess.Popen[str],
    tmp_path: Path,
) -> None:
    school = enroll(main_ctx, server)
    rid = save(main_ctx, inspection())
    w = open_window(qtbot, main_ctx, main_tasks)
    events: list[object] = []
    for name in ("started", "failed", "finished", "busy"):
        getattr(w.sync, name).connect(lambda *a, name=name: events.append((name, *a)))

    w.sync.start()  # the automatic sync at start: skipped without a word
    settle(w.tasks)
    assert events == [] and not w.sync.running
    assert w.sync.next_sync_in_ms() == pytest.approx(
        w.sync.interval_ms(), abs=2000
    )  # its next turn
    assert "另一个同步" not in w.status.currentMessage()

    qtbot.mouseClick(w.status.sync_button, Qt.MouseButton.LeftButton)  # 立即同步
    settle(w.tasks)
    assert [e[0] for e in events] == ["busy"]
    assert "另一个同步正在进行" in w.status.currentMessage()
    assert w.status.sync_button.isEnabled()
    assert server.school_records(school) == []  # nothing sent by the window

    # The window's USB export refuses too, naming what runs; nothing is written on the stick.
    stick = tmp_path / "stick"
    stick.mkdir()
    with pytest.raises(SyncBusy) as refused:
        export_to(main_ctx, D.Drive(path=stick, label="U", free=10**9, total=10**9))
    assert "另一个同步正在进行" in refused.value.message_zh
    assert list(stick.iterdir()) == []

    os.kill(other_sync.pid, signal.SIGKILL)  # the other sync dies: the OS frees its lock
    other_sync.wait(10)
    with qtbot.waitSignal(w.sync.idle, timeout=30000):
        w.sync.sync_now()
    settle(w.tasks)
    assert [r.id for r in server.school_records(school)] == [rid]
    assert "发出 1 条" in w.status.currentMessage()
    w.close()


def test_a_failure_before_the_sync_job_starts_frees_the_lock_and_the_next_sync_works(
    qtbot: Any,
    chinese: None,
    main_ctx: ClientContext,
    main_tasks: TaskManager,
    server: LiveServer,  # noqa: F811
) -> None:
    """Review F4: `watched()` touching a deleted editor raised after the lock was taken: the lock stayed held
    for the window's life (every `school-client sync` exited 4) and the window never synced again."""
    from client.sync.lock import hold_sync

    school = enroll(main_ctx, server)
    rid = save(main_ctx, inspection())
    w = open_window(qtbot, main_ctx, main_tasks)

    def deleted_editor() -> list[str]:
        raise RuntimeError("Internal C++ object (RecordEditor) already deleted.")

    w.sync.watched = deleted_editor
    with pytest.raises(RuntimeError, match="already deleted"):
        w.sync.sync_now()
    assert not w.sync.running
    assert w.sync.next_sync_in_ms() is not None  # the automatic syncs go on
    # A command on the same folder gets the lock (it was freed), and lets it go again.
    with hold_sync(main_ctx.store.data_dir, by="command", what="sync", wait=0.0):
        pass

    w.sync.watched = list
    with qtbot.waitSignal(w.sync.idle, timeout=30000):
        assert w.sync.sync_now()
    settle(w.tasks)
    assert [r.id for r in server.school_records(school)] == [rid]
    w.close()
