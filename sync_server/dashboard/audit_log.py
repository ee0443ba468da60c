"""The audit log for admins: logins, logouts, reviews, exports, publications, views of sensitive records."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from sync_server.dashboard import bp
from sync_server.dashboard.auth import role_required
from sync_server.dashboard.params import int_param
from sync_server.models import AuditEntry, School
from sync_server.state import get_state

PAGE_SIZE = 100

ACTION_LABELS = {
    "login.ok": "登录",
    "login.failed": "登录失败",
    "login.locked": "登录被暂缓（失败过多，须等待）",
    "logout": "退出",
    "user.add": "添加用户",
    "school.add": "添加学校",
    "school.new_code": "发放注册码",
    "device.enroll": "设备登记",
    "device.enroll_again": "设备重新登记（上次的回答丢失）",
    "device.revoke": "撤销设备",
    "form.publish": "发布表单",
    "form.publish_refused": "表单未通过检查",
    "form.export": "导出",
    "record.return": "退回记录",
    "record.accept": "通过记录",
    "record.view": "查看记录",
}


@bp.get("/audit")
@role_required("admin")
def audit_log() -> ResponseReturnValue:
    action = (request.args.get("action") or "").strip()[:50]
    actor = (request.args.get("actor") or "").strip()[:100]
    before = int_param("before", "更早的记录编号")
    stmt = (
        select(AuditEntry, School.code, School.name)
        .outerjoin(School, School.id == AuditEntry.school_id)
        .order_by(AuditEntry.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    with get_state().db.ReadSession.begin() as s:
        rows = s.execute(stmt).all()
        actions = sorted(set(s.execute(select(AuditEntry.action).distinct()).scalars()))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template(
        "audit.html",
        rows=rows,
        more=more,
        next_before=rows[-1][0].id if rows else None,
        action=action,
        actor=actor,
        actions=actions,
        labels=ACTION_LABELS,
    )
