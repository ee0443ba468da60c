"""The cost of encrypting the client store (issue 12): list, search and save at 100,000 records, a SQLCipher
store (the product's) against a plaintext one, seeded alike, in the same run. Goal: within 1.3x.

    .venv/bin/python benchmarks/encryption_bench.py [--records 100000] [--keep DIR]

Each figure is the median over rounds that alternate between the two stores (the OS page cache warm for both).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed import _inspection, seed

from client.store import records as R
from client.store.db import Store, open_store
from client.store.formset import FormSet

TODAY = dt.date(2026, 11, 28)
FORM = "safety_inspection"


def median_of(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def figures(store: Store) -> dict[str, float]:
    flt = R.RecordFilter(FORM)
    out: dict[str, float] = {}

    def open_list() -> None:
        with store.Session() as s:
            R.count_records(s, flt)
            R.list_records(s, flt, sort="updated_at", limit=200)

    def sort_by_date() -> None:
        with store.Session() as s:
            R.list_records(s, flt, sort="record_date", descending=False, limit=200)

    def last_page() -> None:
        with store.Session() as s:
            R.list_records(s, flt, sort="updated_at", offset=99_000, limit=200)

    out["list: count + first 200 rows"] = median_of(open_list, 7)
    out["list: re-sort by date, first 200"] = median_of(sort_by_date, 7)
    out["list: a page 99,000 rows down"] = median_of(last_page, 5)
    for query in ("锅炉房", "后厨", "楼梯扶手"):

        def search(q: str = query) -> None:
            with store.Session() as s:
                f = R.RecordFilter(FORM, search=q)
                R.count_records(s, f)
                R.list_records(s, f, limit=200)

        out[f"search {query!r}: count + first page"] = median_of(search, 5)
    form = FormSet.shipped().get(FORM)
    rnd = random.Random(3)
    saves = []
    for i in range(100):
        data = _inspection(rnd, TODAY - dt.timedelta(days=i % 30))
        t0 = time.perf_counter()
        with store.Session.begin() as s:
            R.save_record(
                s, form=form, data=data, submit=True, today=TODAY, now=dt.datetime(2026, 11, 28, 9)
            )
        saves.append(time.perf_counter() - t0)
    out["save one record (synchronous=FULL), p50"] = statistics.median(saves)
    saves.sort()
    out["save one record (synchronous=FULL), p95"] = saves[94]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--keep", help="seed into this folder and keep it")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="enc-bench-"))
    os.environ.setdefault("SCHOOL_CLIENT_KEY_DIR", str(base / "keys"))
    os.environ.setdefault("SCHOOL_CLIENT_KEY_STORE", "file")
    try:
        stores: dict[str, Store] = {}
        for name, encrypted in (("plaintext", False), ("encrypted", True)):
            folder = base / name
            if not (folder / "store.db").exists():
                t0 = time.perf_counter()
                seed(folder, args.records, encrypted=encrypted)
                print(
                    f"seeded {args.records:,} records ({name}) in {time.perf_counter() - t0:.1f} s"
                )
            stores[name] = open_store(folder, encrypted=encrypted)
        # Rounds alternate between the two stores, so that a busy machine weighs on both alike.
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in stores}
        try:
            for _ in range(args.rounds):
                for name, store in stores.items():
                    rounds[name].append(figures(store))
        finally:
            for store in stores.values():
                store.close()
        results = {
            name: {label: statistics.median(r[label] for r in runs) for label in runs[0]}
            for name, runs in rounds.items()
        }
        plain, enc = results["plaintext"], results["encrypted"]
        print(
            f"\n{args.records:,} records; SQLCipher (sqlcipher3) against plaintext SQLite, same run"
        )
        print(f"{'':44} {'plaintext':>11} {'encrypted':>11} {'ratio':>7}")
        worst = 0.0
        for label in plain:
            ratio = enc[label] / plain[label] if plain[label] else float("nan")
            worst = max(worst, ratio)
            print(
                f"{label:44} {plain[label] * 1000:9.1f}ms {enc[label] * 1000:9.1f}ms {ratio:6.2f}x"
            )
        print(f"worst ratio {worst:.2f}x (goal: within 1.30x)")
        for name in ("plaintext", "encrypted"):
            size = (base / name / "store.db").stat().st_size
            print(f"store.db size, {name}: {size / 1e6:.1f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
