"""Chinese all the way into Qt's own widgets (issue 11): on a PC whose system locale is English, the calendar
popup, Qt's file dialog, message-box buttons and edit menus speak Chinese once the app has set its language
(the application QLocale, Qt's zh_CN translations and our supplement for what they lack)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCalendarWidget,
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QTreeView,
    QWidget,
)

from client.ui import app as app_module
from client.ui import lang
from client.ui.editor_fields import DateInput

ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
UNITS_AND_KEYS = (
    "KiB",
    "MiB",
    "GiB",
    "KB",
    "MB",
    "GB",
    "Ctrl",
    "Shift",
    "Del",
)  # as Chinese UIs write them


@pytest.fixture
def english_system(qapp: QApplication) -> Iterator[QApplication]:
    """A PC set up in English; the app's language is set on top of it, and taken back afterwards."""
    before = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    installed: list = []
    yield qapp
    app_module.remove_translators(qapp, installed)
    QLocale.setDefault(before)
    lang.set_language("zh_CN")


def apply(qapp: QApplication, language: str) -> list:
    return app_module.apply_language(qapp, language)


def english_in(texts: list[str], allowed: tuple[str, ...] = ()) -> list[str]:
    out = []
    for text in texts:
        rest = text
        for word in allowed:
            rest = rest.replace(word, "")
        if ENGLISH_WORD.search(rest):
            out.append(text)
    return out


def test_the_calendar_popup_is_chinese(qtbot, english_system: QApplication):
    translators = apply(english_system, "zh_CN")
    try:
        assert QLocale().language() == QLocale.Language.Chinese
        date = DateInput(lambda: dt.date(2026, 11, 28))
        qtbot.addWidget(date)
        date.pick.menu().aboutToShow.emit()  # what opening the popup does
        calendar = date.calendar
        assert isinstance(calendar, QCalendarWidget)
        calendar.show()
        month = calendar.findChild(QWidget, "qt_calendar_monthbutton")
        assert month is not None and month.text() == "十一月"
        assert calendar.locale().language() == QLocale.Language.Chinese
        header = calendar.locale().dayName(1, QLocale.FormatType.ShortFormat)
        assert header == "周一"
        assert calendar.firstDayOfWeek() == Qt.DayOfWeek.Monday
    finally:
        app_module.remove_translators(english_system, translators)


def test_qts_file_dialog_is_chinese(qtbot, english_system: QApplication, tmp_path: Path):
    translators = apply(english_system, "zh_CN")
    try:
        (tmp_path / "安全排查.xlsx").write_bytes(b"x" * 3000)
        dialog = QFileDialog(None, "导出 Excel", str(tmp_path), "Excel 文件 (*.xlsx)")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: dialog.isVisible())
        view = dialog.findChild(QTreeView, "treeView")
        assert view is not None
        qtbot.waitUntil(lambda: view.model().rowCount(view.rootIndex()) == 1, timeout=5000)
        model = view.model()
        texts = [w.text() for w in dialog.findChildren(QLabel) if w.isVisible()]
        texts += [b.text() for b in dialog.findChildren(QAbstractButton) if b.isVisible()]
        texts += [b.toolTip() for b in dialog.findChildren(QAbstractButton) if b.isVisible()]
        texts += [
            model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())
        ]
        row = model.index(0, 0, view.rootIndex())
        texts += [str(row.siblingAtColumn(c).data()) for c in (1, 2)]  # size, kind
        for combo in dialog.findChildren(QComboBox):
            texts += [combo.itemText(i) for i in range(combo.count())]
        found = english_in(
            [t for t in texts if t], allowed=("Excel", "xlsx", str(tmp_path), *UNITS_AND_KEYS)
        )
        assert found == [], found
        assert "查找范围(&L)：" in texts and "大小" in texts  # what Qt's own file leaves out
    finally:
        app_module.remove_translators(english_system, translators)


def test_standard_buttons_and_edit_menus_are_chinese(qtbot, english_system: QApplication):
    translators = apply(english_system, "zh_CN")
    try:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "关闭",
            "修改还没有提交。",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
        )
        box.setDetailedText("…")
        qtbot.addWidget(box)
        box.show()
        texts = [b.text() for b in box.buttons()]
        edit = QLineEdit()
        qtbot.addWidget(edit)
        menu = edit.createStandardContextMenu()
        texts += [a.text() for a in menu.actions() if a.text()]
        assert english_in(texts, allowed=UNITS_AND_KEYS) == [], texts
    finally:
        app_module.remove_translators(english_system, translators)


def test_english_ui_uses_an_english_locale(qtbot, english_system: QApplication):
    QLocale.setDefault(QLocale(QLocale.Language.Chinese, QLocale.Country.China))  # a Chinese PC
    translators = apply(english_system, "en")
    try:
        assert QLocale().language() == QLocale.Language.English
        assert lang.language() == "en"
    finally:
        app_module.remove_translators(english_system, translators)
