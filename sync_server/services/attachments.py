"""Attachments: content-addressed (sha256) per school, uploaded resumably, verified on arrival.

Files live under <root>/<school id>/<sha[:2]>/<sha>; an upload in progress is <root>/<school id>/partial/<sha>,
whose length is the upload offset. A chunk is appended only at that offset and is fsynced before it is
acknowledged; a chunk cut short is truncated away, so the offset always counts whole acknowledged chunks.
When the last byte arrives the sha256 is checked: a mismatch drops the partial file, a match renames it into
place and marks the row complete (a record that refers to the file is accepted from then on).

Uploads of one file are serialized by a lock per (school, sha256) in this process. (With several server
processes the attachments would move to an object store; see docs.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from sync_server.errors import ServiceError
from sync_server.models import Attachment
from sync_server.services.common import naive_utc

log = logging.getLogger(__name__)

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
CHUNK = 64 * 1024


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
    m = CONTENT_RANGE_RE.match(header.strip())
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
    ) -> UploadState:
        if total > self.max_bytes:
            raise ServiceError(
                "attachment_too_large",
                f"附件最大 {self.max_bytes // (1024 * 1024)} MB",
                f"attachments are at most {self.max_bytes} bytes",
                status=413,
                details={"max_bytes": self.max_bytes},
            )
        with self._locks.hold((school_id, sha256)):
            current = self.state(school_id, sha256)
            if current.complete:
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
            offset = self._append(school_id, sha256, start, end - start + 1, body)
            if offset < total:
                self._save_row(school_id, sha256, total, offset, now, complete=False)
                return UploadState(sha256, offset, total, False)
            return self._finish(school_id, sha256, total, now)

    def _append(self, school_id: int, sha256: str, start: int, length: int, body: IO[bytes]) -> int:
        partial = self.partial_path(school_id, sha256)
        partial.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("ab") as out:
            got = 0
            try:
                while got < length:
                    block = body.read(min(CHUNK, length - got))
                    if not block:
                        break
                    out.write(block)
                    got += len(block)
                extra = body.read(1)
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
            row.completed_at = naive_utc(now) if complete else None

    def _finish(self, school_id: int, sha256: str, total: int, now: dt.datetime) -> UploadState:
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
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, target)
        _fsync_dir(target.parent)
        self._save_row(school_id, sha256, total, total, now, complete=True)
        log.info("attachment %s of school %s complete (%d bytes)", sha256, school_id, total)
        return UploadState(sha256, total, total, True, created=True)

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
