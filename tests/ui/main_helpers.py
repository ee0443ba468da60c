"""Helpers for the main-window tests: a client context on a fresh data folder with the clock at 2026-11-28,
the main window at 1366x768, and a way to wait until background work and its callbacks are done.
The fixtures built on them are in tests/ui/fixtures_main.py."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from client.clock import FixedClock
from client.context import ClientContext
from client.store.db import open_store
from client.store.formset import FormSet
from client.ui.main_window import MainWindow
from client.ui.tasks import TaskManager

NOW = dt.datetime(2026, 11, 28, 2, 0)  # naive UTC: 10:00 in China
TODAY = dt.date(2026, 11, 28)

_FORMS: FormSet | None = None


def shipped_forms() -> FormSet:
    global _FORMS
    if _FORMS is None:
        _FORMS = FormSet.shipped()
    return _FORMS


def open_ctx(data_dir: Path) -> ClientContext:
    return ClientContext(open_store(data_dir), shipped_forms(), FixedClock(NOW, TODAY))


def settle(tasks: TaskManager, rounds: int = 50) -> None:
    """Wait until the database thread is idle and every result has reached its GUI-thread callback
    (callbacks may start more work, e.g. a refresh after a save)."""
    app = QApplication.instance()
    assert app is not None
    for _ in range(rounds):
        tasks.wait()
        app.processEvents()
        if not tasks._relays:  # no task waiting for its callback
            app.processEvents()
            return
    raise AssertionError("background work did not finish")


def make_window(qtbot: object, ctx: ClientContext, tasks: TaskManager) -> MainWindow:
    window = MainWindow(ctx, tasks)
    qtbot.addWidget(window)  # type: ignore[attr-defined]
    window.resize(1366, 768)
    window.show()
    settle(tasks)
    return window
