"""Who may do what on the dashboard: login and logout, sessions, roles, the ethics permission, CSRF, audit.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure when configured) holding the user id, the
user's session nonce, the CSRF token and two times; the nonce changes at logout, which ends every session of
that user. A request is let through only when the user still exists, is not disabled and the nonce matches.

Use in a view module:

    from sync_server.dashboard import bp
    from sync_server.dashboard.auth import audit, can_see_form, current_user, role_required

    @bp.post("/records/<record_id>/accept")
    @role_required("reviewer")
    def record_accept(record_id: str) -> ResponseReturnValue: ...
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BuildError

from forms.model import FormDef
from sync_server.dashboard import NAV, bp
from sync_server.errors import ServiceError
from sync_server.models import FormVersion, Role
from sync_server.services import common
from sync_server.services import users as users_service
from sync_server.services.forms import FORM_CACHE
from sync_server.services.users import LoginThrottle, StaffUser, role_rank
from sync_server.state import get_state

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

EXTENSION = "sync_server.dashboard"
PUBLIC_ENDPOINTS = frozenset({"dashboard.login", "dashboard.static"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
ROLE_LABELS = {Role.ADMIN: "管理员", Role.REVIEWER: "审核员", Role.VIEWER: "查看员"}
MAX_FAILURE_DELAY = 4.0

ERROR_TEXT: dict[int, tuple[str, str]] = {
    400: ("请求无效", "页面已过期或请求不完整，请返回上一页刷新后重试。"),
    403: ("没有权限", "您的账号没有查看此页面或执行此操作的权限。如需要，请联系管理员。"),
    404: ("找不到页面", "您要找的页面或记录不存在。"),
    405: ("操作方式不正确", "该地址不支持这种请求方式。"),
    413: ("文件太大", "上传的文件超过了允许的大小。"),
    429: ("尝试次数过多", "请稍后再试。"),
}


@dataclass
class DashboardState:
    user_failures: LoginThrottle
    address_failures: LoginThrottle
    # (username, address) -> when its lock was last written to the audit log: once per lock, so that a
    # script hammering a locked account does not fill the log.
    lock_noted: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first_notice(self, key: tuple[str, str], now: dt.datetime, wait: int) -> bool:
        with self.lock:
            until = self.lock_noted.get(key)
            if until is not None and until > now:
                return False
            if len(self.lock_noted) > 10_000:
                self.lock_noted = {k: v for k, v in self.lock_noted.items() if v > now}
            self.lock_noted[key] = now + dt.timedelta(seconds=wait)
            return True


def _dashboard_state() -> DashboardState:
    st = current_app.extensions[EXTENSION]
    assert isinstance(st, DashboardState)
    return st


# -- the current user -------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return get_state().now()


def current_user() -> StaffUser | None:
    """The logged-in staff member of this request, or None."""
    if "dashboard_user" in g:
        cached: StaffUser | None = g.dashboard_user
        return cached
    user = _load_session_user()
    g.dashboard_user = user
    return user


def _load_session_user() -> StaffUser | None:
    uid = session.get("uid")
    nonce = session.get("nonce")
    if not isinstance(uid, int) or not isinstance(nonce, str):
        return None
    now = _now().timestamp()
    cfg = current_app.config
    login_at = session.get("login_at")
    seen = session.get("seen")
    if not isinstance(login_at, (int, float)) or not isinstance(seen, (int, float)):
        return None
    if now - login_at > float(cfg["DASHBOARD_SESSION_HOURS"]) * 3600:
        return None
    if now - seen > float(cfg["DASHBOARD_IDLE_MINUTES"]) * 60:
        return None
    with get_state().db.ReadSession.begin() as s:
        user = users_service.get_user(s, uid)
    if user is None or not hmac.compare_digest(user.session_nonce, nonce):
        return None
    if now - seen > 60:  # refresh the idle timer (at most once a minute: fewer cookie writes)
        session["seen"] = int(now)
    return user


def _require_user() -> StaffUser:
    user = current_user()
    if user is None:
        abort(401)
    return user


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    """Any logged-in staff member (the blueprint already enforces this; the decorator documents it)."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        _require_user()
        return view(*args, **kwargs)

    wrapper.dashboard_roles = (Role.VIEWER,)  # type: ignore[attr-defined]
    return wrapper


def role_required(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A user holding one of `roles` or a higher one (admin ⊇ reviewer ⊇ viewer); else 403."""
    for role in roles:
        if role not in Role.ALL:
            raise ValueError(f"unknown role {role!r}")
    lowest = min((role_rank(r) for r in roles), default=0)

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            user = _require_user()
            if role_rank(user.role) < lowest:
                abort(403)
            return view(*args, **kwargs)

        wrapper.dashboard_roles = roles  # type: ignore[attr-defined]
        return wrapper

    return decorate


def ethics_required(view: Callable[P, R]) -> Callable[P, R]:
    """Only users with the ethics permission (teacher-ethics and dropout records); else 403."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        user = _require_user()
        if not user.can_view_sensitive:
            abort(403)
        return view(*args, **kwargs)

    wrapper.dashboard_ethics = True  # type: ignore[attr-defined]
    return wrapper


def has_role(role: str) -> bool:
    user = current_user()
    return user is not None and user.has_role(role)


# -- sensitive forms --------------------------------------------------------------------------------


def is_sensitive(form: FormDef | FormVersion) -> bool:
    if isinstance(form, FormVersion):
        form = FORM_CACHE.get(form)
    return bool(form.settings.sensitive)


def can_see_form(user: StaffUser | None, form: FormDef | FormVersion) -> bool:
    """Sensitive forms (settings.sensitive: teacher_ethics, dropout_followup) need the ethics permission."""
    if user is None:
        return False
    return user.can_view_sensitive or not is_sensitive(form)


_SENSITIVE_BY_SHA: dict[str, bool] = {}  # a published version never changes: its sha256 decides


def sensitive_form_ids(session: Session) -> set[str]:
    """Form ids of which any published version is sensitive (cheap: definitions are read once)."""
    out: set[str] = set()
    for form_id, sha in session.execute(select(FormVersion.form_id, FormVersion.sha256)).all():
        known = _SENSITIVE_BY_SHA.get(sha)
        if known is None:
            fv = session.execute(
                select(FormVersion).where(FormVersion.sha256 == sha).limit(1)
            ).scalar_one()
            known = _SENSITIVE_BY_SHA[sha] = is_sensitive(fv)
        if known:
            out.add(form_id)
    return out


def visible_form_ids(session: Session, user: StaffUser | None) -> set[str]:
    """The form ids this user may see in lists, record pages and exports."""
    all_ids = set(session.execute(select(FormVersion.form_id).distinct()).scalars())
    if user is None:
        return set()
    if user.can_view_sensitive:
        return all_ids
    return all_ids - sensitive_form_ids(session)


def require_form_visible(session: Session, form_id: str) -> None:
    """403 when the current user may not see this form (use it on direct URLs and exports)."""
    if form_id in sensitive_form_ids(session) and not _require_user().can_view_sensitive:
        abort(403)


# -- the audit log ----------------------------------------------------------------------------------


def audit(
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    *,
    session: Session | None = None,
    school_id: int | None = None,
    actor: str | None = None,
) -> None:
    """One audit entry by the current user (with the client address). Given a session, it is written in
    that transaction (with the change it records); otherwise in a transaction of its own."""
    user = current_user()
    who = actor or (user.username if user is not None else "anonymous")
    body = dict(details or {})
    body.setdefault("ip", request.remote_addr or "")
    if session is not None:
        common.audit(
            session,
            now=_now(),
            actor=who,
            action=action,
            school_id=school_id,
            object_id=target,
            details=body,
        )
        return
    with get_state().db.Session.begin() as s:
        common.audit(
            s,
            now=_now(),
            actor=who,
            action=action,
            school_id=school_id,
            object_id=target,
            details=body,
        )


# -- CSRF -------------------------------------------------------------------------------------------


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok() -> bool:
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not isinstance(expected, str) or not expected or not sent:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())


# -- the guard on every dashboard request -----------------------------------------------------------


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after login, or None (never another site)."""
    if not target or len(target) > 2000:
        return None
    if any(ord(c) < 32 or c == "\\" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC_ENDPOINTS and request.endpoint != "dashboard.login":
        return None  # static files
    if request.endpoint not in PUBLIC_ENDPOINTS and current_user() is None:
        if _wants_json():
            abort(401)
        nxt = request.full_path.rstrip("?") if request.method in SAFE_METHODS else None
        return redirect(url_for("dashboard.login", next=safe_next(nxt)))
    if request.method not in SAFE_METHODS and not csrf_ok():
        log.warning(
            "dashboard: refused a %s to %s without a valid CSRF token", request.method, request.path
        )
        abort(400, description="csrf")
    return None


@bp.after_app_request
def _headers(response: Any) -> Any:
    if request.blueprint != "dashboard":
        return response
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    if request.endpoint != "dashboard.static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error_page(status: int, detail: str | None = None, code: str | None = None) -> Any:
    title, text = ERROR_TEXT.get(status, ("出错了", "服务器处理请求时出错，请稍后再试。"))
    if code == "csrf":
        title, text = "请求已过期", "页面已过期（安全校验未通过），请返回上一页刷新后重试。"
    if detail:
        text = detail
    if _wants_json():
        from sync_server.app import json_response
        from sync_server.errors import error_body

        return json_response(
            error_body(code or f"http_{status}", f"{title}：{text}", title), status
        )
    return render_template("error.html", status=status, title=title, text=text), status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    if status == 401:  # only reached by JSON clients; pages redirect in _guard
        return _error_page(401, "请先登录。", "login_required")
    code = "csrf" if status == 400 and exc.description == "csrf" else None
    return _error_page(status, None, code)


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> Any:
    return _error_page(exc.status, exc.message_zh, exc.code)


# -- login and logout -------------------------------------------------------------------------------


def home_url() -> str:
    """The first page of the nav this user may open."""
    return default_page()


def default_page() -> str:
    for endpoint, _label, role in NAV:
        if has_endpoint(endpoint) and has_role(role):
            return url_for(endpoint)
    return url_for("dashboard.schools")


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _failure_delay(failures: int) -> None:
    base = float(current_app.config["LOGIN_FAILURE_DELAY"])
    if base > 0:
        time.sleep(min(MAX_FAILURE_DELAY, base * 2 ** max(0, failures - 1)))


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    nxt = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(nxt or default_page())
        return render_template("login.html", next=nxt or "", username="")
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    user_key = username.lower()
    address = _client_address()
    st = _dashboard_state()
    wait = max(
        st.user_failures.locked_for(user_key) or 0, st.address_failures.locked_for(address) or 0
    )
    if wait:
        if st.first_notice((user_key, address), _now(), wait):
            audit("login.locked", username, {"wait_seconds": wait}, actor=username or "anonymous")
        log.warning(
            "dashboard: login refused, locked for %s s: %r from %s", wait, username, address
        )
        minutes = max(1, (wait + 59) // 60)
        flash(f"登录失败次数过多，账号已暂时锁定。请 {minutes} 分钟后再试。", "error")
        return render_template("login.html", next=nxt or "", username=username), 429
    user = None
    if username and password:
        with get_state().db.Session.begin() as s:
            user = users_service.authenticate(s, username=username, password=password, now=_now())
    else:  # the same cost as a real check
        users_service.authenticate_nobody(password)
    if user is None:
        failures = st.user_failures.fail(user_key)
        st.address_failures.fail(address)
        audit("login.failed", username, {"failures": failures}, actor=username or "anonymous")
        _failure_delay(failures)
        flash("用户名或密码不正确。", "error")
        return render_template("login.html", next=nxt or "", username=username), 401
    st.user_failures.clear(user_key)
    session.clear()  # a fresh session (and CSRF token) at every login
    session.permanent = False  # gone when the browser closes; login_at/seen bound it on the server
    now = int(_now().timestamp())
    session.update(uid=user.id, nonce=user.session_nonce, login_at=now, seen=now)
    csrf_token()
    g.dashboard_user = user
    audit("login.ok", user.username)
    return redirect(nxt or default_page())


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    user = _require_user()
    with get_state().db.Session.begin() as s:
        users_service.end_sessions(s, user.id)
        audit("logout", user.username, session=s)
    session.clear()
    flash("您已安全退出。", "info")
    return redirect(url_for("dashboard.login"))


# -- templates --------------------------------------------------------------------------------------


def has_endpoint(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def nav_items() -> list[dict[str, Any]]:
    """The nav links this user may follow, with the current one marked."""
    out = []
    for endpoint, label, role in NAV:
        if not has_endpoint(endpoint) or not has_role(role):
            continue
        try:
            href = url_for(endpoint)
        except BuildError:  # an endpoint that needs arguments is no nav link
            continue
        current = request.endpoint == endpoint or (
            request.endpoint is not None and request.endpoint.startswith(endpoint + "_")
        )
        out.append({"endpoint": endpoint, "label": label, "href": href, "current": current})
    return out


def localtime(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time (naive UTC) in the bureau's time; '—' for none."""
    if value is None:
        return "—"
    moment = common.naive_utc(value) + get_state().local_offset
    return moment.strftime(fmt)


def init_app(app: Flask) -> None:
    clock = get_state(app).clock
    window = float(app.config["LOGIN_LOCKOUT_SECONDS"])
    app.extensions[EXTENSION] = DashboardState(
        user_failures=LoginThrottle(int(app.config["LOGIN_MAX_FAILURES"]), window, clock),
        address_failures=LoginThrottle(
            int(app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]), window, clock
        ),
    )
    app.jinja_env.globals.update(
        csrf_token=csrf_token,
        current_user=current_user,
        nav_items=nav_items,
        has_endpoint=has_endpoint,
        has_role=has_role,
        home_url=home_url,
        role_label=lambda role: ROLE_LABELS.get(role, role),
    )
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["shortsha"] = lambda value: (value or "")[:12]
