"""The teacher roster page (教师名册): a table, add, edit, mark inactive / active again. Never delete."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
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

from client.context import ClientContext
from client.store.formset import ROSTER_FORM
from client.store.records import RecordFilter, SaveResult
from client.store.roster import (
    StaffNumberInUse,
    Teacher,
    roster_entries,
    save_teacher,
    set_teacher_active,
)
from client.ui import lang
from client.ui.record_list import error_text, export_to, import_into
from client.ui.tasks import TaskManager

log = logging.getLogger(__name__)

AnyIndex = QModelIndex | QPersistentModelIndex
TeacherRole = Qt.ItemDataRole.UserRole + 1
ActiveRole = Qt.ItemDataRole.UserRole + 2


class RosterModel(QAbstractTableModel):
    COL_ID, COL_NAME, COL_GENDER, COL_SUBJECT, COL_TITLE, COL_ACTIVE, COL_STATUS = range(7)

    def __init__(self, ctx: ClientContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._form = ctx.forms.get(ROSTER_FORM)
        self._rows: list[Teacher] = []
        self._headers = (
            self.tr("工号"),
            self.tr("姓名"),
            self.tr("性别"),
            self.tr("任教学科"),
            self.tr("职称"),
            self.tr("在职"),
            self.tr("发送状态"),
        )

    def set_teachers(self, teachers: list[Teacher]) -> None:
        self.beginResetModel()
        self._rows = list(teachers)
        self.endResetModel()

    def teacher(self, row: int) -> Teacher:
        return self._rows[row]

    def row_of(self, record_id: str) -> int | None:
        for i, t in enumerate(self._rows):
            if t.record_id == record_id:
                return i
        return None

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        t = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                t.teacher_id,
                t.name,
                lang.choice_label(self._form, "gender", t.gender),
                t.subject,
                t.title,
                self.tr("在职") if t.active else self.tr("已离职"),
                lang.status_label(t.status),
            )[col]
        if role == Qt.ItemDataRole.ForegroundRole:
            if not t.active:
                return QColor("#8a8a8a")
            if col == self.COL_STATUS:
                return lang.status_colour(t.status)
            return None
        if role == Qt.ItemDataRole.FontRole and not t.active and col == self.COL_NAME:
            font = QFont()
            font.setStrikeOut(True)
            return font
        if role == TeacherRole:
            return t.record_id
        if role == ActiveRole:
            return t.active
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._headers[section] if 0 <= section < len(self._headers) else None
        return section + 1


class RosterFilter(QSortFilterProxyModel):
    """Search by any column; inactive teachers shown only when asked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._show_inactive = True
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)

    def set_show_inactive(self, show: bool) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+
            self.beginFilterChange()
            self._show_inactive = show
            self.endFilterChange()
        else:
            self._show_inactive = show
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        model = self.sourceModel()
        if not self._show_inactive and not model.index(source_row, 0, source_parent).data(
            ActiveRole
        ):
            return False
        return super().filterAcceptsRow(source_row, source_parent)


SaveTeacher = Callable[
    [dict[str, Any], Callable[[SaveResult], None], Callable[[Exception], None]], None
]


class TeacherDialog(QDialog):
    """Add or change one teacher. The staff number is fixed once saved.

    With `save`, the dialog saves before it closes: a refused save (a staff number in use) is said under the
    fields and everything typed stays, so the clerk corrects it and saves again; `saved` says what was saved.
    """

    saved = Signal(object)  # SaveResult

    def __init__(
        self,
        ctx: ClientContext,
        teacher: Teacher | None = None,
        parent: QWidget | None = None,
        *,
        save: SaveTeacher | None = None,
    ) -> None:
        super().__init__(parent)
        self._form = ctx.forms.get(ROSTER_FORM)
        self._save = save
        self._busy = False
        self.setWindowTitle(self.tr("修改教师信息") if teacher else self.tr("添加教师"))
        self.setMinimumWidth(420)
        self.teacher_id = QLineEdit(teacher.teacher_id if teacher else "")
        self.teacher_id.setObjectName("teacherId")
        self.teacher_id.setPlaceholderText(self.tr("字母或数字，如 T001"))
        if teacher is not None:
            self.teacher_id.setReadOnly(True)
            self.teacher_id.setToolTip(self.tr("工号保存后不能修改"))
        self.name = QLineEdit(teacher.name if teacher else "")
        self.name.setObjectName("teacherName")
        self.gender = QComboBox()
        self.gender.addItem(self.tr("（未填）"), None)
        for choice in self._form.choice_list("gender").choices:
            self.gender.addItem(lang.text(choice.label), choice.name)
        if teacher and teacher.gender:
            self.gender.setCurrentIndex(max(self.gender.findData(teacher.gender), 0))
        self.subject = QLineEdit(teacher.subject if teacher else "")
        self.title_edit = QLineEdit(teacher.title if teacher else "")
        self.active = QCheckBox(self.tr("在职"))
        self.active.setChecked(teacher.active if teacher else True)
        self.error = QLabel()
        self.error.setObjectName("errorLabel")
        self.error.setStyleSheet(f"color: {lang.OVERDUE_COLOUR};")
        self.error.setWordWrap(True)
        self.error.hide()

        form = QFormLayout()
        form.addRow(self.tr("工号(&D) *"), self.teacher_id)
        form.addRow(self.tr("姓名(&M) *"), self.name)
        form.addRow(self.tr("性别(&G)"), self.gender)
        form.addRow(self.tr("任教学科(&S)"), self.subject)
        form.addRow(self.tr("职称(&T)"), self.title_edit)
        form.addRow("", self.active)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._check)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def values(self) -> dict[str, Any]:
        return {
            "teacher_id": self.teacher_id.text().strip(),
            "name": self.name.text().strip(),
            "gender": self.gender.currentData(),
            "subject": self.subject.text().strip(),
            "title": self.title_edit.text().strip(),
            "active": "yes" if self.active.isChecked() else "no",
        }

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    def _check(self) -> None:
        if self._busy:
            return
        v = self.values()
        if not v["teacher_id"]:
            self.show_error(self.tr("请填写工号"))
            self.teacher_id.setFocus()
            return
        if not v["name"]:
            self.show_error(self.tr("请填写姓名"))
            self.name.setFocus()
            return
        if self._save is None:
            self.accept()
            return
        self._set_busy(True)
        self._save(v, self._save_done, self._save_failed)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        if save is not None:
            save.setEnabled(not busy)

    def _save_done(self, result: SaveResult) -> None:
        self._set_busy(False)
        self.saved.emit(result)
        self.accept()

    def _save_failed(self, exc: Exception) -> None:
        self._set_busy(False)
        self.show_error(error_text(exc))
        if isinstance(exc, StaffNumberInUse):
            self.teacher_id.setFocus()
            self.teacher_id.selectAll()


class RosterPage(QWidget):
    """教师名册: the roster table with add / edit / mark inactive."""

    changed = Signal()  # after a save

    def __init__(
        self, ctx: ClientContext, tasks: TaskManager, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("rosterPage")
        self._ctx = ctx
        self._tasks = tasks
        self._loaded = False
        self.teacher_dialog: TeacherDialog | None = None  # the add/edit dialog while it is open

        title = QLabel(self.tr("教师名册"))
        title.setStyleSheet("font-size: 16pt; font-weight: bold;")
        hint = QLabel(self.tr("教师离校后请设为“离职”，不要删除，以便旧记录仍显示姓名。"))
        hint.setStyleSheet("color: #555;")
        self.add_button = QPushButton(self.tr("添加教师(&N)"))
        self.edit_button = QPushButton(self.tr("修改(&E)"))
        self.inactive_button = QPushButton(self.tr("设为离职(&L)"))
        self.inactive_button.setObjectName("markInactive")
        self.export_button = QPushButton(self.tr("导出 Excel…"))
        self.import_button = QPushButton(self.tr("导入…"))
        self.export_button.clicked.connect(self.export_excel)
        self.import_button.clicked.connect(self.import_file)
        self.add_button.clicked.connect(self.add_teacher)
        self.edit_button.clicked.connect(self.edit_selected)
        self.inactive_button.clicked.connect(self.toggle_active)

        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText(self.tr("查找教师：姓名、工号、学科…（Ctrl+F）"))
        self.search_edit.setClearButtonEnabled(True)
        self.show_inactive = QCheckBox(self.tr("显示已离职教师"))
        self.show_inactive.setChecked(True)
        self.count_label = QLabel()

        self.model = RosterModel(ctx, self)
        self.proxy = RosterFilter(self)
        self.proxy.setSourceModel(self.model)
        self.view = QTableView()
        self.view.setObjectName("rosterTable")
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(RosterModel.COL_ID, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(28)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((110, 120, 70, 160, 160, 80)):
            self.view.setColumnWidth(col, width)
        self.view.doubleClicked.connect(lambda _i: self.edit_selected())
        self.view.activated.connect(lambda _i: self.edit_selected())
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.search_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.search_edit.textChanged.connect(lambda _t: self._update_count())
        self.show_inactive.toggled.connect(self._toggle_inactive)

        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        for b in (self.add_button, self.edit_button, self.inactive_button):
            top.addWidget(b)
        top.addSpacing(12)
        top.addWidget(self.export_button)
        top.addWidget(self.import_button)
        filters = QHBoxLayout()
        filters.addWidget(self.search_edit, 1)
        filters.addWidget(self.show_inactive)
        filters.addSpacing(12)
        filters.addWidget(self.count_label)
        self.empty_hint = QLabel()
        self.empty_hint.setObjectName("emptyHint")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setStyleSheet("color: #5f6368; font-size: 11pt; padding: 24px;")
        self.empty_hint.setText(
            self.tr(
                "名册里还没有教师。\n点右上角的“添加教师”逐个添加（Ctrl+N），"
                "或用“导入…”从 Excel 表格导入整个名册。表单里选择教师时用的就是这份名册。"
            )
        )
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.view)
        self.list_stack.addWidget(self.empty_hint)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(hint)
        layout.addLayout(filters)
        layout.addWidget(self.list_stack, 1)
        self._update_buttons()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._loaded:
            self.refresh()

    def mark_stale(self) -> None:
        self._loaded = False

    def refresh(self, select: str | None = None) -> None:
        """Load the roster again (on the database thread); then select `select` or the same teacher."""
        self._loaded = True
        sessions = self._ctx.store.Session
        if select is None and (current := self.selected_teacher()) is not None:
            select = current.record_id

        def load() -> list[Teacher]:
            with sessions() as s:
                return roster_entries(s)

        self._tasks.run_db(
            load, on_done=lambda teachers: self._show(teachers, select), on_error=self._failed
        )

    def _show(self, teachers: list[Teacher], select: str | None) -> None:
        self.model.set_teachers(teachers)
        self.list_stack.setCurrentWidget(self.view if teachers else self.empty_hint)
        if select is not None:
            self.select_teacher(select)
        self._update_count()
        self._update_buttons()

    def _failed(self, exc: Exception) -> None:
        QMessageBox.warning(self, self.tr("出错了"), error_text(exc))

    def _toggle_inactive(self, show: bool) -> None:
        self.proxy.set_show_inactive(show)
        self._update_count()

    def _update_count(self) -> None:
        active = sum(1 for i in range(self.model.rowCount()) if self.model.teacher(i).active)
        self.count_label.setText(
            self.tr("在职 {active} 人，共 {total} 人").format(
                active=active, total=self.model.rowCount()
            )
        )

    def _update_buttons(self) -> None:
        teacher = self.selected_teacher()
        self.edit_button.setEnabled(teacher is not None)
        self.inactive_button.setEnabled(teacher is not None)
        if teacher is not None and not teacher.active:
            self.inactive_button.setText(self.tr("恢复在职(&L)"))
        else:
            self.inactive_button.setText(self.tr("设为离职(&L)"))

    def focus_search(self) -> None:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def selected_teacher(self) -> Teacher | None:
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            return None
        source = self.proxy.mapToSource(rows[0])
        return self.model.teacher(source.row()) if source.isValid() else None

    def select_teacher(self, record_id: str) -> None:
        row = self.model.row_of(record_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if index.isValid():
            self.view.selectRow(index.row())

    # -- actions --------------------------------------------------------------------------------------

    def add_teacher(self) -> None:
        self._open_dialog(None)

    def edit_selected(self) -> None:
        teacher = self.selected_teacher()
        if teacher is not None:
            self._open_dialog(teacher)

    def _open_dialog(self, teacher: Teacher | None) -> None:
        """The dialog saves through `_save` and closes only once the teacher is saved."""
        if self.teacher_dialog is not None and self.teacher_dialog.isVisible():
            self.teacher_dialog.raise_()
            return
        record_id = teacher.record_id if teacher is not None else None
        dialog = TeacherDialog(
            self._ctx,
            teacher,
            self,
            save=lambda values, done, failed: self._save(values, record_id, done, failed),
        )
        dialog.saved.connect(self._saved)
        dialog.finished.connect(lambda _r: self._forget_dialog(dialog))
        self.teacher_dialog = dialog
        dialog.open()

    def _forget_dialog(self, dialog: TeacherDialog) -> None:
        if self.teacher_dialog is dialog:
            self.teacher_dialog = None
        dialog.deleteLater()

    def _save(
        self,
        values: dict[str, Any],
        record_id: str | None,
        done: Callable[[SaveResult], None],
        failed: Callable[[Exception], None],
    ) -> None:
        ctx = self._ctx

        def work() -> SaveResult:
            with ctx.store.Session.begin() as s:
                return save_teacher(
                    s,
                    forms=ctx.forms,
                    values=values,
                    record_id=record_id,
                    today=ctx.clock.today(),
                    now=ctx.clock.now(),
                )

        self._tasks.run_db(work, on_done=done, on_error=failed)

    def toggle_active(self) -> None:
        teacher = self.selected_teacher()
        if teacher is None:
            return
        if teacher.active:
            answer = QMessageBox.question(
                self,
                self.tr("设为离职"),
                self.tr(
                    "把“{name}”设为离职？\n离职教师不再出现在选择列表中，旧记录仍显示其姓名。"
                ).format(name=teacher.name),
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.set_active(teacher.record_id, not teacher.active)

    def set_active(self, record_id: str, active: bool) -> None:
        ctx = self._ctx

        def work() -> SaveResult:
            with ctx.store.Session.begin() as s:
                return set_teacher_active(
                    s,
                    forms=ctx.forms,
                    record_id=record_id,
                    active=active,
                    today=ctx.clock.today(),
                    now=ctx.clock.now(),
                )

        self._tasks.run_db(work, on_done=self._saved, on_error=self._failed)

    def export_excel(self) -> None:
        default = Path.home() / f"{self.tr('教师名册')}-{self._ctx.clock.today().isoformat()}.xlsx"
        out, _ = QFileDialog.getSaveFileName(
            self, self.tr("导出 Excel"), str(default), self.tr("Excel 文件 (*.xlsx)")
        )
        if out:
            export_to(
                self, self._ctx, self._tasks, ROSTER_FORM, Path(out), RecordFilter(ROSTER_FORM)
            )

    def import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("导入教师名册"),
            str(Path.home()),
            self.tr("Excel 或 JSON 文件 (*.xlsx *.json)"),
        )
        if path:
            import_into(self, self._ctx, self._tasks, ROSTER_FORM, Path(path), self._imported)

    def _imported(self) -> None:
        self.changed.emit()
        self.refresh()

    def _saved(self, result: SaveResult) -> None:
        self.changed.emit()
        self.refresh(select=result.record_id)
