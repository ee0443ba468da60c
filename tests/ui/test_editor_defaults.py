"""A new 办学条件统计 starts on the current semester (issue 11: the 学期 picker started empty); a problem
the editor cannot place by a field is named in the clerk's words, never hazards[1].photo."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QComboBox
from pytestqt.qtbot import QtBot

from client.context import ClientContext
from client.store.todo import current_period_choice
from client.ui.tasks import TaskManager
from tests.ui.test_editor import open_editor


def test_a_new_record_starts_on_the_current_semester(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    editor = open_editor(qtbot, ctx, tasks, "school_conditions")
    combo = editor.widget_for(("semester",))
    assert isinstance(combo, QComboBox)
    assert combo.currentText() == "2026年秋季"
    assert editor.data()["semester"] == "2026-autumn"
    assert not editor.is_dirty()  # nothing typed yet: closing saves nothing


def test_the_current_period_choice(ctx: ClientContext) -> None:
    form = ctx.forms.get("school_conditions")
    assert current_period_choice(form, dt.date(2026, 11, 28)) == "2026-autumn"
    assert current_period_choice(form, dt.date(2027, 4, 1)) == "2027-spring"
    assert current_period_choice(form, dt.date(2031, 4, 1)) is None  # not on the list (yet)
    assert current_period_choice(ctx.forms.get("safety_inspection"), dt.date(2026, 11, 28)) is None


def test_a_problem_is_placed_in_the_clerks_words(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    editor = open_editor(qtbot, ctx, tasks, "safety_inspection")
    assert editor.place_text(("hazards", 1, "photo")) == "“隐患清单”第 2 条的“现场照片”"
    assert editor.place_text(("signed_by",)) == "“负责人”"
