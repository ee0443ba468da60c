"""待办's open hazards computed from scratch: the scan of every inspection's JSON that client/store/todo.py
ran before issue 14, kept verbatim as the reference the maintained table (todo_hazards) is compared with
(the form engine's verdict on drafts' deadlines is the one shared part: todo.refused_in_drafts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from client.store.formset import FormSet
from client.store.models import Status
from client.store.todo import INSPECTION_FORM, HazardItem, refused_in_drafts

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


def open_hazards_scan(
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


def overdue_hazards_scan(
    session: Session, *, today: dt.date, forms: FormSet | None = None
) -> list[HazardItem]:
    """Open hazards whose deadline has passed."""
    return [h for h in open_hazards_scan(session, today=today, forms=forms) if h.overdue]


def _refused_draft_deadlines(
    session: Session, rows: Sequence[Any], forms: FormSet, today: dt.date
) -> set[tuple[str, int]]:
    """(record id, hazard index) of the drafts' deadlines the form engine finds a problem with."""
    drafts = {(row[0], row[3]) for row in rows if row[2] == Status.DRAFT}
    if not drafts:
        return set()
    return refused_in_drafts(session, drafts, forms, today)


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
