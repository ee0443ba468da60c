"""The editor in a narrow window (an old 800x600 PC, or the editor beside the sidebar in an 800 px window):
a refused 提交 scrolls to the bad field vertically only, and the refusing rule's text wraps inside the
window (product trial 2026-12-01, item 1); the editor tab names a record after 提交 (item 3)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from client.context import ClientContext
from client.store import records
from client.store.models import Status
from client.ui.editor import RecordEditor
from client.ui.main_window import MainWindow
from client.ui.tasks import TaskManager
from tests.ui.conftest import save
from tests.ui.main_helpers import settle
from tests.ui.test_editor import (
    SEVEN_DAYS,
    choose,
    click,
    fill_hazard,
    fill_inspection_top,
    open_editor,
    repeat,
    type_into,
)

pytest_plugins = ("tests.ui.fixtures_main",)

# The editor's share of an 800 px wide window, beside the 250 px sidebar.
NARROW = (540, 640)


def inside_viewport(editor: RecordEditor, widget: QWidget) -> bool:
    viewport = editor._scroll.viewport()
    left = widget.mapTo(viewport, QPoint(0, 0)).x()
    return left >= 0 and left + widget.width() <= viewport.width()


def check_nothing_sideways(editor: RecordEditor) -> None:
    QApplication.processEvents()
    scroll = editor._scroll
    page = scroll.widget()
    assert page is not None
    assert scroll.horizontalScrollBar().value() == 0
    assert page.width() <= scroll.viewport().width()
    problems = [
        label
        for label in page.findChildren(QLabel, "problem")
        if label.isVisibleTo(editor) and label.text()
    ]
    assert problems
    for label in problems:
        assert inside_viewport(editor, label), label.text()
    for row in editor._fields.values():
        if row.isVisibleTo(editor):
            assert inside_viewport(editor, row.label), row.field.name


def check_choices_shown_whole(editor: RecordEditor) -> None:
    """Every radio button and check box lies inside its field's row: wrapped to more rows, not cut off."""
    QApplication.processEvents()
    for row in editor._fields.values():
        if not row.isVisibleTo(editor):
            continue
        for button in row.findChildren(QAbstractButton):
            if button.objectName().startswith("choice_"):
                box = QRect(button.mapTo(row, QPoint(0, 0)), button.size())
                assert row.rect().contains(box), (row.field.name, button.text(), box, row.rect())


def test_choices_wrap_inside_a_narrow_window(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    editor = open_editor(qtbot, ctx, tasks)
    for width in (NARROW[0], 420, 1366):
        editor.resize(width, NARROW[1])
        check_choices_shown_whole(editor)
        page = editor._scroll.widget()
        assert page is not None and page.width() <= editor._scroll.viewport().width()


def refused_serious_hazard(qtbot: QtBot, editor: RecordEditor) -> None:
    editor.resize(*NARROW)
    QApplication.processEvents()
    fill_inspection_top(qtbot, editor)
    choose(qtbot, editor, "hazards_found", name="yes")
    fill_hazard(
        qtbot,
        editor,
        0,
        category="fire",
        location="食堂后厨",
        description="灭火器压力不足",
        severity="serious",
        measures="更换",
        responsible_person="王明",
        deadline="2026-12-10",
    )
    assert len(repeat(editor).entries) == 1
    editor._scroll.verticalScrollBar().setValue(0)
    click(qtbot, editor.submit_button)
    assert "还有 1 处" in editor.banner_text()
    qtbot.wait(30)  # the editor goes to the field on a zero timer
    assert SEVEN_DAYS in editor.problem_text(("hazards", 0, "deadline"))


def test_refused_submit_scrolls_only_down_and_wraps_the_rule(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    editor = open_editor(qtbot, ctx, tasks)
    refused_serious_hazard(qtbot, editor)
    check_nothing_sideways(editor)
    check_choices_shown_whole(editor)
    assert editor._scroll.verticalScrollBar().value() > 0  # it did go down to the field


def test_refused_draft_save_scrolls_only_down(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    editor = open_editor(qtbot, ctx, tasks)
    editor.resize(*NARROW)
    QApplication.processEvents()
    click(qtbot, editor.submit_button)  # nothing filled: required fields refused
    qtbot.wait(30)
    assert "处" in editor.banner_text()
    QApplication.processEvents()
    assert editor._scroll.horizontalScrollBar().value() == 0
    page = editor._scroll.widget()
    assert page is not None and page.width() <= editor._scroll.viewport().width()


# -- the editor tab's name after 提交 (item 3) ----------------------------------------------------------


def test_the_tab_names_the_record_once_it_is_submitted(qtbot: QtBot, window: MainWindow) -> None:
    window.new_record("safety_inspection")
    [editor] = window.editors()
    assert isinstance(editor, RecordEditor)
    settle(window.tasks)
    index = window.tabs.indexOf(editor)
    assert window.tabs.tabText(index).startswith("新建：")
    editor.activateWindow()
    fill_inspection_top(qtbot, editor)
    choose(qtbot, editor, "hazards_found", name="no")
    with qtbot.waitSignal(editor.submitted, timeout=5000):
        click(qtbot, editor.submit_button)
    settle(window.tasks)
    assert window.tabs.tabText(window.tabs.indexOf(editor)).startswith("编辑：")


def test_a_returned_record_refused_again_scrolls_only_down(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    """The trial's steps: a returned inspection with a serious hazard, its deadline set too late, 提交修改."""
    hazard = {
        "category": "fire",
        "location": "食堂后厨",
        "description": "灭火器压力不足",
        "severity": "serious",
        "measures": "更换",
        "responsible_person": "王明",
        "deadline": "2026-11-22",
        "status": "open",
    }
    record_id = save(
        ctx,
        "safety_inspection",
        {
            "inspection_date": "2026-11-20",
            "inspection_type": "routine",
            "inspectors": "张伟",
            "areas": ["canteen"],
            "hazards_found": "yes",
            "hazards": [hazard],
            "signed_by": "赵校长",
        },
        submit=True,
    )
    with ctx.store.Session.begin() as s:
        record = records.get_record(s, record_id)
        record.status = Status.RETURNED
        record.review_comments = {"": "请核实隐患整改期限"}
    editor = open_editor(qtbot, ctx, tasks, record_id=record_id)
    try:
        editor.resize(*NARROW)
        QApplication.processEvents()
        assert editor.submit_button.text() == "提交修改"
        type_into(qtbot, editor, "hazards", 0, "deadline", text="2026-12-10")
        editor._scroll.verticalScrollBar().setValue(0)
        click(qtbot, editor.submit_button)
        qtbot.wait(30)
        assert "还有 1 处" in editor.banner_text()
        assert SEVEN_DAYS in editor.problem_text(("hazards", 0, "deadline"))
        check_nothing_sideways(editor)
        check_choices_shown_whole(editor)
    finally:
        editor._finish_close()  # the unsubmitted correction is left as it is (no question to answer)
