"""What this client knows of the server's copy of each record (sync_records: the base of its next push),
and how a state from the server is taken into a local record (a new revision, its derived columns).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from client.store.formset import FormSet
from client.store.models import (
    Record,
    Revision,
    Status,
    SyncRecord,
)
from client.store.records import (
    references,
    search_text,
    summarize,
)
from client.store.search import index_record, unindex
from forms.model import FieldType, FormDef
from forms.periods import record_period

log = logging.getLogger(__name__)

SERVER_STATUS = {
    "received": Status.RECEIVED,
    "submitted": Status.RECEIVED,
    "returned": Status.RETURNED,
    "accepted": Status.ACCEPTED,
}


def set_server_state(
    session: Session, record_id: str, *, server_revision: int, status: str, now: dt.datetime
) -> None:
    row = session.get(SyncRecord, record_id)
    if row is None:
        session.add(
            SyncRecord(
                record_id=record_id,
                server_revision=server_revision,
                server_status=status,
                updated_at=now,
            )
        )
    elif server_revision >= row.server_revision:
        row.server_revision = server_revision
        row.server_status = status
        row.updated_at = now


def form_for(formset: FormSet, form_id: str, version: str | None) -> FormDef | None:
    try:
        return formset.get(form_id, version)
    except KeyError:
        return None


def any_version(formset: FormSet, form_id: str) -> FormDef | None:
    """A form all of whose versions were withdrawn is still known (its records stay readable)."""
    return next((f for (fid, _), f in formset.versions.items() if fid == form_id), None)


def refresh_derived(session: Session, record: Record, form: FormDef | None) -> None:
    """Summary, period, date and search text of a record whose data came from the server."""
    if form is None:
        return
    refs = references(session)
    record.summary = summarize(form, record.data, refs)
    record.period = record_period(form, record.data)
    record.record_date = _record_date(form, record.data)
    session.flush()
    index_record(session, record.id, record.summary + " " + search_text(form, record.data, refs))


def _record_date(form: FormDef, data: Mapping[str, Any]) -> str | None:
    name = form.settings.period_field
    if name is None:
        for f in form.all_fields():
            if f.type is FieldType.DATE:
                name = f.name
                break
    value = data.get(name) if name else None
    return value[:10] if isinstance(value, str) and len(value) >= 10 and value[4] == "-" else None


def new_revision(session: Session, record: Record, *, now: dt.datetime) -> None:
    record.revision += 1
    record.updated_at = now
    session.add(
        Revision(
            record_id=record.id,
            revision=record.revision,
            form_version=record.form_version,
            data=record.data,
            status=record.status,
            deleted=record.deleted,
            saved_at=now,
        )
    )


def server_version(change: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "server_revision": change.get("server_revision"),
        "status": change.get("status"),
        "form_version": change.get("form_version"),
        "data": change.get("data"),
        "review_comments": change.get("review_comments") or {},
    }


def server_status_of(status: str) -> str:
    """The local status of a record in the server's state `status` (not `deleted`)."""
    return SERVER_STATUS.get(status, Status.RECEIVED)


def adopt_server_version(
    session: Session,
    forms: FormSet | None,
    record: Record,
    server: Mapping[str, Any],
    *,
    now: dt.datetime,
) -> None:
    """The record takes the server's state - its data, status and comments, or its deletion (a deleted
    record comes back when the server's state is live) - as a new local revision."""
    status = str(server.get("status") or "")
    was_deleted = record.deleted
    record.deleted = status == "deleted"
    if not record.deleted:
        data = server.get("data")
        if isinstance(data, Mapping):
            record.data = dict(data)
        if server.get("form_version"):
            record.form_version = str(server["form_version"])
        record.status = server_status_of(status)
        record.review_comments = dict(server.get("review_comments") or {}) or None
    new_revision(session, record, now=now)
    if record.deleted:
        if not was_deleted:
            unindex_record(session, record.id)
    elif forms is not None:
        refresh_derived(session, record, form_for(forms, record.form_id, record.form_version))


def unindex_record(session: Session, record_id: str) -> None:
    session.flush()
    rowid = session.execute(
        text("SELECT rowid FROM records WHERE id = :id"), {"id": record_id}
    ).scalar_one()
    unindex(session, rowid)


def insert_from_server(
    session: Session, form: FormDef, record_id: str, server: Mapping[str, Any], *, now: dt.datetime
) -> Record:
    """A record this client did not hold, as the server has it (live), with its server state."""
    data = server.get("data")
    record = Record(
        id=record_id,
        form_id=form.form_id,
        form_version=str(server.get("form_version") or form.version),
        data=dict(data) if isinstance(data, Mapping) else {},
        status=server_status_of(str(server.get("status") or "")),
        revision=1,
        period=None,
        record_date=None,
        summary="",
        created_at=now,
        updated_at=now,
        deleted=False,
        review_comments=dict(server.get("review_comments") or {}) or None,
    )
    session.add(record)
    session.add(
        Revision(
            record_id=record_id,
            revision=1,
            form_version=record.form_version,
            data=record.data,
            status=record.status,
            deleted=False,
            saved_at=now,
        )
    )
    session.flush()
    refresh_derived(session, record, form)
    revision = server.get("server_revision")
    if isinstance(revision, int):
        set_server_state(
            session,
            record_id,
            server_revision=revision,
            status=str(server.get("status") or ""),
            now=now,
        )
    return record
