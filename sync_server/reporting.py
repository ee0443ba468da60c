"""Reporting rates, the schools to chase (催报), and safety hazards: the queries behind the bureau's dashboard.

No Flask here: every function takes a SQLAlchemy session, and `today` (the bureau's local date) and the UTC
offset are passed in, so a test fixes them without patching time.

Reporting rate, as DHIS2 defines it
-----------------------------------
For a periodic form (settings.period not `none`, with a period_field) and one period (e.g. `2026-11`):

* expected: the schools expected to report, i.e. the schools added (bureau time) on or before the earlier
  of the period's last day and its due date: a school added later owes nothing for the period, so it is
  never overdue for a deadline that passed before it existed (a semester is due before it ends);
* listed (the report's schools, counted in 应报): the expected schools, plus every school that sent records
  for the period though it was not expected (a school added in December that sends its October): what it
  sent counts as reported, on time (nothing was due from it);
* received: the listed schools with at least one non-deleted record of the form whose period field places
  it in the period (any server status: received, returned or accepted);
* on time: the received schools whose first such record reached the server (the record's `created_at`, the
  time the server first stored it, in the bureau's local time) on or before the period's due date, and the
  received schools that were not expected;
* reporting rate = received / listed; on-time rate = on time / listed (None when nobody is listed).

Each school's status for the period: `on_time` (按时), `late` (逾期: received after the due date) or `missing`
(未报). The schools to chase (催报) are the missing ones.

Due dates (a grace per period kind; `due_rules()` reads overrides such as config.toml's
`report_due = { monthly = "end+5", semester = "start+30" }`):

============  ===========================  =====================================
period kind   default rule                 e.g.
============  ===========================  =====================================
daily         end + 1 day                  2026-11-28 -> 2026-11-29
weekly        end + 1 day (Monday after)   2026-W48 (11-23..11-29) -> 2026-11-30
monthly       end + 5 days (5th of next)   2026-11 -> 2026-12-05
semester      start + 90 days              2026-autumn (from 09-01) -> 2026-11-30
yearly        end + 31 days (31 January)   2026 -> 2027-01-31
============  ===========================  =====================================

A record counts on time when it first arrived on or before the due date (that whole day, local time).
Semesters follow the Chinese school calendar (forms.periods: autumn from 1 September, spring from 1 March),
and a semester's figures are due at the end of its third month (30 November, 30 May).

"Who is late now"
-----------------
The overview opens each form on its latest period whose due date has passed (`latest_due_period`): the
current period is never due yet, so its rates say little. `overdue_schools` gathers, across those reports,
the expected schools that sent nothing: one entry per school, with each form and period it owes.

Hazards
-------
Every hazard of every live safety_inspection record, with its school, inspection date, category, severity,
location, deadline and status; a hazard is open until it is rectified or verified, and overdue when it is
open and its deadline is before today.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from forms.model import FieldType, FormDef, Period
from forms.periods import period_of, period_range
from sync_server.models import Device, FormVersion, Record, School, Status
from sync_server.services.forms import FORM_CACHE, latest_forms

ON_TIME = "on_time"
LATE = "late"
MISSING = "missing"
REPORT_STATUS_LABELS = {ON_TIME: "按时", LATE: "逾期", MISSING: "未报"}

HAZARD_FORM = "safety_inspection"
HAZARD_CLOSED = frozenset({"rectified", "verified"})
ROSTER_FORM = "teachers"

Anchor = Literal["start", "end"]


# -- periods and due dates ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueRule:
    """A period's due date: `days` after its first (`start`) or last (`end`) day."""

    anchor: Anchor
    days: int

    def due(self, start: dt.date, end: dt.date) -> dt.date:
        return (start if self.anchor == "start" else end) + dt.timedelta(days=self.days)

    def __str__(self) -> str:
        return f"{self.anchor}+{self.days}"


DEFAULT_DUE_RULES: dict[Period, DueRule] = {
    Period.DAILY: DueRule("end", 1),
    Period.WEEKLY: DueRule("end", 1),
    Period.MONTHLY: DueRule("end", 5),
    Period.SEMESTER: DueRule("start", 90),
    Period.YEARLY: DueRule("end", 31),
}
_RULE_RE = re.compile(r"^\s*(start|end)\s*\+\s*(\d{1,3})\s*$")


def due_rules(overrides: Mapping[str, Any] | None = None) -> dict[Period, DueRule]:
    """The default rules with overrides by period kind: "end+5", "start+30", or a number (days after
    the end). Raises ValueError naming a bad entry."""
    rules = dict(DEFAULT_DUE_RULES)
    for kind, value in (overrides or {}).items():
        try:
            period = Period(str(kind).lower())
        except ValueError:
            raise ValueError(f"report_due: unknown period kind {kind!r}") from None
        if period is Period.NONE:
            raise ValueError("report_due: a form without a period has no due date")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 999:
            rules[period] = DueRule("end", value)
            continue
        m = _RULE_RE.match(str(value))
        if m is None:
            raise ValueError(
                f"report_due.{kind}: {value!r} is not like 'end+5' or 'start+30' (days)"
            )
        anchor: Anchor = "start" if m[1] == "start" else "end"
        rules[period] = DueRule(anchor, int(m[2]))
    return rules


def due_date(
    period: Period, key: str, rules: Mapping[Period, DueRule] = DEFAULT_DUE_RULES
) -> dt.date:
    start, end = period_range(period, key)
    return rules.get(period, DEFAULT_DUE_RULES[period]).due(start, end)


def current_period(period: Period, today: dt.date) -> str | None:
    return period_of(period, today)


def recent_periods(period: Period, today: dt.date, count: int = 12) -> list[str]:
    """The current period and the ones before it, newest first."""
    if period is Period.NONE:
        return []
    out: list[str] = []
    day = today
    while len(out) < count:
        key = period_of(period, day)
        assert key is not None
        out.append(key)
        start, _end = period_range(period, key)
        day = start - dt.timedelta(days=1)
    return out


_KIND_LABELS = {
    Period.DAILY: "每日",
    Period.WEEKLY: "每周",
    Period.MONTHLY: "每月",
    Period.SEMESTER: "每学期",
    Period.YEARLY: "每年",
}


def period_kind_label(period: Period) -> str:
    return _KIND_LABELS.get(period, "不定期")


def period_label(period: Period, key: str, *, short: bool = False) -> str:
    """A period as the bureau says it: 2026年11月, 2026年第48周（11-23至11-29）, 2026年秋季学期
    (`short`: a week without its dates)."""
    try:
        start, end = period_range(period, key)
    except ValueError:
        return key
    if period is Period.MONTHLY:
        return f"{start.year}年{start.month}月"
    if period is Period.WEEKLY:
        week = int(key.rsplit("W", 1)[1])
        if short:
            return f"{key[:4]}年第{week}周"
        return f"{key[:4]}年第{week}周（{start:%m-%d}至{end:%m-%d}）"
    if period is Period.SEMESTER:
        return f"{key[:4]}年{'春季' if key.endswith('spring') else '秋季'}学期"
    if period is Period.YEARLY:
        return f"{key}年"
    return f"{start.year}年{start.month}月{start.day}日"


def is_periodic(form: FormDef) -> bool:
    return (
        form.settings.period is not Period.NONE
        and form.settings.period_field is not None
        and form.form_id != ROSTER_FORM
    )


def period_choices(form: FormDef, today: dt.date, count: int = 12) -> list[str]:
    """Periods to offer in a picker: recent ones, and for a select period field (e.g. a semester chosen
    from a list) the list's choices too, newest first."""
    keys = recent_periods(form.settings.period, today, count)
    s = form.settings
    if s.period_field is not None:
        f = form.field(s.period_field)
        if f.is_select and f.list_name:
            starts: dict[str, dt.date] = {}
            for key in {*keys, *(c.name for c in form.choice_list(f.list_name).choices)}:
                try:
                    start, _end = period_range(s.period, key)
                except ValueError:
                    continue
                if start <= today:
                    starts[key] = start
            keys = sorted(starts, key=lambda k: starts[k], reverse=True)
    return keys


def latest_due_period(
    form: FormDef, today: dt.date, rules: Mapping[Period, DueRule] = DEFAULT_DUE_RULES
) -> str | None:
    """The newest period of the form whose due date is before today (None when none of the recent ones)."""
    kind = form.settings.period
    for key in period_choices(form, today, 24):
        if due_date(kind, key, rules) < today:
            return key
    return None


def parse_period(form: FormDef, key: str) -> str:
    """A period key checked against the form's period kind (ValueError otherwise)."""
    if not is_periodic(form):
        raise ValueError(f"form {form.form_id} has no reporting period")
    period_range(form.settings.period, key)
    return key


def period_condition(form: FormDef, key: str) -> ColumnElement[bool]:
    """SQL condition: the record's period field places it in period `key` (works on SQLite and
    PostgreSQL: JSON text extraction and ISO-date string comparison)."""
    s = form.settings
    if s.period_field is None or s.period is Period.NONE:
        raise ValueError(f"form {form.form_id} has no reporting period")
    f = form.field(s.period_field)
    value: ColumnElement[str] = Record.data[s.period_field].as_string()
    if f.type is FieldType.DATE:
        start, end = period_range(s.period, key)
        return and_(value >= start.isoformat(), value <= end.isoformat())
    if f.type is FieldType.DATETIME:
        # An ISO datetime's date part decides its period (forms.periods.record_period).
        start, end = period_range(s.period, key)
        return and_(value >= start.isoformat(), value < (end + dt.timedelta(days=1)).isoformat())
    return value == key


# -- forms ------------------------------------------------------------------------------------------


def visible_forms(
    session: Session, *, include_sensitive: bool
) -> list[tuple[FormVersion, FormDef]]:
    """The latest version of each published form, without the sensitive ones unless asked. A form whose
    every version was withdrawn is left out: no school can fill it in, so none is expected to report."""
    out = []
    for fv in latest_forms(session):
        form = FORM_CACHE.get(fv)
        if form.settings.sensitive and not include_sensitive:
            continue
        out.append((fv, form))
    return out


def periodic_forms(
    session: Session, *, include_sensitive: bool
) -> list[tuple[FormVersion, FormDef]]:
    return [
        (fv, form)
        for fv, form in visible_forms(session, include_sensitive=include_sensitive)
        if is_periodic(form)
    ]


def latest_form(session: Session, form_id: str) -> tuple[FormVersion, FormDef] | None:
    """The form's latest version, else (every version withdrawn) its newest: the records' layout."""
    for fv in latest_forms(session, include_withdrawn=True):
        if fv.form_id == form_id:
            return fv, FORM_CACHE.get(fv)
    return None


# -- reporting rates ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchoolReport:
    school_id: int
    code: str
    name: str
    status: str  # on_time late missing
    records: int
    first_received: dt.datetime | None  # local time
    last_sync: dt.datetime | None  # local time of the school's most recent device contact
    devices: int

    @property
    def status_label(self) -> str:
        return REPORT_STATUS_LABELS[self.status]


@dataclass(frozen=True, slots=True)
class PeriodReport:
    form_id: str
    title: str
    period_kind: Period
    period: str
    start: dt.date
    end: dt.date
    due: dt.date
    today: dt.date
    schools: list[SchoolReport] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return len(self.schools)

    def _count(self, status: str) -> int:
        return sum(1 for s in self.schools if s.status == status)

    @property
    def on_time(self) -> int:
        return self._count(ON_TIME)

    @property
    def late(self) -> int:
        return self._count(LATE)

    @property
    def missing(self) -> int:
        return self._count(MISSING)

    @property
    def received(self) -> int:
        return self.on_time + self.late

    @property
    def reporting_rate(self) -> float | None:
        return self.received / self.expected if self.expected else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.expected if self.expected else None

    @property
    def past_due(self) -> bool:
        """The due date has passed: a missing school is now overdue."""
        return self.today > self.due

    @property
    def chase(self) -> list[SchoolReport]:
        """The schools to chase (催报): expected, nothing received for the period."""
        return [s for s in self.schools if s.status == MISSING]


def _local(moment: dt.datetime | None, offset: dt.timedelta) -> dt.datetime | None:
    return None if moment is None else moment + offset


def _end_of_day(day: dt.date, offset: dt.timedelta) -> dt.datetime:
    """The end of `day` in the bureau's time, as stored (naive UTC)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time()) - offset


def _listed_schools(
    session: Session, last_day: dt.date, offset: dt.timedelta, reported: Iterable[int]
) -> list[tuple[School, bool]]:
    """(school, expected) by code: the schools that existed by the end of `last_day`, and the schools in
    `reported` (ids of schools that sent records for the period) though added later."""
    cutoff = _end_of_day(last_day, offset)
    ids = list(reported)
    condition: ColumnElement[bool] = School.created_at < cutoff
    if ids:
        condition = condition | School.id.in_(ids)
    rows = session.execute(select(School).where(condition).order_by(School.code)).scalars()
    return [(school, school.created_at < cutoff) for school in rows]


def _device_contacts(session: Session) -> dict[int, tuple[int, dt.datetime | None]]:
    rows = session.execute(
        select(Device.school_id, func.count(), func.max(Device.last_seen_at))
        .where(Device.revoked_at.is_(None))
        .group_by(Device.school_id)
    ).all()
    return {int(sid): (int(n), last) for sid, n, last in rows}


def period_report(
    session: Session,
    form: FormDef,
    key: str,
    *,
    today: dt.date,
    utc_offset: dt.timedelta,
    rules: Mapping[Period, DueRule] = DEFAULT_DUE_RULES,
) -> PeriodReport:
    """Who reported form `form` for period `key`: on time, late, or not at all."""
    parse_period(form, key)
    kind = form.settings.period
    start, end = period_range(kind, key)
    due = rules.get(kind, DEFAULT_DUE_RULES[kind]).due(start, end)
    # The end of the due day in the bureau's time, as stored (naive UTC).
    deadline = _end_of_day(due, utc_offset)
    rows = session.execute(
        select(Record.school_id, func.count(), func.min(Record.created_at))
        .where(
            Record.form_id == form.form_id,
            Record.status != Status.DELETED,
            period_condition(form, key),
        )
        .group_by(Record.school_id)
    ).all()
    got = {int(sid): (int(n), first) for sid, n, first in rows}
    contacts = _device_contacts(session)
    schools = []
    # Expected: added by the period's last day and by its due date (a semester is due before it ends).
    for school, expected in _listed_schools(session, min(end, due), utc_offset, got):
        n, first = got.get(school.id, (0, None))
        if first is None:
            status = MISSING
        elif first < deadline or not expected:
            status = ON_TIME
        else:
            status = LATE
        devices, last_seen = contacts.get(school.id, (0, None))
        schools.append(
            SchoolReport(
                school_id=school.id,
                code=school.code,
                name=school.name,
                status=status,
                records=n,
                first_received=_local(first, utc_offset),
                last_sync=_local(last_seen, utc_offset),
                devices=devices,
            )
        )
    return PeriodReport(
        form_id=form.form_id,
        title=form.title.get("zh") or form.form_id,
        period_kind=kind,
        period=key,
        start=start,
        end=end,
        due=due,
        today=today,
        schools=schools,
    )


def overview(
    session: Session,
    *,
    today: dt.date,
    utc_offset: dt.timedelta,
    include_sensitive: bool,
    periods: Mapping[str, str] | None = None,
    rules: Mapping[Period, DueRule] = DEFAULT_DUE_RULES,
) -> list[PeriodReport]:
    """One report per periodic form: for the period chosen in `periods` (by form id), else the latest one
    whose due date has passed (else, for a form too new to have one, the current period)."""
    out = []
    for _fv, form in periodic_forms(session, include_sensitive=include_sensitive):
        key = (
            (periods or {}).get(form.form_id)
            or latest_due_period(form, today, rules)
            or current_period(form.settings.period, today)
        )
        assert key is not None
        out.append(
            period_report(session, form, key, today=today, utc_offset=utc_offset, rules=rules)
        )
    return out


@dataclass(frozen=True, slots=True)
class Owed:
    """One form's period a school has not reported for, though its due date passed."""

    form_id: str
    title: str
    period_kind: Period
    period: str
    due: dt.date
    days_late: int


@dataclass(frozen=True, slots=True)
class OverdueSchool:
    school_id: int
    code: str
    name: str
    devices: int
    last_sync: dt.datetime | None  # local time
    owed: list[Owed]


def overdue_schools(reports: Iterable[PeriodReport]) -> list[OverdueSchool]:
    """The schools that sent nothing for a report whose due date has passed, each once with what it owes;
    those owing most first, then by code."""
    found: dict[int, tuple[SchoolReport, list[Owed]]] = {}
    for rep in reports:
        if not rep.past_due:
            continue
        for s in rep.chase:
            owed = Owed(
                rep.form_id,
                rep.title,
                rep.period_kind,
                rep.period,
                rep.due,
                (rep.today - rep.due).days,
            )
            found.setdefault(s.school_id, (s, []))[1].append(owed)
    out = [
        OverdueSchool(s.school_id, s.code, s.name, s.devices, s.last_sync, owed)
        for s, owed in found.values()
    ]
    out.sort(key=lambda o: (-len(o.owed), o.code))
    return out


# -- hazards ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hazard:
    record_id: str
    index: int  # position in the record's hazards list, from 0
    school_id: int
    school_code: str
    school_name: str
    record_status: str
    inspection_date: dt.date | None
    category: str | None
    severity: str | None
    location: str
    description: str
    deadline: dt.date | None
    status: str
    rectified_date: dt.date | None
    overdue: bool

    @property
    def open(self) -> bool:
        return self.status not in HAZARD_CLOSED

    @property
    def path(self) -> str:
        """The hazard's field path in its record (as review comments use it)."""
        return f"hazards[{self.index}]"

    @property
    def anchor(self) -> str:
        """The HTML id of the hazard on its record page."""
        return f"hazards-{self.index}"


@dataclass(frozen=True, slots=True)
class SchoolHazards:
    school_id: int
    code: str
    name: str
    total: int
    open: int
    overdue: int


def _date(value: Any) -> dt.date | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _choice(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def iter_hazards(
    session: Session, *, today: dt.date, school_id: int | None = None, batch: int = 500
) -> Iterator[Hazard]:
    """Every hazard of every live safety_inspection record (of one school if given), streamed."""
    stmt = (
        select(Record.id, Record.status, Record.data, School.id, School.code, School.name)
        .join(School, School.id == Record.school_id)
        .where(Record.form_id == HAZARD_FORM, Record.status != Status.DELETED)
        .order_by(School.code, Record.created_at, Record.id)
        .execution_options(yield_per=batch)
    )
    if school_id is not None:
        stmt = stmt.where(Record.school_id == school_id)
    for rid, rstatus, data, sid, code, name in session.execute(stmt):
        if not isinstance(data, dict):
            continue
        items = data.get("hazards")
        if data.get("hazards_found") == "no" or not isinstance(items, list):
            continue
        inspected = _date(data.get("inspection_date"))
        for i, h in enumerate(items):
            if not isinstance(h, dict):
                continue
            status = _choice(h.get("status")) or "open"
            deadline = _date(h.get("deadline"))
            yield Hazard(
                record_id=rid,
                index=i,
                school_id=sid,
                school_code=code,
                school_name=name,
                record_status=rstatus,
                inspection_date=inspected,
                category=_choice(h.get("category")),
                severity=_choice(h.get("severity")),
                location=_text(h.get("location")),
                description=_text(h.get("description")),
                deadline=deadline,
                status=status,
                rectified_date=_date(h.get("rectified_date")),
                overdue=status not in HAZARD_CLOSED and deadline is not None and deadline < today,
            )


def hazards(session: Session, *, today: dt.date, school_id: int | None = None) -> list[Hazard]:
    """Every hazard: overdue first, then open ones by deadline, then closed ones; then by school."""
    found = list(iter_hazards(session, today=today, school_id=school_id))
    far = dt.date.max
    found.sort(
        key=lambda h: (
            not h.overdue,
            not h.open,
            h.deadline or far,
            h.school_code,
            h.record_id,
            h.index,
        )
    )
    return found


def filter_hazards(
    items: Iterable[Hazard],
    *,
    school_id: int | None = None,
    status: str | None = None,
    severity: str | None = None,
    overdue_only: bool = False,
    open_only: bool = False,
) -> list[Hazard]:
    out = []
    for h in items:
        if school_id is not None and h.school_id != school_id:
            continue
        if status and h.status != status:
            continue
        if severity and h.severity != severity:
            continue
        if overdue_only and not h.overdue:
            continue
        if open_only and not h.open:
            continue
        out.append(h)
    return out


def hazard_counts(items: Iterable[Hazard]) -> list[SchoolHazards]:
    """Per school with hazards: total, open and overdue; most overdue first."""
    acc: dict[int, list[Any]] = {}
    for h in items:
        row = acc.setdefault(h.school_id, [h.school_code, h.school_name, 0, 0, 0])
        row[2] += 1
        row[3] += int(h.open)
        row[4] += int(h.overdue)
    out = [SchoolHazards(sid, c, n, t, o, od) for sid, (c, n, t, o, od) in acc.items()]
    out.sort(key=lambda s: (-s.overdue, -s.open, s.code))
    return out
