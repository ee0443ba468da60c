"""A school's teacher roster: its records of form `teachers`, as the form engine's reference list."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.engine import ReferenceList
from sync_server.models import Record, Status

ROSTER_FORM = "teachers"


def school_roster(session: Session, school_id: int) -> ReferenceList:
    """teacher_id -> name; teachers marked inactive stay listed (old records still name them)."""
    rosters = _rosters(session, school_id)
    return rosters.get(school_id) or ReferenceList(ROSTER_FORM, {})


def references(session: Session, school_id: int) -> dict[str, ReferenceList]:
    return {ROSTER_FORM: school_roster(session, school_id)}


def all_rosters(session: Session) -> dict[int, ReferenceList]:
    """Every school's roster, read in one query (for the consolidated export)."""
    return _rosters(session, None)


def _rosters(session: Session, school_id: int | None) -> dict[int, ReferenceList]:
    stmt = select(Record.school_id, Record.data).where(
        Record.form_id == ROSTER_FORM, Record.status != Status.DELETED
    )
    if school_id is not None:
        stmt = stmt.where(Record.school_id == school_id)
    rows = session.execute(stmt).all()
    items: dict[int, dict[str, str]] = {}
    inactive: dict[int, set[str]] = {}
    for owner, data in rows:
        if not isinstance(data, dict):
            continue
        tid = data.get("teacher_id")
        if not isinstance(tid, str) or not tid:
            continue
        name = data.get("name")
        items.setdefault(owner, {})[tid] = name if isinstance(name, str) and name else tid
        if data.get("active") == "no":
            inactive.setdefault(owner, set()).add(tid)
    return {
        sid: ReferenceList(ROSTER_FORM, roster, frozenset(inactive.get(sid, set())))
        for sid, roster in items.items()
    }
