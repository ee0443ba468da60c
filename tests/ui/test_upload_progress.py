"""The clerk sees which photo is going up and how much of it the server holds (issue 10).

Before, the status bar said only "上传照片和文件 0.1/0.4 MB" for all files together; on a slow link a photo
took minutes with no sign of which one, nor that a resumed upload went on where it stopped.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import BaseWSGIServer, make_server

from client.context import ClientContext
from client.store import records as R
from client.store.attachments import add_attachment
from client.sync.engine import SyncEngine
from client.sync.http import RetryPolicy, Timeouts
from client.sync.state import Phase, SyncProgress
from client.ui import app as app_module
from client.ui import lang
from client.ui.status_bar import StatusBar
from client.ui.sync_controller import SyncController
from client.ui.tasks import TaskManager
from sync_server.app import create_app
from sync_server.services.schools import add_school
from sync_server.state import get_state
from tests.support.samples import inspection

pytest_plugins = ("tests.ui.fixtures_main",)
app_module.guard_singleton_refcounts()

SERVER_NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


def test_the_status_bar_names_the_file_and_its_bytes(qtbot: Any, chinese: None):
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.sync_started()
    bar.sync_progress(
        SyncProgress(
            Phase.ATTACHMENTS,
            200 * 1024,
            600 * 1024,
            item="教室后墙裂缝.jpg",
            item_done=120 * 1024,
            item_total=400 * 1024,
        )
    )
    assert bar.sync_label.text() == "正在上传“教室后墙裂缝.jpg”：120 KB / 400 KB"
    assert (bar.progress.value(), bar.progress.maximum()) == (200 * 1024, 600 * 1024)
    bar.sync_progress(
        SyncProgress(
            Phase.ATTACHMENTS,
            3_000_000,
            6_000_000,
            item="第三教学楼东侧楼梯间墙面裂缝近景照片（二）.jpeg",
            item_done=3 * 1024 * 1024 // 2,
            item_total=5 * 1024 * 1024,
        )
    )
    text = bar.sync_label.text()
    assert text == "正在上传“第三教学楼东侧楼梯间墙面裂缝近景照片….jpeg”：1.5 MB / 5.0 MB", text
    bar.sync_ended()


def test_in_english_too(qtbot: Any, qapp: Any, chinese: None):
    lang.set_language("en")
    translators = app_module.install_translators(qapp, "en")
    try:
        bar = StatusBar()
        qtbot.addWidget(bar)
        bar.sync_started()
        bar.sync_progress(
            SyncProgress(
                Phase.ATTACHMENTS, 10, 10, item="a.jpg", item_done=10, item_total=400 * 1024
            )
        )
        assert bar.sync_label.text() == "Uploading “a.jpg”: 0 KB of 400 KB"
        bar.sync_ended()
    finally:
        app_module.remove_translators(qapp, translators)


# -- a real sync through the controller -------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    instance = tmp_path_factory.mktemp("sync-server-upload-progress")
    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": f"sqlite:///{instance / 'sync.db'}",
            "SECRET_KEY": "ui-tests",
            "CLOCK": lambda: SERVER_NOW,
        }
    )
    httpd: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", app
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
        get_state(app).db.close()


def test_a_sync_shows_each_photo_and_its_bytes_as_they_reach_the_server(
    qtbot: Any,
    chinese: None,
    ctx: ClientContext,
    tasks: TaskManager,
    tmp_path: Path,
    server_url: tuple[str, Any],
):
    url, app = server_url
    with get_state(app).db.Session.begin() as s:
        code = add_school(s, code="S-UP1", name="城关小学", now=SERVER_NOW).enrollment_code
    with requests.Session() as http:
        SyncEngine(ctx, http).enroll(url, code, device_name="教务处电脑")
    size = 300_000
    photo = tmp_path / "操场围墙.jpg"
    photo.write_bytes(random.Random(3).randbytes(size))
    with ctx.store.Session.begin() as s:
        sha = add_attachment(s, ctx.store.attachments_dir, photo, now=ctx.clock.now())
        hazard = dict(inspection()["hazards"][0], photo=sha)  # type: ignore[index]
        R.save_record(
            s,
            form=ctx.forms.get("safety_inspection"),
            data=inspection(hazards=[hazard]),
            submit=True,
            today=ctx.clock.today(),
            now=ctx.clock.now(),
        )
    sync = SyncController(
        ctx,
        tasks,
        engine_options={
            "policy": RetryPolicy(attempts=1),
            "timeouts": Timeouts(connect=2.0, read=10.0),
            "chunk_size": None,  # sized to the link, as in the program
        },
        interval_ms=10 * 60_000,
    )
    bar = StatusBar()
    qtbot.addWidget(bar)
    sync.started.connect(bar.sync_started)
    texts: list[str] = []
    sync.progress.connect(bar.sync_progress)
    sync.progress.connect(lambda p: texts.append(bar.sync_label.text()))
    sync.idle.connect(bar.sync_ended)

    with qtbot.waitSignal(sync.finished, timeout=20_000) as done:
        assert sync.sync_now()
    sync.stop()

    assert done.args[0].uploaded == 1 and done.args[0].pushed == 1
    uploads = [t for t in texts if t.startswith("正在上传")]
    assert uploads[0] == "正在上传“操场围墙.jpg”：0 KB / 293 KB"
    assert uploads[-1] == "正在上传“操场围墙.jpg”：293 KB / 293 KB"
    assert len(uploads) >= 3  # chunk by chunk
