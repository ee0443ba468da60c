"""Enrollment from a file (protocol revision 1.15), for a school with no link at all. No Qt.

The bureau writes an enrollment file onto a USB stick and tells the clerk its one-time code. Opening it here -
`school-client enroll --file F` or 连接教育局服务器 → 从文件登记… - keeps what an online enrollment keeps (server
address and pinned certificate, school, device token, usb_key, PIN reset key), makes this computer's
installation id (appended to the file's token, and written in the header of its USB bundles by
forms.usb_installation) and applies the first pull the file carries (forms, roster, the school's records)
exactly as a USB answer is applied (client.usb.bundle.import_answer). Nothing is sent: the computer may be
offline. The bureau binds the file to the first computer it hears from; another one is refused there.

A computer already enrolled is not enrolled again from a file. Wrong codes: the first FREE_TRIES are free,
then each next try waits (15 s, 30 s, 60 s ... at most 5 minutes), counted per file in this computer's store.
(The real guard is the code's 56 bits and scrypt: a file copied elsewhere is not throttled by this count.)
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.context import ClientContext
from client.store import sync_state as S
from client.store.pin import remember_reset_key
from client.store.prefs import get_setting, set_setting
from client.sync.engine import normalize_server_url
from client.sync.errors import SyncError
from client.sync.pinning import K_FINGERPRINT, normalize_fingerprint, split_pinned_url
from client.usb.bundle import import_answer
from client.usb.key import remember_usb_key
from forms import enrollment_file as EF
from forms import usb_bundle as U
from forms.os_text import en_reason, zh_reason

log = logging.getLogger(__name__)

K_INSTALLATION = "enrollment_file.installation_id"
K_FAILURES = "enrollment_file.failures"  # {file id: [wrong codes, the last one's time (ISO)]}
FREE_TRIES = 5
FIRST_WAIT = 15
MAX_WAIT = 300


class EnrollFileError(Exception):
    """Enrollment from a file refused, with what to do, in Chinese and English."""

    def __init__(
        self, code: str, message_zh: str, message_en: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.retry_after = retry_after


@dataclass(frozen=True)
class FileEnrollment:
    enrollment: S.Enrollment
    installation_id: str
    pulled: int  # records, roster entries and forms the file brought
    forms: int = 0  # of which form definitions
    records: int = 0  # and records (the school's records, roster entries included)


def installation_id(ctx: ClientContext) -> str | None:
    """This computer's installation id if it was enrolled from a file (for the USB bundle header)."""
    with ctx.store.Session() as s:
        value = get_setting(s, K_INSTALLATION)
    return value if isinstance(value, str) and EF.INSTALLATION_RE.fullmatch(value) else None


def wait_before(failures: int) -> int:
    """Seconds a try must wait after `failures` wrong codes."""
    if failures < FREE_TRIES:
        return 0
    return int(min(MAX_WAIT, FIRST_WAIT * 2 ** (failures - FREE_TRIES)))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise EnrollFileError(
            "enrollment_file_unreadable",
            f"无法读取登记文件 {path}：{zh_reason(exc)}",
            f"cannot read the enrollment file {path}: {en_reason(exc)}",
        ) from None


def _refused(exc: EF.EnrollmentFileError | U.BundleError | SyncError) -> EnrollFileError:
    return EnrollFileError(getattr(exc, "code", "refused"), exc.message_zh, exc.message_en)


def _failures(ctx: ClientContext, file_id: str) -> tuple[int, dt.datetime | None]:
    with ctx.store.Session() as s:
        kept = get_setting(s, K_FAILURES) or {}
    entry = kept.get(file_id) if isinstance(kept, dict) else None
    if not isinstance(entry, list) or len(entry) != 2:
        return 0, None
    try:
        return int(entry[0]), dt.datetime.fromisoformat(str(entry[1]))
    except (TypeError, ValueError):
        return 0, None


def _count_failure(ctx: ClientContext, file_id: str, now: dt.datetime) -> int:
    with ctx.store.Session.begin() as s:
        kept = get_setting(s, K_FAILURES) or {}
        kept = dict(kept) if isinstance(kept, dict) else {}
        entry = kept.get(file_id)
        n = (int(entry[0]) if isinstance(entry, list) and entry else 0) + 1
        kept[file_id] = [n, now.isoformat()]
        set_setting(s, K_FAILURES, kept)
    return n


def _check_throttle(ctx: ClientContext, file_id: str, now: dt.datetime) -> None:
    failures, last = _failures(ctx, file_id)
    wait = wait_before(failures)
    if not wait or last is None:
        return
    left = int((last + dt.timedelta(seconds=wait) - now).total_seconds() + 0.999)
    if left > 0:
        raise EnrollFileError(
            "too_many_wrong_codes",
            f"登记码已输错 {failures} 次，请 {left} 秒后再试",
            f"the code was wrong {failures} times; try again in {left} s",
            retry_after=left,
        )


def _payload_parts(header: EF.Header, payload: dict[str, Any]) -> tuple[S.Enrollment, str | None]:
    def bad(what: str) -> EnrollFileError:
        return EnrollFileError(
            "enrollment_file_malformed",
            f"登记文件内容格式不对（{what}）",
            f"the enrollment file's content is malformed ({what})",
        )

    school = payload.get("school")
    token, device_id = payload.get("token"), payload.get("device_id")
    address = payload.get("server_url")
    fingerprint = payload.get("fingerprint")
    if not isinstance(school, dict) or school.get("code") != header.school_code:
        raise bad("school")
    match = EF.FILE_TOKEN_RE.fullmatch(token) if isinstance(token, str) else None
    if match is None or match.group(1) != device_id:
        raise bad("token")
    if not isinstance(address, str) or not isinstance(payload.get("answer"), str):
        raise bad("server_url")
    if U.decode_key(payload.get("usb_key")) is None:
        raise bad("usb_key")
    try:
        base, in_url = split_pinned_url(address)
        pin_text = fingerprint if isinstance(fingerprint, str) and fingerprint else in_url
        pin = normalize_fingerprint(pin_text) if pin_text else None
        base = normalize_server_url(base)
    except SyncError as exc:
        raise _refused(exc) from None
    enrollment = S.Enrollment(
        server_url=base,
        device_token=str(token),
        device_id=str(device_id),
        school_code=header.school_code,
        school_name=str(school.get("name") or header.school_name),
    )
    return enrollment, pin


def enroll_from_file(ctx: ClientContext, path: Path, code: str) -> FileEnrollment:
    """Enroll this computer from the bureau's file and its code, offline. EnrollFileError (nothing kept but
    the count of wrong codes) when this computer is enrolled already, the code is wrong, the file is not
    an authentic enrollment file, or tries must wait."""
    data = _read(path)
    try:
        header = EF.read_header(data)
    except EF.EnrollmentFileError as exc:
        raise _refused(exc) from None
    with ctx.store.Session() as s:
        before = S.get_enrollment(s)
    if before is not None:
        raise EnrollFileError(
            "already_enrolled",
            f"本机已登记到“{before.school_name or before.school_code}”，不能再用登记文件登记"
            "（一个登记文件只给一台尚未登记的电脑使用）",
            f"this computer is already enrolled for {before.school_code}; an enrollment file is for "
            "one computer that is not enrolled yet",
        )
    now = ctx.clock.now()
    _check_throttle(ctx, header.file_id, now)
    try:
        header, payload = EF.open_file(data, code)
    except EF.EnrollmentFileError as exc:
        if exc.code == EF.WRONG_CODE[0]:
            n = _count_failure(ctx, header.file_id, now)
            log.warning("enrollment file %s: wrong code (%d)", header.file_id, n)
        raise _refused(exc) from None
    enrollment, pin = _payload_parts(header, payload)
    installation = EF.new_installation_id()
    enrollment = S.Enrollment(
        server_url=enrollment.server_url,
        device_token=EF.installed_token(enrollment.device_token, installation),
        device_id=enrollment.device_id,
        school_code=enrollment.school_code,
        school_name=enrollment.school_name,
    )
    with ctx.store.Session.begin() as s:
        S.save_enrollment(s, enrollment)
        set_setting(s, K_FINGERPRINT, pin)
        set_setting(s, K_INSTALLATION, installation)
        set_setting(s, K_FAILURES, None)
        remember_reset_key(s, payload.get("pin_reset_key"))
        remember_usb_key(s, payload.get("usb_key"))
    answer = U.unb64(payload["answer"])
    pulled = 0
    kinds = _kinds(answer, payload.get("usb_key"))
    if answer is not None:
        # The first pull, applied as a USB answer is: forms, roster and the school's records in place.
        temp = ctx.store.data_dir / f".enroll-{uuid.uuid4().hex[:8]}{U.SUFFIX}"
        try:
            temp.write_bytes(answer)
            pulled = import_answer(ctx, temp).pulled
        except U.BundleError as exc:  # enrolled all the same: the next sync or answer brings it
            log.warning("the first pull in the enrollment file was not applied: %s", exc)
        finally:
            temp.unlink(missing_ok=True)
    log.info(
        "enrolled from file %s for school %s as device %s",
        header.file_id,
        enrollment.school_code,
        enrollment.device_id,
    )
    return FileEnrollment(enrollment, installation, pulled, kinds["form"], kinds["record"])


def _kinds(answer: bytes | None, key: object) -> Counter[str]:
    """The first pull's changes by type (`form`, `record`), read from the answer the file carries."""
    kinds: Counter[str] = Counter()
    usb = U.decode_key(key)
    if answer is None or usb is None:
        return kinds
    try:
        _header, body = U.open_bundle(answer, usb)
    except U.BundleError:
        return kinds
    pull = body.get("pull") if isinstance(body, dict) else None
    for page in (pull.get("pages") if isinstance(pull, dict) else None) or []:
        for change in page.get("changes") or [] if isinstance(page, dict) else []:
            if isinstance(change, dict):
                kinds[str(change.get("type"))] += 1
    return kinds
