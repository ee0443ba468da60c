"""The PIN (or password) that unlocks the sensitive forms (teacher ethics, dropout follow-ups) on this PC, and
the bureau's way to reset it. No Qt; functions take a Session and never commit.

Everything lives in the settings table (no table of its own, so no migration):

- `sensitive_lock`: the PIN's scrypt hash with its salt and parameters (never the PIN), the failed attempts in
  a row and the moment the next attempt is allowed. Failures make the next try wait, growing (30 s, 1 min,
  2 min, ... at most 15 min): never a lockout that keeps the clerk from their work for good, and the waits are
  kept in the store, so restarting the program does not skip them.
- `pin_reset_key`: a per-device key K the bureau's server hands over at enrollment and with every pull
  (protocol revision 1.11): K = HMAC(server secret, "pin-reset:" + device id). The bureau's dashboard shows
  a reset code = truncated HMAC(K, "pin-reset-code:" + Beijing date + ":" + n), n counting the codes issued
  for the device that day; the clerk types it in offline. A code is used once (`pin_reset_used`).

What the lock does and does not protect against is in docs/security.md, section 2.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import itertools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from client.store.prefs import get_setting, set_setting
from client.store.records import StoreError
from forms.model import FormDef

LOCK_SETTING = "sensitive_lock"
RESET_KEY_SETTING = "pin_reset_key"
RESET_USED_SETTING = "pin_reset_used"
IDLE_SETTING = "sensitive_lock_idle_minutes"

DEFAULT_IDLE_MINUTES = 5.0
MIN_PIN_DIGITS = 6
MIN_PASSWORD_CHARS = 8

# scrypt, the parameters stored with each hash (a later version may raise them for new PINs).
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_MAXMEM = 64 * 1024 * 1024

FREE_FAILURES = 3  # wrong tries before the first wait
FIRST_WAIT = 30  # seconds, doubled at each further failure ...
MAX_WAIT = 15 * 60  # ... up to 15 minutes

RESET_CODE_DIGITS = 10
MAX_CODES_PER_DAY = 20  # reset codes one device may be given in a day
BEIJING = dt.timedelta(hours=8)


class PinError(StoreError):
    """A PIN refused (too short, the two entries differ, wrong, not set)."""


class PinWait(PinError):
    """Too many wrong tries: the next one is allowed after `seconds`."""

    def __init__(self, seconds: int) -> None:
        super().__init__(
            f"错误次数过多，请 {_zh_duration(seconds)}后再试",
            f"too many wrong tries; try again in {seconds} s",
        )
        self.seconds = seconds


@dataclass(frozen=True)
class ResetTicket:
    """A reset code found right: the day and number it was issued with (used once the new PIN is set)."""

    day: str  # ISO date, Beijing
    n: int


def sensitive_forms(forms: Iterable[FormDef]) -> frozenset[str]:
    """The ids of the forms marked `sensitive` in their settings."""
    return frozenset(f.form_id for f in forms if f.settings.sensitive)


# -- the PIN ------------------------------------------------------------------------------------------


def _state(session: Session) -> dict[str, Any]:
    value = get_setting(session, LOCK_SETTING)
    return dict(value) if isinstance(value, dict) else {}


def pin_is_set(session: Session) -> bool:
    return bool(_state(session).get("hash"))


def check_new_pin(pin: str, again: str | None = None) -> None:
    """A new PIN: at least 6 digits (not all the same, not a plain run like 123456), or a password of at
    least 8 characters; `again` (the second entry) must match."""
    if again is not None and pin != again:
        raise PinError("两次输入的PIN码不一致，请重新输入", "the two entries differ; type it again")
    if not pin or pin != pin.strip():
        raise PinError("PIN码不能为空，也不能以空格开头或结尾", "the PIN cannot be empty or padded")
    if pin.isdigit() and pin.isascii():
        if len(pin) < MIN_PIN_DIGITS:
            raise PinError(
                f"PIN码至少 {MIN_PIN_DIGITS} 位数字",
                f"a PIN needs at least {MIN_PIN_DIGITS} digits",
            )
        if _too_simple(pin):
            raise PinError(
                "PIN码太简单（如 111111、123456），请换一个",
                "the PIN is too simple (like 111111 or 123456); choose another",
            )
        return
    if len(pin) < MIN_PASSWORD_CHARS:
        raise PinError(
            f"请用至少 {MIN_PIN_DIGITS} 位数字，或至少 {MIN_PASSWORD_CHARS} 个字符的密码",
            f"use at least {MIN_PIN_DIGITS} digits, or a password of at least "
            f"{MIN_PASSWORD_CHARS} characters",
        )


def _too_simple(digits: str) -> bool:
    steps = {int(b) - int(a) for a, b in itertools.pairwise(digits)}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def _hash(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=32
    )


def set_pin(session: Session, pin: str, *, now: dt.datetime, again: str | None = None) -> None:
    """Keep a new PIN (as its salted scrypt hash); the failed tries are forgotten."""
    check_new_pin(pin, again)
    salt = os.urandom(16)
    set_setting(
        session,
        LOCK_SETTING,
        {
            "kdf": "scrypt",
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": _b64(salt),
            "hash": _b64(_hash(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)),
            "set_at": now.isoformat(),
            "failures": 0,
            "wait_until": None,
        },
    )


def wait_seconds(session: Session, *, now: dt.datetime) -> int:
    """How long before the next try is allowed (0: now)."""
    until = _state(session).get("wait_until")
    if not until:
        return 0
    try:
        moment = dt.datetime.fromisoformat(str(until))
    except ValueError:
        return 0
    left = (moment - now).total_seconds()
    # A clock set back must not stretch a wait beyond the longest one.
    return max(0, min(MAX_WAIT, int(left + 0.999)))


def next_wait(failures: int) -> int:
    """The wait after `failures` wrong tries in a row."""
    if failures < FREE_FAILURES:
        return 0
    return int(min(MAX_WAIT, FIRST_WAIT * 2 ** (failures - FREE_FAILURES)))


def _failed(session: Session, state: dict[str, Any], *, now: dt.datetime) -> int:
    failures = int(state.get("failures") or 0) + 1
    wait = next_wait(failures)
    state["failures"] = failures
    state["wait_until"] = (now + dt.timedelta(seconds=wait)).isoformat() if wait else None
    set_setting(session, LOCK_SETTING, state)
    return wait


def verify_pin(session: Session, pin: str, *, now: dt.datetime) -> bool:
    """Is this the PIN? A wrong one counts as a failure (the caller commits it); raises PinWait while a wait
    runs (without checking the PIN) and PinError when no PIN is set."""
    state = _state(session)
    if not state.get("hash"):
        raise PinError("还没有设置PIN码", "no PIN has been set")
    wait = wait_seconds(session, now=now)
    if wait:
        raise PinWait(wait)
    try:
        salt = base64.b64decode(state["salt"])
        expected = base64.b64decode(state["hash"])
        got = _hash(pin, salt, int(state["n"]), int(state["r"]), int(state["p"]))
    except (KeyError, ValueError, binascii.Error):
        raise PinError(
            "保存的PIN码已损坏，请通过教育局重置", "the stored PIN is damaged; reset it"
        ) from None
    if hmac.compare_digest(got, expected):
        if state.get("failures") or state.get("wait_until"):
            state["failures"] = 0
            state["wait_until"] = None
            set_setting(session, LOCK_SETTING, state)
        return True
    _failed(session, state, now=now)
    return False


def failures(session: Session) -> int:
    return int(_state(session).get("failures") or 0)


# -- how long the lock stays open -----------------------------------------------------------------------


def idle_minutes(session: Session) -> float:
    """Minutes without mouse or keyboard after which the sensitive forms lock again (setting, default 5)."""
    value = get_setting(session, IDLE_SETTING)
    try:
        minutes = float(value) if value is not None else DEFAULT_IDLE_MINUTES
    except (TypeError, ValueError):
        return DEFAULT_IDLE_MINUTES
    return minutes if 0.05 <= minutes <= 240 else DEFAULT_IDLE_MINUTES


def set_idle_minutes(session: Session, minutes: float) -> None:
    if not 1 <= minutes <= 240:
        raise PinError("自动锁定时间应在 1 到 240 分钟之间", "the idle time must be 1-240 minutes")
    set_setting(session, IDLE_SETTING, float(minutes))


# -- reset through the bureau --------------------------------------------------------------------------


def remember_reset_key(session: Session, value: object) -> bool:
    """Keep the reset key the server sent (base64url, 32 bytes); anything else is ignored. True if kept."""
    if not isinstance(value, str):
        return False
    try:
        key = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, binascii.Error):
        return False
    if len(key) != 32:
        return False
    if get_setting(session, RESET_KEY_SETTING) != value:
        set_setting(session, RESET_KEY_SETTING, value)
    return True


def has_reset_key(session: Session) -> bool:
    return _reset_key(session) is not None


def _reset_key(session: Session) -> bytes | None:
    value = get_setting(session, RESET_KEY_SETTING)
    if not isinstance(value, str):
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, binascii.Error):
        return None


def reset_code(key: bytes, day: dt.date, n: int) -> str:
    """The n-th reset code of a day (the server computes the same in sync_server.services.pin_reset)."""
    digest = hmac.new(key, f"pin-reset-code:{day.isoformat()}:{n}".encode(), "sha256").digest()
    number = int.from_bytes(digest[:8], "big") % 10**RESET_CODE_DIGITS
    return f"{number:0{RESET_CODE_DIGITS}d}"


def beijing_date(now: dt.datetime) -> dt.date:
    """The date in China (UTC+8) at `now` (naive UTC): the date the bureau's codes are made for."""
    return (now + BEIJING).date()


def check_reset_code(session: Session, code: str, *, now: dt.datetime) -> ResetTicket:
    """The reset code the bureau gave: right for yesterday, today or tomorrow (a school PC's clock may be a
    day off), not used before. A wrong code counts as a failed try like a wrong PIN (the caller commits);
    raises PinError (wrong, used, no key yet) or PinWait."""
    key = _reset_key(session)
    if key is None:
        raise PinError(
            "本机还没有从教育局服务器收到重置密钥：请先连接服务器并同步一次",
            "this PC has no reset key from the bureau's server yet: enroll and sync once first",
        )
    wait = wait_seconds(session, now=now)
    if wait:
        raise PinWait(wait)
    typed = re.sub(r"[\s\-]", "", code)
    used = get_setting(session, RESET_USED_SETTING) or {}
    used_at = (str(used.get("day") or ""), int(used.get("n") or 0))
    if typed.isdigit() and len(typed) == RESET_CODE_DIGITS:
        today = beijing_date(now)
        for day in (today, today - dt.timedelta(days=1), today + dt.timedelta(days=1)):
            for n in range(1, MAX_CODES_PER_DAY + 1):
                if hmac.compare_digest(reset_code(key, day, n), typed):
                    if (day.isoformat(), n) <= used_at:
                        raise PinError(
                            "这个重置码已经用过，请向教育局索取新的重置码",
                            "this reset code was used already; ask the bureau for a new one",
                        )
                    return ResetTicket(day.isoformat(), n)
    _failed(session, _state(session), now=now)
    raise PinError(
        "重置码不正确（请核对，或检查电脑的日期是否正确）",
        "wrong reset code (check it, and the PC's date)",
    )


def reset_pin(
    session: Session, ticket: ResetTicket, pin: str, *, now: dt.datetime, again: str | None = None
) -> None:
    """Set a new PIN with a reset code found right; the code cannot be used again."""
    used = get_setting(session, RESET_USED_SETTING) or {}
    if (ticket.day, ticket.n) <= (str(used.get("day") or ""), int(used.get("n") or 0)):
        raise PinError("这个重置码已经用过", "this reset code was used already")
    set_pin(session, pin, now=now, again=again)
    set_setting(session, RESET_USED_SETTING, {"day": ticket.day, "n": ticket.n})


# -- helpers ------------------------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _zh_duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} 秒"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} 分 {rest} 秒" if rest else f"{minutes} 分钟"
