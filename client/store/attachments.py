"""Photos and files, stored once each, encrypted: <data>/attachments/ab/abcdef....

A record's image or file answer is the sha256 of the file's content; the table keeps the original file name and
type. On disk a file is named by a keyed hash of that sha256 (DataKey.attachment_name: the name tells nothing of
the content without the key) and holds MAGIC, a 12-byte random nonce and the content sealed with AES-256-GCM
(its name as associated data, so a file moved under another name does not open). A data folder without a key
(a plaintext benchmark store) keeps plain files named by the sha256, as older versions did.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import hashlib
import mimetypes
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from client.store.keys import DataKey, load_key
from client.store.models import Attachment

MAGIC = b"SCATT\x01\x00\x00"
NONCE_BYTES = 12


class AttachmentUnreadable(ValueError):
    """The file is there but does not open with this folder's key (damaged, or not this folder's)."""


def _key(root: Path) -> DataKey | None:
    return load_key(root.parent)


def attachment_path(root: Path, sha256: str, *, key: DataKey | None = None) -> Path:
    """Where the (encrypted) file of the attachment with this sha256 lies."""
    key = key or _key(root)
    name = key.attachment_name(sha256) if key is not None else sha256
    return root / name[:2] / name


def seal(key: DataKey, name: str, data: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return MAGIC + nonce + AESGCM(key.attachment_key).encrypt(nonce, data, name.encode())


def unseal(key: DataKey, name: str, blob: bytes) -> bytes:
    if not blob.startswith(MAGIC):
        raise AttachmentUnreadable(name)
    nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
    try:
        return AESGCM(key.attachment_key).decrypt(
            nonce, blob[len(MAGIC) + NONCE_BYTES :], name.encode()
        )
    except InvalidTag as exc:
        raise AttachmentUnreadable(name) from exc


def read_attachment_file(path: Path) -> bytes:
    """The content of an attachment file given by its path (attachment_path's answer): opened with the key
    of the data folder it lies in. A file that is not sealed (older versions, a plaintext store) is read as
    it is; the caller checks the sha256."""
    blob = path.read_bytes()
    if not blob.startswith(MAGIC):
        return blob
    key = load_key(path.parent.parent.parent)
    if key is None:
        raise AttachmentUnreadable(path.name)
    return unseal(key, path.name, blob)


def has_attachment(root: Path, sha256: str) -> bool:
    return attachment_path(root, sha256).is_file()


def read_attachment(root: Path, sha256: str) -> bytes:
    """The content of the attachment. FileNotFoundError when this PC lacks it, AttachmentUnreadable when its file
    does not open (damaged). The caller checks the sha256 when it matters (sync, backups do)."""
    key = _key(root)
    path = attachment_path(root, sha256, key=key)
    blob = path.read_bytes()
    return unseal(key, path.name, blob) if key is not None else blob


def write_attachment(
    root: Path, sha256: str, data: bytes, *, key: DataKey | None = None, replace: bool = False
) -> bool:
    """Write the attachment's content (sealed, to a temp name, fsynced, then renamed into place). An existing
    file is kept unless replace. Returns whether a file was written."""
    key = key or _key(root)
    target = attachment_path(root, sha256, key=key)
    if target.exists() and not replace:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".incoming-{uuid.uuid4().hex[:12]}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(seal(key, target.name, data) if key is not None else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return True


def add_attachment(session: Session, root: Path, source: Path, *, now: dt.datetime) -> str:
    """Copy a file into the store (sealed, durably, then renamed into place) and return its sha256."""
    root.mkdir(parents=True, exist_ok=True)
    data = source.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    write_attachment(root, sha, data)
    if session.get(Attachment, sha) is None:
        media_type = mimetypes.guess_type(source.name)[0] or "application/octet-stream"
        session.add(
            Attachment(
                sha256=sha,
                filename=source.name,
                media_type=media_type,
                size=len(data),
                created_at=now,
                uploaded_at=None,
            )
        )
    return sha


def export_attachment(root: Path, sha256: str, dest: Path) -> None:
    dest.write_bytes(read_attachment(root, sha256))


_viewing: list[Path] = []


def _remove_viewing() -> None:
    for folder in _viewing:
        shutil.rmtree(folder, ignore_errors=True)


def viewing_copy(root: Path, sha256: str, filename: str) -> Path:
    """A plaintext copy of the attachment for another program to open (the "查看" button): in an owner-only
    temp folder, removed when this program exits."""
    if not _viewing:
        _viewing.append(Path(tempfile.mkdtemp(prefix="school-client-view-")))
        atexit.register(_remove_viewing)
    safe = re.sub(r"[^\w.\-]+", "_", Path(filename).name) or sha256[:12]
    out = _viewing[0] / sha256[:12] / safe
    out.parent.mkdir(exist_ok=True)
    if not out.exists():
        with contextlib.suppress(OSError):
            out.write_bytes(read_attachment(root, sha256))
    return out
