"""How a conflict the clerk sees is resolved."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from client.store.formset import FormSet
from client.store.issues import IssueKind, resolve_issues
from client.store.models import (
    Record,
    Status,
    SyncIssue,
)
from client.store.outbox import unsent_entries
from client.store.records import (
    RecordLocked,
    RecordNotFound,
    SaveResult,
    StoreError,
    save_record,
)
from client.store.server_state import (
    SERVER_STATUS,
    form_for,
    new_revision,
    refresh_derived,
    set_server_state,
)

log = logging.getLogger(__name__)


def resolve_conflict(
    session: Session,
    *,
    forms: FormSet,
    issue_id: int,
    data: Mapping[str, Any] | None,
    today: dt.date,
    now: dt.datetime,
) -> SaveResult | None:
    """The clerk's choice for a conflict: data=None keeps the server's version; otherwise `data` (the local
    version, or a field-by-field merge) is saved as a new revision on top of the server's, and syncs.

    Unsent older changes of the record are marked superseded (the clerk's choice replaces them).
    """
    issue = session.get(SyncIssue, issue_id)
    if issue is None or issue.resolved_at is not None or issue.kind != IssueKind.CONFLICT:
        raise StoreError("没有这个待处理的冲突", f"no open conflict {issue_id}")
    rid = issue.record_id
    record = session.get(Record, rid) if rid else None
    if record is None:
        raise RecordNotFound(str(rid))
    server = dict(issue.details.get("server") or {})
    srv_rev = server.get("server_revision")
    srv_status = str(server.get("status") or Status.RECEIVED)
    if isinstance(srv_rev, int):
        set_server_state(session, record.id, server_revision=srv_rev, status=srv_status, now=now)
    unsent = unsent_entries(session, record.id)
    for e in unsent:
        e.sent_at = now
    resolve_issues(session, resolution="superseded", now=now, op_ids=[e.op_id for e in unsent])
    result: SaveResult | None = None
    if data is None:
        resolution = "kept_server"
        server_data = server.get("data")
        if srv_status == "deleted":
            record.deleted = True
            new_revision(session, record, now=now)
        else:
            if isinstance(server_data, Mapping):
                record.data = dict(server_data)
            record.status = SERVER_STATUS.get(srv_status, Status.RECEIVED)
            record.review_comments = server.get("review_comments") or None
            new_revision(session, record, now=now)
            refresh_derived(session, record, form_for(forms, record.form_id, record.form_version))
    else:
        resolution = "kept_local"
        if record.status == Status.ACCEPTED:
            raise RecordLocked()
        result = save_record(
            session,
            form=forms.get(record.form_id, record.form_version),
            data=data,
            record_id=record.id,
            submit=True,
            today=today,
            now=now,
        )
    issue.resolved_at = now
    issue.resolution = resolution
    return result
