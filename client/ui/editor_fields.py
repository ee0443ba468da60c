"""The inputs of the record editor, one kind per field type, and the row that frames one field.

Each input shows one answer as a JSON value (see "Conventions for values" in FORMS.md) and reports the
clerk's edits with `edited(value)`; `set_value` never emits it. Empty is always possible and is `None`.
Text the clerk is still typing that is not yet a valid value (half a date) is reported as the raw string,
so the form engine can say what is wrong once the clerk leaves the field.

No business rules live here: relevance, calculations and checks are the form engine's, run by the editor.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QCoreApplication,
    QDate,
    QEvent,
    QIODevice,
    QObject,
    QRect,
    QSize,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import QDesktopServices, QImageReader, QKeyEvent, QPixmap, QValidator
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCalendarWidget,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from client.store.attachments import (
    AttachmentUnreadable,
    attachment_path,
    read_attachment_file,
    viewing_copy,
)
from forms.display import is_percent, show_percent
from forms.model import Field, FieldType

log = logging.getLogger(__name__)

REQUIRED_COLOR = "#d93025"

# -- values typed by hand ---------------------------------------------------------------------------

# A Chinese input method in full-width mode types these; numbers, dates and times accept them.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．。－：／＋", "0123456789..-:/+")

_DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_DATE_COMPACT_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_TIME_RE = re.compile(r"(\d{1,2})[:.](\d{2})(?::(\d{2}))?")
_TIME_COMPACT_RE = re.compile(r"(\d{2})(\d{2})")


def parse_date_text(text: str) -> str | None:
    """'2026-11-28', '2026/11/28', '2026.11.28', '2026年11月28日', '20261128' -> '2026-11-28'."""
    t = text.translate(_FULL_WIDTH).strip()
    m = _DATE_RE.fullmatch(t) or _DATE_COMPACT_RE.fullmatch(t)
    if m is None:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return None


def parse_time_text(text: str) -> str | None:
    """'8:30', '08.30', '0830', '08:30:15' -> '08:30' (seconds kept when given)."""
    t = text.translate(_FULL_WIDTH).strip()
    m = _TIME_RE.fullmatch(t) or _TIME_COMPACT_RE.fullmatch(t)
    if m is None:
        return None
    hour, minute = int(m[1]), int(m[2])
    second = int(m[3]) if m.lastindex == 3 and m[3] else None
    if hour > 23 or minute > 59 or (second is not None and second > 59):
        return None
    return f"{hour:02d}:{minute:02d}" + (f":{second:02d}" if second is not None else "")


def parse_datetime_text(text: str) -> str | None:
    """'2026-11-28 08:30' -> ISO 8601 with this PC's offset, e.g. '2026-11-28T08:30:00+08:00'."""
    t = text.translate(_FULL_WIDTH).strip().replace("T", " ")
    date_part, _, time_part = t.partition(" ")
    day = parse_date_text(date_part)
    clock = parse_time_text(time_part.strip()) if time_part.strip() else None
    if day is None or clock is None:
        return None
    value = dt.datetime.fromisoformat(f"{day}T{clock}").astimezone()
    return value.isoformat(timespec="seconds")


def show_datetime(value: str) -> str:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.strftime("%Y-%m-%d %H:%M")


def format_number(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.10f}".rstrip("0").rstrip(".")
    return str(value)


def format_calculated(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


class _CharValidator(QValidator):
    """Lets through what fits `pattern` (after turning full-width digits into ASCII).

    Everything allowed is "Acceptable", so editingFinished always fires; the form engine judges the
    value and the editor shows its message.
    """

    def __init__(self, pattern: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._re = re.compile(pattern)

    def validate(self, text: str, pos: int) -> object:
        converted = text.translate(_FULL_WIDTH)
        if self._re.fullmatch(converted):
            return (QValidator.State.Acceptable, converted, pos)
        return (QValidator.State.Invalid, text, pos)


class _NoWheelFilter(QObject):
    """A wheel turned over an unfocused combo box scrolls the form instead of changing the answer."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Wheel
            and isinstance(watched, QWidget)
            and not watched.hasFocus()
        ):
            event.ignore()
            return True
        return False


_NO_WHEEL: _NoWheelFilter | None = None


def no_wheel(widget: QWidget) -> None:
    global _NO_WHEEL
    if _NO_WHEEL is None:
        _NO_WHEEL = _NoWheelFilter(QCoreApplication.instance())
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.installEventFilter(_NO_WHEEL)


# -- inputs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One choice offered: the stored name, the label shown, and whether it is no longer offered
    for new answers (a teacher who left); such an option shows only when it is already the answer."""

    name: str
    label: str
    inactive: bool = False


class FieldInput(QWidget):
    """The editing part of a field. Subclasses set `self._main` (what widget_for returns)."""

    edited = Signal(object)  # the clerk changed the answer (None = empty)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self._main: QWidget = self
        self._read_only = False

    def main_widget(self) -> QWidget:
        return self._main

    def value(self) -> Any:
        return None

    def set_value(self, value: Any) -> None:
        pass

    def set_read_only(self, read_only: bool) -> None:
        self._read_only = read_only

    def focus_widgets(self) -> list[QWidget]:
        return [self._main] if self._main.focusPolicy() != Qt.FocusPolicy.NoFocus else []

    def tidy(self) -> None:
        """The clerk left the field: show what they typed in its normal form (2026/1/2 -> 2026-01-02)."""


class LineInput(FieldInput):
    """text, integer, decimal, date, time and datetime: one line the clerk types into."""

    def __init__(
        self,
        *,
        pattern: str | None = None,
        parse: Callable[[str], Any] | None = None,
        show: Callable[[Any], str] = str,
        max_width: int | None = None,
        placeholder: str = "",
        strip: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.edit = QLineEdit(self)
        self.edit.setClearButtonEnabled(True)
        self.edit.setPlaceholderText(placeholder)
        if pattern is not None:
            self.edit.setValidator(_CharValidator(pattern, self.edit))
        if max_width is not None:
            self.edit.setMaximumWidth(max_width)
        self._parse = parse
        self._show = show
        self._strip = strip
        self._main = self.edit
        self._layout.addWidget(self.edit, 3)
        self._layout.addStretch(1)
        self.edit.textEdited.connect(lambda _text: self.edited.emit(self.value()))
        self.edit.returnPressed.connect(self._next_field)

    def _next_field(self) -> None:
        """Enter moves on to the next field, as clerks expect from data-entry programs."""
        tab = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Tab, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(self.edit, tab)

    def value(self) -> Any:
        text = self.edit.text().strip() if self._strip else self.edit.text()
        if not text:
            return None
        if self._parse is None:
            return text
        parsed = self._parse(text)
        return text if parsed is None else parsed

    def set_value(self, value: Any) -> None:
        text = "" if value is None else self._show(value)
        if text != self.edit.text():
            self.edit.setText(text)

    def set_read_only(self, read_only: bool) -> None:
        super().set_read_only(read_only)
        self.edit.setReadOnly(read_only)
        self.edit.setClearButtonEnabled(not read_only)

    def tidy(self) -> None:
        value = self.value()
        if value is not None and not isinstance(value, str):
            self.set_value(value)
        elif isinstance(value, str) and self._parse is not None and self._parse(value) is not None:
            self.set_value(self._parse(value))


def _parse_int(text: str) -> int | None:
    try:
        return int(text.translate(_FULL_WIDTH))
    except ValueError:
        return None


def _parse_decimal(text: str) -> float | None:
    try:
        return float(text.translate(_FULL_WIDTH))
    except ValueError:
        return None


class DateInput(LineInput):
    """A date the clerk types (2026-11-28, 2026/11/28, 20261128...) or picks from a calendar; empty is
    allowed (the clear button in the box)."""

    def __init__(self, today: Callable[[], dt.date], parent: QWidget | None = None) -> None:
        super().__init__(
            pattern=r"[0-9\-/. 年月日]{0,12}",
            parse=parse_date_text,
            max_width=150,
            placeholder=self.tr("年-月-日"),
            parent=parent,
        )
        self._today = today
        self.pick = QToolButton(self)
        self.pick.setObjectName("datePick")
        self.pick.setText(self.tr("日历"))
        self.pick.setToolTip(self.tr("从日历中选择日期"))
        self.pick.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.pick.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keyboard users type the date
        menu = QMenu(self.pick)
        self.calendar = QCalendarWidget(menu)
        self.calendar.setGridVisible(False)
        self.calendar.setVerticalHeaderFormat(QCalendarWidget.VerticalHeaderFormat.NoVerticalHeader)
        action = QWidgetAction(menu)
        action.setDefaultWidget(self.calendar)
        menu.addAction(action)
        menu.aboutToShow.connect(self._before_popup)
        self.calendar.clicked.connect(self._picked)
        self.calendar.activated.connect(self._picked)
        self.pick.setMenu(menu)
        self._layout.insertWidget(1, self.pick)

    def _before_popup(self) -> None:
        value = self.value()
        day = (
            dt.date.fromisoformat(value)
            if isinstance(value, str) and parse_date_text(value)
            else None
        )
        day = day or self._today()
        self.calendar.setSelectedDate(QDate(day.year, day.month, day.day))

    def _picked(self, day: QDate) -> None:
        menu = self.pick.menu()
        if menu is not None:
            menu.close()
        iso = dt.date(day.year(), day.month(), day.day()).isoformat()
        self.set_value(iso)
        self.edited.emit(iso)

    def set_read_only(self, read_only: bool) -> None:
        super().set_read_only(read_only)
        self.pick.setVisible(not read_only)


class TextAreaInput(FieldInput):
    """appearance multiline: a few lines; Tab moves on to the next field."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QPlainTextEdit(self)
        self.edit.setTabChangesFocus(True)
        self.edit.setMaximumWidth(640)
        lines = self.edit.fontMetrics().lineSpacing()
        self.edit.setFixedHeight(lines * 3 + 14)
        self._main = self.edit
        self._layout.addWidget(self.edit, 3)
        self._layout.addStretch(1)
        self._quiet = False
        self.edit.textChanged.connect(self._changed)

    def _changed(self) -> None:
        if not self._quiet:
            self.edited.emit(self.value())

    def value(self) -> Any:
        text = self.edit.toPlainText().strip()
        return text or None

    def set_value(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if text.strip() == self.edit.toPlainText().strip():
            return
        self._quiet = True
        try:
            self.edit.setPlainText(text)
        finally:
            self._quiet = False

    def set_read_only(self, read_only: bool) -> None:
        super().set_read_only(read_only)
        self.edit.setReadOnly(read_only)


def _option_text(option: Option, inactive_word: str) -> str:
    return f"{option.label}（{inactive_word}）" if option.inactive else option.label


class _ChoiceInput(FieldInput):
    """Shared by the three ways of choosing: options, the inactive/unknown ones an answer keeps."""

    def __init__(self, options: Sequence[Option], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._options: list[Option] = list(options)
        # An explicit context: self.tr() in a base class would look up the subclass's name.
        self._inactive_word = QCoreApplication.translate("ChoiceInput", "已离职")
        self._unknown_word = QCoreApplication.translate("ChoiceInput", "不在名单中")
        self._empty_text = ""
        self.empty_note = QLabel(self)
        self.empty_note.setObjectName("hint")
        self.empty_note.setVisible(False)

    def set_options(self, options: Sequence[Option]) -> None:
        current = self.value()
        self._options = list(options)
        self._rebuild(current)
        self._show_empty()

    def set_empty_text(self, text: str) -> None:
        """What to say when there is nothing to choose from (an empty teacher roster)."""
        self._empty_text = text
        self.empty_note.setText(text)
        self._show_empty()

    def _show_empty(self) -> None:
        self.empty_note.setVisible(bool(self._empty_text) and not self._shown(self.value()))

    def _shown(self, current: Any) -> list[Option]:
        """Active options, plus the inactive or unknown ones the answer holds (so their name shows)."""
        chosen = set(current if isinstance(current, list) else [] if current is None else [current])
        shown = [o for o in self._options if not o.inactive or o.name in chosen]
        known = {o.name for o in self._options}
        for name in current if isinstance(current, list) else [current]:
            if name is not None and str(name) not in known:
                shown.append(Option(str(name), f"{name}（{self._unknown_word}）"))
        return shown

    def _rebuild(self, current: Any) -> None:
        raise NotImplementedError


class ComboInput(_ChoiceInput):
    """select_one as a drop-down; the first item is empty (no answer)."""

    def __init__(self, options: Sequence[Option], parent: QWidget | None = None) -> None:
        super().__init__(options, parent)
        self.combo = QComboBox(self)
        self.combo.setMinimumWidth(180)
        self.combo.setMaximumWidth(420)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        no_wheel(self.combo)
        self._main = self.combo
        self._layout.addWidget(self.combo)
        self._layout.addWidget(self.empty_note)
        self._layout.addStretch(1)
        self._quiet = False
        self.combo.currentIndexChanged.connect(self._changed)
        self._rebuild(None)

    def _changed(self, _index: int) -> None:
        if not self._quiet:
            self.edited.emit(self.value())

    def _rebuild(self, current: Any) -> None:
        self._quiet = True
        try:
            self.combo.clear()
            self.combo.addItem("", None)
            for option in self._shown(current):
                self.combo.addItem(_option_text(option, self._inactive_word), option.name)
            self._select(current)
        finally:
            self._quiet = False

    def _select(self, value: Any) -> None:
        index = self.combo.findData(value) if value is not None else 0
        self.combo.setCurrentIndex(max(index, 0))

    def value(self) -> Any:
        data = self.combo.currentData()
        return data if isinstance(data, str) else None

    def set_value(self, value: Any) -> None:
        value = value if isinstance(value, str) and value else None
        if value == self.value():
            return
        if value is not None and self.combo.findData(value) < 0:
            self._rebuild(value)
            return
        self._quiet = True
        try:
            self._select(value)
        finally:
            self._quiet = False

    def set_read_only(self, read_only: bool) -> None:
        super().set_read_only(read_only)
        self.combo.setEnabled(not read_only)


def _columns(options: Sequence[Option], *, one_row: int = 0) -> int:
    """How many columns of choices: all in one row when their labels are short enough together."""
    if one_row and sum(len(o.label) + 3 for o in options) <= one_row:
        return max(len(options), 1)
    longest = max((len(o.label) for o in options), default=1)
    if longest > 12:
        return 2
    if longest > 6:
        return 3
    return 4 if len(options) <= 8 else 5


class ChoiceGrid(QLayout):
    """Choices in columns of one width (the widest choice), as many columns as fit the width it is given,
    up to the form's choice of columns: in a narrow window the choices wrap to more rows instead of
    making the whole form wider than the window (an 800 px PC)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.max_columns = 1
        self.h_space = 18
        self.v_space = 4

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def _cell(self) -> QSize:
        shown = [i.sizeHint() for i in self._items if not i.isEmpty()]
        return QSize(
            max((s.width() for s in shown), default=0), max((s.height() for s in shown), default=0)
        )

    def _columns(self, width: int) -> int:
        cell = self._cell().width()
        fit = (width + self.h_space) // (cell + self.h_space) if cell > 0 else 1
        return max(1, min(self.max_columns, fit))

    def sizeHint(self) -> QSize:
        shown = sum(1 for i in self._items if not i.isEmpty())
        cell = self._cell()
        columns = max(1, min(self.max_columns, shown))
        width = columns * cell.width() + (columns - 1) * self.h_space
        m = self.contentsMargins()
        return QSize(
            width + m.left() + m.right(), self.heightForWidth(width + m.left() + m.right())
        )

    def minimumSize(self) -> QSize:
        m = self.contentsMargins()
        cell = self._cell()
        return QSize(cell.width() + m.left() + m.right(), cell.height() + m.top() + m.bottom())

    def _place(self, rect: QRect, *, move: bool) -> int:
        m = self.contentsMargins()
        inner = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        cell = self._cell()
        columns = self._columns(inner.width())
        shown = [i for i in self._items if not i.isEmpty()]
        for n, item in enumerate(shown):
            if move:
                x = inner.x() + (n % columns) * (cell.width() + self.h_space)
                y = inner.y() + (n // columns) * (cell.height() + self.v_space)
                item.setGeometry(QRect(x, y, cell.width(), cell.height()))
        rows = (len(shown) + columns - 1) // columns
        height = rows * cell.height() + max(rows - 1, 0) * self.v_space
        return height + m.top() + m.bottom()


class RadioInput(_ChoiceInput):
    """select_one with few choices: radio buttons, and a small button to take the answer back."""

    def __init__(
        self, options: Sequence[Option], *, clearable: bool = True, parent: QWidget | None = None
    ) -> None:
        super().__init__(options, parent)
        self._clearable = clearable  # a required question needs no way back to "no answer"
        self.box = QWidget(self)
        self.grid = ChoiceGrid(self.box)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.group = QButtonGroup(self)
        self.group.buttonClicked.connect(lambda _b: self._clicked())
        self.clear = QToolButton(self)
        self.clear.setObjectName("clearChoice")
        self.clear.setText(self.tr("清除选择"))
        self.clear.setToolTip(self.tr("清除这一题的选择"))
        self.clear.setAutoRaise(True)
        self.clear.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.clear.clicked.connect(self._cleared)
        self._main = self.box
        self._layout.addWidget(self.box)
        self._layout.addWidget(self.clear, 0, Qt.AlignmentFlag.AlignTop)
        self._layout.addStretch(1)
        self.buttons: dict[str, QRadioButton] = {}
        self._rebuild(None)

    def _rebuild(self, current: Any) -> None:
        for button in self.buttons.values():
            self.group.removeButton(button)
            self.grid.removeWidget(button)
            button.hide()
            button.deleteLater()
        self.buttons = {}
        shown = self._shown(current)
        self.grid.max_columns = _columns(shown, one_row=44)
        for option in shown:
            button = QRadioButton(_option_text(option, self._inactive_word), self.box)
            button.setObjectName(f"choice_{option.name}")
            button.setEnabled(not self._read_only)
            self.group.addButton(button)
            self.grid.addWidget(button)
            self.buttons[option.name] = button
        self._check(current)

    def _check(self, value: Any) -> None:
        self.group.setExclusive(False)
        for name, button in self.buttons.items():
            button.setChecked(name == value)
        self.group.setExclusive(True)
        self.clear.setVisible(self._clearable and value is not None and not self._read_only)

    def _clicked(self) -> None:
        value = self.value()
        self.clear.setVisible(self._clearable and value is not None and not self._read_only)
        self.edited.emit(value)

    def _cleared(self) -> None:
        self._check(None)
        self.edited.emit(None)

    def value(self) -> Any:
        for name, button in self.buttons.items():
            if button.isChecked():
                return name
        return None

    def set_value(self, value: Any) -> None:
        value = value if isinstance(value, str) and value else None
        if value is not None and value not in self.buttons:
            self._rebuild(value)
        else:
            self._check(value)

    def set_read_only(self, read_only: bool) -> None:
        super().set_read_only(read_only)
        for button in self.buttons.values():
            button.setEnabled(not read_only)
        self.clear.setVisible(self._clearable and self.value() is not None and not read_only)

    def focus_widgets(self) -> list[QWidget]:
        return list(self.buttons.values())


class ChecksInput(_ChoiceInput):
    """select_multiple: a check box per choice; the answer is the list of names in the form's order."""

    def __init__(self, options: Sequence[Option], parent: QWidget | None = None) -> None:
        super().__init__(options, parent)
        self.box = QWidget(self)
        self.grid = ChoiceGrid(self.box)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self._main = self.box
        self._layout.addWidget(self.box)
        self._layout.addWidget(self.empty_note)
        self._layout.addStretch(1)
        self.boxes: dict[str, QCheckBox] = {}
        self._rebuild(None)

    def _rebuild(self, current: Any) -> None:
        for box in self.boxes.values():
            self.grid.removeWidget(box)
            box.hide()
            box.deleteLater()
        self.boxes = {}
        shown = self._shown(current)
        self.grid.max_columns = _columns(shown)
        for option in shown:
            box = QCheckBox(_option_text(option, self._inactive_word), self.box)
            box.setObjectName(f"choice_{option.name}")
            box.setEnabled(not self._read_only)
            box.toggled.connect(lambda _on: self.edited.emit(self.value()))
            self.grid.addWidget(box)
            self.boxes[option.name] = box
        self._check(current)

    def _check(self, value: Any) -> None:
        chosen = set(value) if isinstance(value, list) else set()
        for name, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(name in chosen)
            box.blockSignals(False)

    def value(self) -> Any:
        names = [name for name, box in self.boxes.items() if box.isChecked()]
        return names or None

    def set_value(self, value: Any) -> None:
        if isinstance(value, str):
            value = value.split()
        value = value if isinstance(value, list) and value else None
        if value is not None and any(v not in self.boxes for v in value):
            self._rebuild(value)
        else:
            self._check(value)

    def set_read_only(self, read_only: bool) -> None:
        super().set_read_only(read_only)
        for box in self.boxes.values():
            box.setEnabled(not read_only)

    def focus_widgets(self) -> list[QWidget]:
        return list(self.boxes.values())


class DisplayInput(FieldInput):
    """A calculate field's value, worked out by the form; the clerk can read and copy it (a percentage as
    forms.display shows it: 93.3%)."""

    def __init__(self, parent: QWidget | None = None, *, field: Field | None = None) -> None:
        super().__init__(parent)
        self._percent = field is not None and is_percent(field)
        self.label = QLabel("—", self)
        self.label.setObjectName("calculated")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._main = self.label
        self._layout.addWidget(self.label)
        self._layout.addStretch(1)
        self._value: Any = None

    def value(self) -> Any:
        return self._value

    def set_value(self, value: Any) -> None:
        self._value = value
        if self._percent and value not in (None, ""):
            self.label.setText(show_percent(value))
        else:
            self.label.setText(format_calculated(value))

    def focus_widgets(self) -> list[QWidget]:
        return []


_THUMBS: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
THUMB_SIZE = QSize(160, 120)
IMAGE_FILTER = "*.jpg *.jpeg *.png *.bmp *.gif *.webp *.tif *.tiff *.heic"


def thumbnail(path: Path, size: QSize = THUMB_SIZE) -> QPixmap | None:
    """A small picture of an image file (decoded at the small size; upright per its EXIF), cached."""
    key = (str(path), size.width())
    hit = _THUMBS.get(key)
    if hit is not None:
        _THUMBS.move_to_end(key)
        return hit
    try:  # an attachment is sealed on disk (client.store.attachments); other files are read as they are
        data = read_attachment_file(path)
    except (OSError, AttachmentUnreadable):
        return None
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    reader.setAutoTransform(True)
    full = reader.size()
    if full.isValid() and (full.width() > size.width() or full.height() > size.height()):
        reader.setScaledSize(full.scaled(size, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return None
    if image.width() > size.width() or image.height() > size.height():
        image = image.scaled(
            size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    pixmap = QPixmap.fromImage(image)
    _THUMBS[key] = pixmap
    if len(_THUMBS) > 64:
        _THUMBS.popitem(last=False)
    return pixmap


_last_folder = ""


class AttachmentInput(FieldInput):
    """image / file: a button that picks a file (the editor copies it into the store and gives back its
    sha256), a thumbnail or the file name, a button to open it and one to remove it."""

    attach_requested = Signal(str)  # the path of the file the clerk chose

    def __init__(
        self, *, image: bool, root: Path, names: dict[str, str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._image = image
        self._root = root
        self._names = names  # sha256 -> original file name, shared with the editor
        self._value: str | None = None
        self.thumb = QLabel(self)
        self.thumb.setObjectName("thumbnail")
        self.thumb.setFixedSize(THUMB_SIZE + QSize(4, 4))
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setVisible(False)
        self.name = QLabel(self)
        self.name.setObjectName("hint")
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.attach = QPushButton(self.tr("选择图片…") if image else self.tr("选择文件…"), self)
        self.attach.setObjectName("attach")
        self.open = QPushButton(self.tr("查看"), self)
        self.open.setObjectName("open")
        self.remove = QPushButton(self.tr("移除"), self)
        self.remove.setObjectName("remove")
        buttons = QVBoxLayout()
        buttons.setSpacing(4)
        row = QHBoxLayout()
        row.setSpacing(6)
        for b in (self.attach, self.open, self.remove):
            row.addWidget(b)
        row.addStretch(1)
        buttons.addLayout(row)
        buttons.addWidget(self.name)
        buttons.addStretch(1)
        self._layout.addWidget(self.thumb, 0, Qt.AlignmentFlag.AlignTop)
        self._layout.addLayout(buttons, 1)
        self._main = self.attach
        self.attach.clicked.connect(self._choose)
        self.open.clicked.connect(self._open)
        self.remove.clicked.connect(self._remove)
        self._show()

    def _choose(self) -> None:
        global _last_folder
        if self._image:
            title = self.tr("选择照片")
            filters = self.tr("图片") + f" ({IMAGE_FILTER});;" + self.tr("所有文件") + " (*)"
        else:
            title = self.tr("选择文件")
            filters = self.tr("所有文件") + " (*)"
        path, _selected = QFileDialog.getOpenFileName(self, title, _last_folder, filters)
        if not path:
            return
        _last_folder = str(Path(path).parent)
        if self._image and not QImageReader(path).canRead():
            self._set_name(self.tr("无法识别这张图片，请选择 JPG 或 PNG 照片"))
            return
        self.set_busy(True)
        self.attach_requested.emit(path)

    def set_busy(self, busy: bool) -> None:
        self.attach.setEnabled(not busy and not self._read_only)
        if busy:
            self._set_name(self.tr("正在保存文件…"))
        else:
            self._show()

    def _set_name(self, text: str) -> None:
        self.name.setText(text)
        self.name.setVisible(bool(text))

    def attached(self, sha: str) -> None:
        self.set_busy(False)
        self.set_value(sha)
        self.edited.emit(sha)

    def _open(self) -> None:
        if self._value:
            path = self._path()
            if path is not None:  # another program opens a plaintext copy, removed when we exit
                copy = viewing_copy(self._root, self._value, self._names.get(self._value, ""))
                QDesktopServices.openUrl(QUrl.fromLocalFile(str(copy)))

    def _remove(self) -> None:
        self.set_value(None)
        self.edited.emit(None)

    def _path(self) -> Path | None:
        if not self._value or not re.fullmatch(r"[0-9a-f]{64}", self._value):
            return None
        path = attachment_path(self._root, self._value)
        return path if path.exists() else None

    def _show(self) -> None:
        value = self._value
        path = self._path()
        has = value is not None
        self.open.setVisible(has and path is not None)
        self.remove.setVisible(has and not self._read_only)
        self.attach.setVisible(not self._read_only)
        self.attach.setEnabled(not self._read_only)
        self.attach.setText(
            (self.tr("更换图片…") if has else self.tr("选择图片…"))
            if self._image
            else (self.tr("更换文件…") if has else self.tr("选择文件…"))
        )
        if not has:
            self.thumb.setVisible(False)
            self.thumb.clear()
            self._set_name(self.tr("未添加") if self._read_only else "")
            return
        assert value is not None
        name = self._names.get(value, value[:12] + "…")
        if path is None:
            self.thumb.setVisible(False)
            self._set_name(name + "  " + self.tr("（文件不在本机）"))
            return
        self._set_name(name)
        if self._image:
            pixmap = thumbnail(path)
            self.thumb.setVisible(True)
            if pixmap is None:
                self.thumb.setText(self.tr("无法显示"))
            else:
                self.thumb.setPixmap(pixmap)

    def value(self) -> Any:
        return self._value

    def set_value(self, value: Any) -> None:
        self._value = value if isinstance(value, str) and value else None
        self._show()

    def set_read_only(self, read_only: bool) -> None:
        super().set_read_only(read_only)
        self._show()

    def focus_widgets(self) -> list[QWidget]:
        return [b for b in (self.attach, self.open, self.remove) if not b.isHidden()]


# -- the row around an input ------------------------------------------------------------------------


class FieldRow(QFrame):
    """One field: its label (with a red * when required), the input, the hint, the problem the form
    engine found (once the clerk has touched the field), and the bureau's comment on it, if any."""

    edited = Signal(object)

    def __init__(
        self,
        field: Field,
        input_: FieldInput | None,
        *,
        lang: str,
        label_width: int,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("fieldRow")
        self.field = field
        self.path: tuple[str | int, ...] = (field.name,)  # set by the editor (repeat entries)
        self.input = input_
        self._lang = lang
        self._required = False
        outer = QHBoxLayout(self)
        outer.setContentsMargins(6, 3, 6, 3)
        outer.setSpacing(12)
        self.label = QLabel(self)
        self.label.setObjectName("fieldLabel")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        body = QVBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(2)
        self.hint = QLabel(field.hint.get(lang), self)
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.hint.setVisible(bool(field.hint))
        self.problem = QLabel(self)
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        # An answer the clerk can get wrong keeps a line for its problem, shown or not: the fields below
        # do not move while a message comes and goes as the clerk types.
        self._reserve = input_ is not None and _can_be_wrong(field, input_)
        self.problem.setMinimumHeight(
            self.problem.fontMetrics().lineSpacing() if self._reserve else 0
        )
        self.problem.setVisible(self._reserve)
        self.comment = QLabel(self)
        self.comment.setObjectName("comment")
        self.comment.setWordWrap(True)
        self.comment.setVisible(False)
        self.comment.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if field.type is FieldType.NOTE:
            # A note is text for the clerk to read, across the whole row.
            self.label.setObjectName("note")
            self.label.setText(_escape(field.label.get(lang)))
            body.addWidget(self.label)
        else:
            self.label.setFixedWidth(label_width)
            self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            self.label.setContentsMargins(0, 4, 0, 0)
            outer.addWidget(self.label, 0, Qt.AlignmentFlag.AlignTop)
            self._set_label()
        if input_ is not None:
            input_.setParent(self)
            body.addWidget(input_)
            input_.edited.connect(self.edited)
            self.label.setBuddy(input_.main_widget())
        body.addWidget(self.hint)
        body.addWidget(self.problem)
        body.addWidget(self.comment)
        outer.addLayout(body, 1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def _set_label(self) -> None:
        text = _escape(self.field.label.get(self._lang) or self.field.name)
        if self._required:  # a no-break space: the star goes with the last word, never alone
            text += f'<span style="color:{REQUIRED_COLOR};">&nbsp;*</span>'
        self.label.setText(text)

    # -- what the editor sets ------------------------------------------------------------------
    def set_value(self, value: Any) -> None:
        if self.input is not None:
            self.input.set_value(value)

    def value(self) -> Any:
        return self.input.value() if self.input is not None else None

    def set_required(self, required: bool) -> None:
        if required != self._required and self.field.type is not FieldType.NOTE:
            self._required = required
            self._set_label()

    def set_problem(self, text: str | None) -> None:
        self.problem.setText(text or "")
        self.problem.setVisible(bool(text) or self._reserve)
        invalid = "true" if text else "false"
        if self.property("invalid") != invalid:
            self.setProperty("invalid", invalid)
            self.style().unpolish(self)
            self.style().polish(self)

    def problem_text(self) -> str:
        return self.problem.text() if self.problem.isVisibleTo(self) else ""

    def set_comment(self, text: str | None) -> None:
        if text:
            self.comment.setText(self.tr("教育局批注：") + text)
        self.comment.setVisible(bool(text))
        self.setProperty("commented", "true" if text else "false")
        self.style().unpolish(self)
        self.style().polish(self)

    def set_read_only(self, read_only: bool) -> None:
        if self.input is not None:
            self.input.set_read_only(read_only)

    def is_editing(self) -> bool:
        focus = QApplication.focusWidget()
        return focus is not None and self.isAncestorOf(focus)

    def main_widget(self) -> QWidget:
        return self.input.main_widget() if self.input is not None else self.label

    def focus_widgets(self) -> list[QWidget]:
        return self.input.focus_widgets() if self.input is not None else []


def _can_be_wrong(field: Field, input_: FieldInput) -> bool:
    """Whether the form engine can find a problem with this answer (required, a constraint, or typed text
    that may not be a number or a date); a calculated value or a free optional choice cannot."""
    if isinstance(input_, DisplayInput) or field.read_only is True:
        return False
    typed = isinstance(input_, LineInput) and field.type is not FieldType.TEXT
    return field.required is not False or field.constraint is not None or typed


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
