"""The bureau's dashboard: server-rendered Flask + Jinja pages for staff, in Chinese, no front-end build.

One blueprint, `dashboard`, registered at "/" by create_app (through `init_dashboard`). Its view modules are
imported below; each adds routes to `bp`. Shared pieces live in `sync_server.dashboard.auth`:

- every page of the blueprint needs a logged-in user, except the endpoints listed in `auth.PUBLIC_ENDPOINTS`
  (a before_request hook: a new page is protected even if its decorator is forgotten);
  `@role_required("reviewer")` / `@role_required("admin")` / `@ethics_required` narrow it further;
- every POST (PUT, PATCH, DELETE) needs the session's CSRF token: a hidden field
  `<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">` or an `X-CSRF-Token` header;
- `can_see_form(user, form)` / `sensitive_form_ids(session)`: the teacher-ethics and dropout forms
  (settings.sensitive) are only for users with the ethics permission;
- `audit(action, target, details)` writes the audit log as the current user.

Templates (in dashboard/templates/) extend "base.html" (blocks: title, heading, actions, content); the nav links in
`NAV` appear once their endpoint exists. Jinja helpers: csrf_token(), current_user(), nav_items(),
has_endpoint(name), and the filters `localtime` (stored naive UTC -> bureau time) and `shortsha`.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from flask import Blueprint, Flask

bp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/dashboard/static",
)

# (endpoint, label, the role it needs). A link shows when its endpoint exists and the user has the role.
NAV: tuple[tuple[str, str, str], ...] = (
    ("dashboard.overview", "概览", "viewer"),
    ("dashboard.records", "记录", "viewer"),
    ("dashboard.hazards", "隐患", "viewer"),
    ("dashboard.schools", "学校与设备", "viewer"),
    ("dashboard.forms", "表单", "viewer"),
    ("dashboard.updates", "客户端更新", "viewer"),  # issue 16
    ("dashboard.usb", "U盘数据", "reviewer"),
    ("dashboard.audit_log", "审计日志", "admin"),
)

# Every module of this package is imported (auth first) before the blueprint is registered, so a new view
# module needs no line here: the data pages (overview, records, hazards, consolidated export) live in their own.
FIRST_MODULES = ("auth",)

DEFAULT_CONFIG: dict[str, Any] = {
    "SESSION_COOKIE_NAME": "school_sync_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # set true (config.toml: session_cookie_secure = true) behind TLS
    "DASHBOARD_SESSION_HOURS": 12,  # a login lasts at most this long ...
    "DASHBOARD_IDLE_MINUTES": 120,  # ... and ends after this long without a request
    # Failed logins wait, never lock (sync_server/throttle.py LoginThrottle, docs/server.md):
    "LOGIN_FREE_FAILURES": 3,  # wrong passwords for one account from one browser or address, then ...
    "LOGIN_DELAY_SECONDS": 2,  # ... a wait of 2 s, doubled at each further failure ...
    "LOGIN_MAX_DELAY_SECONDS": 300,  # ... up to 5 minutes
    "LOGIN_ADDRESS_FREE_FAILURES": 20,  # from one stranger address over all accounts (same waits)
    "LOGIN_ACCOUNT_FREE_FAILURES": 10,  # for one account from all stranger addresses, then ...
    "LOGIN_ACCOUNT_MAX_DELAY_SECONDS": 60,  # ... waits of at most a minute, for strangers only
    "LOGIN_FORGET_SECONDS": 3600,  # failures are forgotten an hour after the last one
    "LOGIN_KNOWN_DAYS": 60,  # a browser or address that logged in to an account is known this long
    "PUBLIC_URL": None,  # the address printed on enrollment slips; None: the address the page came from
    "PROXY_FIX_X_FOR": 0,  # behind a reverse proxy: how many X-Forwarded-For hops to trust
}

_loaded = False


def _load_views() -> None:
    global _loaded
    if _loaded:
        return
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    for name in (*FIRST_MODULES, *(n for n in names if n not in FIRST_MODULES)):
        importlib.import_module(f"{__name__}.{name}")
    _loaded = True


def init_dashboard(app: Flask) -> None:
    """Configure sessions and register the blueprint at "/" (called by create_app)."""
    from sync_server.state import get_state

    given = get_state(app).config  # the layered configuration (defaults, file, environment, caller)
    for key, value in DEFAULT_CONFIG.items():
        app.config[key] = given.get(key, value)  # over Flask's own defaults (e.g. SameSite None)
    hops = int(app.config["PROXY_FIX_X_FOR"])
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=1, x_host=1)  # type: ignore[method-assign]
    _load_views()
    from sync_server.dashboard import auth

    auth.init_app(app)
    app.register_blueprint(bp)
