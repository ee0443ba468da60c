"""What the clerk has to do (the 待办 home page): returned records, open and overdue hazards, and what is
due this period for each periodic form. Plain queries over the local store; no Qt.

Functions take a Session and never commit; `update_hazard` saves through `records.save_record`, so a hazard's
follow-up is a new revision of its inspection record (with its outbox entry), like any other save.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from client.store.formset import FormSet
from client.store.models import Record, Status
from client.store.records import (
    RecordNotFound,
    SaveResult,
    StoreError,
    references,
    save_record,
)
from forms.engine import evaluate
from forms.model import FieldType, FormDef, Period
from forms.periods import period_of, period_range

INSPECTION_FORM = "safety_inspection"
HAZARD_STATUSES = ("open", "in_progress", "rectified", "verified")
CLOSED_HAZARD_STATUSES = frozenset({"rectified", "verified"})


# ---------------------------------------------------------------------------------------------------------
# Returned records


@dataclass(frozen=True)
class ReturnedItem:
    record_id: str
    form_id: str
    record_date: str | None
    summary: str
    comment_count: int  # the bureau's comments (one per field, or several)
    revision: int
    updated_at: dt.datetime


def count_comments(comments: Any) -> int:
    """How many comments the bureau left: a mapping of field -> comment (or a list of comments)."""
    if not comments:
        return 0
    if isinstance(comments, Mapping):
        return sum(
            count_comments(v) if isinstance(v, list | Mapping) else 1
            for v in comments.values()
            if v
        )
    if isinstance(comments, list):
        return sum(count_comments(v) if isinstance(v, list | Mapping) else 1 for v in comments if v)
    return 1


def returned_records(session: Session) -> list[ReturnedItem]:
    """Records the bureau returned for correction, most recently changed first."""
    rows = session.execute(
        text(
            "SELECT id, form_id, record_date, summary, review_comments, revision, updated_at "
            "FROM records WHERE status = :st AND deleted = 0 ORDER BY updated_at DESC, id"
        ),
        {"st": Status.RETURNED},
    ).all()
    out: list[ReturnedItem] = []
    for rid, form_id, record_date, summary, comments, revision, updated_at in rows:
        parsed = _json(comments)
        out.append(
            ReturnedItem(
                record_id=rid,
                form_id=form_id,
                record_date=record_date,
                summary=summary or "",
                comment_count=count_comments(parsed),
                revision=int(revision),
                updated_at=_datetime(updated_at),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Hazards


@dataclass(frozen=True)
class HazardItem:
    """One hazard of one inspection record that is not rectified or verified yet."""

    record_id: str
    index: int  # position in the record's hazards list
    revision: int  # the record's revision when read (update_hazard checks it)
    record_status: str
    inspection_date: str | None
    category: str | None
    location: str
    description: str
    severity: str | None
    measures: str
    responsible_person: str
    deadline: str | None  # ISO date
    status: str  # open | in_progress
    overdue: bool
    days_overdue: int  # 0 unless overdue
    # A draft's deadline the form refuses (before the inspection, not a date): to be corrected, not overdue.
    deadline_invalid: bool = False
    deadline_text: str = ""  # the deadline as typed, when it is not a valid one


# The maintained table (migration 0005): one row per open hazard, kept current by triggers on `records`, in
# 待办's order. HazardKey is a row's place in that order.
HazardKey = tuple[str, str, str, int]  # (sort_deadline, sort_inspected, record_id, idx)
NO_DEADLINE = (
    "9999-99-99"  # sort_deadline of a hazard without a (valid) deadline: after every dated one
)
HAZARD_PAGE = 200  # rows read at a time for the page

_ORDER = "sort_deadline, sort_inspected, record_id, idx"
_COLUMNS = (
    f"{_ORDER}, revision, record_status, inspection_date, category, location, description, severity, "
    "measures, responsible_person, deadline, status"
)


@dataclass(frozen=True)
class RefusedDeadlines:
    """The drafts' hazards whose deadline the form refuses (a year mistyped, a date half typed): listed
    after every dated hazard, never overdue, until the draft is corrected. Few: read whole."""

    items: tuple[tuple[HazardKey, HazardItem], ...] = ()  # in 待办's order
    overdue_in_table: int = 0  # how many of them the table's deadline alone would count overdue

    @property
    def keys(self) -> frozenset[tuple[str, int]]:
        return frozenset((item.record_id, item.index) for _key, item in self.items)


@dataclass(frozen=True)
class HazardPage:
    items: list[HazardItem]
    last: HazardKey | None  # where the next page starts (after this)
    more: bool  # there may be more after `last`


@dataclass(frozen=True)
class HazardList:
    """What 待办 shows of the open hazards: how many, how many overdue, and the first page; the rest is read
    a page at a time (`next_page`) in the same order."""

    total: int
    overdue: int
    first: HazardPage
    today: dt.date
    refused: RefusedDeadlines = RefusedDeadlines()
    overdue_only: bool = False

    def next_page(
        self, session: Session, after: HazardKey | None, limit: int = HAZARD_PAGE
    ) -> HazardPage:
        return hazard_page(
            session,
            today=self.today,
            refused=self.refused,
            after=after,
            limit=limit,
            overdue_only=self.overdue_only,
        )


def read_hazards(
    session: Session,
    *,
    today: dt.date,
    forms: FormSet | None = None,
    limit: int | None = HAZARD_PAGE,
    overdue_only: bool = False,
) -> HazardList:
    """The open hazards' counts and first page (limit None: all of them), in open_hazards' order."""
    refused = refused_deadlines(session, today=today, forms=forms)
    total, overdue = hazard_counts(session, today=today, refused=refused)
    first = hazard_page(
        session, today=today, refused=refused, limit=limit, overdue_only=overdue_only
    )
    return HazardList(total, overdue, first, today, refused, overdue_only)


def open_hazards(
    session: Session, *, today: dt.date, forms: FormSet | None = None
) -> list[HazardItem]:
    """Hazards not rectified or verified, across all (not deleted) inspection records, drafts included
    (a hazard written down is real even before the record is submitted).

    With `forms`, a draft's deadline the form refuses (a year mistyped, a date half typed: submitting would
    be refused) is marked deadline_invalid and never counted overdue; a submitted record was checked.
    Overdue ones (deadline passed) first, most overdue first; then by deadline, then by inspection date.
    """
    return read_hazards(session, today=today, forms=forms, limit=None).first.items


def overdue_hazards(
    session: Session, *, today: dt.date, forms: FormSet | None = None
) -> list[HazardItem]:
    """Open hazards whose deadline has passed."""
    refused = refused_deadlines(session, today=today, forms=forms)
    return hazard_page(session, today=today, refused=refused, limit=None, overdue_only=True).items


def hazard_counts(
    session: Session, *, today: dt.date, refused: RefusedDeadlines = RefusedDeadlines()
) -> tuple[int, int]:
    """(open hazards, overdue ones)."""
    total, late = session.execute(
        text(
            "SELECT coalesce(sum(n), 0), coalesce(sum(CASE WHEN sort_deadline < :today THEN n END), 0) "
            "FROM todo_hazard_days"
        ),
        {"today": today.isoformat()},
    ).one()
    return int(total), int(late) - refused.overdue_in_table


def hazard_page(
    session: Session,
    *,
    today: dt.date,
    refused: RefusedDeadlines = RefusedDeadlines(),
    after: HazardKey | None = None,
    limit: int | None = HAZARD_PAGE,
    overdue_only: bool = False,
) -> HazardPage:
    """The next `limit` open hazards after `after` (None: from the first) in 待办's order: overdue ones
    first, most overdue first; then by deadline (none last), inspection date, record and position. A range
    of the maintained table (its primary key is that order), merged with the refused drafts' deadlines."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if after is not None:
        where.append(f"({_ORDER}) > (:d, :i, :r, :x)")
        params.update(d=after[0], i=after[1], r=after[2], x=after[3])
    if overdue_only:  # the overdue ones are the table's prefix before today
        where.append("sort_deadline < :today")
        params["today"] = today.isoformat()
    sql = f"SELECT {_COLUMNS} FROM todo_hazards"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {_ORDER}"
    skip = refused.keys
    if limit is not None:  # enough rows to fill the page once the refused ones are left out
        sql += " LIMIT :n"
        params["n"] = limit + len(skip)
    rows = session.execute(text(sql), params).all()
    found = [
        ((row[0], row[1], row[2], int(row[3])), _hazard(row, today))
        for row in rows
        if (row[2], int(row[3])) not in skip
    ]
    if skip and not overdue_only:  # never overdue: they sort with the hazards without a deadline
        found += [(k, item) for k, item in refused.items if after is None or k > after]
        found.sort(key=lambda pair: pair[0])
    more = limit is not None and (len(found) > limit or len(rows) == params["n"])
    page = found if limit is None else found[:limit]
    return HazardPage([item for _k, item in page], page[-1][0] if page else after, more)


def refused_deadlines(
    session: Session, *, today: dt.date, forms: FormSet | None
) -> RefusedDeadlines:
    """The listed hazards of drafts whose deadline the form engine finds a problem with (forms None: none)."""
    if forms is None:
        return RefusedDeadlines()
    drafts = session.execute(
        text(
            "SELECT r.id, r.form_version FROM records AS r WHERE r.form_id = :form AND r.deleted = 0 "
            "AND r.status = :draft AND EXISTS (SELECT 1 FROM todo_hazards AS t WHERE t.record_id = r.id)"
        ),
        {"form": INSPECTION_FORM, "draft": Status.DRAFT},
    ).all()
    if not drafts:
        return RefusedDeadlines()
    refused = refused_in_drafts(session, drafts, forms, today)
    if not refused:
        return RefusedDeadlines()
    items: list[tuple[HazardKey, HazardItem]] = []
    late = 0
    for record_id in sorted({rid for rid, _i in refused}):
        rows = session.execute(
            text(f"SELECT {_COLUMNS} FROM todo_hazards WHERE record_id = :r"), {"r": record_id}
        ).all()
        for row in rows:
            if (row[2], int(row[3])) in refused:
                items.append(
                    ((NO_DEADLINE, row[1], row[2], int(row[3])), _hazard(row, today, True))
                )
                late += row[0] < today.isoformat()
    items.sort(key=lambda pair: pair[0])
    return RefusedDeadlines(tuple(items), late)


def refused_in_drafts(
    session: Session, drafts: Iterable[tuple[str, str]], forms: FormSet, today: dt.date
) -> set[tuple[str, int]]:
    """(record id, hazard index) of the deadlines the form engine finds a problem with, in these drafts
    ((record id, form version))."""
    out: set[tuple[str, int]] = set()
    refs = references(session)
    for record_id, version in drafts:
        record = session.get(Record, record_id)
        try:
            form = forms.get(INSPECTION_FORM, version)
        except KeyError:
            continue
        if record is None:
            continue
        evaluation = evaluate(form, record.data or {}, today=today, references=refs)
        for problem in evaluation.problems:
            path = problem.path
            deadline = len(path) == 3 and path[0] == "hazards" and path[2] == "deadline"
            if deadline and isinstance(path[1], int) and problem.code != "required":
                out.add((record_id, path[1]))
    return out


def _hazard(row: Sequence[Any], today: dt.date, refused: bool = False) -> HazardItem:
    """A todo_hazards row as 待办 shows it (refused: the draft's deadline the form refuses)."""
    (
        sort_deadline,
        _inspected,
        rid,
        index,
        revision,
        record_status,
        inspection_date,
        category,
        location,
        description,
        severity,
        measures,
        person,
        deadline,
        status,
    ) = row
    due = None if refused or sort_deadline == NO_DEADLINE else dt.date.fromisoformat(sort_deadline)
    late = (today - due).days if due is not None else 0
    return HazardItem(
        record_id=rid,
        index=int(index),
        revision=int(revision),
        record_status=record_status,
        inspection_date=_str(inspection_date),
        category=_str(category),
        location=_str(location) or "",
        description=_str(description) or "",
        severity=_str(severity),
        measures=_str(measures) or "",
        responsible_person=_str(person) or "",
        deadline=due.isoformat() if due else None,
        status=str(status),
        overdue=late > 0,
        days_overdue=max(late, 0),
        deadline_invalid=refused,
        deadline_text=str(deadline) if refused and deadline is not None else "",
    )


def get_hazard(session: Session, *, record_id: str, index: int) -> dict[str, Any]:
    """One hazard of an inspection record, as stored."""
    record = _inspection(session, record_id)
    hazards = record.data.get("hazards")
    if not isinstance(hazards, list) or not 0 <= index < len(hazards):
        raise StoreError("找不到这条隐患，请刷新后重试", "no such hazard; refresh and try again")
    hazard = hazards[index]
    return dict(hazard) if isinstance(hazard, Mapping) else {}


def update_hazard(
    session: Session,
    *,
    forms: FormSet,
    record_id: str,
    index: int,
    status: str,
    rectified_date: dt.date | None,
    rectified_photo: str | None,
    today: dt.date,
    now: dt.datetime,
    expected_revision: int | None = None,
) -> SaveResult:
    """Follow up one hazard: set its status, rectified date and after-photo (an attachment's sha256; None
    removes it). Saves a new revision of the inspection record through save_record.

    - A draft inspection stays a draft; any other is (re)submitted, so the bureau gets the change.
    - An inspection the bureau has ACCEPTED is reopened for this: the inspection records what was found on the
      day, but rectification comes weeks later, and refusing the follow-up would leave the hazard open at the
      school forever. The record goes back to submitted (a new revision and an outbox entry); the bureau sees
      the rectification and accepts it again. This is the only change allowed to an accepted record here.
    - expected_revision, when given, must be the record's current revision (the list the clerk clicked may be
      stale, and hazards are addressed by position).
    """
    if status not in HAZARD_STATUSES:
        raise StoreError(f"未知的整改状态“{status}”", f"unknown hazard status {status!r}")
    record = _inspection(session, record_id)
    if expected_revision is not None and record.revision != expected_revision:
        raise StoreError(
            "这条排查记录刚被修改过，请刷新后重试",
            "the inspection was changed meanwhile; refresh and retry",
        )
    hazards = record.data.get("hazards")
    if not isinstance(hazards, list) or not 0 <= index < len(hazards):
        raise StoreError("找不到这条隐患，请刷新后重试", "no such hazard; refresh and try again")
    hazard = dict(hazards[index]) if isinstance(hazards[index], Mapping) else {}
    hazard["status"] = status
    if status in CLOSED_HAZARD_STATUSES:
        if rectified_date is None:
            raise StoreError("请填写整改完成日期", "enter the date the hazard was rectified")
        if rectified_date > today:
            raise StoreError(
                "整改完成日期不能晚于今天", "the rectification date cannot be in the future"
            )
        inspected = _date(record.data.get("inspection_date"))
        if inspected is not None and rectified_date < inspected:
            raise StoreError(
                "整改完成日期不能早于排查日期",
                "the rectification date cannot be before the inspection",
            )
        hazard["rectified_date"] = rectified_date.isoformat()
        if rectified_photo:
            hazard["rectified_photo"] = rectified_photo
        else:
            hazard.pop("rectified_photo", None)
    else:
        hazard.pop("rectified_date", None)
        hazard.pop("rectified_photo", None)
    data = dict(record.data)
    new_hazards = list(hazards)
    new_hazards[index] = hazard
    data["hazards"] = new_hazards
    form: FormDef = forms.get(record.form_id, record.form_version)
    submit = record.status != Status.DRAFT
    if record.status == Status.ACCEPTED:
        # Reopened for the follow-up (see above); save_record refuses accepted records otherwise.
        record.status = Status.SUBMITTED
    return save_record(
        session, form=form, data=data, record_id=record.id, submit=submit, today=today, now=now
    )


def _inspection(session: Session, record_id: str) -> Record:
    record = session.get(Record, record_id)
    if record is None or record.deleted:
        raise RecordNotFound(record_id)
    if record.form_id != INSPECTION_FORM:
        raise StoreError("这不是安全排查记录", "not a safety inspection record")
    return record


# ---------------------------------------------------------------------------------------------------------
# What is due this period


@dataclass(frozen=True)
class DueItem:
    form_id: str
    period: Period
    key: str  # e.g. 2026-11, 2026-W48, 2026-autumn
    start: dt.date
    end: dt.date
    reported: int  # records for this period that are not drafts
    drafts: int  # drafts for this period

    @property
    def done(self) -> bool:
        return self.reported > 0


def due_this_period(session: Session, forms: Iterable[FormDef], *, today: dt.date) -> list[DueItem]:
    """For each periodic form: the current period and whether a record (not a draft) was made for it."""
    out: list[DueItem] = []
    for form in forms:
        period = form.settings.period
        if period is Period.NONE:
            continue
        key = period_of(period, today)
        if key is None:
            continue
        start, end = period_range(period, key)
        rows = session.execute(
            text(
                "SELECT status, count(*) FROM records WHERE form_id = :f AND deleted = 0 "
                "AND period = :p GROUP BY status"
            ),
            {"f": form.form_id, "p": key},
        ).all()
        counts = {str(st): int(n) for st, n in rows}
        drafts = counts.pop(Status.DRAFT, 0)
        out.append(
            DueItem(
                form_id=form.form_id,
                period=period,
                key=key,
                start=start,
                end=end,
                reported=sum(counts.values()),
                drafts=drafts,
            )
        )
    return out


def current_period_choice(form: FormDef, today: dt.date) -> str | None:
    """For a form whose period is picked from a list (办学条件统计's 学期): the choice for today's period,
    which a new record starts on; None when the period is a date, or today's period is not on the list."""
    name = form.settings.period_field
    if name is None or form.settings.period is Period.NONE:
        return None
    f = form.field(name)
    if f.type is not FieldType.SELECT_ONE or f.list_name is None:
        return None
    key = period_of(form.settings.period, today)
    return key if key is not None and form.choice_list(f.list_name).get(key) is not None else None


# ---------------------------------------------------------------------------------------------------------
# Helpers


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
