"""The teacher roster as the roster page edits it: the records of form 'teachers'.

Teachers are made inactive, never deleted, so old records still show their names. Every change is saved (and
submitted, so it reaches the bureau) through records.save_record. Functions take a Session, never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from client.store.formset import ROSTER_FORM, FormSet
from client.store.models import Record
from client.store.records import RecordNotFound, SaveResult, StoreError, save_record

TEACHER_FIELDS = ("teacher_id", "name", "gender", "subject", "title", "active")


@dataclass(frozen=True)
class Teacher:
    record_id: str
    teacher_id: str
    name: str
    gender: str | None  # male | female
    subject: str
    title: str
    active: bool
    status: str  # the record's status (draft, submitted, ...)
    revision: int


def roster_entries(session: Session, *, include_inactive: bool = True) -> list[Teacher]:
    """Every teacher on the roster, active ones first, then by staff number."""
    records = session.execute(
        select(Record).where(Record.form_id == ROSTER_FORM, Record.deleted.is_(False))
    ).scalars()
    out = [_teacher(r) for r in records]
    if not include_inactive:
        out = [t for t in out if t.active]
    out.sort(key=lambda t: (not t.active, t.teacher_id, t.name))
    return out


def _teacher(record: Record) -> Teacher:
    d: Mapping[str, Any] = record.data or {}
    return Teacher(
        record_id=record.id,
        teacher_id=str(d.get("teacher_id") or ""),
        name=str(d.get("name") or ""),
        gender=d.get("gender") or None,
        subject=str(d.get("subject") or ""),
        title=str(d.get("title") or ""),
        active=d.get("active") != "no",
        status=record.status,
        revision=record.revision,
    )


def save_teacher(
    session: Session,
    *,
    forms: FormSet,
    values: Mapping[str, Any],
    record_id: str | None = None,
    today: dt.date,
    now: dt.datetime,
) -> SaveResult:
    """Add a teacher (record_id None) or change one. Submitted at once: the roster syncs like records.

    The staff number of a saved teacher does not change (records refer to it).
    """
    data = {k: values.get(k) for k in TEACHER_FIELDS if values.get(k) not in (None, "")}
    data.setdefault("active", "yes")
    if record_id is not None:
        existing = session.get(Record, record_id)
        if existing is None or existing.deleted or existing.form_id != ROSTER_FORM:
            raise RecordNotFound(record_id)
        old_id = (existing.data or {}).get("teacher_id")
        if old_id and data.get("teacher_id") != old_id:
            raise StoreError("保存后的工号不能修改", "a saved staff number cannot be changed")
        # Keep answers this page does not show (fields a later form version may add).
        data = {**(existing.data or {}), **data}
        for k in TEACHER_FIELDS:
            if values.get(k) in (None, "") and k != "active":
                data.pop(k, None)
    return save_record(
        session,
        form=forms.get(ROSTER_FORM),
        data=data,
        record_id=record_id,
        submit=True,
        today=today,
        now=now,
    )


def set_teacher_active(
    session: Session,
    *,
    forms: FormSet,
    record_id: str,
    active: bool,
    today: dt.date,
    now: dt.datetime,
) -> SaveResult:
    """Mark a teacher inactive (left the school) or active again. Never deletes."""
    record = session.get(Record, record_id)
    if record is None or record.deleted or record.form_id != ROSTER_FORM:
        raise RecordNotFound(record_id)
    data = dict(record.data or {})
    data["active"] = "yes" if active else "no"
    return save_record(
        session,
        form=forms.get(ROSTER_FORM),
        data=data,
        record_id=record_id,
        submit=True,
        today=today,
        now=now,
    )
