"""Issue 14 goal 1, the client's start: the main window's frame shows before the store's modules load, in the
language the store last said (<data>/ui-language), and its pages come once the store is open; reads on the GUI
thread do not wait for the database thread's writes; a locked sensitive form's hidden page is not counted at
start (only when shown)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event

from client.context import ClientContext
from client.store.prefs import set_setting
from client.ui import app as app_module
from client.ui import lang
from client.ui.lock import SensitiveLock, install
from client.ui.main_window import MainWindow
from client.ui.tasks import TaskManager
from tests.ui.main_helpers import make_window, open_ctx, settle
from tests.ui.test_sensitive_lock import ETHICS, seed

pytest_plugins = ("tests.ui.fixtures_main",)
ROOT = Path(__file__).resolve().parents[2]

FIRST_START = """
import json, sys
from pathlib import Path
import client.ui.app as app
seen = {}
def shown(w):
    seen["store_modules_loaded"] = [m for m in ("sqlalchemy", "client.store.db", "client.context")
                                    if m in sys.modules]
    seen["title"] = w.windowTitle()
    seen["attached"] = w.attached
    seen["opening"] = w.opening.message.text()
    seen["visible"] = w.isVisible()
def ready(w):
    seen["ready_title"] = w.windowTitle()
    seen["nav"] = [w.nav.item(i).text() for i in range(w.nav.count())]
    seen["same_window"] = seen.get("title") is None or w.isVisible()
app.ON_WINDOW_SHOWN.append(shown)
app.ON_WINDOW_READY.append(ready)
code = app.run_gui(Path(sys.argv[1]), smoke=True)
print(json.dumps({"code": code, **seen}))
"""


def _store_language(data_dir: Path, code: str) -> None:
    ctx = open_ctx(data_dir)
    try:
        with ctx.store.Session.begin() as s:
            set_setting(s, lang.SETTING_KEY, code)
    finally:
        ctx.close()


def test_the_frame_shows_before_the_stores_modules_load_in_the_remembered_language(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    _store_language(data_dir, "en")
    (data_dir / app_module.LANGUAGE_FILE).write_text("en\n", encoding="ascii")
    run = subprocess.run(
        [sys.executable, "-c", FIRST_START, str(data_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=120,
    )
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("{")]
    assert lines, run.stderr[-3000:]
    seen = json.loads(lines[-1])
    assert seen["code"] == 0
    assert seen["store_modules_loaded"] == []  # shown before SQLAlchemy and the store were imported
    assert seen["visible"] and not seen["attached"]
    assert seen["title"] == "School Data Client"  # in the language remembered
    assert seen["opening"] == "正在打开…"
    assert seen["ready_title"] == "School Data Client"
    assert seen["nav"][0] == "To do" and "Teacher roster" in seen["nav"]
    assert len(seen["nav"]) == 8  # 待办, five forms, the roster, settings


def test_the_stores_language_wins_over_the_remembered_one(qapp: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _store_language(data_dir, "en")
    (data_dir / app_module.LANGUAGE_FILE).write_text("zh_CN\n", encoding="ascii")
    seen: dict[str, Any] = {}

    def shown(w: Any) -> None:
        seen["shown"] = (w.windowTitle(), w.attached)

    def ready(w: Any) -> None:
        seen["ready"] = (w.windowTitle(), w.nav.item(0).text(), w.file_menu.title())

    app_module.ON_WINDOW_SHOWN.append(shown)
    app_module.ON_WINDOW_READY.append(ready)
    try:
        assert app_module.run_gui(data_dir, smoke=True) == 0
    finally:
        app_module.ON_WINDOW_SHOWN.remove(shown)
        app_module.ON_WINDOW_READY.remove(ready)
        lang.set_language("zh_CN")
    assert seen["shown"] == ("学校数据采集客户端", False)  # the frame, as last remembered
    assert seen["ready"] == ("School Data Client", "To do", "&File")  # then the store's setting
    assert app_module.remembered_language(data_dir) == "en"  # for the next start


def test_the_first_start_remembers_the_language_after_a_start_up_window(
    qapp: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    seen: list[bool] = []

    def shown(w: Any) -> None:
        seen.append(w.attached)

    app_module.ON_WINDOW_SHOWN.append(shown)
    try:
        assert app_module.run_gui(data_dir, smoke=True) == 0
        assert seen == [True]  # nothing remembered: the start-up window, then the whole window
        assert app_module.remembered_language(data_dir) == lang.DEFAULT_LANGUAGE
        assert app_module.run_gui(data_dir, smoke=True) == 0
        assert seen == [True, False]  # the next start shows the frame first
    finally:
        app_module.ON_WINDOW_SHOWN.remove(shown)


def test_a_read_session_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    ctx = open_ctx(tmp_path / "data")
    try:
        with ctx.store.Session.begin() as writing:
            set_setting(writing, "probe", "written")  # uncommitted, the write lock held
            done = threading.Event()
            got: list[object] = []

            def read() -> None:
                from client.store.prefs import get_setting

                with ctx.store.ReadSession() as s:
                    got.append(get_setting(s, "probe"))
                done.set()

            reader = threading.Thread(target=read)
            reader.start()
            assert done.wait(5), "the read waited for the writer (busy timeout: 30 s)"
            reader.join()
            assert got == [None]  # the last commit, not the write under way
        with ctx.store.ReadSession() as s:
            from client.store.prefs import get_setting

            assert get_setting(s, "probe") == "written"
    finally:
        ctx.close()


def test_a_locked_form_is_counted_when_its_page_shows_not_at_start(
    qtbot: Any, chinese: None, main_ctx: ClientContext, main_tasks: TaskManager
) -> None:
    seed(main_ctx)
    counts_on_gui_thread: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        if threading.current_thread() is threading.main_thread() and "count(" in statement:
            counts_on_gui_thread.append(statement)

    event.listen(main_ctx.store.engine, "before_cursor_execute", executed)
    window: MainWindow = make_window(qtbot, main_ctx, main_tasks)
    lock = install(window, SensitiveLock(main_ctx, window, idle_ms=60 * 60_000))
    try:
        settle(main_tasks)
        assert counts_on_gui_thread == []  # 待办 shows; the two locked pages are not read
        window.show_form(ETHICS)
        settle(main_tasks)
        page = window.form_pages[ETHICS]
        assert page.list_stack.currentWidget() is page.lock_panel
        assert "共 2 条记录" in page.lock_panel.text.text()
        assert page.model.rowCount() == 0
        assert len(counts_on_gui_thread) == 1
    finally:
        event.remove(main_ctx.store.engine, "before_cursor_execute", executed)
        lock.stop()
        window.close()
        settle(main_tasks)


def test_the_frame_stays_while_the_store_opens_and_goes_when_it_cannot(
    qapp: Any, tmp_path: Path
) -> None:
    from shiboken6 import isValid

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "store.db").write_bytes(b"this is not a database" * 200)
    (data_dir / app_module.LANGUAGE_FILE).write_text("zh_CN\n", encoding="ascii")
    seen: dict[str, Any] = {}

    def shown(w: Any) -> None:
        w.close()  # the clerk clicks the close button while 正在打开… shows
        seen["stays"] = w.isVisible()
        seen["window"] = w

    app_module.ON_WINDOW_SHOWN.append(shown)
    try:
        assert app_module.run_gui(data_dir, smoke=True) == 1
    finally:
        app_module.ON_WINDOW_SHOWN.remove(shown)
    assert seen["stays"] is True
    window = seen["window"]
    assert not isValid(window) or not window.isVisible()
    log = (data_dir / "logs" / app_module.LOG_NAME).read_text(encoding="utf-8")
    assert "could not open the data folder" in log
