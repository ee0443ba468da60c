"""Staff accounts for the dashboard: creating them and checking passwords (failed logins are throttled by
sync_server.throttle.LoginThrottle).

Passwords are kept only as werkzeug hashes (scrypt). A login that fails (unknown name, wrong password or a
disabled account) costs the same password check, so the answer time does not tell which names exist.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from sync_server.errors import ServiceError
from sync_server.models import Role, User
from sync_server.services.common import audit, naive_utc

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}$")
PASSWORD_METHOD = "scrypt"
# Checked when the name is unknown, so that a failure costs the same either way.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16), method=PASSWORD_METHOD)


@dataclass(frozen=True, slots=True)
class StaffUser:
    """A staff member as the dashboard sees them (no password hash)."""

    id: int
    username: str
    role: str
    can_view_sensitive: bool
    session_nonce: str

    def has_role(self, role: str) -> bool:
        """admin ⊇ reviewer ⊇ viewer."""
        return role_rank(self.role) >= role_rank(role)


def role_rank(role: str) -> int:
    try:
        return Role.ALL.index(role)
    except ValueError:
        return -1


def _staff(user: User) -> StaffUser:
    return StaffUser(
        user.id, user.username, user.role, bool(user.can_view_sensitive), user.session_nonce
    )


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(
            "password_too_short",
            f"密码太短：至少 {MIN_PASSWORD_LENGTH} 个字符",
            f"the password is too short: at least {MIN_PASSWORD_LENGTH} characters",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ServiceError(
            "password_too_long",
            f"密码太长：最多 {MAX_PASSWORD_LENGTH} 个字符",
            f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters",
        )
    if password.strip() == "" or len(set(password)) < 4:
        raise ServiceError(
            "password_too_weak",
            "密码太简单：请混用不同的字符",
            "the password is too simple: use different characters",
        )


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def add_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    can_view_sensitive: bool,
    now: dt.datetime,
    actor: str = "cli",
) -> StaffUser:
    """A new staff account. An existing username is refused (never silently overwritten)."""
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise ServiceError(
            "bad_username",
            f"用户名“{username}”无效：2–64 个字母、数字或 _ . @ -，以字母或数字开头",
            f"invalid username '{username}': 2-64 letters, digits or _ . @ -",
        )
    if role not in Role.ALL:
        raise ServiceError(
            "bad_role",
            f"角色“{role}”无效：应为 {' / '.join(Role.ALL)}",
            f"invalid role '{role}': one of {', '.join(Role.ALL)}",
        )
    check_new_password(password)
    exists = session.execute(select(User.id).where(User.username == username)).scalar_one_or_none()
    if exists is not None:
        raise ServiceError(
            "user_exists", f"用户 {username} 已存在", f"user {username} already exists", status=409
        )
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        can_view_sensitive=can_view_sensitive,
        session_nonce=secrets.token_hex(16),
        created_at=naive_utc(now),
    )
    session.add(user)
    session.flush()
    audit(
        session,
        now=now,
        actor=actor,
        action="user.add",
        object_id=username,
        details={"role": role, "ethics": can_view_sensitive},
    )
    return _staff(user)


def authenticate(
    session: Session, *, username: str, password: str, now: dt.datetime
) -> StaffUser | None:
    """The user when the password is right and the account active; else None (same cost either way)."""
    user = session.execute(
        select(User).where(User.username == username.strip())
    ).scalar_one_or_none()
    stored = user.password_hash if user is not None else _DUMMY_HASH
    ok = check_password_hash(stored, password[:MAX_PASSWORD_LENGTH])
    if user is None or not ok or user.disabled_at is not None:
        return None
    user.last_login_at = naive_utc(now)
    return _staff(user)


def authenticate_nobody(password: str) -> None:
    """Spend the time of one password check (a login without a name still costs the same)."""
    check_password_hash(_DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])


def get_user(session: Session, user_id: int) -> StaffUser | None:
    user = session.get(User, user_id)
    if user is None or user.disabled_at is not None:
        return None
    return _staff(user)


def end_sessions(session: Session, user_id: int) -> None:
    """Every session cookie of this user stops working (logout)."""
    user = session.get(User, user_id)
    if user is not None:
        user.session_nonce = secrets.token_hex(16)
