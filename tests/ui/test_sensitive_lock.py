"""The lock on the sensitive forms (issue 12 point 2), with real widgets on a real store: a locked list shows
only a count and 解锁; opening needs the PIN (set at first use); wrong PINs wait; idle time and 锁定 lock again,
an editor's unsaved draft is saved first; 待办 leaves sensitive records out; other forms open at once; an
export of a locked form asks for the PIN first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QShortcut
from PySide6.QtWidgets import QFileDialog, QMessageBox
from sqlalchemy import update

from client.clock import FixedClock
from client.context import ClientContext
from client.store import pin
from client.store import records as R
from client.store.models import Record, Status, SyncIssue
from client.ui import app as app_module
from client.ui.editor import RecordEditor
from client.ui.lock import (
    LockCover,
    LockSettings,
    SensitiveLock,
    SetPinDialog,
    UnlockDialog,
    install,
)
from client.ui.main_window import MainWindow
from client.ui.tasks import TaskManager
from tests.ui.main_helpers import make_window, settle

pytest_plugins = ("tests.ui.fixtures_main",)
app_module.guard_singleton_refcounts()

PIN = "246801"
ETHICS = "teacher_ethics"
SECRET_WORD = "有偿补课举报甲"  # only in a sensitive record


def save(ctx: ClientContext, form_id: str, data: dict[str, Any], **kw: Any) -> str:
    with ctx.store.Session.begin() as s:
        return R.save_record(
            s,
            form=ctx.forms.get(form_id),
            data=data,
            today=ctx.clock.today(),
            now=ctx.clock.now(),
            **kw,
        ).record_id


def seed(ctx: ClientContext) -> dict[str, str]:
    save(ctx, "teachers", {"teacher_id": "T001", "name": "张明", "active": "yes"}, submit=True)
    ids = {
        "ethics1": save(
            ctx,
            ETHICS,
            {
                "teacher": "T001",
                "record_type": "complaint",
                "record_date": "2026-11-20",
                "description": SECRET_WORD,
            },
        ),
        "ethics2": save(
            ctx, ETHICS, {"teacher": "T001", "record_type": "pledge", "record_date": "2026-11-21"}
        ),
        "dropout": save(ctx, "dropout_followup", {}),
        "service": save(ctx, "after_school_service", {"service_date": "2026-11-27"}),
    }
    return ids


def set_pin(ctx: ClientContext, value: str = PIN) -> None:
    with ctx.store.Session.begin() as s:
        pin.set_pin(s, value, now=ctx.clock.now())


@pytest.fixture
def locked(
    qtbot: Any, chinese: None, main_ctx: ClientContext, main_tasks: TaskManager
) -> Iterator[tuple[MainWindow, SensitiveLock]]:
    window = make_window(qtbot, main_ctx, main_tasks)
    lock = install(window, SensitiveLock(main_ctx, window, idle_ms=60 * 60_000))
    settle(main_tasks)
    yield window, lock
    lock.stop()
    window.close()
    settle(main_tasks)


def page_of(window: MainWindow, form_id: str) -> Any:
    window.show_form(form_id)
    settle(window.tasks)
    return window.form_pages[form_id]


def unlock_with(qtbot: Any, lock: SensitiveLock, value: str = PIN) -> None:
    dialog = lock.dialog
    assert isinstance(dialog, UnlockDialog) and dialog.isVisible()
    qtbot.keyClicks(dialog.pin_edit, value)
    qtbot.mouseClick(dialog.unlock_button, Qt.MouseButton.LeftButton)


def test_a_locked_list_shows_only_its_count_and_an_unlock_button(
    qtbot: Any, main_ctx: ClientContext, locked: tuple[MainWindow, SensitiveLock]
) -> None:
    ids = seed(main_ctx)
    window, lock = locked
    set_pin(main_ctx)
    page = page_of(window, ETHICS)
    assert lock.locked
    assert page.model.rowCount() == 0  # nothing read, not only nothing shown
    assert page.list_stack.currentWidget() is page.lock_panel
    text = page.lock_panel.text.text()
    assert "共 2 条记录" in text and "内容已隐藏" in text
    assert SECRET_WORD not in text
    assert not page.search_edit.isEnabled() and not page.open_button.isEnabled()
    # A search typed before the lock fell finds nothing either (and its count is not shown).
    page.model.set_filter(R.RecordFilter(form_id=ETHICS, search=SECRET_WORD))
    assert page.model.rowCount() == 0 and page.model.total() == 2
    assert page_of(window, "dropout_followup").model.rowCount() == 0
    # Other forms list their records as ever.
    other = page_of(window, "after_school_service")
    assert other.model.rowCount() == 1 and other.model.record_id(0) == ids["service"]

    page = page_of(window, ETHICS)
    qtbot.mouseClick(page.lock_panel.button, Qt.MouseButton.LeftButton)
    unlock_with(qtbot, lock)
    assert not lock.locked
    assert page.list_stack.currentWidget() is page.view
    assert {page.model.record_id(i) for i in range(2)} == {ids["ethics1"], ids["ethics2"]}
    assert page.search_edit.isEnabled()
    page.search_edit.setText(SECRET_WORD)
    page.apply_filter()
    assert page.model.rowCount() == 1 and page.model.record_id(0) == ids["ethics1"]
    assert window.lock_button is not None and window.lock_button.isVisible()

    qtbot.mouseClick(window.lock_button, Qt.MouseButton.LeftButton)  # 锁定
    assert lock.locked
    assert page.model.rowCount() == 0 and page.list_stack.currentWidget() is page.lock_panel
    assert page.search_edit.text() == ""
    assert not window.lock_button.isVisible()


def test_first_use_sets_the_pin_twice_then_opens(
    qtbot: Any, main_ctx: ClientContext, locked: tuple[MainWindow, SensitiveLock]
) -> None:
    ids = seed(main_ctx)
    window, lock = locked
    window.open_record(ETHICS, ids["ethics1"])
    assert not window.editors()  # not before the PIN
    dialog = lock.dialog
    assert isinstance(dialog, SetPinDialog) and dialog.isVisible()
    qtbot.keyClicks(dialog.pin_edit, "12345")
    qtbot.keyClicks(dialog.again_edit, "12345")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert "至少 6 位数字" in dialog.error.text() and dialog.isVisible()
    dialog.pin_edit.clear()
    qtbot.keyClicks(dialog.pin_edit, PIN)
    qtbot.keyClicks(dialog.again_edit, "246802")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert "不一致" in dialog.error.text()
    qtbot.keyClicks(dialog.again_edit, PIN)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    settle(window.tasks)
    assert not lock.locked
    editors = window.editors()
    assert len(editors) == 1 and isinstance(editors[0], RecordEditor)
    assert editors[0].record_id() == ids["ethics1"]
    with main_ctx.store.Session() as s:
        assert pin.verify_pin(s, PIN, now=main_ctx.clock.now())


def test_other_forms_open_without_a_pin(
    qtbot: Any, main_ctx: ClientContext, locked: tuple[MainWindow, SensitiveLock]
) -> None:
    ids = seed(main_ctx)
    window, lock = locked
    set_pin(main_ctx)
    window.open_record("after_school_service", ids["service"])
    settle(window.tasks)
    assert lock.dialog is None and lock.locked
    assert [e.record_id() for e in window.editors()] == [ids["service"]]  # type: ignore[attr-defined]
    window.new_record("safety_inspection")
    settle(window.tasks)
    assert len(window.editors()) == 2 and lock.dialog is None
    window.new_record(ETHICS)  # a new sensitive record asks too
    assert len(window.editors()) == 2 and isinstance(lock.dialog, UnlockDialog)


def test_a_wrong_pin_is_refused_and_tries_wait_longer(
    qtbot: Any, main_ctx: ClientContext, locked: tuple[MainWindow, SensitiveLock]
) -> None:
    ids = seed(main_ctx)
    window, lock = locked
    set_pin(main_ctx)
    clock = main_ctx.clock
    assert isinstance(clock, FixedClock)
    window.open_record(ETHICS, ids["ethics2"])
    dialog = lock.dialog
    assert isinstance(dialog, UnlockDialog)
    unlock_with(qtbot, lock, "135790")
    assert (
        lock.locked and "PIN码不正确" in dialog.error.text() and "再错 2 次" in dialog.error.text()
    )
    unlock_with(qtbot, lock, "135791")
    unlock_with(qtbot, lock, "135792")  # the third: a wait of 30 s
    assert lock.locked and not window.editors()
    assert "请 30 秒后再试" in dialog.error.text()
    assert not dialog.unlock_button.isEnabled() and not dialog.pin_edit.isEnabled()
    # Closing and opening the dialog again does not skip the wait (it is kept in the store).
    dialog.reject()
    window.open_record(ETHICS, ids["ethics2"])
    dialog = lock.dialog
    assert isinstance(dialog, UnlockDialog) and not dialog.unlock_button.isEnabled()
    clock.advance(seconds=31)
    qtbot.waitUntil(dialog.unlock_button.isEnabled, timeout=5000)  # the countdown ticks each second
    unlock_with(qtbot, lock, "135793")  # wrong again: now 60 s
    assert "请 1 分钟后再试" in dialog.error.text()
    clock.advance(seconds=61)
    qtbot.waitUntil(dialog.unlock_button.isEnabled, timeout=5000)
    unlock_with(qtbot, lock)
    settle(window.tasks)
    assert not lock.locked
    assert [e.record_id() for e in window.editors()] == [ids["ethics2"]]
    with main_ctx.store.Session() as s:
        assert pin.failures(s) == 0


def test_idle_time_locks_again_and_input_restarts_it(
    qtbot: Any, main_ctx: ClientContext, locked: tuple[MainWindow, SensitiveLock]
) -> None:
    seed(main_ctx)
    window, lock = locked
    set_pin(main_ctx)
    page = page_of(window, ETHICS)
    lock.set_idle_ms(10_000)
    page.unlock()
    unlock_with(qtbot, lock)
    assert not lock.locked and page.model.rowCount() == 2
    # Input restarts the idle time: the time left goes back up after a key press or a click.
    qtbot.waitUntil(lambda: lock.idle.remainingTime() < 9_900, timeout=5000)
    before = lock.idle.remainingTime()
    qtbot.keyClick(page.view, Qt.Key.Key_Down)
    assert lock.idle.remainingTime() > before
    qtbot.waitUntil(lambda: lock.idle.remainingTime() < 9_900, timeout=5000)
    before = lock.idle.remainingTime()
    qtbot.mouseClick(page.view.viewport(), Qt.MouseButton.LeftButton)
    assert lock.idle.remainingTime() > before
    # No input: locked again after the idle time.
    lock.set_idle_ms(200)
    qtbot.waitUntil(lambda: lock.locked, timeout=10_000)
    assert page.model.rowCount() == 0 and page.list_stack.currentWidget() is page.lock_panel


def test_unsaved_input_is_saved_as_a_draft_then_hidden_when_the_lock_falls(
    qtbot: Any, main_ctx: ClientContext, locked: tuple[MainWindow, SensitiveLock]
) -> None:
    seed(main_ctx)
    window, lock = locked
    set_pin(main_ctx)
    window.new_record(ETHICS)
    unlock_with(qtbot, lock)
    settle(window.tasks)
    editor = window.editors()[0]
    assert isinstance(editor, RecordEditor)
    editor.autosave_ms = 3_600_000  # only the lock saves here
    editor._timer.setInterval(editor.autosave_ms)
    editor.set_value(("teacher",), "T001")
    editor.set_value(("record_type",), "complaint")
    editor.set_value(("record_date",), "2026-11-25")
    editor.set_value(("description",), "未保存的举报内容乙")
    assert editor.is_dirty() and editor.record_id() is None

    lock.set_idle_ms(100)  # the clerk walks away
    qtbot.waitUntil(lambda: lock.locked, timeout=10_000)
    qtbot.waitUntil(
        lambda: editor.record_id() is not None and not editor.is_dirty(), timeout=10_000
    )
    settle(window.tasks)
    with main_ctx.store.Session() as s:
        record = s.get(Record, editor.record_id())
        assert record is not None and record.status == Status.DRAFT
        assert record.data["description"] == "未保存的举报内容乙"
    cover = editor.findChild(LockCover)
    assert cover is not None and cover.isVisible()
    assert cover.geometry() == editor.rect()
    description = editor.widget_for(("description",))
    assert description is not None
    assert not editor.submit_button.isEnabled() and not description.isEnabled()
    assert editor in window.editors()  # kept open, under the cover

    lock.set_idle_ms(60 * 60_000)
    qtbot.mouseClick(cover.button, Qt.MouseButton.LeftButton)
    unlock_with(qtbot, lock)
    assert not cover.isVisible()
    assert description.isEnabled()
    assert editor.data()["description"] == "未保存的举报内容乙"


def test_a_correction_under_the_lock_keeps_its_input_in_the_editor(
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
    main_ctx: ClientContext,
    locked: tuple[MainWindow, SensitiveLock],
) -> None:
    """A returned record cannot be a draft: its unsaved correction stays in the covered editor."""
    # Closing the window at the end asks whether to submit the correction: not this time.
    monkeypatch.setattr(
        QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.Discard
    )
    ids = seed(main_ctx)
    window, lock = locked
    set_pin(main_ctx)
    rid = ids["ethics2"]
    with main_ctx.store.Session.begin() as s:
        s.execute(update(Record).where(Record.id == rid).values(status=Status.RETURNED))
    window.open_record(ETHICS, rid)
    unlock_with(qtbot, lock)
    settle(window.tasks)
    editor = window.editors()[0]
    assert isinstance(editor, RecordEditor)
    editor.set_value(("record_date",), "2026-11-22")
    lock.lock()
    settle(window.tasks)
    cover = editor.findChild(LockCover)
    assert cover is not None and cover.isVisible()
    shortcuts = editor.findChildren(QShortcut)
    assert shortcuts and not any(
        sc.isEnabled() for sc in shortcuts
    )  # Ctrl+S submits nothing unseen
    with main_ctx.store.Session() as s:
        assert s.get(Record, rid).status == Status.RETURNED  # type: ignore[union-attr]
    assert editor.is_dirty() and editor.data()["record_date"] == "2026-11-22"
    # Closing its tab (or the window) asks for the PIN before the question whether to submit it.
    assert not window.close_tab(window.tabs.indexOf(editor))
    assert editor in window.editors() and isinstance(lock.dialog, UnlockDialog)
    unlock_with(qtbot, lock)
    assert all(sc.isEnabled() for sc in shortcuts) and not cover.isVisible()


def test_todo_leaves_sensitive_records_out_while_locked(
    qtbot: Any, main_ctx: ClientContext, locked: tuple[MainWindow, SensitiveLock]
) -> None:
    ids = seed(main_ctx)
    window, lock = locked
    set_pin(main_ctx)
    with main_ctx.store.Session.begin() as s:
        s.execute(
            update(Record)
            .where(Record.id.in_([ids["ethics1"], ids["service"]]))
            .values(status=Status.RETURNED)
        )
    window.go_to("home")
    window.home.refresh()
    settle(window.tasks)
    home = window.home
    assert [r.record_id for r in home.returned_model.items()] == [ids["service"]]
    assert (
        home.locked_note.isVisible() and "另有 1 条敏感表单的记录已锁定" in home.locked_note.text()
    )
    qtbot.mouseClick(home.unlock_button, Qt.MouseButton.LeftButton)
    unlock_with(qtbot, lock)
    settle(window.tasks)
    assert {r.record_id for r in home.returned_model.items()} == {ids["ethics1"], ids["service"]}
    assert not home.locked_note.isVisible()
    lock.lock()
    settle(window.tasks)
    assert [r.record_id for r in home.returned_model.items()] == [ids["service"]]


def test_an_export_while_locked_asks_for_the_pin_before_anything(
    qtbot: Any,
    main_ctx: ClientContext,
    locked: tuple[MainWindow, SensitiveLock],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(main_ctx)
    window, lock = locked
    set_pin(main_ctx)
    out = tmp_path / "师德.xlsx"
    asked: list[str] = []

    def save_name(*_a: Any, **_k: Any) -> tuple[str, str]:
        asked.append("file")
        return str(out), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda _p, _t, text, *a: told.append(text))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", save_name)
    page = page_of(window, ETHICS)
    page.export_excel()
    assert asked == [] and isinstance(lock.dialog, UnlockDialog)
    lock.dialog.reject()
    window._form_page_action("import")  # the menu's 导入 too
    assert asked == [] and isinstance(lock.dialog, UnlockDialog)
    lock.dialog.reject()
    settle(window.tasks)
    assert not out.exists()
    page.export_excel()
    unlock_with(qtbot, lock)  # unlocked: the export goes on
    qtbot.waitUntil(lambda: bool(told), timeout=10_000)
    assert asked == ["file"] and out.exists()
    assert "已导出 2 条记录" in told[0]


def test_an_editor_opened_by_a_sync_while_locked_is_covered(
    qtbot: Any, main_ctx: ClientContext, locked: tuple[MainWindow, SensitiveLock]
) -> None:
    ids = seed(main_ctx)
    window, lock = locked
    set_pin(main_ctx)
    window.open_record(ETHICS, ids["ethics1"])
    unlock_with(qtbot, lock)
    settle(window.tasks)
    editor = window.editors()[0]
    lock.lock()
    window.reload_editor(editor, ETHICS)  # what a sync that changed the record does
    settle(window.tasks)
    reopened = window.editors()
    assert len(reopened) == 1 and reopened[0] is not editor
    cover = reopened[0].findChild(LockCover)
    assert cover is not None and cover.isVisible()


def test_the_pin_dialogs_are_in_chinese(qtbot: Any, main_ctx: ClientContext) -> None:
    lock = SensitiveLock(main_ctx, idle_ms=60_000)
    try:
        dialog = SetPinDialog(main_ctx)
        qtbot.addWidget(dialog)
        assert dialog.windowTitle() == "设置敏感表单PIN码"
        unlock = UnlockDialog(lock)
        qtbot.addWidget(unlock)
        assert (
            unlock.windowTitle() == "解锁敏感表单"
            and unlock.forgot_button.text() == "忘记PIN码(&F)…"
        )
    finally:
        lock.stop()


def test_the_idle_time_and_the_pin_are_changed_in_settings_only_when_unlocked(
    qtbot: Any, main_ctx: ClientContext, locked: tuple[MainWindow, SensitiveLock]
) -> None:
    window, lock = locked
    set_pin(main_ctx)
    box = lock.settings_box
    assert isinstance(box, LockSettings)
    window.go_to("settings")
    assert box.isVisible() and box.idle_spin.value() == 5  # the default
    assert not box.idle_spin.isEnabled()  # locked: nobody stretches the time
    qtbot.mouseClick(box.change_button, Qt.MouseButton.LeftButton)
    unlock_with(qtbot, lock)  # the PIN first ...
    dialog = box.dialog
    assert isinstance(dialog, SetPinDialog) and dialog.windowTitle() == "修改PIN码"
    qtbot.keyClicks(dialog.pin_edit, "13572468")
    qtbot.keyClicks(dialog.again_edit, "13572468")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)  # ... then the new one twice
    with main_ctx.store.Session.begin() as s:
        assert pin.verify_pin(s, "13572468", now=main_ctx.clock.now())
    assert box.idle_spin.isEnabled()
    box.idle_spin.setValue(12)
    assert lock.idle.interval() == 12 * 60_000
    with main_ctx.store.Session() as s:
        assert pin.idle_minutes(s) == 12
    again = SensitiveLock(main_ctx)  # the next start reads it
    assert again.idle.interval() == 12 * 60_000
    again.stop()


def test_every_lock_string_has_an_english_translation() -> None:
    import xml.etree.ElementTree as ET

    ours = {
        "LockCover",
        "LockPanel",
        "LockSettings",
        "SensitiveLock",
        "SetPinDialog",
        "UnlockDialog",
    }
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


def test_a_lock_falling_while_the_export_file_is_chosen_asks_again(
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
    main_ctx: ClientContext,
    locked: tuple[MainWindow, SensitiveLock],
    tmp_path: Path,
) -> None:
    seed(main_ctx)
    window, lock = locked
    set_pin(main_ctx)
    out = tmp_path / "师德.xlsx"

    def choose_then_idle(*_a: Any, **_k: Any) -> tuple[str, str]:
        lock.lock()  # the clerk left the file dialog open past the idle time
        return str(out), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", choose_then_idle)
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda _p, _t, text, *a: told.append(text))
    page = page_of(window, ETHICS)
    page.unlock()
    unlock_with(qtbot, lock)
    page.export_excel()
    settle(window.tasks)
    assert lock.locked and not out.exists() and isinstance(lock.dialog, UnlockDialog)
    unlock_with(qtbot, lock)
    qtbot.waitUntil(lambda: bool(told), timeout=10_000)
    assert out.exists()


def test_a_conflict_of_a_sensitive_record_needs_the_pin_and_closes_when_the_lock_falls(
    qtbot: Any, main_ctx: ClientContext, locked: tuple[MainWindow, SensitiveLock]
) -> None:
    ids = seed(main_ctx)
    window, lock = locked
    set_pin(main_ctx)
    rid = ids["ethics1"]
    with main_ctx.store.Session.begin() as s:
        server_data = {"teacher": "T001", "record_type": "complaint", "record_date": "2026-11-19"}
        issue = SyncIssue(
            kind="conflict",
            record_id=rid,
            op_id=None,
            reason="conflict",
            message_zh="与服务器冲突",
            message_en="conflict",
            created_at=main_ctx.clock.now(),
            resolved_at=None,
            resolution=None,
            details={"server": {"status": "received", "data": server_data, "server_revision": 2}},
        )
        s.add(issue)
        s.flush()
        issue_id = issue.id
    window.go_to("home")
    window.home.refresh()
    settle(window.tasks)
    assert window.home.issue_model.items() == []  # not even its summary
    assert "另有 1 条" in window.home.locked_note.text()

    window.open_conflict(issue_id)
    settle(window.tasks)
    assert window.conflict_dialog is None and isinstance(lock.dialog, UnlockDialog)
    unlock_with(qtbot, lock)
    settle(window.tasks)
    dialog = window.conflict_dialog
    assert dialog is not None and dialog.isVisible()
    assert [i.record_id for i in window.home.issue_model.items()] == [rid]

    lock.lock()  # the clerk walks away from the open comparison
    settle(window.tasks)
    assert window.conflict_dialog is None or not window.conflict_dialog.isVisible()
    assert window.home.issue_model.items() == []
