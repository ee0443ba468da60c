"""The cost of HTTPS in `sync-server serve` (issue 12, point 4): the same server over plain HTTP and over TLS.

Starts the real server (waitress) twice in subprocesses on fresh SQLite databases - plain (`--no-tls`) and
with a certificate made by `sync-server make-cert` - and times, for each, with requests (the client's library;
over TLS through the client's pinned adapter, client.sync.pinning):
  1. GET /healthz 300 times on one kept-alive connection;
  2. GET /healthz 100 times, each on a new connection (TCP + TLS handshake);
  3. GET /api/v1/openapi.json (a large answer, many TLS records) 100 times, kept alive.
Prints one line per figure: median and total, plain against TLS.

    .venv/bin/python benchmarks/tls_bench.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from client.sync.pinning import pin_session  # noqa: E402
from sync_server.tls import default_paths, make_certificate  # noqa: E402
from tests.support.served import Served, start_served  # noqa: E402


def _timed(n: int, call: Callable[[], None]) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def _measure(served: Served, fingerprint: str | None) -> dict[str, list[float]]:
    def session() -> requests.Session:
        s = requests.Session()
        pin_session(s, served.url, fingerprint)
        return s

    def get(s: requests.Session, path: str) -> None:
        r = s.get(served.url + path, timeout=30)
        assert r.status_code == 200, r.status_code
        _ = r.content

    figures: dict[str, list[float]] = {}
    kept = session()
    get(kept, "/healthz")  # connect once
    figures["healthz, kept alive (300)"] = _timed(300, lambda: get(kept, "/healthz"))

    def fresh() -> None:
        with session() as s:
            get(s, "/healthz")

    figures["healthz, new connection each (100)"] = _timed(100, fresh)
    size = len(kept.get(served.url + "/api/v1/openapi.json", timeout=30).content)
    figures[f"openapi.json {size // 1024} KiB, kept alive (100)"] = _timed(
        100, lambda: get(kept, "/api/v1/openapi.json")
    )
    kept.close()
    return figures


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        plain = start_served(base / "plain", f"sqlite:///{base / 'plain.db'}", args=("--no-tls",))
        made = make_certificate(["127.0.0.1"], *default_paths(base / "tls"))
        tls = start_served(base / "tls", f"sqlite:///{base / 'tls.db'}")
        try:
            assert tls.url.startswith("https://")
            a = _measure(plain, None)
            b = _measure(tls, made.fingerprint)
        finally:
            plain.stop()
            tls.stop()
    print("figure                                   plain HTTP            HTTPS (pinned)")
    for name in a:
        pa, pb = a[name], b[name]
        print(
            f"{name:<40} median {statistics.median(pa) * 1000:6.2f} ms  "
            f"total {sum(pa):6.2f} s   median {statistics.median(pb) * 1000:6.2f} ms  "
            f"total {sum(pb):6.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
