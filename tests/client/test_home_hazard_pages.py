"""待办's hazard table reads a page at a time (issue 14): the first 50 with the rest of the page, then the
next ones as the view asks (fetchMore), in the order and with the counts the full scan gives; 只看逾期 reads
the overdue ones the same way."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from client.clock import FixedClock
from client.context import ClientContext
from client.store.db import open_store
from client.store.formset import FormSet
from client.ui.home_page import FIRST_HAZARDS, HomePage
from client.ui.tasks import TaskManager
from tests.store.todo_data import hazard, inspection
from tests.store.todo_oracle import open_hazards_scan
from tests.ui.main_helpers import settle

NOW = dt.datetime(2026, 11, 28, 9, 0)
TODAY = NOW.date()
RECORDS = 130  # two hazards each: five pages and a bit


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[ClientContext]:
    context = ClientContext(
        open_store(tmp_path / "data"), FormSet.shipped(), FixedClock(NOW, TODAY)
    )
    rows = []
    for i in range(RECORDS):
        day = TODAY - dt.timedelta(days=i % 40)
        hazards = [
            hazard(deadline=(day + dt.timedelta(days=i % 17)).isoformat(), location=f"位置{i}"),
            hazard(deadline=(day + dt.timedelta(days=3)).isoformat(), status="in_progress"),
        ]
        rows.append((str(uuid.uuid4()), json.dumps(inspection(day.isoformat(), hazards))))
    with (
        context.store.Session.begin() as s
    ):  # written with plain SQL: the table is kept by the database
        for rid, data in rows:
            s.execute(
                text(
                    "INSERT INTO records (id, form_id, form_version, status, revision, deleted, summary, "
                    "created_at, updated_at, data) VALUES (:i, 'safety_inspection', '2026.1', 'submitted', "
                    "1, 0, '', :t, :t, :d)"
                ),
                {"i": rid, "t": NOW, "d": data},
            )
    yield context
    context.close()


def test_the_hazard_table_reads_on_as_it_scrolls(
    qtbot: QtBot, qtmodeltester: ModelTester, ctx: ClientContext
) -> None:
    tasks = TaskManager()
    page = HomePage(ctx, tasks)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.loaded):
        page.refresh()
    settle(tasks)
    model = page.hazard_model
    with ctx.store.Session() as s:
        expected = open_hazards_scan(s, today=TODAY, forms=ctx.forms)
    late = [h for h in expected if h.overdue]
    assert len(expected) == 2 * RECORDS and 0 < len(late) < len(expected)
    assert model.rowCount() == FIRST_HAZARDS and model.items() == expected[:FIRST_HAZARDS]
    text_shown = page.hazard_count.text()
    assert f"共 {len(expected)} 条" in text_shown and f"{len(late)} 条已逾期" in text_shown

    pages = 0
    while model.canFetchMore(model.index(-1, -1)):
        model.fetchMore(model.index(-1, -1))
        pages += 1
    assert pages == 2 and model.items() == expected  # 50, then 200 and 10

    page.overdue_only.setChecked(True)
    while model.canFetchMore(model.index(-1, -1)):
        model.fetchMore(model.index(-1, -1))
    assert model.items() == late
    assert f"共 {len(expected)} 条" in page.hazard_count.text()  # the counts stay those of all
    page.overdue_only.setChecked(False)
    assert model.items() == expected[:FIRST_HAZARDS]
    # last: the tester stays on the model, and reads it all (pytest-qt leaves check unannotated)
    qtmodeltester.check(model)  # type: ignore[no-untyped-call]
