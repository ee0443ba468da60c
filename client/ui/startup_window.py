"""The small window shown while the client starts: at once (before the store opens and the main window is
built), saying 正在打开…; when the store needs a long migration (the first start after an update), it says
so, with a busy bar, and the clerk knows not to close the program or start it again.

A second start while a migration runs is told so instead of racing it: the migrating program holds
<data>/upgrade.lock (filelock) for the migration's length, and a program that finds it held gives up with
UpgradeUnderWay (app.py says it in a box and exits).

The language setting is in the store, which is not open yet: the window speaks Chinese, then English.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QProgressBar, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from filelock import FileLock

log = logging.getLogger(__name__)
T = TypeVar("T")

UPGRADE_LOCK = "upgrade.lock"
TITLE = "学校数据采集客户端"
OPENING = "正在打开…"
UPGRADING = "正在升级本机数据（只在本次更新后进行一次），请不要关闭程序…"
UPGRADING_EN = (
    "Updating the data on this PC (once, after this update). Please do not close the program."
)
POLL_MS = 30


class UpgradeUnderWay(Exception):
    """Another program on this data folder is migrating the store (message_zh/message_en as StoreError's;
    this module imports nothing of the store: it shows before the store's modules load)."""

    message_zh = (
        "本机数据正在由已经打开的程序升级（只在本次更新后进行一次），请等它完成，不要再次启动程序。"
    )
    message_en = (
        "The data on this PC is being updated by the program already started (once, after this "
        "update); please wait for it to finish and do not start the program again."
    )

    def __init__(self) -> None:
        super().__init__(f"{self.message_zh} / {self.message_en}")


class StartupWindow(QWidget):
    """A window of its own (parent None: the first start after this update, whose language is not yet known,
    see client/ui/app.py), or the main window's page until its pages are built (parent: the main window)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        flags = (
            Qt.WindowType.Window
            | Qt.WindowType.CustomizeWindowHint
            | Qt.WindowType.WindowTitleHint  # no close button: closing would not stop the work
        )
        super().__init__(parent, flags if parent is None else Qt.WindowType.Widget)
        self.setObjectName("startupWindow" if parent is None else "openingPage")
        self.setWindowTitle(TITLE)
        layout = QVBoxLayout(self)
        if parent is None:
            self.setMinimumWidth(520)
            layout.setContentsMargins(28, 24, 28, 24)
        else:  # in the middle of the page, no wider than the window's box was
            layout.setContentsMargins(0, 0, 0, 0)
            layout.addStretch(1)
        title = QLabel(TITLE)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        title.setFont(font)
        self.message = QLabel(OPENING)
        self.message.setObjectName("startupMessage")
        self.message.setWordWrap(True)
        self.english = QLabel()
        self.english.setWordWrap(True)
        self.english.setStyleSheet("color: #666666")
        self.english.hide()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # a busy bar: Alembic does not say how far a migration has got
        self.busy.setTextVisible(False)
        self.busy.hide()
        layout.addWidget(title)
        layout.addWidget(self.message)
        layout.addWidget(self.english)
        layout.addWidget(self.busy)
        if parent is not None:
            layout.addStretch(2)
            for w in (title, self.message, self.english, self.busy):
                w.setMaximumWidth(560)
                layout.setAlignment(w, Qt.AlignmentFlag.AlignHCenter)

    @property
    def upgrading(self) -> bool:
        return self.busy.isVisible()

    def show_upgrading(self) -> None:
        self.message.setText(UPGRADING)
        self.english.setText(UPGRADING_EN)
        self.english.show()
        self.busy.show()
        if self.isWindow():
            self.adjustSize()


@contextmanager
def upgrade_lock(data_dir: Path, on_start: Callable[[], None]) -> Iterator[None]:
    """In this thread, each migration holds <data>/upgrade.lock while it runs and calls on_start first.
    UpgradeUnderWay when another program holds it: at once, before the store is touched (its reads would
    wait for the migration's transaction, up to the busy timeout, with nothing said), or when a migration is
    about to run."""

    from filelock import (  # here, on the thread opening the store (it imports asyncio)
        FileLock,
        Timeout,
    )

    def held_here() -> FileLock:
        lock = FileLock(data_dir / UPGRADE_LOCK)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise UpgradeUnderWay() from None
        return lock

    if (data_dir / UPGRADE_LOCK).exists():
        held_here().release()  # a migration by another program runs: UpgradeUnderWay

    @contextmanager
    def guard(target: str) -> Iterator[None]:
        lock = held_here()
        try:
            log.info("the store needs migrating to %s: the start-up window says so", target)
            on_start()
            yield
        finally:
            lock.release()

    from client.store import migrate

    with migrate.guarded(guard):
        yield


def run_beside(window: StartupWindow | None, data_dir: Path, work: Callable[[], T]) -> T:
    """work() (opening the store) on a thread while the window stays painted and answers; a migration it
    starts turns the window to 正在升级本机数据…. Its exception is raised here."""
    upgrading = threading.Event()
    result: Future[T] = Future()

    def run() -> None:
        try:
            with upgrade_lock(data_dir, upgrading.set):
                result.set_result(work())
        except BaseException as exc:
            result.set_exception(exc)

    thread = threading.Thread(target=run, name="open-store", daemon=True)
    thread.start()
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(POLL_MS)

    def poll() -> None:
        if window is not None and upgrading.is_set() and not window.upgrading:
            window.show_upgrading()
        if result.done():
            loop.quit()

    timer.timeout.connect(poll)
    timer.start()
    poll()
    if not result.done():
        loop.exec()
    timer.stop()
    thread.join()
    return result.result()


def show_startup_window() -> StartupWindow:
    window = StartupWindow()
    window.show()
    QApplication.processEvents()  # painted now: the store and the main window take a while
    return window
