"""Child process for the crash-safety test: submits records in a loop, reporting each after its commit.

    python -m tests.support.crash_writer DATA_DIR TAG
Prints "ready" once the store is open, then "saved <record id>" after every committed save.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from client.store import records as R
from client.store.db import open_store
from client.store.formset import FormSet

TODAY = dt.date(2026, 11, 28)


def main() -> None:
    data_dir, tag = Path(sys.argv[1]), sys.argv[2]
    store = open_store(data_dir)
    form = FormSet.shipped().get("safety_inspection")
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    i = 0
    while True:
        i += 1
        record = {
            "inspection_date": "2026-11-20",
            "inspection_type": "routine",
            "inspectors": f"检查员{tag}-{i}",
            "areas": ["canteen"],
            "hazards_found": "yes",
            "signed_by": "赵校长",
            "hazards": [
                {
                    "category": "fire",
                    "location": "食堂",
                    "description": "灭火器过期" * 20,
                    "severity": "general",
                    "measures": "更换",
                    "responsible_person": "王明",
                    "deadline": "2026-11-25",
                    "status": "open",
                }
            ],
        }
        with store.Session.begin() as s:
            res = R.save_record(
                s,
                form=form,
                data=record,
                submit=True,
                today=TODAY,
                now=dt.datetime(2026, 11, 28, 8, 0),
            )
        out.write(f"saved {res.record_id}\n")
        out.flush()


if __name__ == "__main__":
    main()
