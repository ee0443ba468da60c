"""Nobody without a token can starve or lock out `sync-server serve`: real waitress, real sockets.

Each test starts the real server in a subprocess (tests/support/served.py) and plays an unauthenticated client
that opens connections and never finishes them, keeps connections alive and idle, sends a body far larger than
any request the clients make, or fails logins; then it checks that real clients are still served. Times are
bounds for the test (requests' timeouts), never asserted as speeds: benchmarks/server_doors_bench.py prints
the figures.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import http.client
import json
import re
import select
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from sync_server.limits import BodyDoors
from tests.server.conftest import LiveServer, change
from tests.support.served import ROOT, Served, cli, start_served, write_config

PASSWORD = "correct-horse-battery"
BIG = 200 * 1024 * 1024


@pytest.fixture
def serve(tmp_path: Path, sqlite_template: Path) -> Iterator[Callable[..., Served]]:
    """Start servers on a copy of the migrated template; all stopped (and checked) at the end."""
    started: list[Served] = []

    def start(*args: str, **config: Any) -> Served:
        db = tmp_path / f"doors-{len(started)}.db"
        shutil.copyfile(sqlite_template, db)
        served = start_served(
            tmp_path / f"instance-{len(started)}", f"sqlite:///{db}", config=config, args=args
        )
        started.append(served)
        return served

    yield start
    for served in started:
        err = served.stop()
        assert "Traceback" not in err, err


def _connect(served: Served, first: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    if first:
        sock.sendall(first)
    return sock


def _device_token(served: Served) -> str:
    made = cli(served.instance, served.db_url, "add-school", "--code", "S001", "--name", "城关小学")
    r = requests.post(
        served.url + "/api/v1/enroll",
        json={"enrollment_code": made["enrollment_code"], "device_name": "教务处电脑"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def _push(served: Served, token: str) -> int:
    body = json.dumps({"changes": [change()]}).encode()
    r = requests.post(
        served.url + "/api/v1/push",
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": str(uuid.uuid4()),
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    return r.status_code


# -- connections ------------------------------------------------------------------------------------


def test_healthz_answers_while_110_idle_connections_are_open(serve: Callable[..., Served]):
    served = serve()
    with contextlib.ExitStack() as stack:
        for i in range(110):  # half send nothing, half stop in the middle of their request line
            first = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" if i % 2 else b""
            stack.enter_context(_connect(served, first))
        r = requests.get(served.url + "/healthz", timeout=20)
        assert r.status_code == 200, r.text


def test_idle_keep_alive_clients_do_not_starve_pushes(serve: Callable[..., Served]):
    served = serve()
    token = _device_token(served)
    idle: list[http.client.HTTPConnection] = []
    try:
        for _ in range(100):
            conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200 and not resp.will_close
            idle.append(conn)  # kept alive, never used again
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            statuses = list(pool.map(lambda _: _push(served, token), range(20)))
        assert statuses == [200] * 20
    finally:
        for conn in idle:
            conn.close()


def test_connections_that_trickle_their_request_head_are_closed(serve: Callable[..., Served]):
    """A head sent one line a second is never idle, so only a deadline on the whole head ends it."""
    served = serve(serve_request_head_timeout=2, serve_cleanup_interval=0.5)
    slow = [_connect(served, b"GET /healthz HTTP/1.1\r\n") for _ in range(40)]
    open_ = set(range(len(slow)))
    try:
        deadline = time.monotonic() + 20
        while open_ and time.monotonic() < deadline:
            for i in sorted(open_):
                try:
                    slow[i].sendall(b"X-Slow: 1\r\n")
                except OSError:
                    open_.discard(i)
            readable, _, _ = select.select([slow[i] for i in open_], [], [], 1)
            for sock in readable:
                with contextlib.suppress(OSError):
                    if sock.recv(4096):
                        continue
                open_.discard(slow.index(sock))
        assert not open_, f"{len(open_)} of {len(slow)} slow connections still open"
        assert requests.get(served.url + "/healthz", timeout=10).status_code == 200
    finally:
        for sock in slow:
            sock.close()


def test_one_address_holds_at_most_its_share_of_connections(serve: Callable[..., Served]):
    served = serve(serve_connections_per_address=4)
    head = (
        b"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: 1000\r\n\r\n"
    )
    busy = []
    for _ in range(4):  # each in the middle of its body: none of them may be closed to make room
        sock = _connect(served, head)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"{")
        busy.append(sock)
    extra = _connect(served)
    with contextlib.suppress(ConnectionResetError):
        assert extra.recv(100) == b""  # closed at once
    extra.close()
    busy[0].sendall(
        b" " * 999
    )  # one body done: its connection turns idle (once its worker is done)
    assert busy[0].recv(100).startswith(b"HTTP/1.1 400 ")
    assert _healthz_soon(served) == 200  # the idle one made room
    for sock in busy:
        sock.close()


def _healthz_soon(served: Served) -> int:
    """/healthz, tried a few times: a connection refused in the instant before room is made is retried,
    as clients do."""
    for _ in range(20):
        with contextlib.suppress(requests.ConnectionError):
            return requests.get(served.url + "/healthz", timeout=10).status_code
        time.sleep(0.1)
    return 0


# -- bodies -----------------------------------------------------------------------------------------


def _send_big(
    served: Served, head: bytes, total: int, *, chunked: bool = False
) -> tuple[int, bytes]:
    """Send the head, then up to `total` body bytes until the server answers; (bytes sent, answer)."""
    sock = _connect(served, head)
    piece = b"x" * (256 * 1024)
    data = b"%x\r\n" % len(piece) + piece + b"\r\n" if chunked else piece
    sent = 0
    answer = b""
    try:
        # The server closes a connection whose body it will not read: sending fails, the answer is there.
        with contextlib.suppress(OSError):
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(data)
                sent += len(piece)
        sock.settimeout(30)
        with contextlib.suppress(OSError):
            while data := sock.recv(65536):
                answer += data
    finally:
        sock.close()
    return sent, answer


def _status_and_json(answer: bytes) -> tuple[int, dict[str, Any], str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = head.decode("latin-1")
    parsed: dict[str, Any] = json.loads(body) if body.startswith(b"{") else {}
    return status, parsed, headers


def test_a_200_mb_body_without_a_token_is_refused_before_it_is_read(
    serve: Callable[..., Served],
):
    served = serve()
    head = (
        b"POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % BIG
    )
    sent, answer = _send_big(served, head, BIG)
    status, body, headers = _status_and_json(answer)
    assert status == 413, answer[:500]
    assert body["error"]["code"] == "too_large"
    assert body["error"]["message_zh"] and body["error"]["message_en"]
    assert "X-Sync-Server: school-sync/1" in headers
    assert sent < 32 * 1024 * 1024  # what the kernel buffers took, not 200 MB


def test_a_chunked_body_without_a_token_is_cut_off_early(serve: Callable[..., Served]):
    served = serve()
    head = (
        b"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    sent, answer = _send_big(served, head, BIG, chunked=True)
    status, body, _ = _status_and_json(answer)
    assert status == 413, answer[:500]
    assert body["error"]["code"] == "too_large"
    assert sent < 32 * 1024 * 1024


def _answer_to_head(served: Served, head: bytes) -> tuple[int, dict[str, Any], str]:
    """Send only a head announcing a body, and read the answer the server gives at once."""
    sock = _connect(served, head)
    answer = b""
    with contextlib.suppress(OSError):
        while data := sock.recv(65536):
            answer += data
    sock.close()
    return _status_and_json(answer)


PUSH_DOOR = 5 * 1024 * 1024 + 64 * 1024
SHA = "0" * 64


def test_a_client_expecting_100_continue_is_refused_before_it_sends(serve: Callable[..., Served]):
    served = serve()
    sock = _connect(
        served,
        b"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Content-Length: 2000000\r\n\r\n",
    )
    answer = b""
    with contextlib.suppress(OSError):
        while data := sock.recv(65536):
            answer += data
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]  # not "100 Continue"


def test_a_forged_token_gets_no_further_than_the_push_door(serve: Callable[..., Served]):
    served = serve()
    status, body, _ = _answer_to_head(
        served,
        b"POST /api/v1/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer forged\r\n"
        b"Content-Length: %d\r\n\r\n" % (PUSH_DOOR + 1),
    )
    assert status == 413
    assert body["error"]["details"] == {"max_bytes": PUSH_DOOR, "door": "push"}
    r = requests.post(  # inside the door the body is read, and the token refused
        served.url + "/api/v1/push",
        data=b"x" * 100_000,
        headers={"Authorization": "Bearer forged"},
        timeout=10,
    )
    assert r.status_code == 401


def test_an_attachment_chunk_is_at_most_a_mebibyte(serve: Callable[..., Served]):
    served = serve()
    token = _device_token(served)
    status, body, _ = _answer_to_head(
        served,
        b"PUT /api/v1/attachments/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
        b"Content-Range: bytes 0-1048576/2000000\r\nContent-Length: 1048577\r\n\r\n"
        % (SHA.encode(), token.encode()),
    )
    assert status == 413
    assert body["error"]["details"] == {"max_bytes": 1024 * 1024, "door": "attachment_chunk"}
    assert "Content-Range" in body["error"]["message_en"]


def test_a_request_head_past_16_kib_is_refused_as_json(serve: Callable[..., Served]):
    served = serve()
    status, body, _ = _answer_to_head(
        served, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 20_000 + b"\r\n\r\n"
    )
    assert status == 431
    assert body["error"]["code"] == "headers_too_large"


def test_only_a_staff_session_opens_the_dashboard_door(serve: Callable[..., Served]):
    served = serve()
    cli(
        served.instance,
        served.db_url,
        *("add-user", "--username", "boss", "--role", "admin", "--password-stdin"),
        stdin=PASSWORD + "\n",
    )
    staff = requests.Session()
    page = staff.get(served.url + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    form = {"username": "boss", "password": PASSWORD, "csrf_token": token.group(1)}
    assert staff.post(served.url + "/login", data=form, timeout=10).status_code == 200
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', staff.get(served.url + "/forms", timeout=10).text
    )
    assert token
    upload = {"file": ("big.yaml", b"#" * (5 * 1024 * 1024 + 10))}
    r = staff.post(
        served.url + "/forms", data={"csrf_token": token.group(1)}, files=upload, timeout=30
    )
    assert r.status_code == 413 and "文件太大：最多 5 MB" in r.text  # the upload page's own limit

    stranger = requests.post(
        served.url + "/forms",
        files={"file": ("big.yaml", b"#" * 100_000)},
        headers={"Accept": "text/html"},
        timeout=10,
    )
    assert stranger.status_code == 413
    assert stranger.headers["Content-Type"].startswith("text/html")
    assert "请求过大" in stranger.text

    huge = {"file": ("huge.yaml", b"#" * (7 * 1024 * 1024))}
    r = staff.post(  # refused from its head; the rest is read and dropped, so the page arrives
        served.url + "/forms", data={"csrf_token": token.group(1)}, files=huge, timeout=30
    )
    assert r.status_code == 413 and "上传的内容太大" in r.text


# -- the same doors inside the app (any WSGI server) -------------------------------------------------


@pytest.fixture
def app_client(live_sqlite: LiveServer) -> FlaskClient:
    return live_sqlite.app.test_client()


def test_the_app_refuses_a_large_anonymous_body_with_json(app_client: FlaskClient):
    r = app_client.post(
        "/api/v1/enroll", data=b"{" + b" " * 100_000, content_type="application/json"
    )
    assert r.status_code == 413
    err = r.get_json()["error"]
    assert err["code"] == "too_large" and err["details"]["max_bytes"] == 65536
    assert r.headers["X-Sync-Server"] == "school-sync/1"


def test_the_app_refuses_a_large_login_form_with_a_page(app_client: FlaskClient):
    r = app_client.post("/login", data={"username": "x", "password": "y" * 100_000})
    assert r.status_code == 413
    assert r.mimetype == "text/html"
    assert "请求过大" in r.get_data(as_text=True)


def test_the_app_holds_a_device_to_its_doors(live_sqlite: LiveServer, app_client: FlaskClient):
    dev = live_sqlite.device()
    auth = {"Authorization": f"Bearer {dev.token}"}
    r = app_client.put(
        f"/api/v1/attachments/{SHA}",
        data=b"x" * (1024 * 1024 + 1),
        headers={**auth, "Content-Range": "bytes 0-1048576/2000000"},
    )
    assert r.status_code == 413
    assert r.get_json()["error"]["details"] == {
        "max_bytes": 1024 * 1024,
        "door": "attachment_chunk",
    }
    r = app_client.post("/api/v1/forms", data=b"x" * 100_000, headers=auth)
    assert r.status_code in (405, 413)  # no door for a body there: never read, never a 500


def test_the_doors_fit_what_clients_and_pages_send():
    from client.sync.engine import CHUNK_SIZE, MAX_BATCH_BYTES
    from sync_server.api import GZIP_SLACK
    from sync_server.config import DEFAULTS
    from sync_server.dashboard.formdefs import MAX_UPLOAD_BYTES

    doors = BodyDoors.from_config(DEFAULTS)
    assert doors.push >= MAX_BATCH_BYTES + GZIP_SLACK
    assert doors.chunk >= CHUNK_SIZE
    assert doors.dashboard >= MAX_UPLOAD_BYTES + 64 * 1024  # the file and its multipart wrapping
    assert doors.small == 64 * 1024


def test_a_bad_limit_in_config_toml_is_exit_2_naming_it(tmp_path: Path):
    write_config(tmp_path / "instance", {"serve_threads": "many"})
    where = ["--db", f"sqlite:///{tmp_path / 'x.db'}", "--instance", str(tmp_path / "instance")]
    r = subprocess.run(
        [sys.executable, "-m", "sync_server", "serve", "--port", "0", *where],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip().splitlines()[0]
    assert "serve_threads" in line and "错误" in line and "error" in line
    assert "Traceback" not in r.stderr


def test_a_chunk_of_exactly_the_chunk_limit_is_taken(serve: Callable[..., Served]):
    """The door says "at most N bytes": a chunk of N bytes passes it (under waitress it was 413 at N:
    the service read one byte past the range, and the stream is capped at the door's limit)."""
    served = serve(max_upload_chunk_bytes=20_000)
    token = _device_token(served)
    data = bytes(range(256)) * 200  # 51,200 bytes
    sha = hashlib.sha256(data).hexdigest()
    auth = {"Authorization": f"Bearer {token}"}
    r = requests.put(
        f"{served.url}/api/v1/attachments/{sha}",
        data=data[:20_000],
        headers={**auth, "Content-Range": f"bytes 0-19999/{len(data)}"},
        timeout=30,
    )
    assert r.status_code in (200, 201), r.text
    assert r.json()["offset"] == 20_000
    r = requests.put(
        f"{served.url}/api/v1/attachments/{sha}",
        data=data[20_000:40_001],
        headers={**auth, "Content-Range": f"bytes 20000-40000/{len(data)}"},
        timeout=30,
    )
    assert r.status_code == 413, r.text
    assert r.json()["error"]["details"]["max_bytes"] == 20_000
