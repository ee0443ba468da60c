"""Change requests, the client's side (protocol revision 1.5): a change pushed to a record the bureau had
accepted is kept by the server as a request for a reviewer. Here it is an open REQUEST issue, shown as
pending, while the record shows the accepted version (as on the server and the school's other PCs); the
bureau's decision arrives in a pull (`change_request` items; one with request_status "open" only says a
request was made): accepted - the record comes back reopened with the change, and the issue closes;
declined - the issue stays open with the bureau's reason until the clerk dismisses it (issues.dismiss_issue).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from client.store.issues import IssueKind, open_issues, raise_issue
from client.store.models import SyncIssue

log = logging.getLogger(__name__)

OPEN = "open"
ACCEPTED = "accepted"
DECLINED = "declined"

PENDING_TEXT = (
    "教育局已确认此记录；本机的修改已作为修改申请交教育局处理，等待答复",
    "the bureau had accepted this record; the change made here was sent as a change request and waits "
    "for the bureau's answer",
)


def _declined_text(reason: str) -> tuple[str, str]:
    return (
        f"教育局没有同意本机对已确认记录的修改申请：{reason}",
        f"the bureau declined the change request for this accepted record: {reason}",
    )


def _issue_for(session: Session, request_id: str, op_id: str | None) -> SyncIssue | None:
    for issue in open_issues(session, kind=IssueKind.REQUEST):
        if issue.details.get("request_id") == request_id or (op_id and issue.op_id == op_id):
            return issue
    return None


def note_change_request(
    session: Session,
    *,
    record_id: str,
    op_id: str,
    request: Mapping[str, Any],
    change: Mapping[str, Any],
    now: dt.datetime,
) -> SyncIssue | None:
    """The push answer said the change became request `request` ({id, status[, reason]}): keep it as an
    open REQUEST issue (with the change asked for), or apply a decision already made."""
    request_id = str(request.get("id") or "")
    status = str(request.get("status") or OPEN)
    issue = _issue_for(session, request_id, op_id)
    if issue is None:
        if status == ACCEPTED:
            return None  # nothing left to show: the record comes back with the change in a pull
        issue = raise_issue(
            session,
            kind=IssueKind.REQUEST,
            reason="request_open",
            message_zh=PENDING_TEXT[0],
            message_en=PENDING_TEXT[1],
            details={
                "request_id": request_id,
                "status": OPEN,
                "kind": change.get("kind"),
                "data": change.get("data"),
                "revision": change.get("revision"),
            },
            now=now,
            record_id=record_id,
            op_id=op_id,
        )
    elif issue.details.get("request_id") != request_id:
        # The same change asked again (a restored server lost the first request): this one is pending.
        issue.reason = "request_open"
        issue.message_zh, issue.message_en = PENDING_TEXT
        issue.details = {**issue.details, "request_id": request_id, "status": OPEN}
    if status != OPEN:
        decide(session, issue, status=status, reason=str(request.get("reason") or ""), now=now)
    return issue


def decide(
    session: Session, issue: SyncIssue, *, status: str, reason: str, now: dt.datetime
) -> None:
    if status == ACCEPTED:
        issue.resolved_at = now
        issue.resolution = "accepted"
        issue.details = {**issue.details, "status": ACCEPTED}
    elif status == DECLINED:
        issue.reason = "request_declined"
        issue.message_zh, issue.message_en = _declined_text(reason)
        issue.details = {**issue.details, "status": DECLINED, "decline_reason": reason}
    session.flush()


def apply_decision(session: Session, item: Mapping[str, Any], *, now: dt.datetime) -> None:
    """A pulled `change_request` item: the bureau decided on a request (one of this PC's, or not)."""
    issue = _issue_for(session, str(item.get("request_id") or ""), str(item.get("op_id") or ""))
    if issue is None:
        return  # another PC's request: its record change, if any, comes as a record item
    decide(
        session,
        issue,
        status=str(item.get("request_status") or ""),
        reason=str(item.get("reason") or ""),
        now=now,
    )


def open_requests(session: Session) -> list[SyncIssue]:
    return open_issues(session, kind=IssueKind.REQUEST)
