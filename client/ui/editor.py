"""The record editor: one record of one form, rendered from the form definition.

    editor = RecordEditor(ctx, tasks, "safety_inspection")            # a new record
    editor = RecordEditor(ctx, tasks, "safety_inspection", record_id)  # open a saved one

The widgets hold no rules: after every change the form engine (forms.engine.evaluate) settles relevance
and calculations; the editor hides what does not apply and clears its answer, shows calculated values, and
shows the engine's problems under the fields the clerk has touched (all of them once 提交 was pressed).
Loading and saving run on the database thread (TaskManager.run_db); the editor never waits for them.

A draft is saved with 保存草稿 / Ctrl+S and automatically every few seconds while there are unsaved
changes. Autosaves update the draft in place (one revision, amended); a revision is what the clerk saved or
submitted, so one editing session adds at most one draft revision. 提交 saves only a valid record. A submitted or returned record can be corrected: saving it
submits it again. A record the bureau has accepted opens read-only.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import itertools
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid
from sqlalchemy import select

from client.context import ClientContext
from client.store import records
from client.store.attachments import add_attachment
from client.store.formset import ROSTER_FORM
from client.store.models import Attachment, Status
from client.store.todo import current_period_choice
from client.ui import lang
from client.ui.editor_fields import (
    AttachmentInput,
    ChecksInput,
    ComboInput,
    DateInput,
    DisplayInput,
    FieldInput,
    FieldRow,
    LineInput,
    Option,
    RadioInput,
    TextAreaInput,
    _parse_decimal,
    _parse_int,
    format_number,
    parse_datetime_text,
    parse_time_text,
    show_datetime,
)
from client.ui.repeat_widget import RepeatWidget
from client.ui.tasks import TaskManager
from forms.engine import (
    Evaluation,
    Problem,
    ReferenceList,
    evaluate,
    format_path,
    new_repeat_instance,
)
from forms.engine import new_record as blank_record
from forms.model import Field, FieldType, FormDef

log = logging.getLogger(__name__)

Path_ = tuple[str | int, ...]

_SHA_RE = re.compile(r"[0-9a-f]{64}")
_PATH_PART_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")

STYLE = """
QLabel#formTitle { font-size: 15pt; font-weight: bold; }
QLabel#statusChip { border-radius: 9px; padding: 2px 10px; background: #e8eaed; color: #3c4043; }
QLabel#statusChip[kind="draft"] { background: #e8f0fe; color: #174ea6; }
QLabel#statusChip[kind="submitted"], QLabel#statusChip[kind="received"] {
    background: #e6f4ea; color: #0d652d; }
QLabel#statusChip[kind="returned"] { background: #fce8e6; color: #a50e0e; }
QLabel#statusChip[kind="accepted"] { background: #e6f4ea; color: #0d652d; }
QLabel#hint { color: #5f6368; }
QLabel#problem { color: #c5221f; }
QLabel#comment { background: #fff4ce; border: 1px solid #f2c94c; border-radius: 3px;
    padding: 4px 6px; color: #5c4400; }
QLabel#note { background: #eef4fb; border-radius: 3px; padding: 6px 8px; }
QLabel#calculated { font-weight: bold; padding-top: 4px; }
QLabel#thumbnail { border: 1px solid #c8d0da; background: #ffffff; }
QLabel#repeatHeading { font-weight: bold; }
QLabel#entryTitle { font-weight: bold; color: #174ea6; }
QFrame#fieldRow[invalid="true"] { background: #fdf1f0; border-radius: 3px; }
QFrame#fieldRow[commented="true"] { background: #fffbea; border-radius: 3px; }
QFrame#repeatEntry { border: 1px solid #c8d0da; border-radius: 4px; background: #f8fafc; }
QFrame#banner { border-radius: 4px; }
QFrame#banner[kind="error"] { background: #fce8e6; border: 1px solid #f28b82; }
QFrame#banner[kind="info"], QFrame#banner[kind="undo"] {
    background: #e8f0fe; border: 1px solid #aecbfa; }
QFrame#banner[kind="success"] { background: #e6f4ea; border: 1px solid #81c995; }
QFrame#banner[kind="warning"] { background: #fef7e0; border: 1px solid #fdd663; }
QFrame#bottomBar { border-top: 1px solid #dadce0; }
QLabel#saveState { color: #5f6368; }
QToolButton#clearChoice { color: #5f6368; }
QToolButton#datePick::menu-indicator { image: none; width: 0px; }
"""


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _get_in(data: Any, path: Path_) -> Any:
    node = data
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or not 0 <= part < len(node):
                return None
            node = node[part]
        else:
            if not isinstance(node, Mapping):
                return None
            node = node.get(part)
    return node


def _scope_of(data: dict[str, Any], path: Path_) -> dict[str, Any]:
    """The dict that holds the answer at path (the record, or one repeat entry)."""
    scope = _get_in(data, path[:-1]) if len(path) > 1 else data
    if not isinstance(scope, dict) or not isinstance(path[-1], str):
        raise KeyError(f"no field at {format_path(path)}")
    return scope


def _set_in(data: dict[str, Any], path: Path_, value: Any) -> None:
    scope = _scope_of(data, path)
    name = path[-1]
    assert isinstance(name, str)
    if _empty(value):
        scope.pop(name, None)
    else:
        scope[name] = value


def _under(path: Path_, prefix: Path_) -> bool:
    return len(path) > len(prefix) and path[: len(prefix)] == prefix


def parse_path(text: str) -> Path_:
    """'hazards[1].deadline' -> ('hazards', 1, 'deadline') (the form of Problem.path_str)."""
    return tuple(int(m[2]) if m[2] is not None else m[1] for m in _PATH_PART_RE.finditer(text))


def _attachment_refs(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, str) and _SHA_RE.fullmatch(value):
        out.add(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            _attachment_refs(v, out)
    elif isinstance(value, list):
        for v in value:
            _attachment_refs(v, out)
    return out


@dataclass(frozen=True)
class _Loaded:
    data: dict[str, Any] | None  # None: a new record
    status: str
    form_version: str | None
    comments: dict[str, Any]
    roster: ReferenceList
    names: dict[str, str]  # attachment sha256 -> original file name


@dataclass
class _Node:
    field: Field
    path: Path_
    scope: dict[str, Any]  # the record or the repeat entry holding this field's answer
    relevant: bool
    owner_relevant: bool  # whether the record / entry that holds the answer applies


class Banner(QFrame):
    """A message across the top of the editor, with an optional action (撤销) and a close button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.kind = ""
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.text = QLabel(self)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.text, 1)
        self.action = QPushButton(self)
        self.action.setObjectName("bannerAction")
        layout.addWidget(self.action)
        self.dismiss = QToolButton(self)
        self.dismiss.setText("×")
        self.dismiss.setAutoRaise(True)
        self.dismiss.setToolTip(self.tr("关闭提示"))
        self.dismiss.clicked.connect(self.clear)
        layout.addWidget(self.dismiss)
        self._callback: Callable[[], None] | None = None
        self.action.clicked.connect(self._act)
        self.setVisible(False)

    def show_message(
        self,
        text: str,
        kind: str,
        action: str | None = None,
        callback: Callable[[], None] | None = None,
    ) -> None:
        self.kind = kind
        self.text.setText(text)
        self.action.setVisible(action is not None)
        self.action.setText(action or "")
        self._callback = callback
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.setVisible(True)

    def clear(self) -> None:
        self.kind = ""
        self._callback = None
        self.setVisible(False)

    def _act(self) -> None:
        callback = self._callback
        self.clear()
        if callback is not None:
            callback()


class RecordEditor(QWidget):
    saved = Signal(str)  # record id, after any successful save (draft, autosave or submit)
    submitted = Signal(str)  # record id, after a successful submit
    closed = Signal()

    autosave_ms = 5000  # a draft with unsaved changes is saved this often

    def __init__(
        self,
        ctx: ClientContext,
        tasks: TaskManager,
        form_id: str,
        record_id: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._tasks = tasks
        self._form_id = form_id
        self._form: FormDef = ctx.forms.get(form_id)
        self._lang = lang.form_language()
        self._record_id = record_id
        self._save_id = record_id or str(uuid.uuid4())  # a new record gets its id here, once
        self._status = Status.DRAFT
        self._data: dict[str, Any] = {}
        self._roster: ReferenceList | None = None
        self._names: dict[str, str] = {}
        self._comments: dict[str, str] = {}
        self._fields: dict[Path_, FieldRow] = {}
        self._repeats: dict[Path_, RepeatWidget] = {}
        self._groups: dict[Path_, QGroupBox] = {}
        self._touched: set[Path_] = set()
        self._show_all = False
        self._evaluation: Evaluation | None = None
        self._relevant_repeats: set[Path_] = set()
        self._loaded = False
        self._read_only = False
        self._dirty = False
        self._seq = 0  # counts changes, so a save knows whether it saved the latest
        self._saving = False
        self._pending: str | None = None  # a save asked for while one was running
        self._amend: int | None = None  # the draft revision the last autosave wrote
        self._close_after_save = False
        self._closed = False
        self._saved_at: dt.datetime | None = None
        self._label_width = 120
        self._cleared: list[Field] = []  # answers the last change cleared (no longer relevant)

        self.setObjectName("recordEditor")
        self.setStyleSheet(STYLE)
        self.setWindowTitle(self._form.title.get(self._lang))
        self._build_frame()

        self._timer = QTimer(self)
        self._timer.setInterval(self.autosave_ms)
        self._timer.timeout.connect(self._autosave)
        self._timer.start()
        shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Save), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self.save_draft)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._focus_changed)

        if record_id is None:
            # A new record: the form shows at once; the roster arrives from the database thread.
            self._data = blank_record(self._form)
            period = current_period_choice(self._form, ctx.clock.today())
            where = self._form.settings.period_field
            if period is not None and where and not self._data.get(where):
                self._data[where] = period
            self._build_form()
            self._settle(fill=True)
            self._loaded = True
        self._update_mode()
        self._load()

    # -- the public interface ------------------------------------------------------------------

    def record_id(self) -> str | None:
        return self._record_id

    def data(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)

    def set_value(self, path: Path_, value: Any) -> None:
        """Enter an answer as the clerk would (relevance, calculations and checks follow)."""
        if not self._loaded:
            raise RuntimeError("the record is still loading")
        if not self._can_edit():
            raise RuntimeError("the record is read-only")
        path = tuple(path)
        field = self._field_at(path)
        before = copy.deepcopy(self._data)
        if field.type is FieldType.REPEAT:
            items = [dict(item) for item in (value or [])]
            _scope_of(self._data, path)[path[-1]] = items  # type: ignore[index]
            self._rebuild_repeat(path)
        else:
            _set_in(self._data, path, value)
            row = self._fields.get(path)
            if row is not None:
                row.set_value(value)
        self._touched.add(path)
        self._changed(before)

    def widget_for(self, path: Path_) -> QWidget | None:
        path = tuple(path)
        row = self._fields.get(path)
        if row is not None:
            return row.main_widget()
        if path in self._repeats:
            return self._repeats[path]
        if path in self._groups:
            return self._groups[path]
        if path and isinstance(path[-1], int) and path[:-1] in self._repeats:
            entries = self._repeats[path[:-1]].entries
            index = path[-1]
            return entries[index] if 0 <= index < len(entries) else None
        return None

    def save_draft(self) -> None:
        """保存草稿. A record already submitted (or returned) is saved by submitting it again."""
        if not self._can_edit():
            return
        if self._status != Status.DRAFT:
            self.submit()
            return
        if not self._dirty and self._record_id is not None and not self._saving:
            self._update_state()  # saved already (an autosave took everything): no new revision
            if self._close_after_save:
                self._finish_close()
            return
        self._save("draft")

    def submit(self) -> None:
        """提交: only a valid record; otherwise every problem is shown and nothing is saved."""
        if not self._can_edit():
            return
        if self._status in (Status.SUBMITTED, Status.RECEIVED) and not self._dirty:
            # Nothing changed since it was sent (or queued): sending it again would only repeat it.
            self._banner.show_message(self.tr("这条记录没有修改，不用重新提交。"), "info")
            if self._close_after_save:
                self._finish_close()
            return
        self._show_all = True
        evaluation = self._settle()
        if evaluation.problems:
            self._close_after_save = False
            self._report_problems(evaluation.problems)
            return
        self._save("submit")

    # -- a few more for the main window and tests ------------------------------------------------

    def status(self) -> str:
        return self._status

    def is_dirty(self) -> bool:
        return self._dirty

    def is_read_only(self) -> bool:
        return self._read_only

    def problem_text(self, path: Path_) -> str:
        """The message shown under a field ('' when none is shown)."""
        row = self._fields.get(tuple(path))
        if row is not None:
            return row.problem_text()
        repeat = self._repeats.get(tuple(path))
        if repeat is not None and repeat.problem.isVisibleTo(repeat):
            return repeat.problem.text()
        return ""

    def refresh_roster(self) -> None:
        """Read the teacher roster again (a teacher added, or one who left) and offer it in the teacher
        fields; the answers stay as they are."""
        if self._closed:
            return
        Session = self._ctx.store.Session

        def job() -> ReferenceList:
            with Session() as s:
                return records.roster(s)

        self._tasks.run_db(job, self._guard(self._roster_arrived), self._guard(lambda _e: None))

    def _roster_arrived(self, roster: ReferenceList) -> None:
        if self._closed or roster == self._roster:
            return
        self._roster = roster
        for row in self._fields.values():
            if row.field.reference is not None and isinstance(
                row.input, ComboInput | RadioInput | ChecksInput
            ):
                row.input.set_empty_text(self._empty_roster_text())
                row.input.set_options(self._options(row.field))
        if self._loaded:
            self._settle(fill=False)

    def banner_text(self) -> str:
        return self._banner.text.text() if self._banner.isVisibleTo(self) else ""

    def request_close(self) -> None:
        """关闭: a draft with changes is saved first; a correction not yet submitted is asked about."""
        if self._closed:
            return
        if self._saving:
            self._close_after_save = True
            return
        if self._dirty and self._loaded and not self._read_only:
            if self._status == Status.DRAFT:
                self._close_after_save = True
                self._save("draft")
                return
            answer = QMessageBox.question(
                self,
                self.tr("关闭"),
                self.tr("修改还没有提交。要现在提交修改吗？"),
                QMessageBox.StandardButton.Save
                | QMessageBox.StandardButton.Discard
                | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Save,
            )
            if answer == QMessageBox.StandardButton.Cancel:
                return
            if answer == QMessageBox.StandardButton.Save:
                self._close_after_save = True
                self.submit()
                return
        self._finish_close()

    # -- the frame: title, banner, scrolling form, buttons ------------------------------------------

    def _build_frame(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 10, 12, 8)
        outer.setSpacing(8)
        head = QHBoxLayout()
        self._title = QLabel(self._form.title.get(self._lang), self)
        self._title.setObjectName("formTitle")
        head.addWidget(self._title)
        self._chip = QLabel(self)
        self._chip.setObjectName("statusChip")
        head.addWidget(self._chip, 0, Qt.AlignmentFlag.AlignVCenter)
        head.addStretch(1)
        outer.addLayout(head)
        self._banner = Banner(self)
        outer.addWidget(self._banner)
        self._scroll = QScrollArea(self)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        placeholder = QLabel(self.tr("正在打开记录…"), self)
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._scroll.setWidget(placeholder)
        outer.addWidget(self._scroll, 1)
        bar = QFrame(self)
        bar.setObjectName("bottomBar")
        buttons = QHBoxLayout(bar)
        buttons.setContentsMargins(0, 8, 0, 0)
        self._save_state = QLabel(self)
        self._save_state.setObjectName("saveState")
        buttons.addWidget(self._save_state, 1)
        self.save_button = QPushButton(self.tr("保存草稿"), self)
        self.save_button.setObjectName("save_draft")
        self.save_button.setToolTip(self.tr("保存为草稿，以后可以继续填写（Ctrl+S）"))
        self.save_button.clicked.connect(self.save_draft)
        self.submit_button = QPushButton(self.tr("提交"), self)
        self.submit_button.setObjectName("submit")
        self.submit_button.setDefault(False)
        self.submit_button.setAutoDefault(False)
        self.submit_button.clicked.connect(self.submit)
        self.close_button = QPushButton(self.tr("关闭"), self)
        self.close_button.setObjectName("close")
        self.close_button.clicked.connect(self.request_close)
        for b in (self.save_button, self.submit_button, self.close_button):
            b.setMinimumWidth(96)
            buttons.addWidget(b)
        outer.addWidget(bar)

    def _build_form(self) -> None:
        """(Re)make every field's widget from the form and the current answers."""
        self._fields.clear()
        self._repeats.clear()
        self._groups.clear()
        fm = self.fontMetrics()
        longest = max(
            (fm.horizontalAdvance(f.label.get(self._lang)) for f in self._form.all_fields()),
            default=80,
        )
        # Wide enough for labels of up to ten Chinese characters on one line, with the star.
        self._label_width = (
            max(fm.horizontalAdvance("一" * 5), min(longest, fm.horizontalAdvance("一" * 10)))
            + fm.horizontalAdvance(" *")
            + 2
        )
        page = QWidget()
        page.setObjectName("formPage")
        row = QHBoxLayout(page)
        row.setContentsMargins(0, 0, 8, 0)
        column = QWidget(page)
        column.setMaximumWidth(980)
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 12)
        layout.setSpacing(2)
        self._build_fields(self._form.fields, layout, (), self._data, column)
        layout.addStretch(1)
        row.addWidget(column, 1)
        row.addStretch(0)
        old = self._scroll.takeWidget()
        if old is not None:
            old.deleteLater()
        self._scroll.setWidget(page)
        self._apply_read_only()
        self._fix_tab_order()

    def _build_fields(
        self,
        fields: tuple[Field, ...],
        layout: QVBoxLayout,
        prefix: Path_,
        scope: dict[str, Any],
        parent: QWidget,
    ) -> None:
        for f in fields:
            path = (*prefix, f.name)
            if f.type is FieldType.GROUP:
                box = QGroupBox(f.label.get(self._lang), parent)
                inner = QVBoxLayout(box)
                inner.setContentsMargins(6, 8, 6, 6)
                inner.setSpacing(2)
                self._groups[path] = box
                self._build_fields(f.children, inner, prefix, scope, box)
                layout.addWidget(box)
            elif f.type is FieldType.REPEAT:
                repeat = RepeatWidget(f, lang=self._lang, parent=parent)
                repeat.path = path
                self._repeats[path] = repeat
                # The repeat's path changes when an entry around it moves: read it at the time.
                repeat.add_requested.connect(lambda r=repeat: self._add_entry(r.path))
                repeat.remove_requested.connect(lambda i, r=repeat: self._remove_entry(r.path, i))
                repeat.move_requested.connect(lambda a, b, r=repeat: self._move_entry(r.path, a, b))
                repeat.set_comment(self._comment_for(path, f))
                layout.addWidget(repeat)
                self._fill_repeat(path)
            elif f.type is FieldType.CALCULATE and not f.label:
                continue  # worked out for the record, nothing to show
            else:
                row = FieldRow(
                    f,
                    self._make_input(f),
                    lang=self._lang,
                    label_width=self._label_width,
                    parent=parent,
                )
                row.path = path
                row.set_value(scope.get(f.name))
                row.set_comment(self._comment_for(path, f))
                row.edited.connect(partial(self._row_edited, row))
                if isinstance(row.input, AttachmentInput):
                    row.input.attach_requested.connect(partial(self._attach, row))
                self._fields[path] = row
                layout.addWidget(row)

    def _make_input(self, f: Field) -> FieldInput | None:
        t = f.type
        if t is FieldType.TEXT:
            if f.appearance and "multiline" in f.appearance:
                return TextAreaInput()
            return LineInput(max_width=420)
        if t is FieldType.INTEGER:
            return LineInput(
                pattern=r"[+-]?\d{0,15}", parse=_parse_int, show=format_number, max_width=140
            )
        if t is FieldType.DECIMAL:
            return LineInput(
                pattern=r"[+-]?\d{0,15}(\.\d{0,10})?",
                parse=_parse_decimal,
                show=format_number,
                max_width=140,
            )
        if t is FieldType.DATE:
            return DateInput(self._ctx.clock.today)
        if t is FieldType.TIME:
            return LineInput(
                pattern=r"[0-9:.]{0,8}",
                parse=parse_time_text,
                max_width=100,
                placeholder=self.tr("时:分"),
            )
        if t is FieldType.DATETIME:
            return LineInput(
                pattern=r"[0-9\-/.: 年月日T+]{0,25}",
                parse=parse_datetime_text,
                show=show_datetime,
                max_width=200,
                placeholder=self.tr("年-月-日 时:分"),
            )
        if t is FieldType.SELECT_ONE or t is FieldType.SELECT_MULTIPLE:
            options = self._options(f)
            minimal = bool(f.appearance and "minimal" in f.appearance)
            choice: ComboInput | RadioInput | ChecksInput
            if t is FieldType.SELECT_MULTIPLE:
                choice = ChecksInput(options)
            elif f.reference is not None or minimal or len(options) > 6:
                choice = ComboInput(options)
            else:
                choice = RadioInput(options, clearable=f.required is False)
            if f.reference is not None and self._roster is not None:
                choice.set_empty_text(self._empty_roster_text())
            return choice
        if t in (FieldType.IMAGE, FieldType.FILE):
            return AttachmentInput(
                image=t is FieldType.IMAGE,
                root=self._ctx.store.attachments_dir,
                names=self._names,
            )
        if t is FieldType.CALCULATE:
            return DisplayInput(field=f)
        return None

    def _empty_roster_text(self) -> str:
        return self.tr("教师名册里还没有在职教师，请先到“教师名册”页添加。")

    def _options(self, f: Field) -> list[Option]:
        if f.reference is not None:
            roster = self._roster if f.reference == ROSTER_FORM else None
            if roster is None:
                return []
            shared = Counter(roster.items.values())
            return [
                Option(
                    key,
                    f"{name}（{key}）" if shared[name] > 1 else name,  # two 李娜: by staff number
                    key in roster.inactive,
                )
                for key, name in roster.items.items()
            ]
        if f.list_name is not None:
            return [
                Option(c.name, c.label.get(self._lang) or c.name)
                for c in self._form.choice_list(f.list_name).choices
            ]
        return []

    # -- repeats ---------------------------------------------------------------------------------

    def _fill_repeat(self, path: Path_) -> None:
        repeat = self._repeats[path]
        for registry in (self._fields, self._repeats, self._groups):
            for key in [k for k in registry if _under(k, path)]:
                del registry[key]
        repeat.clear_entries()
        items = _get_in(self._data, path)
        for i, item in enumerate(items if isinstance(items, list) else []):
            entry = repeat.add_entry()
            if isinstance(item, dict):
                self._build_fields(repeat.field.children, entry.body, (*path, i), item, entry)
        repeat.update_buttons()

    def _rebuild_repeat(self, path: Path_) -> None:
        if path not in self._repeats:
            return
        self._fill_repeat(path)
        self._apply_read_only()
        self._fix_tab_order()

    def _entries(self, path: Path_) -> list[Any]:
        scope = _scope_of(self._data, path)
        name = path[-1]
        assert isinstance(name, str)
        items = scope.get(name)
        if not isinstance(items, list):
            items = []
            scope[name] = items
        return items

    def _build_entry(self, path: Path_, index: int) -> None:
        """Make the widgets of one new (last) entry of a repeat."""
        repeat = self._repeats[path]
        item = self._entries(path)[index]
        entry = repeat.add_entry()
        before = set(self._fields)
        if isinstance(item, dict):
            self._build_fields(repeat.field.children, entry.body, (*path, index), item, entry)
        for key in set(self._fields) - before:
            row = self._fields[key]
            row.set_read_only(self._read_only or row.field.read_only is True)
        repeat.update_buttons()
        self._fix_tab_order()

    def _add_entry(self, path: Path_) -> None:
        if not self._can_edit() or path not in self._repeats:
            return
        repeat = self._repeats[path]
        before = copy.deepcopy(self._data)
        items = self._entries(path)
        if repeat.field.max_count is not None and len(items) >= repeat.field.max_count:
            return
        items.append(new_repeat_instance(self._form, repeat.field.name))
        self._touched.add(path)
        self._build_entry(path, len(items) - 1)
        self._changed(before)
        entry = repeat.entries[-1]
        QTimer.singleShot(0, partial(self._reveal, entry, (*path, len(items) - 1)))

    def _remove_entry(self, path: Path_, index: int) -> None:
        if not self._can_edit() or path not in self._repeats:
            return
        repeat = self._repeats[path]
        items = self._entries(path)
        if not 0 <= index < len(items) or len(items) <= (repeat.field.min_count or 0):
            return
        before = copy.deepcopy(self._data)
        removed = items.pop(index)
        index_map = lambda i: None if i == index else (i - 1 if i > index else i)  # noqa: E731
        self._rekey(path, index_map)
        self._remap(path, index_map)
        repeat.remove_entry(index)
        repeat.update_buttons()
        self._touched.add(path)
        self._fix_tab_order()
        self._changed(before)
        blank = new_repeat_instance(self._form, repeat.field.name)
        if isinstance(removed, dict) and any(
            not _empty(v) and blank.get(k) != v for k, v in removed.items()
        ):
            self._banner.show_message(
                self.tr("已删除{title}。").format(title=repeat.title(index)),
                "undo",
                self.tr("撤销"),
                partial(self._undo, before),
            )
        if repeat.entries:
            target = repeat.entries[min(index, len(repeat.entries) - 1)]
            target.remove.setFocus() if target.remove.isEnabled() else target.setFocus()
        else:
            repeat.add.setFocus()

    def _move_entry(self, path: Path_, source: int, target: int) -> None:
        if not self._can_edit() or path not in self._repeats:
            return
        items = self._entries(path)
        if not (0 <= source < len(items) and 0 <= target < len(items)) or source == target:
            return
        before = copy.deepcopy(self._data)
        items[source], items[target] = items[target], items[source]
        index_map = lambda i: target if i == source else (source if i == target else i)  # noqa: E731
        self._rekey(path, index_map)
        self._remap(path, index_map)
        repeat = self._repeats[path]
        repeat.swap_entries(source, target)
        repeat.update_buttons()
        self._fix_tab_order()
        self._changed(before)
        entry = repeat.entries[target]
        button = entry.up if target < source else entry.down
        if not button.isEnabled():
            button = entry.down if button is entry.up else entry.up
        button.setFocus()
        QTimer.singleShot(0, partial(self._reveal, entry, None))

    def _rekey(self, path: Path_, index_map: Callable[[int], int | None]) -> None:
        """Entries of the repeat at path moved (index_map: old index -> new, None = removed): file
        their widgets under their new paths instead of making them again."""
        depth = len(path)
        registries: tuple[dict[Path_, Any], ...] = (self._fields, self._repeats, self._groups)
        for registry in registries:
            moved: dict[Path_, Any] = {}
            for key in [k for k in registry if _under(k, path) and isinstance(k[depth], int)]:
                widget = registry.pop(key)
                old = key[depth]
                assert isinstance(old, int)
                new = index_map(old)
                if new is not None:
                    moved[(*path, new, *key[depth + 1 :])] = widget
            registry.update(moved)
            for key, widget in moved.items():
                if isinstance(widget, FieldRow | RepeatWidget):
                    widget.path = key

    def _remap(self, path: Path_, index_map: Callable[[int], int | None]) -> None:
        """Keep 'touched' with its entry when entries are removed or reordered."""
        depth = len(path)
        moved: set[Path_] = set()
        for p in self._touched:
            index = p[depth] if _under(p, path) else None
            if isinstance(index, int):
                new = index_map(index)
                if new is not None:
                    moved.add((*path, new, *p[depth + 1 :]))
            else:
                moved.add(p)
        self._touched = moved

    def _reveal(self, widget: QWidget, path: Path_ | None) -> None:
        """Scroll to a widget; with a path, put the cursor in the first field under it."""
        if not isValid(widget):
            return
        self._scroll_down_to(widget, 40)
        if path is None:
            return
        for p, row in self._fields.items():
            if _under(p, path) and row.isVisibleTo(self) and row.focus_widgets():
                row.focus_widgets()[0].setFocus(Qt.FocusReason.OtherFocusReason)
                return

    # -- after every change: relevance, calculations, problems --------------------------------------

    def _row_edited(self, row: FieldRow, value: Any) -> None:
        if not self._can_edit() or self._fields.get(row.path) is not row:
            return
        before = copy.deepcopy(self._data)
        _set_in(self._data, row.path, value)
        self._touched.add(row.path)
        self._changed(before)

    def _changed(self, before: dict[str, Any]) -> None:
        self._seq += 1
        self._dirty = True
        self._settle()
        cleared = self._cleared
        if cleared:
            labels = "、".join(dict.fromkeys(f.label.get(self._lang) or f.name for f in cleared))
            self._banner.show_message(
                self.tr("这些题目已不再适用，答案已清除：{labels}").format(labels=labels),
                "undo",
                self.tr("撤销"),
                partial(self._undo, before),
            )
        elif self._banner.kind == "undo":
            self._banner.clear()
        self._update_state()

    def _undo(self, before: dict[str, Any]) -> None:
        if not self._can_edit():
            return
        self._data = before
        position = self._scroll.verticalScrollBar().value()
        self._build_form()
        QTimer.singleShot(0, partial(self._scroll.verticalScrollBar().setValue, position))
        self._seq += 1
        self._dirty = True
        self._settle()
        self._update_state()

    def _walk(
        self,
        evaluation: Evaluation | None,
        fields: tuple[Field, ...] | None = None,
        scope: dict[str, Any] | None = None,
        prefix: Path_ = (),
        relevant: bool = True,
        owner_relevant: bool = True,
    ) -> Iterator[_Node]:
        """Every field of the record in form order, with the answers' dicts and relevance (a field in a
        group that does not apply does not apply either)."""
        if fields is None:
            fields = self._form.fields
        if scope is None:
            scope = self._data
        for f in fields:
            path = (*prefix, f.name)
            rel = relevant and (evaluation is None or evaluation.is_relevant(path))
            yield _Node(f, path, scope, rel, owner_relevant)
            if f.type is FieldType.GROUP:
                yield from self._walk(evaluation, f.children, scope, prefix, rel, owner_relevant)
            elif f.type is FieldType.REPEAT:
                items = scope.get(f.name)
                for i, item in enumerate(items if isinstance(items, list) else []):
                    if isinstance(item, dict):
                        yield from self._walk(evaluation, f.children, item, (*path, i), rel, rel)

    def _references(self) -> dict[str, ReferenceList] | None:
        return {ROSTER_FORM: self._roster} if self._roster is not None else None

    def _evaluate(self, data: dict[str, Any]) -> Evaluation:
        return evaluate(
            self._form, data, today=self._ctx.clock.today(), references=self._references()
        )

    def _settle(self, *, fill: bool = True) -> Evaluation:
        """Evaluate; clear the answers of fields that no longer apply; start a repeat that has just
        come to apply with its minimum number of entries; take in calculated values; refresh."""
        self._cleared = []
        rebuild: list[Path_] = []
        evaluation = self._evaluate(self._data)
        for _ in range(5):
            changed = False
            relevant_repeats: set[Path_] = set()
            for node in list(self._walk(evaluation)):
                f, name = node.field, node.field.name
                if f.type is FieldType.GROUP:
                    continue
                if not node.relevant:
                    if node.owner_relevant and name in node.scope:
                        value = node.scope.pop(name)
                        changed = True
                        if not _empty(value) and f.type is not FieldType.CALCULATE:
                            self._cleared.append(f)
                        if f.type is FieldType.REPEAT:
                            rebuild.append(node.path)
                        row = self._fields.get(node.path)
                        if row is not None:
                            row.set_value(None)
                    continue
                if f.type is FieldType.REPEAT:
                    relevant_repeats.add(node.path)
                    newly = node.path not in self._relevant_repeats
                    count = len(node.scope.get(name) or [])
                    wanted = f.min_count or 0
                    if fill and newly and count < wanted and not self._read_only:
                        items = node.scope.setdefault(name, [])
                        while len(items) < wanted:
                            items.append(new_repeat_instance(self._form, name))
                        rebuild.append(node.path)
                        changed = True
            self._relevant_repeats = relevant_repeats
            if not changed:
                break
            evaluation = self._evaluate(self._data)
        for node in self._walk(evaluation):
            if node.field.type is FieldType.CALCULATE and node.relevant:
                value = _get_in(evaluation.data, node.path)
                if _empty(value):
                    node.scope.pop(node.field.name, None)
                else:
                    node.scope[node.field.name] = value
                row = self._fields.get(node.path)
                if row is not None:
                    row.set_value(value)
        done: list[Path_] = []
        for path in sorted(set(rebuild), key=len):
            if not any(_under(path, p) for p in done):
                self._rebuild_repeat(path)
                done.append(path)
        self._evaluation = evaluation
        self._refresh()
        return evaluation

    def _required(self, node: _Node, evaluation: Evaluation) -> bool:
        """Whether a field must be answered now (a `required` expression is worked out by asking the
        engine about the record with this answer left out)."""
        f = node.field
        if isinstance(f.required, bool):
            return f.required
        if _empty(node.scope.get(f.name)):
            return any(p.path == node.path and p.code == "required" for p in evaluation.problems)
        probe = copy.deepcopy(self._data)
        _set_in(probe, node.path, None)
        return any(
            p.path == node.path and p.code == "required" for p in self._evaluate(probe).problems
        )

    def _message(self, problem: Problem) -> str:
        return problem.message_en if self._lang == "en" else problem.message_zh

    def _refresh(self) -> None:
        """Show what applies, the required marks and the problems the clerk should see now."""
        evaluation = self._evaluation
        if evaluation is None:
            return
        first: dict[Path_, Problem] = {}
        for found in evaluation.problems:
            first.setdefault(found.path, found)
        for node in self._walk(evaluation):
            path = node.path
            shown = self._show_all or path in self._touched
            problem: Problem | None = first.get(path)
            if node.field.type is FieldType.GROUP:
                box = self._groups.get(path)
                if box is not None:
                    box.setVisible(node.relevant)
            elif node.field.type is FieldType.REPEAT:
                repeat = self._repeats.get(path)
                if repeat is not None:
                    repeat.setVisible(node.relevant)
                    repeat.update_buttons()
                    text = self._message(problem) if problem and shown else None
                    repeat.set_problem(text)
            else:
                row = self._fields.get(path)
                if row is None:
                    continue
                row.setVisible(node.relevant)
                if not node.relevant:
                    row.set_problem(None)
                    continue
                row.set_required(self._required(node, evaluation))
                if problem is not None and problem.code == "type" and row.is_editing():
                    problem = None  # still typing: judged when the clerk leaves the field
                row.set_problem(self._message(problem) if problem and shown else None)
        if self._banner.kind == "problems":
            if evaluation.problems:
                self._banner.show_message(self._problems_summary(evaluation.problems), "problems")
            else:
                self._banner.show_message(self.tr("所有问题都已改正，可以提交了。"), "success")

    def _problems_summary(self, problems: list[Problem]) -> str:
        lines = [
            self.tr("还有 {n} 处需要填写或改正（已标为红色），改正后再提交。").format(
                n=len(problems)
            )
        ]
        unplaced = [p for p in problems if self._widget_near(p.path) is None]
        for p in unplaced[:3]:
            lines.append(f"{self.place_text(p.path)}：{self._message(p)}")
        return "\n".join(lines)

    def place_text(self, path: Path_) -> str:
        """Where a problem is, in the clerk's words: “隐患清单”第 2 条的“现场照片”, never hazards[1].photo."""
        english = self._lang == "en"
        parts: list[str] = []
        for part in path:
            if isinstance(part, int):
                if parts:
                    parts[-1] += f" entry {part + 1}" if english else f"第 {part + 1} 条"
                continue
            try:
                label = self._form.field(part).label.get(self._lang) or part
            except KeyError:
                label = part
            parts.append(f"'{label}'" if english else f"“{label}”")
        return (", " if english else "的").join(parts)

    def _widget_near(self, path: Path_) -> QWidget | None:
        """The field (or the nearest enclosing repeat) a problem belongs to."""
        for n in range(len(path), 0, -1):
            p = path[:n]
            if p in self._fields:
                return self._fields[p]
            if p in self._repeats:
                return self._repeats[p]
        return None

    def _report_problems(self, problems: list[Problem]) -> None:
        self._refresh()
        self._banner.show_message(self._problems_summary(problems), "error")
        self._banner.kind = "problems"
        for problem in problems:
            widget = self._widget_near(problem.path)
            if widget is not None and widget.isVisibleTo(self):
                QTimer.singleShot(0, partial(self._go_to, widget))
                break

    def _scroll_down_to(self, widget: QWidget, margin: int) -> None:
        """Bring a widget into view by scrolling up or down only: the form never moves sideways (its
        labels would be cut off on the left; ensureWidgetVisible scrolls both ways)."""
        viewport = self._scroll.viewport()
        bar = self._scroll.verticalScrollBar()
        top = widget.mapTo(viewport, widget.rect().topLeft()).y()
        bottom = top + widget.height()
        if top - margin < 0 or widget.height() + 2 * margin > viewport.height():
            bar.setValue(bar.value() + top - margin)
        elif bottom + margin > viewport.height():
            bar.setValue(bar.value() + bottom + margin - viewport.height())
        self._scroll.horizontalScrollBar().setValue(0)

    def _go_to(self, widget: QWidget) -> None:
        if not isValid(widget):
            return
        self._scroll_down_to(widget, 60)
        if isinstance(widget, FieldRow):
            focus = widget.focus_widgets()
            if focus:
                focus[0].setFocus(Qt.FocusReason.OtherFocusReason)
        elif isinstance(widget, RepeatWidget) and widget.add.isEnabled():
            widget.add.setFocus(Qt.FocusReason.OtherFocusReason)

    def _focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        """Leaving a field marks it touched; its problems (a half-typed date) show from then on."""
        if old is None or not isValid(self) or not self._loaded or not isValid(old):
            return
        if new is not None and not old.window().isAncestorOf(new) and new is not old.window():
            return  # a calendar popup or a dialog: the clerk is still on the field
        row = self._row_containing(old)
        if row is None or (new is not None and row.isAncestorOf(new)):
            return
        if row.input is not None:
            row.input.tidy()
        self._touched.add(row.path)
        self._refresh()

    def _row_containing(self, widget: QWidget) -> FieldRow | None:
        w: QWidget | None = widget
        while w is not None:
            if isinstance(w, FieldRow):
                return w if self._fields.get(w.path) is w else None
            if w is self:
                return None
            w = w.parentWidget()
        return None

    # -- read-only, review comments, keyboard order ----------------------------------------------------

    def _can_edit(self) -> bool:
        return self._loaded and not self._read_only and not self._closed

    def _apply_read_only(self) -> None:
        for row in self._fields.values():
            row.set_read_only(self._read_only or row.field.read_only is True)
        for repeat in self._repeats.values():
            repeat.set_read_only(self._read_only)

    def _comment_for(self, path: Path_, f: Field) -> str | None:
        if not self._comments:
            return None
        return self._comments.get(format_path(path)) or (
            self._comments.get(f.name) if len(path) > 1 else None
        )

    def _general_comments(self) -> list[str]:
        names = {f.name for f in self._form.all_fields()}
        out = []
        for key, text in self._comments.items():
            parts = parse_path(key)
            if not parts or not isinstance(parts[0], str) or parts[-1] not in names:
                out.append(text)
        return out

    def _fix_tab_order(self) -> None:
        """Tab follows the form: field by field, each entry's buttons before its fields, then the
        buttons at the bottom (widgets made later would otherwise come last)."""
        chain: list[QWidget] = []

        def visit(fields: tuple[Field, ...], prefix: Path_, scope: Mapping[str, Any]) -> None:
            for f in fields:
                path = (*prefix, f.name)
                if f.type is FieldType.GROUP:
                    visit(f.children, prefix, scope)
                elif f.type is FieldType.REPEAT:
                    repeat = self._repeats.get(path)
                    if repeat is None:
                        continue
                    items = scope.get(f.name)
                    items = items if isinstance(items, list) else []
                    for i, entry in enumerate(repeat.entries):
                        chain.extend([entry.up, entry.down, entry.remove])
                        if i < len(items) and isinstance(items[i], Mapping):
                            visit(f.children, (*path, i), items[i])
                    chain.append(repeat.add)
                else:
                    row = self._fields.get(path)
                    if row is not None:
                        chain.extend(row.focus_widgets())

        visit(self._form.fields, (), self._data)
        chain.extend([self.save_button, self.submit_button, self.close_button])
        for a, b in itertools.pairwise(chain):
            QWidget.setTabOrder(a, b)

    def _field_at(self, path: Path_) -> Field:
        names = [p for p in path if isinstance(p, str)]
        if not names:
            raise KeyError("empty path")
        try:
            return self._form.field(names[-1])
        except KeyError:
            raise KeyError(f"the form has no field {format_path(path)}") from None

    # -- loading and saving (on the database thread) -----------------------------------------------

    def _guard(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """A callback that does nothing once this editor has been deleted."""

        def call(arg: Any) -> None:
            if isValid(self):
                fn(arg)

        return call

    def _load(self) -> None:
        Session = self._ctx.store.Session
        record_id = self._record_id

        def job() -> _Loaded:
            with Session.begin() as s:
                roster = records.roster(s)
                if record_id is None:
                    return _Loaded(None, Status.DRAFT, None, {}, roster, {})
                record = records.get_record(s, record_id)
                data = copy.deepcopy(record.data)
                shas = _attachment_refs(data, set())
                names: dict[str, str] = {}
                if shas:
                    rows = s.execute(
                        select(Attachment.sha256, Attachment.filename).where(
                            Attachment.sha256.in_(shas)
                        )
                    )
                    names = {sha: filename for sha, filename in rows}
                comments = record.review_comments
                return _Loaded(
                    data,
                    record.status,
                    record.form_version,
                    dict(comments) if isinstance(comments, Mapping) else {},
                    roster,
                    names,
                )

        self._tasks.run_db(job, self._guard(self._loaded_record), self._guard(self._load_failed))

    def _loaded_record(self, loaded: _Loaded) -> None:
        self._roster = loaded.roster
        self._names.update(loaded.names)
        if loaded.data is None:
            # A new record: only the roster was missing.
            for row in self._fields.values():
                if row.field.reference is not None and isinstance(
                    row.input, ComboInput | RadioInput | ChecksInput
                ):
                    row.input.set_empty_text(self._empty_roster_text())
                    row.input.set_options(self._options(row.field))
            self._settle()
            self._fix_tab_order()
            return
        self._form = self._ctx.forms.get(self._form_id, loaded.form_version)
        self._data = loaded.data
        self._status = loaded.status
        self._comments = {
            str(k): (v.get("comment") or v.get("text") or "") if isinstance(v, Mapping) else str(v)
            for k, v in loaded.comments.items()
            if v
        }
        self._read_only = loaded.status == Status.ACCEPTED
        self._build_form()
        self._settle(fill=False)
        self._loaded = True
        self._dirty = False
        self._update_mode()
        self._show_status_note()

    def _load_failed(self, exc: Exception) -> None:
        self._read_only = True
        self._banner.show_message(
            self.tr("打不开这条记录：{reason}").format(reason=self._reason(exc)), "error"
        )
        self._update_mode()

    def _show_status_note(self) -> None:
        general = self._general_comments()
        if self._status == Status.ACCEPTED:
            self._banner.show_message(
                self.tr("教育局已确认这条记录，只能查看，不能再修改。"), "info"
            )
        elif self._status == Status.RETURNED:
            text = self.tr("教育局退回了这条记录，请按黄色的批注修改，然后点“提交修改”。")
            if general:
                text += "\n" + self.tr("教育局批注：") + "；".join(general)
            self._banner.show_message(text, "warning")
        elif general:
            self._banner.show_message(self.tr("教育局批注：") + "；".join(general), "warning")

    def _save(self, kind: str, *, auto: bool = False) -> None:
        if self._saving:
            if kind == "submit" or self._pending is None:
                self._pending = kind
            return
        self._saving = True
        self._save_state.setText(self.tr("正在保存…"))
        Session = self._ctx.store.Session
        clock = self._ctx.clock
        form = self._form
        data = copy.deepcopy(self._data)
        record_id = self._save_id
        submit = kind == "submit"
        seq = self._seq
        amend = None if submit else self._amend  # autosaves and the save after: one revision

        def job() -> records.SaveResult:
            with Session.begin() as s:
                return records.save_record(
                    s,
                    form=form,
                    data=data,
                    record_id=record_id,
                    submit=submit,
                    today=clock.today(),
                    now=clock.now(),
                    amend=amend,
                )

        self._tasks.run_db(
            job,
            self._guard(partial(self._save_done, kind, seq, auto)),
            self._guard(partial(self._save_failed, kind)),
        )

    def _save_done(self, kind: str, seq: int, auto: bool, result: records.SaveResult) -> None:
        was = self._status
        self._saving = False
        self._record_id = result.record_id
        self._status = result.status
        self._amend = result.revision if auto and result.status == Status.DRAFT else None
        self._saved_at = self._ctx.clock.now()
        if seq == self._seq:
            self._dirty = False
        if kind == "submit":
            text = (
                self.tr("修改已重新提交，联网后会自动发送到教育局。")
                if was != Status.DRAFT
                else self.tr("已提交，联网后会自动发送到教育局。")
            )
            self._banner.show_message(text, "success")
        elif not auto and self._banner.kind in ("error", "problems"):
            self._banner.clear()
        self._update_mode()
        self._update_state()
        self.saved.emit(result.record_id)
        if kind == "submit":
            self.submitted.emit(result.record_id)
        pending, self._pending = self._pending, None
        if pending == "submit":
            self.submit()
        elif pending == "draft" and self._dirty:
            self.save_draft()
        elif self._close_after_save and not self._dirty:
            self._finish_close()

    def _save_failed(self, kind: str, exc: Exception) -> None:
        self._saving = False
        self._pending = None
        self._close_after_save = False
        if isinstance(exc, records.ValidationFailed):
            self._show_all = True
            self._report_problems(exc.problems)
        elif isinstance(exc, records.RecordLocked):
            self._status = Status.ACCEPTED
            self._read_only = True
            self._apply_read_only()
            self._banner.show_message(self._reason(exc), "error")
        else:
            self._banner.show_message(
                self.tr("没有保存成功：{reason}。答案还在，请稍后再试。").format(
                    reason=self._reason(exc)
                ),
                "error",
            )
        self._update_mode()
        self._update_state()

    def _reason(self, exc: Exception) -> str:
        if isinstance(exc, records.StoreError):
            return exc.message_en if self._lang == "en" else exc.message_zh
        return str(exc) or type(exc).__name__

    def _autosave(self) -> None:
        if self._timer.interval() != self.autosave_ms:
            self._timer.setInterval(self.autosave_ms)
        if self._dirty and self._can_edit() and self._status == Status.DRAFT and not self._saving:
            self._save("draft", auto=True)

    def _attach(self, row: FieldRow, source: str) -> None:
        Session = self._ctx.store.Session
        root = self._ctx.store.attachments_dir
        now = self._ctx.clock.now()

        def job() -> str:
            with Session.begin() as s:
                return add_attachment(s, root, Path(source), now=now)

        def done(sha: str) -> None:
            if not isValid(row) or not isinstance(row.input, AttachmentInput):
                return
            self._names[sha] = Path(source).name
            row.input.attached(sha)

        def failed(exc: Exception) -> None:
            if isValid(row) and isinstance(row.input, AttachmentInput):
                row.input.set_busy(False)
            self._banner.show_message(
                self.tr("文件没有保存成功：{reason}").format(reason=self._reason(exc)), "error"
            )

        self._tasks.run_db(job, self._guard(done), self._guard(failed))

    # -- state shown to the clerk -------------------------------------------------------------------

    def _update_mode(self) -> None:
        self._chip.setText(lang.status_label(self._status))
        self._chip.setProperty("kind", self._status)
        self._chip.style().unpolish(self._chip)
        self._chip.style().polish(self._chip)
        editable = self._can_edit()
        draft = self._status == Status.DRAFT
        self.save_button.setVisible(editable and draft)
        self.submit_button.setVisible(editable)
        self.submit_button.setText(self.tr("提交") if draft else self.tr("提交修改"))
        self.submit_button.setToolTip(
            self.tr("检查后提交，联网后发送到教育局")
            if draft
            else self.tr("修改后重新提交给教育局（Ctrl+S）")
        )
        for b in (self.save_button, self.submit_button):
            b.setEnabled(editable)
        self._apply_read_only()
        self._update_state()

    def _update_state(self) -> None:
        if not self._loaded:
            text = self.tr("正在打开…")
        elif self._read_only:
            text = self.tr("只读")
        elif self._saving:
            text = self.tr("正在保存…")
        elif self._dirty:
            text = self.tr("有未保存的修改")
        elif self._saved_at is not None:
            local = self._saved_at.replace(tzinfo=dt.UTC).astimezone()
            text = self.tr("已保存 {time}").format(time=local.strftime("%H:%M"))
        else:
            text = ""
        self._save_state.setText(text)

    # -- closing ----------------------------------------------------------------------------------

    def _finish_close(self, *, from_event: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_after_save = False
        self._timer.stop()
        app = QApplication.instance()
        if isinstance(app, QApplication):
            with contextlib.suppress(RuntimeError, TypeError):
                app.focusChanged.disconnect(self._focus_changed)
        self.closed.emit()
        if not from_event and self.isWindow() and self.isVisible():
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the window (or the main window's tab) is 关闭: unsaved work is saved or asked about
        first, so the event is refused until then (`closed` is emitted when the editor has closed)."""
        if not self._closed and not self._saving and (not self._dirty or not self._can_edit()):
            self._finish_close(from_event=True)
        if self._closed:
            event.accept()
            return
        event.ignore()
        self.request_close()
