"""Small helpers shared by the services: time, hashes, JSON, the audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
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


def dumps(value: Any) -> str:
    """Compact JSON, Chinese kept as is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def canonical_json(value: Any) -> bytes:
    """The same JSON value always gives the same bytes (for request hashes)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


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
