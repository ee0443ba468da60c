"""Settings (设置): the bureau server (connect, the school, how often to sync), the UI language, the data
folder, backup and restore, and what version this is."""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, QUrl, Signal, qVersion
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from client.context import ClientContext
from client.store.prefs import get_setting, set_setting
from client.store.sync_state import SyncStatus
from client.ui import lang
from client.ui.record_list import error_text
from client.ui.tasks import TaskManager

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {"zh_CN": "中文（简体）", "en": "English"}


def app_version() -> str:
    try:
        from importlib.metadata import version

        return version("school-data")
    except Exception:
        return "0.1.0"


class SettingsPage(QWidget):
    language_changed = Signal(str)
    restored = Signal()  # the data were replaced from a backup: the main window closes
    connect_requested = Signal()  # 连接服务器…
    interval_chosen = Signal(int)  # minutes between automatic syncs

    def __init__(
        self, ctx: ClientContext, tasks: TaskManager, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPage")
        self._ctx = ctx
        self._tasks = tasks
        # Asked before a restore; the main window closes open editors here (they save their drafts).
        self.before_restore: Callable[[], bool] = lambda: True

        title = QLabel(self.tr("设置"))
        title.setStyleSheet("font-size: 16pt; font-weight: bold;")

        # The bureau server.
        server_box = QGroupBox(self.tr("县教育局服务器"))
        self.server_label = QLabel(self.tr("未连接"))
        self.server_label.setObjectName("serverAddress")
        self.server_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.school_label = QLabel("—")
        self.school_label.setObjectName("enrolledSchool")
        self.last_sync_label = QLabel("—")
        self.last_sync_label.setObjectName("lastSync")
        self.connect_button = QPushButton(self.tr("连接服务器(&C)…"))
        self.connect_button.setObjectName("connectServer")
        self.connect_button.clicked.connect(lambda: self.connect_requested.emit())
        server_row = QHBoxLayout()
        server_row.addWidget(self.server_label, 1)
        server_row.addWidget(self.connect_button)
        self.interval_spin = QSpinBox()
        self.interval_spin.setObjectName("syncInterval")
        self.interval_spin.setRange(1, 240)
        self.interval_spin.setValue(5)
        self.interval_spin.setSuffix(self.tr(" 分钟"))
        self.interval_spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.interval_spin.valueChanged.connect(lambda n: self.interval_chosen.emit(int(n)))
        interval_row = QHBoxLayout()
        interval_row.addWidget(self.interval_spin)
        interval_note = QLabel(
            self.tr("联网时每隔这么久自动同步一次；也可以随时点状态栏的“立即同步”。")
        )
        interval_note.setStyleSheet("color: #555;")
        interval_row.addWidget(interval_note, 1)
        server_form = QFormLayout(server_box)
        server_form.addRow(self.tr("服务器地址："), server_row)
        server_form.addRow(self.tr("本机所属学校："), self.school_label)
        server_form.addRow(self.tr("上次同步："), self.last_sync_label)
        server_form.addRow(self.tr("自动同步间隔："), interval_row)

        # Language.
        lang_box = QGroupBox(self.tr("界面语言"))
        self.language_combo = QComboBox()
        self.language_combo.setObjectName("languageCombo")
        for code in lang.LANGUAGES:
            self.language_combo.addItem(LANGUAGE_NAMES[code], code)
        self.language_combo.setCurrentIndex(max(self.language_combo.findData(lang.language()), 0))
        self.language_combo.setMinimumWidth(200)
        self.language_combo.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.language_note = QLabel(self.tr("更改语言后，请关闭并重新打开本程序才能生效。"))
        self.language_note.setObjectName("languageNote")
        self.language_note.setStyleSheet("color: #555;")
        self.language_combo.currentIndexChanged.connect(self._language_chosen)
        lang_row = QFormLayout(lang_box)
        language_label = QLabel(self.tr("语言(&L)："))
        language_label.setBuddy(self.language_combo)
        lang_row.addRow(language_label, self.language_combo)
        lang_row.addRow("", self.language_note)

        # Data folder and backups.
        data_box = QGroupBox(self.tr("数据与备份"))
        self.data_dir_edit = QLineEdit(str(ctx.store.data_dir))
        self.data_dir_edit.setObjectName("dataDir")
        self.data_dir_edit.setReadOnly(True)
        open_folder = QPushButton(self.tr("打开文件夹"))
        open_folder.clicked.connect(lambda: self._open_folder(ctx.store.data_dir))
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.data_dir_edit, 1)
        folder_row.addWidget(open_folder)
        self.backup_button = QPushButton(self.tr("立即备份(&B)…"))
        self.backup_button.setObjectName("backupNow")
        self.backup_button.clicked.connect(self.backup_now)
        self.restore_button = QPushButton(self.tr("从备份恢复(&R)…"))
        self.restore_button.setObjectName("restoreBackup")
        self.restore_button.clicked.connect(self.restore)
        auto_folder = QPushButton(self.tr("查看自动备份"))
        auto_folder.clicked.connect(lambda: self._open_folder(ctx.store.backups_dir))
        backup_row = QHBoxLayout()
        backup_row.addWidget(self.backup_button)
        backup_row.addWidget(self.restore_button)
        backup_row.addWidget(auto_folder)
        backup_row.addStretch(1)
        backup_note = QLabel(
            self.tr(
                "程序每天第一次打开时自动备份，保留最近 7 份。建议每月把备份复制到 U 盘保存一份。"
            )
        )
        backup_note.setWordWrap(True)
        backup_note.setStyleSheet("color: #555;")
        data_form = QFormLayout(data_box)
        data_form.addRow(self.tr("数据文件夹："), folder_row)
        data_form.addRow(self.tr("备份："), backup_row)
        data_form.addRow("", backup_note)

        # About.
        about_box = QGroupBox(self.tr("关于"))
        about = QFormLayout(about_box)
        self.version_label = QLabel(app_version())
        self.version_label.setObjectName("versionLabel")
        about.addRow(self.tr("程序："), QLabel(self.tr("学校数据采集客户端")))
        about.addRow(self.tr("版本："), self.version_label)
        about.addRow(
            self.tr("运行环境："),
            QLabel(
                f"Python {platform.python_version()} · Qt {qVersion()} · PySide6 {pyside_version}"
                f" · {platform.system()} {platform.release()}"
            ),
        )
        about.addRow(self.tr("表单："), QLabel(self._forms_text()))

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(server_box)
        layout.addWidget(lang_box)
        layout.addWidget(data_box)
        layout.addWidget(about_box)
        layout.addStretch(1)

    # -- the server -----------------------------------------------------------------------------------

    def set_sync_status(self, status: SyncStatus, *, last_sync: str) -> None:
        """Show the enrollment (read by the sync controller); `last_sync` is already in words."""
        if status.enrolled:
            self.server_label.setText(status.server_url or "")
            self.school_label.setText(
                self.tr("{name}（{code}）").format(
                    name=status.school_name or "", code=status.school_code or ""
                )
            )
            self.connect_button.setText(self.tr("重新连接(&C)…"))
        else:
            self.server_label.setText(self.tr("未连接"))
            self.school_label.setText("—")
            self.connect_button.setText(self.tr("连接服务器(&C)…"))
        self.last_sync_label.setText(last_sync or self.tr("还没有同步过"))

    def set_interval(self, minutes: int) -> None:
        self.interval_spin.blockSignals(True)
        self.interval_spin.setValue(minutes)
        self.interval_spin.blockSignals(False)

    def _forms_text(self) -> str:
        parts = [f"{lang.form_title(f)} {f.version}" for f in self._ctx.forms.data_forms()]
        return "\n".join(parts)

    # -- language -------------------------------------------------------------------------------------

    def _language_chosen(self, _index: int) -> None:
        code = str(self.language_combo.currentData())
        ctx = self._ctx

        def work() -> None:
            with ctx.store.Session.begin() as s:
                set_setting(s, lang.SETTING_KEY, code)

        def done(_r: Any) -> None:
            from client.ui.app import remember_language

            remember_language(ctx.store.data_dir, code)  # the next start's first window speaks it
            self.language_note.setText(
                self.tr("已保存。请关闭并重新打开本程序，界面语言才会改变。")
                if code != lang.language()
                else self.tr("更改语言后，请关闭并重新打开本程序才能生效。")
            )
            self.language_changed.emit(code)

        self._tasks.run_db(work, on_done=done, on_error=self._failed)

    def saved_language(self) -> str:
        with self._ctx.store.ReadSession() as s:
            return str(get_setting(s, lang.SETTING_KEY, lang.DEFAULT_LANGUAGE))

    # -- backup / restore -----------------------------------------------------------------------------

    def _open_folder(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def backup_now(self) -> None:
        try:
            from client.store.backup import backup_to, check_backup
        except ImportError:
            QMessageBox.information(self, self.tr("备份"), self.tr("此版本还不能备份。"))
            return
        default = Path.home() / f"学校数据备份-{self._ctx.clock.today().isoformat()}.db"
        out, _ = QFileDialog.getSaveFileName(
            self, self.tr("备份到"), str(default), self.tr("备份文件 (*.db)")
        )
        if not out:
            return
        store = self._ctx.store
        self.backup_button.setEnabled(False)

        def done(held: Any) -> None:
            self.backup_button.setEnabled(True)
            text = self.tr("备份完成，已校验：\n{path}").format(path=out)
            text += "\n\n" + self.tr(
                "其中有 {records} 条记录、{attachments} 个附件（照片和文件）。"
            ).format(records=held.records, attachments=held.attachments)
            if held.attachments_missing:
                text += "\n" + self.tr(
                    "另有 {missing} 个附件在本机已缺失或损坏，未能备份。"
                ).format(missing=held.attachments_missing)
            QMessageBox.information(self, self.tr("备份"), text)

        def failed(exc: Exception) -> None:
            self.backup_button.setEnabled(True)
            self._failed(exc)

        self._tasks.run_db(
            lambda: check_backup(backup_to(store, Path(out))), on_done=done, on_error=failed
        )

    def restore(self) -> None:
        try:
            from client.store.backup import restore_from
        except ImportError:
            QMessageBox.information(self, self.tr("恢复"), self.tr("此版本还不能从备份恢复。"))
            return
        if not self.before_restore():
            return
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("选择备份文件"),
            str(
                self._ctx.store.backups_dir if self._ctx.store.backups_dir.exists() else Path.home()
            ),
            self.tr("备份文件 (*.db)"),
        )
        if not path:
            return
        code = self._recovery_code_for(Path(path))
        if code == "":
            return
        answer = QMessageBox.warning(
            self,
            self.tr("从备份恢复"),
            self.tr(
                "恢复会用这份备份替换现在的全部数据。\n"
                "恢复前程序会先把现在的数据另存一份备份。\n"
                "备份之后已发给教育局的记录，重新打开并同步后会从服务器取回；"
                "备份之后保存、但还没有发出的内容会丢失。\n\n"
                "恢复完成后程序会关闭，请重新打开。确定要恢复吗？"
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        store = self._ctx.store

        def restore() -> tuple[Path, Any]:
            from client.store.healing import work_lost_by_restore

            saved = restore_from(store, Path(path), recovery_code=code)
            return saved, work_lost_by_restore(store.db_path, saved)

        def done(answer: tuple[Path, Any]) -> None:
            saved, lost = answer
            if lost is not None and lost.changes:
                lost_line = self.tr(
                    "备份之后在本机保存、但从未发给教育局的 {changes} 条修改（{records} 条记录）已丢失"
                    "（它们仍在另存的原数据中）。"
                ).format(changes=lost.changes, records=lost.records)
            else:
                lost_line = self.tr("备份之后本机没有未发出的修改，没有丢失内容。")
            QMessageBox.information(
                self,
                self.tr("从备份恢复"),
                self.tr(
                    "恢复完成。原来的数据已另存为：\n{path}\n\n{lost}\n"
                    "重新打开并同步后，本机在备份之后发给教育局的记录会从服务器取回。\n\n"
                    "程序将关闭，请重新打开。"
                ).format(path=saved, lost=lost_line),
            )
            self.restored.emit()

        self._tasks.run_db(restore, on_done=done, on_error=self._failed)

    def _recovery_code_for(self, path: Path) -> str | None:
        """None when this PC opens the backup itself (its own, or an older plaintext one); else the recovery
        code the clerk typed for another PC's encrypted backup ("" when cancelled)."""
        from client.store.backup import RecoveryCodeNeeded, backup_key, folder_key

        try:
            backup_key(path, folder_key(self._ctx.store))
            return None
        except (RecoveryCodeNeeded, OSError):
            pass
        code, ok = QInputDialog.getText(
            self,
            self.tr("恢复码"),
            self.tr(
                "这份备份来自另一台电脑（或已损坏）。\n请输入做备份的电脑当初打印的恢复码（25 位字母和数字）："
            ),
        )
        return code.strip() if ok else ""

    def _failed(self, exc: Exception) -> None:
        log.error("settings action failed: %s", exc)
        QMessageBox.warning(self, self.tr("出错了"), error_text(exc))
