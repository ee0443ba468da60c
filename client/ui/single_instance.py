"""One window per data folder (issue 16 retest N9). Two windows on one store would each keep their own
view of it, sync at once and race the daily backup and an update's install; a second click on the desktop
icon (or a second start during an update's handover) is the usual way to get there.

The window holds `<data>/window.lock` (QLockFile: released when its process ends, even by a crash - a lock
whose process is gone is stale and taken over) and listens on a local socket named after the data folder.
A start that finds the lock held asks that window to come to the front and exits, saying 程序已经打开
(client/cli.py does this before anything else, so that a second start neither opens the store nor installs
a staged update under the open window).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QLockFile
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

LOCK_NAME = "window.lock"
SHOW = b"show\n"
CONNECT_MS = 2000


def server_name(data_dir: Path) -> str:
    """The local socket's name: one per data folder (its full path), per user."""
    where = str(Path(data_dir).resolve())
    if sys.platform == "win32":
        where = where.lower()
    user = os.environ.get("USERNAME") or os.environ.get("USER") or ""
    digest = hashlib.sha256(f"{user}\0{where}".encode()).hexdigest()[:24]
    return f"school-client-{digest}"


class WindowGuard:
    """The data folder's window lock, and the socket on which a second start asks for the window."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.lock = QLockFile(str(self.data_dir / LOCK_NAME))
        self.lock.setStaleLockTime(0)  # never stale by age: only when its process is gone
        self.server: QLocalServer | None = None

    def acquire(self) -> bool:
        """True: this process holds the data folder's window now."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return bool(self.lock.tryLock(0))

    def listen(self, show: Callable[[], None]) -> None:
        """Call `show` on the GUI thread when another start asks for the window."""
        name = server_name(self.data_dir)
        QLocalServer.removeServer(name)  # a socket file left by a process that crashed
        server = QLocalServer()
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(name):
            log.warning(
                "the window cannot be asked for by a second start: %s", server.errorString()
            )
            return

        def asked() -> None:
            while (peer := server.nextPendingConnection()) is not None:
                peer.disconnected.connect(peer.deleteLater)
                peer.readyRead.connect(lambda p=peer: _read(p))

        def _read(peer: QLocalSocket) -> None:
            if bytes(peer.readAll().data()).startswith(SHOW.strip()):
                log.info("a second start asked for the window: brought to the front")
                show()
            peer.disconnectFromServer()

        server.newConnection.connect(asked)
        self.server = server

    def release(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
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


def ask_for_window(data_dir: Path) -> bool:
    """Ask the window open on `data_dir` to come to the front; False when it did not answer."""
    if (
        sys.platform == "win32"
    ):  # this process is in the foreground (just started): it may hand it on
        import ctypes

        ctypes.windll.user32.AllowSetForegroundWindow(-1)  # ASFW_ANY
    socket = QLocalSocket()
    socket.connectToServer(server_name(data_dir))
    if not socket.waitForConnected(CONNECT_MS):
        log.warning("the open window did not answer: %s", socket.errorString())
        return False
    socket.write(SHOW)
    if socket.bytesToWrite():
        socket.waitForBytesWritten(CONNECT_MS)
    done = socket.bytesToWrite() == 0
    socket.disconnectFromServer()
    return done


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
