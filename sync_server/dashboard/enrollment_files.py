"""写登记文件 on 学校与设备 (issue 13 item 1, protocol revision 1.15): an enrollment file for a school with no link,
to carry on a USB stick, and its one-time code, shown once.

POST /schools/<code>/enrollment-file writes it (sync_server.enrollment_files.write_file: a new device of the
school, unused until a computer enrolled from the file is heard from) and redirects to its page, which shows
the code once; the file is downloaded once from that page. Both wait in server memory (the SlipStore of the
code slips) under random ids that ride in the signed session cookie; neither is kept anywhere else. An unused
file is revoked as its device is (撤销 on the device's row, marked 登记文件未使用).
"""

from __future__ import annotations

import base64
from urllib.parse import quote

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from sync_server.dashboard import bp
from sync_server.dashboard.auth import current_user, role_required
from sync_server.dashboard.schools import slip_store
from sync_server.enrollment_files import write_file
from sync_server.errors import ServiceError
from sync_server.services.enrollment_files import unused_file_devices
from sync_server.state import get_state
from sync_server.tls import served_fingerprint

FILE_KEY = "enrollment_file"


@bp.context_processor
def _unused_files() -> dict[str, object]:
    def unused_enrollment_files() -> set[str]:
        with get_state().db.ReadSession.begin() as s:
            return unused_file_devices(s)

    return {"unused_enrollment_files": unused_enrollment_files}


def _server_url() -> str:
    return str(current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/"))


def _fingerprint() -> str | None:
    from pathlib import Path

    return served_fingerprint(current_app.config, Path(current_app.instance_path))


@bp.post("/schools/<code>/enrollment-file")
@role_required("admin")
def schools_enrollment_file_write(code: str) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    try:
        written = write_file(
            get_state(),
            school_code=code,
            server_url=_server_url(),
            fingerprint=_fingerprint(),
            actor=user.username,
        )
    except ServiceError as exc:
        if exc.status == 404:
            abort(404)
        raise
    store = slip_store()
    packed = written.file_name + "\n" + base64.b64encode(written.data).decode("ascii")
    session[FILE_KEY] = {  # ids only: the cookie is signed, not encrypted
        "school": written.school_code,
        "code": store.put(written.code),
        "file": store.put(packed),
        "name": written.file_name,
        "device": written.device_id,
    }
    flash(f"已为“{written.school_name}”写好登记文件，请下载到U盘并记下登记码。", "success")
    return redirect(url_for("dashboard.schools_enrollment_file", code=written.school_code))


def _kept(code: str) -> dict[str, str | None] | None:
    kept = session.get(FILE_KEY)
    return kept if isinstance(kept, dict) and kept.get("school") == code else None


@bp.get("/schools/<code>/enrollment-file")
@role_required("admin")
def schools_enrollment_file(code: str) -> ResponseReturnValue:
    kept = _kept(code)
    shown = None
    if kept and kept.get("code"):
        shown = slip_store().take(str(kept["code"]))  # shown once
        session[FILE_KEY] = {**kept, "code": None}
    page = render_template(
        "schools_enrollment_file.html",
        school_code=code,
        school_name=_school_name(code),
        file_code=shown,
        file_name=kept.get("name") if kept else None,
        can_download=bool(kept and kept.get("file")),
        server_url=_server_url(),
    )
    return page, 200, {"Cache-Control": "no-store"}


def _school_name(code: str) -> str:
    from sqlalchemy import select

    from sync_server.models import School

    with get_state().db.ReadSession.begin() as s:
        name = s.execute(select(School.name).where(School.code == code)).scalar_one_or_none()
    if name is None:
        abort(404)
    return name


@bp.get("/schools/<code>/enrollment-file/download")
@role_required("admin")
def schools_enrollment_file_download(code: str) -> ResponseReturnValue:
    kept = _kept(code)
    packed = slip_store().take(str(kept["file"])) if kept and kept.get("file") else None
    if kept:
        session[FILE_KEY] = {**kept, "file": None}
    if packed is None:
        flash(
            "登记文件只能下载一次，已下载过或已过期。如需要，请重新写一个登记文件"
            "（之前写的如未使用，可在设备列表中撤销）。",
            "error",
        )
        return redirect(url_for("dashboard.schools_enrollment_file", code=code))
    name, _, data = packed.partition("\n")
    fallback = name.encode("ascii", "replace").decode().replace("?", "_")
    return Response(
        base64.b64decode(data),
        mimetype="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )
