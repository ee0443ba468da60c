"""The clerk's export of 50,000 safety inspections (two hazards each) against pandas+openpyxl on the same rows.

Seeds an encrypted client store (benchmarks/seed.py), then, each in its own process so the peak memory is its
own:
  * ours: client.excel.export_records (labels, real dates, formula-safe text, the hazards sheet, _meta);
  * the peer: pandas.DataFrame.to_excel(engine="openpyxl") on the same rows (record sheet + hazards sheet),
    as one would write it with pandas: read everything, flatten, write;
  * the two streaming writers alone on the same number of cells (--writers), the measurement behind the
    choice of writer.
Prints seconds and peak RSS of each and the ratio. Goal (issue 14): >= 2x faster than the peer, <= 100 MB.

    .venv/bin/python benchmarks/client_export_bench.py [--records 50000] [--keep DIR] [--writers]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

# This checkout's code first (not whichever an editable install points to), then the benchmarks' helpers.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from export_bench_common import PANDAS_WRITE, compare_writers, ours_against_peer
from seed import seed

OURS = """
import resource, sys, time
from pathlib import Path
from client.context import ClientContext
from client.excel.export import export_records
ctx = ClientContext.open(Path(sys.argv[1]))
t0, c0, m0 = time.perf_counter(), time.process_time(), hwm()
n = export_records(ctx, "safety_inspection", Path(sys.argv[2]))
print(n, time.perf_counter() - t0, hwm(),
      time.process_time() - c0, m0)
"""

PANDAS = (
    """
import json, resource, sys, time
from pathlib import Path
import pandas as pd
from client.store.db import connect
from client.store.keys import load_key
t0, c0, m0 = time.perf_counter(), time.process_time(), hwm()
con = connect(Path(sys.argv[1]) / "store.db", load_key(Path(sys.argv[1])))  # the store is encrypted
rows, hazards = [], []
for rid, status, updated, data in con.execute(
        "SELECT id, status, updated_at, data FROM records WHERE form_id = 'safety_inspection' AND deleted = 0 "
        "ORDER BY record_date, created_at, id"):
    record = json.loads(data)
    for i, h in enumerate(record.pop("hazards", []), start=1):
        hazards.append({"_uuid": rid, "_index": i, **h})
    record["areas"] = " ".join(record.get("areas", []))
    rows.append({"_uuid": rid, **record, "_status": status, "_updated_at": updated})
"""
    + PANDAS_WRITE
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--keep", type=Path, help="reuse/keep the seeded data folder here")
    parser.add_argument("--writers", action="store_true", help="also time the writers alone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="client-export-bench-"))
    data_dir = args.keep or work / "data"
    try:
        if not (data_dir / "store.db").exists():
            t0 = time.perf_counter()
            seed(data_dir, args.records)
            print(f"seeded {args.records:,} records in {time.perf_counter() - t0:.0f} s")
        ours_against_peer(OURS, PANDAS, str(data_dir), work, "record sheet + hazards sheet + _meta")
        if args.writers:
            compare_writers(work, args.records)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
