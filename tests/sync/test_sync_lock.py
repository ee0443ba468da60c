"""One sync at a time per data folder across processes (product trial 2026-12-01, finding 2): real
`school-client` processes against the real server on 127.0.0.1 (port 0), which counts the pushes it gets."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from client.cli import main as client_main
from client.context import ClientContext
from client.store import records as R
from client.store import sync_state as S
from client.sync.commands import sent_words
from client.sync.errors import SyncError
from client.sync.state import SyncResult
from sync_server.app import create_app
from sync_server.state import get_state
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.samples import inspection
from tests.support.sync_lock_holder import end, hold_sync_lock
from tests.sync.conftest import SERVER_NOW, ClientFactory, LiveServer
from tests.sync.test_faults import PUSH, enrolled_via

ROOT = Path(__file__).resolve().parents[2]
BATCH = 50  # the server's batch limit here: a few hundred records make several pushes


@dataclass
class Pushes:
    requests: int = 0
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(scope="module")
def counted() -> Iterator[tuple[LiveServer, Pushes]]:
    """The real server (SQLite) behind a WSGI wrapper that counts (and may slow down) POST /api/v1/push."""
    import tempfile

    instance = Path(tempfile.mkdtemp(prefix="sync-lock-server-"))
    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": f"sqlite:///{instance / 'sync.db'}",
            "SECRET_KEY": "sync-lock-tests",
            "CLOCK": lambda: SERVER_NOW,
            "MAX_BATCH_CHANGES": BATCH,
        }
    )
    pushes = Pushes()
    inner = app.wsgi_app

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").endswith(
            "/push"
        ):
            with pushes.lock:
                pushes.requests += 1
            if pushes.delay:
                time.sleep(pushes.delay)
        return inner(environ, start_response)

    app.wsgi_app = counting  # type: ignore[method-assign]
    httpd: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{httpd.server_port}", httpd.server_port), pushes
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
        get_state(app).db.close()


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SCHOOL_CLIENT_DATA_DIR", "SCHOOL_CLIENT_CONFIG")
    }
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def enrolled(server: LiveServer, folder: Path, records: int) -> Path:
    """An enrolled client data folder with `records` submitted records waiting to be sent."""
    _, code = server.new_school()
    assert (
        client_main(["enroll", "--data-dir", str(folder), "--server", server.url, "--code", code])
        == 0
    )
    ctx = ClientContext.open(folder)
    try:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with ctx.store.Session.begin() as s:
            for i in range(records):
                R.save_record(
                    s,
                    form=ctx.forms.get("safety_inspection"),
                    data=inspection(inspectors=f"检查员{i}"),
                    submit=True,
                    today=now.date(),
                    now=now,
                )
    finally:
        ctx.close()
    return folder


def unsent(folder: Path) -> int:
    ctx = ClientContext.open(folder)
    try:
        with ctx.store.Session() as s:
            return S.pending_count(s)
    finally:
        ctx.close()


def cli(folder: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "client.cli", "--data-dir", str(folder), *args],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


@pytest.fixture
def holder() -> Iterator[Any]:
    """holder(folder): another process holding the folder's sync lock (as a sync running there would)."""
    procs: list[subprocess.Popen[str]] = []

    def start(folder: Path) -> subprocess.Popen[str]:
        procs.append(hold_sync_lock(folder))
        return procs[-1]

    yield start
    for p in procs:
        end(p)


def test_a_cli_sync_while_another_process_syncs_sends_nothing_and_says_so(
    counted: tuple[LiveServer, Pushes], tmp_path: Path, holder: Any
) -> None:
    server, pushes = counted
    folder = enrolled(server, tmp_path / "pc", 5)
    holder(folder)
    before = pushes.requests

    done = cli(folder, "sync")
    out, err = done.communicate(timeout=60)

    assert done.returncode == 4, (out, err)
    assert "另一个同步正在进行" in err and "another sync is already running" in err
    assert "Traceback" not in err
    assert pushes.requests == before  # nothing sent
    assert unsent(folder) == 5


def test_a_usb_export_while_another_process_syncs_writes_nothing(
    counted: tuple[LiveServer, Pushes], tmp_path: Path, holder: Any, capsys: Any
) -> None:
    server, _ = counted
    folder = enrolled(server, tmp_path / "pc", 2)
    stick = tmp_path / "stick"
    stick.mkdir()
    holder(folder)
    capsys.readouterr()

    assert client_main(["usb-export", str(stick), "--data-dir", str(folder)]) == 4
    assert "另一个同步正在进行" in capsys.readouterr().err
    assert list(stick.iterdir()) == []


def test_two_cli_syncs_at_once_send_each_record_once(
    counted: tuple[LiveServer, Pushes], tmp_path: Path
) -> None:
    server, pushes = counted
    folder = enrolled(server, tmp_path / "pc", 4 * BATCH)
    before = pushes.requests
    pushes.delay = 0.2  # each push takes a while: the two runs overlap
    try:
        first, second = cli(folder, "sync", "--wait", "60"), cli(folder, "sync", "--wait", "60")
        outs = [p.communicate(timeout=120) for p in (first, second)]
    finally:
        pushes.delay = 0.0

    assert [first.returncode, second.returncode] == [0, 0], outs
    assert pushes.requests - before == 4  # 200 records in batches of 50, once
    said = sorted(out for out, _ in outs)
    assert any(f"发出 {4 * BATCH} 条" in s for s in said) and any("发出 0 条" in s for s in said), (
        said
    )
    assert unsent(folder) == 0


def test_the_lock_is_freed_when_its_holder_is_killed(
    counted: tuple[LiveServer, Pushes], tmp_path: Path, holder: Any, capsys: Any
) -> None:
    server, pushes = counted
    folder = enrolled(server, tmp_path / "pc", 3)
    p = holder(folder)
    assert client_main(["sync", "--data-dir", str(folder)]) == 4
    before = pushes.requests

    os.kill(p.pid, signal.SIGKILL)
    p.wait(10)
    capsys.readouterr()

    assert client_main(["sync", "--data-dir", str(folder)]) == 0
    assert "发出 3 条" in capsys.readouterr().out
    assert pushes.requests - before == 1
    assert unsent(folder) == 0


@pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)
def test_a_batch_sent_again_after_its_answer_was_lost_is_counted_as_sent_again(
    make_client: ClientFactory, live_server: LiveServer
) -> None:
    """The trial's 发出 8000 条 after a server kill, when 7,000 were new: the batch the server had stored but
    not answered goes again (same key) and is said as sent again."""
    with FaultProxy(("127.0.0.1", live_server.port)) as proxy:
        client, _ = enrolled_via(make_client, live_server, proxy, attempts=1)
        for i in range(3):
            client.save(inspection(inspectors=f"检查员{i}"))
        proxy.plan(Fault(cut_down_after=10, trigger=PUSH, reset=True))  # stored, answer lost
        with pytest.raises(SyncError):
            client.engine.sync()
        client.save(inspection(inspectors="新检查员"))  # one new change beside the three sent again

        result = client.engine.sync()

    assert (result.pushed, result.resent) == (4, 3)
    assert sent_words(result) == (
        "发出 4 条（其中 3 条是上次中断后重发，服务器已经收到过）",
        "4 sent (3 of them again after an interrupted sync: the server had them already)",
    )
    assert sent_words(SyncResult(pushed=2)) == ("发出 2 条", "2 sent")
