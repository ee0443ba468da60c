"""How a conflict the clerk sees is resolved: one defined outcome for every choice (docs/protocol.md,
"Conflicts and their outcomes").

The clerk keeps the server's version (`data=None`), keeps this computer's - or a field-by-field merge -
(`data`), or keeps a deletion (`delete=True`). Whatever the choice, the unsent changes of the record are
superseded by it, and what the choice needs the server to learn is a new change in the outbox, made on top of
the server's revision the conflict showed:
- the server's version: the record takes it - data, status, comments, or its deletion (a record deleted here
  comes back); nothing is sent.
- this computer's version or a merge: saved on top of the server's revision and sent (a record deleted on
  either side comes back). Over a return, the record stays returned with the bureau's comments - the change
  is sent with `keep_return`, and the return stays open until the clerk answers it in the editor. Over an
  acceptance, the change goes to the bureau as a change request (client.store.change_requests).
- a deletion (this computer deleted the record, another changed it): the delete is sent again on top of the
  server's revision.
A roster_duplicate conflict (one 工号 on two roster entries) ends with one entry, the server's: this
computer's entry gives way (deleted here; on the server too if it got there), and the data kept - the
server's, this computer's or a merge - is saved on the server's entry.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from client.store.formset import ROSTER_FORM, FormSet
from client.store.issues import IssueKind, resolve_issues
from client.store.models import OutboxEntry, Record, Status, SyncIssue, SyncRecord
from client.store.op_ids import new_op_id
from client.store.outbox import unsent_entries
from client.store.records import RecordNotFound, SaveResult, StoreError, save_record
from client.store.server_state import (
    adopt_server_version,
    any_version,
    form_for,
    insert_from_server,
    new_revision,
    set_server_state,
    unindex_record,
)

log = logging.getLogger(__name__)

KEPT_SERVER = "kept_server"
KEPT_LOCAL = "kept_local"


def resolve_conflict(
    session: Session,
    *,
    forms: FormSet,
    issue_id: int,
    data: Mapping[str, Any] | None,
    today: dt.date,
    now: dt.datetime,
    delete: bool = False,
) -> SaveResult | None:
    """The clerk's choice for a conflict: data=None keeps the server's version; `data` (the local version,
    or a field-by-field merge) is saved as a new revision on top of the server's, and syncs; delete=True
    keeps this computer's deletion. Returns the save's result when something was saved."""
    issue = session.get(SyncIssue, issue_id)
    if issue is None or issue.resolved_at is not None or issue.kind != IssueKind.CONFLICT:
        raise StoreError("没有这个待处理的冲突", f"no open conflict {issue_id}")
    rid = issue.record_id
    record = session.get(Record, rid) if rid else None
    if record is None:
        raise RecordNotFound(str(rid))
    server = dict(issue.details.get("server") or {})
    if issue.reason == "roster_duplicate" and isinstance(server.get("record_id"), str):
        result, resolution = _one_teacher(
            session, forms, record, server, data, today=today, now=now
        )
    else:
        result, resolution = _one_record(
            session, forms, record, server, data, delete=delete, today=today, now=now
        )
    issue.resolved_at = now
    issue.resolution = resolution
    return result


def _supersede(session: Session, record_id: str, *, now: dt.datetime) -> None:
    """The clerk's choice replaces every unsent change of the record."""
    unsent = unsent_entries(session, record_id)
    for entry in unsent:
        entry.sent_at = now
    resolve_issues(session, resolution="superseded", now=now, op_ids=[e.op_id for e in unsent])
    # A photo those changes waited for: the next sync says so again if what is kept still needs it.
    resolve_issues(
        session, resolution="superseded", now=now, kind=IssueKind.ATTACHMENT, record_id=record_id
    )


def _tombstone(session: Session, record: Record, *, now: dt.datetime, send: bool) -> None:
    """Delete the record here (a new revision); `send`: and on the server, from the outbox."""
    if not record.deleted:
        record.deleted = True
        unindex_record(session, record.id)
    new_revision(session, record, now=now)
    if send:
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
    session.flush()


def _one_record(
    session: Session,
    forms: FormSet,
    record: Record,
    server: Mapping[str, Any],
    data: Mapping[str, Any] | None,
    *,
    delete: bool,
    today: dt.date,
    now: dt.datetime,
) -> tuple[SaveResult | None, str]:
    srv_rev = server.get("server_revision")
    srv_status = str(server.get("status") or Status.RECEIVED)
    if isinstance(srv_rev, int):
        set_server_state(session, record.id, server_revision=srv_rev, status=srv_status, now=now)
    _supersede(session, record.id, now=now)
    if data is None and not delete:
        adopt_server_version(session, forms, record, server, now=now)
        return None, KEPT_SERVER
    if delete:
        # Deleted on the server as well: nothing left to send.
        _tombstone(session, record, now=now, send=srv_status != "deleted")
        return None, KEPT_LOCAL
    assert data is not None
    record.deleted = False  # kept: back from a deletion on either side
    keep_return = srv_status == "returned"
    if keep_return:
        record.status = Status.RETURNED
        record.review_comments = dict(server.get("review_comments") or {}) or None
    elif record.status in (Status.ACCEPTED, Status.RETURNED):
        # Over an acceptance, the change goes as a change request (the push answer brings the accepted
        # version back here); over a return answered meanwhile, as a plain change.
        record.status = Status.SUBMITTED
    form = form_for(forms, record.form_id, record.form_version) or any_version(
        forms, record.form_id
    )
    if form is None:
        raise StoreError(
            f"本机没有表单“{record.form_id}”，无法保存",
            f"this computer lacks form {record.form_id}",
        )
    result = save_record(
        session,
        form=form,
        data=data,
        record_id=record.id,
        submit=True,
        today=today,
        now=now,
        keep_return=keep_return,
    )
    return result, KEPT_LOCAL


def _one_teacher(
    session: Session,
    forms: FormSet,
    mine: Record,
    server: Mapping[str, Any],
    data: Mapping[str, Any] | None,
    *,
    today: dt.date,
    now: dt.datetime,
) -> tuple[SaveResult | None, str]:
    """Two roster entries, one 工号: the server's entry stays, with the data the clerk chose."""
    theirs_id = str(server["record_id"])
    form = form_for(forms, ROSTER_FORM, str(server.get("form_version") or "") or None)
    form = form or forms.get(ROSTER_FORM)
    # This computer's entry gives way first: the store holds one live entry per 工号.
    _supersede(session, mine.id, now=now)
    known = session.get(SyncRecord, mine.id)
    on_server = known is not None and known.server_status != "deleted"
    _tombstone(session, mine, now=now, send=on_server)
    theirs = session.get(Record, theirs_id)
    if theirs is None:
        theirs = insert_from_server(session, form, theirs_id, server, now=now)
    elif theirs.deleted and str(server.get("status") or "") != "deleted":
        adopt_server_version(session, forms, theirs, server, now=now)
    if data is None:
        return None, KEPT_SERVER
    result = save_record(
        session,
        form=forms.get(ROSTER_FORM),
        data=data,
        record_id=theirs.id,
        submit=True,
        today=today,
        now=now,
    )
    return result, KEPT_LOCAL
