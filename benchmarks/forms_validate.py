"""Validation throughput: 10,000 safety inspections with 5 hazards each.

Prints records per second for the form engine (one process, then one process per core), and, as a peer
measured in the same run, jsonschema validating the same records against a JSON Schema of the same form
(types, required answers and choice lists only: no relevance, calculations or cross-field constraints).

    .venv/bin/python benchmarks/forms_validate.py [--records N]

Issue 14 goal 5 (>= 5,000 records/s per core). One run, 10,000 records, 2-core machine shared with others:
before (29f2bb9) 2,640 records/s wall on a loaded machine, about 3,700-4,100 per core (CPU time);
after: see the commit message / benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from forms.catalog import DEFINITIONS_DIR
from forms.engine import validate
from forms.loader import load_yaml

TODAY = dt.date(2026, 11, 28)
FORM = load_yaml(DEFINITIONS_DIR / "safety_inspection.yaml")


def make_records(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        day = TODAY - dt.timedelta(days=rnd.randint(0, 300))
        hazards = []
        for h in range(5):
            severity = rnd.choice(["general", "major", "serious"])
            status = rnd.choice(["open", "in_progress", "rectified", "verified"])
            hazard = {
                "category": rnd.choice(["fire", "electrical", "building", "food", "traffic"]),
                "location": f"教学楼{h + 1}层",
                "description": "灭火器压力不足，需要更换",
                "severity": severity,
                "measures": "联系消防部门更换灭火器",
                "responsible_person": "王明",
                "deadline": (day + dt.timedelta(days=rnd.randint(0, 7))).isoformat(),
                "status": status,
            }
            if status in ("rectified", "verified"):
                hazard["rectified_date"] = (day + dt.timedelta(days=rnd.randint(0, 3))).isoformat()
            hazards.append(hazard)
        out.append(
            {
                "_uuid": f"rec-{i}",
                "inspection_date": day.isoformat(),
                "inspection_type": "monthly",
                "inspectors": "张伟、李娜",
                "areas": ["teaching_building", "canteen", "fire_equipment"],
                "hazards_found": "yes",
                "hazards": hazards,
                "signed_by": "赵校长",
            }
        )
    return out


def validate_chunk(records: list[dict[str, Any]]) -> int:
    bad = 0
    for r in records:
        if validate(FORM, r, today=TODAY):
            bad += 1
    return bad


def json_schema() -> dict[str, Any]:
    def enum(list_name: str) -> dict[str, Any]:
        return {"type": "string", "enum": list(FORM.choice_list(list_name).names())}

    date = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    text = {"type": "string", "minLength": 1}
    hazard = {
        "type": "object",
        "required": [
            "category",
            "location",
            "description",
            "severity",
            "measures",
            "responsible_person",
            "deadline",
            "status",
        ],
        "properties": {
            "category": enum("hazard_category"),
            "location": text,
            "description": text,
            "severity": enum("severity"),
            "measures": text,
            "responsible_person": text,
            "deadline": date,
            "status": enum("hazard_status"),
            "rectified_date": date,
            "photo": {"type": "string"},
            "rectified_photo": {"type": "string"},
        },
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "required": [
            "inspection_date",
            "inspection_type",
            "inspectors",
            "areas",
            "hazards_found",
            "signed_by",
        ],
        "properties": {
            "_uuid": {"type": "string"},
            "inspection_date": date,
            "inspection_type": enum("inspection_type"),
            "special_topic": enum("special_topic"),
            "inspectors": text,
            "areas": {"type": "array", "items": enum("areas"), "minItems": 1},
            "hazards_found": enum("yes_no"),
            "hazards": {"type": "array", "items": hazard, "minItems": 1},
            "signed_by": text,
            "remarks": {"type": "string"},
        },
        "additionalProperties": False,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    records = make_records(args.records)
    validate_chunk(records[:50])  # warm up: compile the form once

    # Best of three; the CPU time (process_time) is the per-core figure on a machine others share too.
    one, cpu = math.inf, math.inf
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        bad = validate_chunk(records)
        one = min(one, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    rate_one = len(records) / one
    print(
        f"form engine, 1 process : {len(records):,} records in {one:.2f} s = {rate_one:,.0f} records/s "
        f"({bad} refused); per core (CPU time {cpu:.2f} s): {len(records) / cpu:,.0f} records/s"
    )

    workers = os.cpu_count() or 1
    chunks = [records[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(validate_chunk, [c[:10] for c in chunks]))  # start and warm the workers
        t0 = time.perf_counter()
        list(pool.map(validate_chunk, chunks))
        many = time.perf_counter() - t0
    print(f"form engine, {workers} processes: {len(records) / many:,.0f} records/s")

    try:
        import jsonschema
    except ImportError:
        print("peer: jsonschema not installed (pip install jsonschema) — no ratio")
        return
    validator = jsonschema.Draft202012Validator(json_schema())
    t0 = time.perf_counter()
    peer_bad = sum(1 for r in records if not validator.is_valid(r))
    peer = time.perf_counter() - t0
    rate_peer = len(records) / peer
    print(
        f"peer jsonschema {jsonschema.__version__} (structure only), 1 process: {rate_peer:,.0f} records/s "
        f"({peer_bad} refused)"
    )
    print(f"ratio form engine / jsonschema (1 process): {rate_one / rate_peer:.2f}x")


if __name__ == "__main__":
    main()
