"""Resumable, content-addressed attachment upload (docs/protocol.md, "Attachments").

HEAD asks what the server has (200: all of it; 404 + Upload-Offset: the first n bytes); PUT appends chunks
with Content-Range from that offset; 409 says the server holds a different offset (we continue from it); the
last chunk is answered 201 after the server checked the sha256. A broken link is retried with backoff,
asking HEAD again where to resume, so a cut never re-sends what already arrived.

A chunk cut short is dropped whole by the server, so its size matters on a bad link (protocol revision 1.4):
ChunkSizer starts small (32 KiB) and sizes each chunk to take a few seconds (4) on the throughput measured so
far, and at most a fifth of the time the link has been staying up between breaks; a break halves it. Over
64 kbit/s that is about 28 KB, where the old fixed 256 KiB chunk took 32 s and never completed on a link that
drops every 20 s. A 413 naming the server's per-chunk limit lowers the largest size to it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import time
from collections.abc import Callable
from pathlib import Path

from client.store.attachments import AttachmentUnreadable, read_attachment_file
from client.sync.errors import ErrorKind, SyncError
from client.sync.http import API, Transport
from forms.identifiers import quote_segment

log = logging.getLogger(__name__)

MAX_OFFSET_CONFLICTS = 5
MIN_CHUNK = 16 * 1024
FIRST_CHUNK = 32 * 1024
# The largest chunk: half the server's default per-PUT limit (MAX_UPLOAD_CHUNK_BYTES, 1 MiB).
MAX_CHUNK = 512 * 1024
# What one chunk should take on the measured link: long enough that a round trip (600 ms on a rural link)
# costs little, short enough that a break loses little (benchmarks/slow_link_bench.py, 64 kbit/s reset every
# 20 s: the 400 KB photo took 77-92 s with 4 s, 95 s with 6 or 8 s) ...
CHUNK_SECONDS = 4.0
UPTIME_SHARE = 5  # ... and, once the link broke, at most a fifth of its usual time between breaks
GROWTH = 2.0  # how much larger the next chunk may be ...
GROWTH_AFTER_BREAK = 1.25  # ... and once the link broke during this sync

Monotonic = Callable[[], float]


def file_sha256(path: Path) -> str:
    """The sha256 of an attachment file's content (decrypted: client.store.attachments); "" when its file does
    not open (damaged), so that it never matches."""
    try:
        return hashlib.sha256(read_attachment_file(path)).hexdigest()
    except AttachmentUnreadable:
        return ""


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


class ChunkSizer:
    """How many bytes the next PUT carries, from what the link did so far (one sizer per sync, shared by
    its files). `fixed`: always that size (still lowered to a limit the server names)."""

    def __init__(
        self,
        *,
        fixed: int | None = None,
        first: int = FIRST_CHUNK,
        smallest: int = MIN_CHUNK,
        largest: int = MAX_CHUNK,
        seconds: float = CHUNK_SECONDS,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.fixed = fixed is not None
        self.largest = max(largest, fixed or 0)
        self.smallest = min(smallest, self.largest)
        self.size = fixed if fixed is not None else max(self.smallest, min(first, self.largest))
        self.seconds = seconds
        self.monotonic = monotonic
        self._up_since = monotonic()  # when the link last broke (or sizing began)
        self._uptime: float | None = None  # the link's usual time between breaks, once it broke
        self.breaks = 0

    def arrived(self, n: int, seconds: float) -> None:
        """A chunk of n bytes was stored, `seconds` after it was sent."""
        if self.fixed or n <= 0:
            return
        rate = n / max(seconds, 1e-3)
        budget = self.seconds
        if self._uptime is not None:
            budget = min(budget, self._uptime / UPTIME_SHARE)
        growth = GROWTH_AFTER_BREAK if self.breaks else GROWTH
        want = min(int(rate * budget), int(self.size * growth), self.largest)
        self.size = max(self.smallest, want)

    def broke(self) -> None:
        """The link broke (or the server failed) during a chunk: smaller chunks, and note how long it
        stayed up."""
        now = self.monotonic()
        lasted = now - self._up_since
        self._up_since = now
        self._uptime = lasted if self._uptime is None else (self._uptime + lasted) / 2
        self.breaks += 1
        if not self.fixed:
            self.size = max(self.smallest, self.size // 2)

    def limit(self, max_bytes: int) -> None:
        """The server takes at most max_bytes in one PUT."""
        self.largest = max(1, min(self.largest, max_bytes))
        self.smallest = min(self.smallest, self.largest)
        self.size = min(self.size, self.largest)


def _chunk_limit(exc: SyncError, sent: int) -> int | None:
    """The size to try next when the server refused a chunk of `sent` bytes as too large naming its
    per-PUT limit (413, details.max_bytes), else None. A chunk of exactly that limit refused as well (a server
    that takes fewer bytes than it names) is tried one byte smaller."""
    most = exc.details.get("max_bytes")
    if exc.status == 413 and isinstance(most, int) and 0 < most <= sent and sent > 1:
        return min(most, sent - 1)
    return None


def upload_metadata(filename: str) -> str | None:
    """tus's Upload-Metadata for the file's name: `filename <base64 of UTF-8>`; None for a name the server
    would refuse (over 255 characters, control characters), which is then not sent."""
    if (
        not filename
        or len(filename) > 255
        or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in filename)
    ):
        return None
    return "filename " + base64.b64encode(filename.encode("utf-8")).decode("ascii")


def upload_file(
    transport: Transport,
    sha256: str,
    path: Path,
    *,
    sizer: ChunkSizer,
    on_offset: Callable[[int], None] = lambda n: None,
    filename: str | None = None,
) -> int:
    """Make the server hold the whole file; returns the bytes sent. SyncError when it cannot.

    `on_offset(n)`: the server now holds the first n bytes (the whole size once it is complete). A run of
    `policy.attempts` failures without the server's offset moving ends the upload; any progress starts the
    count again, so a link that keeps dropping still gets the file up, chunk by chunk."""
    content = read_attachment_file(path)  # decrypted in memory: no plaintext copy on the disk
    size = len(content)
    policy = transport.policy
    failures = 0
    conflicts = 0
    sent = 0
    best = -1  # the most the server was seen to hold
    in_flight = 0  # the size of the chunk being sent
    while True:
        try:
            offset = remote_offset(transport, sha256)
            if offset is None:
                on_offset(size)
                return sent
            if offset >= size and size > 0:
                raise SyncError(
                    ErrorKind.SERVER,
                    "服务器上的附件与本机的不一致，无法续传",
                    f"the server holds {offset} bytes of {sha256[:12]} ({size} bytes) but not the whole file",
                )
            if offset > best:
                best, failures = offset, 0
            on_offset(offset)
            with io.BytesIO(content) as fh:
                while True:
                    fh.seek(offset)
                    chunk = fh.read(sizer.size)
                    end = offset + len(chunk) - 1
                    headers = {"Content-Type": "application/octet-stream"}
                    metadata = upload_metadata(filename or "")
                    if metadata:  # kept by the server with the file (protocol revision 1.7)
                        headers["Upload-Metadata"] = metadata
                    if (
                        chunk
                    ):  # an empty file goes whole, without a range (bytes 0--1/0 is no range)
                        headers["Content-Range"] = f"bytes {offset}-{end}/{size}"
                    in_flight = len(chunk)
                    started = sizer.monotonic()
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
                    sizer.arrived(len(chunk), sizer.monotonic() - started)
                    sent += len(chunk)
                    if answer.status == 201:
                        on_offset(size)
                        return sent
                    offset = _offset(answer.headers.get("Upload-Offset"), end + 1)
                    if offset > best:
                        best, failures = offset, 0
                    on_offset(min(offset, size))
                    if offset >= size:
                        break  # every byte is there but no 201: ask HEAD
        except SyncError as exc:
            most = _chunk_limit(exc, in_flight)
            if most is not None:
                log.info("the server takes at most %d bytes per chunk; sending smaller ones", most)
                sizer.limit(most)
                continue
            if not exc.retryable:
                raise
            sizer.broke()
            failures += 1
            if failures >= policy.attempts:
                raise
            wait = exc.retry_after
            if wait is not None and wait > policy.max_retry_after:
                raise
            wait = wait if wait is not None else policy.delay(failures, transport.rng)
            log.info(
                "upload of %s broke at %d of %d bytes (%s); resuming in %.1fs with %d-byte chunks",
                sha256[:12],
                max(best, 0),
                size,
                exc.message_en,
                wait,
                sizer.size,
            )
            transport.sleep(wait)
