"""The bureau's review of a record: return it for correction (comments per field) or accept it; and decide
on a school's change request (an edit to a record already accepted, kept by services.push).

Called by the staff dashboard inside its own `with Session.begin():`. Each call makes a new server revision
and a `record` change (a declined request: a `change_request` change), so the school's devices see it on
their next pull.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from sync_server.config import system_clock
from sync_server.errors import ServiceError
from sync_server.models import ChangeRequest, Conflict, Record, RecordRevision, Status
from sync_server.services.changes import (
    NewChange,
    change_request_change,
    record_change,
    write_changes,
)
from sync_server.services.common import audit, naive_utc
from sync_server.services.forms import FORM_CACHE

_PATH_PART_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)((?:\[\d+\])*)$")
GENERAL_COMMENT = "_record"  # a comment about the whole record


@dataclass(frozen=True, slots=True)
class ReviewResult:
    record_id: str
    server_revision: int
    status: str
    seq: int


def _load(session: Session, record_id: str) -> Record:
    rec = session.execute(
        select(Record).where(Record.id == record_id).with_for_update()
    ).scalar_one_or_none()
    if rec is None:
        raise ServiceError(
            "unknown_record", f"没有编号为 {record_id} 的记录", f"no record {record_id}", status=404
        )
    if rec.status == Status.DELETED:
        raise ServiceError(
            "record_deleted",
            "学校已删除该记录，不能再审核",
            "the school deleted this record; it cannot be reviewed",
            status=409,
        )
    return rec


def _check_paths(session: Session, rec: Record, comments: Mapping[str, Any]) -> dict[str, str]:
    form = FORM_CACHE.lookup(session, rec.form_id, rec.form_version)
    names = {f.name for f in form.all_fields()} if form is not None else None
    out: dict[str, str] = {}
    for path, text in comments.items():
        if not isinstance(path, str) or not isinstance(text, str) or not text.strip():
            raise ServiceError(
                "bad_comment",
                "每条意见应为“题目路径: 非空文字”",
                "each comment must map a field path to non-empty text",
            )
        if path != GENERAL_COMMENT and names is not None:
            for part in path.split("."):
                m = _PATH_PART_RE.match(part)
                if m is None or m.group(1) not in names:
                    raise ServiceError(
                        "bad_comment_path",
                        f"意见的题目路径“{path}”在表单中不存在",
                        f"the comment path '{path}' is not a field of the form",
                        details={"path": path},
                    )
        out[path] = text.strip()
    return out


def _revise(
    session: Session,
    rec: Record,
    *,
    status: str,
    comments: dict[str, str],
    reviewer: str,
    kind: str,
    now: dt.datetime,
) -> ReviewResult:
    now = naive_utc(now)
    rec.server_revision += 1
    rec.status = status
    rec.review_comments = comments
    rec.updated_at = now
    rec.last_device_id = None
    rec.last_base_revision = None
    rec.last_client_revision = None
    session.flush()
    session.execute(
        insert(RecordRevision).values(
            record_id=rec.id,
            server_revision=rec.server_revision,
            kind=kind,
            status=status,
            form_version=rec.form_version,
            device_id=None,
            op_id=None,
            actor=reviewer[:100],
            created_at=now,
            review_comments=comments,
            data=rec.data,
        )
    )
    audit(
        session,
        now=now,
        actor=reviewer,
        action=f"record.{kind}",
        school_id=rec.school_id,
        object_id=rec.id,
        details={"server_revision": rec.server_revision, "comments": comments},
    )
    seq = write_changes(session, [record_change(rec)], now=now)
    return ReviewResult(rec.id, rec.server_revision, status, seq)


def return_record(
    session: Session,
    record_id: str,
    comments: Mapping[str, str],
    reviewer: str,
    *,
    now: dt.datetime | None = None,
) -> ReviewResult:
    """Send a record back for correction; `comments` maps field paths (e.g. "hazards[0].deadline", or
    "_record" for the whole record) to what should change. An accepted record may be returned (reopened)."""
    if not comments:
        raise ServiceError(
            "no_comments", "退回时请至少写一条意见", "a return needs at least one comment"
        )
    rec = _load(session, record_id)
    checked = _check_paths(session, rec, comments)
    return _revise(
        session,
        rec,
        status=Status.RETURNED,
        comments=checked,
        reviewer=reviewer,
        kind="return",
        now=now or system_clock(),
    )


def accept_record(
    session: Session,
    record_id: str,
    reviewer: str,
    *,
    now: dt.datetime | None = None,
) -> ReviewResult:
    """Accept (lock) a received record; the school can no longer change it unless it is returned."""
    rec = _load(session, record_id)
    if rec.status == Status.ACCEPTED:
        raise ServiceError(
            "already_accepted", "该记录已确认", "the record is already accepted", status=409
        )
    return _revise(
        session,
        rec,
        status=Status.ACCEPTED,
        comments={},
        reviewer=reviewer,
        kind="accept",
        now=now or system_clock(),
    )


# -- change requests ------------------------------------------------------------------------------------

REQUEST_OPEN = "open"
REQUEST_ACCEPTED = "accepted"
REQUEST_DECLINED = "declined"
MAX_DECLINE_REASON = 500


def change_requests(
    session: Session,
    *,
    record_id: str | None = None,
    school_id: int | None = None,
    status: str | None = None,
) -> list[ChangeRequest]:
    """Change requests, oldest first (of one record, one school, in one state, or all)."""
    q = select(ChangeRequest)
    if record_id is not None:
        q = q.where(ChangeRequest.record_id == record_id)
    if school_id is not None:
        q = q.where(ChangeRequest.school_id == school_id)
    if status is not None:
        q = q.where(ChangeRequest.status == status)
    return list(session.execute(q.order_by(ChangeRequest.created_at, ChangeRequest.id)).scalars())


def open_request_counts(session: Session, record_ids: list[str]) -> dict[str, int]:
    """record id -> its open change requests (for the dashboard's list)."""
    if not record_ids:
        return {}
    out: dict[str, int] = {}
    for rid in session.execute(
        select(ChangeRequest.record_id).where(
            ChangeRequest.record_id.in_(record_ids), ChangeRequest.status == REQUEST_OPEN
        )
    ).scalars():
        out[rid] = out.get(rid, 0) + 1
    return out


def _open_request(session: Session, request_id: str) -> ChangeRequest:
    req = session.execute(
        select(ChangeRequest).where(ChangeRequest.id == request_id).with_for_update()
    ).scalar_one_or_none()
    if req is None:
        raise ServiceError(
            "unknown_request",
            f"没有编号为 {request_id} 的修改申请",
            f"no change request {request_id}",
            status=404,
        )
    if req.status != REQUEST_OPEN:
        raise ServiceError(
            "request_decided",
            "这条修改申请已经处理过了",
            "this change request was already decided",
            status=409,
        )
    return req


def accept_change_request(
    session: Session, request_id: str, reviewer: str, *, now: dt.datetime | None = None
) -> ReviewResult:
    """Reopen the record with the school's change: its data (or, for a delete, a tombstone) becomes a new
    server revision, `received` (to be reviewed again) without comments; the request is closed."""
    now = naive_utc(now or system_clock())
    req = _open_request(session, request_id)
    rec = session.execute(
        select(Record).where(Record.id == req.record_id).with_for_update()
    ).scalar_one()
    deleting = req.kind == "delete"
    rec.server_revision += 1
    rec.status = Status.DELETED if deleting else Status.RECEIVED
    if not deleting:
        rec.data = dict(req.data)
        rec.form_version = req.form_version
    rec.review_comments = {}
    rec.updated_at = now
    rec.last_device_id = None
    rec.last_base_revision = None
    rec.last_client_revision = None
    req.status = REQUEST_ACCEPTED
    req.decided_at = now
    req.decided_by = reviewer[:100]
    session.flush()
    session.execute(
        insert(RecordRevision).values(
            record_id=rec.id,
            server_revision=rec.server_revision,
            kind="request",
            status=rec.status,
            form_version=rec.form_version,
            device_id=req.device_id,
            op_id=req.op_id,
            actor=reviewer[:100],
            created_at=now,
            review_comments={},
            data=rec.data,
        )
    )
    session.execute(
        update(Conflict)
        .where(Conflict.record_id == rec.id, Conflict.resolved_at.is_(None))
        .values(resolved_at=now)
    )
    audit(
        session,
        now=now,
        actor=reviewer,
        action="record.request_accept",
        school_id=rec.school_id,
        object_id=rec.id,
        details={"request_id": req.id, "server_revision": rec.server_revision},
    )
    seq = write_changes(
        session,
        [record_change(rec), _decision_change(req, now)],
        now=now,
    )
    return ReviewResult(rec.id, rec.server_revision, rec.status, seq)


def decline_change_request(
    session: Session,
    request_id: str,
    reviewer: str,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> int:
    """Keep the record as accepted; the clerk reads `reason` on the PC that asked. Returns the seq."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(
            "no_reason",
            "不同意修改时请写明原因",
            "a declined change request needs a reason",
        )
    if len(reason) > MAX_DECLINE_REASON:
        raise ServiceError(
            "reason_too_long",
            f"原因太长（最多 {MAX_DECLINE_REASON} 字）",
            f"the reason is too long (at most {MAX_DECLINE_REASON} characters)",
        )
    now = naive_utc(now or system_clock())
    req = _open_request(session, request_id)
    req.status = REQUEST_DECLINED
    req.decided_at = now
    req.decided_by = reviewer[:100]
    req.reason = reason
    session.flush()
    audit(
        session,
        now=now,
        actor=reviewer,
        action="record.request_decline",
        school_id=req.school_id,
        object_id=req.record_id,
        details={"request_id": req.id, "reason": reason},
    )
    return write_changes(session, [_decision_change(req, now)], now=now)


def _decision_change(req: ChangeRequest, now: dt.datetime) -> NewChange:
    return change_request_change(
        school_id=req.school_id,
        request_id=req.id,
        record_id=req.record_id,
        op_id=req.op_id,
        status=req.status,
        reason=req.reason,
        decided_at=now,
    )
