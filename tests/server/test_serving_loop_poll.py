"""The serving loop's own turn (sync_server/serving.py, ServingLoop and DoorChannel.loop_flags).

Waitress asked every open connection readable() and writable() and registered each in a new poll object at
every turn; ServingLoop asks each connection once (loop_flags) and keeps its poll object, registering a
socket again only when what is asked of it changed. These tests hold it to waitress's answers in every
state a connection can be in, and serve real requests through the running loop with poll() and with
select() (Windows has no poll: forced here): keep-alive, pipelined requests, a large body, a slow reader,
idle connections closed by maintenance, the connection limit, a refused body's lingering close, TLS.
A real server (create_server on 127.0.0.1 port 0) and real sockets; times are bounds, never asserted.
"""

from __future__ import annotations

import http.client
import itertools
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sync_server.app import create_app
from sync_server.serving import (
    WANT_READ,
    WANT_WRITE,
    DoorChannel,
    DoorServer,
    ServingLoop,
    TlsDoorChannel,
    create_server,
)
from sync_server.state import get_state
from sync_server.tls import make_certificate, server_context

CHUNK = bytes(range(256)) * 4096  # 1 MiB


def _echo_app(environ: Any, start_response: Any) -> Any:
    """GET /big/N: N MiB; anything else: the method, path and body length."""
    path = environ["PATH_INFO"]
    if path.startswith("/big/"):
        count = int(path.rsplit("/", 1)[1])
        start_response("200 OK", [("Content-Length", str(count * len(CHUNK)))])
        return (CHUNK for _ in range(count))
    body = environ["wsgi.input"].read()
    answer = f"{environ['REQUEST_METHOD']} {path} {len(body)}".encode()
    start_response("200 OK", [("Content-Length", str(len(answer)))])
    return [answer]


@pytest.fixture(params=["poll", "select"])
def make_server(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., DoorServer]]:
    """Servers running their loop in a thread; with select() instead of poll() for the "select" cases."""
    if request.param == "select":
        monkeypatch.delattr(select, "poll")  # as on Windows
    made: list[tuple[DoorServer, threading.Thread, Any]] = []

    def make(*, tls: ssl.SSLContext | None = None, **config: Any) -> DoorServer:
        db = tmp_path / f"sync-{len(made)}.db"
        db.write_bytes(sqlite_template.read_bytes())
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{db}",
                "INSTANCE_PATH": str(tmp_path / f"inst-{len(made)}"),
                **config,
            }
        )
        srv = create_server(app, host="127.0.0.1", port=0, tls=tls)
        assert srv.adj.asyncore_use_poll == (request.param == "poll")
        srv.application = _echo_app
        loop = threading.Thread(target=srv.run, daemon=True)
        loop.start()
        made.append((srv, loop, app))
        return srv

    yield make
    for srv, loop, app in made:
        srv.close()
        loop.join(10)
        assert not loop.is_alive()  # the loop ends with the server
        get_state(app).db.close()


def _port(srv: DoorServer) -> int:
    return int(srv.socket.getsockname()[1])


def _request(conn: http.client.HTTPConnection, method: str, path: str, body: bytes = b"") -> bytes:
    conn.request(method, path, body=body or None)
    response = conn.getresponse()
    assert response.status == 200
    return response.read()


# -- the same answers as waitress's readable() and writable() ------------------------------------------


def _expected(channel: DoorChannel) -> int:
    return (WANT_READ if channel.readable() else 0) | (WANT_WRITE if channel.writable() else 0)


def _states(channel: DoorChannel) -> Iterator[None]:
    """Every combination of what readable()/writable() look at, set on the real channel."""
    now = time.time()
    for will_close, flushed, outbuf, linger, requests, writing in itertools.product(
        (False, True), (False, True), (0, 5), (None, now - 1, now + 60), (0, 1, 2), (False, True)
    ):
        channel.will_close, channel.close_when_flushed = will_close, flushed
        channel.total_outbufs_len = outbuf
        channel.linger_until = linger
        channel.requests = [object()] * requests
        channel.worker_writing = writing
        yield


def test_loop_flags_answer_as_readable_and_writable_in_every_state(
    tmp_path: Path, sqlite_template: Path
) -> None:
    db = tmp_path / "sync.db"
    db.write_bytes(sqlite_template.read_bytes())
    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "INSTANCE_PATH": str(tmp_path / "inst")})
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make_certificate(["127.0.0.1"], cert, key)
    srv = create_server(app, host="127.0.0.1", port=0, tls=server_context(cert, key))
    sockets: list[socket.socket] = []
    try:
        ours, client = socket.socketpair()
        sockets += [ours, client]
        plain = DoorChannel(srv, ours, ("127.0.0.1", 50000), srv.adj, map=srv._map)
        checked = 0
        for lookahead in (0, 1):
            plain.lookahead = plain.adj.channel_request_lookahead = lookahead
            for _ in _states(plain):
                assert plain.loop_flags() == _expected(plain)
                checked += 1
        ours, client = socket.socketpair()
        sockets += [ours, client]
        tls = TlsDoorChannel(srv, ours, ("127.0.0.1", 50001), srv.adj, map=srv._map)
        for handshaken, want_write in itertools.product((False, True), (False, True)):
            tls.handshaken, tls.want_write = handshaken, want_write
            for _ in _states(tls):
                assert tls.loop_flags() == _expected(tls)
                checked += 1
        assert checked == 2 * 144 + 4 * 144
        for channel in (plain, tls):
            channel.linger_until = None
            channel.del_channel()
            channel.socket.close()
    finally:
        srv.close()
        for sock in sockets:
            sock.close()
        get_state(app).db.close()


def test_closed_sockets_leave_the_poll_registration(tmp_path: Path, sqlite_template: Path) -> None:
    """A closed connection's descriptor is unregistered before the next poll (a stale one would answer
    POLLNVAL at once: the loop would spin), and a descriptor number used again is asked afresh."""
    db = tmp_path / "sync.db"
    db.write_bytes(sqlite_template.read_bytes())
    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "INSTANCE_PATH": str(tmp_path / "inst")})
    srv = create_server(app, host="127.0.0.1", port=0)
    srv.application = _echo_app
    loop = ServingLoop(srv._map, use_poll=True)
    clients = [socket.create_connection(("127.0.0.1", _port(srv)), timeout=10) for _ in range(5)]
    try:
        deadline = time.monotonic() + 10
        while len(srv.active_channels) < 5 and time.monotonic() < deadline:
            loop.turn(0.05)
        assert len(srv.active_channels) == 5
        loop.turn(0)  # (the last one accepted is asked at the next turn)
        assert set(loop.registered) == set(srv._map)  # listener, trigger, 5 idle connections
        for client in clients[:3]:
            client.close()
        while len(srv.active_channels) > 2 and time.monotonic() < deadline:
            loop.turn(0.05)
        assert len(srv.active_channels) == 2
        loop.turn(0)
        assert set(loop.registered) == set(srv._map)
        assert loop.poller is not None and loop.poller.poll(0) == []  # nothing stale, nothing to do
        clients.append(socket.create_connection(("127.0.0.1", _port(srv)), timeout=10))
        clients[-1].sendall(b"GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = b""
        while not got.endswith(b"GET /again 0"):
            loop.turn(0.05)  # no worker threads needed: the task runs in the dispatcher's threads
            with_data, _, _ = select.select([clients[-1]], [], [], 0)
            if with_data:
                got += clients[-1].recv(65536)
            assert time.monotonic() < deadline
    finally:
        for client in clients:
            client.close()
        srv.close()
        get_state(app).db.close()


# -- real requests through the running loop, with poll() and with select() -----------------------------


def test_keep_alive_and_pipelined_requests(make_server: Callable[..., DoorServer]) -> None:
    srv = make_server()
    conn = http.client.HTTPConnection("127.0.0.1", _port(srv), timeout=10)
    for i in range(5):  # one connection, one request after another
        assert _request(conn, "POST", f"/r{i}", b"x" * i) == f"POST /r{i} {i}".encode()
    conn.close()
    with socket.create_connection(("127.0.0.1", _port(srv)), timeout=10) as sock:
        sock.sendall(
            b"".join(f"GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(4))
            + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        got = b""
        while part := sock.recv(65536):
            got += part
    answers = re.findall(rb"GET /\w+ 0", got)
    assert answers == [b"GET /p0 0", b"GET /p1 0", b"GET /p2 0", b"GET /p3 0", b"GET /last 0"]


def test_many_connections_at_once_with_a_large_body_and_a_slow_reader(
    make_server: Callable[..., DoorServer],
) -> None:
    srv = make_server(SERVE_CONNECTIONS_PER_ADDRESS=100)
    port = _port(srv)
    results: dict[int, bytes] = {}

    def one(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        results[i] = _request(conn, "PUT", f"/c{i}", b"y" * (i * 100))
        conn.close()

    slow = socket.create_connection(("127.0.0.1", port), timeout=20)
    slow.sendall(b"GET /big/20 HTTP/1.1\r\nHost: x\r\n\r\n")  # 20 MiB: over the worker's watermark
    big = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    # past the anonymous door's limit: refused (413), the rest read and dropped while others are served
    big.request("POST", "/large", body=b"z" * (600 * 1024))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {i: f"PUT /c{i} {i * 100}".encode() for i in range(40)}
    response = big.getresponse()
    assert response.status == 413  # the anonymous door refuses it, and the loop answers in time
    response.read()
    big.close()
    time.sleep(0.3)  # the slow reader has not read: its answer waits in the loop's buffers
    received = 0
    head = b""
    while b"\r\n\r\n" not in head:
        head += slow.recv(4096)
    received = len(head.partition(b"\r\n\r\n")[2])
    while received < 20 * len(CHUNK):
        part = slow.recv(1 << 16)
        assert part, "the connection closed early"
        received += len(part)
    assert received == 20 * len(CHUNK)
    slow.close()


def test_idle_connections_are_closed_and_room_is_made(
    make_server: Callable[..., DoorServer],
) -> None:
    srv = make_server(
        SERVE_IDLE_TIMEOUT=1,
        SERVE_CLEANUP_INTERVAL=0.2,
        SERVE_CONNECTION_LIMIT=10,
        SERVE_CONNECTIONS_PER_ADDRESS=0,
    )
    port = _port(srv)
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(12)]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # past the limit: room is made
    assert _request(conn, "GET", "/through") == b"GET /through 0"
    conn.close()
    for sock in idle:  # every idle one is closed: the oldest to make room, the rest by maintenance
        sock.settimeout(10)
        assert sock.recv(10) == b""
        sock.close()


def test_tls_requests_through_the_loop(
    make_server: Callable[..., DoorServer], tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make_certificate(["127.0.0.1"], cert, key)
    srv = make_server(tls=server_context(cert, key))
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", _port(srv), timeout=10, context=context)
    for i in range(3):
        assert _request(conn, "POST", f"/t{i}", b"s" * 20000) == f"POST /t{i} 20000".encode()
    conn.request("GET", "/big/3")
    response = conn.getresponse()
    assert response.status == 200 and len(response.read()) == 3 * len(CHUNK)
    conn.close()
