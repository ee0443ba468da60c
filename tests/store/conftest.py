from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.clock import FixedClock
from client.context import ClientContext
from client.store.db import open_store
from client.store.formset import FormSet

NOW = dt.datetime(2026, 11, 28, 2, 0)
TODAY = dt.date(2026, 11, 28)


@pytest.fixture(scope="session")
def formset() -> FormSet:
    return FormSet.shipped()


@pytest.fixture
def ctx(tmp_path: Path, formset: FormSet) -> Iterator[ClientContext]:
    context = ClientContext(open_store(tmp_path / "data"), formset, FixedClock(NOW, TODAY))
    yield context
    context.close()


def inspection(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "inspection_date": "2026-11-20",
        "inspection_type": "monthly",
        "inspectors": "张伟、李娜",
        "areas": ["canteen", "fire_equipment"],
        "hazards_found": "yes",
        "hazards": [
            {
                "category": "fire",
                "location": "食堂后厨",
                "description": "灭火器压力不足",
                "severity": "serious",
                "measures": "更换灭火器",
                "responsible_person": "王明",
                "deadline": "2026-11-25",
                "status": "open",
            }
        ],
        "signed_by": "赵校长",
    }
    record.update(overrides)
    return record
