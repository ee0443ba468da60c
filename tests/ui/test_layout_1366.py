"""The clerk's 1366x768 PC (issue 11, item 8): the window opens fitting the screen, 待办's tables keep their
rows and size their columns even with sync problems showing, a field's label never leaves its required star
alone on a line, and fields do not move while an error line comes and goes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtWidgets import QApplication, QStyle

from client.context import ClientContext
from client.store import sync_state as S
from client.ui import lang
from client.ui.editor import RecordEditor
from client.ui.editor_fields import FieldRow
from client.ui.home_page import HazardModel
from client.ui.main_window import MainWindow
from client.ui.tasks import TaskManager
from tests.store.todo_data import hazard, inspection, save, seed_realistic, set_status
from tests.ui.main_helpers import settle

pytest_plugins = ("tests.ui.fixtures_main",)

ROOT = Path(__file__).resolve().parents[2]
# What a maximized window leaves for its content on a 1366x768 screen (Windows: taskbar and title bar).
CLIENT_AREA = (1366, 700)


# -- the window --------------------------------------------------------------------------------------------


def test_window_placement_fits_the_screen():
    from client.ui.main_window import window_placement

    assert window_placement(QRect(0, 0, 1366, 728)) == (QRect(0, 0, 1366, 728), True)
    assert window_placement(QRect(0, 0, 1280, 680))[1] is True
    geometry, maximized = window_placement(QRect(0, 0, 1920, 1040))
    assert not maximized and QRect(0, 0, 1920, 1040).contains(geometry)
    assert geometry.width() >= 1280 and geometry.height() >= 720


def test_the_window_opens_maximized_on_a_1366x768_screen(tmp_path: Path):
    """The real entry point on an offscreen screen of 1366x768 (Qt's offscreen platform, configured)."""
    config = tmp_path / "screen.json"
    config.write_text(
        json.dumps({"screens": [{"name": "s", "x": 0, "y": 0, "width": 1366, "height": 768}]})
    )
    env = {k: v for k, v in os.environ.items() if k != "SCHOOL_CLIENT_DATA_DIR"}
    env["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"
    data = tmp_path / "data"
    proc = subprocess.run(
        [sys.executable, "-m", "client.cli", "--data-dir", str(data), "--smoke-test"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    log = (data / "logs" / "school-client.log").read_text(encoding="utf-8")
    m = re.search(r"window (\d+)x(\d+)( maximized)? on a screen of (\d+)x(\d+)", log)
    assert m is not None, log
    assert m[3] and (int(m[1]), int(m[2])) == (1366, 768) and (m[4], m[5]) == ("1366", "768")


# -- 待办 -----------------------------------------------------------------------------------------------------


@pytest.fixture
def busy_home(qtbot, chinese, main_ctx: ClientContext, main_tasks: TaskManager) -> MainWindow:
    """待办 with everything at once: due forms, two sync problems, two returned records, five hazards."""
    seed_realistic(main_ctx)
    long = save(
        main_ctx,
        "safety_inspection",
        inspection(
            "2026-11-21",
            [hazard(responsible_person="刘德明（后勤主任）", location="学生宿舍二楼 203 室")],
        ),
    ).record_id
    set_status(main_ctx, long, "returned", {"signed_by": "请校长签字"})
    with main_ctx.store.Session.begin() as s:
        for i in range(2):
            S.raise_issue(
                s,
                kind=S.IssueKind.REJECTED,
                reason="validation",
                message_zh="数据未通过服务器检查",
                message_en="the server's form check refused the data",
                details={},
                now=main_ctx.clock.now(),
                record_id=long,
                op_id=f"op-{i}",
            )
    window = MainWindow(main_ctx, main_tasks)
    qtbot.addWidget(window)
    window.resize(*CLIENT_AREA)
    window.show()
    settle(main_tasks)
    QApplication.processEvents()
    return window


def visible_rows(view) -> float:
    return view.viewport().height() / view.verticalHeader().defaultSectionSize()


def test_home_tables_keep_their_rows_with_sync_problems_showing(busy_home: MainWindow):
    home = busy_home.home
    assert home.issue_section.isVisible()
    assert home.hazard_model.rowCount() >= 5
    assert visible_rows(home.hazard_view) >= 4  # was one row
    assert visible_rows(home.returned_view) >= 2
    assert visible_rows(home.issue_view) >= 2


def test_home_tables_size_their_columns(busy_home: MainWindow):
    home = busy_home.home
    view, model = home.hazard_view, home.hazard_model
    margin = 2 * (view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1)
    for column in range(model.columnCount()):
        if column in (HazardModel.COL_DESCRIPTION, HazardModel.COL_LOCATION):
            continue  # the long texts: stretched or capped, the whole text in the tooltip
        for row in range(model.rowCount()):
            index = model.index(row, column)
            font = index.data(Qt.ItemDataRole.FontRole) or view.font()
            needed = QFontMetrics(font).horizontalAdvance(str(index.data() or "")) + margin
            assert view.columnWidth(column) >= needed, (column, index.data())
        assert view.columnWidth(column) >= view.horizontalHeader().sectionSizeHint(column)
    assert "刘德明（后勤主任）" in [
        model.index(r, HazardModel.COL_PERSON).data() for r in range(model.rowCount())
    ]
    assert view.horizontalHeader().length() <= view.viewport().width() + 1  # no sideways scrolling


# -- the editor ---------------------------------------------------------------------------------------------


def label_lines(row: FieldRow) -> list[str]:
    """The lines the label's text is laid out in, as QLabel lays out rich text."""
    doc = QTextDocument()
    doc.setDefaultFont(row.label.font())
    doc.setHtml(row.label.text())
    doc.setDocumentMargin(0)
    doc.setTextWidth(row.label.contentsRect().width())
    doc.documentLayout().documentSize()  # lays the text out
    layout = doc.firstBlock().layout()
    text = doc.firstBlock().text()
    return [
        text[
            layout.lineAt(i).textStart() : layout.lineAt(i).textStart()
            + layout.lineAt(i).textLength()
        ]
        for i in range(layout.lineCount())
    ]


FORMS = ["safety_inspection", "teacher_ethics", "after_school_service", "dropout_followup"]


@pytest.mark.parametrize("language", ["zh_CN", "en"])
@pytest.mark.parametrize("form_id", [*FORMS, "school_conditions"])
def test_no_label_leaves_its_star_alone(
    qtbot, ctx: ClientContext, tasks: TaskManager, form_id: str, language: str
):
    lang.set_language(language)
    try:
        editor = RecordEditor(ctx, tasks, form_id)
    finally:
        lang.set_language("zh_CN")
    qtbot.addWidget(editor)
    editor.resize(*CLIENT_AREA)
    editor.show()
    tasks.wait()
    QApplication.processEvents()
    editor._show_all = True  # every required star shows
    editor._refresh()
    QApplication.processEvents()
    starred = 0
    for row in editor._fields.values():
        lines = label_lines(row)
        plain = "".join(lines).replace("\u00a0", " ").replace("*", "").strip()
        if language == "zh_CN" and len(plain) <= 10:
            assert len(lines) == 1, (row.field.name, lines)  # a short Chinese label is not broken
        if "*" not in row.label.text():
            continue
        starred += 1
        assert lines[-1].replace("\u00a0", " ").strip() != "*", (row.field.name, lines)
    assert starred > 0


def test_fields_do_not_move_as_an_error_line_comes_and_goes(
    qtbot, ctx: ClientContext, tasks: TaskManager
):
    editor = RecordEditor(ctx, tasks, "school_conditions")
    qtbot.addWidget(editor)
    editor.resize(*CLIENT_AREA)
    editor.show()
    tasks.wait()
    QApplication.processEvents()
    below = editor._fields[("classrooms",)]
    top = below.mapTo(editor, below.rect().topLeft()).y()
    editor.set_value(("large_classes",), -1)  # 大班额班级数不能为负数
    QApplication.processEvents()
    assert editor.problem_text(("large_classes",)) != ""
    assert below.mapTo(editor, below.rect().topLeft()).y() == top
    editor.set_value(("large_classes",), 0)
    QApplication.processEvents()
    assert editor.problem_text(("large_classes",)) == ""
    assert below.mapTo(editor, below.rect().topLeft()).y() == top
