"""A form's records: a lazy table model over `records.list_records` and the page around it (filters, search,
new / open / export / import).

The model reads one page (200 rows) at a time: `canFetchMore`/`fetchMore` page through the query, sorting by
a column re-runs the query ordered by that column, and filters (status, date range, full-text search) are part
of the query. Page reads are small indexed queries on their own short read transaction; they run on the GUI
thread so that a view's fetchMore (and qtmodeltester) sees the rows at once. Writes go through the TaskManager.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from client.context import ClientContext
from client.store.models import Status
from client.store.records import RecordFilter, RecordRow, count_records, list_records
from client.ui import lang
from client.ui.lock import LockPanel
from client.ui.tasks import TaskManager

log = logging.getLogger(__name__)

RecordIdRole = Qt.ItemDataRole.UserRole + 1
StatusRole = Qt.ItemDataRole.UserRole + 2

AnyIndex = QModelIndex | QPersistentModelIndex


class RecordListModel(QAbstractTableModel):
    """Records of one form, a page at a time, in the order and with the filter asked for."""

    COL_STATUS, COL_DATE, COL_SUMMARY, COL_REVISION, COL_UPDATED = range(5)
    SORT_KEYS = ("status", "record_date", "summary", "revision", "updated_at")

    def __init__(
        self,
        session_factory: Callable[[], Session],
        form_id: str,
        *,
        page_size: int = 200,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._sessions = session_factory
        self._filter = RecordFilter(form_id=form_id)
        self._page_size = page_size
        self._sort_column = self.COL_UPDATED
        self._descending = True
        self._rows: list[RecordRow] = []
        self._ids: set[str] = set()
        self._total = 0
        self.blocked = False  # a locked sensitive form: no rows read, only the form's total
        self._headers = (
            self.tr("状态"),
            self.tr("日期"),
            self.tr("内容摘要"),
            self.tr("修订"),
            self.tr("最后修改"),
        )

    # -- what the page asks for -------------------------------------------------------------------------

    @property
    def filter(self) -> RecordFilter:
        return self._filter

    def set_filter(self, flt: RecordFilter) -> None:
        self._filter = flt
        self.reload()

    def total(self) -> int:
        """How many records match the filter (loaded or not)."""
        return self._total

    def record_id(self, row: int) -> str:
        return self._rows[row].id

    def row_of(self, record_id: str) -> int | None:
        for i, r in enumerate(self._rows):
            if r.id == record_id:
                return i
        return None

    def reload(self) -> None:
        """Run the query again from its first page (after a save, a filter change or a sort)."""
        with self._sessions() as s:
            # Locked: the form's total, never a search's (a count of matches tells too much).
            if self.blocked:
                total, rows = count_records(s, RecordFilter(form_id=self._filter.form_id)), []
            else:
                total = count_records(s, self._filter)
                rows = self._page(s, 0)
        self.beginResetModel()
        self._total = total
        self._rows = rows
        self._ids = {r.id for r in rows}
        self.endResetModel()

    def forget(self) -> None:
        """Drop the rows read, without a query (reload reads them, or the form's total, again)."""
        if not self._rows and not self._total:
            return
        self.beginResetModel()
        self._total = 0
        self._rows = []
        self._ids = set()
        self.endResetModel()

    def _page(self, session: Session, offset: int) -> list[RecordRow]:
        return list_records(
            session,
            self._filter,
            sort=self.SORT_KEYS[self._sort_column],
            descending=self._descending,
            offset=offset,
            limit=self._page_size,
        )

    # -- Qt model interface -----------------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def canFetchMore(self, parent: AnyIndex) -> bool:
        return not parent.isValid() and not self.blocked and len(self._rows) < self._total

    def fetchMore(self, parent: AnyIndex) -> None:
        if parent.isValid() or self.blocked or len(self._rows) >= self._total:
            return
        with self._sessions() as s:
            page = self._page(s, len(self._rows))
        # Records saved meanwhile shift the pages; skip rows already shown rather than show them twice.
        new = [r for r in page if r.id not in self._ids]
        if not page:
            self._total = len(
                self._rows
            )  # fewer rows than counted (deleted meanwhile): stop asking
            return
        if not new:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._rows.extend(new)
        self._ids.update(r.id for r in new)
        self.endInsertRows()

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == self.COL_STATUS:
                return lang.status_label(row.status)
            if col == self.COL_DATE:
                return row.record_date or ""
            if col == self.COL_SUMMARY:
                return row.summary
            if col == self.COL_REVISION:
                return row.revision
            if col == self.COL_UPDATED:
                return lang.format_datetime(row.updated_at)
            return None
        if role == Qt.ItemDataRole.ForegroundRole and col == self.COL_STATUS:
            return lang.status_colour(row.status)
        if role == Qt.ItemDataRole.DecorationRole and col == self.COL_STATUS:
            return lang.status_colour(row.status)
        if role == Qt.ItemDataRole.ToolTipRole and col == self.COL_SUMMARY:
            return row.summary
        if role == Qt.ItemDataRole.TextAlignmentRole and col == self.COL_REVISION:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == RecordIdRole:
            return row.id
        if role == StatusRole:
            return row.status
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._headers[section] if 0 <= section < len(self._headers) else None
        return section + 1

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.SORT_KEYS):
            return
        self._sort_column = column
        self._descending = order == Qt.SortOrder.DescendingOrder
        self.reload()  # a new query: the rows loaded so far are not a prefix of the new order


class RecordListPage(QWidget):
    """One form's page: buttons, filters, search and the record table."""

    open_record = Signal(str, str)  # form id, record id
    new_record = Signal(str)  # form id
    data_changed = Signal()  # after an import
    lock: Any = None  # client.ui.lock.SensitiveLock for a sensitive form (lock.install sets it)

    STATUS_FILTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("", ()),
        (Status.DRAFT, (Status.DRAFT,)),
        (Status.SUBMITTED, (Status.SUBMITTED,)),
        (Status.RECEIVED, (Status.RECEIVED,)),
        (Status.RETURNED, (Status.RETURNED,)),
        (Status.ACCEPTED, (Status.ACCEPTED,)),
    )

    def __init__(
        self,
        ctx: ClientContext,
        tasks: TaskManager,
        form_id: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"formPage_{form_id}")
        self._ctx = ctx
        self._tasks = tasks
        self.form = ctx.forms.get(form_id)
        self.form_id = form_id
        self._loaded = False

        title = QLabel(lang.form_title(self.form))
        title.setObjectName("pageTitle")
        title.setStyleSheet("font-size: 16pt; font-weight: bold;")
        self.title = title

        self.new_button = QPushButton(self.tr("新建(&N)"))
        self.new_button.setToolTip(self.tr("新建一条记录（Ctrl+N）"))
        self.open_button = QPushButton(self.tr("打开(&O)"))
        self.open_button.setToolTip(self.tr("打开选中的记录（回车）"))
        self.export_button = QPushButton(self.tr("导出 Excel(&E)…"))
        self.import_button = QPushButton(self.tr("导入(&I)…"))
        self.new_button.setDefault(False)
        self.new_button.clicked.connect(lambda: self.new_record.emit(self.form_id))
        self.open_button.clicked.connect(self.open_selected)
        self.export_button.clicked.connect(self.export_excel)
        self.import_button.clicked.connect(self.import_file)

        # The title and the buttons share a row when they fit; in a narrow window (an 800 px PC) the
        # buttons go to a row of their own under the title (see _arrange).
        self._top = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self._top.addWidget(title)
        self._buttons_row = QHBoxLayout()
        self._buttons_row.addStretch(1)
        for b in (self.new_button, self.open_button, self.export_button, self.import_button):
            self._buttons_row.addWidget(b)
        self._top.addLayout(self._buttons_row, 1)

        # Filters: status, date range, search.
        self.status_combo = QComboBox()
        self.status_combo.setObjectName("statusFilter")
        for status, _ in self.STATUS_FILTERS:
            self.status_combo.addItem(
                lang.status_label(status) if status else self.tr("全部"), status
            )
        self.date_check = QCheckBox(self.tr("日期从"))
        self.date_check.setObjectName("dateFilter")
        today = ctx.clock.today()
        self.date_from = QDateEdit(QDate(today.year, today.month, 1))
        self.date_to = QDateEdit(QDate(today.year, today.month, today.day))
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
            edit.setMinimumWidth(edit.sizeHint().width())  # a whole date, never "2026-12-0"
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("searchBox")
        self.search_edit.setPlaceholderText(self.tr("搜索：姓名、地点、内容…（Ctrl+F）"))
        self.search_edit.setClearButtonEnabled(True)
        self.count_label = QLabel()
        self.count_label.setObjectName("countLabel")

        status_label = QLabel(self.tr("状态(&S)"))
        status_label.setBuddy(self.status_combo)
        # Status and dates, then search and count: one row when they fit, two in a narrow window.
        self._filters_row1 = QHBoxLayout()
        self._filters_row1.addWidget(status_label)
        self._filters_row1.addWidget(self.status_combo)
        self._filters_row1.addSpacing(12)
        self._filters_row1.addWidget(self.date_check)
        self._filters_row1.addWidget(self.date_from)
        self._filters_row1.addWidget(QLabel(self.tr("到")))
        self._filters_row1.addWidget(self.date_to)
        self._filters_row1.addStretch(0)
        self._filters_row2 = QHBoxLayout()
        self.search_edit.setMinimumWidth(160)
        self._filters_row2.addWidget(self.search_edit, 1)
        self._filters_row2.addSpacing(12)
        self._filters_row2.addWidget(self.count_label)
        self._filters = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self._filters.setSpacing(12)
        self._filters.addLayout(self._filters_row1)
        self._filters.addLayout(self._filters_row2, 1)

        self.model = RecordListModel(ctx.store.ReadSession, form_id, parent=self)
        self.view = QTableView()
        self.view.setObjectName("recordTable")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(28)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(RecordListModel.COL_SUMMARY, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self.view.setColumnWidth(RecordListModel.COL_STATUS, 100)
        self.view.setColumnWidth(RecordListModel.COL_DATE, 110)
        self.view.setColumnWidth(RecordListModel.COL_REVISION, 60)
        self.view.setColumnWidth(RecordListModel.COL_UPDATED, 150)
        header.setSortIndicator(RecordListModel.COL_UPDATED, Qt.SortOrder.DescendingOrder)
        self.view.doubleClicked.connect(self._open_index)
        self.view.activated.connect(self._open_index)  # Enter on a row
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.modelReset.connect(self._after_reload)
        self.model.rowsInserted.connect(self._update_count)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(300)
        self._search_timer.timeout.connect(self.apply_filter)
        self.search_edit.textChanged.connect(lambda _t: self._search_timer.start())
        self.search_edit.returnPressed.connect(self.apply_filter)
        self.status_combo.currentIndexChanged.connect(lambda _i: self.apply_filter())
        self.date_check.toggled.connect(self._date_toggled)
        self.date_from.dateChanged.connect(lambda _d: self.apply_filter())
        self.date_to.dateChanged.connect(lambda _d: self.apply_filter())

        # What to do when there is nothing to list, instead of an empty table.
        self.empty_hint = QLabel()
        self.empty_hint.setObjectName("emptyHint")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setStyleSheet("color: #5f6368; font-size: 11pt; padding: 24px;")
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.view)
        self.list_stack.addWidget(self.empty_hint)
        self.lock_panel = LockPanel(lang.form_title(self.form))
        self.lock_panel.unlock_requested.connect(self.unlock)
        self.list_stack.addWidget(self.lock_panel)

        layout = QVBoxLayout(self)
        layout.addLayout(self._top)
        layout.addLayout(self._filters)
        layout.addWidget(self.list_stack, 1)
        self._update_buttons()
        self._arrange(self.width())

    # -- layout in a narrow window ----------------------------------------------------------------------

    def _row_widths(self) -> tuple[int, int, int]:
        """Widths needed: the title and the buttons side by side, the filters in one row, and the
        narrowest arrangement (everything in two rows each)."""
        layout = self.layout()
        margins = layout.contentsMargins() if layout is not None else self.contentsMargins()
        edge = margins.left() + margins.right()
        title = self.title.sizeHint().width()
        buttons = self._buttons_row.minimumSize().width()
        row1 = self._filters_row1.minimumSize().width()
        row2 = self._filters_row2.minimumSize().width()
        side_by_side = title + self._top.spacing() + buttons + edge
        filters = row1 + self._filters.spacing() + row2 + edge
        return side_by_side, filters, max(title, buttons, row1, row2) + edge

    def _arrange(self, width: int) -> None:
        side_by_side, filters, narrowest = self._row_widths()
        self.setMinimumWidth(narrowest)  # the layouts' own minimum would be the one-row widths
        wide, tall = QBoxLayout.Direction.LeftToRight, QBoxLayout.Direction.TopToBottom
        top = wide if width >= side_by_side else tall
        if self._top.direction() != top:
            self._top.setDirection(top)
        rows = wide if width >= filters else tall
        if self._filters.direction() != rows:
            self._filters.setDirection(rows)

    def resizeEvent(self, event: Any) -> None:
        self._arrange(event.size().width())
        super().resizeEvent(event)

    # -- loading --------------------------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._loaded:
            self.refresh()

    def mark_stale(self) -> None:
        """The records changed while this page was hidden: read them again when it is shown."""
        self._loaded = False

    def refresh(self) -> None:
        """Re-run the query; keeps the selected record selected when it is still listed."""
        selected = self.selected_record_id()
        self._loaded = True
        try:
            self.model.sort(
                self.view.horizontalHeader().sortIndicatorSection(),
                self.view.horizontalHeader().sortIndicatorOrder(),
            )
        except Exception:
            log.exception("could not load the record list")
            QMessageBox.warning(self, self.tr("出错了"), self.tr("记录列表读取失败，请稍后再试。"))
            return
        if selected is not None:
            self.select_record(selected)

    def current_filter(self) -> RecordFilter:
        statuses: tuple[str, ...] = self.STATUS_FILTERS[max(self.status_combo.currentIndex(), 0)][1]
        date_from = date_to = None
        if self.date_check.isChecked():
            date_from = self.date_from.date().toString("yyyy-MM-dd")
            date_to = self.date_to.date().toString("yyyy-MM-dd")
        return RecordFilter(
            form_id=self.form_id,
            statuses=statuses,
            date_from=date_from,
            date_to=date_to,
            search=self.search_edit.text().strip(),
        )

    def apply_filter(self) -> None:
        self._search_timer.stop()
        self._loaded = True
        try:
            self.model.set_filter(self.current_filter())
        except Exception:
            log.exception("could not filter the record list")
            QMessageBox.warning(self, self.tr("出错了"), self.tr("记录列表读取失败，请稍后再试。"))

    def set_date_range(self, start: dt.date | None, end: dt.date | None) -> None:
        blockers = [self.date_from.blockSignals(True), self.date_to.blockSignals(True)]
        if start is not None:
            self.date_from.setDate(QDate(start.year, start.month, start.day))
        if end is not None:
            self.date_to.setDate(QDate(end.year, end.month, end.day))
        self.date_from.blockSignals(blockers[0])
        self.date_to.blockSignals(blockers[1])
        if self.date_check.isChecked() == (start is not None or end is not None):
            self.apply_filter()
        else:
            self.date_check.setChecked(start is not None or end is not None)

    def _date_toggled(self, on: bool) -> None:
        self.date_from.setEnabled(on)
        self.date_to.setEnabled(on)
        self.apply_filter()

    def _after_reload(self) -> None:
        self._update_count()
        self._update_buttons()
        self._show_hint()

    def _show_hint(self) -> None:
        if self.model.blocked:
            self.lock_panel.set_count(self.model.total())
            self.list_stack.setCurrentWidget(self.lock_panel)
            return
        if self.model.total() > 0:
            self.list_stack.setCurrentWidget(self.view)
            return
        flt = self.current_filter()
        if flt.statuses or flt.date_from or flt.search:
            text = self.tr(
                "没有符合条件的记录。可以换个搜索词，或把“状态”改为“全部”、取消日期筛选。"
            )
        else:
            text = self.tr(
                "还没有“{form}”的记录。\n点右上角的“新建”填写第一条（Ctrl+N），"
                "或用“导入…”从 Excel 表格导入。"
            ).format(form=lang.form_title(self.form))
        self.empty_hint.setText(text)
        self.list_stack.setCurrentWidget(self.empty_hint)

    def _update_count(self) -> None:
        self.count_label.setText(self.tr("共 {n} 条").format(n=self.model.total()))

    def _update_buttons(self) -> None:
        self.open_button.setEnabled(self.selected_record_id() is not None and not self.locked())

    # -- actions --------------------------------------------------------------------------------------

    def focus_search(self) -> None:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def selected_record_id(self) -> str | None:
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.record_id(rows[0].row())

    def select_record(self, record_id: str) -> None:
        row = self.model.row_of(record_id)
        if row is not None:
            self.view.selectRow(row)

    def open_selected(self) -> None:
        record_id = self.selected_record_id()
        if record_id is not None:
            self.open_record.emit(self.form_id, record_id)

    def _open_index(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_record.emit(self.form_id, self.model.record_id(index.row()))

    # -- the sensitive forms' lock (client.ui.lock) ---------------------------------------------------------

    def locked(self) -> bool:
        return self.lock is not None and self.lock.covers(self.form_id)

    def unlock(self, then: Callable[[], None] | None = None) -> None:
        if self.lock is not None:
            self.lock.request(self.window(), then)

    def apply_lock(self) -> None:
        """Locked: nothing listed or searchable (the form's total and 解锁 instead); unlocked: the list."""
        locked = self.locked()
        for w in (self.status_combo, self.date_check, self.search_edit, self.open_button):
            w.setEnabled(not locked)
        self.date_from.setEnabled(not locked and self.date_check.isChecked())
        self.date_to.setEnabled(not locked and self.date_check.isChecked())
        if locked:
            self.search_edit.clear()
        self.model.blocked = locked
        if self.isVisible():
            self.apply_filter()  # locking drops the rows read and the search typed
            return
        if locked:
            self.model.forget()  # the rows read go now; the form's total is counted when shown
        self.mark_stale()  # read again when shown (not at start: a hidden page's count waited for the
        # database thread on the GUI thread)

    def export_excel(self) -> None:
        if self.locked():
            self.unlock(self.export_excel)
            return
        default = (
            Path.home() / f"{lang.form_title(self.form)}-{self._ctx.clock.today().isoformat()}.xlsx"
        )
        out, _ = QFileDialog.getSaveFileName(
            self, self.tr("导出 Excel"), str(default), self.tr("Excel 文件 (*.xlsx)")
        )
        if not out:
            return
        flt = self.current_filter()
        if self.locked():  # the lock fell while the file was being chosen: the PIN again first
            self.unlock(
                lambda: export_to(self, self._ctx, self._tasks, self.form_id, Path(out), flt)
            )
            return
        export_to(self, self._ctx, self._tasks, self.form_id, Path(out), flt)

    def import_file(self) -> None:
        if self.locked():
            self.unlock(self.import_file)
            return
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("导入"),
            str(Path.home()),
            self.tr("Excel 或 JSON 文件 (*.xlsx *.json)"),
        )
        if path:
            import_into(self, self._ctx, self._tasks, self.form_id, Path(path), self._imported)

    def _imported(self) -> None:
        self.refresh()
        self.data_changed.emit()


def export_to(
    parent: QWidget,
    ctx: ClientContext,
    tasks: TaskManager,
    form_id: str,
    out: Path,
    flt: RecordFilter,
) -> None:
    """Export on the database thread; say where the file went, or why it could not be written."""
    try:
        from client.excel import export_records
    except ImportError:
        QMessageBox.information(
            parent,
            QCoreApplication.translate("RecordListPage", "导出 Excel"),
            QCoreApplication.translate("RecordListPage", "此版本还不能导出 Excel。"),
        )
        return

    def work() -> int:
        return export_records(ctx, form_id, out, statuses=flt.statuses, period=flt.period)

    def done(n: int) -> None:
        QMessageBox.information(
            parent,
            QCoreApplication.translate("RecordListPage", "导出 Excel"),
            QCoreApplication.translate("RecordListPage", "已导出 {n} 条记录到：\n{path}").format(
                n=n, path=out
            ),
        )

    tasks.run_db(
        work,
        on_done=done,
        on_error=lambda exc: show_error(
            parent, QCoreApplication.translate("RecordListPage", "导出失败"), exc
        ),
    )


def import_into(
    parent: QWidget,
    ctx: ClientContext,
    tasks: TaskManager,
    form_id: str,
    path: Path,
    after: Callable[[], None],
) -> None:
    """Import a file (all rows or none) on the database thread; report counts or every problem found."""
    try:
        from client.excel import import_file
    except ImportError:
        QMessageBox.information(
            parent,
            QCoreApplication.translate("RecordListPage", "导入"),
            QCoreApplication.translate("RecordListPage", "此版本还不能导入文件。"),
        )
        return

    def done(result: Any) -> None:
        lines = [
            QCoreApplication.translate(
                "RecordListPage",
                "导入完成：新增 {created} 条，更新 {updated} 条，未变 {unchanged} 条。",
            ).format(created=result.created, updated=result.updated, unchanged=result.unchanged)
        ]
        if result.unchanged:
            lines.append(
                QCoreApplication.translate(
                    "RecordListPage", "未变的记录保持原样，不会再次发送给教育局。"
                )
            )
        if getattr(result, "drafts", 0):
            lines.append(
                QCoreApplication.translate(
                    "RecordListPage", "其中 {n} 条是草稿，仍是草稿，不会发送给教育局。"
                ).format(n=result.drafts)
            )
        QMessageBox.information(
            parent, QCoreApplication.translate("RecordListPage", "导入"), "\n".join(lines)
        )
        after()

    def failed(exc: Exception) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            QCoreApplication.translate("RecordListPage", "导入失败"),
            error_text(exc),
            parent=parent,
        )
        problems = getattr(exc, "problems", None)
        if problems:
            english = lang.language() == "en"
            box.setDetailedText(
                "\n".join(str(getattr(p, "text_en" if english else "text_zh", p)) for p in problems)
            )
        box.exec()

    tasks.run_db(lambda: import_file(ctx, form_id, path), on_done=done, on_error=failed)


def error_text(exc: BaseException) -> str:
    """A store error in the UI's language; anything else as its message."""
    zh = getattr(exc, "message_zh", None)
    en = getattr(exc, "message_en", None)
    if lang.language() == "en" and en:
        return str(en)
    if zh:
        return str(zh)
    return str(exc) or type(exc).__name__


def show_error(parent: QWidget, title: str, exc: BaseException) -> None:
    QMessageBox.warning(parent, title, error_text(exc))
