"""Forms (issue 5, item 6): the published versions of each form, and publishing a new version from an
uploaded YAML file or XLSForm workbook, checked by the form engine; its errors are listed with locations.
An admin can withdraw a version (issue 9) from its page, after confirming: schools stop offering it for new
records and fall back to the newest version left; records made with it are kept.

Sensitive forms (settings.sensitive) are listed, shown, published and withdrawn only for users with the
ethics permission.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.dashboard import bp
from sync_server.dashboard.auth import (
    audit,
    can_see_form,
    current_user,
    is_sensitive,
    role_required,
    sensitive_form_ids,
)
from sync_server.errors import ServiceError
from sync_server.models import FormVersion
from sync_server.services.forms import (
    FormFileError,
    current_version,
    get_version,
    publish_form,
    read_form_file,
    withdraw_form,
)
from sync_server.services.users import StaffUser
from sync_server.state import get_state

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
SUFFIXES = (".yaml", ".yml", ".xlsx")


@dataclass
class FormGroup:
    form_id: str
    title: str
    sensitive: bool
    versions: list[FormVersion] = field(default_factory=list)  # newest first
    current_id: int | None = None  # the version offered for new records: the newest not withdrawn


@dataclass(frozen=True)
class ErrorRow:
    file: str
    sheet: str
    line: str
    field: str
    column: str
    message: str
    code: str


def form_groups(session: Session, user: StaffUser) -> list[FormGroup]:
    groups: dict[str, FormGroup] = {}
    hidden = set() if user.can_view_sensitive else sensitive_form_ids(session)
    for fv in session.execute(
        select(FormVersion).order_by(FormVersion.form_id, FormVersion.id.desc())
    ).scalars():
        if fv.form_id in hidden or not can_see_form(user, fv):
            continue
        group = groups.get(fv.form_id)
        if group is None:
            group = groups[fv.form_id] = FormGroup(fv.form_id, fv.title_zh, is_sensitive(fv))
        group.versions.append(fv)
        if group.current_id is None and fv.withdrawn_at is None:
            group.current_id = fv.id
    return list(groups.values())


def _page(
    errors: list[ErrorRow] | None = None, upload_name: str = "", status: int = 200
) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    with get_state().db.ReadSession.begin() as s:
        groups = form_groups(s, user)
        return render_template(
            "forms.html", groups=groups, errors=errors or [], upload_name=upload_name
        ), status


@bp.get("/forms")
@role_required("viewer")
def forms() -> ResponseReturnValue:
    return _page()


def _visible_version(s: Session, form_id: str, version: str) -> FormVersion:
    """The version, if this user may see it; else a 404 or 403 page."""
    user = current_user()
    fv = get_version(s, form_id, version)
    if fv is None:
        abort(404)
    if not can_see_form(user, fv) or (
        user is not None and not user.can_view_sensitive and form_id in sensitive_form_ids(s)
    ):
        abort(403)
    return fv


# path: a version made before forms/identifiers.py may hold "/" (it arrives decoded); it can be withdrawn.
@bp.get("/forms/<form_id>/<path:version>")
@role_required("viewer")
def forms_version(form_id: str, version: str) -> ResponseReturnValue:
    with get_state().db.ReadSession.begin() as s:
        fv = _visible_version(s, form_id, version)
        current = current_version(s, form_id)
        fallback = s.execute(
            select(FormVersion.version)
            .where(
                FormVersion.form_id == form_id,
                FormVersion.withdrawn_at.is_(None),
                FormVersion.id != fv.id,
            )
            .order_by(FormVersion.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return render_template(
            "forms_version.html",
            fv=fv,
            sensitive=is_sensitive(fv),
            is_current=current is not None and current.id == fv.id,
            fallback=fallback,
        )


@bp.post("/forms/withdraw")
@role_required("admin")
def forms_withdraw() -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    form_id = request.form.get("form_id") or ""
    version = request.form.get("version") or ""
    state = get_state()
    with state.db.Session.begin() as s:
        fv = _visible_version(s, form_id, version)
        if request.form.get("confirm") != "yes":
            flash("请勾选确认后再撤回。", "error")
            return redirect(
                url_for(
                    "dashboard.forms_version", form_id=form_id, version=version, _anchor="withdraw"
                )
            )
        w = withdraw_form(
            s,
            fv.form_id,
            fv.version,
            now=state.now(),
            actor=user.username,
            audit_details={"ip": request.remote_addr or ""},
        )
    if not w.withdrawn:
        flash(f"{w.form_id} 版本 {w.version} 早已撤回，未作改动。", "info")
    elif w.current:
        flash(
            f"已撤回“{w.title_zh}”（{w.form_id}）版本 {w.version}。学校电脑下次同步后改用版本 {w.current}"
            "填写新记录；已用此版本填写的记录照常保留、同步和查看。",
            "success",
        )
    else:
        flash(
            f"已撤回“{w.title_zh}”（{w.form_id}）版本 {w.version}。此表单已没有可用版本，学校电脑同步后"
            "不能再新建此表单的记录；已填写的记录照常保留、同步和查看。",
            "success",
        )
    return redirect(url_for("dashboard.forms", _anchor=f"form-{w.form_id}"))


def error_rows(exc: FormFileError, tmp_path: Path, shown_name: str) -> list[ErrorRow]:
    rows = []
    for e in exc.errors:
        loc = e.location
        file = loc.file
        if not file or file == str(tmp_path) or Path(file).name == tmp_path.name:
            file = shown_name
        rows.append(
            ErrorRow(
                file=file,
                sheet=loc.sheet or "",
                line=str(loc.line) if loc.line is not None else "",
                field=loc.field or "",
                column=loc.column or "",
                message=e.message_zh,
                code=e.code,
            )
        )
    return rows


@bp.post("/forms")
@role_required("admin")
def forms_publish() -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    upload = request.files.get("file")
    name = (upload.filename or "").strip() if upload is not None else ""
    if upload is None or not name:
        flash("请选择要发布的表单文件（.yaml 或 .xlsx）。", "error")
        return _page(status=422)
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        flash(f"不支持的文件类型“{suffix or name}”：请上传 .yaml 或 XLSForm .xlsx 文件。", "error")
        return _page(upload_name=name, status=422)
    data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        flash(f"文件太大：最多 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB。", "error")
        return _page(upload_name=name, status=413)
    state = get_state()
    with tempfile.TemporaryDirectory(prefix="form-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            form = read_form_file(path)
        except FormFileError as exc:
            rows = error_rows(exc, path, name)
            audit("form.publish_refused", name, {"errors": len(rows), "first": rows[0].code})
            flash(f"“{name}”有 {len(rows)} 处错误，未发布。请按下表修改后重新上传。", "error")
            return _page(rows, name, status=422)
        except ServiceError as exc:
            flash(exc.message_zh, "error")
            return _page(upload_name=name, status=422)
    try:
        with state.db.Session.begin() as s:
            sensitive = form.settings.sensitive or form.form_id in sensitive_form_ids(s)
            if sensitive and not user.can_view_sensitive:
                raise ServiceError(
                    "sensitive_form",
                    f"“{form.form_id}”是敏感表单（师德、控辍等），需由具有伦理查看权限的管理员发布。",
                    "a sensitive form needs the ethics permission",
                    status=403,
                )
            pub = publish_form(s, form, now=state.now(), actor=user.username)  # audits form.publish
    except ServiceError as exc:
        flash(exc.message_zh, "error")
        return _page(upload_name=name, status=exc.status if exc.status < 500 else 422)
    if pub.published:
        flash(
            f"已发布“{pub.title_zh}”（{pub.form_id}）版本 {pub.version}，学校电脑下次同步时会收到新版本。",
            "success",
        )
    else:
        flash(f"{pub.form_id} 版本 {pub.version} 已发布过，内容相同，未作改动。", "info")
    return redirect(url_for("dashboard.forms", _anchor=f"form-{pub.form_id}"))
