"""Saving, correcting, deleting and listing records. Functions take a Session and never commit: the caller
opens one transaction per user action (`with store.Session.begin() as s:`), so a record, its revision, its
outbox entry and its search text are written together or not at all."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from client.store.formset import ROSTER_FORM
from client.store.models import OutboxEntry, Record, Revision, Status
from client.store.op_ids import new_op_id
from client.store.search import index_record, match_clause, unindex
from forms.engine import Problem, ReferenceList, evaluate
from forms.model import Field, FieldType, FormDef
from forms.periods import record_period

if TYPE_CHECKING:
    from client.store.roster import RosterIndex


class StoreError(Exception):
    """A refused change, with a message in Chinese and English."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en


class RecordLocked(StoreError):
    def __init__(self) -> None:
        super().__init__(
            "教育局已确认此记录，不能再修改",
            "the bureau has accepted this record; it cannot be changed",
        )


class RecordNotFound(StoreError):
    def __init__(self, record_id: str) -> None:
        super().__init__(f"找不到记录 {record_id}", f"no record {record_id}")


class ValidationFailed(StoreError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        more = f"（另有 {len(problems) - 1} 个问题）" if len(problems) > 1 else ""
        more_en = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"{first.path_str}：{first.message_zh}{more}",
            f"{first.path_str}: {first.message_en}{more_en}",
        )
        self.problems = list(problems)


@dataclass(frozen=True)
class SaveResult:
    record_id: str
    revision: int
    status: str
    problems: list[Problem]


def roster(session: Session) -> ReferenceList:
    """The teacher roster as a reference list (inactive teachers kept, so old records still show names)."""
    rows = session.execute(
        select(Record.data).where(Record.form_id == ROSTER_FORM, Record.deleted.is_(False))
    ).scalars()
    items: dict[str, str] = {}
    inactive: set[str] = set()
    for data in rows:
        tid = data.get("teacher_id")
        if not tid:
            continue
        items[tid] = data.get("name") or tid
        if data.get("active") == "no":
            inactive.add(tid)
    return ReferenceList(ROSTER_FORM, items, frozenset(inactive))


def references(session: Session) -> dict[str, ReferenceList]:
    return {ROSTER_FORM: roster(session)}


def _display(form: FormDef, f: Field, value: Any, refs: Mapping[str, ReferenceList]) -> str:
    if f.list_name is not None:
        cl = form.choice_list(f.list_name)
        names = value if isinstance(value, list) else [value]
        return "、".join((c.label.zh if (c := cl.get(str(v))) else str(v)) for v in names)
    if f.reference is not None:
        ref = refs.get(f.reference)
        names = value if isinstance(value, list) else [value]
        return "、".join(ref.items.get(str(v), str(v)) if ref else str(v) for v in names)
    return str(value)


_SUMMARY_SKIP = {
    FieldType.NOTE,
    FieldType.CALCULATE,
    FieldType.IMAGE,
    FieldType.FILE,
    FieldType.GROUP,
    FieldType.REPEAT,
}


def summarize(form: FormDef, data: Mapping[str, Any], refs: Mapping[str, ReferenceList]) -> str:
    """One line for record lists: the first few answers, choices by their Chinese labels."""
    parts: list[str] = []
    shown_apart = _record_date_field(form)  # lists show the record's date in a column of its own
    for f in form.fields:
        for leaf in f.walk():
            if (
                leaf.type in _SUMMARY_SKIP
                or leaf.appearance == "multiline"
                or leaf.name == shown_apart
            ):
                continue
            value = data.get(leaf.name)
            if value in (None, "", []):
                continue
            parts.append(_display(form, leaf, value, refs))
            if len(parts) == 3:
                return " · ".join(parts)[:200]
    return " · ".join(parts)[:200]


def search_text(form: FormDef, data: Mapping[str, Any], refs: Mapping[str, ReferenceList]) -> str:
    """Everything a clerk might search for: text answers and the labels of chosen options."""
    out: list[str] = []

    def visit(fields: Sequence[Field], values: Mapping[str, Any]) -> None:
        for f in fields:
            if f.type is FieldType.GROUP:
                visit(f.children, values)
            elif f.type is FieldType.REPEAT:
                for item in values.get(f.name) or []:
                    if isinstance(item, Mapping):
                        visit(f.children, item)
            elif f.type not in (FieldType.IMAGE, FieldType.FILE, FieldType.NOTE):
                value = values.get(f.name)
                if value not in (None, "", []):
                    out.append(_display(form, f, value, refs))

    visit(form.fields, data)
    return " ".join(out)


def _record_date_field(form: FormDef) -> str | None:
    """The date that places a record in time: the period's date field, else the form's first date."""
    name = form.settings.period_field
    if name is not None and form.field(name).type is FieldType.DATE:
        return name
    for f in form.all_fields():
        if f.type is FieldType.DATE:
            return f.name
    return None


def _record_date(form: FormDef, data: Mapping[str, Any]) -> str | None:
    name = _record_date_field(form)
    value = data.get(name) if name else None
    return value[:10] if isinstance(value, str) and len(value) >= 10 and value[4] == "-" else None


def _refers_to_roster(form: FormDef) -> bool:
    return any(f.reference == ROSTER_FORM for f in form.all_fields())


def _check_roster_unique(
    session: Session, record_id: str, data: Mapping[str, Any], index: RosterIndex | None
) -> None:
    tid = data.get("teacher_id")
    if not tid:
        return
    if index is not None:
        if index.clashes(record_id, tid):
            raise StoreError(f"工号“{tid}”已存在", f"teacher id '{tid}' already exists")
        return
    clash = session.execute(
        select(Record.id).where(
            Record.form_id == ROSTER_FORM,
            Record.deleted.is_(False),
            Record.id != record_id,
            func.json_extract(Record.data, "$.teacher_id") == tid,
        )
    ).first()
    if clash is not None:
        raise StoreError(f"工号“{tid}”已存在", f"teacher id '{tid}' already exists")


def save_record(
    session: Session,
    *,
    form: FormDef,
    data: Mapping[str, Any],
    record_id: str | None = None,
    submit: bool = False,
    today: dt.date,
    now: dt.datetime,
    refs: Mapping[str, ReferenceList] | None = None,
    roster_index: RosterIndex | None = None,
    keep_return: bool = False,
    amend: int | None = None,
) -> SaveResult:
    """Save a draft, submit, or correct a submitted record; each save is a new revision.

    A submitted (or received, or returned) record stays submitted: a correction must be valid.
    Nothing is written when the record is refused. roster_index (client.store.roster.RosterIndex): for
    many roster saves in one transaction, the staff numbers in memory instead of a search per save.
    keep_return (a conflict's resolution, client.store.conflicts): a returned record stays returned, with the
    bureau's comments - the change goes to the server without answering the return.
    amend (the editor's autosave): the draft revision to update in place instead of adding one - used only
    while it is still the record's current revision and the record stays a draft; a revision is what the clerk
    saved or submitted, not every autosave.
    """
    existing = session.get(Record, record_id) if record_id else None
    if record_id and existing is None:
        pass  # a new record with an id chosen by the caller (an import that keeps _uuid)
    if existing is not None:
        if existing.deleted:
            raise RecordNotFound(existing.id)
        if existing.status == Status.ACCEPTED:
            raise RecordLocked()
        if existing.form_id != form.form_id:
            raise StoreError("记录属于另一个表单", f"the record belongs to form {existing.form_id}")
        if existing.status != Status.DRAFT:
            submit = True
    if roster_index is not None and form.form_id == ROSTER_FORM:
        refs = roster_index.references() if _refers_to_roster(form) else {}
    elif form.form_id == ROSTER_FORM or (refs is None and _refers_to_roster(form)):
        refs = references(session)
    elif refs is None:
        refs = {}  # nothing of the form names the roster: it is not read (each save read it whole)
    answers = {k: v for k, v in data.items() if not k.startswith("_")}
    evaluation = evaluate(form, answers, today=today, references=refs)
    if submit and evaluation.problems:
        raise ValidationFailed(evaluation.problems)
    stored = evaluation.data if submit else json.loads(json.dumps(answers, default=str))
    status = Status.SUBMITTED if submit else Status.DRAFT
    if keep_return and submit and existing is not None and existing.status == Status.RETURNED:
        status = Status.RETURNED
    rid = existing.id if existing is not None else (record_id or str(uuid.uuid4()))
    if form.form_id == ROSTER_FORM:
        _check_roster_unique(session, rid, stored, roster_index)
    summary = summarize(form, stored, refs)
    body = summary + " " + search_text(form, stored, refs)
    if existing is None:
        _insert_new(session, form, rid, stored, status, summary, body, now)
        if roster_index is not None and form.form_id == ROSTER_FORM:
            roster_index.saved(rid, stored)
        return SaveResult(rid, 1, status, evaluation.problems)
    # An existing record (loaded already) changes through the ORM; `current`: the draft revision an autosave
    # updates in place.
    record = existing
    current = _amendable(session, existing, amend) if status == Status.DRAFT else None
    record.form_version = form.version
    record.data = stored
    record.status = status
    if current is None:
        record.revision += 1
    record.period = record_period(form, stored)
    record.record_date = _record_date(form, stored)
    record.summary = summary
    record.updated_at = now
    if current is not None:
        current.form_version, current.data, current.saved_at = form.version, stored, now
    else:
        session.add(
            Revision(
                record_id=rid,
                revision=record.revision,
                form_version=form.version,
                data=stored,
                status=status,
                deleted=False,
                saved_at=now,
            )
        )
    if status != Status.DRAFT:
        session.add(
            OutboxEntry(
                op_id=new_op_id(),
                record_id=rid,
                revision=record.revision,
                kind="upsert",
                created_at=now,
                sent_at=None,
            )
        )
    session.flush()
    index_record(session, rid, body)
    if roster_index is not None and form.form_id == ROSTER_FORM:
        roster_index.saved(rid, stored)
    return SaveResult(rid, record.revision, status, evaluation.problems)


# A new record's rows as three Core INSERTs (statements compiled once): the same rows the ORM wrote, without
# its unit of work (about half of a save's time before the commit). The Record is not put in the session:
# a later get() in the same transaction reads it.
_INSERT_RECORD = insert(cast(Table, Record.__table__))
_INSERT_REVISION = insert(cast(Table, Revision.__table__))
_INSERT_OUTBOX = insert(cast(Table, OutboxEntry.__table__))


def _insert_new(
    session: Session,
    form: FormDef,
    rid: str,
    stored: dict[str, Any],
    status: str,
    summary: str,
    body: str,
    now: dt.datetime,
) -> None:
    session.execute(
        _INSERT_RECORD,
        {
            "id": rid,
            "form_id": form.form_id,
            "form_version": form.version,
            "data": stored,
            "status": status,
            "revision": 1,
            "period": record_period(form, stored),
            "record_date": _record_date(form, stored),
            "summary": summary,
            "created_at": now,
            "updated_at": now,
            "deleted": False,
            "review_comments": None,
        },
    )
    session.execute(
        _INSERT_REVISION,
        {
            "record_id": rid,
            "revision": 1,
            "form_version": form.version,
            "data": stored,
            "status": status,
            "deleted": False,
            "saved_at": now,
        },
    )
    if status != Status.DRAFT:
        session.execute(
            _INSERT_OUTBOX,
            {
                "op_id": new_op_id(),
                "record_id": rid,
                "revision": 1,
                "kind": "upsert",
                "created_at": now,
                "sent_at": None,
            },
        )
    index_record(session, rid, body, new=True)


def _amendable(session: Session, record: Record, amend: int | None) -> Revision | None:
    """The record's current revision, if it is the draft revision `amend` names."""
    if amend is None or amend != record.revision or record.status != Status.DRAFT:
        return None
    revision = session.execute(
        select(Revision).where(Revision.record_id == record.id, Revision.revision == amend)
    ).scalar_one_or_none()
    ok = revision is not None and revision.status == Status.DRAFT and not revision.deleted
    return revision if ok else None


def delete_record(session: Session, record_id: str, *, now: dt.datetime) -> None:
    """Tombstone a record (it is never removed); a record the bureau has seen is deleted there too."""
    record = session.get(Record, record_id)
    if record is None or record.deleted:
        raise RecordNotFound(record_id)
    if record.status == Status.ACCEPTED:
        raise RecordLocked()
    record.deleted = True
    record.revision += 1
    record.updated_at = now
    session.add(
        Revision(
            record_id=record.id,
            revision=record.revision,
            form_version=record.form_version,
            data=record.data,
            status=record.status,
            deleted=True,
            saved_at=now,
        )
    )
    if record.status != Status.DRAFT:
        session.add(
            OutboxEntry(
                op_id=new_op_id(),
                record_id=record.id,
                revision=record.revision,
                kind="delete",
                created_at=now,
                sent_at=None,
            )
        )
    rowid = session.execute(
        text("SELECT rowid FROM records WHERE id = :id"), {"id": record.id}
    ).scalar_one()
    unindex(session, rowid)


def get_record(session: Session, record_id: str) -> Record:
    record = session.get(Record, record_id)
    if record is None or record.deleted:
        raise RecordNotFound(record_id)
    return record


def revisions(session: Session, record_id: str) -> list[Revision]:
    return list(
        session.execute(
            select(Revision).where(Revision.record_id == record_id).order_by(Revision.revision)
        ).scalars()
    )


@dataclass(frozen=True)
class RecordFilter:
    form_id: str
    statuses: tuple[str, ...] = ()
    date_from: str | None = None  # ISO dates, on the record's date
    date_to: str | None = None
    period: str | None = None
    search: str = ""


SORT_COLUMNS = {
    "updated_at": "records.updated_at",
    "record_date": "records.record_date",
    "status": "records.status",
    "summary": "records.summary",
    "revision": "records.revision",
}


def _where(flt: RecordFilter) -> tuple[str, dict[str, Any]]:
    parts = ["records.form_id = :form_id", "records.deleted = 0"]
    params: dict[str, Any] = {"form_id": flt.form_id}
    if flt.statuses:
        keys = []
        for i, s in enumerate(flt.statuses):
            params[f"s{i}"] = s
            keys.append(f":s{i}")
        parts.append(f"records.status IN ({', '.join(keys)})")
    if flt.date_from:
        parts.append("records.record_date >= :date_from")
        params["date_from"] = flt.date_from
    if flt.date_to:
        parts.append("records.record_date <= :date_to")
        params["date_to"] = flt.date_to
    if flt.period:
        parts.append("records.period = :period")
        params["period"] = flt.period
    if flt.search.strip():
        clause, search_params = match_clause(flt.search)
        parts.append(clause)
        params.update(search_params)
    return " AND ".join(parts), params


@dataclass(frozen=True)
class RecordRow:
    id: str
    status: str
    record_date: str | None
    summary: str
    revision: int
    updated_at: dt.datetime


def count_records(session: Session, flt: RecordFilter) -> int:
    where, params = _where(flt)
    return int(
        session.execute(text(f"SELECT count(*) FROM records WHERE {where}"), params).scalar_one()
    )


def list_records(
    session: Session,
    flt: RecordFilter,
    *,
    sort: str = "updated_at",
    descending: bool = True,
    offset: int = 0,
    limit: int = 200,
) -> list[RecordRow]:
    where, params = _where(flt)
    column = SORT_COLUMNS.get(sort, SORT_COLUMNS["updated_at"])
    direction = "DESC" if descending else "ASC"
    rows = session.execute(
        text(
            f"SELECT id, status, record_date, summary, revision, updated_at FROM records WHERE {where} "
            f"ORDER BY {column} {direction}, records.id {direction} LIMIT :limit OFFSET :offset"
        ),
        {**params, "limit": limit, "offset": offset},
    ).all()
    return [
        RecordRow(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5] if isinstance(r[5], dt.datetime) else dt.datetime.fromisoformat(r[5]),
        )
        for r in rows
    ]


def status_counts(session: Session) -> dict[str, dict[str, int]]:
    """form_id -> status -> number of (not deleted) records."""
    out: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(Record.form_id, Record.status, func.count())
        .where(Record.deleted.is_(False))
        .group_by(Record.form_id, Record.status)
    )
    for form_id, status, n in rows:
        out.setdefault(form_id, {})[status] = n
    return out


def pending_outbox(session: Session) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.sent_at.is_(None))
        ).scalar_one()
    )
