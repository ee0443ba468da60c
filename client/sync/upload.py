"""Resumable, content-addressed attachment upload (docs/protocol.md, "Attachments").

HEAD asks what the server has (200: all of it; 404 + Upload-Offset: the first n bytes); PUT appends chunks
with Content-Range from that offset; 409 says the server holds a different offset (we continue from it); the
last chunk is answered 201 after the server checked the sha256. A broken link is retried with backoff,
asking HEAD again where to resume, so a cut never re-sends what already arrived.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from client.sync.errors import ErrorKind, SyncError
from client.sync.http import API, Transport
from forms.identifiers import quote_segment

log = logging.getLogger(__name__)

MAX_OFFSET_CONFLICTS = 5


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _offset(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def remote_offset(transport: Transport, sha256: str) -> int | None:
    """None when the server has the whole file, else how many of its first bytes it holds."""
    answer = transport.request(
        "HEAD", f"{API}/attachments/{quote_segment(sha256)}", expect=(200, 404), want_json=False
    )
    if answer.status == 200:
        return None
    return _offset(answer.headers.get("Upload-Offset"), 0)


def upload_file(
    transport: Transport,
    sha256: str,
    path: Path,
    *,
    chunk_size: int,
    on_bytes: Callable[[int], None] = lambda n: None,
) -> int:
    """Make the server hold the whole file; returns the bytes sent. SyncError when it cannot."""
    size = path.stat().st_size
    policy = transport.policy
    failures = 0
    conflicts = 0
    sent = 0
    while True:
        try:
            offset = remote_offset(transport, sha256)
            if offset is None:
                return sent
            if offset >= size and size > 0:
                raise SyncError(
                    ErrorKind.SERVER,
                    "服务器上的附件与本机的不一致，无法续传",
                    f"the server holds {offset} bytes of {sha256[:12]} ({size} bytes) but not the whole file",
                )
            with path.open("rb") as fh:
                while True:
                    fh.seek(offset)
                    chunk = fh.read(chunk_size)
                    end = offset + len(chunk) - 1
                    headers = {"Content-Type": "application/octet-stream"}
                    if (
                        chunk
                    ):  # an empty file goes whole, without a range (bytes 0--1/0 is no range)
                        headers["Content-Range"] = f"bytes {offset}-{end}/{size}"
                    answer = transport.request(
                        "PUT",
                        f"{API}/attachments/{quote_segment(sha256)}",
                        body=chunk,
                        headers=headers,
                        expect=(200, 201, 204, 308, 409),
                        retry=False,  # a retry asks HEAD first: part of the chunk may have arrived
                        want_json=False,
                    )
                    if answer.status == 409:
                        conflicts += 1
                        if conflicts > MAX_OFFSET_CONFLICTS:
                            raise SyncError(
                                ErrorKind.CONFLICT,
                                "附件续传位置反复不一致",
                                "the server kept reporting another upload offset",
                                status=409,
                            )
                        offset = _offset(answer.headers.get("Upload-Offset"), offset)
                        continue
                    sent += len(chunk)
                    on_bytes(len(chunk))
                    if answer.status == 201:
                        return sent
                    offset = _offset(answer.headers.get("Upload-Offset"), end + 1)
                    if offset >= size:
                        break  # every byte is there but no 201: ask HEAD
        except SyncError as exc:
            if not exc.retryable:
                raise
            failures += 1
            if failures >= policy.attempts:
                raise
            wait = exc.retry_after
            if wait is not None and wait > policy.max_retry_after:
                raise
            wait = wait if wait is not None else policy.delay(failures, transport.rng)
            log.info(
                "upload of %s broke (%s); resuming in %.1fs", sha256[:12], exc.message_en, wait
            )
            transport.sleep(wait)
