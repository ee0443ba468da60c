"""The code slip carries the certificate fingerprint the schools pin (issue 12, point 4)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sync_server.app import create_app
from sync_server.state import get_state
from sync_server.tls import default_paths, make_certificate
from tests.server.test_tls_cookies import PASSWORD, _csrf, _login_cookies


def _app(tmp_path: Path, sqlite_template: Path, **config: Any) -> Any:
    tmp_path.mkdir(parents=True, exist_ok=True)
    db = tmp_path / "slip.db"
    shutil.copyfile(sqlite_template, db)
    return create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{db}",
            "SECRET_KEY": "slip-tests",
            **config,
        }
    )


def _slip(app: Any) -> str:
    _login_cookies(app)
    c = app.test_client()
    token = _csrf(c.get("/login").get_data(as_text=True))
    c.post("/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token})
    token = _csrf(c.get("/schools").get_data(as_text=True))
    r = c.post(
        "/schools",
        data={"code": "S001", "name": "城关小学", "csrf_token": token},
        follow_redirects=True,
    )
    assert r.status_code == 200
    html: str = r.get_data(as_text=True)
    assert 'id="slip-code"' in html, html[:2000]
    return html


def test_the_slip_shows_the_fingerprint_of_the_served_certificate(
    tmp_path: Path, sqlite_template: Path
) -> None:
    cert, key = default_paths(tmp_path / "instance")
    made = make_certificate(["10.1.2.3"], cert, key)
    app = _app(tmp_path, sqlite_template)
    try:
        html = _slip(app)
    finally:
        get_state(app).db.close()
    assert 'id="slip-fingerprint"' in html
    assert made.fingerprint in html.replace("<br>", "")  # two lines of 16 pairs


def test_behind_nginx_the_slip_shows_the_configured_fingerprint_and_plain_http_none(
    tmp_path: Path, sqlite_template: Path
) -> None:
    given = ":".join(["5A"] * 32)
    app = _app(tmp_path, sqlite_template, TLS_FINGERPRINT=given)
    try:
        assert given in _slip(app).replace("<br>", "")
    finally:
        get_state(app).db.close()
    plain = _app(tmp_path / "plain", sqlite_template)
    try:
        assert 'id="slip-fingerprint"' not in _slip(plain)
    finally:
        get_state(plain).db.close()
