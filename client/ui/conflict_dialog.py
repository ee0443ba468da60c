"""处理冲突: a record changed on this computer and on the server (a bureau return crossing an offline edit, or
another computer). Both versions are shown side by side, field by field; the clerk keeps one version or merges
field by field, and the choice goes to client.store.sync_state.resolve_conflict (and syncs to both sides).

    view = load_conflict(ctx, issue_id)          # on the database thread
    dialog = ConflictDialog(ctx, tasks, view)    # resolved(issue_id) when saved

Repeats (隐患清单) are compared entry by entry; an entry only one side has is kept or left out as a whole.
Choices show their labels, never their names; calculated fields are worked out again when the choice is saved.

Every choice has one outcome (client.store.conflicts; docs/protocol.md, "Conflicts and their outcomes"): a
record deleted on one side is one whole-record choice (keep the deletion, or the record); over a bureau
return the return stays open whichever side is kept; over an acceptance "keep mine" goes to the bureau as a
change request; a roster entry whose 工号 another PC added first is merged into that entry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid
from sqlalchemy import select

from client.context import ClientContext
from client.store import records
from client.store import sync_state as S
from client.store.models import Attachment, Record, Status
from client.store.records import ValidationFailed
from client.ui import lang
from client.ui.record_list import error_text
from client.ui.tasks import TaskManager
from forms.engine import format_path
from forms.model import Field, FieldType, FormDef

log = logging.getLogger(__name__)

LOCAL = "local"
SERVER = "server"
WHOLE_RECORD: tuple[str | int, ...] = ()  # the row of a record deleted on one side
DELETE = "delete"  # decide(): keep this computer's deletion

Path_ = tuple[str | int, ...]

# The server's word for a record's state -> the status the clerk knows.
_SERVER_STATUS = {
    "received": Status.RECEIVED,
    "submitted": Status.RECEIVED,
    "returned": Status.RETURNED,
    "accepted": Status.ACCEPTED,
}


# -- what is compared -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConflictView:
    """One open conflict, read from the store: both versions and what is needed to show them."""

    issue_id: int
    record_id: str
    form: FormDef
    local: dict[str, Any]  # the record as it is on this computer (the change not yet accepted)
    server: dict[str, Any] | None  # the server's version; None when the server deleted the record
    server_status: str  # received / returned / accepted / deleted
    local_status: str
    summary: str = ""  # the record's one line (date, type, people ...)
    comments: dict[str, str] = field(default_factory=dict)  # the bureau's comments, by field path
    message_zh: str = ""
    message_en: str = ""
    roster: dict[str, str] = field(default_factory=dict)  # teacher id -> name
    files: dict[str, str] = field(default_factory=dict)  # attachment sha256 -> file name
    local_deleted: bool = False  # this computer deleted the record; the server changed it
    reason: str = ""  # the issue's reason: server_changed, server_deleted, roster_duplicate

    @property
    def server_locked(self) -> bool:
        """The bureau accepted its version: keeping this computer's makes a change request."""
        return self.server_status == "accepted"

    @property
    def server_returned(self) -> bool:
        """The bureau returned its version: the return stays open whichever side is kept."""
        return self.server_status == "returned"

    @property
    def duplicate(self) -> bool:
        """Two roster entries with one 工号: the server's entry stays, with the data chosen."""
        return self.reason == "roster_duplicate"


def _comment_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("comment") or value.get("text") or "")
    return str(value or "")


def load_conflict(ctx: ClientContext, issue_id: int) -> ConflictView:
    """Read a conflict for the dialog (runs on the database thread)."""
    with ctx.store.Session() as s:
        issue = next(
            (i for i in S.open_issues(s, kind=S.IssueKind.CONFLICT) if i.id == issue_id), None
        )
        if issue is None:
            raise records.StoreError(
                "这个冲突已经处理过了", f"conflict {issue_id} is already resolved"
            )
        record = s.get(Record, issue.record_id) if issue.record_id else None
        if record is None:
            raise records.StoreError(
                "这个冲突涉及的记录不在本机（请到“教师名册”核对）",
                "the record of this conflict is not on this computer (check the roster)",
            )
        server = dict(issue.details.get("server") or {})
        server_status = str(server.get("status") or "received")
        server_data = server.get("data")
        form = ctx.forms.get(record.form_id, record.form_version)
        local = dict(record.data)
        shas = S.attachment_refs(local) | S.attachment_refs(server_data or {})
        files: dict[str, str] = {}
        if shas:
            rows = s.execute(
                select(Attachment.sha256, Attachment.filename).where(
                    Attachment.sha256.in_(sorted(shas))
                )
            )
            files = {sha: name for sha, name in rows}
        comments = server.get("review_comments") or {}
        return ConflictView(
            issue_id=issue.id,
            record_id=record.id,
            form=form,
            local=local,
            server=dict(server_data)
            if isinstance(server_data, Mapping) and server_status != "deleted"
            else None,
            server_status=server_status,
            local_status=record.status,
            summary=record.summary,
            comments={
                str(k): _comment_text(v)
                for k, v in (comments.items() if isinstance(comments, Mapping) else [])
                if v
            },
            message_zh=issue.message_zh,
            message_en=issue.message_en,
            roster=dict(records.roster(s).items),
            files=files,
            local_deleted=record.deleted,
            reason=issue.reason,
        )


Decision = dict[str, Any] | str | None  # data to save, DELETE, or None (the server's version)


def resolve(ctx: ClientContext, issue_id: int, decision: Decision) -> None:
    """The clerk's choice, saved (None keeps the server's version, DELETE this computer's deletion); runs
    on the database thread."""
    with ctx.store.Session.begin() as s:
        S.resolve_conflict(
            s,
            forms=ctx.forms,
            issue_id=issue_id,
            data=decision if isinstance(decision, dict) else None,
            delete=decision == DELETE,
            today=ctx.clock.today(),
            now=ctx.clock.now(),
        )


# -- rows: the pure part (no widgets) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the comparison.

    kind: "field" (an answer), "entry" (a repeat entry only one side has: kept or left out whole),
    "heading" (a group or a repeat entry both sides have), "record" (the server deleted the record).
    """

    kind: str
    path: Path_
    label: str
    depth: int
    differs: bool
    field: Field | None = None
    local: Any = None
    server: Any = None
    local_present: bool = True
    server_present: bool = True


def _entries(scope: Mapping[str, Any], name: str) -> list[Any]:
    value = scope.get(name)
    return value if isinstance(value, list) else []


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def same(a: Any, b: Any) -> bool:
    if _empty(a) and _empty(b):
        return True
    if isinstance(a, list) and isinstance(b, list) and not any(isinstance(x, dict) for x in a + b):
        return sorted(map(str, a)) == sorted(map(str, b))
    return bool(a == b)


def _shown(f: Field) -> bool:
    return f.type not in (FieldType.NOTE, FieldType.CALCULATE)


def _label(f: Field) -> str:
    return lang.text(f.label) or f.name


def build_rows(
    form: FormDef,
    local: Mapping[str, Any],
    server: Mapping[str, Any] | None,
    *,
    local_deleted: bool = False,
) -> list[Row]:
    if server is None or local_deleted:
        return [
            Row(
                "record",
                WHOLE_RECORD,
                "",
                0,
                True,
                local=None if local_deleted else local,
                server=server,
                local_present=not local_deleted,
                server_present=server is not None,
            )
        ]
    rows: list[Row] = []
    _rows(form.fields, local, server, (), 0, rows)
    return rows


def _rows(
    fields: Sequence[Field],
    local: Mapping[str, Any],
    server: Mapping[str, Any],
    prefix: Path_,
    depth: int,
    out: list[Row],
) -> bool:
    """Append the rows of `fields`; True when any of them differs."""
    differs = False
    for f in fields:
        if f.type is FieldType.GROUP:
            at = len(out)
            inner = _rows(f.children, local, server, prefix, depth + 1, out)
            out.insert(at, Row("heading", (*prefix, f.name), _label(f), depth, inner, field=f))
            differs |= inner
        elif f.type is FieldType.REPEAT:
            path = (*prefix, f.name)
            mine, theirs = _entries(local, f.name), _entries(server, f.name)
            for i in range(max(len(mine), len(theirs))):
                title = QCoreApplication.translate("ConflictDialog", "{label} · 第 {n} 条").format(
                    label=_label(f), n=i + 1
                )
                entry_path = (*path, i)
                if i < len(mine) and i < len(theirs):
                    at = len(out)
                    a = mine[i] if isinstance(mine[i], Mapping) else {}
                    b = theirs[i] if isinstance(theirs[i], Mapping) else {}
                    inner = _rows(f.children, a, b, entry_path, depth + 1, out)
                    out.insert(at, Row("heading", entry_path, title, depth, inner, field=f))
                    differs |= inner
                else:
                    out.append(
                        Row(
                            "entry",
                            entry_path,
                            title,
                            depth,
                            True,
                            field=f,
                            local=mine[i] if i < len(mine) else None,
                            server=theirs[i] if i < len(theirs) else None,
                            local_present=i < len(mine),
                            server_present=i < len(theirs),
                        )
                    )
                    differs = True
        elif _shown(f):
            a, b = local.get(f.name), server.get(f.name)
            d = not same(a, b)
            out.append(Row("field", (*prefix, f.name), _label(f), depth, d, f, a, b))
            differs |= d
    return differs


def choosable(rows: Sequence[Row]) -> list[Row]:
    """The rows the clerk must choose for."""
    return [r for r in rows if r.kind in ("field", "entry", "record") and r.differs]


def merge(
    form: FormDef,
    local: Mapping[str, Any],
    server: Mapping[str, Any],
    choices: Mapping[Path_, str],
) -> dict[str, Any]:
    """The record made of each field's chosen side (a field both sides agree on is kept as it is)."""
    return _merge(form.fields, local, server, (), choices)


def _merge(
    fields: Sequence[Field],
    local: Mapping[str, Any],
    server: Mapping[str, Any],
    prefix: Path_,
    choices: Mapping[Path_, str],
) -> dict[str, Any]:
    names = {f.name for top in fields for f in _same_scope(top)}
    out: dict[str, Any] = {k: v for k, v in local.items() if k not in names}
    for top in fields:
        for f in _same_scope(top):
            path = (*prefix, f.name)
            if f.type is FieldType.REPEAT:
                mine, theirs = _entries(local, f.name), _entries(server, f.name)
                entries: list[Any] = []
                for i in range(max(len(mine), len(theirs))):
                    if i < len(mine) and i < len(theirs):
                        a = mine[i] if isinstance(mine[i], Mapping) else {}
                        b = theirs[i] if isinstance(theirs[i], Mapping) else {}
                        entries.append(_merge(f.children, a, b, (*path, i), choices))
                    elif i < len(mine):
                        if choices.get((*path, i), LOCAL) == LOCAL:
                            entries.append(mine[i])
                    elif choices.get((*path, i), LOCAL) == SERVER:
                        entries.append(theirs[i])
                if f.name in local or f.name in server:
                    out[f.name] = entries
            elif f.type is not FieldType.GROUP:
                side = choices.get(path, LOCAL)
                source = server if side == SERVER else local
                if f.name in source:
                    out[f.name] = source[f.name]
                else:
                    out.pop(f.name, None)
    return out


def _same_scope(f: Field) -> list[Field]:
    """A field and, for a group, the fields inside it (groups keep their answers in the same place)."""
    if f.type is FieldType.GROUP:
        return [g for child in f.children for g in _same_scope(child)]
    return [f]


def rows_of(view: ConflictView) -> list[Row]:
    return build_rows(view.form, view.local, view.server, local_deleted=view.local_deleted)


def decide(view: ConflictView, choices: Mapping[Path_, str]) -> Decision:
    """What resolve_conflict gets: None keeps the server's version, DELETE keeps this computer's deletion,
    else the data to save on top of the server's version."""
    rows = choosable(rows_of(view))
    if view.local_deleted:
        return None if choices.get(WHOLE_RECORD) == SERVER else DELETE
    if view.server is None:
        return None if choices.get(WHOLE_RECORD) == SERVER else dict(view.local)
    if all(choices.get(r.path) == SERVER for r in rows):
        return None
    return merge(view.form, view.local, view.server, choices)


# -- showing values ---------------------------------------------------------------------------------------


def value_text(view: ConflictView, f: Field | None, value: Any) -> str:
    """An answer as the clerk reads it: choice labels, teacher names, file names."""
    if _empty(value):
        return ""
    if f is None:
        return str(value)
    values = value if isinstance(value, list) else [value]
    if f.list_name is not None:
        try:
            options = view.form.choice_list(f.list_name)
        except KeyError:
            return "、".join(map(str, values))
        return "、".join(
            lang.text(c.label) if (c := options.get(str(v))) is not None else str(v) for v in values
        )
    if f.reference is not None:
        return "、".join(view.roster.get(str(v), str(v)) for v in values)
    if f.type in (FieldType.IMAGE, FieldType.FILE):
        return "、".join(view.files.get(str(v), str(v)[:10] + "…") for v in values)
    if f.type is FieldType.REPEAT and isinstance(value, Mapping):
        parts = [
            value_text(view, c, value.get(c.name))
            for c in f.children
            if _shown(c) and c.type not in (FieldType.IMAGE, FieldType.FILE, FieldType.REPEAT)
        ]
        return " · ".join(p for p in parts if p)[:120]
    return str(value)


# -- the dialog -------------------------------------------------------------------------------------------


class _Cell(QFrame):
    """One side of one row: a radio button and the value; a click anywhere chooses it."""

    def __init__(self, radio: QRadioButton | None, text: str, comment: str = "") -> None:
        super().__init__()
        self.setObjectName("conflictCell")
        self.radio = radio
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(6)
        if radio is not None:
            layout.addWidget(radio, 0, Qt.AlignmentFlag.AlignTop)
        column = QVBoxLayout()
        column.setSpacing(2)
        self.value = QLabel(text)
        self.value.setObjectName("cellValue")
        self.value.setWordWrap(True)
        self.value.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.value.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        column.addWidget(self.value)
        self.comment = QLabel(comment)
        self.comment.setObjectName("cellComment")
        self.comment.setWordWrap(True)
        self.comment.setVisible(bool(comment))
        column.addWidget(self.comment)
        column.addStretch(1)
        layout.addLayout(column, 1)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.radio is not None and self.radio.isEnabled():
            self.radio.setChecked(True)
        super().mouseReleaseEvent(event)


STYLE = """
QFrame#conflictCell { border: 1px solid #d6dbe1; border-radius: 3px; background: #ffffff; }
QFrame#conflictCell[chosen="yes"] { border: 2px solid #1f5fa8; background: #eaf2fc; }
QFrame#conflictCell[chosen="no"] QLabel#cellValue { color: #9a9a9a; }
QFrame#conflictCell[same="yes"] { border: none; background: transparent; }
QFrame#conflictCell[same="yes"] QLabel#cellValue { color: #6b6b6b; }
QLabel#cellComment { color: #8a4b00; background: #fff4d6; padding: 2px 4px; }
QLabel#rowLabel { color: #333; }
QLabel#rowLabel[differs="yes"] { font-weight: bold; color: #000; }
QLabel#heading { font-weight: bold; background: #f3f5f8; padding: 4px 6px; border-top: 1px solid #d6dbe1; }
QLabel#columnHead { font-weight: bold; padding: 4px 6px; }
"""


class ConflictDialog(QDialog):
    resolved = Signal(int)  # the issue id, once the choice is saved

    def __init__(
        self,
        ctx: ClientContext,
        tasks: TaskManager,
        view: ConflictView,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("conflictDialog")
        self._ctx = ctx
        self._tasks = tasks
        self.view = view
        self._saving = False
        self.rows = rows_of(view)
        self._groups: dict[Path_, QButtonGroup] = {}
        self._radios: dict[tuple[Path_, str], QRadioButton] = {}
        self._cells: dict[tuple[Path_, str], _Cell] = {}
        self._lines: list[tuple[Row, list[QWidget]]] = []
        self.setWindowTitle(self.tr("处理冲突：{form}").format(form=lang.form_title(view.form)))
        self.setStyleSheet(STYLE)
        self.resize(1040, 660)
        self.setMinimumSize(760, 480)

        what = QLabel(" · ".join(p for p in (lang.form_title(view.form), view.summary) if p))
        what.setObjectName("recordSummary")
        what.setStyleSheet("font-size: 12pt; font-weight: bold;")
        what.setWordWrap(True)
        intro = QLabel(
            self.tr(
                "教育局退回了这条记录，而本机对它的修改还没有发出。两个版本都保存着："
                "请逐项选择保留哪一边，或用下面的按钮全部保留一边。保存后会自动同步。"
            )
            if view.server_status == "returned"
            else self.tr(
                "另一台电脑已经登记了相同工号的教师。同一工号只能有一位教师：请逐项选择保留哪一边的信息，"
                "保存后两台电脑和教育局都只留这一位。"
            )
            if view.duplicate
            else self.tr(
                "这条记录在本机已删除，而服务器上有了新的版本：请选择删除它，还是保留服务器上的版本。"
                "保存后会自动同步。"
            )
            if view.local_deleted
            else self.tr(
                "这条记录在本机修改后还没有发出，服务器上也有了新的版本。两个版本都保存着："
                "请逐项选择保留哪一边，或用下面的按钮全部保留一边。保存后会自动同步。"
            )
        )
        intro.setWordWrap(True)
        intro.setToolTip(view.message_en if lang.language() == "en" else view.message_zh)
        general = view.comments.get("_record")
        self.only_diff = QCheckBox(self.tr("只显示不同的地方(&D)"))
        self.only_diff.setObjectName("onlyDifferences")
        self.only_diff.setChecked(True)
        self.only_diff.toggled.connect(self._filter)

        # The comparison: label | this computer | the server.
        grid_host = QWidget()
        grid_host.setObjectName("conflictGrid")
        self.grid = QGridLayout(grid_host)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.grid.setHorizontalSpacing(8)
        self.grid.setVerticalSpacing(4)
        self.grid.setColumnMinimumWidth(0, 150)
        self.grid.setColumnStretch(1, 1)
        self.grid.setColumnStretch(2, 1)
        self._build_grid()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.StyledPanel)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(grid_host)

        self.count_label = QLabel()
        self.count_label.setObjectName("choiceCount")
        self.error = QLabel()
        self.error.setObjectName("errorLabel")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {lang.OVERDUE_COLOUR};")
        self.error.hide()

        self.all_local = QPushButton(self.tr("全部保留本机(&L)"))
        self.all_local.setObjectName("allLocal")
        self.all_local.clicked.connect(lambda: self.choose_all(LOCAL))
        self.all_server = QPushButton(self.tr("全部采用服务器(&S)"))
        self.all_server.setObjectName("allServer")
        self.all_server.clicked.connect(lambda: self.choose_all(SERVER))
        self.save_button = QPushButton(self.tr("保存选择(&A)"))
        self.save_button.setObjectName("saveChoice")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.cancel_button = QPushButton(self.tr("以后再处理"))
        self.cancel_button.setObjectName("later")
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.all_local)
        buttons.addWidget(self.all_server)
        buttons.addSpacing(12)
        buttons.addWidget(self.count_label)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.cancel_button)

        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.only_diff)
        layout = QVBoxLayout(self)
        layout.addWidget(what)
        layout.addWidget(intro)
        if general:
            note = QLabel(self.tr("教育局的意见：{text}").format(text=general))
            note.setObjectName("generalComment")
            note.setWordWrap(True)
            note.setStyleSheet("color: #8a4b00; background: #fff4d6; padding: 6px;")
            layout.addWidget(note)
        if view.server_returned:
            still = QLabel(
                self.tr(
                    "无论保留哪一边，教育局的退回意见都仍然有效：请之后在记录中按意见修改并提交。"
                )
            )
            still.setWordWrap(True)
            layout.addWidget(still)
        if view.server_locked:
            locked = QLabel(
                self.tr(
                    "教育局已经确认了服务器上的版本。保留本机的修改，会作为修改申请发给教育局，"
                    "由教育局决定是否采用；在此之前本机显示已确认的版本。"
                )
            )
            locked.setWordWrap(True)
            locked.setStyleSheet(f"color: {lang.OVERDUE_COLOUR};")
            layout.addWidget(locked)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self._filter()
        self._update()
        fit = grid_host.sizeHint().height() + 220  # the rows and the text around them
        self.resize(1040, max(480, min(700, fit)))

    # -- building -------------------------------------------------------------------------------------

    def _server_title(self) -> str:
        status = self.view.server_status
        if status == "deleted":
            word = self.tr("已删除")
        else:
            word = lang.status_label(_SERVER_STATUS.get(status, Status.RECEIVED))
        return self.tr("服务器上的版本（{status}）").format(status=word)

    def _build_grid(self) -> None:
        g = self.grid
        heads = (
            self.tr("题目"),
            self.tr("本机的版本（尚未发出）"),
            self._server_title(),
        )
        self.heads: list[QLabel] = []
        for col, text in enumerate(heads):
            head = QLabel(text)
            head.setObjectName("columnHead")
            g.addWidget(head, 0, col)
            self.heads.append(head)
        if not choosable(self.rows):
            note = QLabel(self.tr("两个版本的内容相同。保存即采用服务器的版本。"))
            note.setStyleSheet("color: #555; padding: 6px;")
            g.addWidget(note, 1, 0, 1, 3)
        line = 2
        for row in self.rows:
            self._lines.append((row, self._add_row(row, line)))
            line += 1
        g.setRowStretch(line, 1)

    def _add_row(self, row: Row, line: int) -> list[QWidget]:
        g = self.grid
        indent = 12 * row.depth
        if row.kind == "heading":
            head = QLabel(row.label)
            head.setObjectName("heading")
            head.setContentsMargins(indent, 0, 0, 0)
            g.addWidget(head, line, 0, 1, 3)
            return [head]
        label = QLabel(row.label if row.kind != "record" else self.tr("整条记录"))
        label.setObjectName("rowLabel")
        label.setProperty("differs", "yes" if row.differs else "no")
        label.setWordWrap(True)
        label.setContentsMargins(indent, 4, 0, 0)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        g.addWidget(label, line, 0)
        comment = self.view.comments.get(format_path(row.path), "") if row.path else ""
        comment_text = self.tr("教育局意见：{text}").format(text=comment) if comment else ""
        local_text, server_text = self._texts(row)
        if not row.differs:
            cell = _Cell(None, local_text or self.tr("（未填）"), comment_text)
            cell.setProperty("same", "yes")
            self._cells[(row.path, "same")] = cell
            g.addWidget(cell, line, 1, 1, 2)
            return [label, cell]
        group = QButtonGroup(self)
        group.setExclusive(True)
        self._groups[row.path] = group
        widgets: list[QWidget] = [label]
        for col, side, text, note in (
            (1, LOCAL, local_text, ""),
            (2, SERVER, server_text, comment_text),
        ):
            radio = QRadioButton()
            key = "local" if side == LOCAL else "server"
            radio.setObjectName(f"{key}:{format_path(row.path) or '_record'}")
            radio.setAccessibleName(
                (
                    self.tr("保留本机：{label}")
                    if side == LOCAL
                    else self.tr("采用服务器：{label}")
                ).format(label=label.text())
            )
            group.addButton(radio)
            radio.toggled.connect(lambda _on: self._update())
            cell = _Cell(radio, text, note)
            cell.setProperty("chosen", "")
            self._radios[(row.path, side)] = radio
            self._cells[(row.path, side)] = cell
            g.addWidget(cell, line, col)
            widgets.append(cell)
        return widgets

    def _texts(self, row: Row) -> tuple[str, str]:
        view = self.view
        if row.kind == "record" and view.local_deleted:
            return (
                self.tr("本机已删除这条记录：在教育局也删除"),
                self.tr("保留服务器上的版本（本机恢复这条记录）"),
            )
        if row.kind == "record":
            return (
                self.tr("保留本机的记录，重新发送给教育局"),
                self.tr("服务器上已删除这条记录：本机也删除"),
            )
        if row.kind == "entry":
            keep = self.tr("保留这一条：{text}")
            none = self.tr("（没有这一条）")
            local = (
                keep.format(text=value_text(view, row.field, row.local))
                if row.local_present
                else none
            )
            server = (
                keep.format(text=value_text(view, row.field, row.server))
                if row.server_present
                else none
            )
            return local, server
        empty = self.tr("（未填）")
        return (
            value_text(view, row.field, row.local) or empty,
            value_text(view, row.field, row.server) or empty,
        )

    # -- choosing -------------------------------------------------------------------------------------

    def choose(self, path: Path_, side: str) -> None:
        radio = self._radios.get((tuple(path), side))
        if radio is None:
            raise KeyError(path)
        if radio.isEnabled():
            radio.setChecked(True)

    def choose_all(self, side: str) -> None:
        for (_path, s), radio in self._radios.items():
            if s == side and radio.isEnabled():
                radio.setChecked(True)
        self._update()

    def choices(self) -> dict[Path_, str]:
        out: dict[Path_, str] = {}
        for (path, side), radio in self._radios.items():
            if radio.isChecked():
                out[path] = side
        return out

    def undecided(self) -> int:
        chosen = self.choices()
        return sum(1 for r in choosable(self.rows) if r.path not in chosen)

    def _update(self) -> None:
        for (path, side), cell in self._cells.items():
            if side not in (LOCAL, SERVER):
                continue
            radio = self._radios[(path, side)]
            other = self._radios[(path, LOCAL if side == SERVER else SERVER)]
            state = "yes" if radio.isChecked() else ("no" if other.isChecked() else "")
            if cell.property("chosen") != state:
                cell.setProperty("chosen", state)
                cell.style().unpolish(cell)
                cell.style().polish(cell)
                cell.value.style().unpolish(cell.value)
                cell.value.style().polish(cell.value)
        total = len(choosable(self.rows))
        left = self.undecided()
        if total == 0:
            self.count_label.setText("")
        elif left:
            self.count_label.setText(
                self.tr("共 {n} 处不同，还有 {m} 处没有选择").format(n=total, m=left)
            )
        else:
            self.count_label.setText(self.tr("共 {n} 处不同，都已选择").format(n=total))
        self.save_button.setEnabled(left == 0 and not self._saving)

    def _filter(self) -> None:
        """Only the differences (and what the bureau commented on), or everything."""
        only = self.only_diff.isChecked()
        shown: set[Path_] = set()
        for row, _widgets in self._lines:
            if row.kind != "heading" and (
                not only or row.differs or format_path(row.path) in self.view.comments
            ):
                shown.add(row.path)
        for row, widgets in self._lines:
            visible = (
                any(p[: len(row.path)] == row.path for p in shown)
                if row.kind == "heading"
                else row.path in shown
            )
            for w in widgets:
                w.setVisible(visible)

    # -- saving ---------------------------------------------------------------------------------------

    def result_data(self) -> Decision:
        return decide(self.view, self.choices())

    def save(self) -> None:
        if self._saving or self.undecided():
            return
        self.error.hide()
        data = self.result_data()
        ctx, issue_id = self._ctx, self.view.issue_id
        self._saving = True
        self._update()

        def done(_result: Any) -> None:
            if not isValid(self):
                return
            self._saving = False
            self.resolved.emit(issue_id)
            self.accept()

        def failed(exc: Exception) -> None:
            if not isValid(self):
                return
            self._saving = False
            self._update()
            if isinstance(exc, ValidationFailed):
                lines = [
                    f"{self._path_label(p.path)}：{p.message_en if lang.language() == 'en' else p.message_zh}"
                    for p in exc.problems[:5]
                ]
                text = (
                    self.tr("这样合并后的记录没有通过检查，请换一种选择：")
                    + "\n"
                    + "\n".join(lines)
                )
            else:
                text = self.tr("没有保存成功：{reason}").format(reason=error_text(exc))
            self.error.setText(text)
            self.error.show()

        self._tasks.run_db(lambda: resolve(ctx, issue_id, data), on_done=done, on_error=failed)

    def _path_label(self, path: Sequence[str | int]) -> str:
        parts: list[str] = []
        fields = self.view.form.fields
        for part in path:
            if isinstance(part, int):
                parts.append(self.tr("第 {n} 条").format(n=part + 1))
                continue
            found = next((f for top in fields for f in top.walk() if f.name == part), None)
            parts.append(_label(found) if found is not None else part)
            fields = found.children if found is not None else ()
        return " · ".join(parts)

    def reject(self) -> None:
        if not self._saving:
            super().reject()
