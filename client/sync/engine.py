"""The sync engine: a plain typed call, no Qt (like Anki's collection.sync_collection; the GUI wraps it).

    engine = SyncEngine(ctx, requests.Session())
    engine.enroll("https://edu.example.cn", "K7P-3QX-9ZA")
    result = engine.sync()            # SyncResult, or SyncError(kind=AUTH|NETWORK|REFUSED|SERVER|CONFLICT)

A sync, in order:
1. push the outbox in batches (gzip) - first the records that wait for no attachment, so text never waits
   behind a photo on a slow link. Each batch is stored with its Idempotency-Key before it is sent, and sent
   again byte for byte until our server's JSON answer to it is applied - after a timeout, a cut, or a crash;
   entries are marked sent only for op ids that answer lists (applied/duplicate). Batches are as large as
   the server states (protocol 1.20), one request at a time; the next batch is chosen while one is on its
   way and sent when its answer comes, before that answer is applied (see _Run.push);
2. upload the attachments the unsent changes use (HEAD, then resumable PUT in chunks sized to the measured
   link, see client.sync.upload), and after each one push the records it completes: the bureau never sees a
   record before its photos;
3. pull until `more` is false; each page - records returned/accepted/received, other devices' records and
   roster, new form versions (their definitions fetched and read first), withdrawn form versions - is applied
   in one local transaction that also advances the cursor. An item that cannot be applied (a form version
   that cannot be fetched, is too large, or that this program cannot read; a record of a form it does not
   know; anything that fails while applying it) is kept as a sync problem with what is needed to retry it,
   and the sync goes on past it; open problems are tried again at the end of every pull (see
   sync_state.forms_to_retry for when a form is fetched again).

Network calls never run inside a database transaction; each transaction is short. One engine per thread.
A full disk ends the sync with SyncError(DISK_FULL) naming the data folder; the store stays as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from client.context import ClientContext
from client.store import sync_state as S
from client.store.attachments import attachment_path
from client.store.models import Attachment, SyncIssue
from client.store.outbox import push_body, push_results
from client.store.pin import remember_reset_key
from client.store.prefs import get_setting, set_setting
from client.sync.errors import ErrorKind, SyncError, disk_full, is_disk_full, not_enrolled
from client.sync.healing import Healer
from client.sync.http import API, Answer, RetryPolicy, Sleep, Timeouts, Transport
from client.sync.pinning import K_FINGERPRINT, is_local, normalize_fingerprint, split_pinned_url
from client.sync.state import (
    ConflictNotice,
    Phase,
    PullProblem,
    Rejection,
    SyncProgress,
    SyncResult,
)
from client.sync.upload import (
    MAX_CHUNK,
    ChunkSizer,
    Monotonic,
    file_sha256,
    remote_offset,
    upload_file,
)
from client.update import hook as update_hook
from client.usb.key import remember_usb_key
from forms.identifiers import quote_segment

log = logging.getLogger(__name__)

MAX_BATCH_CHANGES = 200  # docs/protocol.md: at most 200 changes ...
MAX_BATCH_BYTES = (
    5 * 1024 * 1024
)  # ... and 5 MB uncompressed per batch, to a server that states no maximum
# Protocol 1.20: a server states its batch maximum on its answers; batches are then min(its, ours) changes.
OWN_MAX_BATCH_CHANGES = 2000  # this client's own cap (a batch's body and answer are held in memory)
MAX_CHANGES_HEADER = "Sync-Max-Changes"
MAX_BATCH_BYTES_HEADER = "Sync-Max-Batch-Bytes"
# What the server stated last: {"server_url", "changes", "bytes"}; None: nothing (an older server).
K_SERVER_BATCH = "sync.server_batch"
# The largest attachment chunk sent; each is sized to the measured link (client.sync.upload.ChunkSizer).
CHUNK_SIZE = MAX_CHUNK
PULL_LIMIT = 500
MAX_PULL_PAGES = 100_000
PUSH_ANSWER_HEADER = "Sync-Push-Answer"  # protocol 1.14: "compact" asks for compact push answers
MAX_BATCH_REFUSALS = 8  # whole-batch 413/422 answers split the batch at most this often per sync
# A form version's answer: its definition (at most S.MAX_FORM_DEFINITION_BYTES) as a JSON string, escapes
# included; a longer answer is not even read.
MAX_FORM_ANSWER_BYTES = 8 * S.MAX_FORM_DEFINITION_BYTES
# The enrollment request in progress: {"code": sha256 of server and code, "id": the request id sent}.
K_ENROLL_REQUEST = "sync.enroll_request"
# Protocol 1.9: a pull sent with it ends with a next device token (rotation).
ROTATION_HEADER = "Sync-Token-Rotation"
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.\-]{20,200}")

Progress = Callable[[SyncProgress], None]
_Batch = tuple[
    str, bytes, list[dict[str, Any]]
]  # a push batch: its Idempotency-Key, body, changes as sent


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("school-data")
    except PackageNotFoundError:
        return "0.1.0"


def normalize_server_url(url: str) -> str:
    """'edu.example.cn:8700/' -> 'https://edu.example.cn:8700'; a pasted .../api/v1 is dropped."""
    url = url.strip().rstrip("/")
    if "://" not in url:  # HTTPS by default; plain http only to this computer (client.sync.pinning)
        url = ("http://" if is_local(urlsplit("//" + url).hostname) else "https://") + url
    if url.endswith(API):
        url = url[: -len(API)]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SyncError(
            ErrorKind.REFUSED, f"服务器地址无效：{url}", f"invalid server address: {url}"
        )
    return url


def _code_digest(server_url: str, code: str) -> str:
    """The code as the server compares it (case, spaces and dashes do not matter), hashed with the server:
    the store never keeps a usable code."""
    normal = re.sub(r"[\s\-_－—]", "", code).upper()
    return hashlib.sha256(f"{server_url}\n{normal}".encode()).hexdigest()


def _enroll_request_id(session: Session, server_url: str, code: str) -> str:
    """The request id for enrolling with this code at this server: the one kept from an earlier try whose
    answer never came, else a new one - kept (committed by the caller) before the request is sent."""
    digest = _code_digest(server_url, code)
    kept = get_setting(session, K_ENROLL_REQUEST)
    if isinstance(kept, Mapping) and kept.get("code") == digest and kept.get("id"):
        return str(kept["id"])
    request_id = str(uuid.uuid4())
    set_setting(session, K_ENROLL_REQUEST, {"code": digest, "id": request_id})
    return request_id


def _next_token(page: Mapping[str, Any]) -> str | None:
    """The next device token a pull's last page handed (protocol 1.9); a malformed one is not kept (the
    current token goes on working)."""
    token = page.get("next_token")
    if token is None:
        return None
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        log.warning("the server handed a malformed next token; keeping the current one")
        return None
    return token


def stated_batch_limits(headers: Mapping[str, str]) -> tuple[int, int] | None:
    """The push batch maximum a server states on an answer (protocol 1.20): (changes, bytes), or None when
    it states none (an older server) or states it malformed (then it is treated as an older server)."""
    changes = _header_int(headers.get(MAX_CHANGES_HEADER), minimum=1)
    if changes is None:
        return None
    raw_bytes = headers.get(MAX_BATCH_BYTES_HEADER)
    nbytes = MAX_BATCH_BYTES if raw_bytes is None else _header_int(raw_bytes, minimum=1024)
    return None if nbytes is None else (changes, nbytes)


def _header_int(raw: str | None, *, minimum: int) -> int | None:
    text = (raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        return None
    value = int(text)
    return value if value >= minimum else None


def _kept_batch_limits(kept: Any, server_url: str) -> tuple[int, int] | None:
    """The maximum kept from this server's last answer (another server's is not this one's)."""
    if not isinstance(kept, Mapping) or kept.get("server_url") != server_url:
        return None
    changes, nbytes = kept.get("changes"), kept.get("bytes")
    if isinstance(changes, int) and isinstance(nbytes, int) and changes >= 1 and nbytes >= 1024:
        return changes, nbytes
    return None


def _keep_batch_limits(s: Session, server_url: str, limits: tuple[int, int] | None) -> None:
    value = (
        None
        if limits is None
        else {"server_url": server_url, "changes": limits[0], "bytes": limits[1]}
    )
    if get_setting(s, K_SERVER_BATCH) != value:
        set_setting(s, K_SERVER_BATCH, value)


def _malformed(what: str) -> SyncError:
    return SyncError(
        ErrorKind.SERVER,
        f"服务器的回答格式不对（{what}），数据没有记为已发送",
        f"the server's answer was malformed ({what}); nothing was marked sent",
    )


class SyncEngine:
    def __init__(
        self,
        ctx: ClientContext,
        session: requests.Session,
        *,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        policy: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        batch_changes: int = OWN_MAX_BATCH_CHANGES,
        batch_bytes: int = MAX_BATCH_BYTES,
        chunk_size: int | None = None,
        pull_limit: int = PULL_LIMIT,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self.http = session
        self.update_offer: str | None = None  # the release the last pull's answer named (1.18)
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.policy = policy or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        # This client's own caps; a batch is at most min(these, what the server states) (protocol 1.20).
        self.batch_changes = batch_changes
        self.batch_bytes = batch_bytes
        self.chunk_size = (
            chunk_size  # None: attachment chunks sized to the link; a number: that size
        )
        self.monotonic = monotonic
        self.pull_limit = pull_limit

    # -- plumbing ---------------------------------------------------------------------------------------

    def _now(self) -> dt.datetime:
        return self.ctx.clock.now()

    def _transport(
        self, base_url: str, token: str | None, fingerprint: str | None = None
    ) -> Transport:
        return Transport(
            self.http,
            base_url,
            token=token,
            policy=self.policy,
            timeouts=self.timeouts,
            sleep=self.sleep,
            rng=self.rng,
            user_agent=f"school-client/{app_version()}",
            fingerprint=fingerprint,
        )

    # -- enroll -----------------------------------------------------------------------------------------

    def enroll(
        self,
        server_url: str,
        code: str,
        *,
        device_name: str | None = None,
        fingerprint: str | None = None,
    ) -> S.Enrollment:
        """Trade a single-use enrollment code for this device's token, and keep it.

        Safe to retry (protocol revision 1.4): an enrollment request id is kept in the store before the first
        try and sent with the code, so a try whose answer was lost - a cut link, a timeout, a crash before the
        answer was stored - is answered again with the same device (and a fresh token) when the same code is
        sent again, by the retry policy or by the clerk. A computer that holds records of one school is not
        moved to another school.
        """
        server_url, in_url = split_pinned_url(server_url)
        base = normalize_server_url(server_url)
        # the certificate to pin (protocol 1.10): given, in the address, or the ini's for this server
        from client.preconfig import preconfigured_fingerprint

        pin_text = fingerprint or in_url or preconfigured_fingerprint(base)
        pin = normalize_fingerprint(pin_text) if pin_text else None
        with self.ctx.store.Session.begin() as s:
            request_id = _enroll_request_id(s, base, code)
            held = S.get_enrollment(s)
        enroll_body = {
            "enrollment_code": code.strip(),
            "device_name": (device_name or socket.gethostname() or "school-pc")[:100],
            "app_version": app_version(),
            "request_id": request_id,
        }
        if held is not None and held.server_url == base:
            # Protocol 1.9: the server revokes the token this computer held (a copy of it dies too).
            enroll_body["replaces_token"] = held.device_token
        transport = self._transport(base, None, pin)
        answer = transport.request(
            "POST", f"{API}/enroll", json_body=enroll_body, expect=(200, 201)
        )
        body = answer.body
        try:
            school = body["school"]
            enrollment = S.Enrollment(
                server_url=base,
                device_token=str(body["token"]),
                device_id=str(body["device_id"]),
                school_code=str(school["code"]),
                school_name=str(school.get("name") or ""),
            )
        except (KeyError, TypeError) as exc:
            raise _malformed("enroll") from exc
        with self.ctx.store.Session.begin() as s:
            before = S.get_enrollment(s)
            if (
                before is not None
                and before.school_code != enrollment.school_code
                and S.has_local_records(s)
            ):
                raise SyncError(
                    ErrorKind.REFUSED,
                    f"本机保存的是“{before.school_name or before.school_code}”的数据，不能改为注册到"
                    f"“{enrollment.school_name or enrollment.school_code}”",
                    f"this computer holds the data of school {before.school_code}; it cannot be "
                    f"enrolled for school {enrollment.school_code}",
                )
            S.save_enrollment(s, enrollment)
            set_setting(s, K_FINGERPRINT, pin)
            set_setting(s, K_ENROLL_REQUEST, None)  # answered: a later enrollment is a new request
            remember_reset_key(s, body.get("pin_reset_key"))  # protocol 1.11
            remember_usb_key(s, body.get("usb_key"))  # protocol 1.13
            _keep_batch_limits(s, base, stated_batch_limits(answer.headers))  # protocol 1.20
        log.info("enrolled with %s as device %s", base, enrollment.device_id)
        return enrollment

    # -- sync -------------------------------------------------------------------------------------------

    def sync(
        self, *, progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> SyncResult:
        """Upload attachments, push the outbox, pull until done. SyncError (with `.result`, what was done
        before it) when the server cannot be reached or refuses, or the disk is full; the last problem is
        kept in the store (when it can still be written)."""
        result = SyncResult()
        try:
            with self._disk_full_as_sync_error():
                with self.ctx.store.Session.begin() as s:
                    enrollment = S.get_enrollment(s)
                    S.record_attempt(s, now=self._now())
                if enrollment is None:
                    raise not_enrolled()
                run = _Run(self, enrollment, result, progress or (lambda p: None), cancel)
                run.healer.begin()
                while True:
                    try:
                        run.plan_attachments()
                        run.push()  # what waits for no attachment goes first
                        upload_failed = run.attachments()  # then each photo, and its records
                        run.pull()
                        if result.healed is not None:
                            run.push()  # what the heal offers back goes now, not at the next sync
                        break
                    except SyncError as exc:  # the server was restored: heal, then start over
                        if not run.healer.restart(exc):
                            raise
                if upload_failed is not None:
                    raise upload_failed  # after the pull: a photo holds back only its own records
                with self.ctx.store.Session.begin() as s:
                    if not result.cancelled:
                        S.record_success(s, now=self._now())
                    result.pending = S.pending_count(s)
        except SyncError as exc:
            exc.result = result
            if exc.code == "client_too_old":  # issue 16: still offered its update
                update_hook.check_updates(self, refusal=exc)  # and told what came of it
            self._keep_problem(exc, result)
            log.warning("sync failed: %s", exc.one_line())
            raise
        update_hook.check_updates(self)  # issue 16: only when one is offered; never raises
        log.info(
            "sync: %d pushed, %d pulled, %d uploaded, %d rejected, %d conflicts, %d pending",
            result.pushed,
            result.pulled,
            result.uploaded,
            len(result.rejected),
            len(result.conflicts),
            result.pending,
        )
        return result

    @contextlib.contextmanager
    def _disk_full_as_sync_error(self) -> Iterator[None]:
        try:
            yield
        except (SQLAlchemyError, OSError) as exc:
            if not is_disk_full(exc, self.ctx.store.data_dir):
                raise
            log.error("the disk is full: %r", exc)
            raise disk_full(self.ctx.store.data_dir) from exc

    def _keep_problem(self, exc: SyncError, result: SyncResult) -> None:
        """The last problem, for the status bar; on a full disk it may not be writable (the log has it)."""
        try:
            with self.ctx.store.Session.begin() as s:
                S.record_problem(s, exc.as_problem(), now=self._now())
                result.pending = S.pending_count(s)
        except (SQLAlchemyError, OSError) as write_failed:
            if not is_disk_full(write_failed, self.ctx.store.data_dir):
                raise
            log.warning("the problem could not be kept in the store: the disk is full")
            with self.ctx.store.Session() as s:
                result.pending = S.pending_count(s)


class _Run:
    """One sync's state: what was skipped, what was done."""

    def __init__(
        self,
        engine: SyncEngine,
        enrollment: S.Enrollment,
        result: SyncResult,
        progress: Progress,
        cancel: threading.Event | None,
    ) -> None:
        self.engine = engine
        self.store = engine.ctx.store
        with self.store.Session() as s:
            pin = get_setting(s, K_FINGERPRINT)  # the certificate pinned at enrollment, if any
            kept = get_setting(s, K_SERVER_BATCH)
        self.server_url = enrollment.server_url
        # The batch maximum the server stated on its last answer (protocol 1.20); None: an older server.
        self.server_batch = _kept_batch_limits(kept, enrollment.server_url)
        self.t = engine._transport(
            enrollment.server_url, enrollment.device_token, str(pin) if pin else None
        )
        self.result = result
        self.progress = progress
        self.cancel = cancel
        self.healer = Healer(self.store, self.now, result)
        self.skip_ops: set[str] = (
            set()
        )  # answered this sync (rejected, conflict) or left unanswered
        self.skip_records: set[str] = (
            set()
        )  # held: open conflict, or an attachment that cannot go up
        # Attachments to upload (plan_attachments), the records using each, and the records that wait for
        # some of them (record id -> the sha256 values still missing): left out of the push until complete.
        self.uploads: list[Attachment] = []
        self.missing: list[str] = []  # used by a record, not in this store: the server may have it
        self.users: dict[str, set[str]] = {}
        self.waiting: dict[str, set[str]] = {}

    def now(self) -> dt.datetime:
        return self.engine._now()

    def batch_limits(self) -> tuple[int, int]:
        """(changes, bytes) a push batch may hold: min(what the server stated, this client's caps), and
        200 changes / 5 MB when it stated nothing (protocol 1.20)."""
        changes, nbytes = self.server_batch or (MAX_BATCH_CHANGES, MAX_BATCH_BYTES)
        return min(changes, self.engine.batch_changes), min(nbytes, self.engine.batch_bytes)

    def learn_limits(self, s: Session, answer: Answer) -> None:
        """Keep the batch maximum an answer states (in that answer's transaction); none: an older server."""
        self.server_batch = stated_batch_limits(answer.headers)
        _keep_batch_limits(s, self.server_url, self.server_batch)

    def cancelled(self) -> bool:
        if self.cancel is not None and self.cancel.is_set():
            self.result.cancelled = True
            return True
        return False

    # -- attachments ----------------------------------------------------------------------------------

    def plan_attachments(self) -> None:
        """Find (in the store alone) the attachments the unsent changes use that the server may lack; their
        records wait - they are left out of the push - until each of them is known to be on the server."""
        with self.store.Session.begin() as s:
            self.skip_records |= S.held_record_ids(s)
            uploads, users, missing = S.pending_attachments(s, skip_records=self.skip_records)
        self.uploads = uploads
        self.users = users
        self.missing = sorted(missing)
        self.waiting = {}
        for sha in [*(a.sha256 for a in uploads), *self.missing]:
            for rid in users[sha]:
                self.waiting.setdefault(rid, set()).add(sha)

    def _uploaded(self, sha: str) -> None:
        """One attachment is on the server: the records it was the last one missing for may go."""
        for rid in self.users.get(sha, ()):
            shas = self.waiting.get(rid)
            if shas is not None:
                shas.discard(sha)
                if not shas:
                    del self.waiting[rid]

    def attachments(self) -> SyncError | None:
        """Upload what plan_attachments found, one file after another; after each, push the records it
        completed (so a link that breaks later keeps what is done). An upload that fails for the network or
        the server (after its retries) stops the uploads and is returned, to be raised after the pull: what
        the bureau sent does not wait behind a photo."""
        try:
            for sha in self.missing:
                # Not in this store (a record from another device, say): fine if the server has it.
                if remote_offset(self.t, sha) is None:
                    self._uploaded(sha)
                else:
                    self._attachment_problem(
                        sha,
                        self.users[sha],
                        "missing",
                        "记录引用的照片或文件在本机找不到，服务器上也没有",
                        "a photo or file the record uses is neither on this computer nor on the server",
                    )
        except SyncError as exc:
            if not exc.retryable:
                raise
            return exc
        if self.missing:
            self.push()
        total = sum(a.size for a in self.uploads)
        sizer = ChunkSizer(fixed=self.engine.chunk_size, monotonic=self.engine.monotonic)
        finished = 0  # bytes of the files done
        root = self.store.attachments_dir
        for att in self.uploads:
            if self.cancelled():
                return None
            path = attachment_path(root, att.sha256)
            if not path.is_file() or file_sha256(path) != att.sha256:
                self._attachment_problem(
                    att.sha256,
                    self.users[att.sha256],
                    "damaged",
                    f"附件“{att.filename}”在本机丢失或已损坏，请重新添加",
                    f"the attachment '{att.filename}' is missing or damaged on this computer; add it again",
                )
                continue
            held = 0

            def on_offset(offset: int, att: Any = att, base: int = finished) -> None:
                nonlocal held
                # Never backwards: a HEAD may count bytes of a cut chunk the server has not dropped yet.
                held = max(held, min(offset, att.size))
                self.progress(
                    SyncProgress(
                        Phase.ATTACHMENTS,
                        base + held,
                        total,
                        item=att.filename,
                        item_done=held,
                        item_total=att.size,
                    )
                )

            try:
                upload_file(
                    self.t,
                    att.sha256,
                    path,
                    sizer=sizer,
                    on_offset=on_offset,
                    filename=att.filename,
                )
            except SyncError as exc:
                if exc.retryable:
                    log.warning("uploads stop for this sync: %s", exc.one_line())
                    return exc
                if exc.kind not in (ErrorKind.REFUSED, ErrorKind.CONFLICT):
                    raise
                self._attachment_problem(
                    att.sha256,
                    self.users[att.sha256],
                    exc.code or f"http_{exc.status}",
                    f"附件“{att.filename}”上传被拒：{exc.message_zh}",
                    f"the attachment '{att.filename}' was refused: {exc.message_en}",
                )
                continue
            finally:
                finished += att.size
            with self.store.Session.begin() as s:
                S.mark_uploaded(s, att.sha256, now=self.now())
            self.result.uploaded += 1
            self._uploaded(att.sha256)
            self.push()
        return None

    def _attachment_problem(
        self, sha: str, record_ids: set[str], reason: str, zh: str, en: str
    ) -> None:
        """The records using this attachment wait (the bureau must not get them without it)."""
        self.skip_records |= record_ids
        with self.store.Session.begin() as s:
            for rid in sorted(record_ids):
                S.raise_issue(
                    s,
                    kind=S.IssueKind.ATTACHMENT,
                    reason=reason,
                    message_zh=zh,
                    message_en=en,
                    details={"sha256": sha},
                    now=self.now(),
                    record_id=rid,
                    match_record=True,
                )
        for rid in sorted(record_ids):
            self.result.rejected.append(Rejection("", rid, reason, zh, en))

    # -- push --------------------------------------------------------------------------------------------

    def push(self) -> None:
        """Send the outbox in batches, one request at a time, and keep the server busy: while a batch is on
        its way the next one is chosen and stored (leaving out the records and changes of the one on its
        way: a record's next change waits for the answer that gives its base), and it is sent as soon as the
        answer comes - before that answer is applied, in one transaction, while the server works on it.
        Every batch is stored (its key and body) before it is sent, so a retry - even after a crash - sends
        it again byte for byte; at most two are stored at a time, and they hold different records."""
        shrunk: int | None = None  # a whole-batch refusal asked for smaller batches (this sync)
        refusals = 0
        with self.store.Session() as s:
            total = self.result.pushed + S.pending_count(s)  # counted over the sync's pushes
        made: set[str] = set()  # batches this push chose (one not sent yet may be chosen again)
        batch: _Batch | None = None  # chosen and stored, to be sent next
        inflight: _Batch | None = None
        job: Future[Answer] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-push") as sender:
            while True:
                if inflight is None:
                    if self.cancelled():
                        return
                    if batch is None:
                        with self.store.Session.begin() as s:
                            batch = self._next_batch(s, shrunk, None, made)
                        if batch is None:
                            return
                    inflight, batch = batch, None
                    job = sender.submit(
                        self._send_batch, inflight, self.healer.headers(with_cursor=True)
                    )
                key, _, sent_changes = inflight
                if batch is None and not self.cancelled():
                    with self.store.Session.begin() as s:  # while the server works on `inflight`
                        batch = self._next_batch(s, shrunk, inflight, made)
                assert job is not None
                try:
                    answer = job.result()
                except SyncError as exc:
                    inflight = None
                    if exc.kind is not ErrorKind.REFUSED or exc.status not in (400, 413, 422):
                        raise  # the batch stays stored: the next try sends it again, same key and body
                    refusals += 1
                    if (
                        batch is not None and batch[0] in made
                    ):  # chosen at the old size: choose again
                        with self.store.Session.begin() as s:
                            S.drop_batch(s, batch[0])
                        batch = None
                    shrunk, isolated = self._refused_batch(key, sent_changes, exc)
                    if isolated:
                        refusals = 0
                    elif refusals > MAX_BATCH_REFUSALS:
                        raise
                    continue
                body_answer = answer.body
                results = (
                    push_results(body_answer, sent_changes)
                    if isinstance(body_answer, Mapping)
                    else None
                )
                if results is None:
                    raise _malformed("push")
                inflight = None
                if (
                    batch is not None and not self.cancelled()
                ):  # on its way while this answer is applied
                    inflight, batch = batch, None
                    job = sender.submit(
                        self._send_batch, inflight, self.healer.headers(with_cursor=True)
                    )
                with self.store.Session.begin() as s:
                    outcome = S.apply_push_answer(
                        s,
                        batch_key=key,
                        changes=sent_changes,
                        results=results,
                        now=self.now(),
                        forms=self.engine.ctx.forms,  # a change request takes the accepted version back
                    )
                    self.healer.acknowledged(
                        s, changes=sent_changes, results=results, outcome=outcome, answer=answer
                    )
                    self._skip_answered(outcome)
                    self.learn_limits(s, answer)
                self._note_push(outcome)
                self.result.resent += _already_had(answer, results, outcome)
                self.progress(SyncProgress(Phase.PUSH, self.result.pushed, total))

    def _send_batch(self, batch: _Batch, headers: Mapping[str, str]) -> Answer:
        """POST one stored batch (in the sender thread; the store is not touched here)."""
        key, body, _ = batch
        return self.t.request(
            "POST",
            f"{API}/push",
            body=body,
            gzip_body=True,
            headers={
                "Idempotency-Key": key,
                "Content-Type": "application/json; charset=utf-8",
                PUSH_ANSWER_HEADER: "compact",  # protocol 1.14
                **headers,
            },
        )

    def _next_batch(
        self, s: Session, shrunk: int | None, busy: _Batch | None, made: set[str]
    ) -> _Batch | None:
        """The batch to send: a stored one (a retry, even after a crash: same key and body), else the next
        changes of the outbox, stored now, within batch_limits() (and `shrunk`, after a refusal), without
        the records and changes of `busy` (the batch on its way). (key, body, the changes as sent); None
        when nothing waits."""
        stored = S.current_batch(s, besides=None if busy is None else busy[0])
        if stored is not None:
            return stored.key, stored.body, json.loads(stored.body)["changes"]
        busy_changes = [] if busy is None else busy[2]
        limit, max_bytes = self.batch_limits()
        changes = S.pending_changes(
            s,
            limit=limit if shrunk is None else min(limit, shrunk),
            max_bytes=max_bytes,
            skip_ops=self.skip_ops | {str(c["op_id"]) for c in busy_changes},
            skip_records=self.skip_records
            | self.waiting.keys()
            | {str(c["record_id"]) for c in busy_changes},
        )
        if not changes:
            return None
        body = push_body(changes)
        key = str(uuid.uuid4())
        S.store_batch(s, key=key, op_ids=[c.op_id for c in changes], body=body, now=self.now())
        made.add(key)
        return key, body, [c.wire() for c in changes]

    def _refused_batch(
        self, key: str, changes: list[dict[str, Any]], exc: SyncError
    ) -> tuple[int | None, bool]:
        """Our server refused a whole batch (413 too large, 400/422 one bad change): find the change it
        refuses - named in the error's details, else by splitting the batch until it is alone - and keep that
        change unsent with the reason; the rest goes on. Returns (the next batch size - None: as large as
        batch_limits() allows - and whether one was set aside)."""
        named = exc.details.get("op_id")
        culprit = next((c for c in changes if c["op_id"] == named), None)
        if culprit is None and len(changes) == 1:
            culprit = changes[0]
        with self.store.Session.begin() as s:
            S.drop_batch(s, key)  # the next batch gets a new key: it has another body
            if culprit is not None:
                rejected = S.reject_unsendable(
                    s,
                    culprit,
                    reason=exc.code or f"http_{exc.status}",
                    message_zh=exc.message_zh,
                    message_en=exc.message_en,
                    now=self.now(),
                )
        if culprit is not None:
            self.skip_ops.add(rejected["op_id"])
            self.result.rejected.append(Rejection(**rejected))
            return None, True
        most = exc.details.get("max_changes")
        smaller = most if isinstance(most, int) and 0 < most < len(changes) else len(changes) // 2
        log.info(
            "the server refused a batch of %d (%s); next: %d", len(changes), exc.status, smaller
        )
        return max(1, smaller), False

    def _conflict(self, c: Mapping[str, Any]) -> None:
        """Note a conflict once per record (the push and the pull may both find it)."""
        if any(n.record_id == c["record_id"] for n in self.result.conflicts):
            return
        server = c["server"]
        self.result.conflicts.append(
            ConflictNotice(
                c["record_id"],
                c["op_id"],
                int(server.get("server_revision") or 0),
                str(server.get("status") or ""),
            )
        )

    def _skip_answered(self, outcome: S.PushOutcome) -> None:
        """What this answer holds back for the rest of the sync: conflicts, rejections, unanswered changes."""
        for c in outcome.conflicts:
            self.skip_ops.add(c["op_id"])
            self.skip_records.add(c["record_id"])
        self.skip_ops.update(r["op_id"] for r in outcome.rejected)
        self.skip_ops.update(outcome.unanswered)

    def _note_push(self, outcome: S.PushOutcome) -> None:
        self._skip_answered(outcome)
        self.result.pushed += len(outcome.acknowledged)
        for c in outcome.conflicts:
            self._conflict(c)
        for r in outcome.rejected:
            self.result.rejected.append(Rejection(**r))
        if outcome.unanswered:
            log.warning("the server's answer left out %d changes", len(outcome.unanswered))

    # -- pull --------------------------------------------------------------------------------------------

    def pull(self) -> None:
        for _ in range(MAX_PULL_PAGES):
            if self.cancelled():
                return
            with self.store.Session() as s:
                since = S.get_cursor(s)
            headers = {
                **self.healer.headers(),
                ROTATION_HEADER: "1",
                **update_hook.pull_headers(self.engine),
            }
            answer = self.t.request(
                "GET",
                f"{API}/pull",
                params={
                    "since": since,
                    "limit": self.engine.pull_limit,
                    **self.healer.pull_params(),
                },
                headers=headers,
            )
            update_hook.note_pull_answer(self.engine, headers, answer)
            page = answer.body
            if not isinstance(page, Mapping):
                raise _malformed("pull")
            changes, cursor, more = page.get("changes"), page.get("cursor"), page.get("more")
            if (
                not isinstance(changes, list)
                or not all(isinstance(c, Mapping) for c in changes)
                or not isinstance(cursor, int)
                or not isinstance(more, bool)
            ):
                raise _malformed("pull")
            if more and cursor <= since:
                raise _malformed("pull cursor did not move")
            self.healer.check_page(page, since)
            announced = [c for c in changes if c.get("type") == "form"]
            definitions: dict[tuple[str, str], S.FetchedForm | S.UnusableForm] = {}
            if announced:
                with self.store.Session() as s:
                    wanted = S.forms_to_fetch(s, self.engine.ctx.forms, announced)
                for form_id, version, sha in wanted:
                    definitions[(form_id, version)] = self._fetch_form(form_id, version, sha)
            forms = self.engine.ctx.forms
            staged = forms.copy()  # the forms in memory change once the page is committed
            next_token = _next_token(page)
            with self.store.Session.begin() as s:
                self.learn_limits(s, answer)  # protocol 1.20
                absent = self.healer.before_page(s, page)
                outcome = S.apply_pull_page(
                    s,
                    formset=staged,
                    changes=changes,
                    cursor=cursor,
                    definitions=definitions,
                    now=self.now(),
                    app_version=app_version(),
                )
                self.healer.after_page(s, absent, last=not more)
                remember_reset_key(s, page.get("pin_reset_key"))  # protocol 1.11
                remember_usb_key(s, page.get("usb_key"))  # protocol 1.13
                # Protocol 1.9: kept with the page it came with, so a crash keeps both or neither.
                if next_token is not None:
                    S.set_device_token(s, next_token)
            if next_token is not None:
                self.t.token = next_token  # its first use retires the old one on the server
            forms.adopt(staged)
            self._note_pull(outcome)
            self.progress(SyncProgress(Phase.PULL, self.result.pulled, None))
            if not more:
                break
        else:
            raise _malformed("too many pull pages")
        self.retry_problems()

    def retry_problems(self) -> None:
        """Try the open pull problems again (forms fetched again when due), then list what stays open."""
        forms = self.engine.ctx.forms
        with self.store.Session() as s:
            waiting = bool(S.open_pull_issues(s))
            due = [
                (str(i.details.get("form_id")), str(i.details.get("version")))
                for i in S.forms_to_retry(s, forms, app_version=app_version())
            ]
        if waiting:
            definitions = {(f, v): self._fetch_form(f, v, "") for f, v in due}
            staged = forms.copy()
            with self.store.Session.begin() as s:
                outcome = S.retry_pull_issues(
                    s,
                    formset=staged,
                    definitions=definitions,
                    now=self.now(),
                    app_version=app_version(),
                )
            forms.adopt(staged)
            self._note_pull(outcome)
        with self.store.Session() as s:
            self.result.problems = [_pull_problem(i) for i in S.open_pull_issues(s)]
        for p in self.result.problems:
            log.warning("pull problem (%s): %s", p.reason, p.message_en)

    def _note_pull(self, outcome: S.PullOutcome) -> None:
        self.result.pulled += outcome.applied
        self.result.forms.extend(outcome.forms)
        for c in outcome.conflicts:
            self._conflict(c)

    def _fetch_form(self, form_id: str, version: str, sha: str) -> S.FetchedForm | S.UnusableForm:
        """A form version's definition, read and checked (outside any transaction). A refusal for this
        version (404, too large, malformed, not the announced text, not readable here) comes back as
        UnusableForm; a network or server failure ends the sync as usual (nothing was applied)."""
        path = f"{API}/forms/{quote_segment(form_id)}/{quote_segment(version)}"
        try:
            answer = self.t.request("GET", path, max_bytes=MAX_FORM_ANSWER_BYTES)
        except SyncError as exc:
            if exc.kind not in (ErrorKind.REFUSED, ErrorKind.CONFLICT):
                raise
            return S.UnusableForm(
                form_id,
                version,
                sha,
                "form_unavailable" if exc.code != "answer_too_large" else "form_too_large",
                f"无法从服务器取得它的定义（{exc.message_zh}）",
                f"its definition cannot be fetched from the server ({exc.message_en})",
                S.RETRY_NEW_CLIENT if exc.code == "answer_too_large" else S.RETRY_EVERY_SYNC,
            )
        body = answer.body
        definition = body.get("definition") if isinstance(body, Mapping) else None
        if not isinstance(definition, str):
            return S.UnusableForm(
                form_id,
                version,
                sha,
                "form_malformed",
                "服务器的回答里没有它的定义",
                "the server's answer holds no definition",
            )
        digest = hashlib.sha256(definition.encode("utf-8", "surrogatepass")).hexdigest()
        if sha and digest != sha:
            return S.UnusableForm(
                form_id,
                version,
                sha,
                "form_sha_mismatch",
                "下载的定义与服务器宣布的校验值不符，未保存",
                "the definition received does not match the announced sha256; not stored",
            )
        return S.read_form_definition(definition, form_id=form_id, version=version, sha256=digest)


def _already_had(answer: Answer, results: list[dict[str, Any]], outcome: S.PushOutcome) -> int:
    """How many acknowledged changes of a push answer the server had before this request: all of a replayed
    batch (its answer was lost, e.g. the server was killed after storing it), else those answered
    `duplicate`."""
    acknowledged = set(outcome.acknowledged)
    if answer.headers.get("Idempotent-Replayed", "").lower() == "true":
        return len(acknowledged)
    return sum(
        1 for r in results if r.get("result") == "duplicate" and r.get("op_id") in acknowledged
    )


def _pull_problem(issue: SyncIssue) -> PullProblem:
    d = issue.details
    return PullProblem(
        issue_id=issue.id,
        what=str(d.get("what") or ""),
        reason=issue.reason,
        form_id=str(d.get("form_id") or ""),
        version=str(d.get("version") or ""),
        record_id=issue.record_id,
        message_zh=issue.message_zh,
        message_en=issue.message_en,
    )
