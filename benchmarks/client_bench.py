"""Client figures for a store of 100,000 records (safety inspections with two hazards each).

Prints: opening the record list (count + first page), a Chinese substring search, saving one record
(p50/p95 with synchronous=FULL), exporting all records to .xlsx (time and peak memory, with
pandas.DataFrame.to_excel on the same rows as the peer, each in its own process), and start to first window.

    .venv/bin/python benchmarks/client_bench.py [--records 100000] [--keep DIR]
Needs pandas for the peer (pip install pandas); without it that line says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]

from seed import seed  # noqa: E402

from client.store import records as R  # noqa: E402
from client.store.db import open_store  # noqa: E402
from client.store.formset import FormSet  # noqa: E402

TODAY = dt.date(2026, 11, 28)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def bench_list_and_search(data_dir: Path) -> None:
    store = open_store(data_dir)
    try:
        flt = R.RecordFilter("safety_inspection")
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            with store.Session() as s:
                total = R.count_records(s, flt)
                R.list_records(s, flt, sort="updated_at", limit=200)
            times.append(time.perf_counter() - t0)
        print(
            f"open record list (count {total:,} + first 200 rows): median {ms(statistics.median(times))}"
        )
        t0 = time.perf_counter()
        with store.Session() as s:
            R.list_records(s, flt, sort="record_date", descending=False, limit=200)
        print(f"re-sort by date, first 200 rows: {ms(time.perf_counter() - t0)}")
        for query in ("锅炉房", "后厨", "楼梯扶手"):
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                with store.Session() as s:
                    n = R.count_records(s, R.RecordFilter("safety_inspection", search=query))
                    R.list_records(s, R.RecordFilter("safety_inspection", search=query), limit=200)
                times.append(time.perf_counter() - t0)
            print(
                f"search {query!r} ({len(query)} chars, {n:,} hits, count + first page): "
                f"median {ms(statistics.median(times))}"
            )
    finally:
        store.close()


def bench_save(data_dir: Path, n: int = 200) -> None:
    store = open_store(data_dir)
    form = FormSet.shipped().get("safety_inspection")
    import random

    from seed import _inspection

    rnd = random.Random(3)
    times = []
    try:
        for i in range(n):
            data = _inspection(rnd, TODAY - dt.timedelta(days=i % 30))
            t0 = time.perf_counter()
            with store.Session.begin() as s:
                R.save_record(
                    s,
                    form=form,
                    data=data,
                    submit=True,
                    today=TODAY,
                    now=dt.datetime(2026, 11, 28, 9),
                )
            times.append(time.perf_counter() - t0)
    finally:
        store.close()
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(
        f"save one record (submit, synchronous=FULL), {n} saves: p50 {ms(times[len(times) // 2])}, p95 {ms(p95)}"
    )


EXPORT_OURS = """
import resource, sys, time
from pathlib import Path
from client.context import ClientContext
from client.excel.export import export_records
ctx = ClientContext.open(Path(sys.argv[1]))
t0 = time.perf_counter()
n = export_records(ctx, "safety_inspection", Path(sys.argv[2]))
print(n, time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

EXPORT_PANDAS = """
import json, resource, sys, time
from pathlib import Path
import pandas as pd
from client.store.db import connect
from client.store.keys import load_key
t0 = time.perf_counter()
con = connect(Path(sys.argv[1]) / "store.db", load_key(Path(sys.argv[1])))  # the store is encrypted
rows, hazards = [], []
for rid, data in con.execute(
        "SELECT id, data FROM records WHERE form_id = 'safety_inspection' AND deleted = 0"):
    record = json.loads(data)
    for i, h in enumerate(record.pop("hazards", []), start=1):
        hazards.append({"_uuid": rid, "_index": i, **h})
    record["areas"] = " ".join(record.get("areas", []))
    rows.append({"_uuid": rid, **record})
with pd.ExcelWriter(sys.argv[2]) as writer:
    pd.DataFrame(rows).to_excel(writer, sheet_name="main", index=False)
    pd.DataFrame(hazards).to_excel(writer, sheet_name="hazards", index=False)
print(len(rows), time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _run(code: str, *args: str) -> tuple[int, float, float] | str:
    r = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT
    )
    if r.returncode != 0:
        return (r.stderr.strip().splitlines() or ["failed"])[-1]
    n, secs, peak = r.stdout.split()[-3:]
    return int(n), float(secs), float(peak)


def bench_export(data_dir: Path, out_dir: Path) -> None:
    ours = _run(EXPORT_OURS, str(data_dir), str(out_dir / "ours.xlsx"))
    if isinstance(ours, str):
        print(f"export: not available ({ours})")
        return
    print(
        f"export {ours[0]:,} records to .xlsx (main sheet + hazards sheet): {ours[1]:.1f} s, "
        f"peak RSS {ours[2]:.0f} MB"
    )
    peer = _run(EXPORT_PANDAS, str(data_dir), str(out_dir / "pandas.xlsx"))
    if isinstance(peer, str):
        print(f"peer pandas.DataFrame.to_excel: not available ({peer})")
        return
    print(
        f"peer pandas.DataFrame.to_excel (openpyxl engine), same rows (main + hazards sheets): {peer[1]:.1f} s, "
        f"peak RSS {peer[2]:.0f} MB"
    )
    print(
        f"ratio export time ours / pandas: {ours[1] / peer[1]:.2f}x; peak memory ours / pandas: "
        f"{ours[2] / peer[2]:.2f}x"
    )


START_GUI = """
import sys, time
t0 = float(sys.argv[2])
from pathlib import Path
from client.ui.app import run_gui
import client.ui.app as app
code = run_gui(Path(sys.argv[1]), smoke=True)
print("first-window", getattr(app, "FIRST_WINDOW_AT", time.time()) - t0)
sys.exit(code)
"""


def bench_start(data_dir: Path) -> None:
    times = []
    for _ in range(3):
        t0 = time.time()
        r = subprocess.run(
            [sys.executable, "-c", START_GUI, str(data_dir), repr(t0)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        )
        line = [ln for ln in r.stdout.splitlines() if ln.startswith("first-window")]
        if r.returncode != 0 or not line:
            print(
                f"start to first window: not available ({(r.stderr.strip().splitlines() or ['?'])[-1]})"
            )
            return
        times.append(float(line[0].split()[1]))
    print(
        f"start to first window (process start -> main window shown, offscreen, {len(times)} runs): "
        f"median {statistics.median(times):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="reuse/keep the seeded data folder here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="client-bench-"))
    data_dir = args.keep or work / "data"
    try:
        if not (data_dir / "store.db").exists():
            t0 = time.perf_counter()
            seed(data_dir, args.records)
            print(
                f"seeded {args.records:,} records in {time.perf_counter() - t0:.0f} s "
                f"(store {(data_dir / 'store.db').stat().st_size / 1e6:.0f} MB)"
            )
        bench_list_and_search(data_dir)
        bench_start(data_dir)
        bench_export(data_dir, work)
        bench_save(data_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
