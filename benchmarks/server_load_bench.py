"""The bureau server under load (issue 14, goal 3): pushed records per second, and 300 devices at once.

A real `sync-server serve` (waitress, its default 8 threads) on a fresh SQLite file and on a fresh PostgreSQL
schema (127.0.0.1:5432, database `test`), and beside it, for the same records from the same client threads,
the per-record peer (benchmarks/per_record_peer.py: Flask on waitress, our form engine, one INSERT per
request with a unique instance id, as ODK Central takes submissions; on SQLite).

- throughput: `--devices` devices (default 8) push `--records` records (default 6,000; 1-hazard inspections as
  benchmarks/sync_bytes_bench.py makes them) in batches of 200, back to back; the peer takes the same
  records one request each from as many threads. Records per second, ours / the peer.
- at once: `--crowd` devices (default 300) each push one batch of `--crowd-batch` changes (default 20, a
  school's day of work; the issue does not say) released together; batch latency p50 / p95 / max, and
  nothing lost (every change answered applied, the database holds every record). The peer takes the same
  crowd: each device posts its records one request after another (the time for all of them is its
  latency), with the same connection limit; the ratio of the p95s is printed. `--crowd-rounds K` releases
  our crowd K times on the same server (new records each time) and prints each round's p95 and their
  median: steadier figures on a machine whose speed swings from minute to minute.

The client side (threads with keep-alive connections and bodies made beforehand) runs in this process, on
the same 2 cores as the server: the figures include that competition.

    .venv/bin/python benchmarks/server_load_bench.py [--database sqlite postgresql] [--records N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import sqlalchemy as sa  # noqa: E402
from proc_stats import server_cpu  # noqa: E402
from sync_bytes_bench import records as make_records  # noqa: E402

from sync_server import models as M  # noqa: E402
from tests.support import served  # noqa: E402

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = dt.datetime.now(dt.UTC)
BATCH = 200


class Conn:
    """One keep-alive HTTP connection."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.http = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=600
        )

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        self.http.request("POST", path, body=body, headers=headers)
        r = self.http.getresponse()
        data = r.read()
        if r.getheader("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return r.status, data


def fresh_database(backend: str, folder: Path) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'sync.db'}", lambda: None
    schema = "bench_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}", drop


_PREPARE = """
import datetime as dt, json, sys
from sync_server.app import prepare_database
from sync_server.db import open_database
from sync_server.services.schools import add_school
db = open_database(sys.argv[1])
prepare_database(db, migrate=True, publish_forms=True, now=dt.datetime.now(dt.UTC))
with db.Session.begin() as s:
    codes = [add_school(s, code=f"B{i:04d}", name=f"基准学校{i}", now=dt.datetime.now(dt.UTC)).enrollment_code
             for i in range(int(sys.argv[2]))]
db.close()
print(json.dumps(codes))
"""


def prepare(url: str, schools: int) -> list[str]:
    """Migrate the database, publish the forms and add the schools with the server's own tree (served.ROOT,
    which SYNC_SERVED_SOURCE may set to an older commit's); their enrollment codes."""
    done = subprocess.run(
        [sys.executable, "-c", _PREPARE, url, str(schools)],
        cwd=served.ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    codes: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return codes


def enroll(url: str, codes: list[str]) -> list[str]:
    tokens = []
    conn = Conn(url)
    for code in codes:
        body = json.dumps({"enrollment_code": code, "device_name": "基准测试电脑"}).encode()
        status, data = conn.post(
            "/api/v1/enroll", body, {"Content-Type": "application/json; charset=utf-8"}
        )
        assert status == 201, data
        tokens.append(json.loads(data)["token"])
    return tokens


def push_body(rows: list[dict[str, Any]]) -> tuple[bytes, list[str]]:
    ids = [str(uuid.uuid4()) for _ in rows]
    changes = [
        {
            "op_id": str(uuid.uuid4()),
            "record_id": rid,
            "form_id": "safety_inspection",
            "form_version": "2026.1",
            "kind": "upsert",
            "revision": 1,
            "base_server_revision": None,
            "status": "submitted",
            "saved_at": "2026-11-28T01:00:00Z",
            "data": d,
        }
        for rid, d in zip(ids, rows, strict=True)
    ]
    return gzip.compress(json.dumps({"changes": changes}, ensure_ascii=False).encode()), ids


def run_threads(work: list[Callable[[], list[float]]]) -> tuple[float, list[float]]:
    """Start every job at once; (wall seconds, the latencies they report)."""
    barrier = threading.Barrier(len(work) + 1)
    out: list[float] = []
    errors: list[BaseException] = []

    def run(job: Callable[[], list[float]]) -> None:
        barrier.wait()
        try:
            out.extend(job())
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return wall, out


def device_job(
    url: str, token: str, bodies: list[tuple[bytes, list[str]]]
) -> Callable[[], list[float]]:
    def job() -> list[float]:
        conn = Conn(url)
        latencies = []
        for body, ids in bodies:
            headers = {
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": str(uuid.uuid4()),
                "Content-Type": "application/json; charset=utf-8",
                "Content-Encoding": "gzip",
                "Accept-Encoding": "gzip",
                "Sync-Push-Answer": "compact",
            }
            t0 = time.perf_counter()
            for attempt in range(3):  # as the client does: a closed connection is opened again
                try:
                    status, data = conn.post("/api/v1/push", body, headers)
                    break
                except (ConnectionError, http.client.HTTPException):
                    conn.http.close()
                    if attempt == 2:
                        raise
            latencies.append(time.perf_counter() - t0)
            assert status == 200, data[:500]
            answer = json.loads(data)
            items = answer.get("compact_results")
            assert items is not None and len(items) == len(ids), answer
            assert all(i is None for i in items), [i for i in items if i is not None][:3]
        return latencies

    return job


def ours(
    backend: str, folder: Path, args: argparse.Namespace, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    url, drop = fresh_database(backend, folder)
    try:
        codes = prepare(url, max(args.devices, args.crowd))
        # 300 schools from 300 addresses: one address here, so its connection limits are raised
        limit = max(args.devices, args.crowd) + 50
        config: dict[str, Any] = {
            "serve_connection_limit": limit,
            "serve_connections_per_address": limit,
        }
        if (
            args.threads
        ):  # the server's worker threads (its default: 8), with as many pooled connections
            config.update(serve_threads=args.threads, db_pool_size=args.threads)
        server = served.start_served(folder / "instance", url, config=config)
        try:
            tokens = enroll(server.url, codes)
            # throughput: devices push their share in 200-change batches, back to back
            shares = [rows[i :: args.devices] for i in range(args.devices)]
            jobs = [
                device_job(
                    server.url,
                    tokens[d],
                    [push_body(share[k : k + BATCH]) for k in range(0, len(share), BATCH)],
                )
                for d, share in enumerate(shares)
            ]
            cpu0, own0 = server_cpu(server.proc.pid), time.process_time()
            wall, _ = run_threads(jobs)
            cpu1, own1 = server_cpu(server.proc.pid), time.process_time()
            # 300 devices at once, one batch each; --crowd-rounds times (new records each round)
            rounds: list[tuple[float, list[float]]] = []
            for r in range(args.crowd_rounds):
                crowd_rows = make_records(args.crowd * args.crowd_batch, seed=41 + r)
                jobs = [
                    device_job(
                        server.url,
                        tokens[d],
                        [push_body(crowd_rows[d * args.crowd_batch : (d + 1) * args.crowd_batch])],
                    )
                    for d in range(args.crowd)
                ]
                crowd_wall, latencies = run_threads(jobs)
                rounds.append((crowd_wall, sorted(latencies)))
            cpu2, own2 = server_cpu(server.proc.pid), time.process_time()
        finally:
            server.stop()
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(M.Record)).scalar_one()
        engine.dispose()
        return {
            "rate": len(rows) / wall,
            "wall": wall,
            "rounds": rounds,
            "stored": stored,
            "server_cpu": (cpu1[0] - cpu0[0], cpu2[0] - cpu1[0]),
            "worker_cpu": (cpu1[1] - cpu0[1], cpu2[1] - cpu1[1]),
            "client_cpu": (own1 - own0, own2 - own1),
            "expected": len(rows) + len(crowd_rows) * args.crowd_rounds,
        }
    finally:
        drop()


def peer(
    folder: Path, threads: int, rows: list[dict[str, Any]], crowd: int, crowd_batch: int
) -> tuple[float, list[float]]:
    """(records per second from `threads` threads, the crowd's latencies: `crowd` devices at once, each
    posting its `crowd_batch` records one request after another - a device's "batch" is those posts)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "per_record_peer.py"),
            str(folder / "peer.db"),
            "8",
            str(crowd + 50),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["url"]
        shares = [rows[i::threads] for i in range(threads)]

        def job(share: list[dict[str, Any]]) -> Callable[[], list[float]]:
            def run() -> list[float]:
                conn = Conn(url)
                t0 = time.perf_counter()
                for d in share:
                    body = json.dumps(
                        {
                            "instance_id": str(uuid.uuid4()),
                            "form_id": "safety_inspection",
                            "form_version": "2026.1",
                            "data": d,
                        },
                        ensure_ascii=False,
                    ).encode()
                    status, data = conn.post(
                        "/submission", body, {"Content-Type": "application/json; charset=utf-8"}
                    )
                    assert status == 201, data[:300]
                return [time.perf_counter() - t0]

            return run

        wall, _ = run_threads([job(s) for s in shares])
        crowd_rows = make_records(crowd * crowd_batch, seed=41)
        _, latencies = run_threads(
            [job(crowd_rows[d * crowd_batch : (d + 1) * crowd_batch]) for d in range(crowd)]
        )
        return len(rows) / wall, sorted(latencies)
    finally:
        proc.terminate()
        proc.wait(10)


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p * (len(values) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--records", type=int, default=6_000)
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--crowd", type=int, default=300)
    parser.add_argument("--crowd-batch", type=int, default=20)
    parser.add_argument(
        "--crowd-rounds",
        type=int,
        default=1,
        help="release our crowd this many times on the same server (new records each time): the p95 of "
        "each round and their median, steadier on a machine whose speed swings",
    )
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="the server's worker threads")
    args = parser.parse_args()
    rows = make_records(args.records)
    with tempfile.TemporaryDirectory(prefix="server-load-") as tmp:
        peer_rate = None
        if not args.no_peer:
            (Path(tmp) / "peer").mkdir()
            peer_rate, peer_lat = peer(
                Path(tmp) / "peer", args.devices, rows, args.crowd, args.crowd_batch
            )
            print(
                f"peer (one request per record, SQLite, {args.devices} threads): {peer_rate:,.0f} records/s;"
                f" {args.crowd} devices at once, {args.crowd_batch} records each: latency p50 "
                f"{statistics.median(peer_lat):.2f} s, p95 {pct(peer_lat, 0.95):.2f} s"
            )
        for backend in args.database:
            folder = Path(tmp) / backend
            folder.mkdir()
            f = ours(backend, folder, args, rows)
            crowd_wall, lat = f["rounds"][0]
            ratio = f" = {f['rate'] / peer_rate:.2f}x the peer" if peer_rate else ""
            print(
                f"ours on {backend}: {len(rows):,} records by {args.devices} devices in {f['wall']:.1f} s = "
                f"{f['rate']:,.0f} records/s{ratio}"
            )
            scpu, ccpu = f["server_cpu"], f["client_cpu"]
            crowd_n = args.crowd * args.crowd_batch * args.crowd_rounds
            wcpu = f["worker_cpu"]
            print(
                f"ours on {backend}: server CPU {1e6 * scpu[0] / len(rows):,.0f} us a record "
                f"({scpu[0]:.2f} s; its form check workers {1e6 * wcpu[0] / len(rows):,.0f} us), the "
                f"bench's client threads {ccpu[0]:.2f} CPU-s; at once: server "
                f"{1e6 * scpu[1] / crowd_n:,.0f} us a record ({scpu[1]:.2f} s; workers "
                f"{1e6 * wcpu[1] / crowd_n:,.0f} us), client {ccpu[1]:.2f} CPU-s"
            )
            print(
                f"ours on {backend}: {args.crowd} devices at once, {args.crowd_batch} changes each: "
                f"{crowd_wall:.1f} s, batch latency p50 {statistics.median(lat):.2f} s, "
                f"p95 {pct(lat, 0.95):.2f} s, max {lat[-1]:.2f} s; stored {f['stored']:,} of "
                f"{f['expected']:,} records"
                + (
                    f"; p95 the peer's / ours: {pct(peer_lat, 0.95) / pct(lat, 0.95):.2f}x"
                    if peer_rate
                    else ""
                )
            )
            if args.crowd_rounds > 1:
                p95s = [pct(r[1], 0.95) for r in f["rounds"]]
                print(
                    f"ours on {backend}: the crowd {args.crowd_rounds} times, p95 of each: "
                    + ", ".join(f"{x:.2f}" for x in p95s)
                    + f" s; median {statistics.median(p95s):.2f} s"
                )


if __name__ == "__main__":
    main()
