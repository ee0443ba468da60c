"""A school added after a period's due date owes nothing for it, and what it did send still counts (product
trial finding 3).

The trial added 东风乡小学 on 1 December: the overview listed it as 逾期未报 for 办学条件统计 2026年秋季学期 (due
30 November, before the school existed), while its 626 October inspections were counted nowhere (应报 0 on the
overview, （不在应报范围） in the consolidated export). The rule now (docs/reporting.md): a school is expected
for a period when it was added on or before the earlier of the period's last day and its due date; a school
that sent records for a period is listed and counted as reported whether it was expected or not.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import load_workbook

from sync_server import reporting as R
from sync_server.export import SUMMARY_TITLE, export_form
from sync_server.state import get_state
from tests.server.conftest import MovableClock
from tests.server.dashboard_seed import UTC8, conditions, local, logged_in, make_app, record, school
from tests.server.page_text import get_page, table_rows, visible_text
from tests.support.samples import inspection

NOW = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)  # 11:00 on 1 December in the bureau
TODAY = dt.date(2026, 12, 1)


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Flask]:
    path = tmp_path / "new-school.db"
    shutil.copyfile(sqlite_template, path)
    made = make_app(
        f"sqlite:///{path}", tmp_path / "instance", MovableClock(NOW), LOGIN_FAILURE_DELAY=0
    )
    yield made
    get_state(made).db.close()


def _seed(app: Flask) -> None:
    with get_state(app).db.Session.begin() as s:
        old = school(s, "SCH001", "城关镇中心小学")  # since January
        new = school(s, "SCH002", "东风乡小学", created=local(2026, 12, 1, 9))  # added today
        school(s, "SCH003", "石桥村小学", created=local(2026, 11, 15))  # before 30 November
        record(s, old, inspection(inspection_date="2026-10-12"), received=local(2026, 10, 12))
        record(
            s,
            old,
            conditions("2026-autumn"),
            form_id="school_conditions",
            received=local(2026, 11, 2),
        )
        # The new school's October, sent on its first day (after October's due date, 5 November).
        for day in (8, 15, 22):
            record(
                s,
                new,
                inspection(inspection_date=f"2026-10-{day:02d}"),
                received=local(2026, 12, 1, 10),
            )


def _form(app: Flask, form_id: str) -> object:
    with get_state(app).db.ReadSession() as s:
        found = R.latest_form(s, form_id)
    assert found is not None
    return found[1]


def test_a_school_added_after_the_due_date_is_not_overdue_and_its_records_count(
    app: Flask,
) -> None:
    _seed(app)
    with get_state(app).db.ReadSession() as s:
        reports = R.overview(s, today=TODAY, utc_offset=UTC8, include_sensitive=False)
        by_form = {r.form_id: r for r in reports}
        sem = by_form["school_conditions"]
        assert sem.period == "2026-autumn" and sem.past_due
        # Expected: the old school and the one added on 15 November (before the due date); not SCH002.
        assert [(r.code, r.status) for r in sem.schools] == [
            ("SCH001", R.ON_TIME),
            ("SCH003", R.MISSING),
        ]
        overdue = {o.code: [w.form_id for w in o.owed] for o in R.overdue_schools(reports)}
        assert "SCH002" not in overdue
        assert "school_conditions" in overdue["SCH003"]
        october = R.period_report(
            s,
            _form(app, "safety_inspection"),  # type: ignore[arg-type]
            "2026-10",
            today=TODAY,
            utc_offset=UTC8,
        )
    status = {r.code: r for r in october.schools}
    # SCH003 (added 15 November) was not expected for October; SCH002 was not either, but reported.
    assert set(status) == {"SCH001", "SCH002"}
    assert status["SCH002"].status == R.ON_TIME and status["SCH002"].records == 3
    assert (october.expected, october.received, october.missing) == (2, 2, 0)
    assert october.reporting_rate == pytest.approx(1.0)


def test_the_overview_page_and_the_consolidated_export_show_the_new_schools_reports(
    app: Flask, tmp_path: Path
) -> None:
    _seed(app)
    c = logged_in(app, "viewer1", "viewer")
    html = get_page(c, "/")
    overdue = table_rows(html, "overdue-list", "school")
    assert "SCH002" not in overdue and "SCH003" in overdue
    october = get_page(c, "/?form=safety_inspection&period=2026-10")
    statuses = table_rows(october, "school-status", "school")
    assert "SCH002" in statuses and "按时" in statuses["SCH002"], statuses
    assert "不在应报范围" not in october
    stats = visible_text(october.split('id="chosen-stats"', 1)[1].split('<div class="card', 1)[0])
    assert re.search(r"应报学校\s*2\s", stats) and re.search(
        r"已报（按时 2 · 逾期 0）\s*2\s", stats
    ), stats

    out = tmp_path / "汇总.xlsx"
    db = get_state(app).db
    result = export_form(
        db.ReadSession,
        "safety_inspection",
        out,
        now=NOW,
        period="2026-10",
        utc_offset=UTC8,
    )
    assert result.records == 4
    summary = {r[0]: r for r in load_workbook(out)[SUMMARY_TITLE].iter_rows(values_only=True)}
    assert summary["SCH002"][2] == "按时" and summary["SCH002"][4] == 3
    assert summary["SCH001"][2] == "按时"
    assert "SCH003" not in summary
    assert summary["合计"][1] == "2 所学校" and summary["合计"][2] == "报送率 100%，及时率 100%"
