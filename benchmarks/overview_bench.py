"""The bureau's overview (概览) for a county: how long the page takes with its 逾期未报 list.

Seeds a fresh SQLite server database with bulk SQL: --schools schools, a year of monthly inspections, 26
weeks of after-school logs and four semesters of school conditions, about one school in ten missing each
period. Then times GET / (the overview: every form at its latest period past the due date, the overdue
schools across forms) and GET /?form=safety_inspection&period=... (a chosen period as well), as a logged-in
viewer through Flask's test client. Prints the median of --runs runs of each, and the records seeded.

    .venv/bin/python benchmarks/overview_bench.py [--schools 500] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from sync_server.models import Record, School, Status  # noqa: E402
from sync_server.state import get_state  # noqa: E402
from tests.server.conftest import MovableClock  # noqa: E402
from tests.server.dashboard_seed import conditions, logged_in, make_app, service  # noqa: E402

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


def _rows(schools: list[int], rng: random.Random) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(sid: int, form_id: str, data: dict[str, Any], day: dt.date) -> None:
        at = dt.datetime.combine(day, dt.time(10)) - dt.timedelta(hours=8)
        out.append(
            {
                "id": str(uuid.uuid4()),
                "school_id": sid,
                "form_id": form_id,
                "form_version": "2026.1",
                "status": Status.RECEIVED,
                "server_revision": 1,
                "created_at": at,
                "updated_at": at,
                "review_comments": {},
                "data": data,
            }
        )

    for sid in schools:
        for month in range(1, 12):
            if rng.random() < 0.9:
                day = dt.date(2026, month, rng.randint(1, 28))
                add(
                    sid,
                    "safety_inspection",
                    {"inspection_date": day.isoformat(), "hazards_found": "no", "hazards": []},
                    day,
                )
        monday = dt.date(2026, 5, 25)
        for week in range(26):
            if rng.random() < 0.9:
                day = monday + dt.timedelta(days=7 * week + rng.randint(0, 4))
                add(sid, "after_school_service", service(day.isoformat()), day)
        for semester, sent in (
            ("2025-autumn", dt.date(2025, 10, 10)),
            ("2026-spring", dt.date(2026, 4, 10)),
            ("2026-autumn", dt.date(2026, 10, 10)),
        ):
            if rng.random() < 0.9:
                add(sid, "school_conditions", conditions(semester), sent)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        app = make_app(f"sqlite:///{folder / 'sync.db'}", folder / "instance", MovableClock(NOW))
        db = get_state(app).db
        with db.Session.begin() as s:
            s.execute(
                insert(School),
                [
                    {
                        "code": f"S{i:04d}",
                        "name": f"第{i}小学",
                        "created_at": dt.datetime(2025, 1, 1),
                    }
                    for i in range(args.schools)
                ],
            )
            ids = [
                sid for (sid,) in s.execute(School.__table__.select().with_only_columns(School.id))
            ]
            rows = _rows(ids, rng)
            for start in range(0, len(rows), 5000):
                s.execute(insert(Record), rows[start : start + 5000])
        client = logged_in(app, "bench", "viewer")
        for label, url in (
            ("overview (latest periods past due, 逾期未报)", "/"),
            ("overview with a chosen period", "/?form=safety_inspection&period=2026-11"),
        ):
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                r = client.get(url)
                times.append(time.perf_counter() - started)
                assert r.status_code == 200, r.status_code
            print(f"{label}: median {statistics.median(times) * 1000:.0f} ms over {args.runs} runs")
        print(f"{args.schools} schools, {len(rows)} records")
        db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
