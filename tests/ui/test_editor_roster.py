"""An open form follows the roster (issue 11): a teacher added on the roster page, or brought in by an import
or a sync and shown with F5, appears in the teacher drop-downs of forms already open; one who left stops being
offered; two teachers with the same name are told apart by their staff numbers."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QDialogButtonBox

from client.context import ClientContext
from client.ui.editor import RecordEditor
from client.ui.main_window import MainWindow
from tests.store.todo_data import add_roster, save, teacher
from tests.ui.main_helpers import settle

pytest_plugins = ("tests.ui.fixtures_main",)


def open_new(window: MainWindow, form_id: str) -> RecordEditor:
    window.new_record(form_id)
    settle(window.tasks)
    editor = window.tabs.currentWidget()
    assert isinstance(editor, RecordEditor)
    return editor


def combo_texts(editor: RecordEditor, name: str) -> list[str]:
    combo = editor.widget_for((name,))
    assert isinstance(combo, QComboBox)
    return [combo.itemText(i) for i in range(combo.count())]


def check_texts(editor: RecordEditor, name: str) -> list[str]:
    box = editor.widget_for((name,))
    assert box is not None
    return [c.text() for c in box.findChildren(QCheckBox)]


def test_a_teacher_added_on_the_roster_page_appears_in_an_open_form(
    qtbot, window: MainWindow, main_ctx: ClientContext
):
    add_roster(main_ctx)
    window.refresh_all()
    settle(window.tasks)
    editor = open_new(window, "teacher_ethics")
    assert "周小红" not in combo_texts(editor, "teacher")
    editor.set_value(("record_type",), "training")  # the clerk is half-way through

    window.go_to("roster")
    settle(window.tasks)
    window.roster.add_teacher()
    dialog = window.roster.teacher_dialog
    assert dialog is not None
    dialog.teacher_id.setText("T009")
    dialog.name.setText("周小红")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    settle(window.tasks)

    assert "周小红" in combo_texts(editor, "teacher")
    assert editor.data()["record_type"] == "training"  # nothing the clerk entered is lost
    editor.set_value(("teacher",), "T009")
    assert editor.problem_text(("teacher",)) == ""


def test_f5_brings_teachers_saved_elsewhere_into_open_forms(
    qtbot, window: MainWindow, main_ctx: ClientContext
):
    ids = add_roster(main_ctx)
    window.refresh_all()
    settle(window.tasks)
    editor = open_new(window, "after_school_service")
    assert "孙悦" not in check_texts(editor, "teachers")
    assert any("王明" in t for t in check_texts(editor, "teachers"))

    # what an import or a sync does: straight into the store, behind the window's back
    save(main_ctx, "teachers", teacher("T010", "孙悦", "female"))
    left = teacher("T001", "王明")
    left["active"] = "no"
    save(main_ctx, "teachers", left, record_id=ids["T001"])
    window.refresh_action.trigger()  # F5
    settle(window.tasks)

    texts = check_texts(editor, "teachers")
    assert "孙悦" in texts
    assert not any("王明" in t for t in texts)  # no longer offered for new answers


def test_two_teachers_with_one_name_show_their_staff_numbers(
    qtbot, window: MainWindow, main_ctx: ClientContext
):
    add_roster(main_ctx)
    save(main_ctx, "teachers", teacher("T009", "李娜", "female", "语文"))
    window.refresh_all()
    settle(window.tasks)
    editor = open_new(window, "teacher_ethics")
    texts = combo_texts(editor, "teacher")
    assert "李娜（T002）" in texts and "李娜（T009）" in texts
    assert "王明" in texts  # a name nobody shares stays plain
