"""The status bar tells the clerk about updates (issue 16, client/ui/status_bar.py): 新版本 X 已下载，下次启动时安装
while a verified version waits for the next start, and once after a rollback 新版本 X 启动失败，已退回 Y.
Real main windows on a real data folder; the update state is what client/update/channel.py and install.py
leave there."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtWidgets import QApplication

from client.context import ClientContext
from client.store import sync_state as S
from client.sync.engine import app_version
from client.ui import app as app_module
from client.ui import lang
from client.ui.main_window import MainWindow
from client.ui.tasks import TaskManager
from client.update.state import READY_FILE, load_state, updates_dir, write_json
from tests.ui.main_helpers import NOW, make_window, settle

pytest_plugins = ["tests.ui.fixtures_main"]


def staged(data_dir: Path, version: str) -> None:
    folder = updates_dir(data_dir) / "staged"
    (folder / version).mkdir(parents=True)
    write_json(
        folder / READY_FILE, {"version": version, "target": f"linux/school-client-{version}.tar.gz"}
    )


def rolled_back(data_dir: Path, version: str, *, blocked: bool = True) -> None:
    state = {"state": "rolled_back", "target_version": version, "failures": 1}
    write_json(
        updates_dir(data_dir) / "state.json", {**state, "blocked": [version] if blocked else []}
    )


def started(qtbot, ctx: ClientContext, tasks: TaskManager) -> MainWindow:
    """A main window as the program starts it: shown, then its sync controller reads the sync state."""
    window = make_window(qtbot, ctx, tasks)
    window.sync.start()  # not enrolled: no sync, only the state read (app.py starts it so)
    settle(tasks)
    return window


def notice(window: MainWindow) -> str | None:
    label = window.status.update_label
    return label.text() if label.isVisible() else None


def test_a_downloaded_version_is_announced_and_a_sync_that_stages_one_shows_it(
    qtbot, chinese, main_ctx: ClientContext, main_tasks: TaskManager
) -> None:
    data_dir = main_ctx.store.data_dir
    window = started(qtbot, main_ctx, main_tasks)
    assert notice(window) is None  # nothing staged: nothing said
    staged(data_dir, "9.1.0")  # what a sync's update check leaves
    with main_ctx.store.Session() as s:
        status = S.sync_status(s)
    window.status.set_sync_status(status, now=NOW, auto_retry=True)  # as after each sync
    assert notice(window) == "新版本 9.1.0 已下载，下次启动时安装"
    assert "签名" in window.status.update_label.toolTip()
    window.close()
    settle(main_tasks)


def test_a_rollback_is_said_once_in_chinese_and_in_english(
    qtbot, qapp: QApplication, chinese, main_ctx: ClientContext, main_tasks: TaskManager
) -> None:
    data_dir = main_ctx.store.data_dir
    rolled_back(data_dir, "9.2.0")
    first = started(qtbot, main_ctx, main_tasks)
    said = f"新版本 9.2.0 启动失败，已退回 {app_version()}"
    assert notice(first) == said
    with main_ctx.store.Session() as s:
        status = S.sync_status(s)
    first.status.set_sync_status(status, now=NOW, auto_retry=True)
    assert notice(first) == said  # for the rest of this run
    assert load_state(data_dir).rollback_told == "9.2.0"
    first.close()
    settle(main_tasks)
    second = started(qtbot, main_ctx, main_tasks)  # the next start: told already
    assert notice(second) is None
    second.close()
    settle(main_tasks)

    rolled_back(data_dir, "9.5.0", blocked=False)  # staged again for another try at the next start
    staged(data_dir, "9.5.0")
    third = started(qtbot, main_ctx, main_tasks)
    assert notice(third) == f"新版本 9.5.0 启动失败，已退回 {app_version()}"  # not "已下载"
    third.status.refresh_update_notice()  # as after a sync: still said (it is not a newer version)
    assert notice(third) == f"新版本 9.5.0 启动失败，已退回 {app_version()}"
    third.close()
    settle(main_tasks)
    shutil.rmtree(updates_dir(data_dir) / "staged")

    rolled_back(data_dir, "9.3.0")  # another one, with the English interface
    lang.set_language("en")
    translators = app_module.install_translators(qapp, "en")
    try:
        en = started(qtbot, main_ctx, main_tasks)
        assert notice(en) == f"New version 9.3.0 failed to start; went back to {app_version()}"
        staged(data_dir, "9.4.0")
        en.status.refresh_update_notice()
        assert notice(en) == "New version 9.4.0 downloaded; it is installed at the next start"
        en.close()
        settle(main_tasks)
    finally:
        app_module.remove_translators(qapp, translators)
        lang.set_language("zh_CN")
