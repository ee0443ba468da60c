"""Sync by USB stick on the school PC (issue 13, protocol revision 1.13). No Qt.

- export_bundle: every unsent change, as the push batches an online sync would send - stored in sync_batches
  under their Idempotency-Keys before they are written, so an online sync later sends the same batches with
  the same keys (the server replays its answer) - the attachments they use that were never uploaded, the pull
  cursor and the generation headers. Written atomically and read back; nothing is marked sent.
- import_answer: the bureau's answer, applied exactly as an online sync applies a push answer
  (apply_push_answer, and the Healer's acknowledgement) and pull pages (apply_pull_page, cursor included).
  Pages the store already read past (an older answer after a newer one, or an online sync in between) are
  skipped; push answers are safe to apply again.

Revision 1.16: bundles are written in format 2 (forms.usb_files: streamed, numbered parts below the FAT32
limit, `part_bytes`), answers of format 1 or 2 are read (any part names the whole set); both take a
`progress(done, total)` callback (called from the calling thread). The bundle carries the device token and
asks for rotation: an answer's `next_token` is kept when newer than the one held. An answer with `restart`
(the server was restored) begins the heal, as 409 generation_changed does online.

Revision 1.19: the bundle carries the update report, platform and trusted update-root version; a release the
answer carries is verified and staged as an online download is (client.update.channel.stage_carried), after
the rest of the answer is applied.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from requests.structures import CaseInsensitiveDict
from sqlalchemy import select

from client.context import ClientContext
from client.store import healing as H
from client.store import sync_state as S
from client.store.attachments import read_attachment
from client.store.models import Attachment, OutboxEntry, SyncBatch
from client.store.pin import remember_reset_key
from client.sync.engine import MAX_BATCH_BYTES, MAX_BATCH_CHANGES, ROTATION_HEADER, app_version
from client.sync.healing import Healer
from client.sync.http import Answer
from client.sync.state import SyncResult
from client.usb import history
from client.usb.key import remember_usb_key, usb_key
from forms import usb_bundle as U
from forms import usb_files as F
from forms import usb_parts as P

if TYPE_CHECKING:
    from client.update.channel import Carried

log = logging.getLogger(__name__)
_GENERATION_RE = re.compile(r"^[0-9a-f]{32}$")  # as the server names a generation (protocol 1.6)


class UsbError(U.BundleError):
    """An export or import refused, with what to do, in Chinese and English."""


Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class ExportResult:
    path: Path  # the bundle's file, or its first part
    header: U.Header
    changes: int
    batches: int
    attachments: int
    paths: list[Path] = field(default_factory=list)  # every part, in order (one when it fits)


@dataclass
class ImportResult:
    header: U.Header
    acknowledged: int = 0  # changes the answer marked sent
    rejected: list[dict[str, Any]] = field(default_factory=list)
    conflicts: int = 0
    pulled: int = 0
    pulled_conflicts: int = (
        0  # of the pulled changes, those now in conflict (counted in conflicts too)
    )
    pages_skipped: int = 0  # already read (an older answer, or an online sync in between)
    refused_batches: list[dict[str, Any]] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)  # every part of the answer read
    token_rotated: bool = False  # the answer handed a newer device token, kept (protocol 1.9)
    # The bureau's server was restored from a backup: this PC now heals (protocol 1.6/1.12), and its next
    # export sends again what the server lacks; what this answer changed is only that.
    healing_started: bool = False
    imported_before: bool = (
        False  # this very answer was imported before (applying it again changed nothing)
    )
    older: bool = False  # a newer answer was imported before this one
    # A client update the answer carried (protocol 1.19): staged for the next start, refused, or skipped.
    update: Carried | None = None


def _enrolled(ctx: ClientContext) -> tuple[S.Enrollment, bytes]:
    with ctx.store.Session() as s:
        enrollment = S.get_enrollment(s)
        key = usb_key(s)
    if enrollment is None:
        raise UsbError(
            "not_enrolled",
            "本机尚未登记，不能用U盘同步；请先登记本机",
            "this computer is not enrolled; enroll it before syncing by USB stick",
        )
    if key is None:
        raise UsbError(
            "no_usb_key",
            "本机还没有U盘同步密钥（登记时或联网同步时由教育局服务器发来）；请联网同步一次或重新登记",
            "this computer has no USB sync key yet (the bureau's server sends it at enrollment and at "
            "each online sync); sync online once or enroll again",
        )
    return enrollment, key


# -- export -----------------------------------------------------------------------------------------------

# Not in a file name on Windows (NTFS, FAT32) or ext4: the rule sync_server.usb.with_school_name names the
# bureau's answers by, so an answer's name carries the school's name once (it adds the name when absent).
UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
SCHOOL_NAME_CHARS = 40


def safe_school_name(name: str | None) -> str:
    """The school's name as a file name may carry it: unsafe characters as `_`, trimmed, at most 40 characters
    (no leading dot either: a name starting with one is hidden, and skipped as a temporary part)."""
    return UNSAFE_NAME.sub("_", name or "").strip().lstrip(".")[:SCHOOL_NAME_CHARS]


def bundle_stem(header: U.Header, school_name: str | None) -> str:
    """`<school name>_<school code>_<YYYYMMDD-HHMM Beijing>_<first 8 of the bundle id>`, as the bureau names its
    answers: staff receiving many sticks' files see which school each is from. Only a name for people: every
    reader (the bureau's import, its parts, the answer's done_files) goes by the header, and bundles of older
    clients (`S001_…`, without the name) import as before."""
    stem = U.file_stem(header)
    safe = safe_school_name(school_name)
    return f"{safe}_{stem}" if safe else stem


def _batch_key(now: dt.datetime, n: int) -> str:
    # Sorted after any online batch made at the same moment, and among themselves in order (current_batch
    # takes the oldest by created_at, then key): a record's second change must reach the server second.
    return f"u{now:%Y%m%d%H%M%S}{n:06d}-{uuid.uuid4().hex[:14]}"


def export_bundle(
    ctx: ClientContext,
    folder: Path,
    *,
    batch_changes: int = MAX_BATCH_CHANGES,
    batch_bytes: int = MAX_BATCH_BYTES,
    part_bytes: int = P.DEFAULT_PART_BYTES,
    progress: Progress | None = None,
) -> ExportResult:
    """Write every unsent change (and the photos the server lacks) as a bundle into `folder`: one file,
    or numbered parts of at most `part_bytes` (FAT32 holds 4 GiB - 1). `progress(done, total)` after each
    batch and attachment written (called from this thread). Nothing is marked sent."""
    enrollment, key = _enrolled(ctx)
    if not folder.is_dir():
        raise UsbError(
            "no_folder",
            f"找不到文件夹 {folder}（U盘是否已插好？）",
            f"no such folder: {folder} (is the stick plugged in?)",
        )
    now = ctx.clock.now()
    healer = Healer(ctx.store, ctx.clock.now, SyncResult())
    with ctx.store.Session.begin() as s:
        stored = list(
            s.execute(select(SyncBatch).order_by(SyncBatch.created_at, SyncBatch.key)).scalars()
        )
        included = {op for b in stored for op in b.op_ids}
        skip_records = S.held_record_ids(s)
        n = len(stored)
        # Never before a batch already stored (a PC clock set back since the last export): the server must
        # get a record's changes in the order they were made.
        at = max([now, *(b.created_at for b in stored)])
        # A change refused before (kept unsent with an open issue) goes alone in a batch of its own, after
        # the rest: if the bureau refuses it whole again, nothing else waits behind it.
        refused = {i.op_id for i in S.open_issues(s, kind=S.IssueKind.REJECTED) if i.op_id}
        for limit, skip in ((batch_changes, refused), (1, set())):
            while True:
                changes = S.pending_changes(
                    s,
                    limit=limit,
                    max_bytes=batch_bytes,
                    skip_ops=included | skip,
                    skip_records=skip_records,
                )
                if not changes:
                    break
                body = json.dumps(
                    {"changes": [c.wire() for c in changes]},
                    ensure_ascii=False,
                    separators=(",", ":"),
                ).encode("utf-8")
                stored.append(
                    S.store_batch(
                        s,
                        key=_batch_key(at, n),
                        op_ids=[c.op_id for c in changes],
                        body=body,
                        now=at,
                    )
                )
                included.update(c.op_id for c in changes)
                n += 1
        batches = [{"key": b.key, "body": bytes(b.body).decode("utf-8")} for b in stored]
        shas: set[str] = set()
        for b in batches:
            for change in json.loads(b["body"])["changes"]:
                shas |= S.attachment_refs(change.get("data"))
        rows = (
            list(s.execute(select(Attachment).where(Attachment.sha256.in_(sorted(shas)))).scalars())
            if shas
            else []
        )
        cursor = S.get_cursor(s)
    pull_params = healer.pull_params()
    attachments = [_attachment(ctx, att) for att in rows if att.uploaded_at is None]
    header = U.new_header(
        kind=U.TO_BUREAU,
        school_code=enrollment.school_code,
        device_id=enrollment.device_id,
        app_version=app_version(),
        now=now,
    )
    # A computer enrolled from a file names its installation in the header (protocol 1.15): the bureau binds
    # the file to the first computer heard from. (Imported here: client.enrollment_file imports this module.)
    from client.enrollment_file import installation_id
    from forms.usb_installation import with_installation

    header = with_installation(header, installation_id(ctx))
    total = len(batches) + len(attachments)
    payload = {
        "cursor": cursor,
        # What a push carries, and (protocol 1.9) the rotation a pull asks for: the answer hands the next
        # token, and the token held goes with the bundle (its first use there retires the one before).
        "headers": {
            **healer.headers(with_cursor=True),
            ROTATION_HEADER: "1",
            **_update_headers(ctx),
        },
        "token": enrollment.device_token,
        "pull_params": pull_params,
        "app_version": app_version(),
        "batches": batches,
        "attachments": attachments,
    }
    if progress is not None:
        progress(0, total)
    paths = F.write_bundle(
        folder,
        header,
        key,
        payload,
        stem=bundle_stem(header, enrollment.school_name),
        part_bytes=part_bytes,
        progress=None if progress is None else (lambda done: progress(done, total)),
    )
    with ctx.store.Session.begin() as s:
        history.remember_export(s, header.bundle_id)
    count = sum(len(json.loads(b["body"])["changes"]) for b in batches)
    log.info("USB bundle %s: %d changes, %d attachments", paths[0], count, len(attachments))
    return ExportResult(paths[0], header, count, len(batches), len(attachments), paths)


UPDATE_ROOT_HEADER = (
    "Sync-Update-Root"  # in a bundle's headers (1.19): the update root version trusted
)


def _update_headers(ctx: ClientContext) -> dict[str, str]:
    """What a pull carries for updates (protocol 1.18: the platform and the update report - in a bundle
    always, a stick sync being rare), and the version of the update root this computer trusts (1.19), so
    that the bureau's answer can carry the release offered to it with the root chain from there. Never
    fails the export."""
    from client.update import hook
    from client.update.channel import trusted_root_version
    from client.update.install import install_dir
    from client.update.state import load_state, platform_name

    headers = {hook.PLATFORM_HEADER: platform_name()}
    try:
        data_dir = ctx.store.data_dir
        headers[hook.REPORT_HEADER] = hook._header(load_state(data_dir).report(app_version()))
        headers[UPDATE_ROOT_HEADER] = str(trusted_root_version(data_dir, install_dir()))
    except Exception:  # the bundle goes without it: the bureau then carries no update
        log.warning("the update report could not be made for the USB bundle", exc_info=True)
    return headers


def _attachment(ctx: ClientContext, att: Attachment) -> dict[str, Any]:
    """An attachment the server lacks, its bytes read (and checked) only when written."""
    sha, filename = att.sha256, att.filename

    def read() -> bytes:
        data = read_attachment(ctx.store.attachments_dir, sha)
        if hashlib.sha256(data).hexdigest() != sha:
            raise UsbError(
                "attachment_damaged",
                f"附件“{filename}”在本机已损坏，请重新添加后再导出",
                f"the attachment '{filename}' is damaged on this computer; add it again, then export",
            )
        return data

    return {"sha256": sha, "filename": filename, "blob": read}


# -- import -----------------------------------------------------------------------------------------------


def _check_answer(header: U.Header, enrollment: S.Enrollment) -> None:
    if header.kind != U.TO_SCHOOL:
        raise UsbError(
            "bundle_wrong_kind",
            "这是学校导出给教育局的文件，应在教育局导入；未导入任何数据",
            "this is a school's bundle for the bureau; import it at the bureau. Nothing was imported",
        )
    if header.school_code != enrollment.school_code:
        raise UsbError(
            "bundle_wrong_device",
            f"这个答复文件是发给学校 {header.school_code} 的，不是本校（{enrollment.school_code}）；"
            "未导入任何数据",
            f"this answer is for school {header.school_code}, not this school "
            f"({enrollment.school_code}); nothing was imported",
        )
    if header.device_id != enrollment.device_id:
        raise _other_computer()


def _other_computer() -> UsbError:
    return UsbError(
        "bundle_wrong_device",
        "这个答复文件是发给本校另一台电脑的，不是本机：请在导出U盘文件的那台电脑上导入"
        "（本机数据若是从导出之前的备份恢复的，请重新导出）；未导入任何数据",
        "this answer is for another computer of this school, not this one: import it on the computer "
        "that exported the bundle (if this computer's data was restored from a backup older than the "
        "export, export again); nothing was imported",
    )


def _check_ours(
    ctx: ClientContext, header: U.Header, answers: list[tuple[dict[str, Any], Any, Any]]
) -> None:
    """Two computers enrolled from one enrollment file share the device id (so do a PC and a copy of its
    data folder): an answer is this computer's only when every change it answers was made here (the outbox
    keeps each change's op id). An answer about no change must answer a bundle exported here, when this
    computer remembers its exports."""
    ops = {str(c.get("op_id")) for _, sent, _ in answers for c in sent}
    with ctx.store.Session() as s:
        if ops:
            wanted, known = sorted(ops), set[str]()
            for at in range(0, len(wanted), 500):  # below SQLite's limit of bound parameters
                chunk = wanted[at : at + 500]
                known.update(
                    s.execute(
                        select(OutboxEntry.op_id).where(OutboxEntry.op_id.in_(chunk))
                    ).scalars()
                )
            ours = ops <= known
        else:
            ours = history.exported_here(s, header.in_reply_to) is not False
    if not ours:
        raise _other_computer()


def _malformed(what: str) -> UsbError:
    return UsbError(
        "bundle_malformed",
        f"答复文件内容格式不对（{what}）；未导入任何数据",
        f"the answer's content is malformed ({what}); nothing was imported",
    )


def _parse_answer(payload: Mapping[str, Any]) -> tuple[list[Any], list[Any], int, dict[Any, Any]]:
    push, forms = payload.get("push"), payload.get("forms")
    pull = payload.get("pull")
    if pull is None:  # format 2 streams the pages as a list of their own
        pull = {"since": payload.get("since"), "pages": payload.get("pages")}
    if not isinstance(push, list) or not all(
        isinstance(e, dict) and isinstance(e.get("key"), str) and isinstance(e.get("body"), str)
        for e in push
    ):
        raise _malformed("push")
    if not isinstance(pull, dict):
        raise _malformed("pull")
    pages, since = pull.get("pages"), pull.get("since")
    if (
        not isinstance(pages, list)
        or not isinstance(since, int)
        or not all(
            isinstance(p, dict)
            and isinstance(p.get("changes"), list)
            and all(isinstance(c, Mapping) for c in p["changes"])
            and isinstance(p.get("cursor"), int)
            and isinstance(p.get("more"), bool)
            for p in pages
        )
    ):
        raise _malformed("pull")
    if not isinstance(forms, list) or not all(isinstance(f, dict) for f in forms):
        raise _malformed("forms")
    by_version = {(str(f.get("form_id")), str(f.get("version"))): f for f in forms}
    return push, pages, since, by_version


def _minted_epoch(token: object, device_id: str) -> int | None:
    """The epoch of a token the server minted for this device (`d1.<device>.<epoch>.<mac>`, protocol 1.9);
    0 for the token of an enrollment; None for anything else."""
    if not isinstance(token, str):
        return None
    parts = token.split(".")
    if len(parts) == 4 and parts[0] == "d1":
        if parts[1] != device_id or not parts[2].isdigit():
            return None
        return int(parts[2])
    return 0


def _keep_newer_token(s: Any, enrollment: S.Enrollment, token: object) -> bool:
    """Keep the next token an answer handed only when it is newer than the one held: an older answer
    imported after a newer one (or after online syncs rotated further) never brings back a retired token."""
    new = _minted_epoch(token, enrollment.device_id)
    held = _minted_epoch(enrollment.device_token, enrollment.device_id) or 0
    if new is None or new <= held or not isinstance(token, str):
        return False
    S.set_device_token(s, token)
    return True


def _begin_heal(ctx: ClientContext, restart: object) -> bool:
    """The answer says the server was restored (as 409 generation_changed online): begin healing, unless
    this store already knows that generation (an older answer imported again, or an online sync healed)."""
    if restart is None:
        return False
    if not isinstance(restart, Mapping):
        raise _malformed("restart")
    generation, held = restart.get("generation"), restart.get("held_through")
    if not isinstance(generation, str) or not _GENERATION_RE.fullmatch(generation):
        raise _malformed("restart")
    if not isinstance(held, int) or isinstance(held, bool):
        held = None
    with ctx.store.Session.begin() as s:
        if H.get_generation(s) == generation:
            return False
        H.begin_server_heal(s, generation=generation, held_through=held, now=ctx.clock.now())
    return True


def import_answer(
    ctx: ClientContext, path: Path, *, progress: Progress | None = None
) -> ImportResult:
    """Apply the bureau's answer bundle (`path`: its file or any of its parts). Refused whole (UsbError)
    before anything is applied when it is not authentic, not for this computer, incomplete or malformed.
    `progress(done, total)` after each push answer and pull page applied."""
    enrollment, key = _enrolled(ctx)
    peeked, _ = F.peek_header(path)
    _check_answer(peeked, enrollment)
    # The files of an update the answer may carry (1.19) are spooled beside the updates' own folder (then
    # moved, not copied, when staged); whatever is left is removed with the spool.
    spool = _spool_folder(ctx)
    try:
        header, payload, paths = F.read_bundle(path, key, on_blob=F.spool_to(spool))
        _check_answer(header, enrollment)
        return _import_payload(ctx, path, header, payload, paths, progress)
    finally:
        shutil.rmtree(spool, ignore_errors=True)


SPOOL_PREFIX = "usb-answer-"
STALE_SPOOL_SECONDS = 24 * 3600


def _spool_folder(ctx: ClientContext) -> Path:
    """A new folder for the files an answer carries; one a killed import left behind a day ago or more is
    removed (a release is 60-160 MB)."""
    import time

    from client.update.state import updates_dir

    folder = updates_dir(ctx.store.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{SPOOL_PREFIX}*"):
        try:
            if time.time() - old.stat().st_mtime > STALE_SPOOL_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(prefix=SPOOL_PREFIX, dir=folder))


def _import_payload(
    ctx: ClientContext,
    path: Path,
    header: U.Header,
    payload: dict[str, Any],
    paths: list[Path],
    progress: Progress | None,
) -> ImportResult:
    push, pages, since, forms_given = _parse_answer(payload)
    # Every push answer parsed before the first is applied: a malformed one refuses the bundle whole.
    answers: list[tuple[dict[str, Any], list[dict[str, Any]], Any]] = []
    for entry in push:
        try:
            sent = json.loads(entry["body"])["changes"]
            answer = json.loads(entry["answer"]) if isinstance(entry.get("answer"), str) else None
        except (ValueError, KeyError, TypeError):
            raise _malformed("push") from None
        if answer is not None and (
            not isinstance(answer, dict) or not isinstance(answer.get("results"), list)
        ):
            raise _malformed("push")
        if not isinstance(sent, list) or not all(isinstance(c, dict) for c in sent):
            raise _malformed("push")
        answers.append((entry, sent, answer))
    _check_ours(ctx, header, answers)
    result = ImportResult(header, paths=paths)
    with ctx.store.Session() as s:
        seen = history.seen(s, header)
    result.imported_before, result.older = seen.again, seen.older
    steps = _Steps(len(answers) + len(pages), progress)
    result.healing_started = _begin_heal(ctx, payload.get("restart"))
    sync_result = SyncResult()
    healer = Healer(ctx.store, ctx.clock.now, sync_result)
    generation = pages[-1].get("generation") if pages else None
    now = ctx.clock.now()
    for entry, sent, answer in answers:
        steps.step()
        if answer is None:  # the bureau refused the whole batch
            result.refused_batches.append(_refused_batch(ctx, entry, sent, now=now))
            continue
        results = answer["results"]
        http_answer = Answer(
            200,
            CaseInsensitiveDict({"Sync-Generation": str(generation or "")}),
            answer,
        )
        with ctx.store.Session.begin() as s:
            outcome = S.apply_push_answer(
                s,
                batch_key=entry["key"],
                changes=sent,
                results=results,
                now=now,
                forms=ctx.forms,
            )
            healer.acknowledged(
                s, changes=sent, results=results, outcome=outcome, answer=http_answer
            )
        result.acknowledged += len(outcome.acknowledged)
        result.rejected.extend(outcome.rejected)
        result.conflicts += len(outcome.conflicts)
    _apply_pages(ctx, healer, pages, since, forms_given, result, steps)
    with ctx.store.Session.begin() as s:
        remember_reset_key(s, payload.get("pin_reset_key"))
        remember_usb_key(s, payload.get("usb_key"))
        held = S.get_enrollment(s)
        if held is not None:
            result.token_rotated = _keep_newer_token(s, held, payload.get("next_token"))
        history.remember_answer(s, header)
        S.record_usb_sync(s, now=ctx.clock.now())
    result.update = _take_update(
        ctx, payload
    )  # after the rest: a refused update refuses nothing else
    log.info(
        "USB answer %s: %d acknowledged, %d pulled, %d pages skipped%s",
        path,
        result.acknowledged,
        result.pulled,
        result.pages_skipped,
        ", healing begun" if result.healing_started else "",
    )
    return result


def _carried_files(payload: Mapping[str, Any]) -> dict[str, Path]:
    """The update's files an answer carried (1.19): attachment items naming their `update` path."""
    files: dict[str, Path] = {}
    for item in payload.get("attachments") or []:
        if not isinstance(item, dict):
            continue
        name, data = item.get("update"), item.get("data")
        if (
            isinstance(name, str)
            and name.startswith(("metadata/", "targets/"))
            and isinstance(data, Path)
        ):
            files[name] = data
    return files


def _take_update(ctx: ClientContext, payload: Mapping[str, Any]) -> Carried | None:
    """The release the bureau's answer carried, verified and staged as an online download is (python-tuf's
    ngclient from this computer's trusted root, client.update.channel); None when the answer carries none."""
    offer = payload.get("update")
    if not isinstance(offer, Mapping):
        return None
    version, target = offer.get("version"), offer.get("target")
    if not isinstance(version, str) or not isinstance(target, str):
        return None
    from client.update.channel import Carried, stage_carried
    from client.update.install import install_dir

    try:
        return stage_carried(
            ctx.store.data_dir,
            running=app_version(),
            version=version,
            target=target,
            files=_carried_files(payload),
            install_dir=install_dir(),
        )
    except Exception as exc:  # never the answer's failure: its rest is applied
        log.warning("the update in a USB answer could not be taken", exc_info=True)
        return Carried(version, error=f"{type(exc).__name__}: {exc}"[:500])


class _Steps:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress
        if progress is not None:
            progress(0, total)

    def step(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def _refused_batch(
    ctx: ClientContext, entry: Mapping[str, Any], sent: list[dict[str, Any]], *, now: dt.datetime
) -> dict[str, Any]:
    """As the engine does with a batch our server refused whole: the change it names (or the batch's only
    one) is kept unsent with the reason, and the batch is forgotten, so the next export or sync batches the
    rest anew. A refusal that names no change leaves the batch stored (an online sync splits it)."""
    error = entry.get("error")
    error = dict(error) if isinstance(error, Mapping) else {}
    details = error.get("details") if isinstance(error.get("details"), Mapping) else {}
    named = details.get("op_id") if isinstance(details, Mapping) else None
    culprit = next((c for c in sent if c.get("op_id") == named), None)
    if culprit is None and len(sent) == 1:
        culprit = sent[0]
    if culprit is None:
        return error
    with ctx.store.Session.begin() as s:
        if s.get(SyncBatch, entry["key"]) is None:
            return error  # answered since (online): nothing to undo
        S.drop_batch(s, entry["key"])
        S.reject_unsendable(
            s,
            culprit,
            reason=str(error.get("code") or "refused"),
            message_zh=str(error.get("message_zh") or "教育局服务器拒收了这条变更"),
            message_en=str(error.get("message_en") or "the bureau's server refused this change"),
            now=now,
        )
    return error


def _apply_pages(
    ctx: ClientContext,
    healer: Healer,
    pages: list[dict[str, Any]],
    since: int,
    forms_given: dict[tuple[str, str], Any],
    result: ImportResult,
    steps: _Steps,
) -> None:
    with ctx.store.Session() as s:
        cursor = S.get_cursor(s)
    if since > cursor:
        # Read from a later cursor than this store holds (the store was restored from an older backup):
        # applying the pages would skip what lies between; the next online sync reads it all.
        result.pages_skipped = len(pages)
        for _ in pages:
            steps.step()
        return
    forms = ctx.forms
    for page in pages:
        steps.step()
        with ctx.store.Session() as s:
            cursor = S.get_cursor(s)
        if page["cursor"] <= cursor:
            result.pages_skipped += 1
            continue
        announced = [c for c in page["changes"] if c.get("type") == "form"]
        definitions: dict[tuple[str, str], S.FetchedForm | S.UnusableForm] = {}
        if announced:
            with ctx.store.Session() as s:
                wanted = S.forms_to_fetch(s, forms, announced)
            for form_id, version, sha in wanted:
                definitions[(form_id, version)] = _definition(forms_given, form_id, version, sha)
        staged = forms.copy()
        with ctx.store.Session.begin() as s:
            absent = healer.before_page(s, page)
            outcome = S.apply_pull_page(
                s,
                formset=staged,
                changes=page["changes"],
                cursor=page["cursor"],
                definitions=definitions,
                now=ctx.clock.now(),
                app_version=app_version(),
            )
            healer.after_page(s, absent, last=not page["more"])
        forms.adopt(staged)
        result.pulled += outcome.applied
        result.conflicts += len(outcome.conflicts)
        result.pulled_conflicts += len(outcome.conflicts)


def _definition(
    given: dict[tuple[str, str], Any], form_id: str, version: str, sha: str
) -> S.FetchedForm | S.UnusableForm:
    """A form version's definition from the answer, checked as the engine checks a fetched one."""
    found = given.get((form_id, version))
    definition = found.get("definition") if isinstance(found, dict) else None
    if not isinstance(definition, str):
        return S.UnusableForm(
            form_id,
            version,
            sha,
            "form_unavailable",
            "U盘答复文件里没有它的定义（下次联网同步时再取）",
            "the USB answer does not hold its definition (fetched at the next online sync)",
            S.RETRY_EVERY_SYNC,
        )
    digest = hashlib.sha256(definition.encode("utf-8", "surrogatepass")).hexdigest()
    if sha and digest != sha:
        return S.UnusableForm(
            form_id,
            version,
            sha,
            "form_sha_mismatch",
            "定义与服务器宣布的校验值不符，未保存",
            "the definition does not match the announced sha256; not stored",
        )
    return S.read_form_definition(definition, form_id=form_id, version=version, sha256=digest)
