"""U盘数据 (issue 13, item 3): staff back from a round of visits upload the schools' bundles at once; each is
applied exactly as a push (sync_server.usb.import_file), and gets an answer bundle to carry back and a
printable 回执.

- POST /usb/import (reviewers and admins: importing applies the schools' changes, as a reviewer's work
  does; viewers only read): many files in one multipart upload, within MAX_USB_UPLOAD_BYTES (its own door
  in sync_server/limits.py, checked from the request's head). Each file is saved under
  <instance>/usb_imports/<upload>/ (owner-only, sync_server/private_files.py), then imported (the numbered
  parts of a bundle given together, once); the answer is written beside it, and the bundle's own files are
  removed once answered. One bad file (not a bundle, changed, another server's, a revoked device, a missing
  part, ...) is a line with the reason in Chinese and English; the others still import.
- Every file imported is one audit entry `usb.import` by the staff member (file, bundle, school, device,
  counts) - or by 命令行 for `sync-server usb-import` (usb_receipt.keep_for_history): the history below the
  upload lists both, newest first, so an answer can be downloaded again.
  A bundle imported before says so (the second import changes nothing: the same op ids and keys).
- GET /usb/imports/<entry>/answer: the answer bundle, for the same staff (Content-Disposition with the
  Chinese name as RFC 5987 `filename*`, an ASCII `filename` for old browsers); each download is audited.
- GET /usb/imports/<entry>/receipt: the 回执 to print (sync_server/dashboard/usb_receipt.py). Records of
  sensitive forms (teacher ethics, dropout) are counted for everyone, but their ids and refusal reasons are
  shown only to staff with the ethics permission (and such a view is audited, `usb.receipt_view`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from forms import usb_bundle as U
from forms.os_text import en_reason, zh_reason
from sync_server.dashboard import bp
from sync_server.dashboard import usb_receipt as receipts
from sync_server.dashboard.auth import audit, current_user, role_required, sensitive_form_ids
from sync_server.dashboard.params import int_param
from sync_server.limits import USB_IMPORT_PATH
from sync_server.models import AuditEntry, School
from sync_server.private_files import opener, private_dir
from sync_server.state import ServerState, get_state
from sync_server.usb import (
    MB,
    UNSAFE_NAME,
    ImportResult,
    UpdateCarry,
    bundles_of,
    import_file,
    updates_folder,
    with_school_name,
)

log = logging.getLogger(__name__)

IMPORT_ROLE = "reviewer"
FOLDER = receipts.FOLDER
FIELD = "bundles"
PAGE_SIZE = 50
COPY_CHUNK = 1024 * 1024
_FOLDER_RE = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{8}$")
_UNSAFE = UNSAFE_NAME  # not in a file name on Windows, FAT or ext4
MAX_NAME = 120


@dataclass
class Row:
    """One imported file as the page lists it."""

    entry_id: int
    at: dt.datetime
    by: str
    file: str
    school: str
    device: str
    claimed: str | None  # the school a refused file's header names (unproven)
    received: int
    duplicates: int
    refused: int
    error_zh: str | None
    error_en: str | None
    answers: int  # answer files (parts, when an answer is larger than a FAT32 file may be)
    parts: int  # the bundle's part files (0: one file)
    before: str | None  # the bundle was imported before: when and by whom
    restart: bool  # nothing applied: the server was restored; the school imports the answer first
    kept: bool  # its receipt is still on the server
    update: str | None = None  # a client update offered to the device: in the answer, or left out


def imports_root() -> Path:
    return Path(current_app.instance_path) / FOLDER


def _safe_name(raw: str | None, taken: set[str]) -> str:
    """The file's own name (a bundle's parts find each other by it), without folders or characters a
    file system refuses, unique within the upload."""
    name = re.split(r"[/\\]", raw or "")[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".") or "bundle" + U.SUFFIX
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = f".{suffix}" if dot else ""
    stem = stem[: MAX_NAME - len(suffix)]
    candidate, n = stem + suffix, 1
    while candidate.lower() in taken or candidate.lower().endswith(receipts.RECEIPT_SUFFIX):
        n += 1
        candidate = f"{stem}({n}){suffix}"
    taken.add(candidate.lower())
    return candidate


def _save(upload: FileStorage, path: Path) -> None:
    with open(path, "xb", opener=opener) as fh:
        shutil.copyfileobj(upload.stream, fh, COPY_CHUNK)


def _failed(path: Path) -> ImportResult:
    result = ImportResult(path)
    result.error = U.BundleError(
        "bundle_import_failed",
        "导入这个文件时服务器出错（已记入服务器日志）。可以再导入一次：已收到的记录不会重复",
        "the server failed while importing this file (see the server log); importing it again is "
        "safe: nothing received is stored twice",
    )
    return result


def _drop_applied(result: ImportResult) -> None:
    """An imported bundle's files are removed once answered: what they carried is in the database (or,
    after a server restore, still in the school's outbox), and photos make them large. The answer and the
    receipts stay for the history. A refused file stays for the IT person to look at."""
    if result.error is not None or result.answer_path is None:
        return
    for part in result.paths or ([result.path] if result.path else []):
        try:
            part.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("the imported bundle %s could not be removed: %s", part, exc)


def _import_one(
    state: ServerState,
    path: Path,
    *,
    shown: str,
    folder: str,
    who: str,
    carry: UpdateCarry | None = None,
) -> dict[str, Any]:
    try:  # the page keeps its own (JSON) receipt, no text one beside the upload
        result = import_file(state, path, receipt=False, imported_by=who, shown=shown, carry=carry)
        receipt = result.receipt
        assert receipt is not None
    except Exception:  # one file's failure is its own line; the other files still import
        log.exception("USB import of %s failed", path)
        result = _failed(path)
        receipt = receipts.build(
            state, result, mark=0, file=shown, imported_by=who, now=state.now()
        )
    _drop_applied(result)
    try:
        receipts.save(path, receipt)
    except OSError as exc:  # the import stands; its row then shows the audit entry's counts only
        log.error("the receipt of %s could not be kept: %s", path, exc)
    with state.db.ReadSession.begin() as s:
        school_id = receipts.school_id_of(s, receipt)
    audit(
        receipts.ACTION,
        shown[:100],
        receipts.audit_details(receipt, folder=folder, stored=path.name),
        school_id=school_id,
    )
    return receipt


@bp.post(USB_IMPORT_PATH)
@role_required(IMPORT_ROLE)
def usb_import() -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    uploads = [f for f in request.files.getlist(FIELD) if f.filename]
    if not uploads:
        flash(
            "请选择要导入的U盘同步文件（.usbsync）。/ Choose the USB sync files to import.", "error"
        )
        return _page(status=422)
    state = get_state()
    folder = receipts.new_folder(state)
    target = imports_root() / folder
    taken: set[str] = set()
    saved = []
    try:
        private_dir(target)
        for upload in uploads:
            path = target / _safe_name(upload.filename, taken)
            _save(upload, path)
            saved.append((upload.filename or path.name, path))
    except OSError as exc:  # a full disk, a folder that cannot be made: nothing is imported
        log.error("USB upload could not be saved under %s: %s", target, exc)
        shutil.rmtree(target, ignore_errors=True)
        flash(
            f"上传的文件无法保存到服务器（{zh_reason(exc)}），未导入任何文件：请检查服务器磁盘空间后重试。"
            f" / The uploaded files could not be saved on the server ({en_reason(exc)}); "
            "nothing was imported.",
            "error",
        )
        return _page(status=507)
    shown_as = {path: shown for shown, path in saved}
    # The answers carry the client release offered to each PC unless 不放入客户端更新 is ticked (1.19).
    carry = UpdateCarry(
        updates_folder(current_app.config, current_app.instance_path),
        include=request.form.get("no_update") != "1",
    )
    for path in bundles_of([path for _shown, path in saved]):  # a bundle's parts are imported once
        _import_one(
            state, path, shown=shown_as[path], folder=folder, who=user.username, carry=carry
        )
    return redirect(url_for("dashboard.usb_upload", folder=folder))


_when = receipts.local_time


def _bundle_path(entry: AuditEntry) -> Path | None:
    details = entry.details if isinstance(entry.details, dict) else {}
    folder, stored = str(details.get("folder") or ""), str(details.get("stored") or "")
    if not _FOLDER_RE.fullmatch(folder) or not stored or stored[0] == "." or _UNSAFE.search(stored):
        return None
    return imports_root() / folder / stored


def _row(entry: AuditEntry, names: dict[int, str], offset: dt.timedelta) -> Row:
    path = _bundle_path(entry)
    kept = receipts.load(path) if path is not None else None
    r = kept or {}
    school = r.get("school") or {}
    claimed = r.get("claimed_school") or {}
    error = r.get("error") or {}
    before = r.get("imported_before")
    before_text = None
    if isinstance(before, dict):
        by = before.get("by")
        before_text = f"{_when(before.get('at'), offset)} " + (
            f"由 {by} 导入过" if by else "用命令行导入过"
        )
    d = entry.details if isinstance(entry.details, dict) else {}
    return Row(
        entry_id=entry.id,
        at=entry.at,
        by=entry.actor,
        file=entry.object_id or "",
        school=(f"{school.get('name')}（{school.get('code')}）" if school else "")
        or names.get(entry.school_id or -1, ""),
        claimed=(f"{claimed.get('name') or ''}（{claimed.get('code')}）" if claimed else None),
        device=str((r.get("device") or {}).get("name") or ""),
        received=int(d.get("received") or 0),
        duplicates=int(d.get("duplicates") or 0),
        refused=int(d.get("refused") or 0),
        error_zh=error.get("message_zh") if error else None,
        error_en=error.get("message_en") if error else None,
        answers=len(_answers(r)),
        parts=len(r.get("parts") or []),
        before=before_text,
        restart=bool(r.get("restart")),
        kept=kept is not None,
        update=_update_text(r.get("update")),
    )


def _update_text(update: Any) -> str | None:
    """A client update offered to the PC (protocol 1.19), as the row says it."""
    if not isinstance(update, dict) or not update.get("version"):
        return None
    size = f"{float(update.get('bytes') or 0) / MB:.1f} MB"
    if update.get("included"):
        return f"答复含客户端更新 {update['version']}（{size}）"
    return f"客户端更新 {update['version']}（{size}）未放入答复"


def _rows(stmt: Any) -> list[Row]:
    state = get_state()
    with state.db.ReadSession.begin() as s:
        entries = list(s.execute(stmt).scalars())
        ids = {e.school_id for e in entries if e.school_id is not None}
        names = {
            int(i): str(n)
            for i, n in s.execute(select(School.id, School.name).where(School.id.in_(ids)))
        }
    return [_row(e, names, state.local_offset) for e in entries]


def _page(*, folder: str | None = None, status: int = 200) -> ResponseReturnValue:
    before = int_param("before", "更早的导入")
    stmt = receipts.imports()
    history = _rows(
        (stmt.where(AuditEntry.id < before) if before is not None else stmt)
        .order_by(AuditEntry.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    results = _rows(receipts.upload(folder)) if folder is not None else []
    limit = int(get_state().config["MAX_USB_UPLOAD_BYTES"])
    return render_template(
        "usb.html",
        results=results,
        folder=folder,
        history=history[:PAGE_SIZE],
        next_before=history[PAGE_SIZE - 1].entry_id if len(history) > PAGE_SIZE else None,
        max_bytes=limit,
        max_label=f"{limit / (1024 * 1024):g} MB",
    ), status


@bp.get("/usb")
@role_required(IMPORT_ROLE)
def usb() -> ResponseReturnValue:
    return _page()


@bp.get("/usb/uploads/<folder>")
@role_required(IMPORT_ROLE)
def usb_upload(folder: str) -> ResponseReturnValue:
    if not _FOLDER_RE.fullmatch(folder):
        abort(404)
    return _page(folder=folder)


def _imported(raw: str) -> tuple[AuditEntry, Path, dict[str, Any]]:
    """The import named in the path: its audit entry, the bundle kept and its receipt (else a 404)."""
    entry = _entry(raw)
    path = _bundle_path(entry)
    kept = receipts.load(path) if path is not None else None
    if path is None or kept is None:
        abort(404)
    return entry, path, kept


def _entry(raw: str) -> AuditEntry:
    """The page's audit entry named in the path (any other text is a 404, never a 500)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        abort(404)
    with get_state().db.ReadSession.begin() as s:
        entry = s.get(AuditEntry, int(raw))
        if entry is None or entry.action != receipts.ACTION:
            abort(404)
        s.expunge(entry)
    return entry


def _answers(kept: dict[str, Any]) -> list[str]:
    """The answer's file names kept with the receipt (a receipt of an older version names one)."""
    names = kept.get("answers") or ([kept["answer"]] if kept.get("answer") else [])
    return [n for n in names if isinstance(n, str) and n and not _UNSAFE.search(n)]


def download_name(school: str | None, answer: str) -> str:
    """The answer's name on the stick: the school's name first, as `sync-server usb-import` writes it."""
    return with_school_name(school, answer)


@bp.get("/usb/imports/<entry_id>/answer")
@role_required(IMPORT_ROLE)
def usb_answer(entry_id: str) -> ResponseReturnValue:
    entry, path, kept = _imported(entry_id)
    answers = _answers(kept)
    part = int_param("part", "答复文件的分卷", minimum=1, maximum=max(len(answers), 1)) or 1
    if not answers:
        abort(404)
    answer = answers[part - 1]
    file = path.with_name(answer)
    if not file.is_file():
        abort(404)
    school = kept.get("school") or {}
    name = download_name(school.get("name"), answer)
    audit("usb.answer_download", name[:100], {"import": entry.id}, school_id=entry.school_id)
    return send_file(
        file,
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=name,
        max_age=0,
    )


@bp.get("/usb/imports/<entry_id>/receipt")
@role_required(IMPORT_ROLE)
def usb_receipt(entry_id: str) -> ResponseReturnValue:
    entry, _path, kept = _imported(entry_id)
    user = current_user()
    state = get_state()
    with state.db.ReadSession.begin() as s:
        sensitive = list(receipts.sensitive_refusals(kept, sensitive_form_ids(s)))
    permitted = user is not None and user.can_view_sensitive
    masked = [] if permitted else sensitive
    shown = [r for r in kept.get("refused") or [] if r not in masked]
    if permitted and sensitive:  # like every view of a teacher-ethics or dropout record
        audit(
            "usb.receipt_view",
            entry.object_id,
            {"import": entry.id, "sensitive_records": [str(r.get("record_id")) for r in sensitive]},
            school_id=entry.school_id,
        )
    offset = state.local_offset
    bundle = kept.get("bundle") or {}
    before = kept.get("imported_before")
    return render_template(
        "usb_receipt.html",
        r=kept,
        entry=entry,
        refused=shown,
        masked=masked,
        created=_when(bundle.get("created_at"), offset) if bundle else "—",
        imported=_when(kept.get("imported_at"), offset),
        before=(
            {"at": _when(before.get("at"), offset), "by": before.get("by")}
            if isinstance(before, dict)
            else None
        ),
    )
