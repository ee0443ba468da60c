"""Small helpers shared by the services: time, hashes, the audit log, the ranges of numbers (JSON: sync_server.json_text)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from sync_server.models import AuditEntry


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """A timestamp as stored: naive UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def iso(moment: dt.datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with a Z."""
    if moment is None:
        return None
    return naive_utc(moment).replace(microsecond=0).isoformat() + "Z"


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


MIN_INT64 = -(2**63)
MAX_INT64 = 2**63 - 1  # a BIGINT column (change seq, ids) on every database
MIN_INT32 = -(2**31)
MAX_INT32 = 2**31 - 1  # an INTEGER column (revisions, school ids)

# Text the API takes in ids and names, as the OpenAPI document states it (ECMA-262 and Python read these
# patterns alike): no control characters (C0, DEL, C1); a name also needs one character that is not a space.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
PLAIN_TEXT_PATTERN = rf"^[^{_CONTROL}]*$"
NAME_TEXT_PATTERN = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"
_PLAIN_TEXT_RE = re.compile(PLAIN_TEXT_PATTERN)
_NAME_TEXT_RE = re.compile(NAME_TEXT_PATTERN)
# An Idempotency-Key: visible ASCII (a header value travels as Latin-1; a uuid fits).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,100}$"
IDEMPOTENCY_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
UUID_RE = re.compile(UUID_PATTERN)


URL_TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"  # a path segment or query value: no C0 control, no DEL
_URL_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def url_control_character(path: str, query: Iterable[tuple[str, str]]) -> str | None:
    """Where a request's path or query (name, value pairs) holds a control character (none of our URLs
    needs one, and PostgreSQL text cannot hold NUL): "path", or the query parameter's name; else None."""
    if _URL_CONTROL_RE.search(path):
        return "path"
    for name, value in query:
        if _URL_CONTROL_RE.search(name) or _URL_CONTROL_RE.search(value):
            return name[:40]
    return None


def is_plain_text(value: str, limit: int) -> bool:
    """1 to `limit` characters, none of them a control character."""
    return 0 < len(value) <= limit and _PLAIN_TEXT_RE.fullmatch(value) is not None


def is_name_text(value: str, limit: int) -> bool:
    """Plain text that is not blank."""
    return 0 < len(value) <= limit and _NAME_TEXT_RE.fullmatch(value) is not None


def audit(
    session: Session,
    *,
    now: dt.datetime,
    actor: str,
    action: str,
    school_id: int | None = None,
    object_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.execute(
        insert(AuditEntry).values(
            at=naive_utc(now),
            actor=actor[:100],
            action=action,
            school_id=school_id,
            object_id=object_id,
            details=details or {},
        )
    )
