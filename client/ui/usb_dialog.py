"""用U盘同步 (issue 13): export what waits to a USB stick for the bureau, and import the bureau's answer.

The dialog lists the removable drives plugged in (client.usb.drives; a folder chosen by hand when none is
found), remembers the last one, says how much room the export needs and refuses a read-only or too small
stick before writing anything. The work (client.ui.usb_actions: client.usb.bundle's export_bundle and
import_answer) runs on the TaskManager's network pool as the SyncController runs a sync (they open their own
sessions); the controller holds online syncs off meanwhile, so the outbox is never read by both. What was
written and that the stick can be removed, or what the answer brought (marked sent, refused and why, returns
now in 待办, new forms, roster updates; client.usb.import_summary, as the CLI says it), is said in the dialog;
a refusal in Chinese with the English beneath, nothing applied. After an import the answer and the bundle it
answers are removed from the stick (导入后从U盘删除已处理的文件, on by default) or named as done.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QTextDocument
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from client.context import ClientContext
from client.ui import lang
from client.ui.sync_controller import SyncController
from client.ui.tasks import TaskManager
from client.ui.usb_actions import (
    ImportDone,
    UsbState,
    answer_files,
    export_to,
    import_from,
    load_state,
)
from client.usb import drives as D
from client.usb.bundle import ExportResult
from forms import usb_bundle as U
from forms import usb_parts as P

log = logging.getLogger(__name__)

OK_COLOUR = "#2e7d32"
PROBLEM_COLOUR = "#c62828"
QUIET_COLOUR = "#555"


# -- the dialog ---------------------------------------------------------------------------------------------


def _rich(lines: list[str], colour: str) -> str:
    return f'<div style="color:{colour}">' + "<br>".join(lines) + "</div>"


class UsbSyncDialog(QDialog):
    exported = Signal(object)  # ExportResult
    imported = Signal(object)  # ImportDone
    idle = Signal()  # after each export or import (done or refused), and after each drive listing
    _phase = Signal(str)  # from the worker: "check", "write", "read"
    _steps = Signal(int, int)  # from the worker: (done, total) batches and attachments, or answers

    part_bytes = P.DEFAULT_PART_BYTES  # a bundle's files stay below FAT32's 4 GB (tests: smaller)
    # The drives are listed again this often (a stick plugged in while the dialog is open).
    poll_ms = 3000

    def __init__(
        self,
        ctx: ClientContext,
        tasks: TaskManager,
        sync: SyncController | None = None,
        parent: QWidget | None = None,
        *,
        list_drives: Callable[[], list[D.Drive]] = D.removable_drives,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("usbDialog")
        self.ctx = ctx
        self.tasks = tasks
        self.sync = sync
        self._list_drives = list_drives
        self.state: UsbState | None = None
        self.drives: list[D.Drive] = []
        self._chosen: D.Drive | None = None  # a folder chosen by hand
        self._busy = (
            ""  # "export" / "import" while one runs; "wait-export" / "wait-import": a sync ends
        )
        self._listing = False
        self._waiting_path: Path | None = None  # an answer to import once the sync running ends
        self._export_drive: D.Drive | None = None
        self.setWindowTitle(self.tr("用U盘同步"))
        self.setMinimumWidth(720)

        intro = QLabel(
            self.tr(
                "没有网络时用U盘同步：先把本机待发送的数据<b>导出到U盘</b>，带到县教育局导入；"
                "教育局导入后在U盘上写一个答复文件，带回来<b>导入教育局答复</b>。"
            )
        )
        intro.setWordWrap(True)

        # The stick.
        self.drive_combo = QComboBox()
        self.drive_combo.setObjectName("usbDrive")
        self.drive_combo.setMinimumWidth(420)
        self.drive_combo.currentIndexChanged.connect(self._drive_changed)
        self.refresh_button = QPushButton(self.tr("刷新"))
        self.refresh_button.setToolTip(self.tr("重新查找插入的U盘"))
        self.refresh_button.clicked.connect(self.refresh_drives)
        self.folder_button = QPushButton(self.tr("选择文件夹…"))
        self.folder_button.setToolTip(self.tr("没有找到U盘时，可以选择任何文件夹"))
        self.folder_button.clicked.connect(self._choose_folder)
        drive_row = QHBoxLayout()
        drive_row.addWidget(self.drive_combo, 1)
        drive_row.addWidget(self.refresh_button)
        drive_row.addWidget(self.folder_button)
        self.room_label = QLabel()
        self.room_label.setObjectName("usbRoom")
        self.room_label.setWordWrap(True)
        drive_box = QGroupBox(self.tr("U盘"))
        drive_layout = QVBoxLayout(drive_box)
        drive_layout.addLayout(drive_row)
        drive_layout.addWidget(self.room_label)

        # 1. Export.
        self.pending_label = QLabel(self.tr("正在读取待发送的数据…"))
        self.pending_label.setObjectName("usbPending")
        self.pending_label.setWordWrap(True)
        self.export_button = QPushButton(self.tr("导出到U盘"))
        self.export_button.setObjectName("usbExport")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.export)
        export_box = QGroupBox(self.tr("1. 导出到U盘（带到教育局）"))
        export_row = QHBoxLayout(export_box)
        export_row.addWidget(self.pending_label, 1)
        export_row.addWidget(self.export_button)

        # 2. Import.
        self.answer_combo = QComboBox()
        self.answer_combo.setObjectName("usbAnswer")
        self.import_button = QPushButton(self.tr("导入教育局答复"))
        self.import_button.setObjectName("usbImport")
        self.import_button.clicked.connect(self.import_selected)
        self.other_button = QPushButton(self.tr("其他文件…"))
        self.other_button.setToolTip(self.tr("选择U盘上或别处的答复文件（.usbsync）"))
        self.other_button.clicked.connect(self._choose_answer)
        # Old bundles and answers pile up on a stick: the finished ones go, unless the clerk keeps them.
        self.remove_done_box = QCheckBox(self.tr("导入后从U盘删除已处理的文件"))
        self.remove_done_box.setObjectName("usbRemoveDone")
        self.remove_done_box.setToolTip(
            self.tr("导入成功后，删除这个答复文件和它答复的本机导出文件（回执保留）")
        )
        self.remove_done_box.setChecked(True)
        import_box = QGroupBox(self.tr("2. 导入教育局答复（从教育局带回）"))
        import_layout = QVBoxLayout(import_box)
        import_row = QHBoxLayout()
        import_row.addWidget(self.answer_combo, 1)
        import_row.addWidget(self.import_button)
        import_row.addWidget(self.other_button)
        import_layout.addLayout(import_row)
        import_layout.addWidget(self.remove_done_box)

        # What happens.
        self.progress = QProgressBar()
        self.progress.setObjectName("usbProgress")
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(14)
        self.progress.setVisible(False)
        self.message = QLabel()
        self.message.setObjectName("usbMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.message.setStyleSheet("QLabel#usbMessage { background: #f7f8fa; padding: 8px; }")
        # A long answer (many refusals) scrolls inside the dialog, which stays within a 1366x768 screen.
        self.message_area = QScrollArea()
        self.message_area.setObjectName("usbMessageArea")
        self.message_area.setWidget(self.message)
        self.message_area.setWidgetResizable(True)
        self.message_area.setMinimumHeight(130)
        self.message_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.message_area.setStyleSheet(
            "QScrollArea#usbMessageArea { background: #f7f8fa; border: 1px solid #d6dbe1; }"
        )
        self.close_button = QPushButton(self.tr("关闭"))
        self.close_button.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)

        for button in (
            self.refresh_button,
            self.folder_button,
            self.import_button,
            self.other_button,
            self.close_button,
        ):
            button.setAutoDefault(False)  # Enter exports; no other button looks chosen
        self.export_button.setFocus()
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(drive_box)
        layout.addWidget(export_box)
        layout.addWidget(import_box)
        layout.addWidget(self.progress)
        layout.addWidget(self.message_area, 1)
        layout.addLayout(bottom)

        self.show_hint()
        self._phase.connect(self._show_phase)
        self._steps.connect(self._show_steps)
        if sync is not None:
            sync.idle.connect(self._sync_idle)
        self._poll = QTimer(self)
        self._poll.timeout.connect(self.refresh_drives)
        self._update_buttons()
        self.reload()

    # -- reading ----------------------------------------------------------------------------------------

    def reload(self) -> None:
        """What waits to be sent and the last folder (database thread), then the drives."""
        ctx = self.ctx
        self.tasks.run_db(lambda: load_state(ctx), on_done=self._loaded, on_error=self._load_failed)

    def _loaded(self, state: UsbState) -> None:
        if not isValid(self):
            return
        self.state = state
        if not state.enrolled:
            self.pending_label.setText(self.tr("本机尚未登记，不能用U盘同步。"))
        elif state.pending:
            text = self.tr("待发送：{n} 条修改").format(n=state.pending)
            if state.attachments:
                text += self.tr("，{a} 个照片和文件").format(a=state.attachments)
            self.pending_label.setText(text)
        else:
            self.pending_label.setText(
                self.tr("没有待发送的修改。仍可导出，让教育局把退回的记录和新表单带回来。")
            )
        if self._chosen is None and state.last_folder:
            last = Path(state.last_folder)
            if last.is_dir():
                try:
                    self._chosen = D.describe_folder(last)
                except OSError:
                    self._chosen = None
        self.refresh_drives()
        if self.poll_ms > 0:
            self._poll.start(self.poll_ms)

    def _load_failed(self, exc: Exception) -> None:
        if isValid(self):
            self.show_error(exc)

    def refresh_drives(self) -> None:
        """List the drives again (network pool: an empty card reader can take a moment to answer)."""
        if self._listing:
            return
        self._listing = True
        find = self._list_drives
        chosen = self._chosen

        def job() -> tuple[list[D.Drive], D.Drive | None]:
            again = None
            if chosen is not None:
                try:
                    again = D.describe_folder(chosen.path)
                except OSError:
                    again = None
            return find(), again

        self.tasks.run_net(job, on_done=self._listed, on_error=self._list_failed)

    def _listed(self, found: tuple[list[D.Drive], D.Drive | None]) -> None:
        if not isValid(self):
            return
        self._listing = False
        drives, chosen = found
        if chosen is not None and any(d.path == chosen.path for d in drives):
            chosen = None  # a stick already listed
        self._chosen = chosen
        listed = drives + ([chosen] if chosen is not None else [])
        if listed != self.drives or self.drive_combo.count() == 0:  # changed, or the first listing
            self._show_drives(listed)
        else:
            self._refresh_answers()  # an answer written since (the bureau's, on this PC for a test)
        self.idle.emit()

    def _list_failed(self, exc: Exception) -> None:
        self._listing = False
        log.warning("could not list drives: %s", exc)
        if isValid(self):
            self.idle.emit()

    def _show_drives(self, listed: list[D.Drive]) -> None:
        current = self.current_drive()
        keep = current.path if current is not None else None
        if keep is None and self.state is not None and self.state.last_folder:
            keep = Path(self.state.last_folder)
        self.drives = listed
        self.drive_combo.blockSignals(True)
        self.drive_combo.clear()
        for drive in listed:
            self.drive_combo.addItem(self._drive_text(drive), str(drive.path))
            self.drive_combo.setItemData(
                self.drive_combo.count() - 1, str(drive.path), Qt.ItemDataRole.ToolTipRole
            )
        if not listed:
            self.drive_combo.addItem(self.tr("没有找到U盘：请插入U盘后点“刷新”，或点“选择文件夹…”"))
        index = next((i for i, d in enumerate(listed) if d.path == keep), 0)
        self.drive_combo.setCurrentIndex(index)
        self.drive_combo.setEnabled(bool(listed))
        self.drive_combo.blockSignals(False)
        self._drive_changed()

    def _drive_text(self, drive: D.Drive) -> str:
        if drive.removable:
            text = self.tr("{name} — 可用 {free}，共 {total}").format(
                name=drive.name(), free=D.size_text(drive.free), total=D.size_text(drive.total)
            )
        else:
            text = self.tr("文件夹 {path} — 可用 {free}").format(
                path=str(drive.path), free=D.size_text(drive.free)
            )
        if drive.filesystem:
            text += self.tr("（{fs}）").format(fs=drive.filesystem.upper())
        if drive.read_only:
            text += self.tr("，只读")
        return text

    def current_drive(self) -> D.Drive | None:
        index = self.drive_combo.currentIndex()
        return self.drives[index] if 0 <= index < len(self.drives) else None

    def _drive_changed(self, _index: int = -1) -> None:
        self._show_room(self.current_drive())
        self._refresh_answers()

    def _refresh_answers(self) -> None:
        """The bureau's answers on the chosen stick, keeping the one chosen."""
        drive = self.current_drive()
        school = self.state.school_code if self.state is not None else ""
        device = self.state.device_id if self.state is not None else ""
        found = answer_files(drive.path, school, device) if drive is not None else []
        shown = [self.answer_combo.itemData(i) for i in range(self.answer_combo.count())]
        if shown != [str(a.path) for a in found] or not found:
            chosen = self.answer_combo.currentData()
            self.answer_combo.clear()
            for answer in found:
                name = answer.path.name
                if answer.parts > 1:
                    name = self.tr("{stem}（{n} 个分卷）").format(
                        stem=P.stem_of(answer.path), n=answer.parts
                    )
                self.answer_combo.addItem(name, str(answer.path))
            if not found:
                self.answer_combo.addItem(self.tr("这个U盘上没有教育局的答复文件"))
            index = self.answer_combo.findData(chosen) if chosen is not None else -1
            self.answer_combo.setCurrentIndex(max(0, index))
        self._update_buttons()

    def _show_room(self, drive: D.Drive | None) -> None:
        if drive is None:
            self.room_label.setText("")
            return
        problem = D.room_problem(drive, self.state.needed) if self.state is not None else None
        if problem is not None:
            self.room_label.setText(
                _rich(
                    [
                        f"<b>{html.escape(problem.message_zh)}</b>",
                        html.escape(problem.message_en),
                    ],
                    PROBLEM_COLOUR,
                )
            )
            return
        if self.state is not None:
            text = self.tr("可用 {free}，这次导出最多约需 {needed}。").format(
                free=D.size_text(drive.free), needed=D.size_text(self.state.needed)
            )
        else:
            text = self.tr("可用 {free}").format(free=D.size_text(drive.free))
        self.room_label.setText(_rich([html.escape(text)], QUIET_COLOUR))

    def _update_buttons(self) -> None:
        drive = self.current_drive()
        busy = bool(self._busy)
        state = self.state
        room_ok = (
            drive is not None and state is not None and D.room_problem(drive, state.needed) is None
        )
        self.export_button.setEnabled(not busy and room_ok and state is not None and state.enrolled)
        self.import_button.setEnabled(
            not busy
            and self.answer_combo.currentData() is not None
            and bool(state and state.enrolled)
        )
        for w in (self.refresh_button, self.folder_button, self.other_button, self.drive_combo):
            w.setEnabled(not busy and (w is not self.drive_combo or bool(self.drives)))
        self.close_button.setEnabled(not busy)

    # -- choosing by hand -------------------------------------------------------------------------------

    def _choose_folder(self) -> None:
        drive = self.current_drive()
        start = str(drive.path) if drive is not None else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, self.tr("选择U盘或文件夹"), start)
        if folder:
            self.use_folder(Path(folder))

    def use_folder(self, folder: Path) -> None:
        """A folder chosen by hand: offered beside the sticks, and chosen."""
        try:
            self._chosen = D.describe_folder(folder)
        except OSError as exc:
            self.show_error(D.os_error(exc, folder, writing=True))
            return
        listed = [d for d in self.drives if d.removable]
        if not any(d.path == folder for d in listed):
            listed.append(self._chosen)
        self.drives = []  # _show_drives keeps the current one; this one is wanted instead
        self._show_drives(listed)
        self.drive_combo.setCurrentIndex(next(i for i, d in enumerate(listed) if d.path == folder))

    def _choose_answer(self) -> None:
        drive = self.current_drive()
        start = str(drive.path) if drive is not None else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("选择教育局的答复文件"),
            start,
            self.tr("U盘同步文件 (*{suffix})").format(suffix=U.SUFFIX),
        )
        if path:
            self.import_file(Path(path))

    # -- export -----------------------------------------------------------------------------------------

    def export(self) -> None:
        drive = self.current_drive()
        if drive is None or self._busy:
            return
        if not self._hold("export"):
            return
        self._start("export")
        self._export_drive = drive
        ctx = self.ctx
        report, steps = self._phase.emit, self._steps.emit
        part_bytes = self.part_bytes
        self._run(
            lambda: export_to(ctx, drive, report, steps, part_bytes=part_bytes), self._exported
        )

    def _run(self, work: Callable[[], Any], on_done: Callable[[Any], None]) -> None:
        """`work` on the network pool; a refusal (BundleError) comes back as a result, in plain words and
        with no traceback in the log, a failure of the program as an error."""

        def job() -> Any:
            try:
                return work()
            except U.BundleError as exc:
                log.info("USB sync refused: %s", exc)
                return exc

        def done(result: Any) -> None:
            if isinstance(result, U.BundleError):
                self._failed(result)
            else:
                on_done(result)

        self.tasks.run_net(job, on_done=done, on_error=self._failed)

    def _exported(self, done: ExportResult) -> None:
        self._finish()
        if not isValid(self):
            return
        lines = [
            "<b>" + html.escape(self.tr("已写入并校验，可以安全拔出U盘。")) + "</b>",
            *self._file_lines(done.paths or [done.path]),
            html.escape(
                self.tr("共 {n} 条修改（{b} 批）、{a} 个照片和文件，在U盘“{where}”。").format(
                    n=done.changes,
                    b=done.batches,
                    a=done.attachments,
                    where=self._export_drive.name() if self._export_drive else "",
                )
            ),
            html.escape(
                self.tr(
                    "请把U盘带到县教育局导入；带回答复文件后，在这里点“导入教育局答复”。"
                    "导入答复之前，这些修改仍算“待发送”。"
                )
            ),
        ]
        self.message.setText(_rich(lines, OK_COLOUR))
        self.exported.emit(done)
        self.reload()
        self.idle.emit()

    def _file_lines(self, paths: list[Path]) -> list[str]:
        if len(paths) == 1:
            return [html.escape(self.tr("文件：{name}").format(name=paths[0].name))]
        lines = [
            html.escape(
                self.tr("文件分成 {n} 个分卷（FAT32 的U盘一个文件最大 4 GB），请全部带上：").format(
                    n=len(paths)
                )
            )
        ]
        shown = paths if len(paths) <= 4 else [*paths[:3], paths[-1]]
        for i, path in enumerate(shown):
            if len(paths) > 4 and i == 3:
                lines.append("&nbsp;&nbsp;…")
            lines.append(f"&nbsp;&nbsp;· {html.escape(path.name)}")
        return lines

    # -- import -----------------------------------------------------------------------------------------

    def import_selected(self) -> None:
        data = self.answer_combo.currentData()
        if data:
            self.import_file(Path(str(data)))

    def import_file(self, path: Path) -> None:
        if self._busy or not self._hold("import", path):
            return
        self._start("import")
        ctx = self.ctx
        report, steps = self._phase.emit, self._steps.emit
        watched = list(self.sync.watched()) if self.sync is not None else []
        remove_done = self.remove_done_box.isChecked()
        self._run(
            lambda: import_from(ctx, path, report, steps, watched=watched, remove_done=remove_done),
            self._imported,
        )

    def _imported(self, done: ImportDone) -> None:
        self._finish()
        if not isValid(self):
            return
        english = lang.language() == "en"
        lines: list[str] = []
        colour = OK_COLOUR
        for line in done.lines():
            text = html.escape(line.en if english else line.zh)
            if line.kind == "head":
                lines.append(f"<b>{text}</b>")
            elif line.kind == "item":
                lines.append(f"&nbsp;&nbsp;· {text}")
                if line.en != line.zh and not english and colour == PROBLEM_COLOUR:
                    lines.append(
                        f'&nbsp;&nbsp;&nbsp;&nbsp;<span style="color:{QUIET_COLOUR}">'
                        f"{html.escape(line.en)}</span>"
                    )
            elif line.kind == "problem":
                colour = PROBLEM_COLOUR
                lines.append(f"<b>{text}</b>")
            else:
                lines.append(text)
        if done.removed:
            lines.append(
                html.escape(
                    self.tr("已从U盘删除处理完的文件：{names}").format(
                        names="、".join(p.name for p in done.removed)
                    )
                )
            )
        elif done.done_files:
            lines.append(
                html.escape(
                    self.tr("U盘上这些文件已处理完，可以删除：{names}").format(
                        names="、".join(p.name for p in done.done_files)
                    )
                )
            )
        self.message.setText(_rich(lines, colour))
        self.imported.emit(done)
        self.reload()
        self.idle.emit()

    # -- running ----------------------------------------------------------------------------------------

    def _hold(self, what: str, path: Path | None = None) -> bool:
        """Keep online syncs off; while one runs, say so and start when it ends."""
        if self.sync is None or self.sync.hold():
            return True
        self._busy = f"wait-{what}"
        self._waiting_path = path
        self.progress.setVisible(True)
        self.message.setText(
            _rich([html.escape(self.tr("正在联网同步，同步结束后自动开始…"))], QUIET_COLOUR)
        )
        self._update_buttons()
        return False

    def _sync_idle(self) -> None:
        if not isValid(self) or not self._busy.startswith("wait-"):
            return
        what = self._busy[len("wait-") :]
        self._busy = ""
        if what == "export":
            self.export()
        elif self._waiting_path is not None:
            self.import_file(self._waiting_path)

    def _start(self, what: str) -> None:
        self._busy = what
        self._poll.stop()
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self._show_phase("check" if what == "export" else "read")
        self._update_buttons()

    def show_hint(self) -> None:
        """What to do, until something was done."""
        self.message.setText(
            _rich(
                [
                    html.escape(
                        self.tr(
                            "插入U盘，在上面选择它，再点“导出到U盘”。写完并校验后会告诉您可以拔出U盘。"
                        )
                    ),
                    html.escape(
                        self.tr(
                            "从教育局带回U盘后，选择其中的答复文件，点“导入教育局答复”：已送达的记录"
                            "记为已发送，退回的放到“待办”。"
                        )
                    ),
                ],
                QUIET_COLOUR,
            )
        )

    def _show_steps(self, done: int, total: int) -> None:
        """How far the export or import is (a busy bar until the first step says how much there is)."""
        if self._busy and total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def _show_phase(self, phase: str) -> None:
        texts = {
            "check": self.tr("正在检查U盘…"),
            "write": self.tr("正在写入U盘并读回校验，请不要拔出U盘…"),
            "read": self.tr("正在读取并导入答复文件，请不要拔出U盘…"),
        }
        self.message.setText(_rich([html.escape(texts.get(phase, phase))], QUIET_COLOUR))

    def _finish(self) -> None:
        self._busy = ""
        if self.sync is not None:
            self.sync.release()
        if not isValid(self):
            return
        self.progress.setVisible(False)
        self._update_buttons()
        if self.poll_ms > 0:
            self._poll.start(self.poll_ms)

    def _failed(self, exc: Exception) -> None:
        self._finish()
        if isValid(self):
            self.show_error(exc)
            self.reload()
            self.idle.emit()

    def show_error(self, exc: BaseException) -> None:
        """Chinese first, the English beneath; a bug says what failed."""
        zh = getattr(exc, "message_zh", None)
        en = getattr(exc, "message_en", None)
        if not zh:
            log.error("USB sync failed: %r", exc)
            zh = self.tr("程序出错：{e}").format(e=str(exc) or type(exc).__name__)
            en = f"the program failed: {exc!r}"
        lines = [f"<b>{html.escape(str(zh))}</b>"]
        if en:
            lines.append(f'<span style="color:{QUIET_COLOUR}">{html.escape(str(en))}</span>')
        self.message.setText(_rich(lines, PROBLEM_COLOUR))

    def message_text(self) -> str:
        """The message as plain text (tests, accessibility)."""
        doc = QTextDocument()
        doc.setHtml(self.message.text())
        return doc.toPlainText()

    def busy(self) -> bool:
        return bool(self._busy)

    # -- closing ----------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._busy and not self._busy.startswith("wait-"):
            event.ignore()  # writing to the stick: closing now would leave the clerk unsure
            return
        if self._busy:
            self._busy = ""  # waiting for a sync: nothing started
        self._poll.stop()
        super().closeEvent(event)

    def reject(self) -> None:
        if self._busy and not self._busy.startswith("wait-"):
            return  # Esc while writing
        self._busy = ""
        self._poll.stop()
        super().reject()
