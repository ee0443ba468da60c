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


_HAZARDS_SQL = """
SELECT r.id, r.revision, r.status, r.form_version, json_extract(r.data, '$.inspection_date'), h.key,
       json_extract(h.value, '$.category'), json_extract(h.value, '$.location'),
       json_extract(h.value, '$.description'), json_extract(h.value, '$.severity'),
       json_extract(h.value, '$.measures'), json_extract(h.value, '$.responsible_person'),
       json_extract(h.value, '$.deadline'), coalesce(json_extract(h.value, '$.status'), 'open')
FROM records AS r, json_each(r.data, '$.hazards') AS h
WHERE r.form_id = :form AND r.deleted = 0
  AND coalesce(json_extract(r.data, '$.hazards_found'), 'yes') != 'no'
  AND h.type = 'object'
  AND coalesce(json_extract(h.value, '$.status'), 'open') NOT IN ('rectified', 'verified')
"""


def open_hazards(
    session: Session, *, today: dt.date, forms: FormSet | None = None
) -> list[HazardItem]:
    """Hazards not rectified or verified, across all (not deleted) inspection records, drafts included
    (a hazard written down is real even before the record is submitted).

    With `forms`, a draft's deadline the form refuses (a year mistyped, a date half typed: submitting would
    be refused) is marked deadline_invalid and never counted overdue; a submitted record was checked.
    Overdue ones (deadline passed) first, most overdue first; then by deadline, then by inspection date.
    """
    rows = session.execute(text(_HAZARDS_SQL), {"form": INSPECTION_FORM}).all()
    refused = _refused_draft_deadlines(session, rows, forms, today) if forms is not None else set()
    items: list[HazardItem] = []
    for (
        rid,
        revision,
        record_status,
        _version,
        inspection_date,
        key,
        category,
        location,
        description,
        severity,
        measures,
        person,
        deadline,
        status,
    ) in rows:
        invalid = (rid, int(key)) in refused
        deadline_date = None if invalid else _date(deadline)
        late = (today - deadline_date).days if deadline_date is not None else 0
        items.append(
            HazardItem(
                record_id=rid,
                index=int(key),
                revision=int(revision),
                record_status=record_status,
                inspection_date=_str(inspection_date),
                category=_str(category),
                location=_str(location) or "",
                description=_str(description) or "",
                severity=_str(severity),
                measures=_str(measures) or "",
                responsible_person=_str(person) or "",
                deadline=deadline_date.isoformat() if deadline_date else None,
                status=str(status),
                overdue=late > 0,
                days_overdue=max(late, 0),
                deadline_invalid=invalid,
                deadline_text=str(deadline) if invalid and deadline is not None else "",
            )
        )
    items.sort(
        key=lambda h: (
            not h.overdue,
            -h.days_overdue,
            h.deadline or "9999-99-99",
            h.inspection_date or "",
            h.record_id,
            h.index,
        )
    )
    return items


def overdue_hazards(
    session: Session, *, today: dt.date, forms: FormSet | None = None
) -> list[HazardItem]:
    """Open hazards whose deadline has passed."""
    return [h for h in open_hazards(session, today=today, forms=forms) if h.overdue]


def _refused_draft_deadlines(
    session: Session, rows: Sequence[Any], forms: FormSet, today: dt.date
) -> set[tuple[str, int]]:
    """(record id, hazard index) of the drafts' deadlines the form engine finds a problem with."""
    out: set[tuple[str, int]] = set()
    drafts = {(row[0], row[3]) for row in rows if row[2] == Status.DRAFT}
    if not drafts:
        return out
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
