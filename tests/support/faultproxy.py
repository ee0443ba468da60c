"""A fault-injecting TCP proxy for tests (asyncio, loopback only), and a captive-portal stand-in.

    with FaultProxy(("127.0.0.1", server_port)) as proxy:
        proxy.default = Fault(latency=0.05, bandwidth=8_000)      # every connection from now on
        proxy.plan(Fault(cut_down_after=40, trigger=b"POST /api/v1/push"))  # only the next connection
        requests.get(proxy.url + "/healthz")

Each accepted connection takes the next planned Fault (plan() queues them), else `default`. A Fault can add
one-way latency per chunk, limit bandwidth (bytes/s, each direction), close both sides after N bytes in
either direction (a cut), send a TCP reset instead of a clean close, or swallow everything and never answer (a
black hole). A Fault with a `trigger` (for example b"POST /api/v1/push") does nothing until the client's bytes
contain it; a planned one is then claimed by the first connection that carries the trigger (others pass
clean), and byte counting for its cut starts there - so a fault aims at one request, whether the client
keeps connections alive or opens one per request. Black holes and bare resets act at connect time.

The proxy runs its own event loop in a background thread; start()/stop() or use it as a context manager.
It listens on 127.0.0.1 only and forwards only to a loopback address.

CaptivePortal is the tiny HTTP server a hotel or school gateway puts in front of the internet: it answers
every request with 200 and an HTML login page.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

CHUNK = 16 * 1024


@dataclass(frozen=True)
class Fault:
    latency: float = 0.0  # seconds added to every chunk, each direction
    bandwidth: int | None = None  # bytes per second, each direction
    cut_up_after: int | None = None  # close after this many client -> server bytes (after trigger)
    cut_down_after: int | None = (
        None  # close after this many server -> client bytes (after trigger)
    )
    reset: bool = False  # end a cut with a TCP RST instead of FIN; with no cut: reset at once
    black_hole: bool = False  # accept, read and drop everything, never answer
    trigger: bytes | None = None  # start counting for cuts once the client sent these bytes

    @property
    def clean(self) -> bool:
        return self == Fault()


@dataclass
class ProxyStats:
    connections: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    cuts: int = 0
    resets: int = 0
    faults: list[Fault] = field(default_factory=list)  # the fault each connection got, in order


class _Cut(Exception):
    pass


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0) rather than a clean FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


CLEAN = Fault()


class _Connection:
    def __init__(
        self, fault: Fault, stats: ProxyStats, claim: Callable[[Fault], bool] = lambda f: True
    ) -> None:
        self.planned = fault
        self.stats = stats
        self.claim = claim
        self.triggered = fault.trigger is None
        self.claimed = fault.trigger is None
        self.seen = b""  # the tail of the client's bytes, to find the trigger across chunk borders
        self.counted = {"up": 0, "down": 0}

    @property
    def fault(self) -> Fault:
        """The fault in force: a triggered fault only once this connection carried (and claimed) it."""
        return self.planned if self.claimed else CLEAN

    def _watch_trigger(self, data: bytes) -> int:
        """Offset in data from which bytes count (0 when already triggered, len(data)+1 when not yet)."""
        if self.triggered:
            return 0
        trigger = self.planned.trigger or b""
        window = self.seen + data
        at = window.find(trigger)
        if at < 0:
            self.seen = window[-len(trigger) :]
            return len(data) + 1
        self.triggered = True
        self.claimed = self.claim(self.planned)
        return max(0, at + len(trigger) - len(self.seen))

    def allowance(self, direction: str, data: bytes) -> int | None:
        """How many bytes of data may pass before a cut (None: all)."""
        start = self._watch_trigger(data) if direction == "up" else (0 if self.triggered else None)
        fault = self.fault
        limit = fault.cut_up_after if direction == "up" else fault.cut_down_after
        if limit is None or start is None or start > len(data):
            return None
        already = self.counted[direction]
        counting = len(data) - start
        if already + counting < limit:
            self.counted[direction] += counting
            return None
        return start + (limit - already)

    async def pipe(
        self,
        direction: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            allowed = self.allowance(direction, data)
            if allowed is not None:
                data = data[:allowed]
            await self._send(direction, writer, data)
            if allowed is not None:
                raise _Cut()
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()

    async def _send(self, direction: str, writer: asyncio.StreamWriter, data: bytes) -> None:
        fault = self.fault
        if fault.latency:
            await asyncio.sleep(fault.latency)
        step = CHUNK if fault.bandwidth is None else max(1, fault.bandwidth // 20)
        for i in range(0, len(data), step):
            piece = data[i : i + step]
            writer.write(piece)
            await writer.drain()
            if direction == "up":
                self.stats.bytes_up += len(piece)
            else:
                self.stats.bytes_down += len(piece)
            if fault.bandwidth is not None:
                await asyncio.sleep(len(piece) / fault.bandwidth)


class FaultProxy:
    def __init__(self, target: tuple[str, int], *, default: Fault | None = None) -> None:
        host, port = target
        if not _is_loopback(host):
            raise ValueError(f"the fault proxy forwards to loopback addresses only, not {host}")
        self.target = (host, port)
        self.default = default or Fault()
        self.stats = ProxyStats()
        self._planned: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    # -- control, from the test's thread ------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def plan(self, *faults: Fault) -> None:
        """The next connections get these faults, one each, in order; later ones get `default`."""
        with self._lock:
            self._planned.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._planned.clear()
        self.default = Fault()

    def _next_fault(self) -> Fault:
        """A planned fault without a trigger is taken now; one with a trigger is only offered (see _claim)."""
        with self._lock:
            if not self._planned:
                return self.default
            head = self._planned[0]
            at_connect = head.black_hole or (
                head.reset and head.cut_up_after is None and head.cut_down_after is None
            )
            if head.trigger is None or at_connect:
                return self._planned.popleft()
            return self._planned[0]

    def _claim(self, fault: Fault) -> bool:
        """A connection carried this fault's trigger: it gets the fault if it is still unclaimed."""
        with self._lock:
            if self._planned and self._planned[0] is fault:
                self._planned.popleft()
                return True
            return fault is self.default

    def drop_connections(self) -> None:
        """Reset every open connection (the cable pulled out)."""
        loop = self._loop
        if loop is None:
            return
        done = threading.Event()

        def cancel_all() -> None:
            for task in list(self._tasks):
                task.cancel()
            done.set()

        loop.call_soon_threadsafe(cancel_all)
        done.wait(5)

    def start(self) -> FaultProxy:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, "127.0.0.1", 0)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                self._server.close()
                for task in list(self._tasks):
                    task.cancel()
                loop.run_until_complete(asyncio.sleep(0))
                with contextlib.suppress(Exception):
                    loop.run_until_complete(self._server.wait_closed())
                loop.close()

        self._thread = threading.Thread(target=run, name="fault-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the proxy, on its own loop -----------------------------------------------------------------

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        fault = self._next_fault()
        self.stats.connections += 1
        self.stats.faults.append(fault)
        try:
            await self._serve(fault, client_r, client_w)
        except asyncio.CancelledError:
            _abort(client_w)
        finally:
            self._tasks.discard(task)

    async def _serve(
        self, fault: Fault, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        if fault.black_hole:
            try:
                while await client_r.read(CHUNK):
                    pass
            finally:
                client_w.close()
            return
        if fault.reset and fault.cut_up_after is None and fault.cut_down_after is None:
            self.stats.resets += 1
            _abort(client_w)
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            _abort(client_w)
            return
        conn = _Connection(fault, self.stats, self._claim)
        up = asyncio.ensure_future(conn.pipe("up", client_r, server_w))
        down = asyncio.ensure_future(conn.pipe("down", server_r, client_w))
        pending: set[asyncio.Future[None]] = {up, down}
        cut = False
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for fut in done:
                    if isinstance(fut.exception(), _Cut):
                        cut = True
                if cut:
                    break
        finally:
            for fut in pending:
                fut.cancel()
            if cut:
                self.stats.cuts += 1
            if cut and conn.fault.reset:
                self.stats.resets += 1
                _abort(client_w)
                _abort(server_w)
            else:
                for w in (client_w, server_w):
                    with contextlib.suppress(Exception):
                        w.close()


@contextlib.contextmanager
def fault_proxy(target: tuple[str, int], *, default: Fault | None = None) -> Iterator[FaultProxy]:
    with FaultProxy(target, default=default) as proxy:
        yield proxy


# -- a captive portal -----------------------------------------------------------------------------------

PORTAL_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>校园网认证</title></head>"
    "<body><h1>请登录校园网 / Please log in</h1><form method='post'><input name='user'></form>"
    "</body></html>"
).encode()


class _PortalHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, *, body: bool = True) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.hits += 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PORTAL_PAGE)))
        self.end_headers()
        if body:
            self.wfile.write(PORTAL_PAGE)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def log_message(self, format: str, *args: object) -> None:
        pass


class CaptivePortal:
    """Answers every request with 200 text/html (a login page), whatever was asked."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _PortalHandler)
        self._server.daemon_threads = True
        self._server.hits = 0  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def hits(self) -> int:
        return int(self._server.hits)  # type: ignore[attr-defined]

    def __enter__(self) -> CaptivePortal:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="captive-portal", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)


# -- a link that drops every so often (issue 10) -----------------------------------------------------------


class PeriodicCuts:
    """A link that drops every `every` seconds: each time, every open connection through the proxy is reset,
    and for `down_for` seconds new connections are reset at once (the link is down); then the proxy's default
    fault (bandwidth, latency) is back. A context manager; the cuts run on a thread of their own.

        with FaultProxy(target, default=Fault(bandwidth=8_000, latency=0.3)) as proxy:
            with PeriodicCuts(proxy, every=20.0, down_for=1.0) as cuts:
                ...   # cuts.count: how many times the link dropped so far
    """

    def __init__(self, proxy: FaultProxy, *, every: float, down_for: float = 0.0) -> None:
        if every <= 0 or down_for < 0 or down_for >= every:
            raise ValueError("need every > down_for >= 0")
        self.proxy = proxy
        self.every = every
        self.down_for = down_for
        self.count = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.wait(self.every - self.down_for):
            up = self.proxy.default
            if self.down_for:
                self.proxy.default = Fault(reset=True)
            self.proxy.drop_connections()
            self.count += 1
            if self.down_for:
                self._stop.wait(self.down_for)
                self.proxy.default = up

    def __enter__(self) -> PeriodicCuts:
        self._thread = threading.Thread(target=self._run, name="periodic-cuts", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
