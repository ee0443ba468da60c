from __future__ import annotations

import datetime as dt

import pytest

from forms.catalog import load_catalog
from forms.model import Period
from forms.periods import period_of, period_range, record_period

D = dt.date


@pytest.mark.parametrize(
    ("period", "day", "key"),
    [
        (Period.DAILY, D(2026, 11, 28), "2026-11-28"),
        (Period.WEEKLY, D(2026, 11, 28), "2026-W48"),
        (Period.WEEKLY, D(2027, 1, 1), "2026-W53"),
        (Period.MONTHLY, D(2026, 2, 3), "2026-02"),
        (Period.SEMESTER, D(2026, 3, 1), "2026-spring"),
        (Period.SEMESTER, D(2026, 9, 1), "2026-autumn"),
        (Period.SEMESTER, D(2027, 1, 15), "2026-autumn"),
        (Period.YEARLY, D(2026, 5, 5), "2026"),
        (Period.NONE, D(2026, 5, 5), None),
    ],
)
def test_period_of(period: Period, day: dt.date, key: str | None):
    assert period_of(period, day) == key
    if key is not None:
        start, end = period_range(period, key)
        assert start <= day <= end


def test_ranges_tile_the_year():
    for period in (Period.DAILY, Period.WEEKLY, Period.MONTHLY, Period.SEMESTER, Period.YEARLY):
        day = D(2025, 12, 20)
        while day < D(2027, 3, 1):
            start, end = period_range(period, period_of(period, day) or "")
            assert start <= day <= end
            day = end + dt.timedelta(days=1)
            assert period_of(period, day) != period_of(period, end)


def test_bad_keys_are_refused():
    for period, key in [
        (Period.MONTHLY, "2026-13"),
        (Period.WEEKLY, "2026-48"),
        (Period.SEMESTER, "2026-summer"),
    ]:
        with pytest.raises(ValueError):
            period_range(period, key)


def test_record_period_for_the_shipped_forms():
    forms = load_catalog()
    assert record_period(forms["safety_inspection"], {"inspection_date": "2026-11-03"}) == "2026-11"
    assert (
        record_period(forms["after_school_service"], {"service_date": "2026-11-28"}) == "2026-W48"
    )
    assert record_period(forms["school_conditions"], {"semester": "2026-autumn"}) == "2026-autumn"
    assert record_period(forms["teacher_ethics"], {"record_date": "2026-11-03"}) is None
    assert record_period(forms["safety_inspection"], {"inspection_date": "not a date"}) is None
