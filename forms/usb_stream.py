"""USB bundles, format 2 (protocol revision 1.16): written and read as a stream, so a bundle with gigabytes of
photos never sits in memory. Stdlib and `cryptography` only.

Every part file (forms.usb_parts) starts `MAGIC | u32 header length | header (UTF-8 JSON, sorted keys)`, readable
without the key; the bundle's bytes (the "stream", cut into the parts' bodies) are

    salt (16) | nonce prefix (7) | segment...

encrypted with the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár ("Online
Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", 2015), as Tink's AES-GCM-HKDF streaming AEAD
and `age` use it: a key for this bundle alone is derived with HKDF-SHA256 from the device key and the random
salt; segment i is AES-256-GCM of at most SEGMENT plaintext bytes under the nonce
`nonce prefix | i (u32, big-endian) | last (1 byte: 1 for the final segment, else 0)`, with associated data
= MAGIC | u32 header length | header | salt | nonce prefix (the header is authenticated by every segment). A
changed, dropped, repeated or reordered segment, a stream cut at any byte (even at a segment boundary: the new
last segment was not sealed as last), another header, or another device's key fails a tag.

The plaintext is a sequence of frames: `kind (1 byte) | length (u64) | bytes`, where kind J is a JSON document
compressed with zlib, B the raw bytes of a file (an attachment) announced by the JSON document before it.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from forms.usb_bundle import BundleError, Header, parse_header

FORMAT = 2
MAGIC = b"SSUSB\x00\x02\n"
SEGMENT = 64 * 1024  # plaintext bytes per segment
TAG = 16
SALT_BYTES = 16
PREFIX_BYTES = 7
MAX_SEGMENTS = 2**32 - 1
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024  # one JSON document, inflated (a bomb is refused)
KIND_JSON = b"J"
KIND_BLOB = b"B"
_FRAME = struct.Struct(">cQ")


def _segment_key(key: bytes, salt: bytes) -> AESGCM:
    return AESGCM(
        HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"ssusb format 2").derive(key)
    )


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def not_authentic(where: str = "", where_en: str = "") -> BundleError:
    return BundleError(
        "bundle_not_authentic",
        f"U盘同步文件校验失败{where}：文件已损坏、被改动、不完整，或不是发给本机的；未导入任何数据",
        f"the USB sync file failed its check{where_en}: it is damaged, changed, truncated or not meant "
        "for this device; nothing was imported",
    )


def malformed(zh: str, en: str) -> BundleError:
    return BundleError(
        "bundle_malformed",
        f"不是有效的U盘同步文件（{zh}），未导入任何数据",
        f"not a valid USB sync file ({en}); nothing was imported",
    )


class Sink(Protocol):
    def write(self, data: bytes, /) -> Any: ...


class Source(Protocol):
    """The stream's bytes (forms.usb_parts.PartReader): read(n) gives fewer only at the end."""

    def read(self, n: int, /) -> bytes: ...

    def where(self) -> tuple[str, str]:
        """The file and part the next byte comes from, for messages (Chinese, English)."""
        ...


class StreamWriter:
    """Frames in, sealed segments out to `sink`; close() seals the last segment. Holds one segment.
    `head`: the header's bytes as every part carries them (header_bytes)."""

    def __init__(self, sink: Sink, head: bytes, key: bytes) -> None:
        salt, prefix = os.urandom(SALT_BYTES), os.urandom(PREFIX_BYTES)
        self._aad = associated_data(head, salt + prefix)
        self._aead = _segment_key(key, salt)
        self._prefix = prefix
        self._sink = sink
        self._buffer = bytearray()
        self._index = 0
        sink.write(salt + prefix)

    def _seal(self, chunk: bytes, last: bool) -> None:
        if self._index >= MAX_SEGMENTS:
            raise ValueError("too many segments")
        nonce = _nonce(self._prefix, self._index, last)
        self._sink.write(self._aead.encrypt(nonce, chunk, self._aad))
        self._index += 1

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) > SEGMENT:  # the last segment is sealed by close(), never here
            self._seal(bytes(self._buffer[:SEGMENT]), False)
            del self._buffer[:SEGMENT]

    def document(self, doc: Any) -> None:
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        packed = zlib.compress(text, 6)
        self.write(_FRAME.pack(KIND_JSON, len(packed)) + packed)

    def blob(self, data: bytes) -> None:
        self.write(_FRAME.pack(KIND_BLOB, len(data)))
        for at in range(0, len(data), SEGMENT):
            self.write(data[at : at + SEGMENT])

    def close(self) -> None:
        self._seal(bytes(self._buffer), True)
        self._buffer.clear()


def associated_data(head: bytes, lead: bytes) -> bytes:
    return MAGIC + struct.pack(">I", len(head)) + head + lead


def header_from(head: bytes) -> Header:
    """The header from its bytes as a part carries them: readable without the key (not yet authenticated -
    the segments are)."""
    try:
        raw = json.loads(head.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise malformed("文件头已损坏", "the header is damaged") from None
    return parse_header(raw, FORMAT)


class StreamReader:
    """The plaintext of an authentic stream, segment by segment (one segment held at a time)."""

    def __init__(self, source: Source, key: bytes, head: bytes) -> None:
        self._source = source
        self.header = header_from(head)
        lead = source.read(SALT_BYTES + PREFIX_BYTES)
        if len(lead) < SALT_BYTES + PREFIX_BYTES:
            raise not_authentic("（文件不完整）", " (the file is truncated)")
        self._prefix = lead[SALT_BYTES:]
        self._aad = associated_data(head, lead)
        self._aead = _segment_key(key, lead[:SALT_BYTES])
        self._index = 0
        self._plain = b""
        self._at = 0
        self._ahead_at = source.where()
        self._ahead = source.read(SEGMENT + TAG)
        self.finished = False

    def _next_segment(self) -> bool:
        if self.finished:
            return False
        sealed, (zh, en) = self._ahead, self._ahead_at
        self._ahead_at = self._source.where()
        self._ahead = self._source.read(SEGMENT + TAG)
        last = not self._ahead
        try:
            self._plain = self._aead.decrypt(
                _nonce(self._prefix, self._index, last), sealed, self._aad
            )
        except InvalidTag:
            raise not_authentic(f"（{zh}）", f" ({en})") from None
        self._at = 0
        self._index += 1
        self.finished = last
        return True

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            if self._at >= len(self._plain) and not self._next_segment():
                break
            take = self._plain[self._at : self._at + n - len(out)]
            self._at += len(take)
            out += take
        return bytes(out)

    def exact(self, n: int) -> bytes:
        data = self.read(n)
        if len(data) < n:
            raise malformed("内容不完整", "the content is cut short")
        return data

    def frames(self) -> Iterator[Frame]:
        """Every frame to the end; a blob's bytes must be read (Frame.chunks) before the next frame."""
        while True:
            raw = self.read(_FRAME.size)
            if not raw:  # read() gives nothing only past the segment sealed as the last
                return
            if len(raw) < _FRAME.size:
                raise malformed("内容不完整", "the content is cut short")
            kind, length = _FRAME.unpack(raw)
            if kind == KIND_JSON:
                yield Frame(kind, _inflate(self.exact(length)), length, None)
            elif kind == KIND_BLOB:
                frame = Frame(kind, None, length, self)
                yield frame
                frame.drain()
            else:
                raise malformed("内容种类未知", "unknown frame kind")


@dataclass
class Frame:
    kind: bytes
    document: Any
    length: int
    _reader: StreamReader | None
    _left: int = -1

    def chunks(self) -> Iterator[bytes]:
        """A blob's bytes, SEGMENT at a time."""
        if self._reader is None:
            return
        if self._left < 0:
            self._left = self.length
        while self._left > 0:
            chunk = self._reader.exact(min(SEGMENT, self._left))
            self._left -= len(chunk)
            yield chunk

    def drain(self) -> None:
        for _ in self.chunks():
            pass


def _inflate(packed: bytes) -> Any:
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(packed, MAX_DOCUMENT_BYTES + 1)
        if len(text) > MAX_DOCUMENT_BYTES or inflater.unconsumed_tail or not inflater.eof:
            raise malformed("内容已损坏或过大", "the content is damaged or too large")
        return json.loads(text.decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError):
        raise malformed("内容已损坏", "the content is damaged") from None


def copy_blob(frame: Frame, out: BinaryIO, check: Callable[[bytes], None] | None = None) -> int:
    """Write a blob frame's bytes to `out` (each chunk also to `check`); the count written."""
    n = 0
    for chunk in frame.chunks():
        out.write(chunk)
        if check is not None:
            check(chunk)
        n += len(chunk)
    return n
