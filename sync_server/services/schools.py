"""Schools, enrollment codes and devices.

An enrollment code (e.g. K7PA-3QXC-9ZAD-HN4T: 16 characters of 25, 74 bits) is made by `sync-server
add-school`, kept only as its HMAC-SHA256 keyed with the server's secret key (codes made before issue 12 are a
plain sha256 and still accepted), used once, and valid for 7 days. Enrolling turns it into a device with a
random 32-byte bearer token, kept only as its sha256; the token is shown once.

Credentials with a lifetime (protocol revision 1.9): an enrollment that names the token the computer held
(`replaces_token`) revokes that earlier device of the same school (its tokens answer 401 token_replaced).
At the end of a sync a device that asks for it gets a next token; both work until the next one is first
used, which retires the old one (401 token_superseded) - a lost answer never locks a computer out, as it
simply goes on with the token it has. Rotated tokens are minted from (device, epoch) with the server's secret
key (minted_token): the same next token is handed until it is used, and a computer whose token is ahead of a
database restored from a backup is recognised and goes on syncing.

A lost answer does not spend the code (protocol revision 1.4): a client sends a request id of its own with the
code, and the server keeps its sha256 with the code it used. The same code with the same request id again -
while the code is valid, or for RETRY_GRACE after its use - answers the same device with a fresh token (the
lost one stops working): never a second device. Another request id, or none (an older client), is refused as
before.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from forms.identifiers import SCHOOL_CODE
from forms.typed_codes import new_code, normalize_code
from sync_server.errors import ServiceError
from sync_server.models import Device, EnrollmentCode, School
from sync_server.services.common import audit, naive_utc, sha256_hex

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: a code read aloud over the phone or copied from paper stays right.
CODE_GROUPS = 4  # 16 characters of 25: log2(25) * 16 = 74.3 bits (docs/security.md section 3)
HMAC_SCHEME = "hmac-sha256"
# A retry of an enrollment is answered while the code is valid, and at least this long after its use.
RETRY_GRACE = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class SchoolCode:
    school_code: str
    school_name: str
    enrollment_code: str
    expires_at: dt.datetime
    created: bool  # False: the school existed and got a fresh code


@dataclass(frozen=True, slots=True)
class Enrollment:
    device_id: str
    token: str
    school_code: str
    school_name: str


def new_enrollment_code() -> str:
    return new_code(CODE_GROUPS)


def code_hash(code: str) -> str:
    """A code as it was kept before issue 12 (code_scheme NULL): its plain sha256."""
    return sha256_hex(normalize_code(code))


def keyed_code_hash(code: str, secret: str) -> str:
    """A code as it is kept now: HMAC-SHA256 with the server's secret key (a stolen database alone does not
    let anyone try codes offline)."""
    message = b"enrollment-code\n" + normalize_code(code).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _stored_hash(code: str, secret: str | None) -> tuple[str, str | None]:
    if secret:
        return keyed_code_hash(code, secret), HMAC_SCHEME
    return code_hash(code), None


def _code_row(session: Session, code: str, secret: str | None) -> EnrollmentCode | None:
    """The code's row, whichever way it was kept (a legacy sha256 row matches only a legacy hash)."""
    match = and_(EnrollmentCode.code_scheme.is_(None), EnrollmentCode.code_hash == code_hash(code))
    if secret:
        match = or_(
            and_(
                EnrollmentCode.code_scheme == HMAC_SCHEME,
                EnrollmentCode.code_hash == keyed_code_hash(code, secret),
            ),
            match,
        )
    return session.execute(select(EnrollmentCode).where(match)).scalars().first()


def token_hash(token: str) -> str:
    return sha256_hex(token)


def add_school(
    session: Session,
    *,
    code: str,
    name: str,
    now: dt.datetime,
    days: int = 7,
    actor: str = "cli",
    secret: str | None = None,
) -> SchoolCode:
    """Create the school (or find it) and issue a fresh single-use enrollment code.

    `secret`: the server's secret key, which the code's hash is keyed with (the server's CLI and dashboard
    always give it); without it the code is kept as a plain sha256, as before issue 12.

    A school keeps one live code: issuing a new one revokes the unused earlier ones. An existing school
    given a different name is refused, so that a mistyped code never renames another school.
    """
    code = code.strip()
    name = name.strip()
    problem = SCHOOL_CODE.problem(code)
    if problem is not None:
        raise ServiceError(
            "bad_school_code",
            problem.message_zh,
            problem.message_en,
            details={"field": "code", "rule": SCHOOL_CODE.rule_en},
        )
    if not name or len(name) > 200:
        raise ServiceError(
            "bad_school_name",
            "学校名称不能为空，最多 200 字",
            "the school name must be 1-200 characters",
        )
    now = naive_utc(now)
    school = session.execute(select(School).where(School.code == code)).scalar_one_or_none()
    created = school is None
    if school is None:
        school = School(code=code, name=name, created_at=now)
        session.add(school)
        session.flush()
    elif school.name != name:
        raise ServiceError(
            "school_name_mismatch",
            f"学校代码 {code} 已属于“{school.name}”，与给出的名称“{name}”不符",
            f"school {code} exists as '{school.name}', not '{name}'",
        )
    session.execute(
        update(EnrollmentCode)
        .where(
            EnrollmentCode.school_id == school.id,
            EnrollmentCode.used_at.is_(None),
            EnrollmentCode.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    plain = new_enrollment_code()
    expires = now + dt.timedelta(days=days)
    stored, scheme = _stored_hash(plain, secret)
    session.add(
        EnrollmentCode(
            school_id=school.id,
            code_hash=stored,
            code_scheme=scheme,
            created_at=now,
            expires_at=expires,
        )
    )
    audit(
        session,
        now=now,
        actor=actor,
        action="school.add" if created else "school.new_code",
        school_id=school.id,
        object_id=code,
        details={"name": name},
    )
    return SchoolCode(code, school.name, plain, expires, created)


def _refused(code: str, zh: str, en: str) -> ServiceError:
    return ServiceError(code, zh, en, status=401)


def request_hash(request_id: str) -> str:
    return sha256_hex("enroll-request:" + request_id)


_CODE_USED = (
    "enrollment_code_used",
    "该登记码已使用过，请向教育局申请新的登记码",
    "this enrollment code was already used; ask the bureau for a new one",
)


def enroll(
    session: Session,
    *,
    enrollment_code: str,
    device_name: str,
    app_version: str,
    now: dt.datetime,
    request_id: str | None = None,
    secret: str | None = None,
    replaces_token: str | None = None,
) -> Enrollment:
    """Turn an unused code into a new device; or, for the request that used it (same `request_id`), answer
    the same device again with a fresh token. Raises ServiceError 401 otherwise.

    `replaces_token`: the token this computer held (protocol 1.9); its device, when of the same school, is
    revoked as replaced by this enrollment."""
    now = naive_utc(now)
    asked = request_hash(request_id) if request_id else None
    row = _code_row(session, enrollment_code, secret)
    if row is None:
        raise _refused(
            "enrollment_code_invalid",
            "登记码不正确，请核对后重新输入",
            "unknown enrollment code; check it and try again",
        )
    if row.used_at is not None:
        again = _enroll_again(session, row, asked, now=now, app_version=app_version)
        _replace_earlier(session, replaces_token, again.device_id, now=now, secret=secret)
        return again
    if row.revoked_at is not None:
        raise _refused(
            "enrollment_code_replaced",
            "该登记码已作废（已发放新的登记码），请使用最新的登记码",
            "this enrollment code was replaced by a newer one",
        )
    if row.expires_at <= now:
        raise _refused(
            "enrollment_code_expired",
            "登记码已过期（有效期 7 天），请向教育局申请新的登记码",
            "this enrollment code has expired (codes are valid for 7 days); ask for a new one",
        )
    device_id = str(uuid.uuid4())
    # Single use even when two devices enroll with the same code at once: only one UPDATE matches.
    claimed = session.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.id == row.id, EnrollmentCode.used_at.is_(None))
        .values(used_at=now, device_id=device_id, request_hash=asked)
    )
    if getattr(claimed, "rowcount", 1) != 1:
        # Another request used it meanwhile (committed now): perhaps this client's own earlier try.
        session.expire(row)
        again = _enroll_again(session, row, asked, now=now, app_version=app_version)
        _replace_earlier(session, replaces_token, again.device_id, now=now, secret=secret)
        return again
    token = secrets.token_urlsafe(32)
    school = session.get_one(School, row.school_id)
    session.add(
        Device(
            id=device_id,
            school_id=school.id,
            token_hash=token_hash(token),
            name=device_name,
            app_version=app_version,
            created_at=now,
            last_seen_at=now,
        )
    )
    audit(
        session,
        now=now,
        actor=f"device:{device_id}",
        action="device.enroll",
        school_id=school.id,
        object_id=device_id,
        details={"name": device_name, "app_version": app_version},
    )
    session.flush()
    _replace_earlier(session, replaces_token, device_id, now=now, secret=secret)
    return Enrollment(device_id, token, school.code, school.name)


def _replace_earlier(
    session: Session, token: str | None, device_id: str, *, now: dt.datetime, secret: str | None
) -> None:
    """The computer that held `token` enrolled again as `device_id`: its earlier device, if of the same
    school, is revoked as replaced (a copy of its old store can no longer sync). A token of another school
    is left alone: the client may still refuse the new school and keep its old enrollment."""
    if not token:
        return
    match = match_token(session, token, secret=secret)
    earlier = None if match is None else session.get(Device, match.device.device_id)
    device = session.get_one(Device, device_id)
    if (
        earlier is None
        or earlier.id == device_id
        or earlier.school_id != device.school_id
        or earlier.replaced_by is not None
    ):
        return
    earlier.replaced_by = device_id
    if earlier.revoked_at is None:
        earlier.revoked_at = now
    audit(
        session,
        now=now,
        actor=f"device:{device_id}",
        action="device.replaced",
        school_id=earlier.school_id,
        object_id=earlier.id,
        details={"name": earlier.name, "replaced_by": device_id},
    )


def _enroll_again(
    session: Session,
    row: EnrollmentCode,
    asked: str | None,
    *,
    now: dt.datetime,
    app_version: str,
) -> Enrollment:
    """A used code: the same device again for the request that used it (its answer was lost), else 401."""
    used_at = row.used_at
    if (
        asked is None
        or row.request_hash is None
        or not secrets.compare_digest(asked, row.request_hash)
        or row.device_id is None
        or used_at is None
        or now >= max(row.expires_at, used_at + RETRY_GRACE)
    ):
        raise _refused(*_CODE_USED)
    device = session.get(Device, row.device_id, with_for_update=True)
    if device is None:
        raise _refused(*_CODE_USED)
    if device.revoked_at is not None:
        raise _refused(
            "device_revoked",
            "本机的登记已被教育局撤销，请向教育局申请新的登记码",
            "this device was revoked by the bureau; ask the bureau for a new enrollment code",
        )
    token = secrets.token_urlsafe(32)
    device.token_hash = token_hash(token)  # the token of the lost answer stops working
    device.next_token_hash = None
    if app_version:
        device.app_version = app_version
    school = session.get_one(School, device.school_id)
    audit(
        session,
        now=now,
        actor=f"device:{device.id}",
        action="device.enroll_again",
        school_id=school.id,
        object_id=device.id,
        details={"first_enrolled": used_at.isoformat(timespec="seconds")},
    )
    return Enrollment(device.id, token, school.code, school.name)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    device_id: str
    school_id: int
    school_code: str
    school_name: str
    name: str
    app_version: str
    created_at: dt.datetime
    last_seen_at: dt.datetime | None
    revoked_at: dt.datetime | None
    replaced_by: str | None = None
    next_token: bool = (
        False  # the token given was the device's next one (its first use retires the old)
    )


def _info(device: Device, school: School, *, next_token: bool = False) -> DeviceInfo:
    return DeviceInfo(
        device.id,
        school.id,
        school.code,
        school.name,
        device.name,
        device.app_version,
        device.created_at,
        device.last_seen_at,
        device.revoked_at,
        device.replaced_by,
    )


MINTED_PREFIX = "d1"
_MINTED_RE = re.compile(r"d1\.([0-9A-Za-z-]{1,36})\.([0-9]{1,9})\.([A-Za-z0-9_-]{43})")


def minted_token(secret: str, device_id: str, epoch: int) -> str:
    """The device's token after its `epoch`-th rotation: HMAC-SHA256 of (device, epoch) with the server's
    secret key, so the same token is handed again until it is used (a lost answer changes nothing), and a
    token ahead of a database restored from a backup is still recognised (the key is in the instance folder,
    not the database). Only the server can make one; a token of an earlier epoch is retired."""
    mac = hmac.new(
        secret.encode("utf-8"), f"device-token\n{device_id}\n{epoch}".encode(), hashlib.sha256
    ).digest()
    return (
        f"{MINTED_PREFIX}.{device_id}.{epoch}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    )


def _minted(token: str, secret: str | None) -> tuple[str, int] | None:
    """(device id, epoch) of a token this server minted, else None."""
    m = _MINTED_RE.fullmatch(token)
    if not m or not secret:
        return None
    device_id, epoch = m.group(1), int(m.group(2))
    if not hmac.compare_digest(minted_token(secret, device_id, epoch), token):
        return None
    return device_id, epoch


class TokenKind:
    CURRENT = "current"
    NEXT = "next"  # the token handed at the end of the last sync: its first use retires the current one
    AHEAD = "ahead"  # a minted token of a later epoch than the database knows: it was restored
    RETIRED = "retired"  # a token this device used before its last rotation


@dataclass(frozen=True, slots=True)
class TokenMatch:
    device: DeviceInfo
    kind: str  # TokenKind
    epoch: int | None  # of a minted token
    also: tuple[Any, ...] = ()  # the values of match_token's `also` columns, read with the device


def _with_school(session: Session, *where: Any) -> tuple[Device, School] | None:
    row = session.execute(
        select(Device, School).join(School, School.id == Device.school_id).where(*where)
    ).first()
    return None if row is None else (row[0], row[1])


# The token's device and school as plain rows (Core, statements built once): loading them as ORM objects cost
# ~3x the query on every request (issue 14, goal 3).
_DEVICES = cast(Table, Device.__table__)
_SCHOOLS = cast(Table, School.__table__)
_INFO_COLUMNS = 12  # the device and school columns _device_select reads before any `also` columns


def _device_select(where: Any, also: tuple[Any, ...] = ()) -> Any:
    d, s = _DEVICES.c, _SCHOOLS.c
    return (
        select(
            d.id,
            d.school_id,
            s.code,
            s.name,
            d.name,
            d.app_version,
            d.created_at,
            d.last_seen_at,
            d.revoked_at,
            d.replaced_by,
            d.token_hash,
            d.token_epoch,
            *also,
        )
        .join(_SCHOOLS, s.id == d.school_id)
        .where(where)
        .limit(1)
    )


@dataclass(frozen=True, slots=True)
class _Lookups:
    by_token: Any  # the current or next token's hash
    by_id: Any  # a minted token's device id
    by_previous: Any  # a token retired by the last rotation


def _lookups(also: tuple[Any, ...]) -> _Lookups:
    return _Lookups(
        _device_select(
            or_(
                _DEVICES.c.token_hash == bindparam("digest"),
                _DEVICES.c.next_token_hash == bindparam("digest"),
            ),
            also,
        ),
        _device_select(_DEVICES.c.id == bindparam("device_id"), also),
        _device_select(_DEVICES.c.previous_token_hash == bindparam("digest"), also),
    )


# Built once for each `also` (a constant of the caller's module, e.g. generation.SNAPSHOT_COLUMNS).
_LOOKUPS: dict[tuple[Any, ...], _Lookups] = {(): _lookups(())}


def _row_info(row: Any) -> DeviceInfo:
    return DeviceInfo(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9]
    )


def match_token(
    session: Session | Connection,
    token: str,
    *,
    secret: str | None,
    also: tuple[Any, ...] = (),
) -> TokenMatch | None:
    """Whose token this is and how it stands; None: nobody's. In a Session, what it holds unflushed is
    flushed first (as an ORM query would autoflush).

    `also`: column expressions (scalar subqueries) read in the same statement as the device, so one
    statement - one snapshot, one round trip - answers both; their values are TokenMatch.also."""
    if isinstance(session, Session) and session.autoflush:
        session.flush()
    lookups = _LOOKUPS.get(also)
    if lookups is None:
        lookups = _LOOKUPS.setdefault(also, _lookups(also))
    digest = token_hash(token)
    minted = _minted(token, secret)
    epoch = minted[1] if minted else None
    row = session.execute(lookups.by_token, {"digest": digest}).first()
    if row is not None:
        kind = TokenKind.CURRENT if row[10] == digest else TokenKind.NEXT
        return TokenMatch(_row_info(row), kind, epoch, tuple(row[_INFO_COLUMNS:]))
    if minted is not None:
        row = session.execute(lookups.by_id, {"device_id": minted[0]}).first()
        if row is not None:
            ahead = minted[1] > (row[11] or 0)
            kind = TokenKind.AHEAD if ahead else TokenKind.RETIRED
            return TokenMatch(_row_info(row), kind, epoch, tuple(row[_INFO_COLUMNS:]))
    row = session.execute(lookups.by_previous, {"digest": digest}).first()
    if row is not None:
        return TokenMatch(_row_info(row), TokenKind.RETIRED, epoch, tuple(row[_INFO_COLUMNS:]))
    return None


def device_by_token(session: Session, token: str) -> DeviceInfo | None:
    """The device whose current or next token this is."""
    match = match_token(session, token, secret=None)
    if match is None or match.kind not in (TokenKind.CURRENT, TokenKind.NEXT):
        return None
    return match.device


def adopt_token(
    session: Session, device_id: str, token: str, *, epoch: int, now: dt.datetime
) -> bool:
    """A newer token was used (the next one, or one ahead of a restored database): it becomes the current
    one and the current one is retired. False when a concurrent request did it first."""
    done = session.execute(
        update(Device)
        .where(Device.id == device_id, func.coalesce(Device.token_epoch, 0) < epoch)
        .values(
            previous_token_hash=Device.token_hash,
            token_hash=token_hash(token),
            token_epoch=epoch,
            next_token_hash=None,
            next_token_at=None,
            token_rotated_at=naive_utc(now),
        )
    )
    return getattr(done, "rowcount", 1) == 1


def issue_next_token(session: Session, device_id: str, *, secret: str, now: dt.datetime) -> str:
    """The device's next token, valid beside its current one until first used: the same one until then
    (it is minted from the next epoch), so an answer lost on the way changes nothing."""
    device = session.get_one(Device, device_id)
    token = minted_token(secret, device_id, (device.token_epoch or 0) + 1)
    device.next_token_hash = token_hash(token)
    device.next_token_at = naive_utc(now)
    return token


def touch_device(session: Session | Connection, device_id: str, *, now: dt.datetime) -> None:
    session.execute(
        update(Device).where(Device.id == device_id).values(last_seen_at=naive_utc(now))
    )


def revoke_device(
    session: Session, device_id: str, *, now: dt.datetime, actor: str = "cli"
) -> DeviceInfo:
    """Revoke a device's token (its requests get 403 from then on). Revoking twice changes nothing."""
    row = session.execute(
        select(Device, School)
        .join(School, School.id == Device.school_id)
        .where(Device.id == device_id)
    ).one_or_none()
    if row is None:
        raise ServiceError(
            "unknown_device", f"没有编号为 {device_id} 的设备", f"no device {device_id}", status=404
        )
    device, school = row
    if device.revoked_at is None:
        device.revoked_at = naive_utc(now)
        audit(
            session,
            now=now,
            actor=actor,
            action="device.revoke",
            school_id=school.id,
            object_id=device_id,
        )
    return _info(device, school)


def list_devices(session: Session, *, school_code: str | None = None) -> list[DeviceInfo]:
    stmt = select(Device, School).join(School, School.id == Device.school_id)
    if school_code is not None:
        stmt = stmt.where(School.code == school_code)
    rows = session.execute(stmt.order_by(School.code, Device.created_at)).all()
    return [_info(d, s) for d, s in rows]
