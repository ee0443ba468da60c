"""Bureau side of sync by USB stick (issue 13, protocol revision 1.13): a school's bundle is authenticated,
applied exactly as its pushes would be (services.push.run_push, same Idempotency-Keys and op ids, so the
same bundle twice, or changes that already arrived online, are applied once), its attachments stored as
uploads are (AttachmentStore.put), and an answer bundle is written beside it: the push answers, and every
pull page the device would read since its cursor (services.changes.pull), with the definitions of the form
versions they announce.

    result = import_file(state, Path("S001_20261128-1000_1a2b3c4d.usbsync"))
    print("\\n".join(result.receipt_lines()))    # the 回执 of sync_server.dashboard.usb_receipt, as text

Revision 1.16: a bundle of format 2 (any of its parts given; `result.paths` lists them all) is read as a
stream, its attachments spooled and checked before anything is applied, and answered in format 2 (parts of
`part_bytes`; `result.answer_paths`); a format-1 bundle is answered in format 1. The bundle's device token is
taken as a request's (rotation), and the answer hands the next one; after a server restore the answer carries
`restart` (nothing applied) so the device heals by stick. import_paths imports the parts of one bundle once.

Revision 1.19: the bundle's update report is kept as a pull's, and, given `carry` (the update repository), the
answer carries the release the online offer names for the device, as files python-tuf verifies at the school.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import mmap
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forms import usb_bundle as U
from forms import usb_files as F
from forms import usb_parts as P
from forms import usb_stream as S
from sync_server import updates as UP
from sync_server.errors import ApiError, ServiceError
from sync_server.json_text import JsonInputError, strict_loads
from sync_server.models import Device
from sync_server.push_batch import push_batch
from sync_server.services import generation
from sync_server.services.attachments import SHA256_RE, PartialQuota
from sync_server.services.changes import current_seq, pull
from sync_server.services.common import IDEMPOTENCY_KEY_RE, audit
from sync_server.services.forms import get_version
from sync_server.services.pin_reset import encoded_reset_key
from sync_server.services.push import parse_batch
from sync_server.services.schools import (
    DeviceInfo,
    TokenKind,
    _info,
    _with_school,
    adopt_token,
    issue_next_token,
    match_token,
    touch_device,
)
from sync_server.state import ServerState

log = logging.getLogger(__name__)

SERVER_APP = "sync-server"
ROTATION_HEADER = "Sync-Token-Rotation"  # in a bundle's `headers`, as on a pull (protocol 1.9)
PLATFORM_HEADER = "Sync-Client-Platform"  # in a bundle's `headers`, as on a pull (protocol 1.18)
UPDATE_ROOT_HEADER = "Sync-Update-Root"  # in a bundle's `headers` (1.19): the update root it trusts
MAX_ROOT_CHAIN = 1000
MB = 1024 * 1024


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
    paths: list[Path] = field(default_factory=list)  # every part of the bundle (format 2), in order
    answer_paths: list[Path] = field(
        default_factory=list
    )  # every part of the answer; [0] is answer_path
    # The server was restored since the device last heard from it (409 generation_changed online): nothing
    # applied; the answer tells the device to heal, and its next bundle sends again what the server lacks.
    restart: dict[str, Any] | None = None
    # Applied, but its answer could not be written (the folder full or gone): importing it again answers it.
    answer_error: U.BundleError | None = None
    # A client update offered to this device (protocol 1.19): {version, target, platform, bytes, included}
    update: dict[str, Any] | None = None

    # The 回执 (sync_server.dashboard.usb_receipt.build: one model for the command line and U盘数据) and its
    # lines as the command line prints them and writes them beside the bundle (_回执.txt).
    receipt: dict[str, Any] | None = None
    lines: list[str] = field(default_factory=list)

    def receipt_lines(self) -> list[str]:
        return self.lines

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
            "parts": [str(p) for p in self.paths],
            "answer_parts": [str(p) for p in self.answer_paths],
            "restart": self.restart,
            "update": self.update,
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


def _bureau_words(exc: U.BundleError) -> U.BundleError:
    """A refusal as the bureau says it: the shared check's 'or not meant for this computer' is the school's
    side; here a bundle that fails it was not written by a computer enrolled on this server."""
    zh = exc.message_zh.replace("，或不是发给本机的", "，或不是本服务器登记的电脑导出的")
    en = exc.message_en.replace(
        "or not meant for this device", "or not written by a computer enrolled on this server"
    )
    return exc if (zh, en) == (exc.message_zh, exc.message_en) else U.BundleError(exc.code, zh, en)


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
        and isinstance(a.get("data"), str | Path)
        for a in attachments
    ):
        raise _malformed("attachments")
    if not isinstance(cursor, int) or isinstance(cursor, bool) or cursor < 0:
        raise _malformed("cursor")
    return batches, attachments, cursor


@dataclass(frozen=True)
class _File:
    sha256: str
    size: int
    name: str | None
    data: bytes | Path  # format 1: the bytes; format 2: the spooled file, its sha256 checked


def _checked_attachments(attachments: list[dict[str, Any]]) -> list[_File]:
    """Every attachment checked against its sha256 before anything is applied (format 2's were checked
    as they were spooled)."""
    out = []
    for a in attachments:
        name = a.get("filename")
        name = name if isinstance(name, str) else None
        if isinstance(a["data"], Path):
            out.append(_File(a["sha256"], a["data"].stat().st_size, name, a["data"]))
            continue
        data = U.unb64(a["data"])
        if data is None or hashlib.sha256(data).hexdigest() != a["sha256"]:
            raise _malformed(f"attachment {a['sha256'][:12]}")
        out.append(_File(a["sha256"], len(data), name, data))
    return out


def _standing(
    state: ServerState, device: DeviceInfo, headers: Any, cursor: int
) -> generation.Standing | generation.Restart:
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
    return generation.check(
        state.db.Session,
        state.db.ReadSession,
        device_id=device.device_id,
        school_id=device.school_id,
        claimed=claimed,
        cursor=cursor,
        now=state.now(),
        proven=generation.proof_holds(secret, claimed, cursor, proof),
    )


def _restored_refused() -> U.BundleError:
    return _refuse(
        "bundle_generation_changed",
        "县教育局服务器的数据库已从备份恢复，这台电脑的程序版本较旧，需要先联网同步一次（自动重新发送服务器缺少的记录）",
        "the bureau server was restored from a backup; this computer's program is older and must sync "
        "online once first (it sends again what the server lacks)",
    )


def _wrong_kind() -> U.BundleError:
    return _refuse(
        "bundle_wrong_kind",
        "这是教育局发给学校的答复文件，应在学校的电脑上导入",
        "this is the bureau's answer to a school; import it on the school's computer",
    )


def _adopt_token(state: ServerState, device: DeviceInfo, token: Any) -> None:
    """The token the device held when it wrote the bundle (format 2), taken as a request's would be: the
    next token (or one ahead of a restored database) becomes the current one and retires the one before
    (protocol 1.9), so rotation goes on for a PC that only syncs by stick. A token retired since is no
    reason to refuse: a bundle written before the link came back (and the PC synced online) is common,
    and what it carries is applied exactly once all the same."""
    if not isinstance(token, str) or len(token) > 200:
        return
    secret = str(state.config["SECRET_KEY"])
    with state.db.Session.begin() as session:
        match = match_token(session, token, secret=secret)
        if match is None or match.device.device_id != device.device_id:
            return
        if match.kind == TokenKind.RETIRED:
            log.info("USB bundle of device %s written with a retired token", device.device_id)
        elif match.kind in (TokenKind.NEXT, TokenKind.AHEAD) and match.epoch is not None:
            adopt_token(session, device.device_id, token, epoch=match.epoch, now=state.now())


def _store_attachments(
    state: ServerState, device: DeviceInfo, files: list[_File], result: ImportResult
) -> None:
    for f in files:
        try:
            with open(f.data, "rb") if isinstance(f.data, Path) else io.BytesIO(f.data) as body:
                state.attachments.put(
                    device.school_id,
                    f.sha256,
                    start=0,
                    end=f.size - 1,
                    total=f.size,
                    body=body,
                    now=state.now(),
                    quota=PartialQuota.from_config(state.config),
                    filename=f.name,
                    length_declared=True,
                )
            result.attachments += 1
        except ServiceError as exc:  # its records are refused by the push (attachment_missing)
            log.info("USB bundle attachment %s refused: %s", f.sha256[:12], exc.message_en)


def _apply(
    state: ServerState,
    device: DeviceInfo,
    header: U.Header,
    payload: dict[str, Any],
    result: ImportResult,
    carry: UpdateCarry | None = None,
) -> dict[str, Any]:
    """Apply an authentic bundle's payload; the answer's payload (format 2's layout: `since`, `pages`)."""
    batches, attachments, cursor = _payload_parts(payload)
    files = _checked_attachments(attachments)
    given = payload.get("headers")
    headers: dict[str, Any] = given if isinstance(given, dict) else {}
    report = _take_report(state, device, headers)
    if header.format >= 2:
        _adopt_token(state, device, payload.get("token"))
    standing = _standing(state, device, headers, cursor)
    secret = str(state.config["SECRET_KEY"])
    answer: dict[str, Any] = {
        "pin_reset_key": encoded_reset_key(secret, device.device_id),
        "usb_key": U.encode_key(U.device_key(secret, device.device_id)),
        "since": cursor,
    }
    if isinstance(standing, generation.Restart):
        if header.format < 2:
            raise _restored_refused()
        # As a 409 generation_changed online (nothing applied): the device heals, and its next bundle
        # sends again what the restored server lacks (protocol 1.16).
        result.restart = standing.error().details
        answer.update(restart=result.restart, push=[], pages=[], forms=[])
        _audit(state, device, header, result)
        return answer
    healing = headers.get(generation.HEAL_HEADER) == standing.generation
    _store_attachments(state, device, files, result)
    answer["push"] = [_push(state, device, b, result, healing, standing) for b in batches]
    _audit(state, device, header, result)
    pages, forms = _pull(state, device, standing, since=cursor, params=payload.get("pull_params"))
    result.pulled = sum(len(p["changes"]) for p in pages)
    answer.update(pages=pages, forms=forms)
    if carry is not None and report is not None and header.format >= 2:
        _carry_update(state, device, report, headers, carry, answer, result)
    if healing:
        generation.note_healed(
            state.db.Session,
            generation=standing.generation,
            device_id=device.device_id,
            school_id=device.school_id,
            now=state.now(),
        )
    if headers.get(ROTATION_HEADER) == "1":
        # The end of a sync (protocol 1.9): the next token, valid beside the current one until first used.
        with state.db.Session.begin() as session:
            answer["next_token"] = issue_next_token(
                session, device.device_id, secret=secret, now=state.now()
            )
    return answer


# -- client updates by stick (protocol 1.19) -------------------------------------------------------------


@dataclass(frozen=True)
class UpdateCarry:
    """Where the update repository is (`<instance>/updates`, or config UPDATES_DIR), and whether an
    answer carries the release offered to its device (U盘数据's checkbox, `usb-import --no-update`)."""

    folder: Path
    include: bool = True


def updates_folder(config: Any, instance_path: str | Path) -> Path:
    """The update repository's folder, as the update routes serve it (sync_server/updates_api.py)."""
    configured = config.get("UPDATES_DIR")
    return Path(str(configured)) if configured else Path(instance_path) / "updates"


def _take_report(
    state: ServerState, device: DeviceInfo, headers: dict[str, Any]
) -> dict[str, Any] | None:
    """The update report a bundle carries as a pull does (`Sync-Update-Report`, 1.18), checked and kept
    for 客户端更新 exactly as the pull's; None when there is none (a client before 1.19) or it cannot be
    read (logged; the bundle is imported as ever)."""
    from sync_server.updates_api import MAX_REPORT_HEADER, _report  # the pull's own check

    sent = headers.get(UP.REPORT_HEADER)
    if not isinstance(sent, str) or not sent or len(sent) > MAX_REPORT_HEADER:
        return None
    try:
        report = _report(json.loads(sent))
    except (ValueError, ApiError) as exc:
        log.info("the update report in a USB bundle of %s was not read: %s", device.device_id, exc)
        return None
    with state.db.Session.begin() as session:
        UP.record_report(session, device_id=device.device_id, now=state.now(), **report)
    return report


def _update_files(folder: Path, target: str, trusted_root: int) -> list[tuple[str, Path]] | None:
    """The repository's files a device needs to verify `target` with python-tuf from the root version it
    trusts: the roots after it (all from 1 when it trusts none yet), timestamp, snapshot, targets, and the
    archive; None when the repository lacks any."""
    metadata = folder / "metadata"
    try:
        latest = json.loads((metadata / "root.json").read_bytes())["signed"]["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(latest, int):
        return None
    first = max(0, min(trusted_root, latest)) + 1
    names = [f"metadata/{n}.root.json" for n in range(first, latest + 1)]
    names += [f"metadata/{r}.json" for r in ("timestamp", "snapshot", "targets")]
    names.append(f"targets/{target}")
    files = [(name, folder / name) for name in names]
    if not all(path.is_file() for _, path in files) or ".." in target.split("/"):
        return None
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(MB):
            digest.update(chunk)
    return digest.hexdigest()


def _file_blob(path: Path) -> Callable[[], bytes]:
    """An update file's bytes when the answer is written: memory-mapped (a release is 60-160 MB; the
    writer slices it segment by segment), so the server holds no copy of it."""

    def read() -> bytes:
        with open(path, "rb") as fh:
            if fh.seek(0, 2) < MB:
                fh.seek(0)
                return fh.read()
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)  # type: ignore[return-value]

    return read


def _carry_update(
    state: ServerState,
    device: DeviceInfo,
    report: dict[str, Any],
    headers: dict[str, Any],
    carry: UpdateCarry,
    answer: dict[str, Any],
    result: ImportResult,
) -> None:
    """The release offered to this device (the offer of an online pull: updates.offer_for), carried in the
    answer as the files python-tuf verifies, when the device lacks it (not staged, not refused at its
    first start) and `carry.include`. A 1.18 client sends no report and never gets one: it could not
    read it."""
    platform = headers.get(PLATFORM_HEADER)
    platform = platform if platform in UP.PLATFORMS else report["platform"]
    running = UP.parse_version(report["app_version"], what="app_version")
    with state.db.ReadSession.begin() as session:
        offer = UP.offer_for(
            session, running=running, platform=platform, school_code=device.school_code
        )
    if offer is None:
        return
    if report.get("target_version") == offer.version and report["state"] in (
        "staged",
        "rolled_back",
    ):
        return  # staged for its next start, or it failed there once (that PC takes it no more)
    root = headers.get(UPDATE_ROOT_HEADER)
    trusted = int(root) if isinstance(root, str) and root.isdigit() and len(root) < 6 else 0
    files = _update_files(carry.folder, offer.target, trusted)
    if files is None:
        log.warning(
            "release %s is offered but its files are not in %s", offer.version, carry.folder
        )
        return
    size = sum(path.stat().st_size for _, path in files)
    result.update = {**offer.as_json(), "bytes": size, "included": carry.include}
    if not carry.include:
        return
    answer["update"] = offer.as_json()
    answer["attachments"] = [
        {
            "sha256": _sha256(path),
            "filename": path.name,
            "update": name,  # its path in the repository: what ngclient asks for
            "blob": _file_blob(path),
        }
        for name, path in files
    ]


def update_lines(update: dict[str, Any] | None) -> list[str]:
    """The 回执's line for a client update offered to the device (the command line prints it)."""
    if not update:
        return []
    v, mb = update["version"], f"{update['bytes'] / MB:.1f}"
    if update.get("included"):
        return [
            f"  答复中包含客户端更新：新版本 {v}（{mb} MB），学校导入答复后下次启动时安装 / the answer "
            f"includes a client update of {mb} MB (version {v}); it installs at the school PC's next "
            "start after the answer is imported"
        ]
    return [
        f"  本机可更新到新版本 {v}（{mb} MB），按要求未放入答复 / version {v} ({mb} MB) is offered to "
        "this PC but was left out of the answer, as asked"
    ]


def _audit(state: ServerState, device: DeviceInfo, header: U.Header, result: ImportResult) -> None:
    with state.db.Session.begin() as session:
        # The device was heard from (学校与设备 shows when), and the import is in the audit log.
        touch_device(session, device.device_id, now=state.now())
        details: dict[str, Any] = {
            "bundle_id": header.bundle_id,
            "created_at": header.created_at,
            "received": dict(result.received),
            "duplicates": dict(result.duplicates),
            "refused": len(result.refused),
        }
        if result.restart is not None:
            details["restart"] = result.restart.get("generation")
        audit(
            session,
            now=state.now(),
            actor="usb-import",
            action="device.usb_import",
            school_id=device.school_id,
            object_id=device.device_id,
            details=details,
        )


def import_bundle(
    state: ServerState, data: bytes, *, path: Path | None = None
) -> tuple[ImportResult, bytes | None]:
    """A bundle given as bytes (format 1, or format 2 in one part): (the receipt, the answer's bytes). Kept
    for callers of revision 1.13; import_file reads bundles of any size as a stream."""
    with tempfile.TemporaryDirectory(prefix="usb-bytes-") as tmp:
        name = path.name if path is not None and path.suffix == U.SUFFIX else f"bundle{U.SUFFIX}"
        file = Path(tmp) / name
        file.write_bytes(data)
        result = import_file(state, file, receipt=False)
        answer = result.answer_path.read_bytes() if result.answer_path is not None else None
        result.path, result.answer_path, result.answer_paths = path, None, []
        result.paths = [path] if path is not None else []
        return result, answer


def _push(
    state: ServerState,
    device: DeviceInfo,
    batch: dict[str, Any],
    result: ImportResult,
    healing: bool = False,
    standing: generation.Standing | None = None,
) -> dict[str, Any]:
    """One batch exactly as POST /push takes it: its answer, or the refusal of the whole batch."""
    key, text = batch["key"], batch["body"]
    entry: dict[str, Any] = {"key": key, "body": text}
    body: Any = None
    try:
        body = strict_loads(text.encode("utf-8"))
        changes = parse_batch(body, max_changes=int(state.config["MAX_BATCH_CHANGES"]))
        heal = standing.generation if healing and standing is not None else None
        answer = push_batch(
            state, device=device, key=key, body=body, changes=changes, healing_into=heal
        )
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


UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')  # not in a file name on Windows, FAT or ext4


def with_school_name(school_name: str | None, name: str) -> str:
    """A file name with the school's name first (a person picks the right answer on a stick), as the
    command line writes answers and U盘数据 downloads them: 城关镇中心小学_S001_20261201-1531_1a2b3c4d_answer."""
    safe = UNSAFE_NAME.sub("_", school_name or "").strip()[:40]
    return f"{safe}_{name}" if safe and safe not in name else name


def answer_stem(path: Path, school_name: str | None = None) -> str:
    """The answer's name (without `.usbsync` or a part's suffix) to the bundle `path` or its first part."""
    return with_school_name(school_name, f"{P.stem_of(path)}_answer")


def answer_path_for(path: Path, school_name: str | None = None) -> Path:
    """Where the answer to the bundle `path` (or its first part, in several parts) is written."""
    return path.with_name(f"{answer_stem(path, school_name)}{U.SUFFIX}")


def import_file(
    state: ServerState,
    path: Path,
    *,
    part_bytes: int = P.DEFAULT_PART_BYTES,
    receipt: bool = True,
    imported_by: str | None = None,
    shown: str | None = None,
    carry: UpdateCarry | None = None,
) -> ImportResult:
    """Import one bundle - `path` is its file, or any of its parts - and write its answer beside it (in
    the bundle's format; in parts of at most `part_bytes`); `result.receipt` is its 回执 (by `imported_by`,
    the command line when None; the file named `shown`), written beside it as text unless `receipt` is
    False. `carry`: the update repository, so the answer carries the release offered to the device
    (protocol 1.19; None: no update is carried)."""
    from sync_server.dashboard import usb_receipt as receipts  # it reads ImportResult from here

    result = ImportResult(path)
    mark = receipts.idempotency_mark(state)
    try:
        header, result.paths = F.peek_header(path)
        if header.kind != U.TO_BUREAU:
            raise _wrong_kind()
        device = _device(state, header)
        key = U.device_key(str(state.config["SECRET_KEY"]), device.device_id)
        with tempfile.TemporaryDirectory(prefix="usb-import-") as spool:
            header, payload, result.paths = F.read_bundle(
                path, key, on_blob=F.spool_to(Path(spool))
            )
            result.header = header
            if header.kind != U.TO_BUREAU or header.device_id != device.device_id:
                raise _wrong_kind()
            _bind_installation(state, device, result.paths[0], payload)
            answer = _apply(state, device, header, payload, result, carry)
    except U.BundleError as exc:
        result.error = _bureau_words(exc)
        # Said in the 回执 (printed by the command line, shown by U盘数据): the log keeps it quietly.
        log.info("USB bundle %s refused: %s", path, exc.message_en)
    else:
        try:
            _write_answer(state, device, header, answer, result, part_bytes)
        except (OSError, U.BundleError) as exc:  # applied all the same: importing again answers it
            result.answer_error = (
                exc if isinstance(exc, U.BundleError) else P.write_failed(path.parent, exc)
            )
            log.info("the answer to %s could not be written: %s", path, exc)  # in the 回执
    result.receipt = receipts.build(
        state,
        result,
        mark=mark,
        file=shown or path.name,
        imported_by=imported_by or receipts.CLI_ACTOR,
        now=state.now(),
    )
    result.lines = receipts.text_lines(result.receipt, result, state.local_offset)
    if result.update is not None and result.error is None:
        result.receipt["update"] = result.update  # U盘数据 shows it on the import's row
        result.lines += update_lines(result.update)
    if receipt:
        _write_receipt(path, result)
    return result


def _bind_installation(state: ServerState, device: DeviceInfo, first: Path, payload: Any) -> None:
    """A device enrolled from a file is bound to the installation its authentic header names, the first
    heard from (protocol 1.15); another computer's bundle is refused whole. (Imported here:
    sync_server.enrollment_files imports this module.)"""
    from forms.usb_installation import bundle_installation
    from sync_server.enrollment_files import bind_bundle

    try:
        with open(first, "rb") as fh:
            lead = fh.read(len(U.MAGIC) + 4 + U.MAX_HEADER_BYTES)
    except OSError:
        lead = b""
    try:
        token = payload.get("token") if isinstance(payload, dict) else None
        bind_bundle(state, device.device_id, bundle_installation(lead), token)
    except ServiceError as exc:
        raise _refuse(exc.code, exc.message_zh, exc.message_en) from None


def _write_answer(
    state: ServerState,
    device: DeviceInfo,
    header: U.Header,
    answer: dict[str, Any],
    result: ImportResult,
    part_bytes: int,
) -> None:
    answer_header = U.new_header(
        kind=U.TO_SCHOOL,
        school_code=device.school_code,
        device_id=device.device_id,
        app_version=SERVER_APP,
        now=state.now(),
        in_reply_to=header.bundle_id,
        format=header.format,  # an older client reads only its own format
    )
    key = U.device_key(str(state.config["SECRET_KEY"]), device.device_id)
    bundle = result.paths[0] if result.paths else result.path
    assert bundle is not None
    stem = answer_stem(bundle, device.school_name)
    if header.format == U.FORMAT:
        target = answer_path_for(bundle, device.school_name)
        old = {k: answer.pop(k) for k in ("since", "pages")}
        answer["pull"] = {"since": old["since"], "pages": old["pages"]}
        U.write_atomic(target, U.seal(answer_header, answer, key))
        paths = [target]
    else:
        paths = F.write_bundle(
            bundle.parent, answer_header, key, answer, stem=stem, part_bytes=part_bytes
        )
    P.remove_other_parts(bundle.parent, stem, keep=paths)  # an earlier answer to the same bundle
    result.answer_path, result.answer_paths = paths[0], paths


def _write_receipt(path: Path, result: ImportResult) -> None:
    if result.header is None and result.error is None:
        return
    receipt = path.with_name(f"{P.stem_of(path)}_回执.txt")
    # UTF-8 with a BOM: Notepad on an older Windows shows the Chinese right.
    text = "\r\n".join(result.receipt_lines()) + "\r\n"
    try:
        U.write_atomic(receipt, text.encode("utf-8-sig"))
        result.receipt_path = receipt
    except (OSError, U.BundleError):
        log.info("the receipt could not be written beside %s", path)  # it is printed anyway


def bundles_of(paths: list[Path]) -> list[Path]:
    """One path per bundle: the parts of a bundle given together are imported once."""
    out: list[Path] = []
    seen: set[tuple[Path, bytes]] = set()
    for path in paths:
        info = P.read_part_info(path)
        if info is not None and info.count > 1:
            if (path.parent, info.bundle_id) in seen:
                continue
            seen.add((path.parent, info.bundle_id))
        out.append(path)
    return out


@dataclass
class FolderScan:
    """What a folder (a stick) holds: its schools' bundles (every file or part that may be one, in name
    order; bundles_of keeps one path per bundle), the answers to them left alone (the bureau's own files,
    going back to the schools) and how many other files."""

    folder: Path
    bundles: list[Path] = field(default_factory=list)
    answers: list[Path] = field(default_factory=list)
    others: int = 0


def _bundle_kind(path: Path) -> str | None:
    """The kind its header names (to the bureau, to a school), read without the key; None when it cannot
    be read (imported all the same: its 回执 says why it is refused)."""
    info = P.read_part_info(path)
    try:
        if info is not None:
            return S.header_from(info.head).kind
        return F.peek_header(path)[0].kind
    except U.BundleError:
        return None


def scan_folder(folder: Path) -> FolderScan:
    """The school bundles in `folder` (not its subfolders): a file is taken by its content (it starts like
    a bundle) or by its name (`.usbsync`, so a damaged one is refused by name, not passed over); the parts
    of a bundle in several files are found by their header, whatever their names. Answers (bundles to a
    school) are left alone. OSError when the folder cannot be listed."""
    scan = FolderScan(folder)
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            with open(path, "rb") as fh:
                lead = fh.read(len(U.MAGIC))
        except OSError:
            lead = b""
        if lead != U.MAGIC and not path.name.lower().endswith(U.SUFFIX):
            scan.others += 1
            continue
        if _bundle_kind(path) == U.TO_SCHOOL:
            scan.answers.append(path)
        else:
            scan.bundles.append(path)
    # One path per bundle; a bundle in parts by its first part (its 回执 and answer keep their names).
    firsts: dict[bytes, Path] = {}
    for path in scan.bundles:
        info = P.read_part_info(path)
        if info is not None and info.count > 1 and info.index == 1:
            firsts.setdefault(info.bundle_id, path)
    out = []
    for path in bundles_of(scan.bundles):
        info = P.read_part_info(path)
        out.append(firsts.get(info.bundle_id, path) if info is not None else path)
    scan.bundles = out
    return scan


def import_paths(
    instance: Path, db_url: str, paths: list[Path], *, include_update: bool = True
) -> list[ImportResult]:
    """`sync-server usb-import FILE...`: the server's own app (its secret key, attachment store and forms)
    on this instance and database, each bundle in turn (one refused does not stop the others; the parts of
    one bundle given together are imported once). The answers carry the client release offered to their
    device unless `include_update` is False (`--no-update`)."""
    from sync_server.app import create_app
    from sync_server.dashboard import usb_receipt as receipts
    from sync_server.state import get_state

    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": db_url})
    state = get_state(app)
    carry = UpdateCarry(updates_folder(app.config, app.instance_path), include_update)
    try:
        results = []
        for path in bundles_of(paths):
            result = import_file(state, path, carry=carry)
            receipts.keep_for_history(state, Path(app.instance_path), result)  # U盘数据 lists it
            results.append(result)
        return results
    finally:
        state.db.close()
