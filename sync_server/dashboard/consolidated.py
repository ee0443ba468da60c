"""The consolidated export (汇总表, issue 5, item 7): /export?form=ID[&period=P] -> .xlsx of every school's
records in the client's layout plus school columns, and a summary sheet per school (sync_server.export).

The workbook is written by openpyxl in write-only mode from a batched query into a temporary file, then
streamed in chunks and removed, so 100,000 records stay within bounded memory. Every export is audited;
sensitive forms are exported only for users with the ethics permission (403 otherwise).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from flask import Response, abort, render_template, request
from flask.typing import ResponseReturnValue

from sync_server import reporting
from sync_server.dashboard import bp
from sync_server.dashboard.auth import audit, require_form_visible, role_required
from sync_server.dashboard.overview import due_rules
from sync_server.dashboard.records import visible_forms
from sync_server.errors import ServiceError
from sync_server.export import export_form
from sync_server.state import get_state

log = logging.getLogger(__name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 256 * 1024


def _stream(path: Path, folder: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def content_disposition(name: str, fallback: str) -> str:
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


@bp.get("/export")
@role_required("viewer")
def consolidated_export() -> ResponseReturnValue:
    form_id = request.args.get("form", "").strip()
    period = request.args.get("period", "").strip() or None
    state = get_state()
    if not form_id:
        today = state.local_now().date()
        with state.db.ReadSession.begin() as s:
            forms = visible_forms(s)
        periods = {
            f.form_id: [
                (k, reporting.period_label(f.form.settings.period, k))
                for k in reporting.period_choices(f.form, today, 24)
            ]
            for f in forms
            if reporting.is_periodic(f.form)
        }
        return render_template(
            "export.html",
            forms=forms,
            periods=periods,
            current={
                fid: reporting.current_period(f.form.settings.period, today)
                for f in forms
                for fid in [f.form_id]
                if reporting.is_periodic(f.form)
            },
        )
    with state.db.ReadSession.begin() as s:
        require_form_visible(s, form_id)
        if form_id not in {f.form_id for f in visible_forms(s)}:
            abort(404)
    try:
        folder = Path(tempfile.mkdtemp(prefix="sync-export-"))
    except OSError as exc:
        raise _no_room(exc) from None
    try:
        out = folder / "export.xlsx"
        result = export_form(
            state.db.ReadSession,
            form_id,
            out,
            now=state.now(),
            period=period,
            utc_offset=state.local_offset,
            due_rules=due_rules(),
        )
        audit(
            "form.export",
            result.form_id,
            {
                "records": result.records,
                "schools": result.schools,
                "period": result.period,
                "version": result.version,
                **({"sensitive": True} if result.sensitive else {}),
            },
        )
        size = out.stat().st_size
    except ServiceError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if exc.code == "cannot_write":
            raise _no_room(exc) from None
        raise
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    stem = f"汇总表_{result.form_id}" + (f"_{result.period}" if result.period else "")
    response = Response(_stream(out, folder), mimetype=XLSX, direct_passthrough=True)
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = content_disposition(
        f"{stem}.xlsx",
        f"export_{result.form_id}{'_' + result.period if result.period else ''}.xlsx",
    )
    # A response never started (client gone) leaves no file behind.
    response.call_on_close(lambda: _cleanup(folder))
    return response


def _no_room(exc: Exception) -> ServiceError:
    """The server could not write the workbook to its temporary folder (a full disk, a missing or read-only
    TMPDIR): the admin's to fix, so it is logged; the staff member sees a page saying so, not a 500."""
    log.error("dashboard export: cannot write the temporary workbook: %s", exc)
    return ServiceError(
        "export_no_room",
        "服务器磁盘空间不足或临时文件夹无法写入，暂时无法生成汇总表。请联系系统管理员。",
        "the server's disk is full or its temporary folder cannot be written; tell the administrator",
        status=503,
    )


def _cleanup(folder: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(folder, ignore_errors=True)
