"""连接教育局服务器: the server address and the enrollment code the bureau gave the school.

The dialog only asks and shows; the enrollment itself runs on the network pool (SyncController.enroll), and the
dialog closes when the server has accepted the code. A refused code, a wrong address or no network is said in
the dialog in plain words, and the clerk can correct it and try again.

从文件登记… (protocol 1.15): a school with no link enrolls from the bureau's enrollment file on a USB stick and
its one-time code, offline (client.enrollment_file, run on the database thread by `enroll_file`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from client.store.sync_state import Enrollment
from client.ui.record_list import error_text

log = logging.getLogger(__name__)

# enroll(server_url, code, on_done=..., on_error=...): SyncController.enroll
Enroll = Callable[..., None]
# enroll_file(path, code, on_done=..., on_error=...): client.ui.enroll_file_action
EnrollFile = Callable[..., None]


class EnrollDialog(QDialog):
    enrolled = Signal(object)  # Enrollment

    def __init__(
        self,
        enroll: Enroll,
        parent: QWidget | None = None,
        *,
        server_url: str = "",
        school: str = "",
        enroll_file: EnrollFile | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("enrollDialog")
        self._enroll = enroll
        self._enroll_file = enroll_file
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

        online = QWidget()
        online_layout = QVBoxLayout(online)
        online_layout.setContentsMargins(0, 0, 0, 0)
        online_layout.addWidget(intro)
        if school:
            online_layout.addWidget(again)
        online_layout.addLayout(form)
        self.pages = QStackedWidget()
        self.pages.addWidget(online)
        self.pages.addWidget(self._file_page())

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
        self.mode_button = QPushButton(self.tr("从文件登记…"))
        self.mode_button.setObjectName("enrollFromFile")
        self.mode_button.setToolTip(self.tr("没有网络的学校：用教育局写在U盘上的登记文件登记本机"))
        self.mode_button.clicked.connect(self._toggle_mode)
        self.mode_button.setVisible(enroll_file is not None and not school)
        self.buttons.addButton(self.mode_button, QDialogButtonBox.ButtonRole.ResetRole)

        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(self.pages)
        layout.addWidget(self.busy)
        layout.addWidget(self.message)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        (self.code_edit if server_url else self.url_edit).setFocus()
        self._edited()

    def _file_page(self) -> QWidget:
        page = QWidget()
        intro = QLabel(
            self.tr(
                "没有网络的学校：请选择县教育局写在U盘上的<b>登记文件</b>，并输入教育局另行告知的"
                "<b>登记码</b>。不需要联网；一个登记文件只能给一台电脑使用。"
            )
        )
        intro.setWordWrap(True)
        self.file_edit = QLineEdit()
        self.file_edit.setObjectName("enrollFile")
        self.file_edit.setPlaceholderText(self.tr("例如 E:\\S001_登记文件_1a2b3c4d.ssenroll"))
        self.browse_button = QPushButton(self.tr("选择(&B)…"))
        self.browse_button.setObjectName("browseEnrollFile")
        self.browse_button.clicked.connect(self.choose_file)
        row = QHBoxLayout()
        row.addWidget(self.file_edit, 1)
        row.addWidget(self.browse_button)
        self.file_code_edit = QLineEdit()
        self.file_code_edit.setObjectName("enrollFileCode")
        self.file_code_edit.setPlaceholderText(self.tr("例如 K7PA-3QXC-9ZAD"))
        self.file_code_edit.setMaxLength(64)
        for edit in (self.file_edit, self.file_code_edit):
            edit.textChanged.connect(self._edited)
            edit.returnPressed.connect(self.connect_server)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        file_label = QLabel(self.tr("登记文件(&F)："))
        file_label.setBuddy(self.file_edit)
        code_label = QLabel(self.tr("登记码(&D)："))
        code_label.setBuddy(self.file_code_edit)
        form.addRow(file_label, row)
        form.addRow(code_label, self.file_code_edit)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(intro)
        layout.addLayout(form)
        return page

    # -- the clerk's actions --------------------------------------------------------------------------

    def from_file(self) -> bool:
        return self.pages.currentIndex() == 1

    def _toggle_mode(self) -> None:
        if self._busy:
            return
        to_file = not self.from_file()
        self.pages.setCurrentIndex(1 if to_file else 0)
        self.mode_button.setText(self.tr("联网登记…") if to_file else self.tr("从文件登记…"))
        self.connect_button.setText(self.tr("登记(&O)") if to_file else self.tr("连接(&O)"))
        self.message.setVisible(False)
        (self.file_edit if to_file else self.code_edit).setFocus()
        self._edited()

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("选择登记文件"),
            self.file_edit.text(),
            self.tr("登记文件 (*.ssenroll);;所有文件 (*)"),
        )
        if path:
            self.file_edit.setText(path)
            self.file_code_edit.setFocus()

    def _edited(self) -> None:
        if self.from_file():
            ready = bool(self.file_edit.text().strip() and self.file_code_edit.text().strip())
        else:
            ready = bool(self.url_edit.text().strip() and self.code_edit.text().strip())
        self.connect_button.setEnabled(ready and not self._busy)

    def connect_server(self) -> None:
        if self.from_file():
            self.enroll_from_file()
            return
        url, code = self.url_edit.text().strip(), self.code_edit.text().strip()
        if self._busy:
            return
        if not url or not code:
            self._say(self.tr("请填写服务器地址和登记码。"), error=True)
            return
        self._set_busy(True)
        self._say(self.tr("正在连接 {url} …").format(url=url), error=False)
        self._enroll(url, code, on_done=self._done, on_error=self._failed)

    def enroll_from_file(self) -> None:
        path, code = self.file_edit.text().strip(), self.file_code_edit.text().strip()
        if self._busy or self._enroll_file is None:
            return
        if not path or not code:
            self._say(self.tr("请选择登记文件并填写登记码。"), error=True)
            return
        self._set_busy(True)
        self._say(self.tr("正在打开登记文件 …"), error=False)
        self._enroll_file(path, code, on_done=self._done, on_error=self._failed)

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
        if self.from_file():
            self._say(self.tr("没有登记成功：{reason}").format(reason=reason), error=True)
            self.file_code_edit.setFocus()
            self.file_code_edit.selectAll()
            return
        self._say(self.tr("没有连接成功：{reason}").format(reason=reason), error=True)
        self.code_edit.setFocus()

    # -- showing --------------------------------------------------------------------------------------

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.busy.setVisible(busy)
        for widget in (
            self.url_edit,
            self.code_edit,
            self.file_edit,
            self.file_code_edit,
            self.browse_button,
            self.mode_button,
        ):
            widget.setEnabled(not busy)
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
