"""What the bureau reads (issue 11, items 4 and 7): rates as percentages on the record page and in the
consolidated export (a number with a percent format), no machine names or Python reprs, times in the bureau's
local time with the zone named."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import load_workbook

from forms.display import PERCENT_FORMAT
from sync_server.state import get_state
from tests.server.conftest import MovableClock
from tests.server.dashboard_seed import (
    conditions,
    local,
    logged_in,
    make_app,
    record,
    school,
    service,
)
from tests.server.page_text import visible_text
from tests.support.samples import inspection

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Flask]:
    path = tmp_path / "shown.db"
    shutil.copyfile(sqlite_template, path)
    made = make_app(
        f"sqlite:///{path}", tmp_path / "instance", MovableClock(NOW), LOGIN_FAILURE_DELAY=0
    )
    yield made
    get_state(made).db.close()


def test_rates_show_as_percentages_on_the_record_page_and_in_the_export(app: Flask):
    with get_state(app).db.Session.begin() as s:
        s001 = school(s, "S001", "城关镇中心小学")
        cond = record(
            s,
            s001,
            conditions("2026-autumn", smartboard_rate=0.7143, large_class_rate=0.0833),
            form_id="school_conditions",
        )
        log = record(
            s,
            s001,
            service("2026-11-24", present=28, enrolled=30, attendance_rate=0.9333),
            form_id="after_school_service",
        )
    c = logged_in(app, "viewer1", "viewer")
    page = visible_text(c.get(f"/records/{cond.id}").get_data(as_text=True))
    assert "一体机覆盖率\n71.4%" in page and "大班额比例\n8.3%" in page
    assert "0.7143" not in page and "0.0833" not in page
    page = visible_text(c.get(f"/records/{log.id}").get_data(as_text=True))
    assert "出勤率\n93.3%" in page and "0.9333" not in page

    r = c.get("/export?form=school_conditions")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.get_data()))
    sheet = wb["办学条件统计"]
    names = [cell.value for cell in sheet[2]]
    rate = sheet.cell(3, names.index("smartboard_rate") + 1)
    assert rate.value == 0.7143 and rate.number_format == PERCENT_FORMAT
    assert sheet.cell(3, names.index("classes") + 1).number_format == "General"


def test_the_export_has_no_machine_headers_and_times_in_the_bureaus_zone(app: Flask):
    with get_state(app).db.Session.begin() as s:
        s001 = school(s, "S001", "城关镇中心小学")
        record(s, s001, inspection(), received=local(2026, 11, 20, 9, 30))
    c = logged_in(app, "viewer1", "viewer")
    r = c.get("/export?form=safety_inspection")
    wb = load_workbook(io.BytesIO(r.get_data()))
    for title in ("校园安全隐患排查整治记录", "隐患清单"):
        sheet = wb[title]
        heads = [cell.value for cell in sheet[1]]
        assert "is_open" not in heads and "is_open" not in [cell.value for cell in sheet[2]]
        assert all(h and not h.isascii() for h in heads), heads  # every header in Chinese
    main = wb["校园安全隐患排查整治记录"]
    heads = [cell.value for cell in main[1]]
    assert "最后修改时间（北京时间）" in heads
    changed = main.cell(3, heads.index("最后修改时间（北京时间）") + 1).value
    assert changed == dt.datetime(2026, 11, 20, 9, 30)  # 01:30 UTC, as the overview export says


def test_every_staff_page_names_its_time_zone(app: Flask, tmp_path: Path, sqlite_template: Path):
    with get_state(app).db.Session.begin() as s:
        rec = record(s, school(s, "S001", "城关镇中心小学"), inspection())
    c = logged_in(app, "admin1", "admin")
    for url in ("/", "/records", f"/records/{rec.id}", "/hazards", "/schools", "/forms", "/audit"):
        page = visible_text(c.get(url).get_data(as_text=True))
        assert "页面上的时间均为北京时间" in page, url
    # A bureau elsewhere says its own offset.
    path = tmp_path / "elsewhere.db"
    shutil.copyfile(sqlite_template, path)
    other = make_app(
        f"sqlite:///{path}",
        tmp_path / "elsewhere",
        MovableClock(NOW),
        LOGIN_FAILURE_DELAY=0,
        UTC_OFFSET_HOURS=5.5,
    )
    try:
        page = visible_text(
            logged_in(other, "admin2", "admin").get("/records").get_data(as_text=True)
        )
        assert "页面上的时间均为UTC+5:30" in page
    finally:
        get_state(other).db.close()
