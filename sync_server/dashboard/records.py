"""Records (issue 5, item 3): the list with filters, a record's page, its attachments, and the reviewer's
actions (accept; return for correction with comments on chosen fields).

A return or an accept goes through sync_server.services.review, which writes a new server revision, the audit
entry and a `record` change in one transaction: the school's devices get it at their next pull.
Sensitive forms (teacher_ethics, dropout_followup) exist only for users with the ethics permission: left out
of lists and filters, 403 on their direct URLs, and every view of one is audited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from forms.engine import ReferenceList
from forms.model import FormDef
from forms.periods import record_period
from sync_server import reporting
from sync_server.dashboard import bp
from sync_server.dashboard.auth import (
    audit,
    current_user,
    require_form_visible,
    role_required,
    sensitive_form_ids,
)
from sync_server.dashboard.change_requests import request_views
from sync_server.dashboard.display import (
    GENERAL_COMMENT,
    REVISION_KINDS,
    STATUS_LABELS,
    STATUS_TONES,
    Difference,
    FileNames,
    Labels,
    build_items,
    comment_targets,
    differences,
    file_refs,
    flatten,
)
from sync_server.dashboard.params import int_param
from sync_server.errors import ServiceError
from sync_server.models import Attachment, Device, Record, RecordRevision, School, Status
from sync_server.services.attachments import file_names
from sync_server.services.common import MAX_INT32, MIN_INT32
from sync_server.services.forms import FORM_CACHE, latest_forms
from sync_server.services.review import accept_record, open_request_counts, return_record
from sync_server.services.roster import ROSTER_FORM, school_roster
from sync_server.state import get_state

PAGE_SIZE = 50
STATUS_FILTERS = {
    "": "全部（不含已删除）",
    Status.RECEIVED: STATUS_LABELS[Status.RECEIVED],
    Status.RETURNED: STATUS_LABELS[Status.RETURNED],
    Status.ACCEPTED: STATUS_LABELS[Status.ACCEPTED],
    Status.DELETED: STATUS_LABELS[Status.DELETED],
}
MAX_COMMENT = 500
# Magic numbers of the files a clerk attaches -> the content type they are served with.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\xd0\xcf\x11\xe0", "application/octet-stream"),
)
_INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def sniff_type(head: bytes) -> str:
    for magic, mime in _SIGNATURES:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


# -- shared helpers -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FormChoice:
    form_id: str
    title: str
    form: FormDef


def visible_forms(session: Session, *, with_roster: bool = True) -> list[FormChoice]:
    """The forms this user may see, latest version of each, by title; a form whose every version was
    withdrawn by its newest one (its records are kept and still reviewed)."""
    user = current_user()
    sensitive_ok = user is not None and user.can_view_sensitive
    hidden = set() if sensitive_ok else sensitive_form_ids(session)
    out = []
    for fv in latest_forms(session, include_withdrawn=True):
        if fv.form_id in hidden or (not with_roster and fv.form_id == ROSTER_FORM):
            continue
        form = FORM_CACHE.get(fv)
        out.append(FormChoice(fv.form_id, form.title.get("zh") or fv.form_id, form))
    return out


def find_record_form(session: Session, rec: Record) -> FormDef | None:
    """The definition the record was made with (its own version), else the latest one; None when the
    server has neither (a tombstone an older server took for a form it did not know)."""
    form = FORM_CACHE.lookup(session, rec.form_id, rec.form_version)
    if form is None:
        found = reporting.latest_form(session, rec.form_id)
        if found is not None:
            form = found[1]
    return form


def record_form(session: Session, rec: Record) -> FormDef:
    form = find_record_form(session, rec)
    if form is None:
        raise ServiceError(
            "unknown_form",
            f"服务器上没有这条记录所用的表单 {rec.form_id}（版本 {rec.form_version or '未知'}），无法显示其内容。",
            f"the server has no definition of form {rec.form_id} (version {rec.form_version!r})",
            status=404,
        )
    return form


def _rosters(session: Session, school_ids: set[int]) -> dict[int, ReferenceList]:
    items: dict[int, dict[str, str]] = {}
    if not school_ids:
        return {}
    for sid, data in session.execute(
        select(Record.school_id, Record.data).where(
            Record.form_id == ROSTER_FORM,
            Record.status != Status.DELETED,
            Record.school_id.in_(school_ids),
        )
    ):
        if isinstance(data, dict) and isinstance(data.get("teacher_id"), str):
            tid = data["teacher_id"]
            name = data.get("name")
            items.setdefault(sid, {})[tid] = name if isinstance(name, str) and name else tid
    return {sid: ReferenceList(ROSTER_FORM, roster) for sid, roster in items.items()}


# -- the list -------------------------------------------------------------------------------------------


@dataclass
class ListRow:
    rec: Record
    school: School
    form_title: str
    period: str
    summary: str
    status_label: str
    status_tone: str
    comments: int


@bp.get("/records")
@role_required("viewer")
def records() -> ResponseReturnValue:
    form_id = request.args.get("form", "").strip()
    school_id = int_param("school", "学校", minimum=MIN_INT32, maximum=MAX_INT32)
    period = request.args.get("period", "").strip()
    status = request.args.get("status", "").strip()
    page = max(1, int_param("page", "页码", minimum=None, maximum=None) or 1)
    if status not in STATUS_FILTERS:
        abort(400)
    state = get_state()
    with state.db.ReadSession.begin() as s:
        forms = visible_forms(s)
        by_id = {f.form_id: f for f in forms}
        if form_id:
            require_form_visible(s, form_id)
            if form_id not in by_id:
                abort(404)
        sensitive = sensitive_form_ids(s)
        hidden = sensitive - set(by_id)
        where: list[ColumnElement[bool]] = []
        if hidden:
            where.append(Record.form_id.not_in(hidden))
        if form_id:
            where.append(Record.form_id == form_id)
        if school_id is not None:
            where.append(Record.school_id == school_id)
        if status:
            where.append(Record.status == status)
        else:
            where.append(Record.status != Status.DELETED)
        periods: list[tuple[str, str]] = []
        chosen = by_id.get(form_id)
        if chosen is not None and reporting.is_periodic(chosen.form):
            kind = chosen.form.settings.period
            today = state.local_now().date()
            periods = [
                (k, reporting.period_label(kind, k))
                for k in reporting.period_choices(chosen.form, today, 24)
            ]
            if period:
                try:
                    reporting.parse_period(chosen.form, period)
                except ValueError:
                    flash(f"“{period}”不是该表单的报送周期，已忽略。", "warning")
                    period = ""
                else:
                    where.append(reporting.period_condition(chosen.form, period))
                    if period not in dict(periods):
                        periods.insert(0, (period, reporting.period_label(kind, period)))
        else:
            period = ""
        total = int(s.execute(select(func.count()).select_from(Record).where(*where)).scalar_one())
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(page, pages)
        found = s.execute(
            select(Record, School)
            .join(School, School.id == Record.school_id)
            .where(*where)
            .order_by(Record.updated_at.desc(), Record.id)
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        ).all()
        rosters = _rosters(s, {school.id for _rec, school in found})
        rows = []
        shown_sensitive: list[tuple[str, str]] = []  # (record id, school code)
        for rec, school in found:
            choice = by_id.get(rec.form_id)
            form = choice.form if choice is not None else find_record_form(s, rec)
            rows.append(_list_row(rec, school, form, rosters.get(school.id)))
            if rec.form_id in sensitive or (form is not None and form.settings.sensitive):
                shown_sensitive.append((rec.id, school.code))
        request_counts = open_request_counts(s, [rec.id for rec, _school in found])
        schools = list(
            s.execute(select(School.id, School.code, School.name).order_by(School.code)).all()
        )
    if shown_sensitive or (chosen is not None and chosen.form.settings.sensitive):
        # A list showing teacher-ethics or dropout records (filtered by form or not) shows their contents:
        # logged like a record view, with the records it showed and their schools.
        audit(
            "records.list_view",
            form_id or None,
            {
                "school_id": school_id,
                "period": period,
                "status": status,
                "page": page,
                "sensitive_records": [rid for rid, _code in shown_sensitive],
                "school_codes": sorted({code for _rid, code in shown_sensitive}),
            },
        )
    args = {
        k: v
        for k, v in {
            "form": form_id,
            "school": school_id,
            "period": period,
            "status": status,
        }.items()
        if v not in (None, "")
    }
    return render_template(
        "records.html",
        rows=rows,
        forms=forms,
        schools=schools,
        periods=periods,
        status_filters=STATUS_FILTERS,
        filters={
            "form": form_id,
            "school": school_id,
            "period": period,
            "status": status,
        },
        args=args,
        page=page,
        pages=pages,
        total=total,
        page_size=PAGE_SIZE,
        request_counts=request_counts,
    )


def _list_row(
    rec: Record, school: School, form: FormDef | None, roster: ReferenceList | None
) -> ListRow:
    if form is None:  # listed all the same, with what the row itself says
        return ListRow(
            rec=rec,
            school=school,
            form_title=rec.form_id,
            period="",
            summary="",
            status_label=STATUS_LABELS.get(rec.status, rec.status),
            status_tone=STATUS_TONES.get(rec.status, ""),
            comments=len(rec.review_comments or {}),
        )
    data = rec.data if isinstance(rec.data, dict) else {}
    labels = Labels(form, roster)
    period_key = record_period(form, data) if reporting.is_periodic(form) else None
    period = (
        reporting.period_label(form.settings.period, period_key, short=True) if period_key else ""
    )
    skip = {form.settings.period_field}
    parts = []
    for pv in flatten(form, data, labels):
        if pv.path in skip or not pv.text or "[" in pv.path:
            continue
        text = pv.text if len(pv.text) <= 24 else pv.text[:23] + "…"
        parts.append(f"{pv.label}：{text}")
        if len(parts) == 3:
            break
    return ListRow(
        rec=rec,
        school=school,
        form_title=form.title.get("zh") or rec.form_id,
        period=period,
        summary="；".join(parts),
        status_label=STATUS_LABELS.get(rec.status, rec.status),
        status_tone=STATUS_TONES.get(rec.status, ""),
        comments=len(rec.review_comments or {}),
    )


# -- one record ---------------------------------------------------------------------------------------


@dataclass
class HistoryEntry:
    rev: RecordRevision
    kind_label: str
    status_label: str
    changes: list[Difference]
    comments: list[tuple[str, str]]  # (label path, comment)
    first: bool


def _load_visible(s: Session, record_id: str) -> tuple[Record, School, FormDef]:
    row = s.execute(
        select(Record, School)
        .join(School, School.id == Record.school_id)
        .where(Record.id == record_id)
    ).first()
    if row is None:
        abort(404)
    rec, school = row[0], row[1]
    require_form_visible(s, rec.form_id)
    form = record_form(s, rec)
    if form.settings.sensitive:  # a version marked sensitive, whatever the others say
        user = current_user()
        if user is None or not user.can_view_sensitive:
            abort(403)
    return rec, school, form


def _audit_sensitive_view(
    rec: Record, form: FormDef, school: School, what: str = "record.view"
) -> None:
    if form.settings.sensitive:
        audit(
            what,
            rec.id,
            {"form_id": rec.form_id, "school": school.code},
            school_id=school.id,
        )


def _label_for(form: FormDef, data: dict[str, Any], labels: Labels) -> dict[str, str]:
    """Field path -> label path (for comments), for the paths of this data."""
    out = {GENERAL_COMMENT: "整条记录"}
    for target in comment_targets(form, data, labels):
        out[target.path] = target.label
    for pv in flatten(form, data, labels):
        out.setdefault(pv.path, pv.label)
    return out


def _history(s: Session, rec: Record, form: FormDef, labels: Labels) -> list[HistoryEntry]:
    revisions = list(
        s.execute(
            select(RecordRevision)
            .where(RecordRevision.record_id == rec.id)
            .order_by(RecordRevision.server_revision)
        ).scalars()
    )
    out: list[HistoryEntry] = []
    previous: dict[str, Any] | None = None
    for i, rev in enumerate(revisions):
        data = rev.data if isinstance(rev.data, dict) else {}
        changes = [] if i == 0 else differences(form, previous, data, labels)
        names = _label_for(form, data, labels)
        out.append(
            HistoryEntry(
                rev=rev,
                kind_label=REVISION_KINDS.get(rev.kind, rev.kind),
                status_label=STATUS_LABELS.get(rev.status, rev.status),
                changes=changes,
                comments=[
                    (names.get(path, path), text)
                    for path, text in (rev.review_comments or {}).items()
                ],
                first=i == 0,
            )
        )
        if rev.kind != "delete":
            previous = data
    out.reverse()
    return out


@bp.get("/records/<record_id>")
@role_required("viewer")
def records_detail(record_id: str) -> ResponseReturnValue:
    with get_state().db.ReadSession.begin() as s:
        rec, school, form = _load_visible(s, record_id)
        roster = school_roster(s, school.id)
        labels = Labels(form, roster, _file_names(s, rec, school.id))
        data = rec.data if isinstance(rec.data, dict) else {}
        comments = dict(rec.review_comments or {})
        items = build_items(form, data, labels, comments)
        history = _history(s, rec, form, labels)
        requests = request_views(s, rec, form, labels)
        devices = _device_names(
            s, {h.rev.device_id for h in history} | {v.req.device_id for v in requests}
        )
        names = _label_for(form, data, labels)
        period_key = record_period(form, data) if reporting.is_periodic(form) else None
    _audit_sensitive_view(rec, form, school)
    return render_template(
        "record.html",
        rec=rec,
        school=school,
        form=form,
        form_title=form.title.get("zh") or rec.form_id,
        items=items,
        history=history,
        comments=[(names.get(p, p), p, t) for p, t in comments.items()],
        general_comment=comments.get(GENERAL_COMMENT),
        status_label=STATUS_LABELS.get(rec.status, rec.status),
        status_tone=STATUS_TONES.get(rec.status, ""),
        period=reporting.period_label(form.settings.period, period_key) if period_key else "",
        can_review=rec.status != Status.DELETED,
        change_requests=requests,
        devices=devices,
    )


def _device_names(s: Session, ids: set[str | None]) -> dict[str, str]:
    """Device id -> 设备“教务处电脑”, the name the school gave the PC when it enrolled."""
    wanted = sorted(i for i in ids if i)
    if not wanted:
        return {}
    found = dict(s.execute(select(Device.id, Device.name).where(Device.id.in_(wanted))).all())
    return {i: f"设备“{found[i]}”" if found.get(i) else f"设备 {i[:8]}" for i in wanted}


def _stale(rec: Record) -> bool:
    """The page the reviewer acted on showed an older revision than the record has now."""
    sent = request.form.get("server_revision", "")
    return sent.strip() != str(rec.server_revision)


def _lock(s: Session, record_id: str) -> Record:
    rec = s.execute(
        select(Record).where(Record.id == record_id).with_for_update()
    ).scalar_one_or_none()
    if rec is None:
        abort(404)
    return rec


@bp.post("/records/<record_id>/accept")
@role_required("reviewer")
def records_accept(record_id: str) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    state = get_state()
    with state.db.ReadSession.begin() as s:
        _load_visible(s, record_id)
    try:
        with state.db.Session.begin() as s:
            rec = _lock(s, record_id)
            if _stale(rec):
                raise ServiceError(
                    "stale",
                    "学校刚刚更新了这条记录，请查看最新内容后再确认。",
                    "the record changed meanwhile",
                    status=409,
                )
            accept_record(s, record_id, user.username, now=state.now())
    except ServiceError as exc:
        flash(exc.message_zh, "error")
        return redirect(url_for("dashboard.records_detail", record_id=record_id))
    flash("已确认通过。学校下次同步时将收到确认，记录随即锁定。", "success")
    return redirect(url_for("dashboard.records_detail", record_id=record_id))


@bp.route("/records/<record_id>/return", methods=["GET", "POST"])
@role_required("reviewer")
def records_return(record_id: str) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    state = get_state()
    with state.db.ReadSession.begin() as s:
        rec, school, form = _load_visible(s, record_id)
        labels = Labels(form, school_roster(s, school.id), _file_names(s, rec, school.id))
        data = rec.data if isinstance(rec.data, dict) else {}
        targets = comment_targets(form, data, labels)
    if rec.status == Status.DELETED:
        flash("学校已删除该记录，不能退回。", "error")
        return redirect(url_for("dashboard.records_detail", record_id=record_id))
    known = {t.path for t in targets}
    chosen: dict[str, str] = {}
    errors: list[str] = []
    general = ""
    if request.method == "POST":
        ticked = set(request.form.getlist("path"))
        if ticked - known:
            errors.append("有勾选的题目已不在这条记录中（学校可能刚更新了记录），请重新勾选。")
        for t in targets:
            text = (request.form.get(f"comment:{t.path}") or "").strip()
            if t.path in ticked or text:
                if not text:
                    errors.append(f"“{t.label}”已勾选，请填写修改意见。")
                elif len(text) > MAX_COMMENT:
                    errors.append(f"“{t.label}”的意见太长（最多 {MAX_COMMENT} 字）。")
                chosen[t.path] = text
        general = (request.form.get(f"comment:{GENERAL_COMMENT}") or "").strip()
        if len(general) > MAX_COMMENT:
            errors.append(f"总体意见太长（最多 {MAX_COMMENT} 字）。")
        if not errors and not chosen and not general:
            errors.append("请至少勾选一个题目并填写意见，或填写总体意见。")
        if not errors:
            comments = dict(chosen)
            if general:
                comments[GENERAL_COMMENT] = general
            try:
                with state.db.Session.begin() as s:
                    locked = _lock(s, record_id)
                    if _stale(locked):
                        raise ServiceError(
                            "stale",
                            "学校刚刚更新了这条记录，请查看最新内容后重新填写意见。",
                            "the record changed meanwhile",
                            status=409,
                        )
                    return_record(s, record_id, comments, user.username, now=state.now())
            except ServiceError as exc:
                flash(exc.message_zh, "error")
                return redirect(url_for("dashboard.records_detail", record_id=record_id))
            flash(
                f"已退回（{len(comments)} 条意见）。学校下次同步时将在“待办”中看到这些意见。",
                "success",
            )
            return redirect(url_for("dashboard.records_detail", record_id=record_id))
    else:
        _audit_sensitive_view(rec, form, school)
        chosen = {p: t for p, t in (rec.review_comments or {}).items() if p in known}
        general = (rec.review_comments or {}).get(GENERAL_COMMENT, "")
    return render_template(
        "record_return.html",
        rec=rec,
        school=school,
        form_title=form.title.get("zh") or rec.form_id,
        targets=targets,
        chosen=chosen,
        general=general,
        errors=errors,
    ), (400 if errors else 200)


@bp.get("/records/<record_id>/files/<sha256>")
@role_required("viewer")
def records_file(record_id: str, sha256: str) -> ResponseReturnValue:
    """An attachment of a record the user may see (one its answers point to, now or in its history)."""
    if not _is_sha256(sha256):
        abort(404)
    state = get_state()
    with state.db.ReadSession.begin() as s:
        rec, school, form = _load_visible(s, record_id)
        if not _refers_to(s, rec, sha256):
            abort(404)
        found = s.execute(
            select(Attachment.complete, Attachment.filename).where(
                Attachment.school_id == school.id, Attachment.sha256 == sha256
            )
        ).first()
    path = state.attachments.path(school.id, sha256)
    if found is None or not found.complete or not path.is_file():
        abort(404)
    _audit_sensitive_view(rec, form, school, "record.file_view")
    with path.open("rb") as fh:
        mime = sniff_type(fh.read(16))
    inline = mime in _INLINE_TYPES
    response = send_file(
        path,
        mimetype=mime,
        as_attachment=not inline,
        # Werkzeug sends a non-ASCII name as filename*=UTF-8''... with an ASCII fallback.
        download_name=download_name(found.filename, sha256, mime),
        max_age=0,
        conditional=True,
        etag=sha256,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
}


def download_name(filename: str | None, sha256: str, mime: str) -> str:
    """The name the file had on the school's PC; for a file an older client sent, 附件_<short hash> with
    the extension of what it holds."""
    if filename:
        return filename
    return f"附件_{sha256[:8]}{_EXTENSIONS.get(mime, '.bin')}"


def _file_names(s: Session, rec: Record, school_id: int) -> FileNames:
    """The names of the files the record refers to, now or in its history."""
    refs = _walk_refs(rec.data)
    for data in s.execute(
        select(RecordRevision.data).where(RecordRevision.record_id == rec.id)
    ).scalars():
        refs |= _walk_refs(data)
    return FileNames(file_names(s, school_id, refs))


def _is_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _walk_refs(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for v in value.values():
            found |= _walk_refs(v)
    elif isinstance(value, list):
        for v in value:
            found |= _walk_refs(v)
    elif isinstance(value, str):
        found.update(file_refs(value))
    return found


def _refers_to(s: Session, rec: Record, sha256: str) -> bool:
    if sha256 in _walk_refs(rec.data):
        return True
    for data in s.execute(
        select(RecordRevision.data).where(RecordRevision.record_id == rec.id)
    ).scalars():
        if sha256 in _walk_refs(data):
            return True
    return False
