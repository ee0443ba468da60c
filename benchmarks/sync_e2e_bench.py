"""Sync end to end on loopback against the one-request-per-record peer (issue 14, goal 2).

Ours: a real `sync-server serve` (waitress, fresh SQLite) and this tree's SyncEngine in this process with its
store (SQLCipher-ready SQLite, client.store): N inspections are saved (not timed), then one `engine.sync()` is
timed - the push batches, their answers applied to the store, and the pull after them.

The peer: benchmarks/per_record_peer.py (Flask on waitress; our form engine; one INSERT with a unique instance id
per request, as ODK Central takes submissions) on a fresh SQLite file; its client posts the same N records one
request each over one keep-alive requests.Session, as ODK Collect sends submissions, and reads each answer.

Both on the same machine in the same run, ours first, then the peer, `--rounds` times, alternating; the ratio
of each round is printed, and the median. So is each side's CPU time during its timed part (the client's of
this process, the server's from /proc): on a loaded machine the wall-clock ratio swings with what else runs,
the CPU ratio much less.

    .venv/bin/python benchmarks/sync_e2e_bench.py [-n 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import requests  # noqa: E402
from proc_stats import server_cpu  # noqa: E402
from sync_bytes_bench import records, save_records, start_server  # noqa: E402

from client.clock import SystemClock  # noqa: E402
from client.context import ClientContext  # noqa: E402
from client.store.db import open_store  # noqa: E402
from client.store.formset import FormSet  # noqa: E402
from client.sync.engine import SyncEngine  # noqa: E402


def proc_cpu(pid: int) -> float:
    """CPU seconds the server has used so far: its serving process and its form check workers."""
    own, workers = server_cpu(pid)
    return own + workers


def ours(folder: Path, data: list[dict[str, Any]]) -> tuple[float, float, float]:
    """(wall seconds, the client's CPU seconds (this process), the server's) of one sync of the saved
    records."""
    folder.mkdir(parents=True)
    server, code = start_server(ROOT, folder)
    try:
        ctx = ClientContext(open_store(folder / "pc"), FormSet.shipped(), SystemClock())
        http = requests.Session()
        engine = SyncEngine(ctx, http)
        engine.enroll(server.url, code, device_name="基准测试电脑")
        assert engine.sync().complete
        save_records(ctx, data)
        t0, c0, s0 = time.perf_counter(), time.process_time(), proc_cpu(server.proc.pid)
        result = engine.sync()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        server_cpu = proc_cpu(server.proc.pid) - s0
        assert result.complete and result.pushed == len(data), result
        http.close()
        ctx.close()
        return seconds, cpu, server_cpu
    finally:
        server.stop()


def peer(folder: Path, data: list[dict[str, Any]]) -> tuple[float, float, float]:
    """(wall seconds, its client's CPU seconds, its server's) of posting the records one by one."""
    folder.mkdir(parents=True)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "per_record_peer.py"), str(folder / "peer.db")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["url"] + "/submission"
        http = requests.Session()
        bodies = [
            json.dumps(
                {
                    "instance_id": str(uuid.uuid4()),
                    "form_id": "safety_inspection",
                    "form_version": "2026.1",
                    "data": d,
                },
                ensure_ascii=False,
            ).encode()
            for d in data
        ]
        headers = {"Content-Type": "application/json; charset=utf-8"}
        t0, c0, s0 = time.perf_counter(), time.process_time(), proc_cpu(proc.pid)
        for body in bodies:
            r = http.post(url, data=body, headers=headers, timeout=60)
            assert r.status_code == 201 and r.json()["result"] == "applied", r.text[:300]
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        server_cpu = proc_cpu(proc.pid) - s0
        http.close()
        return seconds, cpu, server_cpu
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=2000, help="records saved then synced (2000)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    data = records(args.n)
    ratios, cpu_ratios = [], []
    with tempfile.TemporaryDirectory(prefix="sync-e2e-") as tmp:
        for k in range(args.rounds):
            a, a_client, a_server = ours(Path(tmp) / f"ours-{k}", data)
            b, b_client, b_server = peer(Path(tmp) / f"peer-{k}", data)
            ratios.append(b / a)
            a_cpu, b_cpu = a_client + a_server, b_client + b_server
            if a_cpu > 0:
                cpu_ratios.append(b_cpu / a_cpu)
            print(
                f"round {k + 1}: ours {args.n:,} records in {a:.2f} s = {args.n / a:,.0f} records/s "
                f"(CPU client {a_client:.2f} s + server {a_server:.2f} s); peer {b:.2f} s = "
                f"{args.n / b:,.0f} records/s (CPU client {b_client:.2f} s + server {b_server:.2f} s); "
                f"ours / peer {b / a:.2f}x, by CPU {b_cpu / a_cpu if a_cpu else 0:.2f}x"
            )
    print(f"median ours / peer: {statistics.median(ratios):.2f}x", end="")
    print(f", by CPU {statistics.median(cpu_ratios):.2f}x" if cpu_ratios else "")


if __name__ == "__main__":
    main()
