"""Sync by USB stick (issue 13): bundle size against gzip of the records' JSON, and the time to export,
import at the bureau, and import the answer at the school, for N records (default 10,000) on SQLite.

    .venv/bin/python benchmarks/usb_bench.py [--records 10000]

Prints one line per figure. The peer figure: an online sync of the same N records from another PC.

Measured 2026-12-01 on the 2-core build machine, 10,000 inspections: bundle 590 KiB (60 B/record; gzip of the
same push batches sent online 600 KiB, gzip of the bare records' JSON 87 KiB - they differ only in a few words,
while every change carries two UUIDs), answer 1111 KiB (it repeats each batch body beside its answer);
usb-export 4.9 s, bureau import 9.4 s, answer import at the school 7.7 s; an online sync of 10,000 on loopback
35 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import logging
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from client.clock import FixedClock  # noqa: E402
from client.context import ClientContext  # noqa: E402
from client.store import records as R  # noqa: E402
from client.store.db import open_store  # noqa: E402
from client.store.formset import FormSet  # noqa: E402
from client.sync.engine import SyncEngine  # noqa: E402
from client.usb.bundle import export_bundle, import_answer  # noqa: E402
from forms import usb_bundle as U  # noqa: E402
from sync_server.app import create_app  # noqa: E402
from sync_server.services.schools import add_school  # noqa: E402
from sync_server.state import get_state  # noqa: E402
from sync_server.usb import import_file  # noqa: E402
from tests.support.samples import inspection  # noqa: E402

NOW = dt.datetime(2026, 11, 28, 2, 0)


def pc(folder: Path, name: str, url: str, code: str) -> tuple[ClientContext, SyncEngine]:
    ctx = ClientContext(open_store(folder / name), FormSet.shipped(), FixedClock(NOW, NOW.date()))
    engine = SyncEngine(ctx, requests.Session())
    engine.enroll(url, code, device_name=name)
    return ctx, engine


def fill(ctx: ClientContext, n: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    form = ctx.forms.get("safety_inspection")
    rows = []
    with ctx.store.Session.begin() as s:
        for i in range(n):
            data = inspection(inspectors=f"检查员{rng.randrange(10**6)}", remarks=f"第{i}次检查")
            R.save_record(s, form=form, data=data, submit=True, today=NOW.date(), now=NOW)
            rows.append(data)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    n = parser.parse_args().records
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        app = create_app(
            {
                "INSTANCE_PATH": str(folder / "server"),
                "DATABASE_URL": f"sqlite:///{folder / 'sync.db'}",
                "SECRET_KEY": "bench",
                "CLOCK": lambda: NOW.replace(tzinfo=dt.UTC),
            }
        )
        state = get_state(app)
        http = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True).start()
        url = f"http://127.0.0.1:{http.server_port}"
        codes = []
        with state.db.Session.begin() as s:
            for school in ("USB001", "NET001"):
                codes.append(
                    add_school(s, code=school, name="城关镇中心小学", now=NOW).enrollment_code
                )
        carried, _ = pc(folder, "carried", url, codes[0])
        online_ctx, online = pc(folder, "online", url, codes[1])
        rows = fill(carried, n, 1)
        fill(online_ctx, n, 2)
        stick = folder / "stick"
        stick.mkdir()

        t = time.perf_counter()
        exported = export_bundle(carried, stick)
        t_export = time.perf_counter() - t
        size = exported.path.stat().st_size
        plain = json.dumps(rows, ensure_ascii=False).encode("utf-8")
        _, payload = U.open_bundle(
            exported.path.read_bytes(), U.device_key("bench", exported.header.device_id)
        )
        pushes = sum(len(gzip.compress(b["body"].encode("utf-8"))) for b in payload["batches"])
        t = time.perf_counter()
        receipt = import_file(state, exported.path)
        t_bureau = time.perf_counter() - t
        assert receipt.error is None and sum(receipt.received.values()) == n, receipt
        assert receipt.answer_path is not None
        t = time.perf_counter()
        outcome = import_answer(carried, receipt.answer_path)
        t_school = time.perf_counter() - t
        assert outcome.acknowledged == n
        t = time.perf_counter()
        result = online.sync()
        t_online = time.perf_counter() - t
        assert result.pushed == n

        print(f"records: {n}")
        print(f"bundle: {size / 1024:.0f} KiB ({size / n:.0f} B/record)")
        print(
            f"gzip of the records' JSON: {len(gzip.compress(plain)) / 1024:.0f} KiB (plain {len(plain) / 1024:.0f} KiB)"
        )
        print(f"gzip of the same push batches sent online: {pushes / 1024:.0f} KiB")
        print(f"answer bundle: {receipt.answer_path.stat().st_size / 1024:.0f} KiB")
        print(f"usb-export: {t_export:.2f} s")
        print(f"usb-import at the bureau: {t_bureau:.2f} s")
        print(f"usb-import of the answer at the school: {t_school:.2f} s")
        print(f"peer: an online sync of {n} records on loopback: {t_online:.2f} s")
        http.shutdown()
        carried.close()
        online_ctx.close()
        state.db.engine.dispose()


if __name__ == "__main__":
    main()
