"""The fault proxy itself: each fault does what it says, against a small keep-alive HTTP server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.support.faultproxy import CaptivePortal, Fault, FaultProxy

BIG = b"x" * 40_000


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = BIG if self.path == "/big" else b"hello " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        received = self.rfile.read(length)
        self.server.received.append(received)  # type: ignore[attr-defined]
        body = b"got %d" % len(received)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # type: ignore[method-assign]  # resets are the point
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(backend: ThreadingHTTPServer) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", backend.server_address[1])) as p:
        yield p


def test_a_clean_proxy_passes_everything_through(proxy: FaultProxy):
    with requests.Session() as s:
        assert s.get(proxy.url + "/a", timeout=5).text == "hello /a"
        assert s.get(proxy.url + "/big", timeout=5).content == BIG
        assert s.post(proxy.url + "/p", data=BIG, timeout=5).text == "got 40000"
    assert proxy.stats.connections == 1  # keep-alive: one connection for all three
    assert proxy.stats.bytes_down > len(BIG)


def test_latency_and_bandwidth_slow_the_link_down(proxy: FaultProxy):
    proxy.default = Fault(latency=0.2)
    start = time.monotonic()
    assert requests.get(proxy.url + "/a", timeout=5).text == "hello /a"
    assert time.monotonic() - start >= 0.4  # once each way
    proxy.default = Fault(bandwidth=100_000)
    start = time.monotonic()
    assert requests.get(proxy.url + "/big", timeout=5).content == BIG
    assert time.monotonic() - start >= 0.35


def test_a_cut_in_the_answer_breaks_the_reply(proxy: FaultProxy):
    proxy.plan(Fault(cut_down_after=1000))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):  # IncompleteRead
        requests.get(proxy.url + "/big", timeout=5)
    assert proxy.stats.cuts == 1
    # the plan was for one connection; the next one is clean
    assert requests.get(proxy.url + "/big", timeout=5).content == BIG


def test_a_cut_in_the_request_never_reaches_the_server_whole(
    proxy: FaultProxy, backend: ThreadingHTTPServer
):
    proxy.plan(Fault(cut_up_after=5000))
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(proxy.url + "/p", data=BIG, timeout=5)
    # at most a short read reached the server (its read ended at the cut), never the whole body
    assert all(len(body) < len(BIG) for body in backend.received)  # type: ignore[attr-defined]


def test_reset_and_black_hole(proxy: FaultProxy):
    proxy.plan(Fault(reset=True))
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(proxy.url + "/a", timeout=5)
    assert proxy.stats.resets == 1
    proxy.plan(Fault(black_hole=True))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(proxy.url + "/a", timeout=(2, 0.3))


def test_a_trigger_aims_the_cut_at_one_request_on_a_kept_alive_connection(
    proxy: FaultProxy, backend: ThreadingHTTPServer
):
    proxy.plan(Fault(cut_down_after=10, trigger=b"POST /p", reset=True))
    with requests.Session() as s:
        assert s.get(proxy.url + "/big", timeout=5).content == BIG  # before the trigger: whole
        with pytest.raises(requests.exceptions.ConnectionError):
            s.post(proxy.url + "/p", data=b"abc", timeout=5)
    assert backend.received == [b"abc"]  # type: ignore[attr-defined]  # the server got it; the answer was lost


def test_the_proxy_refuses_to_forward_off_this_machine():
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy(("192.0.2.1", 80))


def test_the_captive_portal_answers_everything_with_a_login_page():
    with CaptivePortal() as portal:
        r = requests.post(portal.url + "/api/v1/push", json={"changes": []}, timeout=5)
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/html")
        assert "登录" in r.text
        assert requests.head(portal.url + "/x", timeout=5).status_code == 200
        assert portal.hits == 2


def test_a_planned_trigger_fault_waits_for_the_connection_that_carries_the_trigger(
    proxy: FaultProxy, backend: ThreadingHTTPServer
):
    proxy.plan(Fault(cut_down_after=5, trigger=b"POST /p"))
    for _ in range(3):  # one connection per request: none of these carries the trigger
        assert requests.get(proxy.url + "/a", headers={"Connection": "close"}, timeout=5).ok
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(proxy.url + "/p", data=b"abc", headers={"Connection": "close"}, timeout=5)
    # claimed once: the next request with the trigger passes
    assert requests.post(proxy.url + "/p", data=b"abc", timeout=5).text == "got 3"
    assert proxy.stats.cuts == 1
