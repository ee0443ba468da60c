"""Resetting a school PC's PIN for the sensitive forms through the bureau (protocol revision 1.11).

Nothing new is stored, so no database migration: each device's reset key is derived from the server's secret
key, K = HMAC-SHA256(secret, "pin-reset:" + device id), and handed to the device in the enroll answer and in
every pull answer (`pin_reset_key`, base64url). When a clerk forgets the PIN, staff with admin rights press
重置PIN码 on the device's row of 学校与设备 and read out a reset code: the first 10 digits of
HMAC-SHA256(K, "pin-reset-code:" + Beijing date + ":" + n), n counting the codes issued for this device that day
(from the audit log, where every issue is written). The clerk types it into the client's 忘记PIN码 dialog with
no connection needed; the client keeps the last code used, so a code works once.

The client (client.store.pin) computes the same code; tests compare the two.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync_server.errors import ServiceError
from sync_server.models import AuditEntry, Device, School
from sync_server.services.common import audit, naive_utc

ACTION = "device.pin_reset"
CODE_DIGITS = 10
MAX_CODES_PER_DAY = 20  # the client accepts the first 20 codes of a day
BEIJING = dt.timedelta(hours=8)


@dataclass(frozen=True)
class IssuedCode:
    code: str  # 10 digits
    shown: str  # grouped for reading aloud: 12345-67890
    day: dt.date  # the Beijing date it is for
    n: int
    device_id: str
    device_name: str
    school_code: str
    school_name: str


def device_reset_key(secret: str, device_id: str) -> bytes:
    return hmac.new(secret.encode(), f"pin-reset:{device_id}".encode(), hashlib.sha256).digest()


def encoded_reset_key(secret: str, device_id: str) -> str:
    """The key as the enroll and pull answers carry it (base64url without padding)."""
    return base64.urlsafe_b64encode(device_reset_key(secret, device_id)).decode().rstrip("=")


def reset_code(key: bytes, day: dt.date, n: int) -> str:
    digest = hmac.new(key, f"pin-reset-code:{day.isoformat()}:{n}".encode(), "sha256").digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def beijing_day(now: dt.datetime) -> dt.date:
    return (naive_utc(now) + BEIJING).date()


def issue_reset_code(
    session: Session, *, secret: str, device_id: str, now: dt.datetime, actor: str
) -> IssuedCode:
    """The next reset code of today for a device that is not revoked; written to the audit log."""
    row = session.execute(
        select(Device, School)
        .join(School, School.id == Device.school_id)
        .where(Device.id == device_id)
    ).one_or_none()
    if row is None:
        raise ServiceError("device_not_found", "找不到这台设备", "no such device", status=404)
    device, school = row
    if device.revoked_at is not None:
        raise ServiceError(
            "device_revoked",
            "这台设备已撤销，不能重置PIN码",
            "the device is revoked; its PIN cannot be reset",
            status=409,
        )
    day = beijing_day(now)
    day_start = dt.datetime.combine(day, dt.time()) - BEIJING  # naive UTC
    issued = session.execute(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.action == ACTION,
            AuditEntry.object_id == device_id,
            AuditEntry.at >= day_start,
        )
    ).scalar_one()
    n = int(issued) + 1
    if n > MAX_CODES_PER_DAY:
        raise ServiceError(
            "too_many_resets",
            f"这台设备今天已发放 {MAX_CODES_PER_DAY} 个重置码，请明天再试",
            f"{MAX_CODES_PER_DAY} reset codes were issued for this device today; try tomorrow",
            status=429,
        )
    code = reset_code(device_reset_key(secret, device_id), day, n)
    audit(
        session,
        now=now,
        actor=actor,
        action=ACTION,
        school_id=school.id,
        object_id=device_id,
        details={"name": device.name, "day": day.isoformat(), "n": n},
    )
    return IssuedCode(
        code=code,
        shown=f"{code[:5]}-{code[5:]}",
        day=day,
        n=n,
        device_id=device_id,
        device_name=device.name,
        school_code=school.code,
        school_name=school.name,
    )
