"""Sync problems of what the server sent (issue 9 part D) in the GUI: a form version this computer cannot use
shows in 待办 as what it is - not as a record to correct - while the rest syncs; a full disk is said as such
in the status bar, not as a refusal by the server."""

from __future__ import annotations

from typing import Any

from client.context import ClientContext
from client.store import sync_state as S
from client.ui import app as app_module
from client.ui.tasks import TaskManager
from tests.sync.conftest import LiveServer, inspection
from tests.sync.test_bad_forms import SAFETY, put_version, unreadable_here
from tests.ui.test_sync_gui import (  # noqa: F401 - `server`: a module-scoped fixture, this module's own
    enroll,
    open_window,
    save,
    server,
    start,
)

pytest_plugins = ("tests.ui.fixtures_main",)
app_module.guard_singleton_refcounts()


def test_a_form_version_this_pc_cannot_use_shows_in_todo_and_the_rest_syncs(
    qtbot: Any,
    chinese: None,
    main_ctx: ClientContext,
    main_tasks: TaskManager,
    server: LiveServer,  # noqa: F811
):
    school = enroll(main_ctx, server)
    put_version(server, "safety_inspection", "2099.1", unreadable_here(SAFETY, "2099.1"))
    rid = save(main_ctx, inspection())
    w = open_window(qtbot, main_ctx, main_tasks)

    start(w)  # a sync at start

    assert [r.id for r in server.school_records(school)] == [rid]  # the record still went up
    home = w.home
    assert home.issue_section.isVisibleTo(home) and home.issue_model.rowCount() == 1
    row = [home.issue_model.index(0, c).data() for c in range(5)]
    assert row[0] == "服务器发来的内容无法使用"
    assert row[1] == "校园安全隐患排查整治记录"
    assert row[2] == "表单版本 2099.1"
    assert "2099.1" in row[4] and "其他表单和记录照常同步" in row[4]
    assert "自动再试" in home.issue_count.text() and "请打开记录" not in home.issue_count.text()
    assert not home.resolve_button.isEnabled()  # nothing for the clerk to open
    home.select_issue(0)
    home.issue_view.doubleClicked.emit(home.issue_model.index(0, 0))
    assert w.conflict_dialog is None and w.stack.currentWidget() is home
    with main_ctx.store.Session() as s:
        assert len(S.open_pull_issues(s)) == 1
    w.close()


def test_a_full_disk_is_said_in_the_status_bar(
    qtbot: Any,
    chinese: None,
    main_ctx: ClientContext,
    main_tasks: TaskManager,
    server: LiveServer,  # noqa: F811
):
    enroll(main_ctx, server)
    w = open_window(qtbot, main_ctx, main_tasks)
    with main_ctx.store.Session.begin() as s:
        S.record_problem(
            s,
            {"kind": "disk_full", "message_zh": "本机磁盘已满", "message_en": "disk full"},
            now=main_ctx.clock.now(),
        )
    w.sync.refresh_status()
    qtbot.waitUntil(lambda: "磁盘已满" in w.status.sync_label.text(), timeout=5000)
    assert "服务器拒绝" not in w.status.sync_label.text()
    start(w)  # a sync once space was freed
    qtbot.waitUntil(lambda: "磁盘已满" not in w.status.sync_label.text(), timeout=30000)
    w.close()
