"""Conflicts and change requests in the GUI (issue 10 part C): a roster entry whose 工号 another PC added
first opens the side-by-side dialog from 待办 (it used to open the roster page, where nothing could resolve
it), and keeping this PC's name ends with one teacher; an edit to a record the bureau has accepted shows in
待办 as a change request waiting for the bureau, then - declined - with the bureau's reason until the clerk has
read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from PySide6.QtCore import Qt

from client.clock import FixedClock
from client.context import ClientContext
from client.store import sync_state as S
from client.store.db import open_store
from client.store.formset import FormSet
from client.store.roster import roster_entries, save_teacher
from client.sync.engine import SyncEngine
from client.ui import app as app_module
from client.ui.conflict_dialog import LOCAL, ConflictDialog
from client.ui.tasks import TaskManager
from sync_server.services import review
from tests.sync.conftest import NOW, SERVER_NOW, TODAY, LiveServer, inspection
from tests.ui.test_sync_gui import (  # noqa: F401 - `server`: a module-scoped fixture, this module's own
    open_window,
    save,
    server,
    settle,
    start,
    sync_and_wait,
)

pytest_plugins = ("tests.ui.fixtures_main",)
app_module.guard_singleton_refcounts()


def enroll_both(main_ctx: ClientContext, server: LiveServer, other_dir: Path) -> ClientContext:  # noqa: F811
    """The main window's PC and another PC of the same school (set up without the GUI)."""
    school, code = server.new_school("城关镇中心小学")
    with requests.Session() as http:
        SyncEngine(main_ctx, http).enroll(server.url, code, device_name="教务处")
    _, code2 = server.new_school("城关镇中心小学", school)
    other = ClientContext(open_store(other_dir), FormSet.shipped(), FixedClock(NOW, TODAY))
    with requests.Session() as http:
        SyncEngine(other, http).enroll(server.url, code2, device_name="校长室")
    return other


def add_teacher(ctx: ClientContext, tid: str, name: str) -> None:
    with ctx.store.Session.begin() as s:
        save_teacher(
            s, forms=ctx.forms, values={"teacher_id": tid, "name": name}, today=TODAY, now=NOW
        )


def test_a_staff_number_added_on_both_pcs_is_resolved_in_the_dialog(
    qtbot: Any,
    chinese: None,
    main_ctx: ClientContext,
    main_tasks: TaskManager,
    server: LiveServer,  # noqa: F811
    tmp_path: Path,
):
    other = enroll_both(main_ctx, server, tmp_path / "other")
    add_teacher(other, "T001", "李老师")
    with requests.Session() as http:
        assert (
            SyncEngine(other, http).sync().complete
        )  # the other PC's entry is on the server first
    add_teacher(main_ctx, "T001", "李红梅")
    w = open_window(qtbot, main_ctx, main_tasks)
    start(w)
    sync_and_wait(qtbot, w)

    home = w.home
    assert home.issue_model.index(0, 0).data() == "与服务器冲突"
    home.select_issue(0)
    qtbot.mouseClick(home.resolve_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.conflict_dialog is not None, timeout=5000)
    dialog = w.conflict_dialog
    assert isinstance(dialog, ConflictDialog) and dialog.view.duplicate
    dialog.choose_all(LOCAL)
    with qtbot.waitSignal(dialog.resolved, timeout=5000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    settle(main_tasks)
    sync_and_wait(qtbot, w)

    with main_ctx.store.Session() as s:
        assert [(t.teacher_id, t.name) for t in roster_entries(s)] == [("T001", "李红梅")]
        assert S.open_issues(s) == []
    w.close()
    settle(main_tasks)
    other.close()


def test_an_edit_to_an_accepted_record_waits_as_a_request_then_shows_why_it_was_declined(
    qtbot: Any,
    chinese: None,
    main_ctx: ClientContext,
    main_tasks: TaskManager,
    server: LiveServer,  # noqa: F811
    tmp_path: Path,
):
    other = enroll_both(main_ctx, server, tmp_path / "other")
    other.close()
    rid = save(main_ctx, inspection())
    w = open_window(qtbot, main_ctx, main_tasks)
    start(w)
    with server.session() as s, s.begin():
        review.accept_record(s, rid, "王科长", now=SERVER_NOW)
    save(
        main_ctx, inspection(remarks="补报"), record_id=rid
    )  # offline, before the acceptance arrives
    sync_and_wait(qtbot, w)

    home = w.home
    assert home.issue_model.rowCount() == 1
    assert home.issue_model.index(0, 0).data() == "修改申请（已确认的记录）"
    assert "1 条修改申请等待教育局答复" in home.issue_count.text()
    assert not home.resolve_button.isEnabled()  # nothing for the clerk to do meanwhile

    with server.session() as s, s.begin():
        (req,) = review.change_requests(s, record_id=rid)
        review.decline_change_request(s, req.id, "王科长", "以检查当日为准", now=SERVER_NOW)
    sync_and_wait(qtbot, w)

    assert "以检查当日为准" in home.issue_model.index(0, 4).data()
    assert home.resolve_button.isEnabled()
    home.select_issue(0)
    qtbot.mouseClick(home.resolve_button, Qt.MouseButton.LeftButton)  # read: it goes
    qtbot.waitUntil(lambda: home.issue_model.rowCount() == 0, timeout=5000)
    with main_ctx.store.Session() as s:
        assert S.open_issues(s) == []
    w.close()
    settle(main_tasks)
