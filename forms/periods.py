"""Reporting periods: which period a record belongs to, and the dates a period covers.

Keys sort in time order within a period kind:
  daily 2026-11-28 · weekly 2026-W48 (ISO weeks) · monthly 2026-11 · semester 2026-autumn · yearly 2026.
Semesters follow the Chinese school calendar: the autumn semester from 1 September to the end of February
(its winter holiday included, so January 2027 belongs to 2026-autumn), the spring semester from 1 March to
31 August (its summer holiday included). A semester field answered with a choice such as `2026-autumn` is its
own key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from forms.coerce import BadValue, coerce
from forms.model import FieldType, FormDef, Period

_SEMESTER_RE = re.compile(r"([0-9]{4})-(spring|autumn)")
SPRING_START = 3  # the month each semester begins (on its first day)
AUTUMN_START = 9
_DAY = dt.timedelta(days=1)


def period_of(period: Period, day: dt.date) -> str | None:
    if period is Period.NONE:
        return None
    if period is Period.DAILY:
        return day.isoformat()
    if period is Period.WEEKLY:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period is Period.MONTHLY:
        return f"{day.year:04d}-{day.month:02d}"
    if period is Period.SEMESTER:
        if SPRING_START <= day.month < AUTUMN_START:
            return f"{day.year}-spring"
        return f"{day.year if day.month >= AUTUMN_START else day.year - 1}-autumn"
    return f"{day.year:04d}"


FIRST_YEAR = 1000
LAST_YEAR = 9000  # every date computed from a period (a due date up to 999 days after it) exists


def _year(key: str, year: int) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"{key!r}: a period lies in the years {FIRST_YEAR} to {LAST_YEAR}")
    return year


def period_range(period: Period, key: str) -> tuple[dt.date, dt.date]:
    """First and last day of a period; ValueError for a key that is not one of this kind (ASCII digits,
    the canonical form, a year from FIRST_YEAR to LAST_YEAR)."""
    if period is Period.DAILY:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", key):
            raise ValueError(f"not a day: {key!r}")
        d = dt.date.fromisoformat(key)
        _year(key, d.year)
        return d, d
    if period is Period.WEEKLY:
        m = re.fullmatch(r"([0-9]{4})-W([0-9]{2})", key)
        if not m:
            raise ValueError(f"not a week: {key!r}")
        start = dt.date.fromisocalendar(_year(key, int(m[1])), int(m[2]), 1)
        return start, start + dt.timedelta(days=6)
    if period is Period.MONTHLY:
        m = re.fullmatch(r"([0-9]{4})-([0-9]{2})", key)
        if not m or not 1 <= int(m[2]) <= 12:
            raise ValueError(f"not a month: {key!r}")
        year, month = _year(key, int(m[1])), int(m[2])
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        return dt.date(year, month, 1), nxt - dt.timedelta(days=1)
    if period is Period.SEMESTER:
        m = _SEMESTER_RE.fullmatch(key)
        if not m:
            raise ValueError(f"not a semester: {key!r}")
        year = _year(key, int(m[1]))
        if m[2] == "spring":
            return dt.date(year, SPRING_START, 1), dt.date(year, AUTUMN_START, 1) - _DAY
        return dt.date(year, AUTUMN_START, 1), dt.date(year + 1, SPRING_START, 1) - _DAY
    if period is Period.YEARLY:
        if not re.fullmatch(r"[0-9]{4}", key):
            raise ValueError(f"not a year: {key!r}")
        year = _year(key, int(key))
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    raise ValueError("a form without a period has no period ranges")


def record_period(form: FormDef, data: Mapping[str, Any]) -> str | None:
    """The period a record reports for, from the form's period_field; None when it cannot be told."""
    s = form.settings
    if s.period is Period.NONE or s.period_field is None:
        return None
    f = form.field(s.period_field)
    raw = data.get(s.period_field)
    if f.type in (FieldType.DATE, FieldType.DATETIME):
        try:
            value = coerce(f.type, raw)
        except BadValue:
            return None
        if value is None:
            return None
        day = value.date() if isinstance(value, dt.datetime) else value
        return period_of(s.period, day)
    if isinstance(raw, str) and raw:
        return raw
    return None
