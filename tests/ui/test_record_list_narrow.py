"""The record list in an 800 px wide window (an old PC; the list beside the 250 px sidebar): the page title is
not hidden under the buttons and the date filters show whole dates (product trial 2026-12-01, item 6/2)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from client.context import ClientContext
from client.ui.record_list import RecordListPage
from client.ui.tasks import TaskManager

pytest_plugins = ("tests.ui.fixtures_main",)


def box(page: QWidget, widget: QWidget) -> QRect:
    return QRect(widget.mapTo(page, widget.rect().topLeft()), widget.size())


@pytest.mark.parametrize("width", [530, 1100])
@pytest.mark.parametrize("form_id", ["safety_inspection", "after_school_service"])
def test_nothing_is_cut_off_in_a_narrow_window(
    qtbot: QtBot,
    chinese: None,
    main_ctx: ClientContext,
    main_tasks: TaskManager,
    form_id: str,
    width: int,
) -> None:
    page = RecordListPage(main_ctx, main_tasks, form_id)
    qtbot.addWidget(page)
    page.resize(width, 600)
    page.show()
    QApplication.processEvents()
    assert page.width() == width
    title = page.title
    assert title.width() >= title.sizeHint().width(), title.text()
    widgets = [
        title,
        page.new_button,
        page.open_button,
        page.export_button,
        page.import_button,
        page.status_combo,
        page.date_check,
        page.date_from,
        page.date_to,
        page.search_edit,
        page.count_label,
    ]
    boxes = [box(page, w) for w in widgets]
    for w, b in zip(widgets, boxes, strict=True):
        assert page.rect().contains(b), (type(w).__name__, b)
        others = [o for o in boxes if o is not b]
        assert not any(b.intersects(o) for o in others), type(w).__name__
    for edit in (page.date_from, page.date_to):
        assert edit.width() >= edit.sizeHint().width()  # "2026-12-01", not "2026-12-0"
