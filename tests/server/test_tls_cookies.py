"""Dashboard cookies are Secure under TLS (issue 12, point 4): served by `sync-server serve` with a certificate,
or behind a proxy the configuration trusts (X-Forwarded-Proto); never on a plain-HTTP request, and an untrusted
X-Forwarded-Proto changes nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import requests

from sync_server.app import create_app
from sync_server.dashboard.auth import KNOWN_BROWSER_COOKIE
from sync_server.state import get_state
from tests.support.served import ROOT, cli, start_served

PASSWORD = "correct-horse-battery"
SESSION_COOKIE = "school_sync_session"


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def _set_cookies(headers: Any) -> dict[str, str]:
    """Each Set-Cookie header of an answer, by cookie name (the whole header line)."""
    lines = headers.get_all("Set-Cookie") if hasattr(headers, "get_all") else headers
    found: dict[str, str] = {}
    for line in lines:
        name = next(iter(SimpleCookie(line).keys()))
        found[name] = line
    return found


def _is_secure(line: str) -> bool:
    return any(part.strip().lower() == "secure" for part in line.split(";"))


def test_session_and_known_browser_cookies_are_secure_over_tls(
    tmp_path: Path, sqlite_template: Path
) -> None:
    instance = tmp_path / "instance"
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "sync_server",
            "make-cert",
            "--host=127.0.0.1",
            f"--instance={instance}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    db = tmp_path / "sync.db"
    shutil.copyfile(sqlite_template, db)
    served = start_served(instance, f"sqlite:///{db}")
    try:
        cli(
            instance,
            served.db_url,
            "add-user",
            "--username",
            "boss",
            "--role",
            "admin",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        browser = requests.Session()
        ca = str(instance / "tls" / "cert.pem")
        page = browser.get(served.url + "/login", verify=ca, timeout=10)
        token = _csrf(page.text)
        r = browser.post(
            served.url + "/login",
            data={"username": "boss", "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
            verify=ca,
            timeout=10,
        )
        assert r.status_code in (302, 303), r.text[:300]
        cookies = _set_cookies(r.raw.headers)
        assert _is_secure(cookies[SESSION_COOKIE]), cookies
        assert _is_secure(cookies[KNOWN_BROWSER_COOKIE]), cookies
        assert all(_is_secure(line) for line in cookies.values()), cookies
    finally:
        assert "Traceback" not in served.stop()


def _login_cookies(app: Any, **environ: str) -> dict[str, str]:
    from sync_server.services.users import add_user

    with get_state(app).db.Session.begin() as s:
        add_user(
            s,
            username="boss",
            password=PASSWORD,
            role="admin",
            can_view_sensitive=False,
            now=get_state(app).clock(),
        )
    c = app.test_client()
    token = _csrf(c.get("/login", headers=environ).get_data(as_text=True))
    r = c.post(
        "/login",
        data={"username": "boss", "password": PASSWORD, "csrf_token": token},
        headers=environ,
    )
    assert r.status_code in (302, 303)
    return _set_cookies(r.headers)


def _app(tmp_path: Path, sqlite_template: Path, name: str, **config: Any) -> Any:
    db = tmp_path / f"{name}.db"
    shutil.copyfile(sqlite_template, db)
    return create_app(
        {
            "INSTANCE_PATH": str(tmp_path / name),
            "DATABASE_URL": f"sqlite:///{db}",
            "SECRET_KEY": "cookie-tests",
            **config,
        }
    )


def test_behind_a_trusted_proxy_https_makes_cookies_secure(
    tmp_path: Path, sqlite_template: Path
) -> None:
    proxied = _app(tmp_path, sqlite_template, "proxied", PROXY_FIX_X_FOR=1)
    try:
        cookies = _login_cookies(
            proxied, **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.9"}
        )
        assert cookies and all(_is_secure(line) for line in cookies.values()), cookies
    finally:
        get_state(proxied).db.close()


def test_plain_http_and_an_untrusted_forwarded_proto_leave_cookies_as_they_were(
    tmp_path: Path, sqlite_template: Path
) -> None:
    plain = _app(tmp_path, sqlite_template, "plain")  # no proxy trusted
    try:
        cookies = _login_cookies(plain, **{"X-Forwarded-Proto": "https"})
        assert SESSION_COOKIE in cookies and KNOWN_BROWSER_COOKIE in cookies
        assert not any(_is_secure(line) for line in cookies.values()), cookies
    finally:
        get_state(plain).db.close()
    forced = _app(tmp_path, sqlite_template, "forced", SESSION_COOKIE_SECURE=True)
    try:
        cookies = _login_cookies(forced)
        assert all(_is_secure(line) for line in cookies.values()), cookies
    finally:
        get_state(forced).db.close()


def test_a_request_without_the_session_cookie_builds_no_signing_serializer(tmp_path: Path) -> None:
    """A school's sync request carries no session cookie: it gets an empty session without the signing
    serializer Flask would build first (issue 14: CPU of every push). A request with the cookie reads its
    session back as before."""
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
            "SECRET_KEY": "k" * 32,
        }
    )
    try:
        iface = app.session_interface
        real = iface.get_signing_serializer  # type: ignore[attr-defined]
        built: list[str] = []

        def counting(a: Any) -> Any:
            built.append("serializer")
            return real(a)

        iface.get_signing_serializer = counting  # type: ignore[attr-defined]
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/v1/pull").status_code == 401
        assert built == []
        first = client.get("/login")  # sets the session (its CSRF token)
        assert first.status_code == 200 and SESSION_COOKIE in _set_cookies(first.headers)
        again = client.get("/login")  # the cookie sent back: the same token read from it
        assert built and _csrf(again.get_data(as_text=True)) == _csrf(first.get_data(as_text=True))
    finally:
        get_state(app).db.close()
