"""Enrollment files (protocol revision 1.15): a device made when the bureau writes the file, bound to the first
computer (installation) the server hears from - online, by the installation id appended to the file's token,
or by USB stick, by the installation id in the bundle header. Another computer with the same file is refused;
a file the bureau revoked (its device revoked before it was used) is refused with its own message.

Repository functions: they take a session and never open or commit one.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sync_server.errors import ServiceError
from sync_server.models import Device, EnrollmentFile, School
from sync_server.services.common import audit, naive_utc, sha256_hex

ONLINE = "online"
USB = "usb"


@dataclass(frozen=True, slots=True)
class FileDevice:
    device_id: str
    school_id: int
    school_code: str
    school_name: str


def school_for_file(session: Session, school_code: str) -> School:
    school = session.execute(
        select(School).where(School.code == school_code.strip())
    ).scalar_one_or_none()
    if school is None:
        raise ServiceError(
            "unknown_school",
            f"没有学校代码为“{school_code}”的学校（请先在“学校与设备”中添加）",
            f"no school with the code '{school_code}' (add it on 学校与设备 first)",
            status=404,
            details={"field": "school"},
        )
    return school


def add_file_device(
    session: Session,
    *,
    school: School,
    device_id: str,
    file_id: str,
    token: str,
    now: dt.datetime,
    actor: str,
) -> FileDevice:
    """The device an enrollment file carries, unused until a computer enrolled from the file is heard from."""
    now = naive_utc(now)
    session.add(
        Device(
            id=device_id,
            school_id=school.id,
            token_hash=sha256_hex(token),
            name=f"U盘登记文件 {file_id[:8]}",
            app_version="",
            created_at=now,
            last_seen_at=None,
        )
    )
    session.flush()
    session.add(
        EnrollmentFile(
            id=file_id,
            school_id=school.id,
            device_id=device_id,
            token_hash=sha256_hex(token),
            created_at=now,
            created_by=actor,
        )
    )
    audit(
        session,
        now=now,
        actor=actor,
        action="device.enrollment_file",
        school_id=school.id,
        object_id=device_id,
        details={"file_id": file_id},
    )
    return FileDevice(device_id, school.id, school.code, school.name)


def _used_elsewhere(via: str) -> ServiceError:
    return ServiceError(
        "enrollment_file_used",
        "这个登记文件已在另一台电脑上使用，本机不能再用它同步；请向县教育局申请新的登记文件或登记码",
        "this enrollment file was already used on another computer; this computer cannot sync with "
        "it. Ask the county bureau for a new enrollment file or code",
        status=403,
        details={"via": via},
    )


def _revoked() -> ServiceError:
    return ServiceError(
        "enrollment_file_revoked",
        "这个登记文件已被县教育局作废，请向县教育局申请新的登记文件或登记码",
        "this enrollment file was revoked by the county bureau; ask for a new enrollment file or code",
        status=403,
    )


def bind(
    session: Session,
    *,
    device_id: str,
    installation_id: str | None,
    via: str,
    now: dt.datetime,
    token_hash: str | None = None,
) -> bool:
    """The computer `installation_id` is heard from as `device_id`. A device made by no file: nothing to do
    (False). A file device: bound now if it was not yet (True); refused (ServiceError 403) when it is bound
    to another computer, when it was revoked before it was used, or - by stick - when the bundle names no
    installation. `token_hash`: online, the sha256 of the file's token the request carried; anything else
    than the file's own token binds nothing (False: the request is then unauthorized as any unknown token).
    """
    row = session.execute(
        select(EnrollmentFile).where(EnrollmentFile.device_id == device_id)
    ).scalar_one_or_none()
    if row is None:
        return False
    if token_hash is not None and not secrets.compare_digest(token_hash, row.token_hash):
        return False
    if row.installation_id is not None:
        if installation_id != row.installation_id:
            raise _used_elsewhere(via)
        return False
    device = session.get_one(Device, device_id)
    if device.revoked_at is not None:
        raise _revoked()
    if token_hash is not None and device.token_hash != token_hash:
        # The file's token was already replaced by a rotation (1.9): another computer was heard from.
        raise _used_elsewhere(via)
    if installation_id is None:
        raise ServiceError(
            "enrollment_file_no_installation",
            "这台电脑是用登记文件登记的，但U盘同步文件里没有它的安装编号；请把学校电脑上的程序升级后重新导出",
            "this computer was enrolled by file but the USB sync file names no installation; update the "
            "program on the school's computer and export again",
            status=403,
        )
    claimed = session.execute(
        update(EnrollmentFile)
        .where(EnrollmentFile.id == row.id, EnrollmentFile.installation_id.is_(None))
        .values(installation_id=installation_id, bound_at=naive_utc(now), bound_via=via)
    )
    if getattr(claimed, "rowcount", 1) != 1:  # another computer was bound meanwhile
        session.expire(row)
        if row.installation_id != installation_id:
            raise _used_elsewhere(via)
        return False
    audit(
        session,
        now=naive_utc(now),
        actor=f"device:{device_id}",
        action="device.enrollment_file_used",
        school_id=row.school_id,
        object_id=device_id,
        details={"file_id": row.id, "via": via},
    )
    return True


def unused_file_devices(session: Session) -> set[str]:
    """Devices of enrollment files no computer has used yet (学校与设备 marks them): not bound, and never
    heard from (a device that synced - by a bundle an older bureau program imported unbound - is in use)."""
    return set(
        session.execute(
            select(EnrollmentFile.device_id)
            .join(Device, Device.id == EnrollmentFile.device_id)
            .where(EnrollmentFile.installation_id.is_(None), Device.last_seen_at.is_(None))
        ).scalars()
    )
