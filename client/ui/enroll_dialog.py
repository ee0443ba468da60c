"""连接教育局服务器: the server address and the enrollment code the bureau gave the school.

The dialog only asks and shows; the enrollment itself runs on the network pool (SyncController.enroll), and the
dialog closes when the server has accepted the code. A refused code, a wrong address or no network is said in
the dialog in plain words, and the clerk can correct it and try again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from client.store.sync_state import Enrollment
from client.ui.record_list import error_text

log = logging.getLogger(__name__)

# enroll(server_url, code, on_done=..., on_error=...): SyncController.enroll
Enroll = Callable[..., None]


class EnrollDialog(QDialog):
    enrolled = Signal(object)  # Enrollment

    def __init__(
        self,
        enroll: Enroll,
        parent: QWidget | None = None,
        *,
        server_url: str = "",
        school: str = "",
    ) -> None:
        super().__init__(parent)
        self.setObjectName("enrollDialog")
        self._enroll = enroll
        self._busy = False
        self.enrollment: Enrollment | None = None
        self.setWindowTitle(self.tr("连接教育局服务器"))
        self.setMinimumWidth(560)

        intro = QLabel(
            self.tr(
                "请输入县教育局给本校的<b>服务器地址</b>和<b>登记码</b>。"
                "登记码只能使用一次，7 天内有效；连接成功后，本机提交的记录会自动发送到教育局。"
            )
        )
        intro.setWordWrap(True)
        if school:
            again = QLabel(
                self.tr(
                    "本机现在属于“{school}”。重新连接会换用新的登记码，本机的数据不会丢失。"
                ).format(school=school)
            )
            again.setWordWrap(True)
            again.setStyleSheet("color: #555;")
        self.url_edit = QLineEdit(server_url)
        self.url_edit.setObjectName("serverUrl")
        self.url_edit.setPlaceholderText(self.tr("例如 https://192.168.1.10:8700"))
        self.url_edit.setMinimumWidth(320)
        self.code_edit = QLineEdit()
        self.code_edit.setObjectName("enrollCode")
        self.code_edit.setPlaceholderText(self.tr("例如 K7P-3QX-9ZA"))
        self.code_edit.setMaxLength(64)
        for edit in (self.url_edit, self.code_edit):
            edit.textChanged.connect(self._edited)
            edit.returnPressed.connect(self.connect_server)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        url_label = QLabel(self.tr("服务器地址(&S)："))
        url_label.setBuddy(self.url_edit)
        code_label = QLabel(self.tr("登记码(&C)："))
        code_label.setBuddy(self.code_edit)
        form.addRow(url_label, self.url_edit)
        form.addRow(code_label, self.code_edit)

        self.message = QLabel()
        self.message.setObjectName("enrollMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setVisible(False)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(10)
        self.busy.setTextVisible(False)
        self.busy.setVisible(False)

        self.buttons = QDialogButtonBox()
        self.connect_button = QPushButton(self.tr("连接(&O)"))
        self.connect_button.setObjectName("connectButton")
        self.connect_button.setDefault(True)
        self.connect_button.clicked.connect(self.connect_server)
        self.buttons.addButton(self.connect_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(intro)
        if school:
            layout.addWidget(again)
        layout.addLayout(form)
        layout.addWidget(self.busy)
        layout.addWidget(self.message)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        (self.code_edit if server_url else self.url_edit).setFocus()
        self._edited()

    # -- the clerk's actions --------------------------------------------------------------------------

    def _edited(self) -> None:
        ready = bool(self.url_edit.text().strip() and self.code_edit.text().strip())
        self.connect_button.setEnabled(ready and not self._busy)

    def connect_server(self) -> None:
        url, code = self.url_edit.text().strip(), self.code_edit.text().strip()
        if self._busy:
            return
        if not url or not code:
            self._say(self.tr("请填写服务器地址和登记码。"), error=True)
            return
        self._set_busy(True)
        self._say(self.tr("正在连接 {url} …").format(url=url), error=False)
        self._enroll(url, code, on_done=self._done, on_error=self._failed)

    def _done(self, enrollment: Enrollment) -> None:
        if not isValid(self):
            return
        self.enrollment = enrollment
        self._set_busy(False)
        self._say(
            self.tr("已连接：本机属于“{name}”（{code}）。").format(
                name=enrollment.school_name, code=enrollment.school_code
            ),
            error=False,
        )
        self.enrolled.emit(enrollment)
        self.accept()

    def _failed(self, exc: Exception) -> None:
        if not isValid(self):
            return
        self._set_busy(False)
        reason = error_text(exc)
        self._say(self.tr("没有连接成功：{reason}").format(reason=reason), error=True)
        self.code_edit.setFocus()

    # -- showing --------------------------------------------------------------------------------------

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.busy.setVisible(busy)
        self.url_edit.setEnabled(not busy)
        self.code_edit.setEnabled(not busy)
        self._edited()

    def _say(self, text: str, *, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(
            "color: #c62828; background: #fdecea; padding: 6px; border-radius: 3px;"
            if error
            else "color: #555; padding: 6px;"
        )
        self.message.setVisible(True)
        self.resize(self.width(), max(self.height(), self.sizeHint().height()))  # room for it

    def message_text(self) -> str:
        return self.message.text() if self.message.isVisibleTo(self) else ""

    def reject(self) -> None:
        if self._busy:
            return  # the answer is on its way; closing now would hide whether it worked
        super().reject()
