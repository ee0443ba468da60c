"""Attachments: content-addressed (sha256) per school, uploaded resumably, verified on arrival.

Files live under <root>/<school id>/<sha[:2]>/<sha>; an upload in progress is <root>/<school id>/partial/<sha>,
whose length is the upload offset. A chunk is appended only at that offset and is fsynced before it is
acknowledged; a chunk cut short is truncated away, so the offset always counts whole acknowledged chunks.
When the last byte arrives the sha256 is checked: a mismatch drops the partial file, a match renames it into
place and marks the row complete (a record that refers to the file is accepted from then on).

Uploads of one file are serialized by a lock per (school, sha256) in this process. (With several server
processes the attachments would move to an object store; see docs.)

A device cannot fill the disk: a school adds at most `PartialQuota.max_daily_bytes` in 24 hours (files
completed in the window, plus the ones being uploaded as announced), and holds at most `max_uploads`
unfinished uploads announcing at most `max_bytes` together (the totals of their Content-Range); past either,
a new upload is 429 with Retry-After. A file sent whole in one request never stays partial and counts only
against the daily budget. An upload untouched for
`ttl` expires: this school's are removed when it next uploads, every school's at most every SWEEP_EVERY by
whichever upload comes, and `sync-server clean-uploads` removes them (and partial files no row knows) on
demand or from a scheduled task.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import math
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from sync_server.errors import ServiceError
from sync_server.models import Attachment
from sync_server.private_files import opener as private_opener
from sync_server.private_files import private_dir
from sync_server.services.common import naive_utc

log = logging.getLogger(__name__)

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# At most 19 digits a number (any file we take is far smaller): int() of thousands of digits is an error.
CONTENT_RANGE_PATTERN = r"^bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19})$"
CONTENT_RANGE_RE = re.compile(CONTENT_RANGE_PATTERN)
CHUNK = 64 * 1024
SWEEP_EVERY = dt.timedelta(minutes=10)
DAY = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class PartialQuota:
    """Unfinished uploads a school may hold, and how long an untouched one lives."""

    max_uploads: int = 20
    max_bytes: int = 200 * 1024 * 1024
    ttl: dt.timedelta = dt.timedelta(hours=72)
    # Bytes completed in 24 hours, plus what is being uploaded.
    max_daily_bytes: int = 2 * 1024 * 1024 * 1024

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PartialQuota:
        return cls(
            max_uploads=int(config["MAX_PARTIAL_UPLOADS"]),
            max_bytes=int(config["MAX_PARTIAL_BYTES"]),
            ttl=dt.timedelta(hours=float(config["PARTIAL_UPLOAD_TTL_HOURS"])),
            max_daily_bytes=int(config["MAX_DAILY_UPLOAD_BYTES"]),
        )


@dataclass(frozen=True, slots=True)
class Cleaned:
    uploads: int  # rows of unfinished uploads removed
    files: int  # partial files removed (orphans included)
    bytes: int


@dataclass(frozen=True, slots=True)
class UploadState:
    sha256: str
    offset: int  # bytes held
    size: int | None  # the whole file's size, once known
    complete: bool
    created: bool = False  # this request completed the file


class _Locks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[int, str], tuple[threading.Lock, int]] = {}

    def hold(self, key: tuple[int, str]) -> _Held:
        return _Held(self, key)

    def acquire(self, key: tuple[int, str]) -> threading.Lock:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        lock.acquire()
        return lock

    def try_acquire(self, key: tuple[int, str]) -> bool:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            if not lock.acquire(blocking=False):
                return False
            self._locks[key] = (lock, users + 1)
            return True

    def release(self, key: tuple[int, str]) -> None:
        with self._guard:
            lock, users = self._locks[key]
            lock.release()
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class _Held:
    def __init__(self, locks: _Locks, key: tuple[int, str]) -> None:
        self.locks = locks
        self.key = key

    def __enter__(self) -> None:
        self.locks.acquire(self.key)

    def __exit__(self, *_exc: object) -> None:
        self.locks.release(self.key)


def parse_content_range(header: str | None, length: int | None) -> tuple[int, int, int]:
    """`bytes start-end/total` -> (start, end inclusive, total). Without the header: the whole file in one."""
    if header is None:
        if length is None:
            raise ServiceError(
                "bad_range",
                "缺少 Content-Range 或 Content-Length",
                "send Content-Range (or Content-Length for a whole file)",
                status=400,
            )
        return 0, length - 1, length
    m = CONTENT_RANGE_RE.fullmatch(header.strip())
    if m is None:
        raise ServiceError(
            "bad_range",
            "Content-Range 格式应为 bytes 起-止/总长",
            "Content-Range must be 'bytes start-end/total'",
            status=400,
            details={"content_range": header},
        )
    start, end, total = (int(g) for g in m.groups())
    if end < start or end >= total or (length is not None and length != end - start + 1):
        raise ServiceError(
            "bad_range",
            "Content-Range 与数据长度不符",
            "Content-Range does not match the body",
            status=400,
            details={"content_range": header, "content_length": length},
        )
    return start, end, total


MAX_FILENAME = 255
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def parse_upload_metadata(header: str | None) -> str | None:
    """The file name of tus's `Upload-Metadata: filename <base64 of UTF-8>` (other keys are ignored), else
    None. A name is kept as the school's PC had it, without any folder; a malformed header is 400."""
    if header is None or not header.strip():
        return None
    name: str | None = None
    for pair in header.split(","):
        key, _, encoded = pair.strip().partition(" ")
        if key != "filename":
            continue
        try:
            name = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            name = None
        name = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
        if not name or len(name) > MAX_FILENAME or _CONTROL_RE.search(name):
            raise ServiceError(
                "bad_metadata",
                f"Upload-Metadata 中的文件名无效（应为 UTF-8 文件名的 base64，1–{MAX_FILENAME} 个字符，"
                "不含控制字符）",
                f"the file name in Upload-Metadata must be the base64 of a UTF-8 name of 1 to "
                f"{MAX_FILENAME} characters without control characters",
                status=400,
                details={"header": "Upload-Metadata"},
            )
    return name


class AttachmentStore:
    def __init__(
        self,
        root: Path,
        Session_: sessionmaker[Session],
        ReadSession: sessionmaker[Session],
        *,
        max_bytes: int,
    ) -> None:
        self.root = root
        self.Session = Session_
        self.ReadSession = ReadSession
        self.max_bytes = max_bytes
        self._locks = _Locks()
        self._sweep_guard = threading.Lock()
        self._last_sweep: dt.datetime | None = None

    def path(self, school_id: int, sha256: str) -> Path:
        return self.root / str(school_id) / sha256[:2] / sha256

    def partial_path(self, school_id: int, sha256: str) -> Path:
        return self.root / str(school_id) / "partial" / sha256

    def _row(self, session: Session, school_id: int, sha256: str) -> Attachment | None:
        return session.execute(
            select(Attachment).where(Attachment.school_id == school_id, Attachment.sha256 == sha256)
        ).scalar_one_or_none()

    def state(self, school_id: int, sha256: str) -> UploadState:
        with self.ReadSession.begin() as session:
            row = self._row(session, school_id, sha256)
            if row is not None and row.complete and self.path(school_id, sha256).exists():
                return UploadState(sha256, row.size, row.size, True)
        partial = self.partial_path(school_id, sha256)
        offset = partial.stat().st_size if partial.exists() else 0
        return UploadState(sha256, offset, row.size if row else None, False)

    def put(
        self,
        school_id: int,
        sha256: str,
        *,
        start: int,
        end: int,
        total: int,
        body: IO[bytes],
        now: dt.datetime,
        quota: PartialQuota | None = None,
        filename: str | None = None,
        length_declared: bool = False,
    ) -> UploadState:
        """Append one chunk. `filename`: the name the file had on the school's PC (kept with the row).
        `length_declared`: the request's Content-Length already equals the range's length (the HTTP server
        delivers exactly that many bytes), so nothing is read past them."""
        quota = quota or PartialQuota()
        if total > self.max_bytes:
            raise ServiceError(
                "attachment_too_large",
                f"附件最大 {self.max_bytes // (1024 * 1024)} MB",
                f"attachments are at most {self.max_bytes} bytes",
                status=413,
                details={"max_bytes": self.max_bytes},
            )
        self._sweep(now, quota.ttl)
        with self._locks.hold((school_id, sha256)):
            self.expire(now - quota.ttl, school_id=school_id, held=sha256)
            current = self.state(school_id, sha256)
            if current.complete:
                if filename is not None:
                    self._name(school_id, sha256, filename, only_if_missing=True)
                return current
            if current.size is not None and current.size != total and current.offset > 0:
                raise ServiceError(
                    "bad_range",
                    f"文件总长 {total} 与先前上传时的 {current.size} 不符",
                    f"total {total} differs from the {current.size} given before",
                    status=409,
                    headers={"Upload-Offset": str(current.offset)},
                    details={"offset": current.offset},
                )
            if start != current.offset:
                raise ServiceError(
                    "offset_mismatch",
                    f"服务器已有前 {current.offset} 字节，请从该处继续上传",
                    f"the server holds {current.offset} bytes; continue from there",
                    status=409,
                    headers={"Upload-Offset": str(current.offset)},
                    details={"offset": current.offset},
                )
            if start == 0:  # a new upload (a part of it, or the whole file)
                self._admit(school_id, sha256, total, now, quota, partial=end + 1 < total)
            try:
                offset = self._append(
                    school_id, sha256, start, end - start + 1, body, check_extra=not length_declared
                )
            except BaseException:
                if start == 0:  # nothing of it arrived: leave no file and no row behind
                    self._drop_partial(school_id, sha256)
                raise
            if offset < total:
                self._save_row(
                    school_id, sha256, total, offset, now, complete=False, filename=filename
                )
                return UploadState(sha256, offset, total, False)
            return self._finish(school_id, sha256, total, now, filename)

    # -- the quota and expiry of unfinished uploads ----------------------------------------------------

    def _admit(
        self,
        school_id: int,
        sha256: str,
        total: int,
        now: dt.datetime,
        quota: PartialQuota,
        *,
        partial: bool,
    ) -> None:
        """Refuse a new upload beyond the school's quotas (its daily bytes; for one that stays unfinished
        after this request, its unfinished uploads too), else reserve its place (a row)."""
        with self._locks.hold((school_id, "")), self.Session.begin() as session:
            self._check_daily(session, school_id, sha256, total, now, quota)
            if not partial:
                return
            count, announced, oldest = session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(Attachment.size), 0),
                    func.min(func.coalesce(Attachment.updated_at, Attachment.created_at)),
                ).where(
                    Attachment.school_id == school_id,
                    Attachment.complete.is_(False),
                    Attachment.sha256 != sha256,
                )
            ).one()
            count, announced = int(count), int(announced)
            if count + 1 > quota.max_uploads or announced + total > quota.max_bytes:
                wait = quota.ttl
                if oldest is not None:
                    wait = oldest + quota.ttl - naive_utc(now)
                seconds = max(1, math.ceil(wait.total_seconds()))
                raise ServiceError(
                    "upload_quota",
                    f"本校未传完的附件过多（{count} 个，共 {announced} 字节；上限 "
                    f"{quota.max_uploads} 个、{quota.max_bytes} 字节），请先传完已开始的附件，"
                    f"或 {seconds} 秒后再试",
                    f"this school has too many unfinished uploads ({count}, announcing {announced} "
                    f"bytes; at most {quota.max_uploads} and {quota.max_bytes} bytes): finish them, or "
                    f"try again in {seconds} s",
                    status=429,
                    headers={"Retry-After": str(seconds)},
                    details={
                        "uploads": count,
                        "bytes": announced,
                        "max_uploads": quota.max_uploads,
                        "max_bytes": quota.max_bytes,
                    },
                )
            row = self._row(session, school_id, sha256)
            if row is None:
                session.add(
                    Attachment(
                        school_id=school_id,
                        sha256=sha256,
                        size=total,
                        received=0,
                        complete=False,
                        created_at=naive_utc(now),
                        updated_at=naive_utc(now),
                    )
                )
            else:
                row.size, row.received, row.updated_at = total, 0, naive_utc(now)

    def _check_daily(
        self,
        session: Session,
        school_id: int,
        sha256: str,
        total: int,
        now: dt.datetime,
        quota: PartialQuota,
    ) -> None:
        """Files completed in the last 24 hours, the unfinished ones (as announced) and this one, within
        the school's daily budget: complete files no record uses would fill the disk as surely."""
        since = naive_utc(now) - DAY
        done, first = session.execute(
            select(
                func.coalesce(func.sum(Attachment.size), 0), func.min(Attachment.completed_at)
            ).where(
                Attachment.school_id == school_id,
                Attachment.complete.is_(True),
                Attachment.completed_at > since,
            )
        ).one()
        pending = session.execute(
            select(func.coalesce(func.sum(Attachment.size), 0)).where(
                Attachment.school_id == school_id,
                Attachment.complete.is_(False),
                Attachment.sha256 != sha256,
            )
        ).scalar_one()
        used = int(done) + int(pending)
        if used + total <= quota.max_daily_bytes:
            return
        wait = (first + DAY - naive_utc(now)) if first is not None else DAY
        seconds = max(1, math.ceil(wait.total_seconds()))
        raise ServiceError(
            "upload_quota",
            f"本校 24 小时内上传的附件已达 {used} 字节（上限 {quota.max_daily_bytes} 字节），"
            f"请 {seconds} 秒后再传；如确需更多，请联系教育局",
            f"this school uploaded {used} bytes in 24 hours (at most {quota.max_daily_bytes}); "
            f"try again in {seconds} s",
            status=429,
            headers={"Retry-After": str(seconds)},
            details={"daily_bytes": used, "max_daily_bytes": quota.max_daily_bytes},
        )

    def _drop_partial(self, school_id: int, sha256: str) -> int:
        """Remove an unfinished upload's file and row (the caller holds its lock); the bytes freed."""
        partial = self.partial_path(school_id, sha256)
        try:
            freed = partial.stat().st_size
            partial.unlink()
        except FileNotFoundError:
            freed = 0
        with self.Session.begin() as session:
            session.execute(
                delete(Attachment).where(
                    Attachment.school_id == school_id,
                    Attachment.sha256 == sha256,
                    Attachment.complete.is_(False),
                )
            )
        return freed

    def expire(
        self, cutoff: dt.datetime, *, school_id: int | None = None, held: str | None = None
    ) -> Cleaned:
        """Remove unfinished uploads last written before `cutoff` (naive UTC or aware), of one school or
        all. `held`: the sha256 whose lock the caller holds. One being written right now is left alone."""
        cutoff = naive_utc(cutoff)
        stmt = select(Attachment.school_id, Attachment.sha256).where(
            Attachment.complete.is_(False),
            func.coalesce(Attachment.updated_at, Attachment.created_at) < cutoff,
        )
        if school_id is not None:
            stmt = stmt.where(Attachment.school_id == school_id)
        with self.ReadSession.begin() as session:
            stale = session.execute(stmt).all()
        uploads = files = freed = 0
        for sid, sha in stale:
            if sid == school_id and sha == held:
                had = self.partial_path(sid, sha).exists()
                freed += self._drop_partial(sid, sha)
            elif self._locks.try_acquire((sid, sha)):
                try:
                    had = self.partial_path(sid, sha).exists()
                    freed += self._drop_partial(sid, sha)
                finally:
                    self._locks.release((sid, sha))
            else:
                continue
            uploads += 1
            files += int(had)
        if uploads:
            log.info(
                "removed %d unfinished uploads idle since %s (%d bytes)", uploads, cutoff, freed
            )
        return Cleaned(uploads, files, freed)

    def remove_orphans(self, cutoff: dt.datetime) -> Cleaned:
        """Partial files that no unfinished upload's row knows (left by a crash), older than `cutoff`
        (aware, or naive local time as file times are)."""
        if cutoff.tzinfo is not None:
            cutoff = cutoff.astimezone().replace(tzinfo=None)
        limit = cutoff.timestamp()
        with self.ReadSession.begin() as session:
            known = {
                (sid, sha)
                for sid, sha in session.execute(
                    select(Attachment.school_id, Attachment.sha256).where(
                        Attachment.complete.is_(False)
                    )
                )
            }
        files = freed = 0
        for partial in self.root.glob("*/partial/*"):
            school = partial.parent.parent.name
            if not school.isdigit() or (int(school), partial.name) in known:
                continue
            try:
                info = partial.stat()
                if not partial.is_file() or info.st_mtime >= limit:
                    continue
                partial.unlink()
            except FileNotFoundError:
                continue
            files += 1
            freed += info.st_size
        return Cleaned(0, files, freed)

    def _sweep(self, now: dt.datetime, ttl: dt.timedelta) -> None:
        """Every school's stale uploads, at most every SWEEP_EVERY (so a school gone quiet is cleaned too)."""
        with self._sweep_guard:
            if self._last_sweep is not None and naive_utc(now) - self._last_sweep < SWEEP_EVERY:
                return
            self._last_sweep = naive_utc(now)
        self.expire(now - ttl)

    def _append(
        self,
        school_id: int,
        sha256: str,
        start: int,
        length: int,
        body: IO[bytes],
        *,
        check_extra: bool = True,
    ) -> int:
        partial = self.partial_path(school_id, sha256)
        private_dir(partial.parent)
        with open(partial, "ab", opener=private_opener) as out:
            got = 0
            try:
                while got < length:
                    block = body.read(min(CHUNK, length - got))
                    if not block:
                        break
                    out.write(block)
                    got += len(block)
                # One byte more tells a body longer than its range. Not when Content-Length gave the length:
                # under waitress the stream is capped at the door's limit and a read past it is a 413.
                extra = body.read(1) if check_extra else b""
            except Exception:
                out.truncate(start)
                raise
            if got != length or extra:
                out.truncate(start)
                raise ServiceError(
                    "bad_range",
                    "收到的数据长度与 Content-Range 不符",
                    "the body's length does not match Content-Range",
                    status=400,
                    details={"expected": length, "received": got},
                )
            out.flush()
            os.fsync(out.fileno())
        return start + length

    def _save_row(
        self,
        school_id: int,
        sha256: str,
        total: int,
        received: int,
        now: dt.datetime,
        *,
        complete: bool,
        filename: str | None = None,
    ) -> None:
        with self.Session.begin() as session:
            row = self._row(session, school_id, sha256)
            if row is None:
                row = Attachment(
                    school_id=school_id,
                    sha256=sha256,
                    size=total,
                    received=received,
                    complete=complete,
                    created_at=naive_utc(now),
                )
                session.add(row)
            row.size = total
            row.received = received
            row.complete = complete
            row.updated_at = naive_utc(now)
            row.completed_at = naive_utc(now) if complete else None
            if filename is not None:
                row.filename = filename

    def _finish(
        self, school_id: int, sha256: str, total: int, now: dt.datetime, filename: str | None
    ) -> UploadState:
        partial = self.partial_path(school_id, sha256)
        digest = hashlib.sha256()
        with partial.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            partial.unlink(missing_ok=True)
            with self.Session.begin() as session:
                session.execute(
                    delete(Attachment).where(
                        Attachment.school_id == school_id, Attachment.sha256 == sha256
                    )
                )
            raise ServiceError(
                "sha256_mismatch",
                "文件内容与其 sha256 不符，已丢弃，请重新上传",
                "the file does not match its sha256; it was dropped, upload it again",
                status=422,
                details={"expected": sha256, "received": digest.hexdigest()},
            )
        target = self.path(school_id, sha256)
        private_dir(target.parent)
        os.replace(partial, target)  # the partial file's owner-only mode goes with it
        _fsync_dir(target.parent)
        self._save_row(school_id, sha256, total, total, now, complete=True, filename=filename)
        log.info("attachment %s of school %s complete (%d bytes)", sha256, school_id, total)
        return UploadState(sha256, total, total, True, created=True)

    def _name(self, school_id: int, sha256: str, filename: str, *, only_if_missing: bool) -> None:
        with self.Session.begin() as session:
            row = self._row(session, school_id, sha256)
            if row is not None and (row.filename is None or not only_if_missing):
                row.filename = filename

    def open(self, school_id: int, sha256: str) -> Iterator[bytes]:
        """The file's bytes (for the dashboard and export)."""
        with self.path(school_id, sha256).open("rb") as fh:
            yield from iter(lambda: fh.read(1 << 20), b"")


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_names(
    session: Session, school_id: int, shas: Iterable[str] | None = None
) -> dict[str, str]:
    """sha256 -> the name each file had on the school's PC, for `shas` or (None) every file of the school;
    files an older client sent have no name."""
    stmt = select(Attachment.sha256, Attachment.filename).where(
        Attachment.school_id == school_id, Attachment.filename.is_not(None)
    )
    if shas is None:
        return {sha: name for sha, name in session.execute(stmt) if name}
    wanted = sorted(set(shas))
    out: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        out.update(
            (sha, name)
            for sha, name in session.execute(stmt.where(Attachment.sha256.in_(chunk)))
            if name
        )
    return out
