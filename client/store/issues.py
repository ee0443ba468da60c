"""Sync issues: what the clerk must see after a sync (a rejected change, a conflict with both versions, an
attachment that cannot be uploaded, a pulled item this client could not apply), as repository functions.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from client.store.models import (
    SyncIssue,
)

log = logging.getLogger(__name__)


class IssueKind:
    REJECTED = "rejected"  # the server refused the change (validation, locked, too large, ...)
    CONFLICT = "conflict"  # the record changed on the server too: both versions kept
    ATTACHMENT = "attachment"  # a photo or file that cannot be uploaded
    PULL = "pull"  # a pulled item this client could not apply: kept with what is needed to retry it
    # A change to a record the bureau had accepted, kept there as a change request: open while the bureau
    # decides, and once declined until the clerk has read why (client.store.change_requests).
    REQUEST = "request"


def open_issues(session: Session, *, kind: str | None = None) -> list[SyncIssue]:
    q = select(SyncIssue).where(SyncIssue.resolved_at.is_(None))
    if kind is not None:
        q = q.where(SyncIssue.kind == kind)
    return list(session.execute(q.order_by(SyncIssue.id)).scalars())


def _open_issue(
    session: Session, *, kind: str, record_id: str | None = None, op_id: str | None = None
) -> SyncIssue | None:
    q = select(SyncIssue).where(SyncIssue.resolved_at.is_(None), SyncIssue.kind == kind)
    q = q.where(SyncIssue.op_id == op_id) if op_id is not None else q
    q = q.where(SyncIssue.record_id == record_id) if record_id is not None else q
    return session.execute(q.order_by(SyncIssue.id).limit(1)).scalar_one_or_none()


def raise_issue(
    session: Session,
    *,
    kind: str,
    reason: str,
    message_zh: str,
    message_en: str,
    details: Mapping[str, Any],
    now: dt.datetime,
    record_id: str | None = None,
    op_id: str | None = None,
    match_record: bool = False,
) -> SyncIssue:
    """Open an issue, or update the open one for the same op (or record, with match_record)."""
    issue = (
        _open_issue(session, kind=kind, op_id=op_id)
        if op_id is not None and not match_record
        else _open_issue(session, kind=kind, record_id=record_id)
        if match_record and record_id is not None
        else None
    )
    if issue is None:
        issue = SyncIssue(
            kind=kind,
            record_id=record_id,
            op_id=op_id,
            created_at=now,
            resolved_at=None,
            resolution=None,
            reason=reason,
            message_zh=message_zh,
            message_en=message_en,
            details=dict(details),
        )
        session.add(issue)
    else:
        issue.reason = reason
        issue.message_zh = message_zh
        issue.message_en = message_en
        issue.details = {**issue.details, **details}
        issue.op_id = op_id if op_id is not None else issue.op_id
    session.flush()
    return issue


def _revision_of(server: Any) -> int:
    rev = server.get("server_revision") if isinstance(server, Mapping) else None
    return rev if isinstance(rev, int) else -1


def raise_conflict(
    session: Session,
    *,
    record_id: str,
    reason: str,
    message_zh: str,
    message_en: str,
    server: Mapping[str, Any],
    source: str,
    now: dt.datetime,
    op_id: str | None = None,
    local: Mapping[str, Any] | None = None,
) -> SyncIssue:
    """Open the record's conflict, or bring its open one up to date: the server's version it shows is always
    the newest one seen - a push's answer and a pull may bring the server's states in any order, and the
    clerk's choice is made against (and "keep the server's" takes) the version it shows."""
    issue = _open_issue(session, kind=IssueKind.CONFLICT, record_id=record_id)
    details: dict[str, Any] = {"server": dict(server), "source": source}
    if local is not None:
        details["local"] = dict(local)
    if issue is None:
        return raise_issue(
            session,
            kind=IssueKind.CONFLICT,
            reason=reason,
            message_zh=message_zh,
            message_en=message_en,
            details=details,
            now=now,
            record_id=record_id,
            op_id=op_id,
        )
    if issue.details.get("stale") or _revision_of(server) >= _revision_of(
        issue.details.get("server")
    ):
        issue.reason, issue.message_zh, issue.message_en = reason, message_zh, message_en
        issue.details = {k: v for k, v in {**issue.details, **details}.items() if k != "stale"}
    elif local is not None:
        issue.details = {**issue.details, "local": dict(local)}
    issue.op_id = op_id if op_id is not None else issue.op_id
    session.flush()
    return issue


def mark_conflicts_stale(session: Session) -> int:
    """The server was restored (a heal begins): the server versions open conflicts show may be gone, and
    revisions are numbered again - the next server state seen replaces them, whatever its number."""
    marked = 0
    for issue in open_issues(session, kind=IssueKind.CONFLICT):
        issue.details = {**(issue.details or {}), "stale": True}
        marked += 1
    session.flush()
    return marked


def resolve_issues(
    session: Session,
    *,
    resolution: str,
    now: dt.datetime,
    op_ids: Iterable[str] = (),
    kind: str | None = None,
    record_id: str | None = None,
    sha256: str | None = None,
) -> None:
    ops = set(op_ids)
    for issue in open_issues(session, kind=kind):
        if (
            (ops and issue.op_id in ops)
            or (record_id is not None and issue.record_id == record_id)
            or (sha256 is not None and issue.details.get("sha256") == sha256)
        ):
            issue.resolved_at = now
            issue.resolution = resolution


def dismiss_issue(session: Session, issue_id: int, *, now: dt.datetime) -> None:
    """The clerk has read an issue that asks nothing more of anyone (a declined change request)."""
    issue = session.get(SyncIssue, issue_id)
    if issue is not None and issue.resolved_at is None:
        issue.resolved_at = now
        issue.resolution = "dismissed"


def held_record_ids(session: Session) -> set[str]:
    """Records whose changes wait for the clerk: an open conflict (pushing again would conflict again)."""
    rows = session.execute(
        select(SyncIssue.record_id).where(
            SyncIssue.resolved_at.is_(None),
            SyncIssue.kind == IssueKind.CONFLICT,
            SyncIssue.record_id.is_not(None),
        )
    ).scalars()
    return {r for r in rows if r}
