"""The bureau's consolidated export (汇总表) of 50,000 safety inspections across 300 schools.

Seeds a fresh server database with bulk SQL (SQLite by default, or --db postgresql+psycopg://...), then, each
in its own process so the peak memory is its own:
  * ours: sync_server.export.export_form (summary, record and hazards sheets, labels, real dates,
    formula-safe text), the whole year, and one month (--period);
  * the peer: pandas.DataFrame.to_excel(engine="openpyxl") on the same rows (main sheet + hazards sheet), as
    one would write it with pandas: read everything, flatten, write;
  * the two streaming writers alone on the same number of cells (--writers).
Prints time, CPU time and peak RSS (VmHWM in the child) of each, and the ratio. Goal (issue 14): >= 2x
faster than the peer, <= 100 MB.

    .venv/bin/python benchmarks/server_export_bench.py [--records 50000] [--schools 300] [--db URL] [--writers]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_bench_common import (
    PANDAS_WRITE,
    ROOT,
    compare_writers,
    ours_against_peer,
    run_child,
    seconds,
)

sys.path.insert(0, str(ROOT))

from sqlalchemy import insert

from sync_server.app import prepare_database
from sync_server.db import open_database
from sync_server.models import Record, School, Status

NOW = dt.datetime(2026, 12, 31, 2, 0, tzinfo=dt.UTC)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
PLACES = [
    "教学楼一层",
    "教学楼三层",
    "学生宿舍",
    "食堂后厨",
    "锅炉房",
    "操场东侧",
    "校门口",
    "实验室",
]
PROBLEMS = [
    "灭火器压力不足",
    "电线裸露老化",
    "楼梯扶手松动",
    "消防通道堵塞",
    "围墙出现裂缝",
    "=危险品未上锁",
]
TOWNS = "城关河口石桥东坪柳树西岭北关红星新华南山"


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice("伟娜强敏磊静军丽勇艳")


def _inspection(rng: random.Random, day: dt.date) -> dict[str, Any]:
    hazards = []
    for _ in range(rng.choice((0, 1, 1, 2))):
        status = rng.choice(("open", "in_progress", "rectified", "verified"))
        hazard: dict[str, Any] = {
            "category": rng.choice(("fire", "electrical", "building", "food", "traffic")),
            "location": rng.choice(PLACES),
            "description": rng.choice(PROBLEMS) + f"，编号{rng.randint(1, 999)}",
            "severity": rng.choice(("general", "general", "major", "serious")),
            "measures": "立即整改并复查",
            "responsible_person": _person(rng),
            "deadline": (day + dt.timedelta(days=rng.randint(1, 7))).isoformat(),
            "status": status,
            "is_open": 0 if status in ("rectified", "verified") else 1,
        }
        if status in ("rectified", "verified"):
            hazard["rectified_date"] = (day + dt.timedelta(days=rng.randint(0, 5))).isoformat()
        hazards.append(hazard)
    return {
        "inspection_date": day.isoformat(),
        "inspection_type": rng.choice(("routine", "monthly", "pre_holiday")),
        "inspectors": f"{_person(rng)}、{_person(rng)}",
        "areas": rng.sample(["canteen", "dormitory", "fire_equipment", "electrical", "gate"], 2),
        "hazards_found": "yes" if hazards else "no",
        "hazards": hazards,
        "hazard_count": len(hazards),
        "open_count": sum(h["is_open"] for h in hazards),
        "signed_by": _person(rng) + "校长",
        "remarks": rng.choice(("", "", "已上报乡镇", "+86 138 0000 0000")),
    }


def seed(url: str, records: int, schools: int) -> float:
    db = open_database(url)
    try:
        prepare_database(db, migrate=True, publish_forms=True, now=NOW)
        rng = random.Random(2026)
        t0 = time.perf_counter()
        base = dt.datetime(2026, 1, 1)
        with db.Session.begin() as s:
            s.execute(
                insert(School),
                [
                    {
                        "code": f"S{i:04d}",
                        "name": f"{TOWNS[2 * (i % 10) : 2 * (i % 10) + 2]}第{i}小学",
                        "created_at": base,
                    }
                    for i in range(1, schools + 1)
                ],
            )
        batch: list[dict[str, Any]] = []
        for n in range(records):
            day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(365))
            at = dt.datetime.combine(day, dt.time(8)) + dt.timedelta(
                minutes=rng.randrange(60 * 24 * 8)
            )
            batch.append(
                {
                    "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "school_id": 1 + n % schools,
                    "form_id": "safety_inspection",
                    "form_version": "2026.1",
                    "status": rng.choice(
                        (Status.RECEIVED, Status.RECEIVED, Status.ACCEPTED, Status.RETURNED)
                    ),
                    "server_revision": 1,
                    "created_at": at,
                    "updated_at": at,
                    "review_comments": {},
                    "data": _inspection(rng, day),
                }
            )
            if len(batch) == 5000:
                with db.Session.begin() as s:
                    s.execute(insert(Record), batch)
                batch = []
        if batch:
            with db.Session.begin() as s:
                s.execute(insert(Record), batch)
        return time.perf_counter() - t0
    finally:
        db.close()


OURS = """
import datetime as dt, resource, sys, time
from pathlib import Path
from sync_server.db import open_database
from sync_server.export import export_form
db = open_database(sys.argv[1])
t0, c0, m0 = time.perf_counter(), time.process_time(), hwm()
r = export_form(db.ReadSession, "safety_inspection", Path(sys.argv[2]),
                now=dt.datetime(2026, 12, 31, 2, tzinfo=dt.UTC), period=sys.argv[3] if len(sys.argv) > 3 else None)
print(r.records, time.perf_counter() - t0, hwm(),
      time.process_time() - c0, m0)
"""

PANDAS = (
    """
import json, resource, sys, time
import pandas as pd
import sqlalchemy as sa
t0, c0, m0 = time.perf_counter(), time.process_time(), hwm()
engine = sa.create_engine(sys.argv[1])
rows, hazards = [], []
with engine.connect() as conn:
    for rid, code, name, status, data in conn.execute(sa.text(
            "SELECT r.id, s.code, s.name, r.status, r.data FROM records r JOIN schools s ON s.id = r.school_id "
            "WHERE r.form_id = 'safety_inspection' AND r.status != 'deleted' ORDER BY s.code, r.created_at")):
        record = json.loads(data) if isinstance(data, str) else data
        for i, h in enumerate(record.pop("hazards", []), start=1):
            hazards.append({"_school_code": code, "_school_name": name, "_uuid": rid, "_index": i, **h})
        record["areas"] = " ".join(record.get("areas", []))
        rows.append({"_school_code": code, "_school_name": name, "_uuid": rid, "_status": status, **record})
"""
    + PANDAS_WRITE
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--schools", type=int, default=300)
    parser.add_argument("--db", help="a database URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--keep", type=Path, help="keep the files in this folder (its sync.db is reused)"
    )
    parser.add_argument("--writers", action="store_true", help="also time the writers alone")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="server-export-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = args.db or f"sqlite:///{folder / 'sync.db'}"
    try:
        if args.db is None and (folder / "sync.db").exists():
            print(f"reusing {folder / 'sync.db'}")
        else:
            secs = seed(url, args.records, args.schools)
            print(
                f"seeded {args.records:,} safety inspections across {args.schools} schools "
                f"({url.split(':')[0]}): {secs:.1f} s"
            )
        ours = ours_against_peer(
            OURS, PANDAS, url, folder, "summary + records + hazards sheets + _meta"
        )
        month = run_child(OURS, url, str(folder / "month.xlsx"), "2026-11")
        if ours is not None and not isinstance(month, str):
            print(f"ours: one month (--period 2026-11), {month[0]:,} records: {seconds(month)}")
        if args.writers:
            compare_writers(folder, args.records)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
