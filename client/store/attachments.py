"""Photos and files, stored once by the sha256 of their content: <data>/attachments/ab/abcdef....

A record's image or file answer is the sha256; the table keeps the original file name and type.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from client.store.models import Attachment

CHUNK = 1 << 20


def attachment_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256


def add_attachment(session: Session, root: Path, source: Path, *, now: dt.datetime) -> str:
    """Copy a file into the store (durably, then renamed into place) and return its sha256."""
    digest = hashlib.sha256()
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        target = attachment_path(root, sha)
        target.parent.mkdir(exist_ok=True)
        if target.exists():
            os.unlink(tmp_name)
        else:
            os.replace(tmp_name, target)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    if session.get(Attachment, sha) is None:
        media_type = mimetypes.guess_type(source.name)[0] or "application/octet-stream"
        session.add(
            Attachment(
                sha256=sha,
                filename=source.name,
                media_type=media_type,
                size=target.stat().st_size,
                created_at=now,
                uploaded_at=None,
            )
        )
    return sha


def export_attachment(root: Path, sha256: str, dest: Path) -> None:
    shutil.copyfile(attachment_path(root, sha256), dest)
