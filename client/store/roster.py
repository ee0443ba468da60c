"""The teacher roster as the roster page edits it: the records of form 'teachers'.

Teachers are made inactive, never deleted, so old records still show their names. Every change is saved (and
submitted, so it reaches the bureau) through records.save_record. Functions take a Session, never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from client.store.formset import ROSTER_FORM, FormSet
from client.store.models import Record, Status
from client.store.records import RecordNotFound, SaveResult, StoreError, save_record
from forms.engine import ReferenceList

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


class StaffNumberInUse(StoreError):
    """Another teacher on the roster (working or not) has this staff number."""

    def __init__(self, teacher_id: str, other: Teacher) -> None:
        left_zh = "（已离职）" if not other.active else ""
        left_en = " (no longer working here)" if not other.active else ""
        super().__init__(
            f"工号“{teacher_id}”已是{other.name or '另一位教师'}{left_zh}的工号，请换一个工号",
            f"the staff number '{teacher_id}' is already {other.name or 'another teacher'}'s"
            f"{left_en}; choose another one",
        )
        self.teacher_id = teacher_id
        self.other = other


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


class RosterIndex:
    """The roster's staff numbers in memory, for saving many teachers in one transaction (an import).

    Read with one query; save_record(roster_index=...) checks a staff number against it and tells it what
    was saved, instead of searching the whole roster for every teacher (which made an import of n teachers
    cost n x n). Valid only inside the transaction that made it, and only if every roster change in that
    transaction goes through save_record with it.
    """

    def __init__(self, session: Session) -> None:
        self._record_of: dict[str, str] = {}  # teacher_id -> record id
        self._teacher_of: dict[str, str] = {}  # record id -> teacher_id
        self._names: dict[str, str] = {}  # teacher_id -> name
        self._inactive: set[str] = set()
        rows = session.execute(
            select(Record.id, Record.data).where(
                Record.form_id == ROSTER_FORM, Record.deleted.is_(False)
            )
        )
        for record_id, data in rows:
            self.saved(record_id, data or {})

    def record_of(self, teacher_id: Any) -> str | None:
        """The record of the live teacher with this staff number, if any."""
        return self._record_of.get(teacher_id) if isinstance(teacher_id, str) else None

    def clashes(self, record_id: str, teacher_id: Any) -> bool:
        """Would saving record_id with this staff number give two live teachers the same one?"""
        other = self.record_of(teacher_id) if teacher_id else None
        return other is not None and other != record_id

    def saved(self, record_id: str, data: Mapping[str, Any]) -> None:
        old = self._teacher_of.pop(record_id, None)
        if old is not None and self._record_of.get(old) == record_id:
            del self._record_of[old]
            self._names.pop(old, None)
            self._inactive.discard(old)
        tid = data.get("teacher_id")
        if not tid or not isinstance(tid, str):
            return
        self._record_of[tid] = record_id
        self._teacher_of[record_id] = tid
        self._names[tid] = data.get("name") or tid
        if data.get("active") == "no":
            self._inactive.add(tid)
        else:
            self._inactive.discard(tid)

    def references(self) -> dict[str, ReferenceList]:
        """The roster as records.references(session) would read it now."""
        return {
            ROSTER_FORM: ReferenceList(ROSTER_FORM, dict(self._names), frozenset(self._inactive))
        }


def _holder(session: Session, teacher_id: str, record_id: str | None) -> Teacher | None:
    """The live teacher other than record_id who has this staff number, if any."""
    rows = session.execute(
        select(Record).where(
            Record.form_id == ROSTER_FORM,
            Record.deleted.is_(False),
            func.json_extract(Record.data, "$.teacher_id") == teacher_id,
        )
    ).scalars()
    return next((_teacher(r) for r in rows if r.id != record_id), None)


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

    The staff number of a saved teacher does not change (records refer to it); a staff number another
    teacher has is refused (StaffNumberInUse, naming that teacher). A change that changes nothing saves
    nothing (no revision, nothing sent again) and returns the teacher as saved.
    """
    data = {k: values.get(k) for k in TEACHER_FIELDS if values.get(k) not in (None, "")}
    data.setdefault("active", "yes")
    tid = data.get("teacher_id")
    if isinstance(tid, str) and tid:
        other = _holder(session, tid, record_id)
        if other is not None:
            raise StaffNumberInUse(tid, other)
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
        if existing.status != Status.DRAFT and data == existing.data:
            return SaveResult(existing.id, existing.revision, existing.status, [])
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
    if record.status != Status.DRAFT and data == record.data:
        return SaveResult(record.id, record.revision, record.status, [])
    return save_record(
        session,
        form=forms.get(ROSTER_FORM),
        data=data,
        record_id=record_id,
        submit=True,
        today=today,
        now=now,
    )
