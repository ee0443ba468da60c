"""`sync-server serve`: waitress with a limit at every door (docs/server.md, «连接与请求限制 · Limits»).

Out of the box waitress keeps at most 100 connections, lets each stay silent for 120 s, buffers bodies of up to
1 GiB before the app can look at the request, and has no deadline for a request head that arrives one byte at a
time. So 110 idle sockets stopped every other client for two minutes, and a stranger could make the server
write 200 MB to disk before it answered 401. Here, on top of waitress:

- the connection limit cannot be used up by idle connections: when it is reached, the connection that has been
  idle (or stuck in its request head) the longest is closed to make room, as nginx reuses idle keep-alive
  connections; one client address may hold at most SERVE_CONNECTIONS_PER_ADDRESS connections (the same rule);
- a request head must be complete SERVE_REQUEST_HEAD_TIMEOUT seconds after its first byte, and a body must
  then average SERVE_MIN_BODY_RATE bytes a second; a connection silent for SERVE_IDLE_TIMEOUT is closed;
- each request's body limit is chosen from its head (sync_server.limits.BodyDoors) before any of the body is
  read: 64 KiB without a device token or a staff session, so an oversized body is answered 413 at once;
- errors raised at the door are our JSON error body for the API (a short bilingual page for the dashboard),
  with `X-Sync-Server`, never waitress's plain text.

This builds on waitress's channel, parser and maintenance hooks (waitress 3.0); tests/server/test_server_doors.py
drives them with real sockets.

HTTPS (`serve --cert/--key`, issue 12 point 4): each accepted connection is wrapped by Python's ssl module
(OpenSSL; the context from sync_server.tls.server_context) in TlsDoorChannel, the handshake runs in the event
loop and must finish within SERVE_REQUEST_HEAD_TIMEOUT, and every limit above applies to the decrypted
requests; tests/server/test_tls_serve.py.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import html
import logging
import select
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.utilities import (
    BadRequest,
    Error,
    RequestEntityTooLarge,
    RequestHeaderFieldsTooLarge,
)
from werkzeug.http import parse_cookie

from sync_server.config import number, whole_number
from sync_server.errors import error_body, http_error
from sync_server.json_text import dumps
from sync_server.limits import API_PREFIX, BODYLESS_METHODS, BodyDoors, too_large_messages

log = logging.getLogger(__name__)

SERVER_HEADER = ("X-Sync-Server", "school-sync/1")  # as sync_server.app.SERVER_ID
IDENT = "school-sync"
LINGER_SECONDS = 2.0  # after a 413, how long the rest of the body is read and dropped ...
LINGER_BYTES = 16 * 1024 * 1024  # ... and how much of it at most
LINGER_READ = 256 * 1024
# Without poll() (Windows) waitress's loop uses select(), whose sets hold at most 512 sockets there
# (FD_SETSIZE); one more makes select() raise ValueError, which waitress does not catch: the loop and the
# server would stop. Its map also holds the listening socket and the trigger: connections are kept below.
SELECT_CONNECTION_LIMIT = 500
# What the serving loop asks of a socket: poll()'s flags (select() has none: the same numbers stand in)
WANT_READ = getattr(select, "POLLIN", 1) | getattr(select, "POLLPRI", 2)
WANT_WRITE = getattr(select, "POLLOUT", 4)


@dataclass(frozen=True, slots=True)
class ServeLimits:
    threads: int
    connection_limit: int
    connections_per_address: int  # 0: no limit (behind a reverse proxy every peer is the proxy)
    idle_timeout: float
    head_timeout: float
    min_body_rate: float
    max_header_bytes: int
    backlog: int
    cleanup_interval: float

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], *, threads: int | None = None) -> ServeLimits:
        behind_proxy = bool(cfg.get("PROXY_FIX_X_FOR"))
        per_address = whole_number(cfg, "SERVE_CONNECTIONS_PER_ADDRESS")
        return cls(
            threads=threads or whole_number(cfg, "SERVE_THREADS", minimum=1),
            connection_limit=whole_number(cfg, "SERVE_CONNECTION_LIMIT", minimum=10),
            connections_per_address=0 if behind_proxy else per_address,
            idle_timeout=number(cfg, "SERVE_IDLE_TIMEOUT", minimum=1),
            head_timeout=number(cfg, "SERVE_REQUEST_HEAD_TIMEOUT", minimum=1),
            min_body_rate=number(cfg, "SERVE_MIN_BODY_RATE"),
            max_header_bytes=whole_number(cfg, "SERVE_MAX_HEADER_BYTES", minimum=1024),
            backlog=whole_number(cfg, "SERVE_BACKLOG", minimum=1),
            cleanup_interval=number(cfg, "SERVE_CLEANUP_INTERVAL", minimum=0.1),
        )


# -- errors at the door -----------------------------------------------------------------------------


class DoorError(Error):  # type: ignore[misc]
    """An answer given before the app runs: JSON for the API, a short page for people."""

    def __init__(
        self,
        status: int,
        reason: str,
        body: Mapping[str, Any],
        *,
        as_json: bool,
    ) -> None:
        super().__init__(body["error"]["message_en"])
        self.code = status  # waitress reads the status from `code`
        self.reason = reason
        self.error_body = dict(body)
        self.as_json = as_json

    def to_response(self, ident: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
        status = f"{self.code} {self.reason}"
        err = self.error_body["error"]
        if self.as_json:
            payload = dumps(self.error_body).encode("utf-8")
            ctype = "application/json; charset=utf-8"
        else:
            payload = (
                '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
                f"<title>{self.code} · {html.escape(err['message_zh'])}</title></head><body>"
                f"<h1>{html.escape(err['message_zh'])}</h1>"
                f'<p lang="en">{html.escape(err["message_en"])}</p>'
                "<p>请返回上一页。 / Please go back.</p></body></html>"
            ).encode()
            ctype = "text/html; charset=utf-8"
        return status, [("Content-Type", ctype), SERVER_HEADER], payload


def _wants_json(path: str, headers: Mapping[str, str]) -> bool:
    if not path or path.startswith(API_PREFIX) or path == "/healthz":
        return True
    accept = headers.get("ACCEPT", "")
    return "application/json" in accept and "text/html" not in accept


# -- the request parser -----------------------------------------------------------------------------


class DoorParser(HTTPRequestParser):  # type: ignore[misc]
    """Waitress's parser, with the body limit of the request's door and the times its deadlines need."""

    adj: Any
    error: Any

    def __init__(self, adj: Adjustments, *, server: DoorServer) -> None:
        super().__init__(adj)
        self.started = time.time()  # the first byte of this request
        self.head_done: float | None = None
        self.door = "request"
        self.body_limit = server.doors.small
        self.refused_body = False
        self._server = server

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        self.head_done = time.time()
        method = str(self.command or "GET").upper()
        path = str(self.path or "/")
        headers: Mapping[str, str] = self.headers
        staff = (
            method not in BODYLESS_METHODS
            and not path.startswith(API_PREFIX)
            and self._server.is_staff(headers.get("COOKIE", ""))
        )
        device = bool(headers.get("AUTHORIZATION", "").strip())
        self.door, self.body_limit = self._server.doors.door(
            method=method, path=path, device=device, staff=staff
        )
        if self.body_limit + 1 < self.adj.max_request_body_size:
            adj = copy.copy(self.adj)  # waitress refuses at >= max_request_body_size
            adj.max_request_body_size = self.body_limit + 1
            self.adj = adj

    def received(self, data: bytes) -> int:
        consumed = int(super().received(data))
        if self.error is not None and not isinstance(self.error, DoorError):
            self.error = self._our_error(self.error)
        if self.refused_body:
            return len(data)  # the rest of a refused body is no next request
        return consumed

    def _our_error(self, error: Any) -> DoorError:
        headers: Mapping[str, str] = getattr(self, "headers", None) or {}
        as_json = _wants_json(str(getattr(self, "path", "") or ""), headers)
        if isinstance(error, RequestEntityTooLarge):
            self.expect_continue = False  # no "100 Continue" for a body that is refused
            zh, en = too_large_messages(self.body_limit, self.door)
            body = error_body(
                "too_large", zh, en, {"max_bytes": self.body_limit, "door": self.door}
            )
            self.refused_body = True
            log.warning(
                "refused a body over %s bytes at the %s door: %s %s",
                self.body_limit,
                self.door,
                getattr(self, "command", "?"),
                getattr(self, "path", "?"),
            )
            return DoorError(413, "Request Entity Too Large", body, as_json=as_json)
        if isinstance(error, RequestHeaderFieldsTooLarge):
            limit = int(self.adj.max_request_header_size)
            body = error_body(
                "headers_too_large",
                f"请求头过大（最多 {limit // 1024} KB）",
                f"the request head is too large (at most {limit} bytes)",
                {"max_bytes": limit},
            )
            return DoorError(431, "Request Header Fields Too Large", body, as_json=True)
        if isinstance(error, BadRequest):
            body = http_error(400, {"reason": str(error.body)[:200]})
            return DoorError(400, "Bad Request", body, as_json=as_json)
        status = int(getattr(error, "code", 500))
        return DoorError(
            status, str(getattr(error, "reason", "Error")), http_error(status), as_json=as_json
        )


# -- connections ------------------------------------------------------------------------------------


def _closing(channel: Any) -> bool:
    return bool(channel.will_close or channel.close_when_flushed)


def _spare_since(channel: Any) -> float | None:
    """When a connection that may be closed to make room was last active: one that is idle or still
    sending its request head (the longest silent goes first); None for one receiving a body or being
    served."""
    if _closing(channel) or channel.requests or channel.total_outbufs_len:
        return None
    request = channel.request
    if request is not None and request.headers_finished:
        return None
    return float(channel.last_activity)


class DoorChannel(HTTPChannel):  # type: ignore[misc]
    """Waitress's connection, with our parser, and a lingering close after refusing a body: the client is
    most likely still sending it, and a plain close would reset the connection before the client read the
    413 (as nginx's lingering_close, the rest is read and dropped, for a short while)."""

    linger_until: float | None = None
    lingered = 0
    refused_body = False
    worker_writing = False  # a worker thread is inside write_soon: it sends what it wrote itself

    def write_soon(self, data: bytes) -> int:
        """A worker's write (waitress's, send_bytes 1: appended and sent at once, under outbuf_lock). While
        it runs, `writable` says no: waitress's loop would otherwise see the bytes before the worker sent
        them, get POLLOUT at once, fail to take the lock the worker holds, and go round again - every
        connection's readable/writable each turn (300 in the crowd) - until the worker had the GIL back;
        that spin was most of the serving loop's CPU under load. Whatever the worker could not send (a full
        socket buffer) is the loop's again when it is done: the trigger wakes it."""
        self.worker_writing = True
        try:
            return int(super().write_soon(data))
        finally:
            self.worker_writing = False
            if self.total_outbufs_len and self.connected:
                self.server.pull_trigger()

    def _flush_outbufs_below_high_watermark(self) -> None:
        # over the high watermark the worker waits for the loop to send: the loop must see the bytes then
        writing, self.worker_writing = self.worker_writing, False
        try:
            super()._flush_outbufs_below_high_watermark()
        finally:
            self.worker_writing = writing

    def __init__(
        self, server: DoorServer, sock: Any, addr: Any, adj: Adjustments, map: Any = None
    ) -> None:
        self.lookahead = int(adj.channel_request_lookahead)
        super().__init__(server, sock, addr, adj, map)
        self.parser_class = functools.partial(DoorParser, server=server)
        server.admit(self)

    def received(self, data: bytes) -> bool:
        if self.refused_body:  # more of a body refused at the door: dropped
            self.lingered += len(data)
            return True
        result = bool(super().received(data))
        if any(getattr(r, "refused_body", False) for r in self.requests):
            self.refused_body = True
        return result

    def loop_flags(self) -> int:
        """readable() and writable() in one call (WANT_READ | WANT_WRITE), quickly for the usual states:
        the serving loop asks every open connection at every turn. A connection that is not closing, not
        lingering and has nothing to write is never writable, and readable unless it holds more requests
        than waitress's lookahead (it waits for a worker, or one serves it)."""
        if not (
            self.will_close
            or self.close_when_flushed
            or self.total_outbufs_len
            or self.linger_until is not None
        ):
            return 0 if len(self.requests) > self.lookahead else WANT_READ
        return (WANT_READ if self.readable() else 0) | (WANT_WRITE if self.writable() else 0)

    def readable(self) -> bool:
        return self.linger_until is not None or bool(super().readable())

    def writable(self) -> bool:
        if self.linger_until is not None:  # nothing to write; "writable" once it is time to close
            return time.time() > self.linger_until
        if self.worker_writing and not (self.will_close or self.close_when_flushed):
            return False
        return bool(super().writable())

    def handle_write(self) -> None:
        if self.linger_until is not None:
            self.handle_close()
            return
        super().handle_write()

    def handle_read(self) -> None:
        if self.linger_until is None:
            super().handle_read()
            return
        data = self.recv(LINGER_READ)  # b"" once the client is done: recv closes then
        self.lingered += len(data)
        if data and self.lingered > LINGER_BYTES:
            self.handle_close()

    def handle_close(self) -> None:
        if self.refused_body and self.linger_until is None and self.connected:
            try:
                self.socket.shutdown(socket.SHUT_WR)  # the answer is sent: no more from us
            except OSError:
                pass
            else:
                self.linger_until = time.time() + LINGER_SECONDS
                self.will_close = self.close_when_flushed = False
                return
        self.linger_until = None
        super().handle_close()


class TlsDoorChannel(DoorChannel):
    """The same connection over TLS (`sync-server serve --cert --key`): the accepted socket is wrapped by
    Python's ssl module (OpenSSL) and the handshake runs in the event loop without blocking it. A handshake
    must be done within SERVE_REQUEST_HEAD_TIMEOUT of the connection (DoorServer.maintenance); every other
    limit applies to the decrypted requests as before. All socket I/O stays on the loop's thread."""

    handshaken = False
    want_write = False  # the handshake (or a read) waits until the socket can take more

    def __init__(
        self, server: DoorServer, sock: Any, addr: Any, adj: Adjustments, map: Any = None
    ) -> None:
        assert server.tls is not None
        self.accepted_at = time.time()
        sock = server.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        super().__init__(server, sock, addr, adj, map)

    def _handshake(self) -> None:
        try:
            self.socket.do_handshake()
        except ssl.SSLWantReadError:
            self.want_write = False
            return
        except ssl.SSLWantWriteError:
            self.want_write = True
            return
        except (
            ssl.SSLError,
            OSError,
        ) as exc:  # a plain-HTTP client, a client refusing our certificate
            log.info("TLS handshake with %s failed: %s", self.addr, exc)
            self.handle_close()
            return
        self.handshaken = True
        self.want_write = False
        self.last_activity = time.time()
        # The request may have come with the client's last handshake message and already sit inside
        # OpenSSL, where poll() no longer sees it: read now rather than wait for the next event.
        self.handle_read()

    def loop_flags(self) -> int:
        if self.handshaken and not self.want_write:
            return super().loop_flags()
        return (WANT_READ if self.readable() else 0) | (WANT_WRITE if self.writable() else 0)

    def readable(self) -> bool:
        if not self.handshaken:
            return not self.will_close
        return super().readable()

    def writable(self) -> bool:
        if not self.handshaken:
            return self.want_write or bool(self.will_close)
        return self.want_write or super().writable()

    def handle_read(self) -> None:
        if not self.handshaken:
            self._handshake()
            return
        if self.linger_until is not None:
            super().handle_read()  # TLS is shut down for lingering: the rest is dropped as it comes
            return
        try:
            data = self.socket.recv(self.adj.recv_bytes)
            while data and self.socket.pending():  # decrypted bytes the socket no longer signals
                data += self.socket.recv(self.socket.pending())
        except ssl.SSLWantReadError:
            return
        except ssl.SSLWantWriteError:
            self.want_write = True
            return
        except (ssl.SSLError, OSError) as exc:
            log.info("TLS connection with %s broke: %s", self.addr, exc)
            self.handle_close()
            return
        self.want_write = False
        if not data:  # the client closed the connection
            self.handle_close()
            return
        self.last_activity = time.time()
        self.received(data)

    def handle_write(self) -> None:
        if not self.handshaken and not self.will_close:
            self._handshake()
            return
        self.want_write = False
        super().handle_write()

    def send(self, data: bytes, do_close: bool = True) -> int:
        if not self.handshaken:
            return 0
        if self.linger_until is not None:
            return 0
        try:
            return int(self.socket.send(data))
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            return 0
        except (ssl.SSLError, OSError) as exc:
            log.info("TLS connection with %s broke while sending: %s", self.addr, exc)
            if do_close:
                self.handle_close()
            return 0


def _tls_channel(
    server: DoorServer, sock: Any, addr: Any, adj: Adjustments, map: Any = None
) -> TlsDoorChannel | None:
    """A TLS connection, or none when the socket cannot even be wrapped (the client left already): an
    error here must not reach waitress's accept, which would close the listening socket."""
    try:
        return TlsDoorChannel(server, sock, addr, adj, map)
    except OSError as exc:
        log.info("could not start TLS with %s: %s", addr, exc)
        with contextlib.suppress(OSError):
            sock.close()
        return None


class ServingLoop:
    """Waitress's loop (wasyncore.poll2, or poll with select() where there is no poll(): Windows), cheaper
    at each turn. Waitress asks every open connection readable() and writable() and registers each in a new
    poll object at every turn: with 300 connections ~120 us a turn, ~650 turns in the 300-device crowd, more
    than half of the loop thread's CPU (~55 us a turn here). Here a connection answers both in one call
    (DoorChannel.loop_flags) and the poll object is kept: a socket is registered again only when what is
    asked of it changed, and unregistered when it stops being asked or closes. Every connection is still asked at every turn, as
    before, so no change of state (made by a worker thread or by the loop) can go unseen."""

    def __init__(self, socket_map: dict[int, Any], *, use_poll: bool) -> None:
        self.map = socket_map
        self.poller = select.poll() if use_poll else None
        self.registered: dict[int, int] = {}  # fd -> the flags poller holds for it

    @staticmethod
    def _other_flags(obj: Any) -> int:
        """The listening socket's and the trigger's, as waitress asks them."""
        flags = WANT_READ if obj.readable() else 0
        if obj.writable() and not obj.accepting:  # a listener is never writable
            flags |= WANT_WRITE
        return flags

    def turn(self, timeout: float) -> None:
        if self.poller is None:
            self._select_turn(timeout)
        else:
            self._poll_turn(timeout)

    def _poll_turn(self, timeout: float) -> None:
        poller, registered = self.poller, self.registered
        assert poller is not None
        asked = 0
        for fd, obj in list(self.map.items()):  # (inline: this runs for every connection each turn)
            flags = obj.loop_flags() if isinstance(obj, DoorChannel) else self._other_flags(obj)
            if flags:
                asked += 1
                if registered.get(fd) != flags:
                    poller.register(fd, flags)  # (registering again modifies)
                    registered[fd] = flags
            elif fd in registered:
                poller.unregister(fd)
                del registered[fd]
        if len(registered) != asked:  # sockets closed since: no longer in the map
            for fd in [fd for fd in registered if fd not in self.map]:
                self._forget(fd)
        try:
            ready = poller.poll(int(timeout * 1000))
        except InterruptedError:
            return
        for fd, flags in ready:
            obj = self.map.get(fd)
            if obj is None:  # closed by an earlier socket's handler this turn
                self._forget(fd)
                continue
            wasyncore.readwrite(obj, flags)

    def _forget(self, fd: int) -> None:
        if self.registered.pop(fd, None) is not None:
            assert self.poller is not None
            with contextlib.suppress(KeyError):
                self.poller.unregister(fd)

    def _select_turn(self, timeout: float) -> None:
        r: list[int] = []
        w: list[int] = []
        e: list[int] = []
        for fd, obj in list(self.map.items()):
            flags = obj.loop_flags() if isinstance(obj, DoorChannel) else self._other_flags(obj)
            if flags & WANT_READ:
                r.append(fd)
            if flags & WANT_WRITE:
                w.append(fd)
            if flags:
                e.append(fd)
        if not e:
            time.sleep(timeout)
            return
        try:
            r, w, e = select.select(r, w, e, timeout)
        except InterruptedError:
            return
        for fds, handle in ((r, wasyncore.read), (w, wasyncore.write), (e, wasyncore._exception)):
            for fd in fds:
                obj = self.map.get(fd)
                if obj is not None:
                    handle(obj)


class DoorServer(TcpWSGIServer):  # type: ignore[misc]
    channel_class = DoorChannel

    def __init__(
        self,
        application: Any,
        *,
        adj: Adjustments,
        limits: ServeLimits,
        doors: BodyDoors,
        is_staff: Callable[[str], bool],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.limits = limits
        self.tls = tls
        if tls is not None:
            self.channel_class = _tls_channel  # type: ignore[assignment]
        self.doors = doors
        self.is_staff = is_staff
        self.made_room = 0
        self.periodic: list[
            Callable[[float], None]
        ] = []  # called with the time at each maintenance
        self.refused: dict[
            str, int
        ] = {}  # address -> connections refused since the last maintenance
        super().__init__(application, adj=adj)

    def _close_spares(self, channels: Iterable[Any], count: int) -> int:
        ranked = sorted(
            (since, id(ch), ch) for ch in channels if (since := _spare_since(ch)) is not None
        )
        closed = 0
        for _, _, channel in ranked[:count]:
            channel.will_close = True
            closed += 1
        self.made_room += closed
        return closed

    def run(self) -> None:
        """Waitress's run, with ServingLoop for its loop."""
        use_poll = bool(self.adj.asyncore_use_poll) and hasattr(select, "poll")
        loop = ServingLoop(self._map, use_poll=use_poll)
        timeout = float(self.adj.asyncore_loop_timeout)
        try:
            while self._map:
                loop.turn(timeout)
        except (SystemExit, KeyboardInterrupt):
            self.task_dispatcher.shutdown()

    def readable(self) -> bool:
        if self.accepting:
            excess = len(self._map) - self.adj.connection_limit + 1
            if excess > 0:
                channels = list(self.active_channels.values())
                closing = sum(1 for ch in channels if _closing(ch))
                if excess > closing:
                    self._close_spares(channels, excess - closing)
        return bool(super().readable())

    def admit(self, channel: DoorChannel) -> None:
        """At most `connections_per_address` connections from one address: make room or refuse."""
        cap = self.limits.connections_per_address
        if cap <= 0:
            return
        host = channel.addr[0] if isinstance(channel.addr, tuple) else channel.addr
        same = [
            ch
            for ch in self.active_channels.values()
            if ch is not channel
            and not _closing(ch)
            and (ch.addr[0] if isinstance(ch.addr, tuple) else ch.addr) == host
        ]
        if len(same) < cap or self._close_spares(same, len(same) - cap + 1):
            return
        self.refused[host] = self.refused.get(host, 0) + 1
        channel.handle_close()

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # closes connections silent for channel_timeout
        overdue = 0
        for channel in list(self.active_channels.values()):
            if isinstance(channel, TlsDoorChannel) and not channel.handshaken:
                if not _closing(channel) and now - channel.accepted_at > self.limits.head_timeout:
                    channel.will_close = True
                    overdue += 1
                continue
            request = channel.request
            if channel.requests or _closing(channel) or not isinstance(request, DoorParser):
                continue
            if not request.headers_finished:
                late = now - request.started > self.limits.head_timeout
            elif not request.completed and request.head_done is not None:
                grace = now - request.head_done - self.limits.head_timeout
                late = grace > 0 and request.body_bytes_received < grace * self.limits.min_body_rate
            else:
                late = False
            if late:
                channel.will_close = True
                overdue += 1
        if overdue:
            log.warning("closed %s connections whose request was overdue", overdue)
        if self.made_room:
            log.info("closed %s idle connections to make room for new ones", self.made_room)
            self.made_room = 0
        if self.refused:
            worst = sorted(self.refused.items(), key=lambda item: -item[1])[:5]
            log.warning(
                "refused connections from addresses holding %s busy ones: %s",
                self.limits.connections_per_address,
                ", ".join(f"{host} ×{count}" for host, count in worst),
            )
            self.refused = {}
        for job in self.periodic:  # (each catches its own errors: maintenance.DailyUpdateWarnings)
            job(now)


# -- putting it together ----------------------------------------------------------------------------


def staff_session_check(app: Any) -> Callable[[str], bool]:
    """A check of a Cookie header: does it carry a validly signed dashboard session with a user?"""
    serializer = app.session_interface.get_signing_serializer(app)
    name = app.config["SESSION_COOKIE_NAME"]
    max_age = int(app.permanent_session_lifetime.total_seconds())

    def is_staff(cookie_header: str) -> bool:
        if serializer is None or not cookie_header:
            return False
        value = parse_cookie(cookie_header).get(name)
        if not value:
            return False
        try:
            data = serializer.loads(value, max_age=max_age)
        except Exception:  # a bad or expired signature: a stranger
            return False
        return isinstance(data, dict) and isinstance(data.get("uid"), int)

    return is_staff


def create_server(
    app: Any,
    *,
    host: str,
    port: int,
    threads: int | None = None,
    tls: ssl.SSLContext | None = None,
) -> DoorServer:
    """A waitress server for the app with the limits of its configuration (raises OSError); HTTPS when
    given a TLS context (sync_server.tls.server_context)."""
    limits = ServeLimits.from_config(app.config, threads=threads)
    doors = BodyDoors.from_config(app.config)
    use_poll = hasattr(select, "poll")  # no FD_SETSIZE ceiling where poll exists
    connection_limit = limits.connection_limit
    if not use_poll and connection_limit > SELECT_CONNECTION_LIMIT:
        log.warning(
            "SERVE_CONNECTION_LIMIT %s 超过本系统 select() 能同时等待的连接数，按 %s 执行 / "
            "SERVE_CONNECTION_LIMIT %s is more than select() can watch on this system; %s is used",
            connection_limit,
            SELECT_CONNECTION_LIMIT,
            connection_limit,
            SELECT_CONNECTION_LIMIT,
        )
        connection_limit = SELECT_CONNECTION_LIMIT
    adj = Adjustments(
        host=host,
        port=port,
        threads=limits.threads,
        connection_limit=connection_limit,
        channel_timeout=limits.idle_timeout,
        cleanup_interval=limits.cleanup_interval,
        max_request_header_size=limits.max_header_bytes,
        max_request_body_size=doors.largest + 1,
        backlog=limits.backlog,
        ident=IDENT,
        url_scheme="https" if tls is not None else "http",
        # a whole TLS record (16 KiB) per read, so no decrypted bytes wait unseen inside OpenSSL
        recv_bytes=64 * 1024 if tls is not None else 8192,
        asyncore_use_poll=use_poll,
    )
    server = DoorServer(
        app, adj=adj, limits=limits, doors=doors, is_staff=staff_session_check(app), tls=tls
    )
    from sync_server.maintenance import DailyUpdateWarnings

    server.periodic.append(DailyUpdateWarnings(app))  # update signatures' expiry, logged daily
    return server
