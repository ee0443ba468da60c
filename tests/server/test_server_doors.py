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
import http.client
import json
import select
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.server.conftest import change
from tests.support.served import Served, cli, start_served

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
