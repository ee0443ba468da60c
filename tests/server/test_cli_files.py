"""`sync-server` where it meets the machine: files it cannot write, ports it cannot use, many connections
from one address. Real subprocesses, real sockets, real files."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import LiveServer, change, inspection
from tests.server.test_cli import ROOT, one_line_error, run, run_here
from tests.support.served import Served, start_served

# -- serve --port -----------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["-1", "65536", "70000", "99999", "abc"])
def test_serve_refuses_a_port_outside_0_to_65535(sqlite_db: str, tmp_path: Path, port: str):
    r = run("serve", "--port", port, db=sqlite_db, instance=tmp_path / "inst", check=2)
    line = one_line_error(r)
    assert "--port" in line and port in line and "65535" in line
    assert len(r.stderr.strip().splitlines()) == 1


def test_serve_on_a_port_in_use_says_so_in_one_line(sqlite_db: str, tmp_path: Path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = str(taken.getsockname()[1])
        r = run("serve", "--port", port, db=sqlite_db, instance=tmp_path / "inst", check=1)
        line = one_line_error(r)
        assert f"127.0.0.1:{port}" in line
        assert len(r.stderr.strip().splitlines()) == 1
    finally:
        taken.close()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


# -- connections per address ------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, sqlite_template: Path) -> Iterator[Served]:
    db = tmp_path / "nat.db"
    shutil.copyfile(sqlite_template, db)
    s = start_served(tmp_path / "instance", f"sqlite:///{db}")
    yield s
    assert "Traceback" not in s.stop()


def _healthz(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.rstrip().endswith(b"}"):  # the body is {"status": "ok"}
        piece = sock.recv(4096)
        if not piece:
            break
        answer += piece
    return answer


def test_sixty_schools_behind_one_nat_keep_their_connections(served: Served):
    """A county NAT: 60 schools' PCs, one address, each with its keep-alive connection open at once."""
    socks = [socket.create_connection(("127.0.0.1", served.port), timeout=10) for _ in range(60)]
    try:
        for sock in socks:
            assert _healthz(sock).startswith(b"HTTP/1.1 200 ")
        for i, sock in enumerate(socks):  # all still open: none was closed to make room
            try:
                answer = _healthz(sock)
            except OSError as exc:
                pytest.fail(f"connection {i} was reset: {exc}")
            assert answer.startswith(b"HTTP/1.1 200 "), f"connection {i} was closed"
    finally:
        for sock in socks:
            sock.close()


# -- export to a file that cannot be written --------------------------------------------------------


def _teacher_pushed(live: LiveServer) -> None:
    live.device().push_ok([change(inspection())])


@pytest.mark.parametrize("where", ["missing_dir", "proc"], ids=["folder-missing", "not-writable"])
def test_export_to_an_unwritable_path_is_one_line_exit_1(
    ready_db_url: str,
    tmp_path: Path,
    make_server_for: Any,
    capsys: pytest.CaptureFixture[str],
    where: str,
):
    _teacher_pushed(make_server_for(ready_db_url))
    out = tmp_path / "no-such-folder" / "x.xlsx" if where == "missing_dir" else Path("/proc/x.xlsx")
    r = run_here(
        capsys,
        "export",
        "--form",
        "safety_inspection",
        str(out),
        db=ready_db_url,
        instance=tmp_path,
        check=1,
    )
    line = one_line_error(r)
    assert str(out) in line
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()


def test_export_subprocess_to_an_unwritable_path_prints_no_traceback(
    ready_db_url: str, backend: str, tmp_path: Path, make_server_for: Any
):
    if backend != "sqlite":
        pytest.skip("the in-process test covers PostgreSQL")
    _teacher_pushed(make_server_for(ready_db_url))
    out = tmp_path / "no-such-folder" / "x.xlsx"
    r = run(
        "export",
        "--form",
        "safety_inspection",
        str(out),
        db=ready_db_url,
        instance=tmp_path,
        check=1,
    )
    assert str(out) in one_line_error(r)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


EXPORT = (sys.executable, "-m", "sync_server", "export", "--form", "safety_inspection")


def _small_file_limit() -> None:
    """In the export's process: no file may grow past 64 KiB, as on a disk that fills up mid-export."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_export_that_runs_out_of_space_midway_is_one_line_exit_1(
    ready_db_url: str, backend: str, tmp_path: Path, make_server_for: Any
):
    if (
        backend != "postgresql" or sys.platform != "linux"
    ):  # SQLite's own file would hit the limit first
        pytest.skip("a file size limit on a subprocess (Linux) with the database elsewhere")
    live: LiveServer = make_server_for(ready_db_url)
    device = live.device()
    for _ in range(4):
        device.push_ok([change(inspection(remarks="隐患" * 2000)) for _ in range(50)])
    out = tmp_path / "汇总.xlsx"
    env = dict(os.environ)
    env.pop("SYNC_SERVER_DB", None)
    r = subprocess.run(
        [*EXPORT, str(out), "--db", ready_db_url, "--instance", str(tmp_path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=120,
        preexec_fn=_small_file_limit,
    )
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr, r.stderr
    assert str(out) in one_line_error(r)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".汇总.xlsx.*.tmp"))


# -- the dashboard's export when the server cannot write its temporary file --------------------------


def test_dashboard_export_without_a_writable_temp_folder_is_a_clear_page(
    live: LiveServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    from tests.server.test_withdrawn_records import _staff

    _teacher_pushed(live)
    c = _staff(live)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp-folder-gone"))  # as TMPDIR would
    r = c.get("/export?form=safety_inspection")
    page = r.get_data(as_text=True)
    assert r.status_code == 503, page
    assert "磁盘" in page and "管理员" in page and "Traceback" not in page
    assert any("export" in m and "temp-folder-gone" in m for m in caplog.messages)
