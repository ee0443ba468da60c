"""One way to run work off the GUI thread: database work on one worker thread, results back by signal.

    tasks.run_db(fn, on_done=..., on_error=...)

fn runs on the database thread (it opens its own Session); on_done(result) / on_error(exc) run on the GUI
thread. Background code never touches widgets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from client.store.records import StoreError

log = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.relay = relay

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # reported to the GUI thread, which shows it in plain words
            if isinstance(
                exc, StoreError
            ):  # refused input (a staff number in use): no bug, no traceback
                log.info("refused: %s / %s", exc.message_zh, exc.message_en)
            else:
                log.exception("background task failed")
            self.relay.failed.emit(exc)
            return
        self.relay.done.emit(result)


class TaskManager(QObject):
    """Owns the database thread (one thread: SQLite has one writer) and a pool for network work."""

    finished = Signal()  # after each task's callback ran; tests wait on it

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db_pool = QThreadPool(self)
        self.db_pool.setMaxThreadCount(1)
        self.net_pool = QThreadPool(self)
        self.net_pool.setMaxThreadCount(2)
        self._relays: set[_Relay] = set()

    def _submit(
        self,
        pool: QThreadPool,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[Exception], None] | None,
    ) -> None:
        relay = _Relay()
        self._relays.add(relay)

        def finish() -> None:
            self._relays.discard(relay)
            relay.deleteLater()
            self.finished.emit()

        def done(result: Any) -> None:
            try:
                if on_done is not None:
                    on_done(result)
            finally:
                finish()

        def failed(exc: Exception) -> None:
            try:
                if on_error is not None:
                    on_error(exc)
            finally:
                finish()

        relay.done.connect(done)
        relay.failed.connect(failed)
        pool.start(_Job(fn, relay))

    def run_db(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._submit(self.db_pool, fn, on_done, on_error)

    def run_net(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._submit(self.net_pool, fn, on_done, on_error)

    def wait(self, msecs: int = 30000) -> None:
        self.db_pool.waitForDone(msecs)
        self.net_pool.waitForDone(msecs)
