"""A school PC on a slow link that drops (issue 10): when do its text records and its photo reach the bureau?

The real `sync-server serve` (waitress) on a fresh SQLite database; between it and the client the fault proxy
(tests/support/faultproxy.py) limits each direction to 64 kbit/s (8,000 bytes/s) and adds 300 ms each way (the
proxy's model: per piece of up to 16 KB it forwards, so about 600 ms per request and answer), and every 20 s
resets every open connection (tests/support/faultproxy.PeriodicCuts; `--down-for` s of no link after each cut).
The client - a separate process, its code taken from this tree or from `--client-source` - enrolls, saves a few
text records and one record with a 400 KB photo, then syncs as the program does in the background (three tries
per request, 2 s apart), and tries again after `--pause` s while something is left, at most `--tries` times.
This process watches the server's database every 0.25 s and prints, from the start of the first sync, when the
first and the last text record arrived, when the photo was complete and when its record arrived.

    .venv/bin/python benchmarks/slow_link_bench.py                          # this tree's client
    git archive d5c2813^ | tar -x -C /tmp/old                               # the client before issue 10
    .venv/bin/python benchmarks/slow_link_bench.py --client-source /tmp/old
    .venv/bin/python benchmarks/slow_link_bench.py --cut-every 0            # no cuts, only slow
    .venv/bin/python benchmarks/slow_link_bench.py --chunk-seconds 4        # tuning the chunk sizes

Each run takes minutes (a 400 KB photo needs 50 s at 64 kbit/s even on a link that never drops).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


# -- the client, in its own process ---------------------------------------------------------------------


def worker(args: argparse.Namespace) -> None:
    """Enroll, save the records, then sync until everything went or the tries are spent; events as JSON."""
    sys.path.insert(0, str(Path(args.client_source or ROOT).resolve()))
    import requests

    from client.clock import SystemClock
    from client.context import ClientContext
    from client.store import records as R
    from client.store import sync_state as S
    from client.store.attachments import add_attachment
    from client.store.prefs import set_setting
    from client.sync.engine import SyncEngine
    from client.sync.errors import SyncError
    from client.sync.http import RetryPolicy

    if args.chunk_seconds:  # tuning: what one chunk should take (client.sync.upload.CHUNK_SECONDS)
        from client.sync.upload import ChunkSizer

        defaults = ChunkSizer.__init__.__kwdefaults__
        assert defaults is not None
        defaults["seconds"] = args.chunk_seconds

    def event(what: str, **kw: Any) -> None:
        print(json.dumps({"event": what, "t": time.monotonic(), **kw}), flush=True)

    ctx = ClientContext.open(Path(args.data), clock=SystemClock())
    http = requests.Session()
    SyncEngine(ctx, http).enroll(args.server, args.code, device_name="bench")
    with ctx.store.Session.begin() as s:
        set_setting(s, S.K_SERVER_URL, args.proxy)  # from now on through the slow link
    sys.path.insert(1, str(ROOT))
    from tests.support.samples import inspection

    today = dt.date.today()
    form = ctx.forms.get("safety_inspection")
    photo = Path(args.data) / "教室后墙裂缝.jpg"
    photo.write_bytes(random.Random(1).randbytes(args.photo_bytes))
    texts, with_photo = [], ""
    with ctx.store.Session.begin() as s:
        for i in range(args.texts):
            saved = R.save_record(
                s,
                form=form,
                data=inspection(inspectors=f"检查员{i}"),
                submit=True,
                today=today,
                now=ctx.clock.now(),
            )
            texts.append(saved.record_id)
        sha = add_attachment(s, ctx.store.attachments_dir, photo, now=ctx.clock.now())
        hazard = dict(inspection()["hazards"][0], photo=sha)
        saved = R.save_record(
            s,
            form=form,
            data=inspection(hazards=[hazard]),
            submit=True,
            today=today,
            now=ctx.clock.now(),
        )
        with_photo = saved.record_id
    event("ready", texts=texts, photo_record=with_photo, sha256=sha)
    sys.stdin.readline()  # the proxy and the cuts are on
    # As the program syncs in the background: client.ui.sync_controller.GUI_RETRY_POLICY.
    engine = SyncEngine(ctx, http, policy=RetryPolicy(attempts=3, base=2.0, cap=30.0))
    for attempt in range(1, args.tries + 1):
        event("sync", attempt=attempt)
        try:
            result = engine.sync()
        except SyncError as exc:
            event("failed", attempt=attempt, error=exc.message_en)
            time.sleep(args.pause)
            continue
        event("done", attempt=attempt, pending=result.pending, uploaded=result.uploaded)
        if result.pending == 0:
            break
    event("end")
    ctx.close()


# -- the bench ------------------------------------------------------------------------------------------


def watch(db_url: str, ids: list[str], photo_record: str, sha: str, seen: dict[str, float]) -> Any:
    """Poll the server's database; note when each record arrived and when the photo was complete."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    stop = threading.Event()

    def run() -> None:
        wanted = [*ids, photo_record]
        while not stop.is_set():
            with engine.connect() as conn:
                got = conn.execute(
                    sa.text("SELECT id FROM records WHERE id IN :ids").bindparams(
                        sa.bindparam("ids", expanding=True)
                    ),
                    {"ids": wanted},
                ).scalars()
                now = time.monotonic()
                for rid in got:
                    seen.setdefault(rid, now)
                complete = conn.execute(
                    sa.text("SELECT 1 FROM attachments WHERE sha256 = :sha AND complete"),
                    {"sha": sha},
                ).first()
                if complete:
                    seen.setdefault("photo", now)
            stop.wait(0.25)
        engine.dispose()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def end() -> None:
        stop.set()
        thread.join(10)

    return end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client-source", help="run the client from this source tree")
    parser.add_argument("--bandwidth", type=int, default=8_000, help="bytes per second each way")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds added each way")
    parser.add_argument("--cut-every", type=float, default=20.0, help="0: the link never drops")
    parser.add_argument("--down-for", type=float, default=0.0)
    parser.add_argument("--texts", type=int, default=5)
    parser.add_argument("--photo-bytes", type=int, default=400_000)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--pause", type=float, default=5.0)
    parser.add_argument("--chunk-seconds", type=float, help="tuning: what one chunk should take")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--server", help=argparse.SUPPRESS)
    parser.add_argument("--proxy", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    sys.path.insert(0, str(ROOT))
    from tests.support.faultproxy import Fault, FaultProxy, PeriodicCuts
    from tests.support.served import cli, start_served

    source = Path(args.client_source).resolve() if args.client_source else ROOT
    print(f"client source: {source}")
    print(
        f"link: {args.bandwidth * 8 / 1000:.0f} kbit/s, +{args.latency * 1000:.0f} ms each way, "
        + (f"all connections reset every {args.cut_every:.0f} s" if args.cut_every else "no cuts")
        + f"; {args.texts} text records and one record with a {args.photo_bytes // 1000} KB photo"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db_url = f"sqlite:///{folder / 'sync.db'}"
        served = start_served(folder / "instance", db_url)
        try:
            made = cli(
                served.instance, db_url, "add-school", "--code", "S001", "--name", "城关小学"
            )
            proxy = FaultProxy(("127.0.0.1", served.port)).start()
            client = subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--worker",
                    "--data",
                    str(folder / "client"),
                    "--server",
                    served.url,
                    "--proxy",
                    proxy.url,
                    "--code",
                    made["enrollment_code"],
                    *(["--client-source", str(source)] if args.client_source else []),
                    "--texts",
                    str(args.texts),
                    "--photo-bytes",
                    str(args.photo_bytes),
                    "--tries",
                    str(args.tries),
                    "--pause",
                    str(args.pause),
                    *(["--chunk-seconds", str(args.chunk_seconds)] if args.chunk_seconds else []),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=source,
                env={**os.environ, "PYTHONPATH": str(source)},
            )
            assert client.stdin is not None and client.stdout is not None
            ready = json.loads(client.stdout.readline())
            seen: dict[str, float] = {}
            end_watch = watch(db_url, ready["texts"], ready["photo_record"], ready["sha256"], seen)
            proxy.default = Fault(bandwidth=args.bandwidth, latency=args.latency)
            cuts = (
                PeriodicCuts(proxy, every=args.cut_every, down_for=args.down_for)
                if (args.cut_every)
                else None
            )
            if cuts is not None:
                cuts.__enter__()
            start: float | None = None
            client.stdin.write("go\n")
            client.stdin.flush()
            for line in client.stdout:
                e = json.loads(line)
                if start is None and e["event"] == "sync":
                    start = e["t"]
                at = e["t"] - (start or e["t"])
                detail = {k: v for k, v in e.items() if k not in ("event", "t")}
                print(f"  {at:7.1f} s  client: {e['event']} {detail or ''}", flush=True)
            client.wait(30)
            time.sleep(0.5)
            if cuts is not None:
                cuts.__exit__(None, None, None)
            end_watch()
            proxy.stop()
        finally:
            served.stop()
    assert start is not None

    def when(key: str) -> str:
        return f"{seen[key] - start:.1f} s" if key in seen else "never"

    texts = [seen[r] - start for r in ready["texts"] if r in seen]
    print(f"text records arrived: {len(texts)} of {len(ready['texts'])}")
    print(f"first text record: {f'{min(texts):.1f} s' if texts else 'never'}")
    last = f"{max(texts):.1f} s" if len(texts) == len(ready["texts"]) else "never (not all)"
    print(f"last text record: {last}")
    print(f"photo complete on the server: {when('photo')}")
    print(f"record with the photo: {when(ready['photo_record'])}")
    if cuts is not None:
        print(
            f"link cuts: {cuts.count}; bytes up {proxy.stats.bytes_up}, down {proxy.stats.bytes_down}"
        )


if __name__ == "__main__":
    main()
