"""The 回执 of one bundle imported on the U盘数据 page (issue 13, item 3): what it brought per form and period,
what was refused and why, the school, the device and whether the bundle had been imported before.

Built once, right after `sync_server.usb.import_file` applied the bundle, from its ImportResult and the answer
bundle it wrote (the push answers carry each change's form, record, data and result; the answer holds no
attachments, so it is small), and kept as JSON beside the bundle in the instance's private folder: the
receipt can be printed again later exactly as it was, and its record ids and refusal reasons stay out of the
audit log, which other admins read (sensitive forms are masked when the receipt is shown, not when stored).

A change counts as received now when its batch was answered `applied` for the first time (the
Idempotency-Key was not held before this import), as held before when its batch was a replay or it was
answered `duplicate`/`superseded`, and as refused as the ImportResult says - the same accounting as
`ImportResult.received`/`duplicates`; when the two disagree, the per-period split is left out and the
per-form counts of the ImportResult are shown.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from forms import usb_bundle as U
from forms import usb_files as F
from forms.display import zone_label
from forms.periods import record_period
from sync_server import reporting
from sync_server.models import AuditEntry, Device, IdempotencyKey, Record, School
from sync_server.private_files import opener, private_dir
from sync_server.services.common import audit, iso, naive_utc
from sync_server.services.forms import FORM_CACHE
from sync_server.state import ServerState
from sync_server.usb import ImportResult

log = logging.getLogger(__name__)

ACTION = "usb.import"  # the audit entry of each bundle imported (who, when, which file): the page's history
CLI_ACTOR = "命令行"  # who imported with `sync-server usb-import`
FOLDER = "usb_imports"  # under the instance: one folder per upload (or command), receipts and answers kept
RECEIPT_SUFFIX = ".receipt.json"
NO_PERIOD = "—"
_CHUNK = 500


@dataclass(frozen=True)
class Change:
    op_id: str
    record_id: str
    form_id: str
    form_version: str
    data: dict[str, Any] | None
    outcome: str  # received duplicate refused


def idempotency_mark(state: ServerState) -> int:
    """The newest Idempotency-Key row now: a batch whose key row is newer was pushed by the import."""
    with state.db.ReadSession.begin() as s:
        return int(s.execute(select(func.max(IdempotencyKey.id))).scalar_one() or 0)


def _loads(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _answer_payload(state: ServerState, result: ImportResult) -> dict[str, Any] | None:
    if result.answer_path is None or result.header is None:
        return None
    key = U.device_key(str(state.config["SECRET_KEY"]), result.header.device_id)
    try:
        # An update the answer carries (protocol 1.19) is skipped, not read back.
        _header, payload, _parts = F.read_bundle(
            result.answer_path, key, on_blob=lambda _item, frame: frame.drain()
        )
    except (OSError, U.BundleError) as exc:
        log.warning("the answer %s could not be read back: %s", result.answer_path, exc)
        return None
    return payload if isinstance(payload, dict) else None


def _replayed_keys(s: Session, device_id: str, keys: list[str], mark: int) -> set[str]:
    out: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        out.update(
            s.execute(
                select(IdempotencyKey.key).where(
                    IdempotencyKey.device_id == device_id,
                    IdempotencyKey.key.in_(keys[start : start + _CHUNK]),
                    IdempotencyKey.id <= mark,
                )
            ).scalars()
        )
    return out


def _changes(state: ServerState, result: ImportResult, mark: int) -> list[Change] | None:
    """Every change of the bundle with what became of it; None when the answer cannot be read."""
    payload = _answer_payload(state, result)
    pushed = payload.get("push") if payload is not None else None
    if not isinstance(pushed, list) or result.header is None:
        return None
    refused = {r.op_id for r in result.refused}
    entries = [e for e in pushed if isinstance(e, dict)]
    keys = [str(e.get("key")) for e in entries]
    with state.db.ReadSession.begin() as s:
        replayed = _replayed_keys(s, result.header.device_id, keys, mark)
    out: list[Change] = []
    for entry in entries:
        body, answer = _loads(entry.get("body")), _loads(entry.get("answer"))
        sent = body.get("changes") if isinstance(body, dict) else None
        results = answer.get("results") if isinstance(answer, dict) else None
        by_op = {
            str(r.get("op_id")): str(r.get("result"))
            for r in (results if isinstance(results, list) else [])
            if isinstance(r, dict)
        }
        for c in sent if isinstance(sent, list) else []:
            if not isinstance(c, dict):
                continue
            op_id = str(c.get("op_id"))
            kind = by_op.get(op_id)
            if op_id in refused or kind is None:
                outcome = "refused"
            elif kind == "applied" and entry.get("key") not in replayed:
                outcome = "received"
            else:
                outcome = "duplicate"
            data = c.get("data")
            out.append(
                Change(
                    op_id,
                    str(c.get("record_id")),
                    str(c.get("form_id")),
                    str(c.get("form_version")),
                    data if isinstance(data, dict) else None,
                    outcome,
                )
            )
    return out


class _Forms:
    """Form titles, sensitivity and record periods, for one receipt."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.titles: dict[str, str] = {}
        self.sensitive: dict[str, bool] = {}

    def describe(self, form_id: str, version: str) -> None:
        if form_id in self.titles:
            return
        form = FORM_CACHE.lookup(self.s, form_id, version)
        found = reporting.latest_form(self.s, form_id) if form is None else None
        form = form or (found[1] if found else None)
        self.titles[form_id] = (form.title.get("zh") if form else None) or form_id
        self.sensitive[form_id] = bool(form and form.settings.sensitive)

    def period(self, c: Change) -> tuple[str, str]:
        """(period key, how the bureau says it), NO_PERIOD for none."""
        form = FORM_CACHE.lookup(self.s, c.form_id, c.form_version)
        if form is None:
            found = reporting.latest_form(self.s, c.form_id)
            form = found[1] if found else None
        if form is None or not reporting.is_periodic(form):
            return NO_PERIOD, NO_PERIOD
        data = c.data
        if data is None:  # a deletion: the period the record was in
            rec = self.s.get(Record, c.record_id)
            data = rec.data if rec is not None and isinstance(rec.data, dict) else {}
        key = record_period(form, data)
        if key is None:
            return NO_PERIOD, NO_PERIOD
        return key, reporting.period_label(form.settings.period, key, short=True)


def _rows(changes: list[Change], forms: _Forms) -> list[dict[str, Any]]:
    counts: dict[tuple[str, str], Counter[str]] = {}
    labels: dict[tuple[str, str], str] = {}
    for c in changes:
        if c.outcome == "refused":
            continue
        forms.describe(c.form_id, c.form_version)
        key, label = forms.period(c)
        counts.setdefault((c.form_id, key), Counter())[c.outcome] += 1
        labels[(c.form_id, key)] = label
    return [
        _row(forms, form_id, label=labels[(form_id, key)], period=key, counted=counted)
        for (form_id, key), counted in sorted(counts.items())
    ]


def _row(
    forms: _Forms, form_id: str, *, label: str, period: str, counted: Counter[str]
) -> dict[str, Any]:
    return {
        "form_id": form_id,
        "title": forms.titles.get(form_id, form_id),
        "sensitive": forms.sensitive.get(form_id, False),
        "period": period,
        "period_label": label,
        "received": counted["received"],
        "duplicates": counted["duplicate"],
    }


def _per_form_rows(result: ImportResult, forms: _Forms) -> list[dict[str, Any]]:
    out = []
    for form_id in sorted(set(result.received) | set(result.duplicates)):
        forms.describe(form_id, "")
        counted = Counter(received=result.received[form_id], duplicate=result.duplicates[form_id])
        out.append(_row(forms, form_id, label="（未按周期细分）", period="", counted=counted))
    return out


def _agrees(changes: list[Change], result: ImportResult) -> bool:
    received = Counter(c.form_id for c in changes if c.outcome == "received")
    duplicates = Counter(c.form_id for c in changes if c.outcome == "duplicate")
    return received == +result.received and duplicates == +result.duplicates


def _refusals(
    result: ImportResult, changes: list[Change] | None, forms: _Forms
) -> list[dict[str, Any]]:
    by_op = {c.op_id: c for c in changes or []}
    out = []
    for r in result.refused:
        change = by_op.get(r.op_id)
        forms.describe(r.form_id, change.form_version if change else "")
        label = forms.period(change)[1] if change is not None else NO_PERIOD
        out.append(
            {
                "form_id": r.form_id,
                "title": forms.titles.get(r.form_id, r.form_id),
                "sensitive": forms.sensitive.get(r.form_id, False),
                "record_id": r.record_id,
                "period_label": label,
                "reason": r.reason,
                "message_zh": r.message_zh,
                "message_en": r.message_en,
            }
        )
    return out


def imports() -> Select[AuditEntry]:
    """The page's imports (audit entries `usb.import`), any order."""
    return select(AuditEntry).where(AuditEntry.action == ACTION)


def upload(folder: str) -> Select[AuditEntry]:
    """The imports of one upload (the files given at once), in the order they were imported."""
    return (
        imports().where(AuditEntry.details["folder"].as_string() == folder).order_by(AuditEntry.id)
    )


def first_import(s: Session, bundle_id: str) -> dict[str, Any] | None:
    """How this bundle was imported before (the page's entry: when and by whom; else the command line's
    device.usb_import entry, when there are two: the one just written and an earlier one)."""
    bid = AuditEntry.details["bundle_id"].as_string()
    page = s.execute(
        select(AuditEntry.at, AuditEntry.actor)
        .where(AuditEntry.action == ACTION, bid == bundle_id)
        .order_by(AuditEntry.id)
        .limit(1)
    ).first()
    if page is not None:
        return {"at": iso(page[0]), "by": None if page[1] == CLI_ACTOR else page[1]}
    core = s.execute(
        select(AuditEntry.at)
        .where(AuditEntry.action == "device.usb_import", bid == bundle_id)
        .order_by(AuditEntry.id)
        .limit(2)
    ).all()
    if len(core) == 2:
        return {"at": iso(core[0][0]), "by": None}
    return None


def _claimed_school(s: Session, path: Path | None) -> dict[str, Any] | None:
    """The school a refused bundle's header names (read without the key, so not proven): staff know
    which school to ask for a new file."""
    if path is None:
        return None
    try:
        code = F.peek_header(path)[0].school_code
    except (OSError, U.BundleError):
        return None
    name = s.execute(select(School.name).where(School.code == code)).scalar_one_or_none()
    return {"code": code, "name": name}


def build(
    state: ServerState,
    result: ImportResult,
    *,
    mark: int,
    file: str,
    imported_by: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """The receipt of one imported (or refused) bundle, as kept beside it."""
    h = result.header
    changes = _changes(state, result, mark) if h is not None else None
    with state.db.ReadSession.begin() as s:
        forms = _Forms(s)
        if changes is not None and _agrees(changes, result):
            rows = _rows(changes, forms)
        else:
            if changes is not None:
                log.warning("USB receipt of %s: the answer's counts differ from the import's", file)
            rows = _per_form_rows(result, forms)
        refused = _refusals(result, changes, forms)
        school = device = None
        if h is not None:
            found = s.execute(
                select(School.code, School.name, Device.name)
                .join(Device, Device.school_id == School.id)
                .where(Device.id == h.device_id)
            ).first()
            if found is not None:
                school = {"code": found[0], "name": found[1]}
                device = {"id": h.device_id, "name": found[2]}
        replay = first_import(s, h.bundle_id) if h is not None else None
        claimed = _claimed_school(s, result.path) if school is None else None
    error = result.error
    hide = f"{result.path.parent}{os.sep}" if result.path is not None else None
    return {
        "format": 1,
        "file": file,
        "imported_at": iso(naive_utc(now)),
        "imported_by": imported_by,
        "school": school,
        "claimed_school": claimed,
        "device": device,
        "bundle": None
        if h is None
        else {"id": h.bundle_id, "created_at": h.created_at, "app_version": h.app_version},
        "error": None
        if error is None
        else {
            "code": error.code,
            "message_zh": _without(error.message_zh, hide),
            "message_en": _without(error.message_en, hide),
        },
        "answer": result.answer_path.name if result.answer_path else None,
        "answers": [
            p.name
            for p in result.answer_paths or ([result.answer_path] if result.answer_path else [])
        ],
        "parts": [p.name for p in result.paths] if len(result.paths) > 1 else [],
        "rows": rows,
        "refused": refused,
        "received": sum(result.received.values()),
        "duplicates": sum(result.duplicates.values()),
        "attachments": result.attachments,
        "pulled": result.pulled,
        "imported_before": replay,
        # The server was restored from a backup since the device last heard from it: nothing applied; the
        # answer makes the PC heal, and its next bundle brings again what the server lacks.
        "restart": result.restart is not None,
    }


def _without(message: str, folder: str | None) -> str:
    """A message without the server's own folder (it names files as the staff member gave them)."""
    return message.replace(folder, "") if folder else message


def receipt_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + RECEIPT_SUFFIX)


def save(bundle: Path, receipt: dict[str, Any]) -> Path:
    """The receipt as JSON beside the bundle (owner-only, like everything under the instance)."""
    path = receipt_path(bundle)
    with open(path, "w", encoding="utf-8", opener=opener) as fh:
        json.dump(receipt, fh, ensure_ascii=False, indent=1)
    return path


def load(bundle: Path) -> dict[str, Any] | None:
    try:
        with open(receipt_path(bundle), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def sensitive_refusals(receipt: dict[str, Any], hidden: set[str]) -> Iterator[dict[str, Any]]:
    for r in receipt.get("refused") or []:
        if r.get("sensitive") or r.get("form_id") in hidden:
            yield r


def new_folder(state: ServerState) -> str:
    """The folder of one upload or one command under <instance>/usb_imports."""
    return f"{naive_utc(state.now()):%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"


def audit_details(receipt: dict[str, Any], *, folder: str, stored: str) -> dict[str, Any]:
    """What the audit entry `usb.import` keeps (the history's counts; the receipt stays in the file)."""
    return {
        "folder": folder,
        "stored": stored,
        "bundle_id": (receipt["bundle"] or {}).get("id"),
        "device_id": (receipt["device"] or {}).get("id"),
        "received": receipt["received"],
        "duplicates": receipt["duplicates"],
        "refused": len(receipt["refused"]),
        "error": (receipt["error"] or {}).get("code"),
    }


def school_id_of(s: Session, receipt: dict[str, Any]) -> int | None:
    if receipt["school"] is None:
        return None
    found = s.execute(select(School.id).where(School.code == receipt["school"]["code"]))
    return found.scalar_one_or_none()


def keep_for_history(state: ServerState, instance: Path, result: ImportResult) -> None:
    """A bundle imported with `sync-server usb-import` in U盘数据's history as one imported on the page: its
    receipt and a copy of its answer under <instance>/usb_imports/<folder>/ (the bundle stays on the
    stick), and the same audit entry `usb.import` (by 命令行), so the answer can be downloaded again."""
    receipt = result.receipt
    if receipt is None or result.path is None:
        return
    folder = new_folder(state)
    target = instance / FOLDER / folder
    stored = result.path.name
    try:
        private_dir(target)
        for answer in result.answer_paths:
            with open(answer, "rb") as src, open(target / answer.name, "xb", opener=opener) as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
        save(target / stored, receipt)
    except OSError as exc:  # imported all the same; the history then shows the audit entry's counts
        log.error("the receipt of %s could not be kept under %s: %s", stored, target, exc)
    with state.db.Session.begin() as s:
        audit(
            s,
            now=state.now(),
            actor=CLI_ACTOR,
            action=ACTION,
            school_id=school_id_of(s, receipt),
            object_id=str(receipt["file"])[:100],
            details=audit_details(receipt, folder=folder, stored=stored),
        )


def local_time(value: Any, offset: dt.timedelta) -> str:
    """An ISO UTC time (…Z) in the bureau's time, to the minute."""
    try:
        moment = dt.datetime.fromisoformat(str(value).rstrip("Z"))
    except ValueError:
        return "—"
    return (naive_utc(moment) + offset).strftime("%Y-%m-%d %H:%M")


def text_lines(receipt: dict[str, Any], result: ImportResult, offset: dt.timedelta) -> list[str]:
    """The receipt as the command line prints it and writes it beside the bundle (_回执.txt): what the page's
    回执 shows - school, device, form titles, times in the bureau's time - in Chinese and English."""
    zone = zone_label(offset)
    error = receipt.get("error")
    school = receipt.get("school") or receipt.get("claimed_school")
    who = (
        f"{school.get('name') or ''}（{school['code']}）" if school else "学校未知 / school unknown"
    )
    if error is not None:
        return [
            f"回执 {receipt['file']}（{who}）：已拒收，未导入任何数据 / refused, nothing imported",
            f"  {error['message_zh']} / {error['message_en']}",
        ]
    bundle = receipt.get("bundle") or {}
    device = (receipt.get("device") or {}).get("name") or "—"
    lines = [
        f"回执 {receipt['file']}：{who}，设备“{device}”，文件生成于 {local_time(bundle.get('created_at'), offset)}"
        f"（{zone}），导入于 {local_time(receipt.get('imported_at'), offset)}（{zone}）",
    ]
    before = receipt.get("imported_before")
    if isinstance(before, dict):
        by = f"由 {before['by']} " if before.get("by") else "用命令行"
        lines.append(
            f"  此文件已于 {local_time(before.get('at'), offset)} {by}导入过，本次未重复保存任何记录 / "
            "imported before; nothing was stored twice"
        )
    for row in receipt.get("rows") or []:
        period = row.get("period_label")
        label = row["title"] + (f"（{period}）" if period and period != NO_PERIOD else "")
        lines.append(
            f"  {label}：收到 {row['received']} 条"
            + (f"（另有 {row['duplicates']} 条先前已收到）" if row["duplicates"] else "")
            + f" / received {row['received']}"
            + (f" ({row['duplicates']} held before)" if row["duplicates"] else "")
        )
    if receipt.get("restart"):
        lines.append(
            "  服务器已从备份恢复：本次未导入，请把答复文件带回学校导入，再导出一次带来 / the server was "
            "restored from a backup: nothing imported this time; take the answer back to the school, "
            "import it there, and bring a new export"
        )
    elif not receipt.get("rows"):
        lines.append("  没有新的记录 / no changes")
    for r in receipt.get("refused") or []:
        lines.append(
            f"  拒收 {r['title']} {str(r['record_id'])[:8]}：{r['message_zh']} / refused: {r['message_en']}"
        )
    lines.append(
        f"  附件 {receipt['attachments']} 个，回传 {receipt['pulled']} 项 / {receipt['attachments']} "
        f"attachments, {receipt['pulled']} items back"
    )
    if result.answer_path is not None:
        lines.append(f"  答复文件 / answer: {result.answer_path}")
    if result.answer_error is not None:
        lines.append(
            f"  答复文件未能写出，再导入一次即可（已收到的不会重复）：{result.answer_error.message_zh} / "
            f"the answer was not written; import the file again (nothing is stored twice): "
            f"{result.answer_error.message_en}"
        )
    return lines


REFUSED_KEEP_DAYS = (
    30  # a refused file stays this long under usb_imports/ for the IT person to look at
)


@dataclass(frozen=True)
class Removed:
    files: int
    bytes: int


def remove_refused(instance: Path, *, now: dt.datetime, days: float = REFUSED_KEEP_DAYS) -> Removed:
    """`sync-server clean-uploads`: in the usb_imports/ folders older than `days` (by their names' UTC
    time), every file that is neither a receipt nor an answer a receipt names - refused bundles, their
    parts, anything left over. Receipts and answers stay: U盘数据's history shows and downloads them."""
    cutoff = naive_utc(now) - dt.timedelta(days=days)
    files = size = 0
    root = instance / FOLDER
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            made = dt.datetime.strptime(folder.name[:15], "%Y%m%d-%H%M%S")
        except ValueError:
            continue
        if not folder.is_dir() or made > cutoff:
            continue
        receipts = [p for p in folder.iterdir() if p.name.endswith(RECEIPT_SUFFIX)]
        keep = {p.name for p in receipts}
        for p in receipts:
            kept = load(p.with_name(p.name[: -len(RECEIPT_SUFFIX)])) or {}
            keep.update(n for n in kept.get("answers") or [] if isinstance(n, str))
        for path in folder.iterdir():
            if path.name in keep or not path.is_file() or path.is_symlink():
                continue
            try:
                n = path.stat().st_size
                path.unlink()
            except OSError as exc:
                log.warning("%s could not be removed: %s", path, exc)
                continue
            files, size = files + 1, size + n
    return Removed(files, size)
