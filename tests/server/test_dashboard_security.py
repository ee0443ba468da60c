"""The dashboard's locks: login, roles, the ethics permission, CSRF, lockout, hashed passwords, the audit log,
escaping. The real create_app() on a fresh SQLite copy, driven by Flask's test client.

The sweeps walk app.url_map: a page or action added to the `dashboard` blueprint later is covered without a
line here. Every dashboard view must state who may use it with @role_required (test_every_view_declares_role).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from werkzeug.routing import BuildError, Rule
from werkzeug.security import check_password_hash

from sync_server import models as M
from sync_server.app import create_app
from sync_server.dashboard.auth import PUBLIC_ENDPOINTS
from sync_server.services.schools import add_school, enroll
from sync_server.services.users import hash_password, role_rank
from sync_server.state import get_state
from tests.server.conftest import MovableClock, inspection

PASSWORD = "correct-horse-battery"
MARKER = "敏感内容泄露检测-7Q2X"  # only in the sensitive record
LOGIN_ONLY = {"dashboard.logout"}  # any logged-in user, whatever the role
IGNORED_METHODS = {"HEAD", "OPTIONS"}

# username -> (role, ethics permission)
STAFF = {
    "viewer": ("viewer", False),
    "reviewer": ("reviewer", False),
    "admin": ("admin", False),
    "ethics_viewer": ("viewer", True),
    "boss": ("admin", True),
}


@dataclass
class Site:
    app: Flask
    clock: MovableClock
    school_code: str
    device_id: str
    record_id: str
    sensitive_record_id: str
    clients: list[FlaskClient] = field(default_factory=list)

    def db(self) -> Any:
        return get_state(self.app).db

    def client(self, username: str | None = None) -> FlaskClient:
        c = self.app.test_client()
        if username is not None:
            r = login(c, username, PASSWORD)
            assert r.status_code == 302, r.get_data(as_text=True)
        return c

    def audit(self, action: str | None = None) -> list[M.AuditEntry]:
        with self.db().ReadSession() as s:
            stmt = select(M.AuditEntry).order_by(M.AuditEntry.id)
            if action is not None:
                stmt = stmt.where(M.AuditEntry.action == action)
            return list(s.execute(stmt).scalars())


def csrf_of(c: FlaskClient, path: str = "/login") -> str:
    html = c.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


def session_csrf(c: FlaskClient) -> str:
    with c.session_transaction() as sess:
        token = sess.get("csrf")
    assert isinstance(token, str)
    return token


def login(c: FlaskClient, username: str, password: str, **extra: str) -> Any:
    token = csrf_of(c)
    return c.post(
        "/login", data={"username": username, "password": password, "csrf_token": token, **extra}
    )


def _record(s: Any, school_id: int, form_id: str, data: dict[str, Any], now: dt.datetime) -> str:
    rid = str(uuid.uuid4())
    s.add(
        M.Record(
            id=rid,
            school_id=school_id,
            form_id=form_id,
            form_version="2026.1",
            status=M.Status.RECEIVED,
            server_revision=1,
            created_at=now,
            updated_at=now,
            review_comments={},
            data=data,
        )
    )
    s.flush()
    s.add(
        M.RecordRevision(
            record_id=rid,
            server_revision=1,
            kind="push",
            status=M.Status.RECEIVED,
            form_version="2026.1",
            created_at=now,
            review_comments={},
            data=data,
        )
    )
    return rid


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)  # scrypt costs ~0.3 s: once per run, not once per user


def add_staff(s: Any, username: str, role: str, ethics: bool, now: dt.datetime) -> None:
    """Like services.users.add_user (tested through the CLI), with a precomputed hash."""
    s.add(
        M.User(
            username=username,
            password_hash=password_hash(),
            role=role,
            can_view_sensitive=ethics,
            session_nonce=uuid.uuid4().hex,
            created_at=now,
        )
    )


@pytest.fixture
def site(tmp_path: Path, sqlite_template: Path) -> Iterator[Site]:
    path = tmp_path / "dash.db"
    shutil.copyfile(sqlite_template, path)
    clock = MovableClock()
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{path}",
            "SECRET_KEY": "dashboard-security-tests",
            "CLOCK": clock,
            "LOGIN_FAILURE_DELAY": 0,
            "TESTING": True,
        }
    )
    db = get_state(app).db
    now = clock().replace(tzinfo=None)
    with db.Session.begin() as s:
        for username, (role, ethics) in STAFF.items():
            add_staff(s, username, role, ethics, now)
        made = add_school(s, code="S001", name="城关镇中心小学", now=clock())
        device = enroll(
            s,
            enrollment_code=made.enrollment_code,
            device_name="教务处电脑",
            app_version="0.1.0",
            now=clock(),
        )
        school_id = s.execute(select(M.School.id).where(M.School.code == "S001")).scalar_one()
        plain = _record(s, school_id, "safety_inspection", inspection(), now)
        sensitive = _record(
            s,
            school_id,
            "teacher_ethics",
            {
                "teacher": "T001",
                "record_type": "complaint",
                "record_date": "2026-11-01",
                "description": MARKER,
            },
            now,
        )
    yield Site(app, clock, "S001", device.device_id, plain, sensitive)
    db.close()


# -- walking the blueprint --------------------------------------------------------------------------


def dashboard_rules(app: Flask) -> list[Rule]:
    return sorted(
        (
            r
            for r in app.url_map.iter_rules()
            if r.endpoint.startswith("dashboard.") and r.endpoint not in PUBLIC_ENDPOINTS
        ),
        key=lambda r: (r.rule, r.endpoint),
    )


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - IGNORED_METHODS)


def samples(site: Site, *, sensitive: bool = False) -> dict[str, str]:
    return {
        "code": site.school_code,
        "school_code": site.school_code,
        "device_id": site.device_id,
        "record_id": site.sensitive_record_id if sensitive else site.record_id,
        "form_id": "teacher_ethics" if sensitive else "safety_inspection",
        "form": "teacher_ethics" if sensitive else "safety_inspection",
        "version": "2026.1",
        "sha256": "0" * 64,
    }


def build(site: Site, rule: Rule, *, sensitive: bool = False, **query: str) -> str:
    given = samples(site, sensitive=sensitive)
    with site.app.test_request_context():
        values: dict[str, Any] = {a: given.get(a, "x") for a in rule.arguments}
        query = {k: v for k, v in query.items() if k not in rule.arguments}
        try:
            return url_for(rule.endpoint, **values, **query)
        except BuildError:
            return url_for(rule.endpoint, **{a: 1 for a in rule.arguments}, **query)


def required_rank(site: Site, endpoint: str) -> int:
    roles = getattr(site.app.view_functions[endpoint], "dashboard_roles", ("viewer",))
    return min(role_rank(r) for r in roles)


def call(c: FlaskClient, method: str, url: str, token: str | None = None) -> Any:
    if method == "GET":
        return c.get(url)
    data = {"csrf_token": token} if token is not None else {}
    return c.open(url, method=method, data=data)


def is_login_redirect(r: Any) -> bool:
    return r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/login"


# -- anonymous visitors -----------------------------------------------------------------------------


def test_the_sweep_sees_the_pages(site: Site):
    endpoints = {r.endpoint for r in dashboard_rules(site.app)}
    for expected in (
        "dashboard.schools",
        "dashboard.schools_add",
        "dashboard.schools_slip",
        "dashboard.schools_device_revoke",
        "dashboard.forms",
        "dashboard.forms_publish",
        "dashboard.audit_log",
        "dashboard.logout",
    ):
        assert expected in endpoints


def test_every_view_declares_role(site: Site):
    undeclared = [
        r.endpoint
        for r in dashboard_rules(site.app)
        if r.endpoint not in LOGIN_ONLY
        and not hasattr(site.app.view_functions[r.endpoint], "dashboard_roles")
    ]
    assert undeclared == [], "decorate these views with @role_required(...)"


def test_anonymous_visitors_are_sent_to_login(site: Site):
    anon = site.client()
    token = csrf_of(anon)  # a valid token: the refusal must come from the missing login
    for rule in dashboard_rules(site.app):
        url = build(site, rule)
        for method in methods(rule):
            r = call(anon, method, url, token)
            assert is_login_redirect(r), (method, url, r.status_code)
            if method == "GET":
                nxt = parse_qs(urlsplit(r.headers["Location"]).query)["next"][0]
                assert nxt == url
            r = call(anon, method, url)  # no token either
            assert r.status_code in (302, 400), (method, url, r.status_code)
            if r.status_code == 302:
                assert is_login_redirect(r)


def test_anonymous_json_clients_get_401(site: Site):
    r = site.client().get("/schools", headers={"Accept": "application/json"})
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "login_required"


def test_login_page_and_static_files_are_public(site: Site):
    anon = site.client()
    r = anon.get("/login")
    assert r.status_code == 200
    assert "用户名" in r.get_data(as_text=True)
    assert anon.get("/dashboard/static/dashboard.css").status_code == 200


# -- roles and the ethics permission ----------------------------------------------------------------


def test_users_without_the_role_get_403(site: Site):
    clients = {name: site.client(name) for name in STAFF}
    tokens = {name: session_csrf(c) for name, c in clients.items()}
    checked = 0
    for rule in dashboard_rules(site.app):
        if rule.endpoint in LOGIN_ONLY:
            continue
        need = required_rank(site, rule.endpoint)
        url = build(site, rule)
        for name, (role, _ethics) in STAFF.items():
            if role_rank(role) >= need:
                continue
            for method in methods(rule):
                r = call(clients[name], method, url, tokens[name])
                assert r.status_code == 403, (name, method, url, r.status_code)
                assert "没有权限" in r.get_data(as_text=True)
                checked += 1
    assert checked > 0


def test_users_with_the_role_may_open_each_page(site: Site):
    lowest = {0: "viewer", 1: "reviewer", 2: "admin"}
    clients = {name: site.client(name) for name in lowest.values()}
    for rule in dashboard_rules(site.app):
        if "GET" not in methods(rule) or rule.endpoint in LOGIN_ONLY:
            continue
        name = lowest[required_rank(site, rule.endpoint)]
        url = build(site, rule)
        r = clients[name].get(url)
        assert r.status_code not in (401, 403) and r.status_code < 500, (name, url, r.status_code)
        assert not is_login_redirect(r), (name, url)


def test_ethics_views_refuse_users_without_the_permission(site: Site):
    admin = site.client("admin")  # every role, no ethics permission
    token = session_csrf(admin)
    for rule in dashboard_rules(site.app):
        if not getattr(site.app.view_functions[rule.endpoint], "dashboard_ethics", False):
            continue
        for method in methods(rule):
            r = call(admin, method, build(site, rule), token)
            assert r.status_code == 403, (rule.endpoint, method)


def _text_of(r: Any) -> str:
    """A page's text, or every cell of an .xlsx answer."""
    if r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        wb = load_workbook(io.BytesIO(r.get_data()), read_only=True)
        cells = [
            str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row
        ]
        return "\n".join(cells)
    return r.get_data(as_text=True)


def test_sensitive_records_never_reach_users_without_ethics(site: Site):
    """Every GET page, with the sensitive record and form in its URL or query, and without: the sensitive
    record's text never appears, and its direct URLs answer 403 (or 404 where another part is made up)."""
    admin = site.client("admin")
    boss = site.client("boss")
    seen_by_boss = False
    for rule in dashboard_rules(site.app):
        if "GET" not in methods(rule):
            continue
        urls = [
            build(site, rule),
            build(site, rule, form="teacher_ethics"),
            build(site, rule, form_id="teacher_ethics"),
        ]
        direct = {"record_id", "form_id"} & set(rule.arguments)
        if direct:
            urls.append(build(site, rule, sensitive=True))
        for url in urls:
            r = admin.get(url)
            assert r.status_code < 500, (url, r.status_code)
            if r.status_code == 200:
                text = _text_of(r)
                assert MARKER not in text, url
                assert site.sensitive_record_id not in text, url
        if direct:
            url = build(site, rule, sensitive=True)
            r = admin.get(url)
            extra = set(rule.arguments) - set(samples(site)) - direct
            allowed = (403, 404) if extra or "sha256" in rule.arguments else (403,)
            assert r.status_code in allowed, (url, r.status_code)
            rb = boss.get(url)
            assert rb.status_code != 403, url
            if rb.status_code == 200 and MARKER in _text_of(rb):
                seen_by_boss = True
    if "dashboard.record" in site.app.view_functions or any(
        "record_id" in r.arguments for r in dashboard_rules(site.app)
    ):
        assert seen_by_boss, "a user with the ethics permission should see the sensitive record"


def test_views_of_sensitive_records_are_audited(site: Site):
    boss = site.client("boss")
    rules = [
        r for r in dashboard_rules(site.app) if r.arguments == {"record_id"} and "GET" in methods(r)
    ]
    if not rules:
        pytest.skip("no record page yet")
    before = len(site.audit())
    for rule in rules:
        boss.get(build(site, rule, sensitive=True))
    entries = site.audit()[before:]
    assert any(e.object_id == site.sensitive_record_id and e.actor == "boss" for e in entries)


def test_sensitive_forms_are_listed_only_for_the_ethics_permission(site: Site):
    admin_page = site.client("admin").get("/forms").get_data(as_text=True)
    assert "safety_inspection" in admin_page
    assert "teacher_ethics" not in admin_page and "dropout_followup" not in admin_page
    boss_page = site.client("boss").get("/forms").get_data(as_text=True)
    assert "teacher_ethics" in boss_page and "dropout_followup" in boss_page
    assert site.client("admin").get("/forms/teacher_ethics/2026.1").status_code == 403
    assert site.client("ethics_viewer").get("/forms/teacher_ethics/2026.1").status_code == 200


# -- CSRF -------------------------------------------------------------------------------------------


def test_posts_without_a_valid_csrf_token_are_refused(site: Site):
    boss = site.client("boss")
    other = site.client("admin")
    foreign = session_csrf(other)  # a real token, of another session
    checked = 0
    for rule in dashboard_rules(site.app):
        url = build(site, rule)
        for method in methods(rule):
            if method == "GET":
                continue
            for token in (None, "", "forged-" + "x" * 40, foreign):
                r = call(boss, method, url, token)
                assert r.status_code == 400, (method, url, token, r.status_code)
                assert "请求已过期" in r.get_data(as_text=True)
            checked += 1
    assert checked > 0
    assert site.client("boss").get("/schools").status_code == 200


def test_nothing_changes_without_the_token(site: Site):
    boss = site.client("boss")
    r = boss.post("/schools", data={"code": "S999", "name": "伪造学校"})
    assert r.status_code == 400
    with site.db().ReadSession() as s:
        assert s.execute(select(M.School).where(M.School.code == "S999")).first() is None
    r = boss.post(f"/devices/{site.device_id}/revoke", data={"confirm": "yes"})
    assert r.status_code == 400
    with site.db().ReadSession() as s:
        assert s.get_one(M.Device, site.device_id).revoked_at is None


def test_the_token_may_come_in_a_header_and_json_clients_get_json(site: Site):
    boss = site.client("boss")
    r = boss.post(
        "/schools",
        data={"code": "S777", "name": "头部令牌学校"},
        headers={"X-CSRF-Token": session_csrf(boss)},
    )
    assert r.status_code == 302
    r = boss.post("/schools", data={"code": "S778"}, headers={"Accept": "application/json"})
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "csrf"


def test_login_itself_needs_the_token(site: Site):
    c = site.client()
    c.get("/login")
    r = c.post("/login", data={"username": "boss", "password": PASSWORD})
    assert r.status_code == 400
    assert c.get("/schools").status_code == 302


# -- login, sessions, lockout -----------------------------------------------------------------------


def test_wrong_password_and_unknown_user_get_the_same_answer(site: Site):
    a = login(site.client(), "boss", "wrong-password-123")
    b = login(site.client(), "nobody-here", "wrong-password-123")
    assert a.status_code == b.status_code == 401
    for r in (a, b):
        assert "用户名或密码不正确" in r.get_data(as_text=True)


def test_failed_logins_make_the_next_try_wait(site: Site):
    for _ in range(3):  # the first three cost nothing
        r = login(site.client(), "reviewer", "not-the-password")
        assert r.status_code == 401 and "Retry-After" not in r.headers
    r = login(site.client(), "reviewer", "not-the-password")
    assert r.status_code == 401 and r.headers["Retry-After"] == "2"
    assert "请 2 秒后再试" in r.get_data(as_text=True)
    c = site.client()
    r = login(c, "reviewer", PASSWORD)  # the right password, but too soon: refused unchecked
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert "请 2 秒后再试" in r.get_data(as_text=True)
    assert c.get("/schools").status_code == 302
    assert login(site.client(), "reviewer", PASSWORD).status_code == 429  # logged once per wait
    assert login(site.client(), "viewer", PASSWORD).status_code == 302  # others do not wait
    site.clock.advance(seconds=2)
    assert login(site.client(), "reviewer", PASSWORD).status_code == 302
    assert len(site.audit("login.failed")) == 4
    assert len(site.audit("login.locked")) == 1


def test_an_address_guessing_many_accounts_waits(site: Site):
    for i in range(21):
        assert login(site.client(), f"guess{i}", "not-the-password").status_code == 401
    r = login(site.client(), "boss", PASSWORD)  # boss never logged in from here: a stranger
    assert r.status_code == 429
    site.clock.advance(seconds=2)
    assert login(site.client(), "boss", PASSWORD).status_code == 302


def test_success_clears_the_username_failures(site: Site):
    for _ in range(3):
        login(site.client(), "viewer", "not-the-password")
    assert login(site.client(), "viewer", PASSWORD).status_code == 302
    for _ in range(3):
        login(site.client(), "viewer", "not-the-password")
    assert login(site.client(), "viewer", PASSWORD).status_code == 302


def test_passwords_are_hashed(site: Site):
    with site.db().ReadSession() as s:
        users = list(s.execute(select(M.User)).scalars())
    assert len(users) == len(STAFF)
    for u in users:
        assert PASSWORD not in u.password_hash
        assert u.password_hash.startswith(("scrypt:", "pbkdf2:"))
        assert check_password_hash(u.password_hash, PASSWORD)
    salted = {hash_password(PASSWORD) for _ in range(2)}
    assert len(salted) == 2  # the same password hashes differently each time


def test_session_cookie_flags(site: Site, tmp_path: Path, sqlite_template: Path):
    c = site.client()
    token = csrf_of(c)
    r = c.post("/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    path = tmp_path / "tls.db"
    shutil.copyfile(sqlite_template, path)
    tls = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "tls"),
            "DATABASE_URL": f"sqlite:///{path}",
            "SECRET_KEY": "tls",
            "SESSION_COOKIE_SECURE": True,
        }
    )
    try:
        r = tls.test_client().get("/login", base_url="https://localhost")
        assert "Secure" in r.headers["Set-Cookie"]
    finally:
        get_state(tls).db.close()


def test_logout_ends_the_session_even_for_a_copied_cookie(site: Site):
    c = site.client("reviewer")
    stolen = site.client()
    with c.session_transaction() as sess:
        copied = dict(sess)
    with stolen.session_transaction() as sess:
        sess.update(copied)
    assert stolen.get("/schools").status_code == 200
    r = c.post("/logout", data={"csrf_token": session_csrf(c)})
    assert is_login_redirect(r)
    assert is_login_redirect(c.get("/schools"))
    assert is_login_redirect(stolen.get("/schools"))
    assert [e.actor for e in site.audit("logout")] == ["reviewer"]


def test_logout_is_post_only(site: Site):
    c = site.client("viewer")
    assert c.get("/logout").status_code == 405
    assert c.get("/schools").status_code == 200


def test_sessions_expire_when_idle(site: Site):
    c = site.client("viewer")
    site.clock.advance(minutes=119)
    assert c.get("/schools").status_code == 200
    site.clock.advance(minutes=119)  # the previous request refreshed the idle timer
    assert c.get("/schools").status_code == 200
    site.clock.advance(minutes=121)
    assert is_login_redirect(c.get("/schools"))


def test_sessions_end_after_twelve_hours(site: Site):
    c = site.client("viewer")
    for _ in range(13):
        site.clock.advance(minutes=60)
        r = c.get("/schools")
    assert is_login_redirect(r)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:x",
    ],
)
def test_next_leads_only_to_local_pages(site: Site, target: str):
    r = login(site.client(), "boss", PASSWORD, next=target)
    assert r.status_code == 302
    location = r.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in ("", "localhost"), location
    assert "evil" not in location and "javascript" not in location


def test_next_returns_to_the_page_asked_for(site: Site):
    c = site.client()
    r = c.get("/forms?x=1")
    nxt = parse_qs(urlsplit(r.headers["Location"]).query)["next"][0]
    r = login(c, "viewer", PASSWORD, next=nxt)
    assert r.headers["Location"] == "/forms?x=1"


# -- the audit log ----------------------------------------------------------------------------------


def test_audit_entries_are_written_and_shown(site: Site):
    login(site.client(), "boss", "wrong-password-123")
    boss = site.client("boss")
    token = session_csrf(boss)
    boss.post("/schools", data={"code": "S010", "name": "河西小学", "csrf_token": token})
    boss.post(f"/devices/{site.device_id}/revoke", data={"confirm": "yes", "csrf_token": token})
    actions = {(e.action, e.actor) for e in site.audit()}
    for expected in (
        ("login.failed", "boss"),
        ("login.ok", "boss"),
        ("school.add", "boss"),
        ("device.revoke", "boss"),
    ):
        assert expected in actions
    failed = site.audit("login.failed")[-1]
    assert failed.details["ip"] == "127.0.0.1"
    page = boss.get("/audit").get_data(as_text=True)
    for action in ("login.failed", "login.ok", "school.add", "device.revoke"):
        assert f'data-action="{action}"' in page
    page = boss.get("/audit?action=login.failed").get_data(as_text=True)
    assert 'data-action="login.ok"' not in page


# -- escaping and headers ---------------------------------------------------------------------------

XSS = "<script>alert(1)</script>"


def test_a_school_name_with_script_renders_as_text(site: Site):
    boss = site.client("boss")
    token = session_csrf(boss)
    r = boss.post("/schools", data={"code": "X1", "name": XSS, "csrf_token": token})
    assert r.status_code == 302
    with site.db().Session.begin() as s:  # a device name from a school's computer, too
        made = add_school(s, code="X2", name="第二小学", now=site.clock())
        enroll(
            s,
            enrollment_code=made.enrollment_code,
            device_name=XSS,
            app_version=XSS,
            now=site.clock(),
        )
    for url in ("/schools", "/schools/X1/slip", "/audit", "/schools?q=" + XSS):
        page = boss.get(url).get_data(as_text=True)
        assert XSS not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, url


def test_pages_send_protective_headers(site: Site):
    r = site.client("viewer").get("/schools")
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
