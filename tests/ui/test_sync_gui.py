"""Sync in the GUI, against the real server (sync_server.create_app) on loopback in a thread and a real SQLite
store: enroll through the dialog, 立即同步, the status bar in plain Chinese, an unreachable server, a record the
bureau returns showing in 待办, a conflict resolved in the side-by-side dialog, the periodic timer, an open
editor reloading after a sync."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox
from werkzeug.serving import BaseWSGIServer, make_server

from client.context import ClientContext
from client.store import records as R
from client.store import sync_state as S
from client.store.models import Record, Status
from client.store.prefs import set_setting
from client.sync.engine import SyncEngine
from client.sync.http import RetryPolicy, Timeouts
from client.sync.state import Phase, SyncProgress
from client.ui import app as app_module
from client.ui.conflict_dialog import (
    LOCAL,
    SERVER,
    ConflictDialog,
    ConflictView,
    build_rows,
    choosable,
)
from client.ui.main_window import MainWindow
from client.ui.status_bar import StatusBar
from client.ui.sync_controller import SyncController
from client.ui.tasks import TaskManager
from sync_server.app import create_app
from sync_server.state import get_state
from tests.sync.conftest import SERVER_NOW, LiveServer, inspection
from tests.ui.main_helpers import NOW, settle

pytest_plugins = ("tests.ui.fixtures_main",)

# PySide6 6.12.0 on Python 3.11 drops a reference to None on every call returning None; with the many Qt
# calls of these tests the process could abort at exit. See client.ui.app.guard_singleton_refcounts.
app_module.guard_singleton_refcounts()

FORM = "safety_inspection"


# -- the server, the window -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real server on 127.0.0.1 (port 0), SQLite, its clock fixed; each test makes its own school."""
    instance = tmp_path_factory.mktemp("sync-server-ui")
    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": f"sqlite:///{instance / 'sync.db'}",
            "SECRET_KEY": "ui-tests",
            "CLOCK": lambda: SERVER_NOW,
        }
    )
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


def controller(ctx: ClientContext, tasks: TaskManager, **kw: Any) -> SyncController:
    """A controller that never waits long: one try per request, short timeouts, a 10 s first retry."""
    kw.setdefault("interval_ms", 10 * 60_000)
    kw.setdefault("retry_base_ms", 10_000)
    return SyncController(
        ctx,
        tasks,
        engine_options={
            "policy": RetryPolicy(attempts=1),
            "timeouts": Timeouts(connect=2.0, read=10.0),
        },
        **kw,
    )


def open_window(qtbot: Any, ctx: ClientContext, tasks: TaskManager, **kw: Any) -> MainWindow:
    window = MainWindow(ctx, tasks, sync=controller(ctx, tasks, **kw))
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    settle(tasks)
    return window


@pytest.fixture
def window(qtbot: Any, chinese: None, main_ctx: ClientContext, main_tasks: TaskManager):
    w = open_window(qtbot, main_ctx, main_tasks)
    yield w
    w.close()
    settle(main_tasks)


def enroll(ctx: ClientContext, server: LiveServer) -> str:
    """Enroll the store without the GUI (set-up); returns the school code."""
    school, code = server.new_school("城关镇中心小学")
    with requests.Session() as http:
        SyncEngine(ctx, http).enroll(server.url, code, device_name="教务处电脑")
    return school


def save(ctx: ClientContext, data: dict[str, Any], **kw: Any) -> str:
    with ctx.store.Session.begin() as s:
        return R.save_record(
            s,
            form=ctx.forms.get(FORM),
            data=data,
            submit=True,
            today=ctx.clock.today(),
            now=ctx.clock.now(),
            **kw,
        ).record_id


def bureau_returns(server: LiveServer, record_id: str, comments: dict[str, str]) -> None:
    from sync_server.services.review import return_record

    with server.session() as s, s.begin():
        return_record(s, record_id, comments, "王科长", now=SERVER_NOW)


def sync_and_wait(qtbot: Any, w: MainWindow, *, click: bool = True) -> None:
    with qtbot.waitSignal(w.sync.idle, timeout=30000):
        if click:
            qtbot.mouseClick(w.status.sync_button, Qt.MouseButton.LeftButton)
        else:
            w.sync.sync_now()
    settle(w.tasks)


def local_clock(at: dt.datetime) -> str:
    return at.replace(tzinfo=dt.UTC).astimezone().strftime("%H:%M")


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def start(w: MainWindow) -> None:
    w.sync.start()
    settle(w.tasks)


# -- enrollment -------------------------------------------------------------------------------------------


def test_enroll_through_the_dialog_then_the_status_bar_says_connected(
    qtbot, window: MainWindow, server: LiveServer, main_ctx: ClientContext
):
    start(window)
    label = window.status.sync_label
    assert label.text() == "尚未连接教育局服务器 — 点击连接" and label.is_clickable()
    assert window.status.sync_button.isVisible() and window.status.sync_button.text() == "立即同步"

    qtbot.mouseClick(label, Qt.MouseButton.LeftButton)
    dialog = window.enroll_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.windowTitle() == "连接教育局服务器"
    assert not dialog.connect_button.isEnabled()  # nothing typed yet

    # A wrong code: said in the dialog, which stays open.
    qtbot.keyClicks(dialog.url_edit, server.url)
    qtbot.keyClicks(dialog.code_edit, "AAA-BBB-CCC")
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "没有连接成功" in dialog.message_text(), timeout=10000)
    assert dialog.isVisible() and dialog.code_edit.isEnabled()

    school, code = server.new_school("城关镇中心小学")
    dialog.code_edit.clear()
    qtbot.keyClicks(dialog.code_edit, code)
    with qtbot.waitSignal(dialog.enrolled, timeout=10000):
        qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    settle(window.tasks)  # the first sync runs at once

    assert window.enroll_dialog is None  # closed
    assert label.text() == f"上次同步：今天 {local_clock(NOW)}"
    assert not label.is_clickable()
    assert school in label.toolTip() and server.url in label.toolTip()
    with main_ctx.store.Session() as s:
        enrollment = S.get_enrollment(s)
    assert enrollment is not None and enrollment.school_code == school
    # 设置 shows the school and offers to connect again.
    window.go_to("settings")
    assert window.settings.server_label.text() == server.url
    assert window.settings.school_label.text() == f"城关镇中心小学（{school}）"
    assert window.settings.connect_button.text().startswith("重新连接")


def test_sync_now_before_enrollment_asks_for_the_server(qtbot, window: MainWindow):
    start(window)
    qtbot.mouseClick(window.status.sync_button, Qt.MouseButton.LeftButton)
    assert window.enroll_dialog is not None and window.enroll_dialog.isVisible()
    window.enroll_dialog.reject()
    window.go_to("settings")
    qtbot.mouseClick(window.settings.connect_button, Qt.MouseButton.LeftButton)
    assert window.enroll_dialog is not None and window.enroll_dialog.isVisible()


# -- syncing ----------------------------------------------------------------------------------------------


def test_sync_now_sends_a_submitted_record_and_shows_the_last_sync(
    qtbot, chinese, main_ctx: ClientContext, main_tasks: TaskManager, server: LiveServer
):
    school = enroll(main_ctx, server)
    w = open_window(qtbot, main_ctx, main_tasks)
    start(w)  # a sync at start: nothing to send yet
    assert w.sync.syncs == 1
    rid = save(main_ctx, inspection())
    w.refresh_all()
    settle(w.tasks)
    assert w.status.pending_label.text() == "待发送：1 条"

    sync_and_wait(qtbot, w)

    assert [r.id for r in server.school_records(school)] == [rid]
    assert w.status.pending_label.text() == "待发送：0 条"
    assert w.status.sync_label.text() == f"上次同步：今天 {local_clock(NOW)}"
    assert not w.status.progress.isVisible() and w.status.sync_button.isEnabled()
    assert "发出 1 条" in w.status.currentMessage()
    with main_ctx.store.Session() as s:
        assert s.get(Record, rid).status == Status.RECEIVED
    w.close()


def test_an_unreachable_server_is_said_in_chinese_and_nothing_is_lost(
    qtbot, chinese, main_ctx: ClientContext, main_tasks: TaskManager, server: LiveServer
):
    school = enroll(main_ctx, server)
    rid = save(main_ctx, inspection())
    with main_ctx.store.Session.begin() as s:  # the server moved away (a closed port)
        set_setting(s, S.K_SERVER_URL, closed_port_url())
    w = open_window(qtbot, main_ctx, main_tasks)

    start(w)  # the sync at start cannot connect

    label = w.status.sync_label.text()
    assert label == f"无法连接服务器（{local_clock(NOW)}），稍后自动重试", label
    assert "无法连接县教育局服务器" in w.status.sync_label.toolTip()
    assert w.status.pending_label.text() == "待发送：1 条"
    backoff = w.sync.next_sync_in_ms()
    # The first retry comes much sooner than the interval: 10 s ± 20 % (a coarse timer may add 5 %).
    assert backoff is not None and backoff <= 12_600
    with main_ctx.store.Session() as s:
        assert s.get(Record, rid).status == Status.SUBMITTED and S.pending_count(s) == 1

    # A second failure waits longer (back-off), 立即同步 still tries at once.
    sync_and_wait(qtbot, w)
    second = w.sync.next_sync_in_ms()
    assert second is not None and second > backoff
    assert w.status.sync_label.text().startswith("无法连接服务器")

    # The link is back: the record goes, once.
    with main_ctx.store.Session.begin() as s:
        set_setting(s, S.K_SERVER_URL, server.url)
    sync_and_wait(qtbot, w)
    assert [r.id for r in server.school_records(school)] == [rid]
    assert w.status.sync_label.text() == f"上次同步：今天 {local_clock(NOW)}"
    assert w.status.pending_label.text() == "待发送：0 条"
    assert w.sync.next_sync_in_ms() == pytest.approx(w.sync.interval_ms(), abs=2000)
    w.close()


def test_the_timer_syncs_every_few_minutes_never_two_at_once(
    qtbot, chinese, main_ctx: ClientContext, main_tasks: TaskManager, server: LiveServer
):
    school = enroll(main_ctx, server)
    w = open_window(qtbot, main_ctx, main_tasks, interval_ms=300)
    events: list[str] = []
    w.sync.started.connect(lambda: events.append("start"))
    w.sync.idle.connect(lambda: events.append("end"))
    start(w)
    rid = save(main_ctx, inspection())  # saved between two syncs: the timer's sync sends it

    qtbot.waitUntil(lambda: w.sync.syncs >= 3, timeout=20000)
    w.sync.sync_now()  # asked while one may run: it waits its turn
    qtbot.waitUntil(lambda: events.count("end") >= 4, timeout=20000)
    w.sync.stop()
    settle(w.tasks)

    assert [r.id for r in server.school_records(school)] == [rid]
    pairs = "".join("(" if e == "start" else ")" for e in events)
    assert "((" not in pairs and "))" not in pairs and pairs.startswith("(")
    w.close()


# -- the bureau's answers ---------------------------------------------------------------------------------


def test_a_record_the_bureau_returns_appears_in_todo_and_an_open_editor_reloads(
    qtbot, chinese, main_ctx: ClientContext, main_tasks: TaskManager, server: LiveServer
):
    enroll(main_ctx, server)
    rid = save(main_ctx, inspection())
    w = open_window(qtbot, main_ctx, main_tasks)
    start(w)  # sent
    w.open_record(FORM, rid)
    settle(w.tasks)
    [editor] = w.editors()
    assert editor.status() == Status.RECEIVED  # type: ignore[attr-defined]

    bureau_returns(server, rid, {"signed_by": "请校长本人签字"})
    sync_and_wait(qtbot, w)

    assert w.home.returned_model.rowCount() == 1
    item = w.home.returned_model.item(0)
    assert item.record_id == rid and item.comment_count == 1
    assert w.form_counts(FORM).get(Status.RETURNED) == 1
    # The editor that was open shows the return (reloaded in the same tab).
    [editor] = w.editors()
    assert editor.status() == Status.RETURNED  # type: ignore[attr-defined]
    assert "退回" in editor.banner_text()  # type: ignore[attr-defined]
    w.close()
    settle(main_tasks)


def test_a_conflict_opens_side_by_side_and_keeping_the_servers_version_resolves_it(
    qtbot, chinese, main_ctx: ClientContext, main_tasks: TaskManager, server: LiveServer
):
    school = enroll(main_ctx, server)
    rid = save(main_ctx, inspection())
    w = open_window(qtbot, main_ctx, main_tasks)
    start(w)
    bureau_returns(server, rid, {"signed_by": "请校长本人签字"})
    save(
        main_ctx, inspection(remarks="已补充整改照片"), record_id=rid
    )  # offline, before the return arrives

    sync_and_wait(qtbot, w)

    # 待办 lists the conflict; the status bar says something needs the clerk.
    home = w.home
    assert home.issue_section.isVisibleTo(home)
    assert home.issue_model.rowCount() == 1
    assert home.issue_model.index(0, 0).data() == "与服务器冲突"
    assert w.status.issues_label.text() == "需处理：1 条" and w.status.issues_label.isVisible()
    assert "冲突" in w.status.currentMessage()

    home.select_issue(0)
    qtbot.mouseClick(home.resolve_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.conflict_dialog is not None, timeout=5000)
    dialog = w.conflict_dialog
    assert isinstance(dialog, ConflictDialog) and dialog.isVisible()
    # Both versions, side by side: the clerk's remark here, none on the server, with the bureau's comment.
    remark_local = dialog._cells[(("remarks",), LOCAL)]
    remark_server = dialog._cells[(("remarks",), SERVER)]
    assert remark_local.value.text() == "已补充整改照片"
    assert remark_server.value.text() == "（未填）"
    # signed_by is the same on both sides, but the bureau commented on it: it shows, with nothing to choose.
    signed = dialog._cells[(("signed_by",), "same")]
    assert signed.isVisible() and "请校长本人签字" in signed.comment.text()
    assert [r.path for r in choosable(dialog.rows)] == [("remarks",)]
    assert not dialog.save_button.isEnabled() and "没有选择" in dialog.count_label.text()

    qtbot.mouseClick(dialog.all_server, Qt.MouseButton.LeftButton)
    assert dialog.save_button.isEnabled()
    with qtbot.waitSignal(w.sync.idle, timeout=30000):  # saved, then synced
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    settle(w.tasks)

    with main_ctx.store.Session() as s:
        record = s.get(Record, rid)
        assert record.status == Status.RETURNED and record.data.get("remarks") is None
        assert S.open_issues(s) == [] and S.pending_count(s) == 0
    assert not home.issue_section.isVisibleTo(home)
    assert not w.status.issues_label.isVisible()
    assert [i.record_id for i in home.returned_model.items()] == [rid]
    (on_server,) = server.school_records(school)
    assert on_server.status == "returned" and "remarks" not in on_server.data
    w.close()


def test_an_editor_with_unsaved_work_is_marked_not_reloaded(
    qtbot,
    monkeypatch,
    chinese,
    main_ctx: ClientContext,
    main_tasks: TaskManager,
    server: LiveServer,
):
    enroll(main_ctx, server)
    rid = save(main_ctx, inspection())
    w = open_window(qtbot, main_ctx, main_tasks)
    start(w)
    w.open_record(FORM, rid)
    settle(w.tasks)
    [editor] = w.editors()
    editor.set_value(("remarks",), "正在写的备注")  # type: ignore[attr-defined]
    assert editor.is_dirty()  # type: ignore[attr-defined]
    bureau_returns(server, rid, {"signed_by": "请校长本人签字"})

    sync_and_wait(qtbot, w)

    assert w.editors() == [editor]  # not reloaded: the clerk's typing stays
    assert editor.data()["remarks"] == "正在写的备注"  # type: ignore[attr-defined]
    index = w.tabs.indexOf(editor)
    assert not w.tabs.tabIcon(index).isNull() and "新版本" in w.tabs.tabToolTip(index)
    assert "新版本" in w.status.currentMessage()
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard
    )  # closing: the unsubmitted correction is not kept
    w.close()
    settle(main_tasks)


def test_a_revoked_computer_stops_syncing_and_offers_to_connect_again(
    qtbot, chinese, main_ctx: ClientContext, main_tasks: TaskManager, server: LiveServer
):
    from sync_server.services.schools import revoke_device

    enroll(main_ctx, server)
    with main_ctx.store.Session() as s:
        device = S.get_enrollment(s).device_id  # type: ignore[union-attr]
    with server.session() as s, s.begin():
        revoke_device(s, device, now=SERVER_NOW)
    w = open_window(qtbot, main_ctx, main_tasks)

    start(w)

    label = w.status.sync_label
    assert label.text() == f"服务器不再接受本机（{local_clock(NOW)}）— 点击重新连接"
    assert label.is_clickable() and w.sync.next_sync_in_ms() is None  # no automatic retries
    qtbot.mouseClick(label, Qt.MouseButton.LeftButton)
    dialog = w.enroll_dialog
    assert dialog is not None and dialog.url_edit.text() == server.url  # only a new code is needed
    dialog.reject()
    w.close()


# -- the conflict dialog on its own -----------------------------------------------------------------------


def view_of(ctx: ClientContext, local: dict[str, Any], server: dict[str, Any] | None, **kw: Any):
    return ConflictView(
        issue_id=1,
        record_id="r1",
        form=ctx.forms.get(FORM),
        local=local,
        server=server,
        server_status=kw.pop("server_status", "returned"),
        local_status=Status.RETURNED,
        **kw,
    )


def test_the_conflict_dialog_merges_field_by_field_and_repeat_entries(
    qtbot, chinese, main_ctx: ClientContext, main_tasks: TaskManager
):
    hazard = inspection()["hazards"][0]  # type: ignore[index]
    extra = dict(hazard, location="教学楼二楼", category="electrical", severity="general")
    mine = inspection(remarks="本机备注", signed_by="赵校长（已签）", hazards=[hazard, extra])
    theirs = inspection(inspectors="张伟、李娜、王强", hazards=[dict(hazard, location="食堂")])
    view = view_of(main_ctx, mine, theirs, comments={"hazards[0].location": "位置写具体"})
    dialog = ConflictDialog(main_ctx, main_tasks, view)
    qtbot.addWidget(dialog)
    dialog.show()

    paths = [r.path for r in choosable(dialog.rows)]
    assert paths == [
        ("inspectors",),
        ("hazards", 0, "location"),
        ("hazards", 1),
        ("signed_by",),
        ("remarks",),
    ]
    # Choices show labels, entries only one side has are kept or left out whole.
    assert dialog._cells[(("hazards", 1), LOCAL)].value.text().startswith("保留这一条：用电")
    assert dialog._cells[(("hazards", 1), SERVER)].value.text() == "（没有这一条）"
    assert "位置写具体" in dialog._cells[(("hazards", 0, "location"), SERVER)].comment.text()
    headings = [r.label for r in dialog.rows if r.kind == "heading"]
    assert "隐患清单 · 第 1 条" in headings

    dialog.choose_all(LOCAL)
    dialog.choose(("inspectors",), SERVER)
    dialog.choose(("hazards", 1), SERVER)  # leave the second hazard out
    merged = dialog.result_data()
    assert merged is not None
    assert merged["inspectors"] == "张伟、李娜、王强" and merged["remarks"] == "本机备注"
    assert merged["signed_by"] == "赵校长（已签）"
    assert [h["location"] for h in merged["hazards"]] == ["食堂后厨"]

    dialog.choose_all(SERVER)
    assert dialog.result_data() is None  # keep the server's version as it is
    dialog.choose_all(LOCAL)
    assert dialog.result_data() == mine

    # Equal fields are hidden until asked for.
    areas = next(r for r in dialog.rows if r.path == ("areas",))
    assert not areas.differs
    assert not dialog._lines[dialog.rows.index(areas)][1][0].isVisible()
    dialog.only_diff.setChecked(False)
    assert dialog._lines[dialog.rows.index(areas)][1][0].isVisible()


def test_keeping_this_computers_version_of_an_accepted_record_makes_a_change_request(
    qtbot, chinese, main_ctx: ClientContext, main_tasks: TaskManager
):
    view = view_of(main_ctx, inspection(remarks="本机"), inspection(), server_status="accepted")
    dialog = ConflictDialog(main_ctx, main_tasks, view)
    qtbot.addWidget(dialog)
    # issue 10: no longer refused, it goes to the bureau as a request
    assert dialog.all_local.isEnabled()
    dialog.choose_all(SERVER)
    assert dialog.result_data() is None
    dialog.choose_all(LOCAL)
    assert dialog.result_data() == inspection(remarks="本机")
    assert "修改申请" in " ".join(w.text() for w in dialog.findChildren(QLabel))
    assert [h.text() for h in dialog.heads] == [
        "题目",
        "本机的版本（尚未发出）",
        "服务器上的版本（已确认）",
    ]


def test_rows_of_a_record_the_server_deleted(main_ctx: ClientContext):
    rows = build_rows(main_ctx.forms.get(FORM), inspection(), None)
    assert [(r.kind, r.path) for r in rows] == [("record", ())]


# -- the status bar on its own ----------------------------------------------------------------------------


def test_the_progress_bar_shows_only_during_a_long_sync(qtbot, chinese):
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.show()
    bar.sync_started()
    assert bar.sync_label.text() == "正在同步…" and not bar.sync_button.isEnabled()
    assert not bar.progress.isVisible()  # a short sync never shows it
    bar.sync_progress(SyncProgress(Phase.PUSH, 120, 500))
    assert bar.sync_label.text() == "正在同步：已发送 120/500 条"
    qtbot.waitUntil(bar.progress.isVisible, timeout=bar.progress_delay_ms + 2000)
    assert (bar.progress.value(), bar.progress.maximum()) == (120, 500)
    bar.sync_progress(SyncProgress(Phase.PULL, 300, None))
    assert bar.sync_label.text() == "正在同步：已收到 300 条更新"
    bar.sync_ended()
    assert not bar.progress.isVisible() and bar.sync_button.isEnabled()


def test_times_are_said_as_today_yesterday_or_the_date(qtbot, chinese):
    bar = StatusBar()
    qtbot.addWidget(bar)
    now = dt.datetime(2026, 11, 28, 12, 0)
    assert bar.when(now, now).startswith("今天 ")
    assert bar.when(now - dt.timedelta(days=1), now).startswith("昨天 ")
    assert bar.when(now - dt.timedelta(days=10), now).startswith("11月18日 ")
    assert bar.when(dt.datetime(2025, 3, 1, 12, 0), now) == "2025年3月1日"


# -- translations -----------------------------------------------------------------------------------------


def test_every_sync_string_has_an_english_translation():
    ours = {"ConflictDialog", "EnrollDialog", "SyncIssueModel", "StatusBar", "HomePage",
            "SettingsPage", "MainWindow"}  # fmt: skip
    ts = Path(app_module.I18N_DIR) / "school_client_en.ts"
    seen, missing = set(), []
    for context in ET.parse(ts).getroot().iter("context"):
        name = context.findtext("name")
        if name not in ours:
            continue
        seen.add(name)
        for message in context.iter("message"):
            t = message.find("translation")
            if t is None or t.get("type") == "unfinished" or not (t.text or "").strip():
                missing.append((name, message.findtext("source")))
    assert seen == ours and missing == []
