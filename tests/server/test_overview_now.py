"""The overview answers "who is late now" (issue 11, item 5): each form opens on its latest period whose due
date has passed (the current one a click away), one list names the overdue schools across forms, a period
nobody was expected to report for says so, and semesters follow the Chinese school calendar (autumn from
1 September, spring from 1 March) so a November filing of 办学条件统计 is not late."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import load_workbook

from forms.model import Period
from forms.periods import period_of, period_range
from sync_server import reporting as R
from sync_server.state import get_state
from tests.server.conftest import MovableClock
from tests.server.dashboard_seed import (
    UTC8,
    conditions,
    demo,
    local,
    logged_in,
    make_app,
    record,
    school,
)
from tests.server.page_text import get_page, table_rows, visible_text

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)  # 10:00 on Saturday 28 November in the bureau
TODAY = dt.date(2026, 11, 28)


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Flask]:
    path = tmp_path / "overview.db"
    shutil.copyfile(sqlite_template, path)
    made = make_app(
        f"sqlite:///{path}", tmp_path / "instance", MovableClock(NOW), LOGIN_FAILURE_DELAY=0
    )
    yield made
    get_state(made).db.close()


def selected(html: str, form_id: str) -> str:
    """The period the form's row shows (its picker's selected option)."""
    row = html.split(f'data-form="{form_id}"', 1)[1].split("</tr>", 1)[0]
    m = re.search(r'<option value="([^"]+)" selected>', row)
    assert m is not None, form_id
    return m.group(1)


def test_semesters_follow_the_school_calendar():
    assert period_range(Period.SEMESTER, "2026-autumn") == (
        dt.date(2026, 9, 1),
        dt.date(2027, 2, 28),
    )
    assert period_range(Period.SEMESTER, "2027-spring") == (
        dt.date(2027, 3, 1),
        dt.date(2027, 8, 31),
    )
    assert period_range(Period.SEMESTER, "2027-autumn")[1] == dt.date(2028, 2, 29)  # a leap year
    assert period_of(Period.SEMESTER, dt.date(2026, 8, 31)) == "2026-spring"
    assert period_of(Period.SEMESTER, dt.date(2026, 9, 1)) == "2026-autumn"
    assert period_of(Period.SEMESTER, dt.date(2027, 2, 20)) == "2026-autumn"
    assert period_of(Period.SEMESTER, dt.date(2027, 3, 1)) == "2027-spring"
    # The semester's figures are due at the end of its third month, not before it begins.
    assert R.due_date(Period.SEMESTER, "2026-autumn") == dt.date(2026, 11, 30)
    assert R.due_date(Period.SEMESTER, "2027-spring") == dt.date(2027, 5, 30)
    # ... still configurable.
    rules = R.due_rules({"semester": "start+30"})
    assert R.due_date(Period.SEMESTER, "2026-autumn", rules) == dt.date(2026, 10, 1)


def test_a_november_filing_of_school_conditions_is_on_time(app: Flask):
    with get_state(app).db.Session.begin() as s:
        a = school(s, "A01", created=dt.datetime(2026, 8, 1))
        record(
            s,
            a,
            conditions("2026-autumn"),
            form_id="school_conditions",
            received=local(2026, 11, 20),
        )
    with get_state(app).db.ReadSession() as s:
        found = R.latest_form(s, "school_conditions")
        assert found is not None
        rep = R.period_report(
            s, found[1], "2026-autumn", today=dt.date(2026, 12, 10), utc_offset=UTC8
        )
    assert [(r.code, r.status) for r in rep.schools] == [("A01", R.ON_TIME)]


def test_the_overview_opens_on_the_latest_period_past_its_due_date(app: Flask):
    with get_state(app).db.Session.begin() as s:
        demo(s)
    c = logged_in(app, "viewer1", "viewer")
    html = get_page(c, "/")
    rates = table_rows(html, "form-rates", "form")
    # 28 November: November's inspections are due 5 December, October's were due 5 November.
    assert selected(html, "safety_inspection") == "2026-10"
    assert "2026-11-05" in rates["safety_inspection"]
    # Week 48 is due Monday 30 November; week 47 was due 23 November.
    assert selected(html, "after_school_service") == "2026-W47"
    # The autumn semester's figures are due 30 November; the spring's were due 30 May.
    assert selected(html, "school_conditions") == "2026-spring"
    assert "2026-05-30" in rates["school_conditions"]
    assert "未到截止日" not in "".join(rates.values())
    # The chosen form (the first) shows October's schools: S008 late, S006 and S009 missing.
    assert "S006" in table_rows(html, "chase-list", "school") and "已过截止日期" in html
    # The current period is a click away, in each row.
    links = dict(re.findall(r'<a class="current-period" href="([^"]+)"[^>]*>([^<]+)</a>', html))
    assert "/?form=safety_inspection&amp;period=2026-11" in links
    assert "本期" in links["/?form=safety_inspection&amp;period=2026-11"]
    current = get_page(c, "/?form=safety_inspection&period=2026-11")
    assert selected(current, "safety_inspection") == "2026-11"
    assert "未到截止日" in table_rows(current, "form-rates", "form")["safety_inspection"]
    # ... and from there, back to the latest period past its due date.
    assert 'class="due-period" href="/?form=safety_inspection&amp;period=2026-10"' in current


def test_one_list_of_overdue_schools_across_forms(app: Flask):
    with get_state(app).db.Session.begin() as s:
        demo(s)
    c = logged_in(app, "viewer1", "viewer")
    html = get_page(c, "/")
    overdue = table_rows(html, "overdue-list", "school")
    # October's inspection: S006 and S009 never sent it (S008 sent it late: reported).
    assert "校园安全隐患排查整治记录" in overdue["S006"] and "2026年10月" in overdue["S006"]
    assert "校园安全隐患排查整治记录" in overdue["S009"]
    assert "S008" not in overdue or "校园安全隐患排查整治记录" not in overdue["S008"]
    # Every school that missed a form's latest due period is listed once, with each form it owes.
    for code, text in overdue.items():
        assert code in text
    assert len(overdue) == len(set(overdue))
    assert "已逾期" in visible_text(html)
    # The list is also a sheet of the overview's export.
    r = c.get("/overview.xlsx?form=safety_inspection&period=2026-10")
    wb = load_workbook(io.BytesIO(r.data))
    assert "逾期未报（各表）" in wb.sheetnames
    sheet = list(wb["逾期未报（各表）"].iter_rows(values_only=True))
    assert sheet[1][:4] == ("学校代码", "学校名称", "表单", "报送周期")
    assert ("S006", "东坪乡中心小学", "校园安全隐患排查整治记录", "2026年10月") in [
        row[:4] for row in sheet[2:]
    ]


def test_a_period_with_no_expected_school_says_nothing_was_expected(app: Flask):
    with get_state(app).db.Session.begin() as s:
        # Added on 24 November: after October, week 47 (16-22 November) and the spring semester.
        school(s, "A01", created=dt.datetime(2026, 11, 24))
    c = logged_in(app, "viewer1", "viewer")
    page = visible_text(get_page(c, "/?form=safety_inspection&period=2026-10"))
    assert "本期所有学校均已报送" not in page
    assert "本期没有应报的学校" in page
    # Nothing overdue anywhere, because nothing was expected for any period past its due date.
    page = visible_text(get_page(c, "/"))
    assert "没有逾期未报的学校：各表最近已截止的一期都没有应报的学校" in page
