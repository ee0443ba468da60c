"""Hazard follow-up (隐患整改跟进): set a hazard's status, rectified date and after-photo.

Saving writes a new revision of the inspection record (client.store.todo.update_hazard), on the database
thread; the dialog closes when that succeeded and shows the reason in plain words when it did not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from pathlib import Path

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from client.context import ClientContext
from client.store.attachments import (
    AttachmentUnreadable,
    add_attachment,
    attachment_path,
    read_attachment_file,
)
from client.store.records import SaveResult
from client.store.todo import CLOSED_HAZARD_STATUSES, HAZARD_STATUSES, HazardItem, update_hazard
from client.ui import lang
from client.ui.record_list import error_text
from client.ui.tasks import TaskManager

log = logging.getLogger(__name__)

THUMB = 160


class HazardDialog(QDialog):
    saved = Signal(str)  # the inspection record's id

    def __init__(
        self,
        ctx: ClientContext,
        tasks: TaskManager,
        hazard: HazardItem,
        parent: QWidget | None = None,
        *,
        current_photo: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("hazardDialog")
        self._ctx = ctx
        self._tasks = tasks
        self.hazard = hazard
        self._form = ctx.forms.get("safety_inspection")
        self._photo_sha: str | None = current_photo  # stored photo kept as is
        self._photo_file: Path | None = None  # a new photo chosen in this dialog
        self.setWindowTitle(self.tr("隐患整改跟进"))
        self.setMinimumWidth(560)

        # What the hazard is (read only).
        about = QGroupBox(self.tr("隐患情况"))
        info = QFormLayout(about)
        info.setLabelAlignment(Qt.AlignmentFlag.AlignRight)

        def ro(value: str) -> QLabel:
            label = QLabel(value or "—")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            return label

        deadline = lang.format_date(hazard.deadline)
        if hazard.overdue:
            deadline_label = ro(
                self.tr("{date}（已逾期 {days} 天）").format(
                    date=deadline, days=hazard.days_overdue
                )
            )
            deadline_label.setStyleSheet(f"color: {lang.OVERDUE_COLOUR}; font-weight: bold;")
        else:
            deadline_label = ro(deadline)
        info.addRow(self.tr("排查日期："), ro(lang.format_date(hazard.inspection_date)))
        info.addRow(
            self.tr("隐患类别："),
            ro(lang.choice_label(self._form, "hazard_category", hazard.category)),
        )
        info.addRow(self.tr("位置："), ro(hazard.location))
        info.addRow(self.tr("隐患描述："), ro(hazard.description))
        info.addRow(
            self.tr("等级："), ro(lang.choice_label(self._form, "severity", hazard.severity))
        )
        info.addRow(self.tr("整改措施："), ro(hazard.measures))
        info.addRow(self.tr("整改责任人："), ro(hazard.responsible_person))
        info.addRow(self.tr("整改期限："), deadline_label)

        # The follow-up.
        follow = QGroupBox(self.tr("整改情况"))
        form = QFormLayout(follow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.status_combo = QComboBox()
        self.status_combo.setObjectName("hazardStatus")
        for name in HAZARD_STATUSES:
            self.status_combo.addItem(lang.choice_label(self._form, "hazard_status", name), name)
        self.status_combo.setCurrentIndex(max(self.status_combo.findData(hazard.status), 0))
        today = ctx.clock.today()
        self.date_edit = QDateEdit(QDate(today.year, today.month, today.day))
        self.date_edit.setObjectName("rectifiedDate")
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.date_edit.setMaximumDate(QDate(today.year, today.month, today.day))
        inspected = _parse(hazard.inspection_date)
        if inspected is not None and inspected <= today:
            self.date_edit.setMinimumDate(QDate(inspected.year, inspected.month, inspected.day))
        self.photo_label = QLabel(self.tr("未选择照片"))
        self.photo_label.setObjectName("photoPreview")
        self.photo_label.setFixedSize(THUMB, THUMB * 3 // 4)
        self.photo_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.photo_label.setStyleSheet("border: 1px solid #bbb; background: #fafafa; color: #777;")
        self.photo_button = QPushButton(self.tr("选择照片(&P)…"))
        self.photo_button.clicked.connect(self._choose_photo)
        self.remove_photo_button = QPushButton(self.tr("移除照片"))
        self.remove_photo_button.clicked.connect(lambda: self.set_photo(None))
        photo_buttons = QVBoxLayout()
        photo_buttons.addWidget(self.photo_button)
        photo_buttons.addWidget(self.remove_photo_button)
        photo_buttons.addStretch(1)
        photo_row = QHBoxLayout()
        photo_row.addWidget(self.photo_label)
        photo_row.addLayout(photo_buttons)
        photo_row.addStretch(1)
        self.date_row_label = QLabel(self.tr("整改完成日期(&D)："))
        self.date_row_label.setBuddy(self.date_edit)
        self.photo_row_label = QLabel(self.tr("整改后照片："))
        status_label = QLabel(self.tr("整改状态(&S)："))
        status_label.setBuddy(self.status_combo)
        form.addRow(status_label, self.status_combo)
        form.addRow(self.date_row_label, self.date_edit)
        form.addRow(self.photo_row_label, photo_row)
        self.photo_widgets = (self.photo_label, self.photo_button, self.remove_photo_button)

        self.error = QLabel()
        self.error.setObjectName("errorLabel")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {lang.OVERDUE_COLOUR};")
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addWidget(follow)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        self.status_combo.currentIndexChanged.connect(lambda _i: self._status_changed())
        self._status_changed()
        self._show_photo()
        self.status_combo.setFocus()

    # -- state ----------------------------------------------------------------------------------------

    def status(self) -> str:
        return str(self.status_combo.currentData())

    def set_status(self, status: str) -> None:
        self.status_combo.setCurrentIndex(self.status_combo.findData(status))

    def set_rectified_date(self, day: dt.date) -> None:
        self.date_edit.setDate(QDate(day.year, day.month, day.day))

    def rectified_date(self) -> dt.date | None:
        if self.status() not in CLOSED_HAZARD_STATUSES:
            return None
        d = self.date_edit.date()
        return dt.date(d.year(), d.month(), d.day())

    def set_photo(self, path: Path | None) -> None:
        """A new after-photo from a file (None removes the photo)."""
        self._photo_file = path
        if path is None:
            self._photo_sha = None
        self._show_photo()

    def _status_changed(self) -> None:
        closed = self.status() in CLOSED_HAZARD_STATUSES
        for w in (self.date_row_label, self.date_edit, self.photo_row_label, *self.photo_widgets):
            w.setVisible(closed)
        self.adjustSize()

    def _choose_photo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("选择整改后照片"),
            str(Path.home()),
            self.tr("图片 (*.jpg *.jpeg *.png *.bmp)"),
        )
        if path:
            self.set_photo(Path(path))

    def _show_photo(self) -> None:
        source: Path | None = self._photo_file
        if source is None and self._photo_sha:
            source = attachment_path(self._ctx.store.attachments_dir, self._photo_sha)
        pixmap = QPixmap()
        if source is not None and source.exists():
            with contextlib.suppress(
                OSError, AttachmentUnreadable
            ):  # sealed on disk: decrypted here
                pixmap.loadFromData(read_attachment_file(source))
        if pixmap.isNull():
            self.photo_label.setPixmap(QPixmap())
            self.photo_label.setText(
                self.tr("未选择照片") if source is None else self.tr("无法显示照片")
            )
        else:
            self.photo_label.setPixmap(
                pixmap.scaled(
                    self.photo_label.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        self.remove_photo_button.setEnabled(source is not None)

    # -- saving ---------------------------------------------------------------------------------------

    def save(self) -> None:
        self.error.hide()
        self.buttons.setEnabled(False)
        ctx = self._ctx
        h = self.hazard
        status = self.status()
        rectified = self.rectified_date()
        new_file = self._photo_file if status in CLOSED_HAZARD_STATUSES else None
        kept_sha = self._photo_sha if status in CLOSED_HAZARD_STATUSES else None

        def work() -> SaveResult:
            with ctx.store.Session.begin() as s:
                photo = kept_sha
                if new_file is not None:
                    photo = add_attachment(
                        s, ctx.store.attachments_dir, new_file, now=ctx.clock.now()
                    )
                return update_hazard(
                    s,
                    forms=ctx.forms,
                    record_id=h.record_id,
                    index=h.index,
                    status=status,
                    rectified_date=rectified,
                    rectified_photo=photo,
                    today=ctx.clock.today(),
                    now=ctx.clock.now(),
                    expected_revision=h.revision,
                )

        self._tasks.run_db(work, on_done=self._saved, on_error=self._failed)

    def _saved(self, result: SaveResult) -> None:
        log.info(
            "hazard %s#%d followed up: revision %d",
            result.record_id,
            self.hazard.index,
            result.revision,
        )
        self.saved.emit(result.record_id)
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self.buttons.setEnabled(True)
        self.error.setText(error_text(exc))
        self.error.show()


def _parse(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None
