"""A repeat group in the record editor: its entries ("第 1 条隐患", ...), each in a framed box with buttons to
move it up or down or remove it, and a button to add one. The editor fills each entry's fields; this widget
only frames them and asks the editor (by signal) to change the list. The buttons respect min/max count."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from client.ui.editor_fields import REQUIRED_COLOR, _escape
from forms.model import Field

_SUFFIXES = ("清单", "列表", "名单", "明细", "情况")


def item_noun(label: str) -> str:
    """'隐患清单' -> '隐患': what one entry of the list is called."""
    for suffix in _SUFFIXES:
        if label.endswith(suffix) and len(label) > len(suffix):
            return label[: -len(suffix)]
    return label


class RepeatEntry(QFrame):
    """One entry of a repeat: a title row with its buttons, and the body the editor fills."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("repeatEntry")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 6, 10, 8)
        outer.setSpacing(2)
        head = QHBoxLayout()
        head.setSpacing(4)
        self.title = QLabel(title, self)
        self.title.setObjectName("entryTitle")
        head.addWidget(self.title)
        head.addStretch(1)
        self.up = QToolButton(self)
        self.up.setObjectName("up")
        self.up.setText(self.tr("上移"))
        self.down = QToolButton(self)
        self.down.setObjectName("down")
        self.down.setText(self.tr("下移"))
        self.remove = QToolButton(self)
        self.remove.setObjectName("remove")
        self.remove.setText(self.tr("删除"))
        for b in (self.up, self.down, self.remove):
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            head.addWidget(b)
        outer.addLayout(head)
        self.body = QVBoxLayout()
        self.body.setContentsMargins(0, 0, 0, 0)
        self.body.setSpacing(0)
        outer.addLayout(self.body)

    def buttons(self) -> list[QWidget]:
        return [b for b in (self.up, self.down, self.remove) if b.isEnabled() and not b.isHidden()]


class RepeatWidget(QFrame):
    add_requested = Signal()
    remove_requested = Signal(int)
    move_requested = Signal(int, int)  # from index, to index

    def __init__(self, field: Field, *, lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("repeat")
        self.field = field
        self.path: tuple[str | int, ...] = (field.name,)  # set by the editor (nested repeats)
        self._lang = lang
        self._read_only = False
        label = field.label.get(lang) or field.name
        self.noun = item_noun(label) if lang == "zh" else label
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 8, 6, 4)
        outer.setSpacing(6)
        self.heading = QLabel(self)
        self.heading.setObjectName("repeatHeading")
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        required = (field.min_count or 0) > 0
        self.heading.setText(
            _escape(label)
            + (f'<span style="color:{REQUIRED_COLOR};"> *</span>' if required else "")
        )
        outer.addWidget(self.heading)
        self.hint = QLabel(field.hint.get(lang), self)
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.hint.setVisible(bool(field.hint))
        outer.addWidget(self.hint)
        self.entries_box = QVBoxLayout()
        self.entries_box.setSpacing(8)
        outer.addLayout(self.entries_box)
        self.empty = QLabel(self.tr("还没有添加"), self)
        self.empty.setObjectName("hint")
        outer.addWidget(self.empty)
        self.problem = QLabel(self)
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.setVisible(False)
        outer.addWidget(self.problem)
        self.comment = QLabel(self)
        self.comment.setObjectName("comment")
        self.comment.setWordWrap(True)
        self.comment.setVisible(False)
        outer.addWidget(self.comment)
        foot = QHBoxLayout()
        self.add = QPushButton(self._add_text(), self)
        self.add.setObjectName("add")
        self.add.clicked.connect(self.add_requested)
        foot.addWidget(self.add)
        foot.addStretch(1)
        outer.addLayout(foot)
        self.entries: list[RepeatEntry] = []
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def _add_text(self) -> str:
        if self._lang == "zh":
            return self.tr("添加{item}").format(item=self.noun)
        return self.tr("添加一条")

    def title(self, index: int) -> str:
        if self._lang == "zh":
            return self.tr("第 {n} 条{item}").format(n=index + 1, item=self.noun)
        return self.tr("{item} — {n}").format(n=index + 1, item=self.noun)

    def clear_entries(self) -> None:
        for entry in self.entries:
            self.entries_box.removeWidget(entry)
            entry.hide()
            entry.deleteLater()
        self.entries = []

    def add_entry(self) -> RepeatEntry:
        entry = RepeatEntry(self.title(len(self.entries)), self)
        entry.up.clicked.connect(lambda: self._move(entry, -1))
        entry.down.clicked.connect(lambda: self._move(entry, 1))
        entry.remove.clicked.connect(lambda: self.remove_requested.emit(self.entries.index(entry)))
        self.entries_box.addWidget(entry)
        self.entries.append(entry)
        return entry

    def _move(self, entry: RepeatEntry, step: int) -> None:
        index = self.entries.index(entry)
        self.move_requested.emit(index, index + step)

    def remove_entry(self, index: int) -> None:
        entry = self.entries.pop(index)
        self.entries_box.removeWidget(entry)
        entry.hide()
        entry.deleteLater()
        self._retitle()

    def swap_entries(self, a: int, b: int) -> None:
        self.entries[a], self.entries[b] = self.entries[b], self.entries[a]
        for i, entry in enumerate(self.entries):
            if self.entries_box.indexOf(entry) != i:
                self.entries_box.removeWidget(entry)
                self.entries_box.insertWidget(i, entry)
        self._retitle()

    def _retitle(self) -> None:
        for i, entry in enumerate(self.entries):
            entry.title.setText(self.title(i))

    def update_buttons(self) -> None:
        count = len(self.entries)
        f = self.field
        can_remove = count > (f.min_count or 0)
        can_add = f.max_count is None or count < f.max_count
        editable = not self._read_only
        for i, entry in enumerate(self.entries):
            entry.up.setVisible(editable and count > 1)
            entry.down.setVisible(editable and count > 1)
            entry.up.setEnabled(i > 0)
            entry.down.setEnabled(i < count - 1)
            entry.remove.setVisible(editable)
            entry.remove.setEnabled(can_remove)
            entry.remove.setToolTip(
                ""
                if can_remove
                else self.tr("至少需要 {n} 条，不能再删除").format(n=f.min_count or 0)
            )
        self.add.setVisible(editable)
        self.add.setEnabled(can_add)
        self.add.setToolTip("" if can_add else self.tr("最多 {n} 条").format(n=f.max_count or 0))
        self.empty.setVisible(count == 0)
        self.empty.setText(self.tr("未填写") if self._read_only else self.tr("还没有添加"))

    def set_read_only(self, read_only: bool) -> None:
        self._read_only = read_only
        self.update_buttons()

    def set_problem(self, text: str | None) -> None:
        self.problem.setText(text or "")
        self.problem.setVisible(bool(text))

    def set_comment(self, text: str | None) -> None:
        if text:
            self.comment.setText(self.tr("教育局批注：") + text)
        self.comment.setVisible(bool(text))

    def tail_buttons(self) -> list[QWidget]:
        return [self.add] if self.add.isEnabled() and not self.add.isHidden() else []
