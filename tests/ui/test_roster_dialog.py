"""The add/edit teacher dialog saves before it closes: a refused save (a staff number in use) is said in the
dialog, which stays open with everything typed; only a saved teacher closes it (issue 11)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from shiboken6 import isValid

from client.context import ClientContext
from client.store.models import Status
from client.store.records import get_record
from client.store.roster import roster_entries
from client.ui.roster_page import RosterModel, RosterPage, TeacherDialog
from client.ui.tasks import TaskManager
from tests.store.todo_data import add_roster
from tests.ui.main_helpers import settle

pytest_plugins = ("tests.ui.fixtures_main",)


@pytest.fixture
def page(qtbot, chinese, main_ctx: ClientContext, main_tasks: TaskManager) -> Iterator[RosterPage]:
    add_roster(main_ctx)
    p = RosterPage(main_ctx, main_tasks)
    qtbot.addWidget(p)
    p.resize(1100, 650)
    p.show()
    settle(main_tasks)
    yield p
    dialog = p.teacher_dialog
    if dialog is not None and not closed(dialog):
        dialog.reject()
    settle(main_tasks)


def open_add_dialog(page: RosterPage) -> TeacherDialog:
    page.add_button.click()
    dialog = page.teacher_dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def closed(dialog: TeacherDialog) -> bool:
    return not isValid(dialog) or not dialog.isVisible()


def save_button(dialog: TeacherDialog):
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Save)


def test_a_staff_number_in_use_keeps_the_dialog_open_with_what_was_typed(
    qtbot, page: RosterPage, main_ctx: ClientContext
):
    dialog = open_add_dialog(page)
    qtbot.keyClicks(dialog.teacher_id, "T001")  # 王明's
    dialog.name.setText("周小红")
    dialog.gender.setCurrentIndex(dialog.gender.findData("female"))
    dialog.subject.setText("信息技术")
    dialog.title_edit.setText("二级教师")
    qtbot.mouseClick(save_button(dialog), Qt.MouseButton.LeftButton)
    settle(page._tasks)

    assert dialog.isVisible()  # not closed before saying so
    assert "T001" in dialog.error.text() and "王明" in dialog.error.text()
    assert dialog.error.isVisible()
    assert dialog.values() == {
        "teacher_id": "T001",
        "name": "周小红",
        "gender": "female",
        "subject": "信息技术",
        "title": "二级教师",
        "active": "yes",
    }
    assert dialog.teacher_id.hasFocus() or dialog.focusWidget() is dialog.teacher_id
    assert save_button(dialog).isEnabled()  # the clerk can correct and save again
    with main_ctx.store.Session() as s:
        assert [t.name for t in roster_entries(s) if t.teacher_id == "T001"] == ["王明"]

    dialog.teacher_id.setText("T009")
    qtbot.mouseClick(save_button(dialog), Qt.MouseButton.LeftButton)
    settle(page._tasks)
    assert closed(dialog)
    assert page.selected_teacher() is not None
    assert page.selected_teacher().teacher_id == "T009"  # type: ignore[union-attr]
    with main_ctx.store.Session() as s:
        [t] = [t for t in roster_entries(s) if t.teacher_id == "T009"]
        assert (t.name, t.subject, t.title) == ("周小红", "信息技术", "二级教师")
        assert get_record(s, t.record_id).status == Status.SUBMITTED


def test_the_dialog_checks_required_fields_before_saving(qtbot, page: RosterPage):
    dialog = open_add_dialog(page)
    qtbot.mouseClick(save_button(dialog), Qt.MouseButton.LeftButton)
    settle(page._tasks)
    assert dialog.isVisible() and dialog.error.text() == "请填写工号"


def test_editing_a_teacher_through_the_dialog(qtbot, page: RosterPage, main_ctx: ClientContext):
    row = next(
        r
        for r in range(page.proxy.rowCount())
        if page.proxy.index(r, RosterModel.COL_ID).data() == "T002"
    )
    page.view.selectRow(row)
    page.edit_button.click()
    dialog = page.teacher_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.teacher_id.isReadOnly() and dialog.teacher_id.text() == "T002"
    dialog.title_edit.setText("正高级教师")
    qtbot.mouseClick(save_button(dialog), Qt.MouseButton.LeftButton)
    settle(page._tasks)
    assert closed(dialog)
    with main_ctx.store.Session() as s:
        [t] = [t for t in roster_entries(s) if t.teacher_id == "T002"]
        assert t.title == "正高级教师" and t.revision == 2


def test_saving_a_teacher_unchanged_makes_no_revision(
    qtbot, page: RosterPage, main_ctx: ClientContext
):
    """OK on an unchanged teacher closes the dialog and sends nothing again."""
    page.view.selectRow(0)
    page.edit_button.click()
    dialog = page.teacher_dialog
    assert dialog is not None
    qtbot.mouseClick(save_button(dialog), Qt.MouseButton.LeftButton)
    settle(page._tasks)
    assert closed(dialog)
    with main_ctx.store.Session() as s:
        assert {t.revision for t in roster_entries(s)} == {1}
