"""Change requests on the dashboard (issue 10): a school's change to a record the bureau had accepted.

services.push keeps such a change as a request instead of refusing it; the record's page lists its requests
(what each would change, field by field) and a reviewer accepts one - the record is reopened with the change,
`received`, to be reviewed again - or declines it with a reason, which reaches the clerk at the next sync. The
records list marks records with an open request. Both decisions go through services.review in one
transaction (the new revision or the decision, the audit entry and the change the school's PCs pull).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from forms.model import FormDef
from sync_server.dashboard import bp
from sync_server.dashboard.auth import current_user, role_required
from sync_server.dashboard.display import Difference, Labels, differences
from sync_server.errors import ServiceError
from sync_server.models import ChangeRequest, Record
from sync_server.services import review
from sync_server.state import get_state

STATUS_LABELS = {
    review.REQUEST_OPEN: "待处理",
    review.REQUEST_ACCEPTED: "已同意",
    review.REQUEST_DECLINED: "已拒绝",
}
STATUS_TONES = {
    review.REQUEST_OPEN: "warn",
    review.REQUEST_ACCEPTED: "ok",
    review.REQUEST_DECLINED: "",
}


@dataclass(frozen=True, slots=True)
class RequestView:
    req: ChangeRequest
    status_label: str
    status_tone: str
    deleting: bool
    changes: list[Difference]  # against the record as it is now


def request_views(s: Session, rec: Record, form: FormDef, labels: Labels) -> list[RequestView]:
    """The record's change requests, newest first, each with what it would change now."""
    out = []
    for req in reversed(review.change_requests(s, record_id=rec.id)):
        deleting = req.kind == "delete"
        out.append(
            RequestView(
                req=req,
                status_label=STATUS_LABELS.get(req.status, req.status),
                status_tone=STATUS_TONES.get(req.status, ""),
                deleting=deleting,
                changes=[] if deleting else differences(form, rec.data, req.data, labels),
            )
        )
    return out


def _back(record_id: str) -> ResponseReturnValue:
    return redirect(url_for("dashboard.records_detail", record_id=record_id) + "#change-requests")


@bp.post("/records/<record_id>/requests/<request_id>/accept")
@role_required("reviewer")
def change_request_accept(record_id: str, request_id: str) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    state = get_state()
    try:
        with state.db.Session.begin() as s:
            _check_belongs(s, record_id, request_id)
            review.accept_change_request(s, request_id, user.username, now=state.now())
    except ServiceError as exc:
        flash(exc.message_zh, "error")
        return _back(record_id)
    flash("已同意修改申请：记录按学校的修改重新打开，请重新审核。学校下次同步时收到。", "success")
    return _back(record_id)


@bp.post("/records/<record_id>/requests/<request_id>/decline")
@role_required("reviewer")
def change_request_decline(record_id: str, request_id: str) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    state = get_state()
    reason = (request.form.get("reason") or "").strip()
    try:
        with state.db.Session.begin() as s:
            _check_belongs(s, record_id, request_id)
            review.decline_change_request(s, request_id, user.username, reason, now=state.now())
    except ServiceError as exc:
        flash(exc.message_zh, "error")
        return _back(record_id)
    flash("已拒绝修改申请。学校下次同步时会看到原因。", "success")
    return _back(record_id)


def _check_belongs(s: Session, record_id: str, request_id: str) -> None:
    req = s.get(ChangeRequest, request_id)
    if req is None or req.record_id != record_id:
        raise ServiceError(
            "unknown_request",
            "这条记录没有这个修改申请",
            f"record {record_id} has no change request {request_id}",
            status=404,
        )
