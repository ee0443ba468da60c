"""The lock on the sensitive forms (teacher ethics, dropout follow-ups; `sensitive: true` in their settings).

While locked (at start, after the idle time, or after 锁定):
- a sensitive form's page lists nothing: it shows the number of its records (the form's total, never a search's)
  and a 解锁 button; search, filters, 打开, 导出 and 导入 ask for the PIN first;
- 待办 leaves out the returned records and sync problems of sensitive records and says how many it left out;
- opening or creating a sensitive record, or a conflict of one, asks for the PIN;
- an editor of a sensitive record open when the lock falls is saved as a draft when it is a draft with
  unsaved input, then covered (its answers stay in memory, nothing is lost; a correction of a returned record,
  which cannot be a draft, stays unsaved under the cover) until the PIN is given again.

The first unlock on a PC sets the PIN (SetPinDialog). 忘记PIN码 takes the bureau's one-day reset code
(client.store.pin). Any mouse or keyboard input in the program restarts the idle timer. Other forms are never
locked. PIN checks are one scrypt (about 0.2 s) and run on the GUI thread, like the list's page reads.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from client.context import ClientContext
from client.store import pin
from client.store.models import Status

if TYPE_CHECKING:
    from client.ui.main_window import MainWindow

log = logging.getLogger(__name__)

ACTIVITY = frozenset(
    {
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.KeyPress,
        QEvent.Type.KeyRelease,
        QEvent.Type.TouchBegin,
        QEvent.Type.TabletPress,
    }
)


class SensitiveLock(QObject):
    """Whether the sensitive forms are open now; asks for the PIN and locks them again after idle time."""

    changed = Signal(bool)  # locked

    def __init__(
        self, ctx: ClientContext, parent: QObject | None = None, *, idle_ms: int | None = None
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.sensitive = pin.sensitive_forms(ctx.forms.data_forms())
        self._locked = True
        if idle_ms is None:
            with ctx.store.ReadSession() as s:
                idle_ms = int(pin.idle_minutes(s) * 60_000)
        self.idle = QTimer(self)
        self.idle.setSingleShot(True)
        self.idle.setTimerType(Qt.TimerType.PreciseTimer)  # a coarse one may lag or lead by 5 %
        self.idle.setInterval(idle_ms)
        self.idle.timeout.connect(self._idle_timeout)
        self.dialog: QDialog | None = None  # the unlock (or set-PIN) dialog while it is open
        self._then: list[Callable[[], None]] = []
        self.settings_box: QWidget | None = None  # 设置 → 敏感表单 (install adds it)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    # -- state ----------------------------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        return self._locked

    def is_sensitive(self, form_id: str | None) -> bool:
        return form_id in self.sensitive

    def covers(self, form_id: str | None) -> bool:
        """Is this form locked now?"""
        return self._locked and form_id in self.sensitive

    def hidden_forms(self) -> frozenset[str]:
        """The forms whose records are hidden now."""
        return self.sensitive if self._locked else frozenset()

    def stop(self) -> None:
        """No more idle locking (the window closed)."""
        self.idle.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def set_idle_ms(self, ms: int) -> None:
        self.idle.setInterval(ms)
        if self.idle.isActive():
            self.idle.start()

    def lock(self) -> None:
        """锁定 (also after the idle time)."""
        self.idle.stop()
        if self._locked:
            return
        self._locked = True
        log.info("sensitive forms locked")
        self.changed.emit(True)

    def _unlocked(self) -> None:
        was = self._locked
        self._locked = False
        self.idle.start()
        log.info("sensitive forms unlocked")
        if was:
            self.changed.emit(False)
        then, self._then = self._then, []
        for fn in then:
            fn()

    def _idle_timeout(self) -> None:
        if not self._locked:
            log.info("no input for %d ms: locking the sensitive forms", self.idle.interval())
            self.lock()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in ACTIVITY and not self._locked:
            self.idle.start()  # any input restarts the idle time
        return False

    # -- asking -------------------------------------------------------------------------------------

    def request(self, parent: QWidget | None, then: Callable[[], None] | None = None) -> None:
        """Ask for the PIN (or, the first time, to set one); `then` runs once unlocked. Already open:
        `then` runs at once. The dialog is modal to the window but does not block the caller."""
        if not self._locked:
            if then is not None:
                then()
            return
        if then is not None:
            self._then.append(then)
        if self.dialog is not None and isValid(self.dialog) and self.dialog.isVisible():
            self.dialog.raise_()
            return
        with self._ctx.store.ReadSession() as s:
            first = not pin.pin_is_set(s)
        dialog: QDialog = SetPinDialog(self._ctx, parent) if first else UnlockDialog(self, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self._unlocked)
        dialog.rejected.connect(self._then.clear)
        dialog.finished.connect(lambda _r, d=dialog: self._forget(d))
        self.dialog = dialog
        dialog.open()

    def _forget(self, dialog: QDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def needs_unlock(
        self, form_id: str | None, parent: QWidget | None, then: Callable[[], None]
    ) -> bool:
        """For a gate: True (and the PIN asked for, `then` to follow) when the form is locked now."""
        if not self.covers(form_id):
            return False
        self.request(parent, then)
        return True


# -- dialogs -------------------------------------------------------------------------------------------


def _password_edit(name: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setMaxLength(128)
    edit.setMinimumWidth(240)
    return edit


def _fit_height(label: QLabel, width: int) -> None:
    """A wrapped label as tall as its text needs at this width (a dialog sizes it too short otherwise)."""
    label.setMinimumWidth(width)
    label.setMinimumHeight(label.heightForWidth(width))


def _error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("lockError")
    label.setWordWrap(True)
    label.setStyleSheet("color: #c62828;")
    label.setVisible(False)
    return label


def _message(exc: pin.PinError) -> str:
    from client.ui import lang

    return exc.message_en if lang.language() == "en" else exc.message_zh


class SetPinDialog(QDialog):
    """设置PIN码: the first time, and after a reset code (then it also takes the code)."""

    def __init__(
        self, ctx: ClientContext, parent: QWidget | None = None, *, reset: bool = False
    ) -> None:
        super().__init__(parent)
        self.setObjectName("resetPinDialog" if reset else "setPinDialog")
        self._ctx = ctx
        self._reset = reset
        self.setWindowTitle(self.tr("忘记PIN码") if reset else self.tr("设置敏感表单PIN码"))
        self.setModal(True)
        self.setMinimumWidth(520)
        if reset:
            text = self.tr(
                "请打电话给县教育局，说明学校和下面的电脑名称，索取今天的<b>重置码</b>"
                "（教育局在“学校与设备”页面的这台电脑一行点“重置PIN码”）。输入重置码后设置新的PIN码。"
                "不需要联网。"
            )
        else:
            text = self.tr(
                "师德师风记录、控辍保学跟踪记录含有教师和学生的敏感信息。"
                "请设置一个PIN码（至少 6 位数字）或密码（至少 8 个字符），打开这些表单时需要输入。"
                "其他表单不受影响。<br>忘记时可请县教育局帮助重置。"
            )
        intro = QLabel(text)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        _fit_height(intro, 480)
        form = QFormLayout()
        self.code_edit = QLineEdit()
        self.code_edit.setObjectName("resetCode")
        self.code_edit.setPlaceholderText("12345-67890")
        self.code_edit.setMaxLength(20)
        if reset:
            form.addRow(self.tr("电脑名称"), QLabel(_device_text(ctx)))
            form.addRow(self.tr("重置码(&C)"), self.code_edit)
        self.pin_edit = _password_edit("newPin")
        self.again_edit = _password_edit("newPinAgain")
        form.addRow(self.tr("新PIN码(&P)"), self.pin_edit)
        form.addRow(self.tr("再输入一次(&A)"), self.again_edit)
        self.error = _error_label()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setObjectName("setPin")
        self.ok_button.setText(self.tr("设置并解锁"))
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        (self.code_edit if reset else self.pin_edit).setFocus()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(True)

    def save(self) -> None:
        new, again = self.pin_edit.text(), self.again_edit.text()
        try:
            pin.check_new_pin(new, again)
        except pin.PinError as exc:
            self.show_error(_message(exc))
            self.again_edit.clear()
            self.pin_edit.setFocus()
            return
        now = self._ctx.clock.now()
        error: pin.PinError | None = None
        with self._ctx.store.Session.begin() as s:  # a wrong code's failed try is kept too
            if self._reset:
                try:
                    ticket = pin.check_reset_code(s, self.code_edit.text(), now=now)
                except pin.PinError as exc:
                    error = exc
                else:
                    pin.reset_pin(s, ticket, new, now=now, again=again)
            else:
                pin.set_pin(s, new, now=now, again=again)
        if error is not None:
            self.show_error(_message(error))
            self.code_edit.setFocus()
            self.code_edit.selectAll()
            return
        log.info("the PIN of the sensitive forms was %s", "reset" if self._reset else "set")
        self.accept()


class UnlockDialog(QDialog):
    """解锁: the PIN; wrong tries wait (counted down here); 忘记PIN码 opens the reset."""

    def __init__(self, lock: SensitiveLock, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("unlockDialog")
        self._lock = lock
        self._ctx = lock._ctx
        self.setWindowTitle(self.tr("解锁敏感表单"))
        self.setModal(True)
        self.setMinimumWidth(460)
        intro = QLabel(
            self.tr(
                "师德师风记录、控辍保学跟踪记录已锁定。请输入PIN码（或密码）解锁；"
                "一段时间不操作或点“锁定”后会再次锁定。"
            )
        )
        intro.setWordWrap(True)
        _fit_height(intro, 420)
        self.pin_edit = _password_edit("pin")
        form = QFormLayout()
        form.addRow(self.tr("PIN码(&P)"), self.pin_edit)
        self.error = _error_label()
        self.forgot_button = QPushButton(self.tr("忘记PIN码(&F)…"))
        self.forgot_button.setObjectName("forgotPin")
        self.forgot_button.setAutoDefault(False)
        self.forgot_button.clicked.connect(self.forgot)
        self.unlock_button = QPushButton(self.tr("解锁(&U)"))
        self.unlock_button.setObjectName("unlock")
        self.unlock_button.setDefault(True)
        self.unlock_button.clicked.connect(self.try_unlock)
        cancel = QPushButton(self.tr("取消"))
        cancel.setAutoDefault(False)
        cancel.clicked.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.forgot_button)
        row.addStretch(1)
        row.addWidget(self.unlock_button)
        row.addWidget(cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(row)
        self.reset_dialog: SetPinDialog | None = None
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._show_wait)
        self._show_wait()
        self.pin_edit.setFocus()

    def waiting(self) -> int:
        with self._ctx.store.ReadSession() as s:
            return pin.wait_seconds(s, now=self._ctx.clock.now())

    def _show_wait(self) -> None:
        wait = self.waiting()
        self.pin_edit.setEnabled(not wait)
        self.unlock_button.setEnabled(not wait)
        if wait:
            self.show_error(_message(pin.PinWait(wait)))
            self._tick.start()
        else:
            self._tick.stop()
            if self.error.property("wait"):
                self.error.setVisible(False)
            self.pin_edit.setFocus()
        self.error.setProperty("wait", bool(wait))

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(True)

    def try_unlock(self) -> None:
        now = self._ctx.clock.now()
        try:
            with self._ctx.store.Session.begin() as s:  # a wrong try is counted (committed)
                ok = pin.verify_pin(s, self.pin_edit.text(), now=now)
        except pin.PinWait:
            self._show_wait()
            return
        except pin.PinError as exc:
            self.show_error(_message(exc))
            return
        self.pin_edit.clear()
        if ok:
            self.accept()
            return
        with self._ctx.store.ReadSession() as s:
            tries = pin.failures(s)
        wait = self.waiting()
        if wait:
            self._show_wait()
        else:
            left = pin.FREE_FAILURES - tries
            self.show_error(
                self.tr("PIN码不正确。再错 {n} 次需要等待一段时间。").format(n=left)
                if left > 0
                else self.tr("PIN码不正确。")
            )

    def forgot(self) -> None:
        dialog = SetPinDialog(self._ctx, self, reset=True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self.accept)
        self.reset_dialog = dialog
        dialog.open()


def _device_text(ctx: ClientContext) -> str:
    name = socket.gethostname() or "?"
    try:
        from client.store.sync_state import get_enrollment

        with ctx.store.ReadSession() as s:
            enrollment = get_enrollment(s)
            has_key = pin.has_reset_key(s)
    except Exception:  # the name is enough for the bureau to find the row
        log.exception("could not read the enrollment")
        return name
    if enrollment is None or not has_key:
        return name + QApplication.translate(
            "SetPinDialog", "（本机尚未连接教育局服务器，无法重置：请先连接并同步一次）"
        )
    return f"{name}（{enrollment.school_name or enrollment.school_code}，设备 {enrollment.device_id[:8]}）"


# -- what shows instead of locked records ----------------------------------------------------------------


class LockPanel(QWidget):
    """A locked form's page: how many records it holds, and 解锁."""

    unlock_requested = Signal()

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lockPanel")
        self._title = title
        self.heading = QLabel(self.tr("已锁定"))
        self.heading.setStyleSheet("font-size: 16pt; font-weight: bold; color: #37474f;")
        self.text = QLabel()
        self.text.setObjectName("lockCount")
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setStyleSheet("color: #5f6368; font-size: 11pt;")
        self.text.setMinimumWidth(520)
        self.button = QPushButton(self.tr("解锁(&U)…"))
        self.button.setObjectName("unlockList")
        self.button.setMinimumWidth(140)
        self.button.clicked.connect(self.unlock_requested)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.heading, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.text)
        layout.addSpacing(8)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def set_count(self, n: int) -> None:
        self.text.setText(
            self.tr(
                "“{form}”含有敏感信息，共 {n} 条记录，内容已隐藏。\n输入PIN码解锁后才能查看、搜索、导出。"
            ).format(form=self._title, n=n)
        )


class LockCover(QWidget):
    """Over an open editor of a sensitive record while locked: nothing of the record shows."""

    unlock_requested = Signal()

    def __init__(self, editor: QWidget) -> None:
        super().__init__(editor)
        self.setObjectName("lockCover")
        self.setAutoFillBackground(True)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("QWidget#lockCover { background: #eceff1; }")
        label = QLabel(self.tr("这条记录已锁定。未保存的内容已保留，解锁后可继续填写。"))
        label.setStyleSheet("font-size: 12pt; color: #37474f;")
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton(self.tr("解锁(&U)…"))
        self.button.setObjectName("unlockEditor")
        self.button.clicked.connect(self.unlock_requested)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(label)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        self._editor = editor
        editor.installEventFilter(self)
        self.setGeometry(editor.rect())
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._editor and event.type() == QEvent.Type.Resize:
            self.setGeometry(self._editor.rect())
        dirty = getattr(self._editor, "is_dirty", lambda: False)()
        if (
            watched is self._editor
            and event.type() == QEvent.Type.Close
            and self.isVisible()
            and dirty
        ):
            # Closing asks whether to submit the unsaved correction: only once the PIN is given again.
            event.ignore()
            self.unlock_requested.emit()
            return True
        return False

    def cover(self) -> None:
        for child in self._editor.findChildren(
            QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly
        ):
            if child is not self:
                child.setEnabled(False)
        for shortcut in self._editor.findChildren(QShortcut):  # Ctrl+S would save or submit unseen
            shortcut.setEnabled(False)
        self.setGeometry(self._editor.rect())
        self.show()
        self.raise_()
        if self._editor.isVisible():
            self.button.setFocus()

    def uncover(self) -> None:
        for child in self._editor.findChildren(
            QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly
        ):
            if child is not self:
                child.setEnabled(True)
        for shortcut in self._editor.findChildren(QShortcut):
            shortcut.setEnabled(True)
        self.hide()


# -- wiring into the main window ---------------------------------------------------------------------


def install(window: MainWindow, lock: SensitiveLock | None = None) -> SensitiveLock:
    """Lock the sensitive forms of this window (client/ui/app.py calls it; tests too)."""
    lock = lock if lock is not None else SensitiveLock(window.ctx, window)
    window.lock = lock
    for form_id, page in window.form_pages.items():
        if lock.is_sensitive(form_id):
            page.lock = lock
            page.apply_lock()
    window.home.lock = lock
    window.home.unlock_requested.connect(lambda: lock.request(window))
    lock_button = QPushButton(QApplication.translate("SensitiveLock", "锁定敏感表单"))
    lock_button.setObjectName("lockNow")
    lock_button.setToolTip(
        QApplication.translate("SensitiveLock", "立即锁定师德师风、控辍保学等敏感表单")
    )
    lock_button.setFlat(True)
    lock_button.clicked.connect(lock.lock)
    lock_button.setVisible(False)
    window.statusBar().addPermanentWidget(lock_button)
    window.lock_button = lock_button

    def changed(locked: bool) -> None:
        lock_button.setVisible(not locked)
        for editor in window.editors():
            if lock.is_sensitive(_form_of(editor)):
                (_cover if locked else _uncover)(editor, lock)
        if locked:
            dialog = window.conflict_dialog
            if dialog is not None and isValid(dialog) and lock.is_sensitive(_conflict_form(dialog)):
                dialog.reject()
        for form_id, page in window.form_pages.items():
            if lock.is_sensitive(form_id):
                page.apply_lock()
        window.home.refresh()

    lock.changed.connect(changed)
    box = LockSettings(window.ctx, lock, window)
    settings_layout = window.settings.layout()
    if isinstance(settings_layout, QVBoxLayout):  # before 关于, the last box
        settings_layout.insertWidget(max(settings_layout.count() - 2, 0), box)
    lock.settings_box = box
    return lock


class LockSettings(QGroupBox):
    """设置 → 敏感表单: minutes without input before the lock falls again, and 修改PIN码. Both only while
    unlocked (a colleague at the locked PC cannot stretch the time or change the PIN)."""

    def __init__(self, ctx: ClientContext, lock: SensitiveLock, window: QWidget) -> None:
        super().__init__(QApplication.translate("LockSettings", "敏感表单（师德师风、控辍保学）"))
        self.setObjectName("lockSettings")
        self._ctx = ctx
        self._lock = lock
        self._window = window
        self.dialog: SetPinDialog | None = None
        self.idle_spin = QSpinBox()
        self.idle_spin.setObjectName("idleMinutes")
        self.idle_spin.setRange(1, 240)
        self.idle_spin.setSuffix(QApplication.translate("LockSettings", " 分钟"))
        with ctx.store.ReadSession() as s:
            self.idle_spin.setValue(round(pin.idle_minutes(s)))
        self.idle_spin.valueChanged.connect(self._idle_chosen)
        self.change_button = QPushButton(QApplication.translate("LockSettings", "修改PIN码…"))
        self.change_button.setObjectName("changePin")
        self.change_button.clicked.connect(self.change_pin)
        note = QLabel(
            QApplication.translate("LockSettings", "无操作超过这个时间后自动锁定；解锁后才能修改。")
        )
        note.setStyleSheet("color: #5f6368;")
        row = QHBoxLayout()
        row.addWidget(self.idle_spin)
        row.addWidget(note, 1)
        form = QFormLayout(self)
        form.addRow(QApplication.translate("LockSettings", "自动锁定："), row)
        form.addRow(QApplication.translate("LockSettings", "PIN码："), self.change_button)
        lock.changed.connect(self._show_state)
        self._show_state(lock.locked)

    def _show_state(self, locked: bool) -> None:
        self.idle_spin.setEnabled(not locked)

    def _idle_chosen(self, minutes: int) -> None:
        if self._lock.locked:
            return
        with self._ctx.store.Session.begin() as s:
            pin.set_idle_minutes(s, minutes)
        self._lock.set_idle_ms(minutes * 60_000)

    def change_pin(self) -> None:
        """The PIN first (when locked), then the new one twice."""

        def ask() -> None:
            dialog = SetPinDialog(self._ctx, self._window)
            dialog.setWindowTitle(QApplication.translate("LockSettings", "修改PIN码"))
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.dialog = dialog
            dialog.open()

        self._lock.request(self._window, ask)


def watch_editor(lock: SensitiveLock, editor: QWidget) -> None:
    """A sensitive editor opened while locked (a reload after a sync) is covered at once."""
    if lock.covers(_form_of(editor)):
        _cover(editor, lock)


def _form_of(editor: QWidget) -> str | None:
    return getattr(editor, "_form_id", None)


def _conflict_form(dialog: Any) -> str | None:
    view = getattr(dialog, "view", None) or getattr(dialog, "_view", None)
    form = getattr(view, "form", None)
    return getattr(form, "form_id", None)


def _cover(editor: QWidget, lock: SensitiveLock) -> None:
    """Save a draft's unsaved input first (nothing is lost), then hide the record."""
    try:
        draft = editor.status() == Status.DRAFT  # type: ignore[attr-defined]
        if draft and editor.is_dirty() and not editor.is_read_only():  # type: ignore[attr-defined]
            editor.save_draft()  # type: ignore[attr-defined]
    except Exception:
        log.exception("could not save the draft before locking")
    cover = editor.findChild(LockCover, options=Qt.FindChildOption.FindDirectChildrenOnly)
    if cover is None:
        cover = LockCover(editor)
        cover.unlock_requested.connect(lambda: lock.request(editor.window()))
    cover.cover()


def _uncover(editor: QWidget, lock: SensitiveLock) -> None:
    cover = editor.findChild(LockCover, options=Qt.FindChildOption.FindDirectChildrenOnly)
    if cover is not None:
        cover.uncover()
