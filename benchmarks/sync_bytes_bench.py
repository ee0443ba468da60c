"""Bytes and round trips of one sync after saving N records (issue 14, goal 2; protocol 1.14).

A real `sync-server serve` (waitress, fresh SQLite) per server tree; between it and the client the fault proxy
(tests/support/faultproxy.py) with a clean link, counting the TCP bytes each way (HTTP heads included). The
client is this tree's SyncEngine in this process: it enrolls, syncs once (the forms), saves N inspections
(varied answers), then the measured sync pushes them and pulls. Three runs in one go:

- before:     the server as it was before protocol 1.14 (`git archive BEFORE`, default 51e7ef3^): full
              push answers, and a pull that walks past the device's own echoes page by page;
- old client: this tree's server, the client sending no `Sync-Push-Answer` (as a 1.13 client): full answers,
              one pull (its batches are still this client's: as large as the server states, 1.20);
- after:      this tree's server and client: compact answers, one pull, batches of up to 1,000 (1.20).

The floor is gzip -9 of the records' JSON (a random UUID record id, form, version and answers of each, one
JSON array).
The slow-link time is a model, not a measurement: bytes / 8,000 B/s (64 kbit/s) + 0.6 s per round trip.

    .venv/bin/python benchmarks/sync_bytes_bench.py              # N = 2,000
    .venv/bin/python benchmarks/sync_bytes_bench.py -n 10000 --before 51e7ef3^

One run (2,000 records, 2-core machine, other tests running; the seconds are noisy, bytes and trips are not):

    floor (gzip -9 of the records' JSON): 76,587 B
    run                           up B    down B total/floor  pushes  pulls   64kbit+600ms s (model)
    before (server 51e7ef3^)   151,342   100,568       3.29x      10      4   39.9 (3.92x the floor's)
    old client, new server     149,676    99,080       3.25x      10      1   37.7 (3.71x)
    after (1.14)               150,002     4,292       2.01x      10      1   25.9 (2.54x)

After protocol 1.17 (op ids of one prefix and a counter, gzip -9 up; every row's client is this tree's):

    before (server 51e7ef3^)   102,705    60,316       2.13x      10      4   28.8 (2.83x)
    old client, new server     101,428    59,213       2.10x      10      1   26.7 (2.62x)
    after (1.14 + 1.17)        101,685     4,852       1.39x      10      1   19.9 (1.96x)

After protocol 1.20 (batches as large as the server states: 1,000 by default; 2,000 records in 2 pushes):

    before (server 51e7ef3^)   101,060    59,995       2.10x      10      4   28.5 (2.80x)
    old client, new server      87,706    55,354       1.87x       2      1   19.7 (1.93x)
    after (1.14 + 1.17 + 1.20)  87,692     1,661       1.17x       2      1   13.0 (1.27x)

Larger batches compress better (gzip -9 of each body: 10 bodies of 200 changes 99.8 KB, 2 of 1,000 87.7 KB),
and the slow link pays 3 round trips instead of 11. `--real-link` also times that sync, and one POST of the
floor's bytes, over the fault proxy at 8,000 B/s + 0.3 s each way (its model adds the latency per piece of up
to 16 KB, so both pay it per piece):

    over the fault proxy (...): ours 16.4 s (2 pushes, 1 pull), the floor in one request 12.1 s: 1.36x
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from client.clock import SystemClock  # noqa: E402
from client.context import ClientContext  # noqa: E402
from client.store import records as R  # noqa: E402
from client.store.db import open_store  # noqa: E402
from client.store.formset import FormSet  # noqa: E402
from client.sync import engine as engine_module  # noqa: E402
from client.sync.engine import SyncEngine  # noqa: E402
from tests.support import served  # noqa: E402
from tests.support.faultproxy import Fault, FaultProxy  # noqa: E402
from tests.support.samples import inspection  # noqa: E402

LINK_BYTES_PER_S = 8_000  # 64 kbit/s
RTT_S = 0.6


@dataclass
class Figures:
    name: str
    up: int
    down: int
    pushes: int
    pulls: int
    seconds: float

    @property
    def round_trips(self) -> int:
        return self.pushes + self.pulls


def records(n: int, seed: int = 14) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    names = ["张伟", "李娜", "王芳", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周婷", "吴强"]
    places = ["食堂后厨", "教学楼二层", "操场东侧", "宿舍三楼", "实验室", "锅炉房", "校门口"]
    out = []
    for i in range(n):
        day = rng.randint(1, 20)
        hazard = dict(inspection()["hazards"][0])
        hazard.update(
            location=rng.choice(places),
            description=f"{rng.choice(['灭火器压力不足', '电线裸露', '栏杆松动', '地面湿滑'])}（{i}）",
            responsible_person=rng.choice(names),
            deadline=f"2026-11-{day + rng.randint(0, 7):02d}",
        )
        out.append(
            inspection(
                inspectors="、".join(rng.sample(names, 2)),
                inspection_date=f"2026-11-{day:02d}",
                hazards=[hazard],
            )
        )
    return out


def save_records(ctx: ClientContext, data: list[dict[str, Any]]) -> None:
    """Save the inspections as submitted (queued to send), 200 to a transaction."""
    form = ctx.forms.get("safety_inspection")
    for start in range(0, len(data), 200):
        with ctx.store.Session.begin() as s:
            for d in data[start : start + 200]:
                R.save_record(
                    s, form=form, data=d, submit=True, today=ctx.clock.today(), now=ctx.clock.now()
                )


def start_server(source: Path, folder: Path) -> tuple[served.Served, str]:
    """`sync-server serve` from `source`; (the server, an enrollment code of a fresh school)."""
    served.ROOT = source
    instance = folder / "instance"
    db = f"sqlite:///{folder / 'sync.db'}"
    # Any command migrates and publishes the shipped forms first.
    made = served.cli(instance, db, "add-school", "--code", "S001", "--name", "城关镇中心小学")
    server = served.start_served(instance, db, config={"serve_threads": 4})
    return server, str(made["enrollment_code"])


def measure(
    name: str,
    source: Path,
    folder: Path,
    data: list[dict[str, Any]],
    compact: bool,
    link: Fault | None = None,
) -> Figures:
    """One sync of the saved records through the proxy (clean, or over `link` from the measured sync on)."""
    folder.mkdir(parents=True)
    server, code = start_server(source, folder)
    try:
        with FaultProxy(("127.0.0.1", server.port)) as proxy:
            forms = FormSet.shipped()
            ctx = ClientContext(open_store(folder / "pc"), forms, SystemClock())
            http = requests.Session()
            seen: list[str] = []
            http.hooks["response"].append(
                lambda r, *a, **k: seen.append(f"{r.request.method} {r.request.path_url}")
            )
            engine = SyncEngine(ctx, http)
            engine.enroll(proxy.url, code, device_name="基准测试电脑")
            assert engine.sync().complete
            save_records(ctx, data)
            if link is not None:
                proxy.default = link
                http.close()  # the measured sync's connection gets the slow link
            header = engine_module.PUSH_ANSWER_HEADER
            if not compact:
                engine_module.PUSH_ANSWER_HEADER = "X-Not-Asked"  # as a 1.13 client: no header
            up0, down0 = proxy.stats.bytes_up, proxy.stats.bytes_down
            seen.clear()
            t0 = time.perf_counter()
            try:
                result = engine.sync()
            finally:
                engine_module.PUSH_ANSWER_HEADER = header
            seconds = time.perf_counter() - t0
            assert result.complete and result.pushed == len(data), result
            http.close()
            ctx.close()
            return Figures(
                name,
                proxy.stats.bytes_up - up0,
                proxy.stats.bytes_down - down0,
                sum(1 for r in seen if r.startswith("POST /api/v1/push")),
                sum(1 for r in seen if r.startswith("GET /api/v1/pull")),
                seconds,
            )
    finally:
        server.stop()


def floor(data: list[dict[str, Any]]) -> int:
    return len(floor_body(data))


def floor_body(data: list[dict[str, Any]]) -> bytes:
    rng = random.Random(0)
    rows = [
        {
            "record_id": str(
                uuid.UUID(int=rng.getrandbits(128), version=4)
            ),  # as random as real ids
            "form_id": "safety_inspection",
            "form_version": "2026.1",
            "data": d,
        }
        for d in data
    ]
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(text, 9)


def floor_over(link: Fault, body: bytes) -> float:
    """Seconds to POST the floor's bytes in one request over `link` (the same proxy) to a server that reads
    them and answers an empty 200."""

    class Sink(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with FaultProxy(("127.0.0.1", httpd.server_port), default=link) as proxy:
            t0 = time.perf_counter()
            r = requests.post(
                proxy.url + "/floor",
                data=body,
                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
                timeout=600,
            )
            seconds = time.perf_counter() - t0
            assert r.status_code == 200
            return seconds
    finally:
        httpd.shutdown()
        httpd.server_close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=2000, help="records saved then synced (2000)")
    ap.add_argument("--before", default="51e7ef3^", help="the commit of the server before 1.14")
    ap.add_argument(
        "--real-link",
        action="store_true",
        help="also time the sync and the floor over the fault proxy at 64 kbit/s + 300 ms each way",
    )
    args = ap.parse_args()
    data = records(args.n)
    gz = floor(data)
    with tempfile.TemporaryDirectory(prefix="sync-bytes-") as tmp:
        base = Path(tmp)
        old = base / "before-src"
        old.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.before], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        runs = [
            measure("before (server " + args.before + ")", old, base / "a", data, compact=True),
            measure("old client, new server", ROOT, base / "b", data, compact=False),
            measure("after (1.14 + 1.17 + 1.20)", ROOT, base / "c", data, compact=True),
        ]
    print(f"{args.n} records; floor (gzip -9 of the records' JSON): {gz:,} B")
    print(
        f"{'run':<34}{'up B':>11}{'down B':>10}{'total/floor':>12}{'pushes':>8}{'pulls':>7}"
        f"{'loopback s':>11}{'64kbit+600ms s':>16}"
    )
    for f in runs:
        slow = (f.up + f.down) / LINK_BYTES_PER_S + f.round_trips * RTT_S
        floor_slow = gz / LINK_BYTES_PER_S + RTT_S
        print(
            f"{f.name:<34}{f.up:>11,}{f.down:>10,}{(f.up + f.down) / gz:>11.2f}x{f.pushes:>8}"
            f"{f.pulls:>7}{f.seconds:>11.1f}{slow:>10.1f} ({slow / floor_slow:.2f}x)"
        )
    if args.real_link:
        link = Fault(bandwidth=LINK_BYTES_PER_S, latency=RTT_S / 2)
        with tempfile.TemporaryDirectory(prefix="sync-bytes-link-") as tmp:
            ours = measure("after, real link", ROOT, Path(tmp) / "d", data, True, link=link)
        floor_s = floor_over(link, floor_body(data))
        print(
            f"over the fault proxy (8,000 B/s, +0.3 s each way per piece of up to 16 KB): ours "
            f"{ours.seconds:.1f} s ({ours.pushes} pushes, {ours.pulls} pull), the floor in one request "
            f"{floor_s:.1f} s: {ours.seconds / floor_s:.2f}x"
        )


if __name__ == "__main__":
    main()
