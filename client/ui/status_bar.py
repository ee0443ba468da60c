"""The status bar: the sync state in plain words (上次同步：今天 10:32 / 无法连接服务器（10:40），稍后自动重试),
what needs the clerk (需处理), what waits to be sent (待发送), a progress bar during long syncs and 立即同步.

It only shows what it is given (client.ui.sync_controller decides when to sync), and what the update channel
left in the data folder (client/update/state.py): 新版本 0.3.0 已下载，下次启动时安装, or once after a rollback
新版本 0.3.0 启动失败，已退回 0.2.0 (for the rest of that run of the program)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget

from client.store.sync_state import SyncStatus
from client.sync.state import Phase, SyncProgress
from client.update.state import note_rollback_told, update_notice

log = logging.getLogger(__name__)

PROBLEM_COLOUR = "#c62828"
WAIT_COLOUR = "#b35c00"
QUIET_COLOUR = "#555"
# Problems the status line says in full (the others: a headline, and the reason on a click).
_LINE_SAYS_ALL = frozenset({"auth", "disk_full", "network", "server"})
LINK_COLOUR = "#1f5fa8"
NEWS_COLOUR = "#2e7d32"  # a new version is ready: good news, not a link


class ClickableLabel(QLabel):
    """A label that says `clicked` when it is clickable (a pointing hand shows it)."""

    clicked = Signal()

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._clickable = False

    def set_clickable(self, on: bool) -> None:
        self._clickable = on
        self.setCursor(Qt.CursorShape.PointingHandCursor if on else Qt.CursorShape.ArrowCursor)

    def is_clickable(self) -> bool:
        return self._clickable

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._clickable and event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)


def _local(value: dt.datetime) -> dt.datetime:
    """Stored times are naive UTC; the clerk reads the PC's local time."""
    return value.replace(tzinfo=dt.UTC).astimezone()


def _size(n: int) -> str:
    """Bytes as the clerk reads them: 120 KB, 1.5 MB (1024-based, as Windows shows file sizes)."""
    if n < 1024 * 1024:
        return f"{max(0, n) / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def _short_name(name: str, most: int = 24) -> str:
    """A long file name keeps its start and its extension: 第三教学楼东侧…裂缝.jpg."""
    if len(name) <= most:
        return name
    stem, dot, ext = name.rpartition(".")
    tail = (dot + ext) if stem and len(ext) <= 5 else ""
    return name[: most - len(tail) - 1] + "…" + tail


def parse_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


class StatusBar(QStatusBar):
    sync_requested = Signal()  # 立即同步
    # 连接服务器: not enrolled, or the server no longer accepts this PC.
    connect_requested = Signal()
    problem_requested = Signal()  # the server refused the last sync: show the whole reason
    issues_requested = Signal()  # 需处理: show the 待办 page

    progress_delay_ms = 1500  # the progress bar shows when a sync takes longer than this

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        self.setStyleSheet("QStatusBar::item { border: none; }")
        # The sync state; "未连接服务器" until the sync controller has read it.
        self.sync_label = ClickableLabel(self.tr("未连接服务器"))
        self.sync_label.setObjectName("syncStatus")
        self.sync_label.setToolTip(self.tr("与县教育局服务器的同步状态"))
        self.sync_label.setMinimumWidth(220)
        self.sync_label.clicked.connect(self._sync_label_clicked)
        self.issues_label = ClickableLabel()
        self.issues_label.setObjectName("syncIssues")
        self.issues_label.setToolTip(
            self.tr("教育局没有接收、或与教育局的版本冲突的记录，请到“待办”处理")
        )
        self.issues_label.setStyleSheet(f"color: {PROBLEM_COLOUR}; font-weight: bold;")
        self.issues_label.set_clickable(True)
        self.issues_label.clicked.connect(lambda: self.issues_requested.emit())
        self.issues_label.setVisible(False)
        self.update_label = (
            QLabel()
        )  # a new version downloaded, or one that failed and was rolled back
        self.update_label.setObjectName("updateNotice")
        self.update_label.setVisible(False)
        self.pending_label = QLabel()
        self.pending_label.setObjectName("outboxCount")
        self.pending_label.setToolTip(self.tr("已提交、还没有发送到教育局的修改"))
        self.progress = QProgressBar()
        self.progress.setObjectName("syncProgress")
        self.progress.setFixedWidth(160)
        self.progress.setMaximumHeight(16)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.sync_button = QPushButton(self.tr("立即同步"))
        self.sync_button.setObjectName("syncNow")
        self.sync_button.setToolTip(self.tr("现在就与县教育局服务器同步（F9）"))
        self.sync_button.clicked.connect(self._sync_clicked)
        self.sync_button.setVisible(False)  # until the sync controller reports
        for label in (self.update_label, self.sync_label, self.issues_label, self.pending_label):
            label.setContentsMargins(8, 0, 8, 0)
        for w in (
            self.update_label,
            self.sync_label,
            self.issues_label,
            self.pending_label,
            self.progress,
            self.sync_button,
        ):
            self.addPermanentWidget(w)
        self._enrolled = False
        self._running = False
        self._status: SyncStatus | None = None
        self._updates: tuple[Path, str] | None = (
            None  # (data folder, running version): watch_updates
        )
        self._rolled_back: str | None = None  # the rollback told of in this run
        self._long = QTimer(self)
        self._long.setSingleShot(True)
        self._long.timeout.connect(self._show_progress_bar)
        self.set_pending(0)

    # -- what waits -----------------------------------------------------------------------------------

    def set_pending(self, n: int) -> None:
        self.pending_label.setText(self.tr("待发送：{n} 条").format(n=n))
        self.pending_label.setStyleSheet(
            f"color: {WAIT_COLOUR}; font-weight: bold;" if n else f"color: {QUIET_COLOUR};"
        )

    def set_sync_state(self, text: str) -> None:
        self.sync_label.setText(text)

    # -- updates --------------------------------------------------------------------------------------

    def watch_updates(self, data_dir: Path, running: str | None = None) -> None:
        """Say what the update channel left in `data_dir` now and after each sync (`running`: this version)."""
        if running is None:
            from client.sync.engine import app_version

            running = app_version()
        self._updates = (Path(data_dir), running)
        self.refresh_update_notice()

    def refresh_update_notice(self) -> None:
        if self._updates is None:
            return
        data_dir, running = self._updates
        try:
            notice = update_notice(data_dir, running)
            if notice is not None and notice[0] == "rolled_back":
                self._rolled_back = notice[1]
                note_rollback_told(data_dir, notice[1])  # said in this run, not at the next start
        except OSError:
            log.warning("the update state in %s cannot be read", data_dir, exc_info=True)
            notice = None
        label = self.update_label
        # A newer version staged since the rollback is news; the same one staged again for another try is not.
        newer = notice is not None and notice[0] == "staged" and notice[1] != self._rolled_back
        if newer and notice is not None:
            label.setText(
                self.tr("新版本 {version} 已下载，下次启动时安装").format(version=notice[1])
            )
            label.setToolTip(
                self.tr("已核对教育局的签名。关闭本程序、再次打开时安装；数据不受影响。")
            )
            label.setStyleSheet(f"color: {NEWS_COLOUR};")
        elif self._rolled_back is not None:
            label.setText(
                self.tr("新版本 {version} 启动失败，已退回 {running}").format(
                    version=self._rolled_back, running=running
                )
            )
            label.setToolTip(
                self.tr(
                    "新版本第一次启动没有成功，已自动换回原来的版本并报告教育局；数据不受影响。"
                )
            )
            label.setStyleSheet(f"color: {WAIT_COLOUR}; font-weight: bold;")
        label.setVisible(notice is not None or self._rolled_back is not None)

    def _watch_window_updates(self) -> None:
        """The main window's data folder, once it has one (its ctx, after attach)."""
        ctx = getattr(self.window(), "ctx", None)
        store = getattr(ctx, "store", None)
        data_dir = getattr(store, "data_dir", None)
        if isinstance(data_dir, Path):
            self.watch_updates(data_dir)

    # -- the sync state -------------------------------------------------------------------------------

    def set_sync_status(
        self, status: SyncStatus, *, now: dt.datetime, auto_retry: bool, running: bool = False
    ) -> None:
        """Show the stored sync state (read after each sync); `now` is the clock's naive UTC time."""
        self._status = status
        self._enrolled = status.enrolled
        self._running = running
        if self._updates is None:
            self._watch_window_updates()
        elif not running:
            self.refresh_update_notice()  # a sync may have staged a new version
        self.sync_button.setVisible(True)
        self.sync_button.setEnabled(not running)
        self.set_pending(status.pending)
        issues = status.conflicts + status.rejected + status.attachment_problems
        self.issues_label.setText(self.tr("需处理：{n} 条").format(n=issues))
        self.issues_label.setVisible(issues > 0)
        if running:
            return  # "正在同步…" stays until the sync ends
        text, colour, clickable = self._describe(status, now=now, auto_retry=auto_retry)
        self.sync_label.setText(text)
        self.sync_label.setStyleSheet(f"color: {colour};")
        self.sync_label.set_clickable(clickable)
        self.sync_label.setToolTip(self._details(status, now=now))

    def _describe(
        self, status: SyncStatus, *, now: dt.datetime, auto_retry: bool
    ) -> tuple[str, str, bool]:
        """(text, colour, clickable)"""
        if not status.enrolled:
            return self.tr("尚未连接教育局服务器 — 点击连接"), LINK_COLOUR, True
        last = (
            self.tr("上次同步：{when}").format(when=self.when(status.last_sync_at, now))
            if status.last_sync_at is not None
            else ""
        )
        usb = status.last_usb_sync_at
        if usb is not None and (status.last_sync_at is None or usb > status.last_sync_at):
            # Synced by stick since (or only ever): no connection to the server is claimed.
            last = self.tr("上次U盘同步：{when}").format(when=self.when(usb, now))
        problem = status.last_problem
        if problem:
            at = parse_time(problem.get("at"))
            time = self.when(at, now, short=True) if at is not None else ""
            kind = str(problem.get("kind") or "")
            if kind == "auth":
                text = self.tr("服务器不再接受本机（{time}）— 点击重新连接").format(time=time)
                return text, PROBLEM_COLOUR, True
            if kind == "disk_full":
                text = self.tr("本机磁盘已满，同步未完成（{time}）— 请清理磁盘空间")
                text = text.format(time=time)
                return (f"{last} · {text}" if last else text), PROBLEM_COLOUR, False
            if kind in ("network", "server"):
                text = (
                    self.tr("无法连接服务器（{time}）").format(time=time)
                    if kind == "network"
                    else self.tr("服务器暂时无法处理（{time}）").format(time=time)
                )
                if auto_retry:
                    text += self.tr("，稍后自动重试")
            else:
                # A headline that fits; the whole reason (both languages) is one click away.
                text = self._refusal_headline(str(problem.get("code") or ""), time)
                return (f"{last} · {text}" if last else text), PROBLEM_COLOUR, True
            return (f"{last} · {text}" if last else text), PROBLEM_COLOUR, False
        if last:
            return last, QUIET_COLOUR, False
        # Enrolled (perhaps from a file, with no link ever): no connection is claimed.
        return self.tr("已登记，还没有同步过"), QUIET_COLOUR, False

    def _refusal_headline(self, code: str, time: str) -> str:
        if code == "certificate_mismatch":
            return self.tr("证书不符，同步已停止（{time}）— 点击查看").format(time=time)
        if code == "certificate_untrusted":
            return self.tr("服务器证书不受信任，同步已停止（{time}）— 点击查看").format(time=time)
        return self.tr("服务器拒绝了同步（{time}）— 点击查看").format(time=time)

    def refused_problem(self) -> dict[str, object] | None:
        """The last problem when the server refused the sync (what a click on the line explains)."""
        status = self._status
        problem = status.last_problem if status is not None and status.enrolled else None
        if not problem or str(problem.get("kind") or "") in _LINE_SAYS_ALL:
            return None
        return dict(problem)

    def _sync_label_clicked(self) -> None:
        if self.refused_problem() is not None:
            self.problem_requested.emit()
        else:
            self.connect_requested.emit()

    def _details(self, status: SyncStatus, *, now: dt.datetime) -> str:
        if not status.enrolled:
            return self.tr(
                "本机还没有连接县教育局服务器。点击这里，输入教育局给的服务器地址和登记码。"
            )
        lines = [
            self.tr("服务器：{url}").format(url=status.server_url or ""),
            self.tr("学校：{name}（{code}）").format(
                name=status.school_name or "", code=status.school_code or ""
            ),
            self.tr("上次成功同步：{when}").format(
                when=self.when(status.last_sync_at, now)
                if status.last_sync_at
                else self.tr("还没有")
            ),
        ]
        if status.last_usb_sync_at is not None:
            lines.append(
                self.tr("上次U盘同步：{when}").format(when=self.when(status.last_usb_sync_at, now))
            )
        problem = status.last_problem
        if problem:
            at = parse_time(problem.get("at"))
            lines.append(
                self.tr("上次的问题（{when}）：{message}").format(
                    when=self.when(at, now) if at else "",
                    message=str(problem.get("message_zh") or ""),
                )
            )
        return "\n".join(lines)

    def when(self, at: dt.datetime | None, now: dt.datetime, *, short: bool = False) -> str:
        """今天 10:32 / 昨天 18:05 / 11月26日 18:05 / 2025年11月26日 (short: 10:32 when today)."""
        if at is None:
            return ""
        local, today = _local(at), _local(now).date()
        clock = local.strftime("%H:%M")
        if local.date() == today:
            return clock if short else self.tr("今天 {time}").format(time=clock)
        if local.date() == today - dt.timedelta(days=1):
            return self.tr("昨天 {time}").format(time=clock)
        if local.year == today.year:
            return self.tr("{m}月{d}日 {time}").format(m=local.month, d=local.day, time=clock)
        return self.tr("{y}年{m}月{d}日").format(y=local.year, m=local.month, d=local.day)

    # -- a sync running -------------------------------------------------------------------------------

    def sync_started(self) -> None:
        self._running = True
        self.sync_button.setVisible(True)
        self.sync_button.setEnabled(False)
        self.sync_label.setText(self.tr("正在同步…"))
        self.sync_label.setStyleSheet(f"color: {QUIET_COLOUR};")
        self.sync_label.set_clickable(False)
        self.progress.setRange(0, 0)  # busy until a step says how far it is
        self._long.start(self.progress_delay_ms)

    def sync_progress(self, p: SyncProgress) -> None:
        if not self._running:
            return
        total = p.total or 0
        if p.phase is Phase.ATTACHMENTS and p.item:
            # Which file, and how much of it the server holds (a resumed upload starts where it stopped).
            text = self.tr("正在上传“{name}”：{done} / {total}").format(
                name=_short_name(p.item), done=_size(p.item_done), total=_size(p.item_total)
            )
        elif p.phase is Phase.ATTACHMENTS:
            text = self.tr("正在同步：上传照片和文件 {done}/{total} MB").format(
                done=f"{p.done / 1e6:.1f}", total=f"{total / 1e6:.1f}"
            )
        elif p.phase is Phase.PUSH:
            text = self.tr("正在同步：已发送 {done}/{total} 条").format(done=p.done, total=total)
        else:
            text = self.tr("正在同步：已收到 {n} 条更新").format(n=p.done)
        self.sync_label.setText(text)
        if total > 0:
            scale = max(1, total // 1_000_000)  # QProgressBar counts in int
            self.progress.setRange(0, total // scale)
            self.progress.setValue(min(p.done, total) // scale)
        else:
            self.progress.setRange(0, 0)

    def _show_progress_bar(self) -> None:
        if self._running:
            self.progress.setVisible(True)

    def sync_ended(self) -> None:
        self._running = False
        self._long.stop()
        self.progress.setVisible(False)
        self.sync_button.setEnabled(True)

    def is_running(self) -> bool:
        return self._running

    def _sync_clicked(self) -> None:
        if self._enrolled:
            self.sync_requested.emit()
        else:
            self.connect_requested.emit()
