"""The record list: a lazy model (pages of 200), sorting by the query, filters by status and date, and
full-text search with Chinese substrings; the page around it."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QDate, QModelIndex, QPoint, Qt
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget
from sqlalchemy import update

from client.context import ClientContext
from client.store.models import Record, Status
from client.store.records import RecordFilter, save_record
from client.ui.record_list import RecordIdRole, RecordListModel, RecordListPage, StatusRole
from client.ui.tasks import TaskManager
from tests.store.todo_data import ACTIVITIES, add_roster, after_school
from tests.ui.main_helpers import settle

FORM = "after_school_service"
START = dt.date(2025, 3, 1)

pytest_plugins = ("tests.ui.fixtures_main",)


def fill(ctx: ClientContext, n: int) -> list[str]:
    """n after-school records, one a day from START, saved with save_record in one transaction; every
    tenth is returned, every seventh accepted, every fifth left a draft."""
    teachers = list(add_roster(ctx))
    form = ctx.forms.get(FORM)
    ids: list[str] = []
    with ctx.store.Session.begin() as s:
        for i in range(n):
            day = START + dt.timedelta(days=i % 600)
            res = save_record(
                s,
                form=form,
                data=after_school(day, i, teachers),
                submit=i % 5 != 0,
                today=ctx.clock.today(),
                now=ctx.clock.now() - dt.timedelta(minutes=n - i),
            )
            ids.append(res.record_id)
        for i, rid in enumerate(ids):
            if i % 10 == 3:
                s.execute(update(Record).where(Record.id == rid).values(status=Status.RETURNED))
            elif i % 7 == 1:
                s.execute(update(Record).where(Record.id == rid).values(status=Status.ACCEPTED))
    return ids


def column(
    model: RecordListModel, col: int, role: int = Qt.ItemDataRole.DisplayRole
) -> list[object]:
    return [model.index(r, col).data(role) for r in range(model.rowCount())]


def type_chinese(widget: QWidget, text: str) -> None:
    """Chinese arrives from the input method as committed text, not as key presses."""
    widget.setFocus()
    event = QInputMethodEvent()
    event.setCommitString(text)
    QApplication.sendEvent(widget, event)


def fetch_all(model: RecordListModel) -> None:
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())


def test_pages_lazily_through_a_thousand_records(qtmodeltester, main_ctx: ClientContext):
    ids = fill(main_ctx, 1000)
    model = RecordListModel(main_ctx.store.Session, FORM)
    model.reload()
    assert model.total() == 1000
    assert model.rowCount() == 200 and model.canFetchMore(QModelIndex())
    seen = [200]
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
        seen.append(model.rowCount())
    assert seen == [200, 400, 600, 800, 1000]
    assert not model.canFetchMore(QModelIndex())
    listed = column(model, 0, RecordIdRole)
    assert len(set(listed)) == 1000 and set(listed) == set(ids)
    # Newest change first by default.
    assert listed[0] == ids[-1] and listed[-1] == ids[0]
    qtmodeltester.check(model)


def test_model_passes_the_model_tester_while_partly_loaded(qtmodeltester, main_ctx: ClientContext):
    fill(main_ctx, 450)
    model = RecordListModel(main_ctx.store.Session, FORM, page_size=100)
    model.reload()
    assert model.rowCount() == 100
    qtmodeltester.check(model)
    assert model.rowCount() >= 100


def test_sorting_by_a_column_reorders_through_the_query(main_ctx: ClientContext):
    fill(main_ctx, 450)
    model = RecordListModel(main_ctx.store.Session, FORM)
    model.sort(RecordListModel.COL_DATE, Qt.SortOrder.AscendingOrder)
    assert model.rowCount() == 200  # still one page: sorted by SQL, not in memory
    fetch_all(model)
    dates = column(model, RecordListModel.COL_DATE)
    assert dates == sorted(dates) and dates[0] == START.isoformat()
    model.sort(RecordListModel.COL_DATE, Qt.SortOrder.DescendingOrder)
    first_page = column(model, RecordListModel.COL_DATE)
    assert first_page[0] == (START + dt.timedelta(days=449)).isoformat()
    assert first_page == sorted(first_page, reverse=True)
    model.sort(RecordListModel.COL_STATUS, Qt.SortOrder.AscendingOrder)
    fetch_all(model)
    statuses = column(model, 0, StatusRole)
    assert statuses == sorted(statuses)  # type: ignore[type-var]
    model.sort(RecordListModel.COL_SUMMARY, Qt.SortOrder.DescendingOrder)
    summaries = column(model, RecordListModel.COL_SUMMARY)
    assert summaries == sorted(summaries, reverse=True)  # type: ignore[type-var]


def test_filters_by_status_date_and_chinese_search(main_ctx: ClientContext):
    fill(main_ctx, 300)
    model = RecordListModel(main_ctx.store.Session, FORM)
    model.set_filter(RecordFilter(FORM, statuses=(Status.RETURNED,)))
    assert model.total() == 30
    assert set(column(model, 0, StatusRole)) == {Status.RETURNED}
    assert set(column(model, RecordListModel.COL_STATUS)) == {"已退回"}

    model.set_filter(RecordFilter(FORM, date_from="2025-03-10", date_to="2025-03-19"))
    assert model.total() == 10
    assert all("2025-03-10" <= str(d) <= "2025-03-19" for d in column(model, 1))

    # A two-character word (LIKE on the search text) and a longer one (FTS5 trigram).
    kinds = [a[1] for a in ACTIVITIES]
    model.set_filter(RecordFilter(FORM, search="剪纸"))
    assert model.total() == 50 and model.rowCount() == 50
    model.set_filter(RecordFilter(FORM, search="校园种植"))
    assert model.total() == 50
    model.set_filter(RecordFilter(FORM, search="剪纸 四年级"))
    assert model.total() == 0  # 剪纸 is second grade only
    assert kinds[3] == "剪纸兴趣小组"
    model.set_filter(RecordFilter(FORM, search="篮球", statuses=(Status.DRAFT,)))
    assert 0 < model.total() < 50


@pytest.fixture
def page(qtbot, chinese, main_ctx: ClientContext, main_tasks: TaskManager) -> RecordListPage:
    fill(main_ctx, 60)
    p = RecordListPage(main_ctx, main_tasks, FORM)
    qtbot.addWidget(p)
    p.resize(1100, 650)
    p.show()
    qtbot.waitUntil(lambda: p.model.total() == 60)
    return p


def test_page_filters_with_its_widgets(qtbot, page: RecordListPage):
    assert page.count_label.text() == "共 60 条"
    page.status_combo.setCurrentIndex(page.status_combo.findData(Status.RETURNED))
    assert page.model.total() == 6
    assert page.count_label.text() == "共 6 条"
    page.status_combo.setCurrentIndex(0)

    page.date_from.setDate(QDate(2025, 3, 5))
    page.date_to.setDate(QDate(2025, 3, 14))
    assert page.model.total() == 60  # the range applies only when ticked
    page.date_check.setChecked(True)
    assert page.model.total() == 10
    page.date_check.setChecked(False)

    type_chinese(page.search_edit, "经典诵读")
    qtbot.waitUntil(lambda: page.model.total() == 10)  # search runs shortly after typing stops
    assert all("四年级" in str(s) for s in column(page.model, RecordListModel.COL_SUMMARY))
    page.search_edit.clear()
    qtbot.waitUntil(lambda: page.model.total() == 60)


def test_page_sorts_by_header_click_and_opens_records(qtbot, page: RecordListPage):
    header = page.view.horizontalHeader()
    x = header.sectionViewportPosition(RecordListModel.COL_DATE) + 5
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    dates = column(page.model, RecordListModel.COL_DATE)
    assert dates in (sorted(dates), sorted(dates, reverse=True))
    assert header.sortIndicatorSection() == RecordListModel.COL_DATE

    opened: list[tuple[str, str]] = []
    page.open_record.connect(lambda f, r: opened.append((f, r)))
    page.view.setFocus()
    page.view.selectRow(2)
    assert page.open_button.isEnabled()
    qtbot.keyClick(page.view, Qt.Key.Key_Return)
    assert opened == [(FORM, page.model.record_id(2))]
    created: list[str] = []
    page.new_record.connect(created.append)
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    assert created == [FORM]


def test_status_shown_in_chinese_with_colour(page: RecordListPage):
    model = page.model
    model.set_filter(RecordFilter(FORM, statuses=(Status.DRAFT,)))
    index = model.index(0, RecordListModel.COL_STATUS)
    assert index.data() == "草稿"
    assert index.data(Qt.ItemDataRole.ForegroundRole).name() == "#6b6b6b"
    model.set_filter(RecordFilter(FORM, statuses=(Status.RETURNED,)))
    assert model.index(0, 0).data(Qt.ItemDataRole.ForegroundRole).name() == "#c62828"
    assert model.headerData(0, Qt.Orientation.Horizontal) == "状态"


def test_view_fetches_more_when_scrolled(qtbot, chinese, main_ctx: ClientContext, main_tasks):
    fill(main_ctx, 500)
    p = RecordListPage(main_ctx, main_tasks, FORM)
    qtbot.addWidget(p)
    p.resize(1000, 600)
    p.show()
    qtbot.waitUntil(lambda: p.model.rowCount() >= 200)
    p.view.scrollToBottom()
    qtbot.waitUntil(lambda: p.model.rowCount() > 200)


def test_export_and_import_from_the_page(qtbot, monkeypatch, tmp_path, page: RecordListPage):
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: told.append(str(a[2])))
    out = tmp_path / "课后服务.xlsx"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    page.status_combo.setCurrentIndex(page.status_combo.findData(Status.RETURNED))
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    settle(page._tasks)
    assert out.exists()
    assert told == [f"已导出 6 条记录到：\n{out}"]  # the status filter applies to the export

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(out), ""))
    changed: list[bool] = []
    page.data_changed.connect(lambda: changed.append(True))
    qtbot.mouseClick(page.import_button, Qt.MouseButton.LeftButton)
    settle(page._tasks)
    assert told[-1] == (
        "导入完成：新增 0 条，更新 0 条，未变 6 条。\n未变的记录保持原样，不会再次发送给教育局。"
    )
    assert changed == [True]
    page.status_combo.setCurrentIndex(0)
    assert page.model.total() == 60  # the same records again: unchanged, not duplicated

    page.status_combo.setCurrentIndex(page.status_combo.findData(Status.DRAFT))
    drafts = page.model.total()
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    settle(page._tasks)
    qtbot.mouseClick(page.import_button, Qt.MouseButton.LeftButton)
    settle(page._tasks)
    assert drafts and told[-1] == (
        f"导入完成：新增 0 条，更新 0 条，未变 {drafts} 条。\n"
        "未变的记录保持原样，不会再次发送给教育局。\n"
        f"其中 {drafts} 条是草稿，仍是草稿，不会发送给教育局。"
    )
    assert page.model.total() == drafts
    page.status_combo.setCurrentIndex(0)

    bad = tmp_path / "bad.json"
    bad.write_text('[{"service_date": "明天"}]', encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    shown: list[QMessageBox] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self) or 0)
    qtbot.mouseClick(page.import_button, Qt.MouseButton.LeftButton)
    settle(page._tasks)
    assert shown and shown[0].text().startswith("导入失败，未导入任何记录")
    assert "bad.json" in shown[0].detailedText()
    assert page.model.total() == 60
