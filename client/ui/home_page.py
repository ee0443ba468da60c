"""The home page 待办: what is due this period, sync problems (conflicts with the server's version, changes
the server did not accept), records the bureau returned, open and overdue hazards."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from client.context import ClientContext
from client.store import sync_state as S
from client.store.db import DB_ERRORS
from client.store.formset import ROSTER_FORM
from client.store.models import Record, SyncIssue
from client.store.todo import (
    DueItem,
    HazardItem,
    HazardKey,
    HazardList,
    ReturnedItem,
    due_this_period,
    read_hazards,
    returned_records,
)
from client.ui import lang
from client.ui.tasks import TaskManager
from forms.model import Period

log = logging.getLogger(__name__)

AnyIndex = QModelIndex | QPersistentModelIndex
ROW_HEIGHT = 28
COLUMN_PADDING = 12
ItemRole = Qt.ItemDataRole.UserRole + 1
OverdueRole = Qt.ItemDataRole.UserRole + 2
# Hazards read with the rest of 待办: a screenful and more (the columns are fitted to them); the table reads
# on, 200 at a time, as it scrolls.
FIRST_HAZARDS = 50


@dataclass(frozen=True)
class SyncIssueItem:
    """An open sync issue: a conflict (both versions kept), a change the server did not accept, an
    attachment that could not be uploaded, or something the server sent that this computer cannot use (a
    form version, a record of an unknown form: tried again by the sync itself, nothing for the clerk to do)."""

    issue_id: int
    kind: str  # sync_state.IssueKind
    reason: str
    record_id: str | None
    form_id: str | None  # None: the record is not on this computer (a roster clash from another PC)
    summary: str
    message_zh: str
    message_en: str
    problems: list[tuple[str, str]]  # the server's (zh, en) reasons per field, when it gave them
    created_at: dt.datetime
    server_status: str = ""  # a conflict: the server version's status (returned, accepted, ...)
    version: str = ""  # a pull problem: the form version it is about
    what: str = ""  # a pull problem: form | record


@dataclass(frozen=True)
class Todo:
    due: list[DueItem]
    returned: list[ReturnedItem]
    hazards: HazardList  # their counts and first page (the table reads the rest as it scrolls)
    issues: list[SyncIssueItem] = field(default_factory=list)
    hidden: int = 0  # returned records and sync problems of locked sensitive forms, left out


def without_forms(todo: Todo, forms: frozenset[str]) -> Todo:
    """The to-do list without the records of these forms (the sensitive ones while locked)."""
    if not forms:
        return todo
    returned = [r for r in todo.returned if r.form_id not in forms]
    issues = [i for i in todo.issues if not (i.record_id and i.form_id in forms)]
    hidden = len(todo.returned) - len(returned) + len(todo.issues) - len(issues)
    return Todo(todo.due, returned, todo.hazards, issues, todo.hidden + hidden)


def sync_issues(session: Session) -> list[SyncIssueItem]:
    """Open sync issues with their record's form and summary, oldest first."""
    out: list[SyncIssueItem] = []
    for issue in S.open_issues(session):
        if issue.kind == S.IssueKind.PULL:
            out.append(_pull_issue_item(issue))
            continue
        record = session.get(Record, issue.record_id) if issue.record_id else None
        problems: list[tuple[str, str]] = []
        for p in issue.details.get("problems") or []:
            if isinstance(p, dict) and (p.get("message_zh") or p.get("message_en")):
                problems.append((str(p.get("message_zh") or ""), str(p.get("message_en") or "")))
        out.append(
            SyncIssueItem(
                issue_id=issue.id,
                kind=issue.kind,
                reason=issue.reason,
                record_id=issue.record_id,
                form_id=record.form_id if record is not None else None,
                summary=record.summary if record is not None else "",
                message_zh=issue.message_zh,
                message_en=issue.message_en,
                problems=problems,
                created_at=issue.created_at,
                server_status=str((issue.details.get("server") or {}).get("status") or ""),
            )
        )
    return out


def _pull_issue_item(issue: SyncIssue) -> SyncIssueItem:
    d = issue.details
    return SyncIssueItem(
        issue_id=issue.id,
        kind=issue.kind,
        reason=issue.reason,
        record_id=issue.record_id,
        form_id=str(d.get("form_id") or "") or None,
        summary="",
        message_zh=issue.message_zh,
        message_en=issue.message_en,
        problems=[],
        created_at=issue.created_at,
        version=str(d.get("version") or ""),
        what=str(d.get("what") or ""),
    )


def load_todo(ctx: ClientContext, *, overdue_only: bool = False) -> Todo:
    """Everything the home page shows, in one read (runs on the database thread): of the hazards, the counts
    and the first page (client.store.todo.read_hazards: a range of the table kept for 待办)."""
    today = ctx.clock.today()
    with ctx.store.Session() as s:
        return Todo(
            due=due_this_period(s, ctx.forms.periodic(), today=today),
            returned=returned_records(s),
            hazards=read_hazards(
                s, today=today, forms=ctx.forms, limit=FIRST_HAZARDS, overdue_only=overdue_only
            ),
            issues=sync_issues(s),
        )


class _ListModel(QAbstractTableModel):
    """A read-only table over a list of items; subclasses say what each cell shows."""

    def __init__(self, ctx: ClientContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._items: list[Any] = []
        self._headers: tuple[str, ...] = ()

    def set_items(self, items: list[Any]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def items(self) -> list[Any]:
        return list(self._items)

    def item(self, row: int) -> Any:
        return self._items[row]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._headers[section] if 0 <= section < len(self._headers) else None
        return section + 1

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == ItemRole:
            return item
        return self.cell(item, index.column(), role)

    def cell(self, item: Any, column: int, role: int) -> Any:
        raise NotImplementedError


class DueModel(_ListModel):
    """Per periodic form: this period and whether it was reported."""

    def __init__(self, ctx: ClientContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._headers = (self.tr("表单"), self.tr("本期"), self.tr("填报情况"))

    def state_text(self, item: DueItem) -> str:
        if item.done:
            return self.tr("已填报 {n} 条").format(n=item.reported)
        if item.drafts:
            return self.tr("有草稿未提交")
        return self.tr("未填报")

    def period_text(self, item: DueItem) -> str:
        word = lang.period_word(item.period)
        year = item.key[:4]
        if item.period is Period.MONTHLY:
            name = self.tr("{y}年{m}月").format(y=year, m=int(item.key[5:7]))
        elif item.period is Period.WEEKLY:
            name = (
                self.tr("第{w}周").format(w=int(item.key[6:]))
                + " "
                + lang.period_span(item.start, item.end)
            )
        elif item.period is Period.SEMESTER:
            season = self.tr("春季学期") if item.key.endswith("spring") else self.tr("秋季学期")
            name = self.tr("{y}年{season}").format(y=year, season=season)
        elif item.period is Period.YEARLY:
            name = self.tr("{y}年").format(y=year)
        else:
            name = item.key
        return f"{word}（{name}）" if lang.language() != "en" else f"{word} ({name})"

    def cell(self, item: DueItem, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return lang.form_title(self._ctx.forms.get(item.form_id))
            if column == 1:
                return self.period_text(item)
            if column == 2:
                return self.state_text(item)
        if role == Qt.ItemDataRole.ForegroundRole and column == 2:
            if item.done:
                return QColor(lang.DONE_COLOUR)
            return QColor(lang.DUE_COLOUR if item.drafts else lang.OVERDUE_COLOUR)
        if role == Qt.ItemDataRole.FontRole and column == 2 and not item.done:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.summary(item)
        return None

    def summary(self, item: DueItem) -> str:
        """e.g. 本月校园安全隐患排查整治记录：未填报"""
        title = lang.form_title(self._ctx.forms.get(item.form_id))
        return self.tr("{period}{form}：{state}").format(
            period=lang.period_word(item.period), form=title, state=self.state_text(item)
        )


class ReturnedModel(_ListModel):
    """Records the bureau returned for correction."""

    def __init__(self, ctx: ClientContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._headers = (
            self.tr("表单"),
            self.tr("日期"),
            self.tr("内容摘要"),
            self.tr("退回意见"),
            self.tr("最后修改"),
        )

    def cell(self, item: ReturnedItem, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return lang.form_title(self._ctx.forms.get(item.form_id))
            if column == 1:
                return item.record_date or ""
            if column == 2:
                return item.summary
            if column == 3:
                return (
                    self.tr("{n} 条意见").format(n=item.comment_count)
                    if item.comment_count
                    else self.tr("无")
                )
            if column == 4:
                return lang.format_datetime(item.updated_at)
        if role == Qt.ItemDataRole.ForegroundRole and column == 3 and item.comment_count:
            return QColor(lang.OVERDUE_COLOUR)
        if role == Qt.ItemDataRole.ToolTipRole and column == 2:
            return item.summary
        return None


class SyncIssueModel(_ListModel):
    """Sync problems: what the clerk must decide or correct before the record reaches the bureau."""

    def __init__(self, ctx: ClientContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._headers = (
            self.tr("问题"),
            self.tr("表单"),
            self.tr("内容摘要"),
            self.tr("发现时间"),
            self.tr("原因"),
        )

    def kind_text(self, item: SyncIssueItem) -> str:
        if item.kind == S.IssueKind.CONFLICT:
            return self.tr("与服务器冲突")
        if item.kind == S.IssueKind.ATTACHMENT:
            return self.tr("照片或文件未能上传")
        if item.kind == S.IssueKind.PULL:
            return self.tr("服务器发来的内容无法使用")
        if item.kind == S.IssueKind.REQUEST:
            return self.tr("修改申请（已确认的记录）")
        return self.tr("教育局服务器未接收")

    def form_text(self, item: SyncIssueItem) -> str:
        if item.kind == S.IssueKind.PULL:
            title = item.form_id or ""
            forms = self._ctx.forms
            known = forms.latest.get(title) or next(
                (f for (fid, _), f in forms.versions.items() if fid == title), None
            )
            return lang.form_title(known) if known is not None else title
        if item.form_id is None:
            return self.tr("教师名册")
        try:
            return lang.form_title(self._ctx.forms.get(item.form_id))
        except KeyError:
            return item.form_id

    def summary_text(self, item: SyncIssueItem) -> str:
        if item.kind != S.IssueKind.PULL:
            return item.summary
        if item.what == "form":
            return self.tr("表单版本 {version}").format(version=item.version)
        return self.tr("服务器上的一条记录（本机尚未保存）")

    def reason_text(self, item: SyncIssueItem) -> str:
        en = lang.language() == "en"
        if item.kind == S.IssueKind.CONFLICT and item.server_status == "returned":
            return self.tr("教育局退回了这条记录，而本机的修改还没有发出：请选择保留哪个版本")
        if item.kind == S.IssueKind.CONFLICT and item.server_status == "accepted":
            return self.tr(
                "教育局已确认服务器上的版本：可采用服务器的版本，或把本机的修改作为修改申请发给教育局"
            )
        text = item.message_en if en else item.message_zh
        details = [en_text if en else zh for zh, en_text in item.problems]
        details = [d for d in details if d and d not in text]
        if details:
            text += (
                "（" + "；".join(details[:3]) + "）"
                if not en
                else " (" + "; ".join(details[:3]) + ")"
            )
        return text

    def cell(self, item: SyncIssueItem, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                self.kind_text(item),
                self.form_text(item),
                self.summary_text(item),
                lang.format_datetime(item.created_at),
                self.reason_text(item),
            )[column]
        if role == Qt.ItemDataRole.ForegroundRole and column == 0:
            return QColor(lang.OVERDUE_COLOUR)
        if role == Qt.ItemDataRole.FontRole and column == 0:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and column in (2, 4):
            return self.reason_text(item) if column == 4 else self.summary_text(item)
        return None


class HazardModel(_ListModel):
    """Hazards not yet rectified; overdue ones first and in red. Lazy: it holds the first page read with the
    rest of 待办, and `fetchMore` reads the next one (a short read on the GUI thread, like the record lists:
    a range of the table kept for 待办, after the last row shown) when the view scrolls to the end."""

    COL_STATE, COL_DEADLINE, COL_CATEGORY, COL_LOCATION, COL_DESCRIPTION = range(5)
    COL_SEVERITY, COL_PERSON, COL_INSPECTED = range(5, 8)

    def __init__(self, ctx: ClientContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._form = ctx.forms.get("safety_inspection")
        self._hazards: HazardList | None = None
        self._seen: set[tuple[str, int]] = set()
        self._last: HazardKey | None = None  # the last row read: the next page starts after it
        self._more = False
        self._headers = (
            self.tr("整改状态"),
            self.tr("整改期限"),
            self.tr("类别"),
            self.tr("位置"),
            self.tr("隐患描述"),
            self.tr("等级"),
            self.tr("责任人"),
            self.tr("排查日期"),
        )

    def show(self, hazards: HazardList) -> None:
        self.beginResetModel()
        self._hazards = hazards
        self._items = list(hazards.first.items)
        self._seen = {(h.record_id, h.index) for h in self._items}
        self._last = hazards.first.last
        self._more = hazards.first.more
        self.endResetModel()

    def hazards(self) -> HazardList | None:
        return self._hazards

    def total(self) -> int:
        """How many open hazards there are (listed or not yet)."""
        return self._hazards.total if self._hazards is not None else 0

    def show_overdue_only(self, on: bool) -> None:
        """Only the overdue ones (the table's first rows), or all again: the first page read now."""
        hazards = self._hazards
        if hazards is None or hazards.overdue_only == on:
            return
        hazards = replace(hazards, overdue_only=on)
        with self._ctx.store.ReadSession() as s:
            first = hazards.next_page(s, None, FIRST_HAZARDS)
        self.show(replace(hazards, first=first))

    def canFetchMore(self, parent: AnyIndex) -> bool:
        return not parent.isValid() and self._more

    def fetchMore(self, parent: AnyIndex) -> None:
        hazards = self._hazards
        if not self.canFetchMore(parent) or hazards is None:
            return
        with self._ctx.store.ReadSession() as s:
            page = hazards.next_page(s, self._last)
        self._last, self._more = page.last, page.more
        # A draft corrected meanwhile may come again in its new place: shown once (the next refresh orders it).
        new = [h for h in page.items if (h.record_id, h.index) not in self._seen]
        if not new:
            self._more = self._more and bool(page.items)
            return
        first = len(self._items)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._items.extend(new)
        self._seen.update((h.record_id, h.index) for h in new)
        self.endInsertRows()

    def display(self, item: HazardItem, column: int) -> str:
        """The text of one cell (only that one: the view asks for every cell it measures or paints)."""
        if column == self.COL_STATE:
            return self.state_text(item)
        if column == self.COL_DEADLINE:
            return item.deadline_text or lang.format_date(item.deadline)
        if column == self.COL_CATEGORY:
            return lang.choice_label(self._form, "hazard_category", item.category)
        if column == self.COL_LOCATION:
            return item.location
        if column == self.COL_DESCRIPTION:
            return item.description
        if column == self.COL_SEVERITY:
            return lang.choice_label(self._form, "severity", item.severity)
        if column == self.COL_PERSON:
            return item.responsible_person
        return lang.format_date(item.inspection_date)

    def state_text(self, item: HazardItem) -> str:
        if item.overdue:
            return self.tr("已逾期 {n} 天").format(n=item.days_overdue)
        if item.deadline_invalid:
            return self.tr("整改期限有误，请改正")
        return lang.choice_label(self._form, "hazard_status", item.status)

    def cell(self, item: HazardItem, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(item, column)
        if role == OverdueRole:
            return item.overdue
        if role == Qt.ItemDataRole.ForegroundRole:
            if item.overdue:
                return QColor(lang.OVERDUE_COLOUR)
            if item.deadline_invalid and column in (self.COL_STATE, self.COL_DEADLINE):
                return QColor(lang.DUE_COLOUR)
            if column == self.COL_SEVERITY and item.severity == "serious":
                return QColor(lang.OVERDUE_COLOUR)
            return None
        if role == Qt.ItemDataRole.BackgroundRole and item.overdue:
            return QBrush(QColor(lang.OVERDUE_BACKGROUND))
        if role == Qt.ItemDataRole.FontRole and (
            (item.overdue and column in (self.COL_STATE, self.COL_DEADLINE))
            or (column == self.COL_SEVERITY and item.severity == "serious")
        ):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and column == self.COL_DESCRIPTION:
            return item.description
        return None


def _table(model: QAbstractTableModel, name: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(False)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    view.horizontalHeader().setHighlightSections(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setMinimumSectionSize(40)
    return view


def fit_columns(view: QTableView, stretch: int, caps: dict[int, int] | None = None) -> None:
    """Columns as wide as their contents (and titles), long ones capped; `stretch` takes the rest, so
    names and dates show whole and the long text is what gets cut (its tooltip holds all of it)."""
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.resizeColumnsToContents()
    caps = caps or {}
    for column in range(view.model().columnCount()):
        width = view.columnWidth(column) + COLUMN_PADDING  # a little air between columns
        view.setColumnWidth(column, min(width, caps.get(column, width)))
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)


def _rows_height(view: QTableView, rows: int) -> int:
    return (
        view.horizontalHeader().sizeHint().height()
        + rows * view.verticalHeader().defaultSectionSize()
        + 2 * view.frameWidth()
    )


class _Section(QFrame):
    """A part of 待办: one line with its title, a count and its buttons, then a table (or a quiet line
    when there is nothing to show). No box title of its own: at 1366x768 every line counts."""

    def __init__(self, title: str, view: QTableView, empty_text: str) -> None:
        super().__init__()
        self.setObjectName("homeSection")
        self.view = view
        self.title = QLabel(title)
        self.title.setObjectName("sectionTitle")
        self.title.setStyleSheet("font-weight: bold; font-size: 11pt;")
        self.empty = QLabel(empty_text)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.empty.setStyleSheet("color: #2e7d32; padding: 4px 8px;")
        self.stack = QStackedWidget()
        self.stack.addWidget(view)
        self.stack.addWidget(self.empty)
        self.bar = QHBoxLayout()
        self.bar.setSpacing(12)
        self.bar.addWidget(self.title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(4)
        layout.addLayout(self.bar)
        layout.addWidget(self.stack, 1)

    def set_empty(self, empty: bool) -> None:
        self.stack.setCurrentWidget(self.empty if empty else self.view)

    def fit_rows(self, rows: int, *, at_most: int) -> None:
        """Exactly as tall as `rows` rows (at least one, at most `at_most`; more scroll)."""
        if not self.view.model().rowCount():
            self.stack.setFixedHeight(self.empty.sizeHint().height())
            return
        height = _rows_height(self.view, min(max(rows, 1), at_most))
        self.stack.setFixedHeight(height)


class HomePage(QWidget):
    """待办: the first page the clerk sees."""

    open_record = Signal(str, str)  # form id, record id
    new_record = Signal(str)  # form id
    show_form = Signal(str)  # form id
    follow_up = Signal(object)  # HazardItem
    resolve_conflict = Signal(int)  # sync issue id of a conflict
    show_roster = Signal()
    loaded = Signal(object)  # the Todo shown
    unlock_requested = Signal()  # 解锁 beside the sensitive records left out
    lock: Any = None  # client.ui.lock.SensitiveLock (lock.install sets it)

    def __init__(
        self, ctx: ClientContext, tasks: TaskManager, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("homePage")
        self._ctx = ctx
        self._tasks = tasks

        title = QLabel(self.tr("待办"))
        title.setStyleSheet("font-size: 16pt; font-weight: bold;")
        self.today_label = QLabel()
        self._show_today()
        self.today_label.setStyleSheet("color: #555;")
        self.refresh_button = QPushButton(self.tr("刷新(&R)"))
        self.refresh_button.setToolTip("F5")
        self.refresh_button.clicked.connect(self.refresh)
        header = QHBoxLayout()
        header.addWidget(title)
        header.addSpacing(16)
        header.addWidget(self.today_label)
        header.addStretch(1)
        self.locked_note = QLabel()
        self.locked_note.setObjectName("lockedNote")
        self.locked_note.setStyleSheet("color: #37474f;")
        self.unlock_button = QPushButton(self.tr("解锁(&U)…"))
        self.unlock_button.setObjectName("unlockHome")
        self.unlock_button.clicked.connect(self.unlock_requested)
        for w in (self.locked_note, self.unlock_button):
            w.setVisible(False)
            header.addWidget(w)
        header.addWidget(self.refresh_button)

        # What is due this period.
        self.due_model = DueModel(ctx, self)
        self.due_view = _table(self.due_model, "dueTable")
        self.due_section = _Section(
            self.tr("本期应报"), self.due_view, self.tr("没有需要定期填报的表单")
        )
        self.fill_button = QPushButton(self.tr("去填报(&T)"))
        self.fill_button.setObjectName("fillDue")
        self.fill_button.clicked.connect(self._fill_selected)
        due_hint = QLabel(self.tr("每个定期表单在本期是否已经填报"))
        due_hint.setStyleSheet("color: #555;")
        self.due_section.bar.addWidget(due_hint)
        self.due_section.bar.addStretch(1)
        self.due_section.bar.addWidget(self.fill_button)
        self.due_section.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.due_view.doubleClicked.connect(lambda _i: self._fill_selected())
        self.due_view.activated.connect(lambda _i: self._fill_selected())

        # Sync problems: conflicts and changes the server did not accept (shown only when there are some).
        self.issue_model = SyncIssueModel(ctx, self)
        self.issue_view = _table(self.issue_model, "syncIssueTable")
        self.issue_section = _Section(
            self.tr("同步问题：需要您处理"), self.issue_view, self.tr("没有同步问题")
        )
        self.issue_section.setObjectName("syncIssueSection")
        self.issue_count = QLabel()
        self.issue_count.setObjectName("syncIssueCount")
        self.resolve_button = QPushButton(self.tr("处理(&C)…"))
        self.resolve_button.setObjectName("resolveIssue")
        self.resolve_button.clicked.connect(self._resolve_selected)
        self.issue_section.bar.addWidget(self.issue_count)
        self.issue_section.bar.addStretch(1)
        self.issue_section.bar.addWidget(self.resolve_button)
        self.issue_view.doubleClicked.connect(lambda _i: self._resolve_selected())
        self.issue_view.activated.connect(lambda _i: self._resolve_selected())
        self.issue_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.issue_section.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.issue_section.setVisible(False)

        # Records the bureau returned.
        self.returned_model = ReturnedModel(ctx, self)
        self.returned_view = _table(self.returned_model, "returnedTable")
        self.returned_section = _Section(
            self.tr("教育局退回、需要修改的记录"),
            self.returned_view,
            self.tr("没有退回的记录"),
        )
        self.open_returned_button = QPushButton(self.tr("打开修改(&O)"))
        self.open_returned_button.clicked.connect(self._open_returned)
        self.returned_count = QLabel()
        self.returned_section.bar.addWidget(self.returned_count)
        self.returned_section.bar.addStretch(1)
        self.returned_section.bar.addWidget(self.open_returned_button)
        self.returned_view.doubleClicked.connect(lambda _i: self._open_returned())
        self.returned_view.activated.connect(lambda _i: self._open_returned())
        self.returned_section.setSizePolicy(
            QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum
        )

        # Open and overdue hazards.
        self.hazard_model = HazardModel(ctx, self)
        self.hazard_view = _table(self.hazard_model, "hazardTable")
        # At least five hazards always show; when the page is short, it scrolls instead of squeezing them.
        self.hazard_view.setMinimumHeight(_rows_height(self.hazard_view, 5))
        self.hazard_section = _Section(
            self.tr("未整改的安全隐患"), self.hazard_view, self.tr("没有未整改的隐患")
        )
        self.hazard_count = QLabel()
        self.hazard_count.setObjectName("hazardCount")
        self.overdue_only = QCheckBox(self.tr("只看逾期(&V)"))
        self.overdue_only.toggled.connect(self._overdue_only_toggled)
        self.follow_button = QPushButton(self.tr("整改跟进(&G)…"))
        self.follow_button.setObjectName("followUp")
        self.follow_button.clicked.connect(self._follow_selected)
        self.hazard_section.bar.addWidget(self.hazard_count)
        self.hazard_section.bar.addStretch(1)
        self.hazard_section.bar.addWidget(self.overdue_only)
        self.hazard_section.bar.addWidget(self.follow_button)
        self.hazard_view.doubleClicked.connect(lambda _i: self._follow_selected())
        self.hazard_view.activated.connect(lambda _i: self._follow_selected())

        body = QWidget()
        body.setObjectName("homeBody")
        sections = QVBoxLayout(body)
        sections.setContentsMargins(0, 0, 4, 0)
        sections.setSpacing(6)
        sections.addWidget(self.due_section, 0)
        sections.addWidget(self.issue_section, 0)
        sections.addWidget(self.returned_section, 0)
        sections.addWidget(self.hazard_section, 1)
        self.page_scroll = QScrollArea()
        self.page_scroll.setObjectName("homeScroll")
        self.page_scroll.setWidgetResizable(True)
        self.page_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.page_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.page_scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.page_scroll, 1)

    # -- loading --------------------------------------------------------------------------------------

    def refresh(self) -> None:
        ctx = self._ctx
        hide = self.lock.hidden_forms() if self.lock is not None else frozenset()
        overdue_only = self.overdue_only.isChecked()
        self._tasks.run_db(
            lambda: without_forms(load_todo(ctx, overdue_only=overdue_only), hide),
            on_done=self.show_todo,
            on_error=self._failed,
        )

    def _show_today(self) -> None:
        today = self._ctx.clock.today()
        self.today_label.setText(
            self.tr("今天是 {y}年{m}月{d}日").format(y=today.year, m=today.month, d=today.day)
        )

    def show_todo(self, todo: Todo) -> None:
        self._show_today()  # the program may have stayed open past midnight
        if self.lock is not None:  # read before the lock fell: leave them out now
            todo = without_forms(todo, self.lock.hidden_forms())
        self.locked_note.setText(self.tr("另有 {n} 条敏感表单的记录已锁定").format(n=todo.hidden))
        self.locked_note.setVisible(bool(todo.hidden))
        self.unlock_button.setVisible(bool(todo.hidden))
        self.due_model.set_items(todo.due)
        fit_columns(self.due_view, stretch=2)
        self.due_section.set_empty(not todo.due)
        self.due_section.fit_rows(len(todo.due), at_most=8)  # the box fits its rows
        self.issue_model.set_items(todo.issues)
        fit_columns(self.issue_view, stretch=4, caps={1: 220, 2: 300})
        self.issue_section.setVisible(bool(todo.issues))
        self.issue_section.fit_rows(len(todo.issues), at_most=3)  # more scroll inside
        pulled = sum(1 for i in todo.issues if i.kind == S.IssueKind.PULL)
        waiting = sum(1 for i in todo.issues if i.reason == "request_open")  # for the bureau
        mine = [  # what the clerk can act on
            i for i in todo.issues if i.kind != S.IssueKind.PULL and i.reason != "request_open"
        ]
        conflicts = sum(1 for i in mine if i.kind == S.IssueKind.CONFLICT)
        text = (
            self.tr("共 {n} 条，其中 {c} 条冲突：请选择保留哪个版本；其余请修改后重新提交").format(
                n=len(mine), c=conflicts
            )
            if conflicts and conflicts < len(mine)
            else self.tr("共 {n} 条冲突：请选择保留本机还是服务器的版本").format(n=conflicts)
            if conflicts
            else self.tr("共 {n} 条：请打开记录，按原因修改后重新提交").format(n=len(mine))
            if mine
            else ""
        )
        if waiting:
            text += self.tr("{sep}{n} 条修改申请等待教育局答复").format(
                sep="；" if text else "", n=waiting
            )
        if pulled:
            text += self.tr(
                "{sep}{n} 条服务器发来的内容本机无法使用：同步时会自动再试，其他数据照常同步；如长期存在，请联系教育局"
            ).format(sep="；" if text else "", n=pulled)
        self.issue_count.setText(text)
        self.resolve_button.setEnabled(bool(mine))
        self.returned_model.set_items(todo.returned)
        fit_columns(self.returned_view, stretch=2, caps={0: 240})
        self.returned_section.set_empty(not todo.returned)
        self.returned_section.fit_rows(len(todo.returned), at_most=3)
        self.returned_count.setText(self.tr("共 {n} 条").format(n=len(todo.returned)))
        self.open_returned_button.setEnabled(bool(todo.returned))
        self.hazard_model.show(todo.hazards)
        self._show_hazards()
        self.loaded.emit(todo)

    def _overdue_only_toggled(self, on: bool) -> None:
        try:
            self.hazard_model.show_overdue_only(on)
        except DB_ERRORS as exc:
            self._failed(exc)
            return
        self._show_hazards()

    def _show_hazards(self) -> None:
        model = self.hazard_model
        hazards = model.hazards()
        fit_columns(
            self.hazard_view,
            stretch=HazardModel.COL_DESCRIPTION,
            caps={HazardModel.COL_LOCATION: 220, HazardModel.COL_PERSON: 220},
        )
        shown = model.rowCount() > 0
        self.hazard_section.set_empty(not shown)
        text = self.tr("共 {n} 条").format(n=model.total())
        if hazards is not None and hazards.overdue:
            text += self.tr("，其中 <b style='color:{c}'>{m} 条已逾期</b>").format(
                m=hazards.overdue, c=lang.OVERDUE_COLOUR
            )
        self.hazard_count.setText(text)
        self.follow_button.setEnabled(shown)

    def _failed(self, exc: Exception) -> None:
        log.error("could not load the home page: %s", exc)
        self.hazard_count.setText(self.tr("读取待办失败：{e}").format(e=exc))

    # -- actions --------------------------------------------------------------------------------------

    def _selected(self, view: QTableView) -> Any:
        rows = view.selectionModel().selectedRows()
        if rows:
            return rows[0].data(ItemRole)
        if view.model().rowCount() == 1:
            return view.model().index(0, 0).data(ItemRole)
        return None

    def _fill_selected(self) -> None:
        item: DueItem | None = self._selected(self.due_view)
        if item is not None:
            self.show_form.emit(item.form_id)
            self.new_record.emit(item.form_id)

    def _open_returned(self) -> None:
        item: ReturnedItem | None = self._selected(self.returned_view)
        if item is not None:
            self.open_record.emit(item.form_id, item.record_id)

    def _resolve_selected(self) -> None:
        item: SyncIssueItem | None = self._selected(self.issue_view)
        if item is None or item.kind == S.IssueKind.PULL:
            return  # the sync tries it again by itself; there is nothing here to open
        if item.kind == S.IssueKind.CONFLICT:  # roster entries too (a 工号 another PC added)
            self.resolve_conflict.emit(item.issue_id)
            return
        if item.kind == S.IssueKind.REQUEST and item.reason == "request_declined":
            self._dismiss(item.issue_id)  # the clerk has read why: the record stays as accepted
            return
        if item.form_id in (None, ROSTER_FORM) or item.record_id is None:
            self.show_roster.emit()
        elif item.kind == S.IssueKind.CONFLICT:
            self.resolve_conflict.emit(item.issue_id)
        else:
            self.open_record.emit(item.form_id, item.record_id)

    def _dismiss(self, issue_id: int) -> None:
        ctx = self._ctx

        def dismiss() -> None:
            with ctx.store.Session.begin() as s:
                S.dismiss_issue(s, issue_id, now=ctx.clock.now())

        self._tasks.run_db(dismiss, on_done=lambda _r: self.refresh(), on_error=self._failed)

    def select_issue(self, row: int) -> None:
        self.issue_view.selectRow(row)

    def _follow_selected(self) -> None:
        item: HazardItem | None = self._selected(self.hazard_view)
        if item is None:
            return
        if item.deadline_invalid:  # the draft needs correcting, not a follow-up
            self.open_record.emit("safety_inspection", item.record_id)
        else:
            self.follow_up.emit(item)

    def select_hazard(self, row: int) -> None:
        self.hazard_view.selectRow(row)

    def today(self) -> dt.date:
        return self._ctx.clock.today()
