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

import collections
import datetime as dt
import functools
import hmac
import logging
import secrets
import threading
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
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response as BaseResponse

from forms.display import zone_label
from forms.model import FormDef
from sync_server.config import number, whole_number
from sync_server.dashboard import NAV, bp
from sync_server.errors import ServiceError
from sync_server.models import FormVersion, Role
from sync_server.services import common
from sync_server.services import users as users_service
from sync_server.services.forms import FORM_CACHE
from sync_server.services.users import StaffUser, role_rank
from sync_server.state import get_state
from sync_server.throttle import MAX_KEYS, LoginAttempt, LoginThrottle

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

EXTENSION = "sync_server.dashboard"
PUBLIC_ENDPOINTS = frozenset({"dashboard.login", "dashboard.static"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
ROLE_LABELS = {Role.ADMIN: "管理员", Role.REVIEWER: "审核员", Role.VIEWER: "查看员"}
KNOWN_BROWSER_COOKIE = (
    "school_sync_known"  # "this browser has logged in to these accounts" (signed)
)
KNOWN_BROWSER_SALT = "dashboard.known-browser"
KNOWN_BROWSER_ACCOUNTS = 8

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
    throttle: LoginThrottle
    # (account, address, scope) -> until when its refusal was written to the audit log: once per wait, so
    # that a script hammering a held-back account does not fill the log. Bounded like the throttle.
    noted: collections.OrderedDict[tuple[str, str, str], dt.datetime] = field(
        default_factory=collections.OrderedDict
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first_notice(self, key: tuple[str, str, str], now: dt.datetime, wait: int) -> bool:
        with self.lock:
            until = self.noted.get(key)
            if until is not None and until > now:
                return False
            self.noted[key] = now + dt.timedelta(seconds=wait)
            self.noted.move_to_end(key)
            while len(self.noted) > MAX_KEYS:
                self.noted.popitem(last=False)
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
    if status == 413:  # a body past this door's limit (sync_server/limits.py)
        from sync_server.app import too_large_body

        return _error_page(413, too_large_body()["error"]["message_zh"], "too_large")
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


def _browser_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=KNOWN_BROWSER_SALT)


def _known_browser() -> dict[str, Any] | None:
    """The known-browser cookie's content, when its signature holds and it is not too old."""
    raw = request.cookies.get(KNOWN_BROWSER_COOKIE)
    if not raw or len(raw) > 4096:
        return None
    max_age = int(float(current_app.config["LOGIN_KNOWN_DAYS"]) * 86400)
    try:
        data = _browser_serializer().loads(raw, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    if not isinstance(data.get("accounts"), list):
        return None
    return data


def _login_attempt(account: str) -> LoginAttempt:
    known = _known_browser()
    browser = None
    if known is not None and account in known["accounts"]:
        browser = str(known["id"])
    return LoginAttempt(account=account, address=_client_address(), browser=browser)


def _remember_browser(response: BaseResponse, account: str) -> None:
    """Mark this browser as one that logged in to `account` (a signed cookie, renewed at each login)."""
    known = _known_browser() or {"id": secrets.token_urlsafe(16), "accounts": []}
    accounts = [a for a in known["accounts"] if isinstance(a, str) and a != account]
    accounts = [*accounts, account][-KNOWN_BROWSER_ACCOUNTS:]
    value = _browser_serializer().dumps({"id": known["id"], "accounts": accounts})
    cfg = current_app.config
    response.set_cookie(
        KNOWN_BROWSER_COOKIE,
        value,
        max_age=int(float(cfg["LOGIN_KNOWN_DAYS"]) * 86400),
        httponly=True,
        secure=bool(cfg["SESSION_COOKIE_SECURE"]) or request.is_secure,  # as the session's
        samesite="Lax",
    )


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} 秒"
    return f"{(seconds + 59) // 60} 分钟"


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    nxt = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(nxt or default_page())
        return render_template("login.html", next=nxt or "", username="")
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    attempt = _login_attempt(username.lower())
    st = _dashboard_state()
    held = st.throttle.wait(attempt)
    if held is not None:  # refused until then; no password is checked and no thread waits
        if st.first_notice((attempt.account, attempt.address, held.scope), _now(), held.seconds):
            audit(
                "login.locked",
                username,
                {"wait_seconds": held.seconds, "scope": held.scope},
                actor=username or "anonymous",
            )
        log.warning(
            "dashboard: login refused for %s s (%s): %r from %s",
            held.seconds,
            held.scope,
            username,
            attempt.address,
        )
        flash(f"登录失败次数过多，请 {_wait_text(held.seconds)}后再试。", "error")
        page = render_template("login.html", next=nxt or "", username=username)
        return page, 429, {"Retry-After": str(held.seconds)}
    user = None
    if username and password:
        with get_state().db.Session.begin() as s:
            user = users_service.authenticate(s, username=username, password=password, now=_now())
    else:  # the same cost as a real check
        users_service.authenticate_nobody(password)
    if user is None:
        failures, wait = st.throttle.fail(attempt)
        audit(
            "login.failed",
            username,
            {"failures": failures, "wait_seconds": wait, "known": st.throttle.known(attempt)},
            actor=username or "anonymous",
        )
        message = "用户名或密码不正确。"
        headers = {}
        if wait:
            message += f"请 {_wait_text(wait)}后再试。"
            headers["Retry-After"] = str(wait)
        flash(message, "error")
        return render_template("login.html", next=nxt or "", username=username), 401, headers
    st.throttle.succeed(attempt)
    session.clear()  # a fresh session (and CSRF token) at every login
    session.permanent = False  # gone when the browser closes; login_at/seen bound it on the server
    now = int(_now().timestamp())
    session.update(uid=user.id, nonce=user.session_nonce, login_at=now, seen=now)
    csrf_token()
    g.dashboard_user = user
    audit("login.ok", user.username)
    response = redirect(nxt or default_page())
    _remember_browser(response, attempt.account)
    return response


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
    cfg = app.config
    app.extensions[EXTENSION] = DashboardState(
        throttle=LoginThrottle(
            free=whole_number(cfg, "LOGIN_FREE_FAILURES"),
            base=number(cfg, "LOGIN_DELAY_SECONDS"),
            cap=number(cfg, "LOGIN_MAX_DELAY_SECONDS"),
            address_free=whole_number(cfg, "LOGIN_ADDRESS_FREE_FAILURES"),
            account_free=whole_number(cfg, "LOGIN_ACCOUNT_FREE_FAILURES"),
            account_cap=number(cfg, "LOGIN_ACCOUNT_MAX_DELAY_SECONDS"),
            forget=number(cfg, "LOGIN_FORGET_SECONDS", minimum=1),
            known_for=number(cfg, "LOGIN_KNOWN_DAYS") * 86400,
            clock=lambda: clock().timestamp(),
        )
    )
    app.jinja_env.globals.update(
        csrf_token=csrf_token,
        current_user=current_user,
        nav_items=nav_items,
        has_endpoint=has_endpoint,
        has_role=has_role,
        home_url=home_url,
        role_label=lambda role: ROLE_LABELS.get(role, role),
        time_zone=lambda: zone_label(get_state().local_offset),
    )
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["shortsha"] = lambda value: (value or "")[:12]
