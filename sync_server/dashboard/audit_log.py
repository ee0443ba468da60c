"""The audit log for admins: logins, logouts, reviews, exports, publications, views of sensitive records.

An entry about teacher-ethics or dropout records (a record's view, review or file; a list page that showed
some; a device's refused push of one) names their ids, schools and what reviewers wrote only to staff with
the ethics permission: other admins see the entry as 敏感记录 ×N, without the record, its school, the device
or the comments (issue 12, point 5).

Shown in Chinese: each action by its label, each detail by its name and value (periods, roles, yes/no,
comments as their text), forms by their titles, devices by their names, the command line and start-up as
such. A detail this page does not know (from a newer version) goes under 技术细节, as JSON, never as Python's
repr. Times are the bureau's local time, named on the page.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.display import zone_label
from forms.errors import CATALOGUE
from forms.model import Period
from sync_server import reporting
from sync_server.dashboard import bp
from sync_server.dashboard.auth import (
    ROLE_LABELS,
    current_user,
    role_required,
    sensitive_form_ids,
)
from sync_server.dashboard.display import STATUS_LABELS
from sync_server.dashboard.params import int_param
from sync_server.models import AuditEntry, Device, Record, School
from sync_server.services.forms import latest_forms
from sync_server.state import get_state

PAGE_SIZE = 100

ACTION_LABELS = {
    "login.ok": "登录",
    "login.failed": "登录失败",
    "login.locked": "登录被暂缓（失败过多，须等待）",
    "logout": "退出",
    "user.add": "添加用户",
    "school.add": "添加学校",
    "school.new_code": "发放登记码",
    "device.enroll": "设备登记",
    "device.enroll_again": "设备重新登记（上次的回答丢失）",
    "device.revoke": "撤销设备",
    "device.replaced": "电脑重新登记，原凭据作废",
    "device.usb_import": "导入学校的U盘数据",
    "device.enrollment_file": "写登记文件（U盘登记）",
    "device.enrollment_file_used": "登记文件首次使用，绑定到这台电脑",
    "usb.import": "在“U盘数据”页导入同步文件",
    "usb.answer_download": "下载U盘答复文件",
    "usb.receipt_view": "查看含师德与控辍记录的U盘数据回执",
    "device.pin_reset": "生成PIN码重置码",
    "form.publish": "发布表单",
    "form.publish_refused": "表单未通过检查",
    "form.withdraw": "撤回表单版本",
    "form.export": "导出汇总表",
    "client.rollout": "调整客户端新版本的发布范围",
    "overview.export": "导出报送情况",
    "record.return": "退回记录",
    "record.accept": "通过记录",
    "record.view": "查看记录",
    "record.file_view": "查看记录的附件",
    "records.list_view": "查看师德与控辍记录列表",
    "record.change_request": "学校申请修改已确认的记录",
    "record.request_accept": "同意学校的修改申请",
    "record.request_decline": "拒绝学校的修改申请",
    "push.other_school": "设备提交了别校的记录（已拒绝）",
    "server.created": "服务器数据库建立",
    "server.restored": "服务器从备份恢复",
    "server.rewound": "服务器数据回退（设备的进度超前）",
    "server.counter_moved": "服务器变更计数前移",
}

ACTORS = {"cli": "命令行（sync-server）", "startup": "服务器启动时", "anonymous": "（未登录）"}

DETAIL_LABELS = {
    "name": "名称",
    "role": "角色",
    "ethics": "可查看师德与控辍记录",
    "app_version": "客户端版本",
    "first_enrolled": "首次登记",
    "server_revision": "记录版本",
    "comments": "退回意见",
    "request_id": "修改申请编号",
    "reason": "理由",
    "kind": "申请",
    "op_id": "操作编号",
    "form_id": "表单",
    "version": "表单版本",
    "current": "现行版本",
    "sha256": "定义校验码",
    "records": "记录数",
    "schools": "学校数",
    "period": "报送周期",
    "expected": "应报学校",
    "missing": "未报学校",
    "school": "学校代码",
    "school_id": "学校",
    "status": "状态",
    "page": "页码",
    "path": "文件",
    "errors": "错误数",
    "first": "第一个错误",
    "failures": "连续失败次数",
    "wait_seconds": "须等待（秒）",
    "scope": "限制",
    "known": "常用地址",
    "ip": "来源地址",
    "device_id": "设备",
    "replaced_by": "新登记的设备",
    "day": "重置码日期",
    "n": "当日第几个重置码",
    "device_cursor": "设备已读到的变更号",
    "from": "原变更计数",
    "to": "新变更计数",
    "parent": "之前的数据库代次",
    "held_through": "保留到变更号",
    "counter": "变更计数",
    "previous_seq": "原变更计数",
    "backup": "备份文件",
    "after": "恢复方式",
    "saved_as": "原数据库另存为",
    "carried_over": "沿用的账号与设备",
    "sensitive": "含师德与控辍记录",
    "sensitive_records": "显示的师德与控辍记录",
    "school_codes": "所属学校",
    "folder": "上传批次",
    "stored": "保存的文件名",
    "bundle_id": "U盘文件编号",
    "received": "新收到",
    "duplicates": "先前已收到",
    "refused": "拒收",
    "error": "拒收原因",
    "import": "导入编号",
}
MASKED = "敏感记录"
# What an entry about sensitive records keeps for staff without the ethics permission: nothing that names a
# record, a school, a device or what a record or a reviewer said.
_KEPT_WHEN_MASKED = frozenset(
    {"form_id", "version", "period", "status", "page", "records", "sensitive", "ip", "kind"}
)
_SCOPES = {"pair": "该账号在该地址", "address": "该地址", "account": "该账号"}
_KINDS = {"upsert": "修改", "delete": "删除"}
_GENERAL_COMMENT = "_record"
_PERIOD_KINDS = (
    (re.compile(r"^\d{4}-W\d{2}$"), Period.WEEKLY),
    (re.compile(r"^\d{4}-(spring|autumn)$"), Period.SEMESTER),
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), Period.DAILY),
    (re.compile(r"^\d{4}-\d{2}$"), Period.MONTHLY),
    (re.compile(r"^\d{4}$"), Period.YEARLY),
)


@dataclass
class Shown:
    """One audit entry as the page shows it."""

    entry: AuditEntry
    action: str
    actor: str
    target: str
    target_url: str | None
    school: tuple[str, str] | None  # (name, code)
    details: list[tuple[str, str]] = field(default_factory=list)
    technical: list[tuple[str, str]] = field(default_factory=list)


class _Names:
    """Form titles and device names, for the entries of one page."""

    def __init__(self, s: Session, entries: list[AuditEntry]) -> None:
        self.forms = {fv.form_id: fv.title_zh for fv in latest_forms(s)}
        ids = {e.object_id for e in entries if e.action.startswith("device.") and e.object_id}
        ids |= {e.actor.removeprefix("device:") for e in entries if e.actor.startswith("device:")}
        ids |= {
            str(e.details[key])
            for e in entries
            if isinstance(e.details, dict)
            for key in ("device_id", "replaced_by")
            if e.details.get(key)
        }
        self.devices = (
            {
                str(i): str(n)
                for i, n in s.execute(select(Device.id, Device.name).where(Device.id.in_(ids)))
            }
            if ids
            else {}
        )
        school_ids = {
            int(e.details["school_id"])
            for e in entries
            if isinstance(e.details, dict) and isinstance(e.details.get("school_id"), int)
        }
        self.schools = (
            {
                int(i): str(n)
                for i, n in s.execute(
                    select(School.id, School.name).where(School.id.in_(school_ids))
                )
            }
            if school_ids
            else {}
        )

    def form(self, form_id: str) -> str:
        return self.forms.get(form_id, "（已不存在的表单）")

    def device(self, device_id: str) -> str:
        name = self.devices.get(device_id)
        return f"设备“{name}”" if name else f"设备 {device_id[:8]}"


def _period(key: str) -> str:
    for pattern, kind in _PERIOD_KINDS:
        if pattern.match(key):
            return reporting.period_label(kind, key, short=True)
    return key


def _moment(value: str, offset: dt.timedelta) -> str:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return (moment + offset).strftime("%Y-%m-%d %H:%M")


def _error(code: str) -> str:
    template = CATALOGUE.get(code)
    if template is None:
        return code
    return re.sub(r"\{[^}]*\}", "…", template[0].replace("{{", "{").replace("}}", "}"))


_TABLES = {"schools": "学校", "users": "账号", "enrollment_codes": "登记码", "devices": "电脑"}


def _counts(value: Any) -> str:
    """{"schools": 1, "devices": 2} -> 学校 1，电脑 2 (无 when there are none)."""
    if not isinstance(value, Mapping):
        return "无" if not value else str(value)
    shown = [f"{_TABLES.get(str(k), str(k))} {n}" for k, n in value.items() if n]
    return "，".join(shown) or "无"


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _detail(key: str, value: Any, names: _Names, offset: dt.timedelta) -> str | None:
    """A known detail as text; None for one to leave out."""
    if value is None or value == "" or value == {} or value == []:
        return None
    if key == "role":
        return ROLE_LABELS.get(str(value), str(value))
    if key == "form_id":
        return names.form(str(value))
    if key == "period":
        return _period(str(value))
    if key == "status":
        return STATUS_LABELS.get(str(value), str(value))
    if key == "scope":
        return _SCOPES.get(str(value), str(value))
    if key == "kind":
        return _KINDS.get(str(value), str(value))
    if key == "first":
        return _error(str(value))
    if key == "server_revision":
        return f"第 {value} 版"
    if key == "sha256":
        return str(value)[:12]
    if key in ("device_id", "replaced_by"):
        return names.device(str(value))
    if key == "school_id" and isinstance(value, int):
        return names.schools.get(value, str(value))
    if key == "first_enrolled" and isinstance(value, str):
        return _moment(value, offset)
    if key == "after" and value == "pg_restore":
        return "PostgreSQL 的 pg_restore"
    if key == "comments" and isinstance(value, Mapping):
        texts = [
            ("整条记录：" if path == _GENERAL_COMMENT else "") + str(text)
            for path, text in value.items()
        ]
        return f"{len(texts)} 条：" + "；".join(texts)
    if key == "carried_over" and isinstance(value, Mapping):
        return f"新增：{_counts(value.get('added'))}；更新：{_counts(value.get('updated'))}"
    if key in ("sensitive_records", "school_codes") and isinstance(value, list):
        shown = "、".join(str(v) for v in value)
        return f"{len(value)} 条：{shown}" if key == "sensitive_records" else shown
    if isinstance(value, Mapping | list):
        return None  # shown under 技术细节
    return _plain(value)


def _target(e: AuditEntry, names: _Names) -> tuple[str, str | None]:
    obj = e.object_id or ""
    action = e.action
    if not obj:
        return ("记录列表（全部表单）", None) if action == "records.list_view" else ("", None)
    if action in ("form.publish", "form.withdraw") and "/" in obj:
        form_id, version = obj.split("/", 1)
        return f"{names.form(form_id)} · 版本 {version}", None
    if action in ("form.export", "overview.export", "records.list_view"):
        return names.form(obj), None
    if action.startswith("record.") or action == "push.other_school":
        return "打开记录", url_for("dashboard.records_detail", record_id=obj)
    if action.startswith("device."):
        return names.device(obj), None
    if action.startswith("server."):
        return f"数据库代次 {obj[:8]}", None
    return obj, None


def _actor(actor: str, names: _Names) -> str:
    if actor.startswith("device:"):
        return names.device(actor.removeprefix("device:"))
    return ACTORS.get(actor, actor)


def _about_a_record(e: AuditEntry) -> bool:
    return bool(e.object_id) and (e.action.startswith("record.") or e.action == "push.other_school")


def sensitive_counts(s: Session, entries: list[AuditEntry]) -> dict[int, int]:
    """Entry id -> how many sensitive records it names, for the entries about teacher-ethics or dropout
    records. An entry about a record the server no longer knows, of a form it cannot tell, counts too."""
    forms = sensitive_form_ids(s)
    wanted = sorted({str(e.object_id) for e in entries if _about_a_record(e)})
    record_forms: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for rid, fid in s.execute(select(Record.id, Record.form_id).where(Record.id.in_(chunk))):
            record_forms[rid] = fid
    out: dict[int, int] = {}
    for e in entries:
        details = e.details if isinstance(e.details, dict) else {}
        listed = details.get("sensitive_records")
        if isinstance(listed, list):
            if listed or e.action == "records.list_view":
                out[e.id] = len(listed)
        elif e.action == "records.list_view":  # written before the ids were: the form is sensitive
            out[e.id] = 0
        elif _about_a_record(e):
            form = record_forms.get(str(e.object_id)) or details.get("form_id")
            if form is None or form in forms:
                out[e.id] = 1
    return out


def _masked(shown: Shown, count: int) -> None:
    """An entry about sensitive records as staff without the ethics permission see it."""
    shown.target = f"{MASKED} ×{count}" if count else MASKED
    shown.target_url = None
    shown.school = None
    if shown.entry.actor.startswith("device:"):
        shown.actor = "学校的设备"
    shown.technical = []


def present(
    s: Session,
    rows: list[tuple[AuditEntry, str | None, str | None]],
    offset: dt.timedelta,
    *,
    sensitive_ok: bool = False,
) -> list[Shown]:
    """The entries as the page shows them; `sensitive_ok`: the reader may see sensitive records."""
    names = _Names(s, [e for e, _code, _name in rows])
    masked = {} if sensitive_ok else sensitive_counts(s, [e for e, _code, _name in rows])
    out = []
    for e, code, name in rows:
        target, link = _target(e, names)
        shown = Shown(
            entry=e,
            action=ACTION_LABELS.get(e.action, "其他操作"),
            actor=_actor(e.actor, names),
            target=target,
            target_url=link,
            school=(name, code) if code and name else None,
        )
        for key, value in (e.details or {}).items():
            if e.id in masked and key not in _KEPT_WHEN_MASKED:
                continue
            label = DETAIL_LABELS.get(key)
            text = _detail(key, value, names, offset) if label else None
            if label and text is not None:
                shown.details.append((label, text))
            elif (label is None or isinstance(value, Mapping | list)) and value not in (
                None,
                "",
                {},
                [],
            ):
                shown.technical.append((key, _plain(value)))
        if e.action not in ACTION_LABELS:
            shown.technical.insert(0, ("action", e.action))
        if e.id in masked:
            _masked(shown, masked[e.id])
        out.append(shown)
    return out


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
    state = get_state()
    with state.db.ReadSession.begin() as s:
        rows: list[tuple[AuditEntry, str | None, str | None]] = [
            (e, code, name) for e, code, name in s.execute(stmt)
        ]
        actions = sorted(set(s.execute(select(AuditEntry.action).distinct()).scalars()))
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        user = current_user()
        shown = present(
            s, rows, state.local_offset, sensitive_ok=user is not None and user.can_view_sensitive
        )
    choices = sorted(
        ((a, ACTION_LABELS.get(a, f"其他操作（{a}）")) for a in actions), key=lambda c: c[1]
    )
    return render_template(
        "audit.html",
        rows=shown,
        more=more,
        next_before=rows[-1][0].id if rows else None,
        action=action,
        actor=actor,
        actions=choices,
        zone=zone_label(state.local_offset),
    )
