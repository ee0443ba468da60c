"""The serving loop does not spin while a worker writes its answer (sync_server/serving.py, DoorChannel).

Waitress's workers send what they write at once (send_bytes 1), under the connection's outbuf_lock. Its loop
used to see those bytes before the worker had sent them: POLLOUT at once, the lock the worker held could
not be taken, and round again, visiting every open connection each turn, until the worker had the GIL back
(the 300-device crowd: ~17 turns a request, most of the loop's CPU). Now a connection whose worker is writing
is not "writable"; whatever the worker could not send is the loop's again, and the trigger wakes the loop.
A real server (create_server on port 0, not run) and a real connected socket pair.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync_server.app import create_app
from sync_server.serving import SELECT_CONNECTION_LIMIT, DoorChannel, DoorServer, create_server
from sync_server.state import get_state


@pytest.fixture
def server(tmp_path: Path, sqlite_template: Path) -> Iterator[DoorServer]:
    db = tmp_path / "sync.db"
    db.write_bytes(sqlite_template.read_bytes())
    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "INSTANCE_PATH": str(tmp_path / "inst")})
    srv = create_server(app, host="127.0.0.1", port=0)
    try:
        yield srv
    finally:
        srv.close()
        get_state(app).db.close()


@pytest.fixture
def pair(server: DoorServer) -> Iterator[tuple[DoorChannel, socket.socket]]:
    ours, client = socket.socketpair()
    channel = DoorChannel(server, ours, ("127.0.0.1", 50000), server.adj, map=server._map)
    channel.requests = [object()]  # a request being served: its worker writes the answer
    try:
        yield channel, client
    finally:
        channel.del_channel()
        ours.close()
        client.close()


def _trigger_pulled(server: DoorServer) -> bool:
    return bool(select.select([server.trigger._fileno], [], [], 0)[0])


def _drain_trigger(server: DoorServer) -> None:
    while _trigger_pulled(server):
        server.trigger.handle_read()


def test_a_connection_is_not_writable_while_its_worker_sends(
    pair: tuple[DoorChannel, socket.socket],
) -> None:
    channel, client = pair
    seen: list[bool] = []
    send = channel.send

    def watched(data: Any, do_close: bool = True) -> int:
        seen.append(channel.writable())  # what the loop would see at this moment
        return int(send(data, do_close))

    channel.send = watched
    worker = threading.Thread(target=channel.write_soon, args=(b"HTTP/1.1 200 OK\r\n\r\nanswer",))
    worker.start()
    worker.join(10)
    assert seen == [False]  # before: True - the loop went round and round meanwhile
    assert client.recv(100) == b"HTTP/1.1 200 OK\r\n\r\nanswer"
    assert channel.total_outbufs_len == 0 and not channel.writable()


def test_what_the_worker_could_not_send_is_the_loops_again(
    server: DoorServer, pair: tuple[DoorChannel, socket.socket]
) -> None:
    channel, client = pair
    _drain_trigger(server)
    body = (
        bytes(range(256)) * 16384
    )  # 4 MiB: more than the socket pair's buffers, under the watermark
    worker = threading.Thread(target=channel.write_soon, args=(body,))
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert channel.total_outbufs_len > 0  # the rest waits for the client
    assert channel.writable()  # the loop sends it ...
    assert _trigger_pulled(server)  # ... and is woken to see that
    got = bytearray()
    while len(got) < len(body):
        if channel.writable():
            channel.handle_write()
        got += client.recv(1 << 20)
    assert bytes(got) == body
    assert not channel.writable()


def test_without_poll_the_connection_limit_stays_within_select(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """Windows has no select.poll: waitress then uses select(), 512 sockets at most there (one more and
    select() raises ValueError, which stops waitress's loop). The limit is kept below that, and said."""
    db = tmp_path / "sync.db"
    db.write_bytes(sqlite_template.read_bytes())
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "INSTANCE_PATH": str(tmp_path / "inst"),
            "SERVE_CONNECTION_LIMIT": 2000,
        }
    )
    try:
        with_poll = create_server(app, host="127.0.0.1", port=0)
        assert with_poll.adj.connection_limit == 2000 and with_poll.adj.asyncore_use_poll
        with_poll.close()
        monkeypatch.delattr(select, "poll")  # as on Windows
        with caplog.at_level("WARNING", logger="sync_server.serving"):
            srv = create_server(app, host="127.0.0.1", port=0)
        assert srv.adj.connection_limit == SELECT_CONNECTION_LIMIT < 512
        assert not srv.adj.asyncore_use_poll
        assert "SERVE_CONNECTION_LIMIT 2000" in caplog.text and "select()" in caplog.text
        srv.close()
    finally:
        get_state(app).db.close()


def test_an_answer_over_the_watermark_streams_through_the_running_loop(server: DoorServer) -> None:
    """Over waitress's high watermark (16 MiB) the worker waits for the loop to send: the loop must see
    those bytes although the worker is inside write_soon. 40 MiB through the real loop, read slowly."""
    chunk = bytes(range(256)) * 4096  # 1 MiB

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Length", str(40 * len(chunk)))])
        return (chunk for _ in range(40))

    server.application = app
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    host, port = server.socket.getsockname()[:2]
    with socket.create_connection((host, port), timeout=20) as client:
        client.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(
            0.5
        )  # not read yet: the worker's bytes pass the watermark and it waits for the loop
        got = bytearray()
        while b"\r\n\r\n" not in got:
            got += client.recv(65536)
        head, _, body = bytes(got).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        received = len(body)
        while received < 40 * len(chunk):
            part = client.recv(1 << 20)
            assert part, "the connection closed early"
            received += len(part)
    assert received == 40 * len(chunk)
    server.close()
    loop.join(10)
    assert not loop.is_alive()  # the loop ends with the server: no thread left spinning
