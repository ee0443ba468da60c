"""Enrollment by file (protocol revision 1.15): a school with no link at all is enrolled from a file the bureau
writes onto a USB stick, opened on the school PC with a short one-time code. Read and written by both the
bureau server and the school client. Pure functions over bytes and JSON; stdlib and `cryptography` only.

A file is:

    MAGIC (8 bytes, b"SSENR\\x00\\x01\\n")
    header length (4 bytes, big-endian) | header (UTF-8 JSON, sorted keys, no spaces)
    nonce (12 bytes) | AES-256-GCM(key, nonce, gzip(payload JSON), aad = MAGIC + length + header)

key = scrypt(the code, upper case without dashes or spaces; salt, n, r, p of the header; 32 bytes). The code is
12 characters of 25 (56 bits) shown once by the bureau; the file alone (a lost stick) opens nothing, and each
guess costs a scrypt (32 MiB, about 0.1-0.3 s). The header - which school, which file, when - is readable
without the code and authenticated: a changed byte anywhere fails the tag, as a wrong code does.

The payload carries what an online enrollment gives (server address and certificate fingerprint, school,
device id and token, usb_key, pin_reset_key) and the first pull as a sealed USB answer bundle (`answer`).
The device token of a file is `f1.<device id>.<secret>`; the client appends the installation id it makes when it
enrolls (`f1.<device id>.<secret>.<installation>`), so the server binds the file to the first computer it hears
from, online (this token) or by stick (the bundle header, forms.usb_installation).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import gzip
import json
import os
import re
import secrets
import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import Any, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from forms import typed_codes
from forms.errors import BilingualError
from forms.framed_file import TAG_BYTES, split_frame

MAGIC = b"SSENR\x00\x01\n"
FORMAT = 1
SUFFIX = ".ssenroll"
NONCE_BYTES = 12
SALT_BYTES = 16
MAX_HEADER_BYTES = 16 * 1024
MAX_PAYLOAD_BYTES = 512 * 1024 * 1024
# scrypt cost: N = 2**15, r = 8 -> 32 MiB and about 0.1-0.3 s a try on a school PC. A file states its own
# parameters (a later bureau may raise them); a reader accepts N up to 2**20 (1 GiB) and no less than 2**10.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_MIN_N, _MAX_N = 2**10, 2**20
CODE_GROUPS = 3  # 12 characters of 25 (forms.typed_codes): 55.7 bits
TOKEN_PREFIX = "f1"
_SECRET = r"[A-Za-z0-9_-]{43}"
_DEVICE = r"[0-9a-f-]{36}"
FILE_TOKEN_RE = re.compile(rf"f1\.({_DEVICE})\.({_SECRET})")
INSTALLED_TOKEN_RE = re.compile(rf"f1\.({_DEVICE})\.({_SECRET})\.([0-9a-f]{{32}})")
INSTALLATION_RE = re.compile(r"[0-9a-f]{32}")


class EnrollmentFileError(BilingualError):
    """A file refused: `code`, and the reason in Chinese and English."""


@dataclass(frozen=True)
class Header:
    school_code: str
    school_name: str
    file_id: str
    created_at: str  # ISO 8601 UTC, "...Z"
    salt: str  # base64
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P
    format: int = FORMAT
    # The bytes after the header (nonce, ciphertext and tag), so a file cut short (a stick pulled out while
    # it was written) is told from a wrong code. Absent in files of an older bureau: they cannot be told.
    sealed_bytes: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = self._fields()
        if self.sealed_bytes is not None:
            out["sealed_bytes"] = self.sealed_bytes
        return out

    def _fields(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "kind": "enrollment",
            "school_code": self.school_code,
            "school_name": self.school_name,
            "file_id": self.file_id,
            "created_at": self.created_at,
            "kdf": {"name": "scrypt", "salt": self.salt, "n": self.n, "r": self.r, "p": self.p},
        }


# -- codes and tokens -------------------------------------------------------------------------------------


def new_code() -> str:
    return typed_codes.new_code(CODE_GROUPS)


def new_file_token(device_id: str) -> str:
    return f"{TOKEN_PREFIX}.{device_id}.{secrets.token_urlsafe(32)}"


def new_installation_id() -> str:
    return uuid.uuid4().hex


def installed_token(token: str, installation_id: str) -> str:
    """The token a computer sends: the file's token with its installation id appended."""
    if not FILE_TOKEN_RE.fullmatch(token) or not INSTALLATION_RE.fullmatch(installation_id):
        raise ValueError("not a file token or an installation id")
    return f"{token}.{installation_id}"


def split_installed_token(token: str) -> tuple[str, str, str] | None:
    """(the file's token, device id, installation id) of a token a computer enrolled by file sends."""
    m = INSTALLED_TOKEN_RE.fullmatch(token)
    if m is None:
        return None
    return f"{TOKEN_PREFIX}.{m.group(1)}.{m.group(2)}", m.group(1), m.group(3)


def file_name(header: Header) -> str:
    """`<school code>_登记文件_<first 8 of the file id>.ssenroll`."""
    school = re.sub(r"[^0-9A-Za-z_-]", "_", header.school_code)[:32] or "school"
    return f"{school}_登记文件_{header.file_id[:8]}{SUFFIX}"


# -- writing and reading ----------------------------------------------------------------------------------


def _key(code: str, header: Header) -> bytes:
    salt = base64.b64decode(header.salt)
    kdf = Scrypt(salt=salt, length=32, n=header.n, r=header.r, p=header.p)
    return kdf.derive(typed_codes.normalize_code(code).encode("utf-8"))


def new_header(
    *, school_code: str, school_name: str, now: dt.datetime, n: int = SCRYPT_N
) -> Header:
    utc = now.astimezone(dt.UTC) if now.tzinfo else now
    return Header(
        school_code=school_code,
        school_name=school_name,
        file_id=str(uuid.uuid4()),
        created_at=utc.replace(microsecond=0, tzinfo=None).isoformat() + "Z",
        salt=base64.b64encode(os.urandom(SALT_BYTES)).decode("ascii"),
        n=n,
    )


def _header_bytes(header: Header) -> bytes:
    return json.dumps(
        header.as_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")


def seal(header: Header, payload: dict[str, Any], code: str) -> bytes:
    plain = gzip.compress(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        compresslevel=6,
        mtime=0,
    )
    header = dataclasses.replace(header, sealed_bytes=NONCE_BYTES + len(plain) + TAG_BYTES)
    head = _header_bytes(header)
    prefix = MAGIC + struct.pack(">I", len(head)) + head
    nonce = os.urandom(NONCE_BYTES)
    return prefix + nonce + AESGCM(_key(code, header)).encrypt(nonce, plain, prefix)


def _not_a_file(zh: str, en: str) -> EnrollmentFileError:
    return EnrollmentFileError(
        "enrollment_file_malformed",
        f"不是有效的登记文件（{zh}）",
        f"not a valid enrollment file ({en})",
    )


def _refuse_file(zh: str, en: str) -> NoReturn:
    raise _not_a_file(zh, en)


def _split(data: bytes) -> tuple[bytes, bytes, Header]:
    prefix, raw, sealed = split_frame(
        data,
        MAGIC,
        max_header=MAX_HEADER_BYTES,
        min_sealed=NONCE_BYTES + TAG_BYTES,
        refuse=_refuse_file,
    )
    header = _parse_header(raw)
    if header.sealed_bytes is not None and len(sealed) < header.sealed_bytes:
        raise _not_a_file("文件不完整（可能在写入时拔出了U盘）", "the file is truncated")
    if header.sealed_bytes is not None and len(sealed) > header.sealed_bytes:
        raise _not_a_file("文件末尾多出了内容", "the file has bytes past its end")
    return prefix, sealed, header


def _parse_header(raw: Any) -> Header:
    if not isinstance(raw, dict) or raw.get("kind") != "enrollment":
        raise _not_a_file("文件头已损坏", "the header is damaged")
    if raw.get("format") != FORMAT:
        raise EnrollmentFileError(
            "enrollment_file_too_new",
            "这个登记文件是较新版本的格式，请先升级本程序",
            "this enrollment file has a newer format; update this program first",
        )
    kdf = raw.get("kdf")
    texts = ("school_code", "school_name", "file_id", "created_at")
    if (
        not all(isinstance(raw.get(k), str) and raw[k] for k in texts)
        or not isinstance(kdf, dict)
        or kdf.get("name") != "scrypt"
        or not isinstance(kdf.get("salt"), str)
        or not all(isinstance(kdf.get(k), int) and not isinstance(kdf[k], bool) for k in "nrp")
    ):
        raise _not_a_file("文件头已损坏", "the header is damaged")
    n, r, p = kdf["n"], kdf["r"], kdf["p"]
    if not (_MIN_N <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4):
        raise _not_a_file("密钥参数不对", "unusable key parameters")
    try:
        salt_ok = len(base64.b64decode(kdf["salt"], validate=True)) >= 8
    except (ValueError, binascii.Error):
        salt_ok = False
    sealed = raw.get("sealed_bytes")
    if not salt_ok or (
        sealed is not None
        and (
            not isinstance(sealed, int)
            or isinstance(sealed, bool)
            or sealed < NONCE_BYTES + TAG_BYTES
        )
    ):
        raise _not_a_file("文件头已损坏", "the header is damaged")
    return Header(
        school_code=raw["school_code"],
        school_name=raw["school_name"],
        file_id=raw["file_id"],
        created_at=raw["created_at"],
        salt=kdf["salt"],
        n=n,
        r=r,
        p=p,
        sealed_bytes=sealed,
    )


def read_header(data: bytes) -> Header:
    """The header, read without the code (not yet authenticated: open_file checks it)."""
    return _split(data)[2]


WRONG_CODE = (
    "enrollment_file_wrong_code",
    "登记码不对，或登记文件已损坏、被改动：请核对教育局给的登记码后重新输入",
    "wrong code, or the enrollment file is damaged or changed: check the code the bureau gave you "
    "and try again",
)


def open_file(data: bytes, code: str) -> tuple[Header, dict[str, Any]]:
    """(header, payload) of an authentic file opened with its code; EnrollmentFileError otherwise (a wrong
    code and a changed byte look the same: the tag does not match)."""
    prefix, sealed, header = _split(data)
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    try:
        plain = AESGCM(_key(code, header)).decrypt(nonce, body, prefix)
    except InvalidTag:
        raise EnrollmentFileError(*WRONG_CODE) from None
    try:
        inflater = zlib.decompressobj(wbits=31)
        text = inflater.decompress(plain, MAX_PAYLOAD_BYTES + 1)
        if len(text) > MAX_PAYLOAD_BYTES or inflater.unconsumed_tail or not inflater.eof:
            raise _not_a_file("内容已损坏或过大", "the content is damaged or too large")
        payload = json.loads(text.decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError):
        raise _not_a_file("内容已损坏", "the content is damaged") from None
    if not isinstance(payload, dict):
        raise _not_a_file("内容已损坏", "the content is damaged")
    return header, payload
