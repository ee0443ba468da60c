"""One window per data folder (issue 16 retest N9). Two windows on one store would each keep their own
view of it, sync at once and race the daily backup and an update's install; a second click on the desktop
icon (or a second start during an update's handover) is the usual way to get there.

The window holds `<data>/window.lock` (QLockFile: released when its process ends, even by a crash - a lock
whose process is gone is stale and taken over) and watches the data folder (QFileSystemWatcher; QtCore only:
the bundle has no QtNetwork for a local socket). A start that finds the lock held puts `window.show` there;
the window takes it away and comes to the front; the start exits, saying 程序已经打开
(client/cli.py does this before anything else, so that a second start neither opens the store nor installs
a staged update under the open window).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QLockFile

log = logging.getLogger(__name__)

LOCK_NAME = "window.lock"
SHOW_FILE = (
    "window.show"  # a second start's request: the window takes it away and comes to the front
)
ANSWER_SECONDS = 3.0


class WindowGuard:
    """The data folder's window lock, and the watch on which a second start asks for the window."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.lock = QLockFile(str(self.data_dir / LOCK_NAME))
        self.lock.setStaleLockTime(0)  # never stale by age: only when its process is gone
        self.watcher: QFileSystemWatcher | None = None

    def acquire(self) -> bool:
        """True: this process holds the data folder's window now."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return bool(self.lock.tryLock(0))

    def listen(self, show: Callable[[], None]) -> None:
        """Call `show` on the GUI thread when another start asks for the window (it puts SHOW_FILE in the
        data folder; this window takes it away, which is the answer)."""
        asking = self.data_dir / SHOW_FILE
        asking.unlink(missing_ok=True)  # left by a start that was not answered
        watcher = QFileSystemWatcher([str(self.data_dir)])

        def changed(_path: str) -> None:
            try:
                asking.unlink()
            except FileNotFoundError:
                return
            except OSError as exc:
                log.warning("a second start's request %s cannot be taken: %s", asking, exc)
                return
            log.info("a second start asked for the window: brought to the front")
            show()

        watcher.directoryChanged.connect(changed)
        self.watcher = watcher

    def release(self) -> None:
        if self.watcher is not None:
            self.watcher.deleteLater()
            self.watcher = None
        self.lock.unlock()


def window_open_elsewhere(data_dir: Path) -> bool:
    """Whether another process holds this data folder's window (checked, not kept)."""
    if not (Path(data_dir) / LOCK_NAME).exists():
        return False
    probe = WindowGuard(data_dir)
    if probe.acquire():
        probe.release()
        return False
    return True


def ask_for_window(data_dir: Path, *, seconds: float = ANSWER_SECONDS) -> bool:
    """Ask the window open on `data_dir` to come to the front; False when it did not answer."""
    if (
        sys.platform == "win32"
    ):  # this process is in the foreground (just started): it may hand it on
        import ctypes

        ctypes.windll.user32.AllowSetForegroundWindow(-1)  # ASFW_ANY
    asking = Path(data_dir) / SHOW_FILE
    try:
        asking.write_text(f"{os.getpid()}\n", encoding="ascii")
    except OSError as exc:
        log.warning("the open window cannot be asked for: %s", exc)
        return False
    deadline = time.monotonic() + seconds
    while asking.exists():
        if time.monotonic() > deadline:
            asking.unlink(missing_ok=True)
            log.warning("the open window did not answer in %.0f s", seconds)
            return False
        time.sleep(0.05)
    return True


def already_open(data_dir: Path, *, show_dialog: bool) -> None:
    """A start that found the window open: it is asked to come to the front, and the clerk is told."""
    asked = ask_for_window(data_dir)
    zh = f"程序已经打开（数据文件夹 {data_dir}）"
    en = f"the program is already open (data folder {data_dir})"
    if asked:
        zh, en = f"{zh}，已切换到它的窗口", f"{en}: its window was brought to the front"
    else:
        zh, en = f"{zh}，请在任务栏中找到它的窗口", f"{en}: find its window in the taskbar"
    print(f"{zh} / {en}")
    if show_dialog and not asked:  # a desktop start has no console: say it in a box
        from PySide6.QtWidgets import QApplication, QMessageBox

        if QApplication.instance() is None:
            QApplication(sys.argv[:1])
        QMessageBox.information(None, "学校数据采集客户端", f"{zh}。\n\n{en}.")


def bring_to_front(window: object) -> None:
    """The window shown, restored if minimized, raised and activated."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QWidget

    if not isinstance(window, QWidget):
        return
    if window.windowState() & Qt.WindowState.WindowMinimized:
        window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()
