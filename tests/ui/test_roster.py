"""The teacher roster page: a table, add, edit, mark inactive (never delete), search."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox
from sqlalchemy import func, select

from client.context import ClientContext
from client.store.formset import ROSTER_FORM
from client.store.models import Record, Status
from client.store.records import StoreError, get_record, roster
from client.store.roster import roster_entries, save_teacher, set_teacher_active
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
    settle(main_tasks)


def names(page: RosterPage) -> list[str]:
    return [page.proxy.index(r, RosterModel.COL_NAME).data() for r in range(page.proxy.rowCount())]


def row_of(page: RosterPage, teacher_id: str) -> int:
    for r in range(page.proxy.rowCount()):
        if page.proxy.index(r, RosterModel.COL_ID).data() == teacher_id:
            return r
    raise AssertionError(teacher_id)


def records_count(ctx: ClientContext) -> int:
    with ctx.store.Session() as s:
        return s.execute(
            select(func.count()).select_from(Record).where(Record.form_id == ROSTER_FORM)
        ).scalar_one()


def test_the_roster_table(qtmodeltester, page: RosterPage):
    assert page.model.rowCount() == 8
    assert names(page)[:3] == ["王明", "李娜", "张伟"]
    assert page.proxy.index(0, RosterModel.COL_GENDER).data() == "男"
    assert page.proxy.index(0, RosterModel.COL_ACTIVE).data() == "在职"
    assert page.proxy.index(0, RosterModel.COL_STATUS).data() == "待发送"
    assert page.model.headerData(0, Qt.Orientation.Horizontal) == "工号"
    assert page.count_label.text() == "在职 8 人，共 8 人"
    qtmodeltester.check(page.model)
    qtmodeltester.check(page.proxy)


def answer_dialog(page: RosterPage, **values: Any) -> None:
    """Fill the open add/edit dialog as the clerk would and press 保存."""
    dialog = page.teacher_dialog
    assert dialog is not None and dialog.isVisible()
    for key, value in values.items():
        if key == "gender":
            dialog.gender.setCurrentIndex(dialog.gender.findData(value))
        else:
            {"teacher_id": dialog.teacher_id, "name": dialog.name, "subject": dialog.subject,
             "title": dialog.title_edit}[key].setText(value)  # fmt: skip
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    settle(page._tasks)


def test_add_a_teacher(qtbot, page: RosterPage, main_ctx: ClientContext):
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    answer_dialog(page, teacher_id="T009", name="周小红", gender="female", subject="信息技术")
    assert page.teacher_dialog is None
    assert "周小红" in names(page)
    assert page.selected_teacher() is not None and page.selected_teacher().teacher_id == "T009"  # type: ignore[union-attr]
    with main_ctx.store.Session() as s:
        [t] = [t for t in roster_entries(s) if t.teacher_id == "T009"]
        record = get_record(s, t.record_id)
        assert record.status == Status.SUBMITTED  # the roster reaches the bureau like records
        assert record.data["subject"] == "信息技术" and "title" not in record.data
        assert roster(s).items["T009"] == "周小红"


def test_mark_a_teacher_inactive_never_deletes(
    qtbot, monkeypatch, page: RosterPage, main_ctx: ClientContext
):
    before = records_count(main_ctx)
    page.view.selectRow(row_of(page, "T003"))
    assert page.inactive_button.text() == "设为离职(&L)"
    asked: list[str] = []

    def yes(*args: Any) -> QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", yes)
    qtbot.mouseClick(page.inactive_button, Qt.MouseButton.LeftButton)
    settle(page._tasks)
    assert asked and "张伟" in asked[0]
    assert records_count(main_ctx) == before  # nothing deleted
    row = row_of(page, "T003")
    assert page.proxy.index(row, RosterModel.COL_ACTIVE).data() == "已离职"
    assert page.proxy.index(row, RosterModel.COL_NAME).data(Qt.ItemDataRole.FontRole).strikeOut()
    assert page.count_label.text() == "在职 7 人，共 8 人"
    assert page.inactive_button.text() == "恢复在职(&L)"  # the same teacher is still selected
    with main_ctx.store.Session() as s:
        ref = roster(s)
        assert (
            "T003" in ref.inactive and ref.items["T003"] == "张伟"
        )  # old records still show the name
        [t] = [t for t in roster_entries(s) if t.teacher_id == "T003"]
        record = get_record(s, t.record_id)
        assert record.data["active"] == "no" and record.revision == 2 and not record.deleted

    page.show_inactive.setChecked(False)
    assert "张伟" not in names(page) and len(names(page)) == 7
    page.show_inactive.setChecked(True)

    page.view.selectRow(row_of(page, "T003"))
    qtbot.mouseClick(page.inactive_button, Qt.MouseButton.LeftButton)  # active again: no question
    settle(page._tasks)
    assert page.proxy.index(row_of(page, "T003"), RosterModel.COL_ACTIVE).data() == "在职"
    assert len(asked) == 1


def test_edit_keeps_the_staff_number(qtbot, page: RosterPage, main_ctx: ClientContext):
    page.view.selectRow(row_of(page, "T002"))
    qtbot.keyClick(page.view, Qt.Key.Key_Return)
    dialog = page.teacher_dialog
    assert dialog is not None and dialog.teacher_id.text() == "T002"
    assert dialog.teacher_id.isReadOnly()
    record_id = page.selected_teacher().record_id  # type: ignore[union-attr]
    answer_dialog(page, title="正高级教师")
    assert page.proxy.index(row_of(page, "T002"), RosterModel.COL_TITLE).data() == "正高级教师"
    with main_ctx.store.Session() as s, pytest.raises(StoreError, match="工号不能修改"):
        save_teacher(
            s,
            forms=main_ctx.forms,
            values={"teacher_id": "X2", "name": "李娜"},
            record_id=record_id,
            today=main_ctx.clock.today(),
            now=main_ctx.clock.now(),
        )


def test_a_duplicate_staff_number_is_refused_in_plain_words(
    qtbot, page: RosterPage, main_ctx: ClientContext
):
    before = records_count(main_ctx)
    page.add_teacher()
    answer_dialog(page, teacher_id="T001", name="另一个王明")
    dialog = page.teacher_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.error.text() == "工号“T001”已是王明的工号，请换一个工号"
    assert records_count(main_ctx) == before
    dialog.reject()
    settle(page._tasks)


def test_search_the_roster(page: RosterPage):
    page.search_edit.setText("数学")
    assert names(page) == ["李娜"]
    page.search_edit.setText("t00")
    assert len(names(page)) == 8
    page.search_edit.clear()


def test_teacher_dialog(qtbot, chinese, main_ctx: ClientContext):
    dialog = TeacherDialog(main_ctx)
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "添加教师"
    save_button = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save_button, Qt.MouseButton.LeftButton)
    assert dialog.error.text() == "请填写工号" and dialog.result() == 0
    qtbot.keyClicks(dialog.teacher_id, "T010")
    dialog.name.setText("孙悦")  # Chinese arrives through the input method
    dialog.gender.setCurrentIndex(dialog.gender.findData("female"))
    qtbot.mouseClick(save_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == 1
    assert dialog.values() == {
        "teacher_id": "T010",
        "name": "孙悦",
        "gender": "female",
        "subject": "",
        "title": "",
        "active": "yes",
    }


def test_store_marks_inactive_and_back(main_ctx: ClientContext):
    ids = add_roster(main_ctx)
    with main_ctx.store.Session.begin() as s:
        set_teacher_active(
            s, forms=main_ctx.forms, record_id=ids["T008"], active=False,
            today=main_ctx.clock.today(), now=main_ctx.clock.now(),
        )  # fmt: skip
    with main_ctx.store.Session() as s:
        assert [t.teacher_id for t in roster_entries(s, include_inactive=False)] == [
            "T001", "T002", "T003", "T004", "T005", "T006", "T007",
        ]  # fmt: skip
        assert roster_entries(s)[-1].teacher_id == "T008"  # inactive ones last
