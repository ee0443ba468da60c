"""A rate the form marks `appearance: percent` reads as a percentage in the clerk's editor (issue 11, item 4):
一体机覆盖率 71.4%, not 0.7143. The value stored stays the fraction the form calculated."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from client.context import ClientContext
from client.ui.tasks import TaskManager

from .test_editor import field, open_editor


def test_the_editor_shows_a_percent_calculate_as_a_percentage(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
):
    editor = open_editor(qtbot, ctx, tasks, "school_conditions")
    editor.set_value(("classrooms",), 14)
    editor.set_value(("classrooms_with_smartboard",), 10)
    assert editor.data()["smartboard_rate"] == 0.7143
    assert field(editor, "smartboard_rate").property("text") == "71.4%"
    editor.set_value(("classes",), 12)
    editor.set_value(("large_classes",), 0)
    assert field(editor, "large_class_rate").property("text") == "0.0%"
    editor.set_value(("classrooms",), 0)  # no classrooms: no rate
    assert field(editor, "smartboard_rate").property("text") == "—"


def test_the_editor_shows_the_attendance_rate_as_a_percentage(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
):
    editor = open_editor(qtbot, ctx, tasks, "after_school_service")
    editor.set_value(("enrolled",), 30)
    editor.set_value(("present",), 28)
    assert field(editor, "attendance_rate").property("text") == "93.3%"
    # A calculate without the appearance keeps its plain number.
    editor.set_value(("start_time",), "16:00")
    editor.set_value(("end_time",), "17:30")
    assert field(editor, "duration_minutes").property("text") == "90"
