"""Retries, backoff and the checks on every answer, against a small scripted HTTP server on loopback (our
server does not answer 503 on request, so this one plays it: it answers what each test tells it to)."""

from __future__ import annotations

import gzip
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from client.sync.errors import ErrorKind, SyncError
from client.sync.http import RetryPolicy, Timeouts, Transport, parse_retry_after
from tests.sync.conftest import Sleeps

OURS = {"X-Sync-Server": "school-sync/1", "Content-Type": "application/json; charset=utf-8"}


@dataclass
class Scripted:
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        script: Scripted = self.server.script  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        script.seen.append((self.command, self.path, dict(self.headers), body))
        status, headers, payload = script.answers.pop(0)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    script = Scripted(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.script = script  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield script
    server.shutdown()
    server.server_close()


def transport(url: str, sleeps: Sleeps, **policy: float) -> Transport:
    return Transport(
        requests.Session(),
        url,
        token="tok",
        policy=RetryPolicy(**policy),  # type: ignore[arg-type]
        timeouts=Timeouts(connect=2, read=2),
        sleep=sleeps,
        rng=random.Random(1),
    )


def error(code: str, zh: str, en: str) -> bytes:
    return json.dumps({"error": {"code": code, "message_zh": zh, "message_en": en}}).encode()


def test_busy_answers_are_retried_after_the_time_the_server_asks_with_the_same_body_and_key(
    scripted: Scripted,
):
    scripted.answers = [
        (503, {**OURS, "Retry-After": "3"}, error("busy", "忙", "busy")),
        (429, {**OURS, "Retry-After": "1"}, error("slow_down", "慢", "slow down")),
        (200, OURS, b'{"results": [], "cursor": 5}'),
    ]
    sleeps = Sleeps()
    answer = transport(scripted.url, sleeps).request(
        "POST",
        "/api/v1/push",
        json_body={"changes": [{"op_id": "a"}]},
        gzip_body=True,
        headers={"Idempotency-Key": "k-1"},
    )
    assert answer.body == {"results": [], "cursor": 5}
    assert sleeps.waits == [3.0, 1.0]
    bodies = {body for _, _, _, body in scripted.seen}
    assert len(scripted.seen) == 3 and len(bodies) == 1  # byte for byte the same each time
    assert json.loads(gzip.decompress(bodies.pop())) == {"changes": [{"op_id": "a"}]}
    assert {h["Idempotency-Key"] for _, _, h, _ in scripted.seen} == {"k-1"}
    assert all(h["Authorization"] == "Bearer tok" for _, _, h, _ in scripted.seen)


def test_server_failures_back_off_exponentially_with_jitter_up_to_a_cap(scripted: Scripted):
    scripted.answers = [(500, OURS, error("internal", "内部错误", "internal error"))] * 6
    sleeps = Sleeps()
    with pytest.raises(SyncError) as failed:
        transport(scripted.url, sleeps, attempts=6, base=1.0, cap=4.0).request(
            "GET", "/api/v1/pull"
        )
    assert failed.value.kind is ErrorKind.SERVER and failed.value.status == 500
    assert len(scripted.seen) == 6 and len(sleeps.waits) == 5
    for i, wait in enumerate(sleeps.waits):
        step = min(4.0, 2.0**i)
        assert step / 2 <= wait <= step, (i, wait)
    assert len(set(sleeps.waits)) > 1


def test_a_retry_after_beyond_the_limit_ends_the_sync_at_once_and_says_when(scripted: Scripted):
    scripted.answers = [(503, {**OURS, "Retry-After": "3600"}, error("busy", "忙", "busy"))]
    sleeps = Sleeps()
    with pytest.raises(SyncError) as failed:
        transport(scripted.url, sleeps, max_retry_after=600).request("GET", "/api/v1/pull")
    assert failed.value.retry_after == 3600 and sleeps.waits == []


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, ErrorKind.AUTH),
        (403, ErrorKind.AUTH),
        (413, ErrorKind.REFUSED),
        (422, ErrorKind.REFUSED),
        (400, ErrorKind.REFUSED),
    ],
)
def test_refusals_stop_at_once_with_the_servers_words(
    scripted: Scripted, status: int, kind: ErrorKind
):
    scripted.answers = [(status, OURS, error("nope", "服务器说不行", "the server says no"))]
    sleeps = Sleeps()
    with pytest.raises(SyncError) as failed:
        transport(scripted.url, sleeps).request("POST", "/api/v1/push", json_body={"changes": []})
    assert failed.value.kind is kind and failed.value.status == status
    assert (failed.value.message_zh, failed.value.message_en, failed.value.code) == (
        "服务器说不行",
        "the server says no",
        "nope",
    )
    assert len(scripted.seen) == 1 and sleeps.waits == []


def test_answers_without_our_header_or_json_are_network_errors(scripted: Scripted):
    scripted.answers = [
        (200, {"Content-Type": "application/json"}, b'{"results": []}'),  # a proxy's, not ours
        (302, {"Location": "http://portal.example/login"}, b""),  # a portal's redirect
        (200, {"X-Sync-Server": "school-sync/1", "Content-Type": "text/html"}, b"<html>"),
    ]
    for _ in range(3):
        with pytest.raises(SyncError) as failed:
            transport(scripted.url, Sleeps(), attempts=1).request("GET", "/api/v1/pull")
        assert failed.value.kind is ErrorKind.NETWORK


def test_retry_after_may_be_a_date():
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", "Wed, 21 Oct 2026 07:28:00 GMT") == 30
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
