"""The start-up window (client/ui/startup_window.py): shown before the store opens; on a store that needs a
migration it says 正在升级本机数据… with a busy bar while the migration runs, and a second start meanwhile is
told so (exit 1) instead of racing it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QTimer

import client.ui.app as app_module
from client.context import ClientContext
from client.store import migrate
from client.store.db import make_engine
from client.store.paths import DB_NAME
from client.ui.startup_window import UPGRADE_LOCK, UPGRADING, StartupWindow, run_beside

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "startup_upgrading.png"


def store_needing_migration(data_dir: Path) -> None:
    """A real encrypted store at 0004: the next start runs 0005 (待办's table)."""
    data_dir.mkdir(parents=True)
    engine = make_engine(data_dir / DB_NAME)
    try:
        migrate.upgrade(engine, "0004")
        assert migrate.current_revision(engine) == "0004"
    finally:
        engine.dispose()


def test_a_migration_at_start_says_so_and_a_second_start_is_told(
    qapp: object, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    store_needing_migration(data_dir)
    window = StartupWindow()
    window.show()
    seen: dict[str, object] = {}
    looked = threading.Event()

    @contextmanager
    def held_until_looked(_target: str) -> Iterator[None]:
        looked.wait(20)  # the migration waits (after the window was told) until the test has looked
        yield

    def work() -> ClientContext:
        with migrate.guarded(held_until_looked):
            return ClientContext.open(data_dir)

    def look() -> None:
        if not window.upgrading:
            QTimer.singleShot(10, look)
            return
        try:
            seen["text"] = window.message.text()
            seen["busy"] = window.busy.isVisible() and window.busy.maximum() == 0
            seen["english"] = window.english.text()
            window.grab().save(str(SCREENSHOT))
            seen["second start"] = app_module.run_gui(data_dir, smoke=True)  # meanwhile
        finally:
            looked.set()

    QTimer.singleShot(0, look)
    ctx = run_beside(window, data_dir, work)
    try:
        assert migrate.current_revision(ctx.store.engine) == migrate.head_revision()
    finally:
        ctx.close()
        window.close()
    assert seen["text"] == UPGRADING
    assert seen["busy"] is True
    assert "do not close" in str(seen["english"])
    assert seen["second start"] == 1
    log = (data_dir / "logs" / app_module.LOG_NAME).read_text(encoding="utf-8")
    assert "a second start while the store is migrated" in log
    # the lock is free again: the next start opens the (now current) store without a word of upgrading
    assert app_module.run_gui(data_dir, smoke=True) == 0
    assert _lock_free(data_dir)


def _lock_free(data_dir: Path) -> bool:
    from filelock import FileLock

    lock = FileLock(data_dir / UPGRADE_LOCK)
    lock.acquire(timeout=0)
    lock.release()
    return True


def test_a_current_store_opens_without_the_upgrade_words(qapp: object, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ClientContext.open(data_dir).close()
    window = StartupWindow()
    window.show()
    ctx = run_beside(window, data_dir, lambda: ClientContext.open(data_dir))
    try:
        assert not window.upgrading
        assert window.message.text() == "正在打开…"
    finally:
        ctx.close()
        window.close()
