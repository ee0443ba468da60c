"""Bureau side of sync by USB stick (issue 13, protocol revision 1.13): a school's bundle is authenticated,
applied exactly as its pushes would be (services.push.run_push, same Idempotency-Keys and op ids, so the
same bundle twice, or changes that already arrived online, are applied once), its attachments stored as
uploads are (AttachmentStore.put), and an answer bundle is written beside it: the push answers, and every
pull page the device would read since its cursor (services.changes.pull), with the definitions of the form
versions they announce.

    result = import_file(state, Path("S001_20261128-1000_1a2b3c4d.usbsync"))
    print("\\n".join(result.receipt_lines()))
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forms import usb_bundle as U
from sync_server.errors import ServiceError
from sync_server.models import Device
from sync_server.push_batch import push_batch
from sync_server.services import generation
from sync_server.services.attachments import SHA256_RE, PartialQuota
from sync_server.services.changes import current_seq, pull
from sync_server.services.common import (
    IDEMPOTENCY_KEY_RE,
    JsonInputError,
    audit,
    strict_loads,
)
from sync_server.services.forms import get_version
from sync_server.services.pin_reset import encoded_reset_key
from sync_server.services.push import parse_batch
from sync_server.services.schools import DeviceInfo, _info, _with_school, touch_device
from sync_server.state import ServerState

log = logging.getLogger(__name__)

SERVER_APP = "sync-server"


@dataclass
class Refusal:
    op_id: str
    record_id: str
    form_id: str
    reason: str
    message_zh: str
    message_en: str


@dataclass
class ImportResult:
    """What one bundle brought (the 回执)."""

    path: Path | None
    header: U.Header | None = None
    answer_path: Path | None = None
    receipt_path: Path | None = None  # the 回执 as a text file beside the bundle, for printing
    received: Counter[str] = field(default_factory=Counter)  # form id -> changes applied now
    duplicates: Counter[str] = field(default_factory=Counter)  # form id -> already held
    refused: list[Refusal] = field(default_factory=list)
    attachments: int = 0
    pulled: int = 0
    error: U.BundleError | None = None  # the bundle refused whole: nothing applied

    def receipt_lines(self) -> list[str]:
        name = self.path.name if self.path else "?"
        if self.error is not None:
            return [
                f"回执 {name}：已拒收，未导入任何数据 / refused, nothing imported",
                f"  {self.error.message_zh} / {self.error.message_en}",
            ]
        h = self.header
        assert h is not None
        lines = [f"回执 {name}：学校 {h.school_code}，设备 {h.device_id}，{h.created_at}"]
        for form_id in sorted(set(self.received) | set(self.duplicates)):
            lines.append(
                f"  {form_id}：收到 {self.received[form_id]} 条"
                + (
                    f"（另有 {self.duplicates[form_id]} 条先前已收到）"
                    if self.duplicates[form_id]
                    else ""
                )
                + f" / received {self.received[form_id]}"
                + (f" ({self.duplicates[form_id]} held before)" if self.duplicates[form_id] else "")
            )
        if not self.received and not self.duplicates:
            lines.append("  没有新的记录 / no changes")
        for r in self.refused:
            lines.append(
                f"  拒收 {r.form_id} {r.record_id[:8]}：{r.message_zh} / refused: {r.message_en}"
            )
        lines.append(
            f"  附件 {self.attachments} 个，回传 {self.pulled} 项 / {self.attachments} attachments, "
            f"{self.pulled} items back"
        )
        if self.answer_path is not None:
            lines.append(f"  答复文件 / answer: {self.answer_path}")
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path) if self.path else None,
            "answer": str(self.answer_path) if self.answer_path else None,
            "receipt": str(self.receipt_path) if self.receipt_path else None,
            "school_code": self.header.school_code if self.header else None,
            "device_id": self.header.device_id if self.header else None,
            "received": dict(self.received),
            "duplicates": dict(self.duplicates),
            "refused": [r.__dict__ for r in self.refused],
            "attachments": self.attachments,
            "pulled": self.pulled,
            "error": None
            if self.error is None
            else {
                "code": self.error.code,
                "message_zh": self.error.message_zh,
                "message_en": self.error.message_en,
            },
        }


def _refuse(code: str, zh: str, en: str) -> U.BundleError:
    return U.BundleError(code, f"{zh}；未导入任何数据", f"{en}; nothing was imported")


def _device(state: ServerState, header: U.Header) -> DeviceInfo:
    """The bundle's device, if it may still sync: known, of the school the header names, not revoked."""
    with state.db.ReadSession.begin() as session:
        found = _with_school(session, Device.id == header.device_id)
        device = None if found is None else _info(*found)
    if device is None:
        raise _refuse(
            "bundle_unknown_device",
            f"U盘同步文件来自本服务器不认识的设备 {header.device_id[:12]}",
            f"the USB sync file comes from a device this server does not know ({header.device_id[:12]})",
        )
    if device.school_code != header.school_code:
        raise _refuse(
            "bundle_wrong_school",
            f"U盘同步文件写明学校 {header.school_code}，但设备登记在学校 {device.school_code}",
            f"the USB sync file names school {header.school_code}, but the device is enrolled for "
            f"school {device.school_code}",
        )
    if device.revoked_at is not None:
        raise _refuse(
            "bundle_device_revoked",
            f"设备“{device.name}”（{device.school_name}）的登记已被撤销，不接受它的U盘同步文件",
            f"the device '{device.name}' ({device.school_code}) was revoked; its USB sync files are "
            "not accepted",
        )
    if device.replaced_by is not None:
        raise _refuse(
            "bundle_device_replaced",
            f"设备“{device.name}”已重新登记，这个旧登记的U盘同步文件不再接受",
            f"the device '{device.name}' was enrolled again; USB sync files of its earlier enrollment "
            "are not accepted",
        )
    return device


def _malformed(what: str) -> U.BundleError:
    return _refuse(
        "bundle_malformed",
        f"U盘同步文件内容格式不对（{what}）",
        f"the USB sync file's content is malformed ({what})",
    )


def _payload_parts(
    payload: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    batches, attachments, cursor = (
        payload.get("batches"),
        payload.get("attachments"),
        payload.get("cursor"),
    )
    if not isinstance(batches, list) or not all(
        isinstance(b, dict)
        and isinstance(b.get("key"), str)
        and IDEMPOTENCY_KEY_RE.fullmatch(b["key"])
        and isinstance(b.get("body"), str)
        for b in batches
    ):
        raise _malformed("batches")
    if not isinstance(attachments, list) or not all(
        isinstance(a, dict)
        and isinstance(a.get("sha256"), str)
        and SHA256_RE.match(a["sha256"])
        and isinstance(a.get("data"), str)
        for a in attachments
    ):
        raise _malformed("attachments")
    if not isinstance(cursor, int) or isinstance(cursor, bool) or cursor < 0:
        raise _malformed("cursor")
    return batches, attachments, cursor


def _decoded_attachments(attachments: list[dict[str, Any]]) -> list[tuple[str, bytes, str | None]]:
    """Every attachment checked against its sha256 before anything is applied."""
    out = []
    for a in attachments:
        data = U.unb64(a["data"])
        if data is None or hashlib.sha256(data).hexdigest() != a["sha256"]:
            raise _malformed(f"attachment {a['sha256'][:12]}")
        name = a.get("filename")
        out.append((a["sha256"], data, name if isinstance(name, str) else None))
    return out


def _standing(
    state: ServerState, device: DeviceInfo, headers: Any, cursor: int
) -> generation.Standing:
    """The device's generation against the server's, from the headers its pushes would carry."""
    headers = headers if isinstance(headers, dict) else {}
    claimed = headers.get(generation.GENERATION_HEADER)
    if not isinstance(claimed, str) or not (
        generation.GENERATION_RE.fullmatch(claimed) or claimed == generation.UNKNOWN
    ):
        claimed = None
    proof = headers.get(generation.PROOF_HEADER)
    proof = proof if isinstance(proof, str) and generation.PROOF_RE.fullmatch(proof) else None
    secret = str(state.config["SECRET_KEY"])
    verdict = generation.check(
        state.db.Session,
        state.db.ReadSession,
        device_id=device.device_id,
        school_id=device.school_id,
        claimed=claimed,
        cursor=cursor,
        now=state.now(),
        proven=generation.proof_holds(secret, claimed, cursor, proof),
    )
    if isinstance(verdict, generation.Restart):
        raise _refuse(
            "bundle_generation_changed",
            "县教育局服务器的数据库已从备份恢复，这台电脑需要先联网同步一次（自动重新发送服务器缺少的记录）",
            "the bureau server was restored from a backup; this computer must sync online once first "
            "(it sends again what the server lacks)",
        )
    return verdict


def import_bundle(
    state: ServerState, data: bytes, *, path: Path | None = None
) -> tuple[ImportResult, bytes | None]:
    """Authenticate and apply one school bundle; (the receipt, the answer bundle's bytes). A bundle refused
    whole comes back with `error` set and no answer, nothing applied."""
    result = ImportResult(path)
    try:
        header = U.read_header(data)
        if header.kind != U.TO_BUREAU:
            raise _refuse(
                "bundle_wrong_kind",
                "这是教育局发给学校的答复文件，应在学校的电脑上导入",
                "this is the bureau's answer to a school; import it on the school's computer",
            )
        device = _device(state, header)
        secret = str(state.config["SECRET_KEY"])
        header, payload = U.open_bundle(data, U.device_key(secret, device.device_id))
        result.header = header
        batches, attachments, cursor = _payload_parts(payload)
        files = _decoded_attachments(attachments)
        standing = _standing(state, device, payload.get("headers"), cursor)
    except U.BundleError as exc:
        result.error = exc
        log.warning("USB bundle %s refused: %s", path, exc.message_en)
        return result, None
    for sha, blob, name in files:
        try:
            state.attachments.put(
                device.school_id,
                sha,
                start=0,
                end=len(blob) - 1,
                total=len(blob),
                body=io.BytesIO(blob),
                now=state.now(),
                quota=PartialQuota.from_config(state.config),
                filename=name,
                length_declared=True,
            )
            result.attachments += 1
        except ServiceError as exc:  # its records are refused by the push (attachment_missing)
            log.warning("USB bundle attachment %s refused: %s", sha[:12], exc.message_en)
    answers = [_push(state, device, b, result) for b in batches]
    with state.db.Session.begin() as session:
        # The device was heard from (学校与设备 shows when), and the import is in the audit log.
        touch_device(session, device.device_id, now=state.now())
        audit(
            session,
            now=state.now(),
            actor="usb-import",
            action="device.usb_import",
            school_id=device.school_id,
            object_id=device.device_id,
            details={
                "bundle_id": header.bundle_id,
                "created_at": header.created_at,
                "received": dict(result.received),
                "duplicates": dict(result.duplicates),
                "refused": len(result.refused),
            },
        )
    pages, forms = _pull(state, device, standing, since=cursor, params=payload.get("pull_params"))
    result.pulled = sum(len(p["changes"]) for p in pages)
    answer_header = U.new_header(
        kind=U.TO_SCHOOL,
        school_code=device.school_code,
        device_id=device.device_id,
        app_version=SERVER_APP,
        now=state.now(),
        in_reply_to=header.bundle_id,
    )
    answer = {
        "push": answers,
        "pull": {"since": cursor, "pages": pages},
        "forms": forms,
        "pin_reset_key": encoded_reset_key(secret, device.device_id),
        "usb_key": U.encode_key(U.device_key(secret, device.device_id)),
    }
    return result, U.seal(answer_header, answer, U.device_key(secret, device.device_id))


def _push(
    state: ServerState, device: DeviceInfo, batch: dict[str, Any], result: ImportResult
) -> dict[str, Any]:
    """One batch exactly as POST /push takes it: its answer, or the refusal of the whole batch."""
    key, text = batch["key"], batch["body"]
    entry: dict[str, Any] = {"key": key, "body": text}
    body: Any = None
    try:
        body = strict_loads(text.encode("utf-8"))
        changes = parse_batch(body, max_changes=int(state.config["MAX_BATCH_CHANGES"]))
        answer = push_batch(state, device=device, key=key, body=body, changes=changes)
    except (ServiceError, JsonInputError) as exc:
        zh = getattr(exc, "message_zh", "批次内容不是有效的 JSON")
        en = getattr(exc, "message_en", str(exc))
        code = getattr(exc, "code", "bad_json")
        details = dict(getattr(exc, "details", None) or {})
        entry["error"] = {"code": code, "message_zh": zh, "message_en": en, "details": details}
        sent = body.get("changes") if isinstance(body, dict) else None
        for c in sent if isinstance(sent, list) else []:
            if isinstance(c, dict):
                result.refused.append(
                    Refusal(
                        str(c.get("op_id")),
                        str(c.get("record_id")),
                        str(c.get("form_id")),
                        code,
                        zh,
                        en,
                    )
                )
        return entry
    entry["answer"] = answer.body  # the stored answer text, byte for byte as a replay gives it
    by_op = {c.op_id: c for c in changes}
    for r in strict_loads(answer.body.encode("utf-8")).get("results") or []:
        change = by_op.get(str(r.get("op_id")))
        if change is None:
            continue
        kind = r.get("result")
        if kind == "applied" and not answer.replayed:
            result.received[change.form_id] += 1
        elif kind in ("applied", "duplicate", "superseded"):
            result.duplicates[change.form_id] += 1
        else:
            result.refused.append(
                Refusal(
                    change.op_id,
                    change.record_id,
                    change.form_id,
                    str(r.get("reason") or kind),
                    str(
                        r.get("message_zh")
                        or ("与服务器上的版本冲突" if kind == "conflict" else "被拒收")
                    ),
                    str(r.get("message_en") or str(kind)),
                )
            )
    return entry


def _pull(
    state: ServerState,
    device: DeviceInfo,
    standing: generation.Standing,
    *,
    since: int,
    params: Any,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every pull page since `since`, as GET /pull gives them, and the announced form versions."""
    params = params if isinstance(params, dict) else {}
    secret = str(state.config["SECRET_KEY"])
    limit = int(state.config["PULL_MAX_LIMIT"])
    pages: list[dict[str, Any]] = []
    forms: dict[tuple[str, str], dict[str, Any]] = {}
    with state.db.ReadSession.begin() as session:
        cursor = since
        while True:
            page = pull(
                session,
                school_id=device.school_id,
                device_id=device.device_id,
                since=cursor,
                limit=limit,
                include_own=params.get("include_own") == "true",
                compact=params.get("compact") == "true",
            )
            server_seq = current_seq(session)
            pages.append(
                {
                    "changes": page.changes,
                    "cursor": page.cursor,
                    "more": page.more,
                    "generation": standing.generation,
                    "server_seq": server_seq,
                    "cursor_proof": generation.cursor_proof(
                        secret, standing.generation, page.cursor
                    ),
                }
            )
            for c in page.changes:
                if c.get("type") != "form":
                    continue
                fid, version = str(c.get("form_id")), str(c.get("version"))
                fv = get_version(session, fid, version)
                if fv is not None and (fid, version) not in forms:
                    forms[(fid, version)] = {
                        "form_id": fv.form_id,
                        "version": fv.version,
                        "sha256": fv.sha256,
                        "definition": fv.definition,
                    }
            if not page.more or page.cursor <= cursor:
                break
            cursor = page.cursor
    return pages, list(forms.values())


def answer_path_for(path: Path) -> Path:
    return path.with_name(f"{path.stem}_answer{U.SUFFIX}")


def import_file(state: ServerState, path: Path) -> ImportResult:
    """Import one bundle file and write its answer beside it (atomically)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        result = ImportResult(path)
        result.error = U.BundleError(
            "bundle_unreadable",
            f"无法读取文件 {path}：{exc.strerror or exc}",
            f"cannot read {path}: {exc.strerror or exc}",
        )
        return result
    result, answer = import_bundle(state, data, path=path)
    if answer is not None and result.header is not None:
        target = answer_path_for(path)
        U.write_atomic(target, answer)
        result.answer_path = target
    if result.header is not None or result.error is not None:
        receipt = path.with_name(f"{path.stem}_回执.txt")
        # UTF-8 with a BOM: Notepad on an older Windows shows the Chinese right.
        text = "\r\n".join(result.receipt_lines()) + "\r\n"
        try:
            U.write_atomic(receipt, text.encode("utf-8-sig"))
            result.receipt_path = receipt
        except (OSError, U.BundleError):
            log.warning("the receipt could not be written beside %s", path)  # it is printed anyway
    return result


def import_paths(instance: Path, db_url: str, paths: list[Path]) -> list[ImportResult]:
    """`sync-server usb-import FILE...`: the server's own app (its secret key, attachment store and forms)
    on this instance and database, each bundle in turn (one refused does not stop the others)."""
    from sync_server.app import create_app
    from sync_server.state import get_state

    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": db_url})
    state = get_state(app)
    try:
        return [import_file(state, path) for path in paths]
    finally:
        state.db.engine.dispose()
