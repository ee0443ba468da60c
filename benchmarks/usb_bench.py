"""Sync by USB stick (issue 13): bundle size against gzip of the records' JSON, and the time to export,
import at the bureau, and import the answer at the school, for N records (default 10,000) on SQLite; and the
peak memory of an export with M MB of photos (default 200), measured in a child process.

    .venv/bin/python benchmarks/usb_bench.py [--records 10000] [--photos-mb 200]

Prints one line per figure. The peer figure: an online sync of the same N records from another PC.

Measured 2026-12-01 on the 2-core build machine, 10,000 inspections, format 1 (revision 1.13): bundle 590 KiB
(60 B/record; gzip of the same push batches sent online 600 KiB, gzip of the bare records' JSON 87 KiB - they
differ only in a few words, while every change carries two UUIDs), answer 1111 KiB (it repeats each batch body
beside its answer); usb-export 4.9 s, bureau import 9.4 s, answer import at the school 7.7 s; an online sync
of 10,000 on loopback 35 s.

Format 2 (revision 1.16: streamed, each JSON document compressed on its own), measured 2026-12-01 07:10-07:20
UTC on the same machine under a heavy load from other runs (the online peer took 59 s where it took 35 s
before), on a clean export of commit 85954cc: bundle 621 KiB (64 B/record; gzip of the records' JSON 87 KiB,
of the same push batches 600 KiB), answer 1109 KiB; usb-export 15.7 s, bureau import 30.5 s, answer import
at the school 17.5 s; online sync of 10,000 59.3 s. Export of 40 photos of 5 MB (200 MB): bundle 200 MiB in one
part, 15.1 s; peak RSS of the exporting process 118 MiB against 96 MiB for the same process only opening the
store (format 1 held the payload as base64 JSON, its gzip and its ciphertext at once: by that count over
800 MB for the same photos - estimated, not measured). The format itself is not the cost: sealing and opening 10,000 records' batches takes 0.31 s in
format 2 against 0.41 s in format 1 (the rest is the stores' work).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import logging
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from client.clock import FixedClock  # noqa: E402
from client.context import ClientContext  # noqa: E402
from client.store import records as R  # noqa: E402
from client.store.attachments import add_attachment  # noqa: E402
from client.store.db import open_store  # noqa: E402
from client.store.formset import FormSet  # noqa: E402
from client.sync.engine import SyncEngine  # noqa: E402
from client.usb.bundle import export_bundle, import_answer  # noqa: E402
from forms import usb_bundle as U  # noqa: E402
from forms import usb_files as F  # noqa: E402
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


PHOTO_MB = 5  # each photo; MAX_ATTACHMENT_BYTES is 20 MB


def photos(ctx: ClientContext, folder: Path, total_mb: int) -> int:
    """Records with photos of `total_mb` MB in all (random bytes, as incompressible as a JPEG)."""
    rng = random.Random(3)
    form = ctx.forms.get("safety_inspection")
    n = max(1, total_mb // PHOTO_MB)
    for i in range(n):
        source = folder / f"photo{i}.jpg"
        source.write_bytes(rng.randbytes(PHOTO_MB * 1024 * 1024))
        with ctx.store.Session.begin() as s:
            sha = add_attachment(s, ctx.store.attachments_dir, source, now=NOW)
            hazard = dict(inspection()["hazards"][0], photo=sha)
            R.save_record(
                s,
                form=form,
                data=inspection(hazards=[hazard]),
                submit=True,
                today=NOW.date(),
                now=NOW,
            )
        source.unlink()
    return n


def export_child(data_dir: Path, stick: Path, export: bool) -> None:
    """In a child process: open the store, export (or not: the baseline), print the files written."""
    ctx = ClientContext(open_store(data_dir), FormSet.shipped(), FixedClock(NOW, NOW.date()))
    if export:
        done = export_bundle(ctx, stick)
        print(json.dumps({"parts": [str(p) for p in done.paths], "attachments": done.attachments}))
    ctx.close()


def peak_kib(data_dir: Path, stick: Path, export: bool) -> tuple[int, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        launched = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.support.measure_child",
                "4096",
                str(out),
                str(err),
                "600",
                "--",
                sys.executable,
                str(Path(__file__).resolve()),
                "--export-child" if export else "--open-child",
                str(data_dir),
                str(stick),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        measured = json.loads(launched.stdout.strip().splitlines()[-1])
        assert measured.get("returncode") == 0, err.read_text()
        lines = out.read_text().strip().splitlines()
        return int(measured["peak_kb"]), json.loads(lines[-1]) if lines else {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--photos-mb", type=int, default=200)
    parser.add_argument("--export-child", nargs=2, type=Path)
    parser.add_argument("--open-child", nargs=2, type=Path)
    args = parser.parse_args()
    if args.export_child or args.open_child:
        data_dir, stick = args.export_child or args.open_child
        export_child(data_dir, stick, export=bool(args.export_child))
        return
    n = args.records
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
        _, payload, _ = F.read_bundle(
            exported.path, U.device_key("bench", exported.header.device_id)
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

        # Peak memory of an export with photos: a third PC, its bundle written by a child process.
        with state.db.Session.begin() as s:
            code = add_school(s, code="PHOTO1", name="城关镇中心小学", now=NOW).enrollment_code
        photo_ctx, _ = pc(folder, "photos", url, code)
        count = photos(photo_ctx, folder, args.photos_mb)
        photo_ctx.close()
        photo_stick = folder / "photo-stick"
        photo_stick.mkdir()
        base, _ = peak_kib(folder / "photos", photo_stick, export=False)
        t = time.perf_counter()
        peak, written = peak_kib(folder / "photos", photo_stick, export=True)
        t_photos = time.perf_counter() - t
        size = sum(Path(p).stat().st_size for p in written["parts"])
        print(
            f"export of {count} photos ({count * PHOTO_MB} MB): bundle {size / 1024**2:.0f} MiB in "
            f"{len(written['parts'])} part(s), {t_photos:.1f} s with the child's start; peak RSS "
            f"{peak / 1024:.0f} MiB (the same child only opening the store: {base / 1024:.0f} MiB)"
        )
        http.shutdown()
        carried.close()
        online_ctx.close()
        state.db.close()


if __name__ == "__main__":
    main()
