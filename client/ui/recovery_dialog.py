"""The recovery code, shown once in a dialog when a data folder's key was made (client.store.keys).

The clerk prints it (the "打印…" button opens it as a page in the system's browser, which prints it; Qt's
print module is not in the bundle) or copies it, and keeps it apart from the PC, with a copy for the bureau.
"""

from __future__ import annotations

import html
import tempfile
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from client.store.keys import load_key, mark_recovery_shown, recovery_shown


class RecoveryCodeDialog(QDialog):
    def __init__(self, code: str, data_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recovery_code_dialog")
        self.setWindowTitle(self.tr("恢复码"))
        self._code = code
        self._data_dir = data_dir
        layout = QVBoxLayout(self)
        intro = QLabel(
            self.tr(
                "本机数据已加密。请打印或抄下下面的恢复码，与电脑分开妥善保管，并交一份给教育局存档。\n"
                "电脑损坏或更换时，需要用它在新电脑上恢复备份。"
            ),
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.code_label = QLabel(code, self)
        self.code_label.setObjectName("code")
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(18)
        font.setBold(True)
        self.code_label.setFont(font)
        self.code_label.setTextInteractionFlags(
            self.code_label.textInteractionFlags().TextSelectableByMouse
        )
        layout.addWidget(self.code_label)
        buttons = QDialogButtonBox(self)
        self.print_button = QPushButton(self.tr("打印…"), self)
        self.copy_button = QPushButton(self.tr("复制"), self)
        buttons.addButton(self.print_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        done = buttons.addButton(self.tr("我已保存恢复码"), QDialogButtonBox.ButtonRole.AcceptRole)
        done.setObjectName("done")
        self.print_button.clicked.connect(self._print)
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self._code))
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)

    def page(self) -> Path:
        """The code as a printable page (in the temp folder; it holds the code only, no record)."""
        out = Path(tempfile.mkdtemp(prefix="school-client-code-")) / "恢复码.html"
        out.write_text(
            "<!doctype html><meta charset='utf-8'><title>恢复码 Recovery code</title>"
            "<body onload='window.print()' style='font-family:sans-serif'>"
            "<h2>学校数据采集客户端 · 恢复码</h2>"
            f"<p style='font:bold 24pt monospace'>{html.escape(self._code)}</p>"
            f"<p>数据文件夹 / data folder: {html.escape(str(self._data_dir))}</p>"
            "<p>换电脑时用它恢复备份：school-client restore 备份文件 --recovery-code 恢复码。"
            "请与电脑分开保管，并交一份给教育局存档。</p>",
            encoding="utf-8",
        )
        return out

    def _print(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.page())))

    def accept(self) -> None:
        mark_recovery_shown(self._data_dir)
        super().accept()


def show_recovery_code_once(
    data_dir: Path, parent: QWidget | None = None
) -> RecoveryCodeDialog | None:
    """Open the dialog (modeless) when this folder's code was never shown; None otherwise."""
    key = load_key(data_dir)
    if key is None or not key.recovery_code or recovery_shown(data_dir):
        return None
    dialog = RecoveryCodeDialog(key.recovery_code, data_dir, parent)
    dialog.open()
    return dialog
