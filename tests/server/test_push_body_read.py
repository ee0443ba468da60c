"""Reading a push's body costs what the body is, not what the batch limit is (issue 14, goal 3).

Under waitress (`sync-server serve`) the WSGI input is marked terminated, so Werkzeug limits the stream by
the door's maximum only (MAX_BATCH_BYTES + gzip slack, ~5 MB), and read(limit + 1) made and zeroed a buffer
that size for every push: 1.6 ms of a 20-change push's ~10 ms. The real app, with the environ waitress
gives (wsgi.input_terminated); the Python allocations of one request are measured with tracemalloc."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import uuid

import pytest

from tests.server.conftest import LiveServer, change

LIMIT = 2 * 1024 * 1024  # well below the ~5 MB buffer; a small push needs a few hundred KB at most


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_small_push_does_not_allocate_the_batch_limit(
    live_sqlite: LiveServer, gzipped: bool
) -> None:
    dev = live_sqlite.device()
    client = live_sqlite.app.test_client()
    headers = {
        "Authorization": f"Bearer {dev.token}",
        "Content-Type": "application/json; charset=utf-8",
    }
    if gzipped:
        headers["Content-Encoding"] = "gzip"

    def push() -> int:
        body = json.dumps({"changes": [change()]}, ensure_ascii=False).encode()
        if gzipped:
            body = gzip.compress(body)
        r = client.post(
            "/api/v1/push",
            data=body,
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert r.status_code == 200, r.get_data(as_text=True)
        assert r.get_json()["results"][0]["result"] == "applied"
        return len(r.get_data())

    push()  # statements compiled, forms loaded
    tracemalloc.start()
    try:
        push()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < LIMIT, f"one small push allocated {peak:,} bytes at its peak"


def test_a_body_past_the_limit_is_still_refused(live_sqlite: LiveServer) -> None:
    dev = live_sqlite.device()
    client = live_sqlite.app.test_client()
    # Content-Length within the limit but the batch too large once inflated: 413 as before
    huge = gzip.compress(b'{"changes": [' + b" " * (6 * 1024 * 1024) + b"]}")
    r = client.post(
        "/api/v1/push",
        data=huge,
        headers={
            "Authorization": f"Bearer {dev.token}",
            "Idempotency-Key": str(uuid.uuid4()),
            "Content-Type": "application/json; charset=utf-8",
            "Content-Encoding": "gzip",
        },
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert r.status_code == 413, r.get_data(as_text=True)
    assert r.get_json()["error"]["code"] == "too_large"
