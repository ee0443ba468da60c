"""sync_server.reporting on a real migrated database (SQLite and PostgreSQL: the period filter reads JSON):
reporting and on-time rates, the schools to chase, due dates, and hazards."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask

from forms.model import FormDef, Period
from sync_server import models as M
from sync_server import reporting as R
from sync_server.state import get_state
from tests.server.conftest import inspection
from tests.server.dashboard_seed import (
    UTC8,
    conditions,
    local,
    make_app,
    record,
    school,
    service,
)

TODAY = dt.date(2026, 12, 10)


@pytest.fixture
def app(ready_db_url: str, tmp_path: Path) -> Flask:
    return make_app(ready_db_url, tmp_path / "instance")


def form(app: Flask, form_id: str) -> FormDef:
    with get_state(app).db.ReadSession() as s:
        found = R.latest_form(s, form_id)
    assert found is not None
    return found[1]


def test_due_dates_per_period_kind():
    assert R.due_date(Period.MONTHLY, "2026-11") == dt.date(2026, 12, 5)
    assert R.due_date(Period.MONTHLY, "2026-12") == dt.date(2027, 1, 5)
    assert R.due_date(Period.WEEKLY, "2026-W48") == dt.date(2026, 11, 30)  # the Monday after
    # Semesters start on 1 September and 1 March; their figures are due after three months.
    assert R.due_date(Period.SEMESTER, "2026-autumn") == dt.date(2026, 11, 30)
    assert R.due_date(Period.SEMESTER, "2027-spring") == dt.date(2027, 5, 30)
    assert R.due_date(Period.DAILY, "2026-11-28") == dt.date(2026, 11, 29)
    assert R.due_date(Period.YEARLY, "2026") == dt.date(2027, 1, 31)
    rules = R.due_rules({"monthly": "end+10", "weekly": 3, "semester": "start + 45"})
    assert R.due_date(Period.MONTHLY, "2026-11", rules) == dt.date(2026, 12, 10)
    assert R.due_date(Period.WEEKLY, "2026-W48", rules) == dt.date(2026, 12, 2)
    assert R.due_date(Period.SEMESTER, "2026-autumn", rules) == dt.date(2026, 10, 16)
    for bad in ({"fortnightly": 3}, {"monthly": "mid+3"}, {"none": 1}, {"monthly": -1}):
        with pytest.raises(ValueError):
            R.due_rules(bad)


def test_recent_periods_walk_back_from_today():
    assert R.recent_periods(Period.MONTHLY, dt.date(2026, 2, 3), 3) == [
        "2026-02",
        "2026-01",
        "2025-12",
    ]
    assert R.recent_periods(Period.WEEKLY, dt.date(2026, 1, 1), 2) == ["2026-W01", "2025-W52"]
    assert R.recent_periods(Period.SEMESTER, dt.date(2026, 11, 28), 3) == [
        "2026-autumn",
        "2026-spring",
        "2025-autumn",
    ]
    assert R.recent_periods(Period.NONE, TODAY) == []


def test_monthly_reporting_rate_with_on_time_late_and_missing_schools(app: Flask):
    db = get_state(app).db
    with db.Session.begin() as s:
        a = school(s, "A01", "城关镇中心小学")
        b = school(s, "B02", "河口乡小学")
        c = school(s, "C03", "石桥村小学")
        d = school(s, "D04", "新华中学")
        e = school(s, "E05", "后来的学校", created=local(2026, 12, 2))  # added after November
        f = school(s, "F06", "北关小学")
        # A: November's inspection, received in November.
        record(s, a, inspection(inspection_date="2026-11-10"), received=local(2026, 11, 10))
        # ... and a second one, later: the first arrival decides.
        record(s, a, inspection(inspection_date="2026-11-25"), received=local(2026, 12, 20))
        # B: at 23:59 on the due day (bureau time): on time.
        record(s, b, inspection(inspection_date="2026-11-20"), received=local(2026, 12, 5, 23, 59))
        # C: one minute after the due day: late.
        record(s, c, inspection(inspection_date="2026-11-30"), received=local(2026, 12, 6, 0, 0))
        # D: only a deleted November record and an October one: missing.
        record(s, d, inspection(inspection_date="2026-11-03"), status=M.Status.DELETED)
        record(s, d, inspection(inspection_date="2026-10-31"), received=local(2026, 11, 2))
        # E was not expected (added after November) but sent November's: listed, received, on time
        # (product trial finding 3). F's record was returned: still received.
        record(s, e, inspection(inspection_date="2026-11-15"), received=local(2026, 12, 3))
        record(
            s,
            f,
            inspection(inspection_date="2026-11-01"),
            received=local(2026, 11, 1),
            status=M.Status.RETURNED,
        )
        # Other forms do not count.
        record(s, d, service("2026-11-20"), form_id="after_school_service")

    with db.ReadSession() as s:
        rep = R.period_report(
            s, form(app, "safety_inspection"), "2026-11", today=TODAY, utc_offset=UTC8
        )
    assert (rep.start, rep.end, rep.due) == (
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 30),
        dt.date(2026, 12, 5),
    )
    status = {r.code: r.status for r in rep.schools}
    assert status == {
        "A01": R.ON_TIME,
        "B02": R.ON_TIME,
        "C03": R.LATE,
        "D04": R.MISSING,
        "E05": R.ON_TIME,
        "F06": R.ON_TIME,
    }
    assert (rep.expected, rep.received, rep.on_time, rep.late, rep.missing) == (6, 5, 4, 1, 1)
    assert rep.reporting_rate == pytest.approx(5 / 6)
    assert rep.on_time_rate == pytest.approx(4 / 6)
    assert [r.code for r in rep.chase] == ["D04"]
    assert rep.past_due
    by_code = {r.code: r for r in rep.schools}
    assert by_code["A01"].records == 2
    assert by_code["A01"].first_received == dt.datetime(2026, 11, 10, 10, 0)  # bureau time
    assert by_code["D04"].records == 0 and by_code["D04"].first_received is None

    # October: only D reported (on 2 November, before the 5th).
    with db.ReadSession() as s:
        october = R.period_report(
            s, form(app, "safety_inspection"), "2026-10", today=TODAY, utc_offset=UTC8
        )
    assert [(r.code, r.status) for r in october.schools if r.status != R.MISSING] == [
        ("D04", R.ON_TIME)
    ]
    # A wider grace turns C on time.
    with db.ReadSession() as s:
        wide = R.period_report(
            s,
            form(app, "safety_inspection"),
            "2026-11",
            today=TODAY,
            utc_offset=UTC8,
            rules=R.due_rules({"monthly": "end+6"}),
        )
    assert wide.on_time == 5 and wide.late == 0


def test_weekly_and_semester_forms(app: Flask):
    db = get_state(app).db
    with db.Session.begin() as s:
        a = school(s, "A01")
        b = school(s, "B02")
        # Week 48 of 2026: 23-29 November, due Monday 30 November.
        record(
            s,
            a,
            service("2026-11-23"),
            form_id="after_school_service",
            received=local(2026, 11, 24),
        )
        record(
            s, b, service("2026-11-29"), form_id="after_school_service", received=local(2026, 12, 1)
        )
        # Semester from a select field: 2026-autumn, due 30 November.
        record(
            s,
            a,
            conditions("2026-autumn"),
            form_id="school_conditions",
            received=local(2026, 11, 30, 20),
        )
        record(
            s, b, conditions("2026-spring"), form_id="school_conditions", received=local(2026, 3, 1)
        )
    with db.ReadSession() as s:
        week = R.period_report(
            s, form(app, "after_school_service"), "2026-W48", today=TODAY, utc_offset=UTC8
        )
        sem = R.period_report(
            s, form(app, "school_conditions"), "2026-autumn", today=TODAY, utc_offset=UTC8
        )
        with pytest.raises(ValueError):
            R.period_report(
                s, form(app, "after_school_service"), "2026-11", today=TODAY, utc_offset=UTC8
            )
    assert [(r.code, r.status) for r in week.schools] == [("A01", R.ON_TIME), ("B02", R.LATE)]
    assert week.due == dt.date(2026, 11, 30)
    assert [(r.code, r.status) for r in sem.schools] == [("A01", R.ON_TIME), ("B02", R.MISSING)]
    assert sem.reporting_rate == pytest.approx(0.5)


def test_overview_covers_periodic_forms_only_and_defaults_to_the_latest_period_past_due(app: Flask):
    db = get_state(app).db
    with db.Session.begin() as s:
        a = school(s, "A01")
        record(s, a, inspection(inspection_date="2026-12-01"), received=local(2026, 12, 1))
    with db.ReadSession() as s:
        reports = R.overview(s, today=TODAY, utc_offset=UTC8, include_sensitive=True)
        chosen = R.overview(
            s,
            today=TODAY,
            utc_offset=UTC8,
            include_sensitive=False,
            periods={"safety_inspection": "2026-12"},
        )
    # teacher_ethics and dropout_followup have no period; the roster is no report.
    assert {r.form_id for r in reports} == {
        "safety_inspection",
        "after_school_service",
        "school_conditions",
    }
    by_form = {r.form_id: r for r in reports}
    # 10 December: November's inspections were due on the 5th, week 49's on Monday the 7th, the
    # autumn semester's figures on 30 November.
    assert by_form["safety_inspection"].period == "2026-11"
    assert by_form["safety_inspection"].past_due
    assert by_form["after_school_service"].period == "2026-W49"
    assert by_form["school_conditions"].period == "2026-autumn"
    # The current month, chosen: A01's December record, on time, and not due yet.
    now = {r.form_id: r for r in chosen}["safety_inspection"]
    assert now.period == "2026-12" and now.on_time == 1 and not now.past_due
    with db.ReadSession() as s:
        assert R.visible_forms(s, include_sensitive=False)
        assert "teacher_ethics" not in {
            f.form_id for _fv, f in R.visible_forms(s, include_sensitive=False)
        }
        assert "teacher_ethics" in {
            f.form_id for _fv, f in R.visible_forms(s, include_sensitive=True)
        }
        choices = R.period_choices(form(app, "school_conditions"), TODAY)
    assert choices[:3] == ["2026-autumn", "2026-spring", "2025-autumn"]
    assert "2027-spring" not in choices  # not begun yet


def test_no_school_expected_gives_no_rate(app: Flask):
    with get_state(app).db.ReadSession() as s:
        rep = R.period_report(
            s, form(app, "safety_inspection"), "2026-11", today=TODAY, utc_offset=UTC8
        )
    assert rep.expected == 0 and rep.reporting_rate is None and rep.on_time_rate is None


def hazard(**over: object) -> dict[str, object]:
    out: dict[str, object] = {
        "category": "fire",
        "location": "食堂后厨",
        "description": "灭火器压力不足",
        "severity": "general",
        "measures": "更换灭火器",
        "responsible_person": "王明",
        "deadline": "2026-12-20",
        "status": "open",
    }
    out.update(over)
    return out


def test_hazards_open_overdue_and_counts_per_school(app: Flask):
    db = get_state(app).db
    with db.Session.begin() as s:
        a = school(s, "A01", "城关镇中心小学")
        b = school(s, "B02", "河口乡小学")
        ra = record(
            s,
            a,
            inspection(
                inspection_date="2026-11-20",
                hazards=[
                    hazard(deadline="2026-11-25", severity="serious"),  # overdue
                    hazard(deadline="2026-11-25", status="rectified", rectified_date="2026-11-24"),
                    hazard(deadline="2026-12-10", status="in_progress"),  # due today: not overdue
                ],
            ),
        )
        record(
            s,
            b,
            inspection(hazards=[hazard(deadline="2026-12-01", category="electrical")]),
        )
        record(s, b, inspection(hazards_found="no", hazards=[]))
        record(s, b, inspection(hazards=[hazard(deadline="2026-01-01")]), status=M.Status.DELETED)
    with db.ReadSession() as s:
        items = R.hazards(s, today=TODAY)
    assert len(items) == 4
    assert [(h.school_code, h.index, h.overdue) for h in items[:2]] == [
        ("A01", 0, True),
        ("B02", 0, True),
    ] or [(h.school_code, h.index, h.overdue) for h in items[:2]] == [
        ("B02", 0, True),
        ("A01", 0, True),
    ]
    first = next(h for h in items if h.record_id == ra.id and h.index == 0)
    assert first.severity == "serious" and first.category == "fire"
    assert first.inspection_date == dt.date(2026, 11, 20)
    assert first.deadline == dt.date(2026, 11, 25) and first.open and first.overdue
    assert first.path == "hazards[0]" and first.anchor == "hazards-0"
    closed = next(h for h in items if h.record_id == ra.id and h.index == 1)
    assert not closed.open and not closed.overdue
    assert closed.rectified_date == dt.date(2026, 11, 24)
    today_due = next(h for h in items if h.record_id == ra.id and h.index == 2)
    assert today_due.open and not today_due.overdue
    assert items[-1] is closed  # closed hazards last

    counts = {c.code: (c.total, c.open, c.overdue) for c in R.hazard_counts(items)}
    assert counts == {"A01": (3, 2, 1), "B02": (1, 1, 1)}
    assert len(R.filter_hazards(items, overdue_only=True)) == 2
    assert len(R.filter_hazards(items, severity="serious")) == 1
    assert len(R.filter_hazards(items, status="rectified")) == 1
    assert len(R.filter_hazards(items, school_id=b.id)) == 1
    assert len(R.filter_hazards(items, open_only=True)) == 3
    with db.ReadSession() as s:
        assert len(R.hazards(s, today=TODAY, school_id=a.id)) == 3
