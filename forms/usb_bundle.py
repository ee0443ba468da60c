"""USB bundles (protocol revision 1.13): a sync carried as a file on a stick (U盘), read and written by both the
school client and the bureau server. Pure functions over bytes and JSON; stdlib and `cryptography` only.

A bundle file is:

    MAGIC (8 bytes, b"SSUSB\\x00\\x01\\n")
    header length (4 bytes, big-endian) | header (UTF-8 JSON, sorted keys, no spaces)
    nonce (12 bytes) | AES-256-GCM(key, nonce, gzip(payload JSON), aad = MAGIC + length + header)

The header is readable without the key (so a person, or the bureau's import, can tell whose bundle it is) and
authenticated: a changed byte anywhere - header, nonce, ciphertext, tag - or a truncated file fails the tag
check and the bundle is refused whole. The key is per device, K = HMAC-SHA256(server secret,
"usb-bundle:" + device_id): the server derives it, the device receives it once (enroll and pull answers,
`usb_key`, base64url without padding).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import gzip
import hashlib
import hmac
import json
import os
import re
import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import Any, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from forms.errors import BilingualError
from forms.framed_file import TAG_BYTES, split_frame

MAGIC = b"SSUSB\x00\x01\n"
MAGIC_STEM = b"SSUSB\x00"  # then the format's byte and a newline
FORMAT = (
    1  # this module's single sealed file; format 2 (revision 1.16) is forms.usb_stream/usb_parts
)
LATEST_FORMAT = 2
TO_BUREAU = "to_bureau"
TO_SCHOOL = "to_school"
KINDS = (TO_BUREAU, TO_SCHOOL)
SUFFIX = ".usbsync"
NONCE_BYTES = 12
MAX_HEADER_BYTES = 64 * 1024
# What gunzip may produce (a bomb is refused): the payload carries attachments as base64.
MAX_PAYLOAD_BYTES = 3 * 1024 * 1024 * 1024
BEIJING = dt.timedelta(hours=8)
_HEADER_FIELDS = (
    "format",
    "kind",
    "school_code",
    "device_id",
    "bundle_id",
    "created_at",
    "app_version",
)
_SHORT_SAFE = re.compile(r"[^0-9A-Za-z\u4e00-\u9fff_-]")


class BundleError(BilingualError):
    """A bundle refused whole: `code`, and the reason in Chinese and English."""


@dataclass(frozen=True)
class Header:
    kind: str
    school_code: str
    device_id: str
    bundle_id: str
    created_at: str  # ISO 8601 UTC, "...Z"
    app_version: str
    format: int = LATEST_FORMAT
    # An answer names the bundle it answers (absent in a school's bundle).
    in_reply_to: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in _HEADER_FIELDS}
        if self.in_reply_to is not None:
            out["in_reply_to"] = self.in_reply_to
        return out


def device_key(secret: str, device_id: str) -> bytes:
    return hmac.new(secret.encode(), f"usb-bundle:{device_id}".encode(), hashlib.sha256).digest()


def encode_key(key: bytes) -> str:
    """The key as the enroll and pull answers carry it (base64url without padding)."""
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def decode_key(value: object) -> bytes | None:
    """A key as carried, or None when it is not one (not text, not base64url, not 32 bytes)."""
    if not isinstance(value, str):
        return None
    try:
        key = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, binascii.Error):
        return None
    return key if len(key) == 32 else None


def new_header(
    *,
    kind: str,
    school_code: str,
    device_id: str,
    app_version: str,
    now: dt.datetime,
    in_reply_to: str | None = None,
    format: int = LATEST_FORMAT,
) -> Header:
    utc = now.astimezone(dt.UTC) if now.tzinfo else now
    return Header(
        kind=kind,
        school_code=school_code,
        device_id=device_id,
        bundle_id=str(uuid.uuid4()),
        created_at=utc.replace(microsecond=0, tzinfo=None).isoformat() + "Z",
        app_version=app_version,
        in_reply_to=in_reply_to,
        format=format,
    )


def file_stem(header: Header) -> str:
    """`<school code>_<YYYYMMDD-HHMM Beijing>_<first 8 of the bundle id>`: a person can tell schools, dates
    and bundles apart."""
    when = dt.datetime.fromisoformat(header.created_at.rstrip("Z")) + BEIJING
    school = _SHORT_SAFE.sub("_", header.school_code)[:32] or "school"
    return f"{school}_{when:%Y%m%d-%H%M}_{header.bundle_id[:8]}"


def file_name(header: Header, *, answer: bool = False) -> str:
    """The stem, `_answer` for an answer, and `.usbsync` (a bundle in one file)."""
    return f"{file_stem(header)}{'_answer' if answer else ''}{SUFFIX}"


def header_bytes(header: Header) -> bytes:
    return json.dumps(
        header.as_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")


def seal(header: Header, payload: Any, key: bytes) -> bytes:
    """The bundle's bytes (format 1): the header in the clear (authenticated), the payload encrypted."""
    if header.format != FORMAT:  # a header made for the latest format (new_header's default)
        header = dataclasses.replace(header, format=FORMAT)
    head = header_bytes(header)
    prefix = MAGIC + struct.pack(">I", len(head)) + head
    plain = gzip.compress(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        compresslevel=6,
        mtime=0,
    )
    nonce = os.urandom(NONCE_BYTES)
    return prefix + nonce + AESGCM(key).encrypt(nonce, plain, prefix)


def _not_a_bundle(zh: str, en: str) -> BundleError:
    return BundleError(
        "bundle_malformed",
        f"不是有效的U盘同步文件（{zh}），未导入任何数据",
        f"not a valid USB sync file ({en}); nothing was imported",
    )


def _refuse_bundle(zh: str, en: str) -> NoReturn:
    raise _not_a_bundle(zh, en)


def _split(data: bytes) -> tuple[bytes, bytes, Header]:
    if not data.startswith(MAGIC):
        too_new(data[: len(MAGIC)])
    prefix, raw, sealed = split_frame(
        data,
        MAGIC,
        max_header=MAX_HEADER_BYTES,
        min_sealed=NONCE_BYTES + TAG_BYTES,
        refuse=_refuse_bundle,
    )
    return prefix, sealed, parse_header(raw, FORMAT)


def _too_new(fmt: int) -> BundleError:
    return BundleError(
        "bundle_too_new",
        f"这个U盘同步文件是较新版本的格式（{fmt}），请先升级本程序；未导入任何数据",
        f"this USB sync file has a newer format ({fmt}); update this program first; nothing was "
        "imported",
    )


def too_new(lead: bytes) -> None:
    """BundleError when the file's first bytes are of a format newer than this program reads."""
    if len(lead) >= len(MAGIC) and lead.startswith(MAGIC_STEM) and lead[6] > LATEST_FORMAT:
        raise _too_new(lead[6])


def file_format(lead: bytes) -> int | None:
    """1 or 2 from a file's first 8 bytes; None when it is no bundle (a newer one: BundleError)."""
    too_new(lead)
    if lead.startswith(MAGIC_STEM) and len(lead) >= len(MAGIC) and lead[7:8] == b"\n":
        return lead[6] if lead[6] in (1, 2) else None
    return None


def parse_header(raw: Any, fmt: int) -> Header:
    """A header as read from a bundle of format `fmt` (its `format` must say so)."""
    if not isinstance(raw, dict) or raw.get("format") != fmt:
        found = raw.get("format") if isinstance(raw, dict) else None
        if isinstance(found, int) and found > LATEST_FORMAT:
            raise _too_new(found)
        raise _not_a_bundle("文件头已损坏", "the header is damaged")
    for name in _HEADER_FIELDS[1:]:
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise _not_a_bundle(f"文件头缺少 {name}", f"the header lacks {name}")
    if raw["kind"] not in KINDS:
        raise _not_a_bundle("文件种类未知", f"unknown kind {raw['kind']!r}")
    reply = raw.get("in_reply_to")
    return Header(
        kind=raw["kind"],
        school_code=raw["school_code"],
        device_id=raw["device_id"],
        bundle_id=raw["bundle_id"],
        created_at=raw["created_at"],
        app_version=raw["app_version"],
        in_reply_to=reply if isinstance(reply, str) else None,
        format=fmt,
    )


def read_header(data: bytes) -> Header:
    """The header, read without the key (not yet authenticated: open() checks it). A format-2 bundle in
    one part is read too."""
    if data.startswith(MAGIC_STEM) and file_format(data[: len(MAGIC)]) == 2:
        from forms.usb_files import header_of_bytes

        return header_of_bytes(data)
    return _split(data)[2]


def open_bundle(data: bytes, key: bytes) -> tuple[Header, Any]:
    """(header, payload) of an authentic bundle in memory; BundleError for anything else (a changed byte, a
    truncated file, another device's key). A format-2 bundle in one part is read too (its attachments'
    bytes as base64 `data`, as in format 1)."""
    if data.startswith(MAGIC_STEM) and file_format(data[: len(MAGIC)]) == 2:
        from forms.usb_files import open_bytes

        return open_bytes(data, key)
    prefix, sealed, header = _split(data)
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    try:
        plain = AESGCM(key).decrypt(nonce, body, prefix)
    except InvalidTag:
        raise BundleError(
            "bundle_not_authentic",
            "U盘同步文件校验失败：文件已损坏、被改动、不完整，或不是发给本机的；未导入任何数据",
            "the USB sync file failed its check: it is damaged, changed, truncated or not meant for "
            "this device; nothing was imported",
        ) from None
    try:
        inflater = zlib.decompressobj(wbits=31)
        text = inflater.decompress(plain, MAX_PAYLOAD_BYTES + 1)
        if len(text) > MAX_PAYLOAD_BYTES or inflater.unconsumed_tail or not inflater.eof:
            raise _not_a_bundle("内容已损坏或过大", "the content is damaged or too large")
        payload = json.loads(text.decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError):
        raise _not_a_bundle("内容已损坏", "the content is damaged") from None
    if not isinstance(payload, dict):
        raise _not_a_bundle("内容已损坏", "the content is damaged")
    return header, payload


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: object) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return None


def write_atomic(path: os.PathLike[str] | str, data: bytes) -> None:
    """Write under a temporary name beside `path`, fsync, rename, fsync the folder, then read it back and
    compare: a stick pulled out mid-write leaves no file under the real name."""
    target = os.fspath(path)
    folder = os.path.dirname(target) or "."
    temp = os.path.join(folder, f".{os.path.basename(target)}.{uuid.uuid4().hex[:8]}.part")
    try:
        with open(temp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        fd = -1  # Windows cannot open a folder; its rename is durable once the file was flushed
    if fd >= 0:
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
    with open(target, "rb") as fh:
        back = fh.read()
    if back != data:
        raise BundleError(
            "bundle_write_failed",
            f"写入U盘后读回校验不一致：{target}（请换一个U盘再试）",
            f"the file read back differs from what was written: {target} (try another stick)",
        )
