"""Server tests use real parts: the real create_app() served by werkzeug on 127.0.0.1 port 0 in a thread, real
requests over loopback, and a real database: each test gets a fresh SQLite file, and (through the `backend`
parameter) a fresh PostgreSQL schema on 127.0.0.1:5432.

PostgreSQL tests are skipped only when the server cannot be reached and the environment variable CI is not
set; on CI they must run. The clock is the test's: an aware UTC datetime it can move.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sync_server import models as M
from sync_server.app import create_app, prepare_database
from sync_server.db import open_database
from sync_server.services.schools import add_school
from sync_server.state import get_state
from tests.support.samples import inspection

PG_ADMIN_URL = os.environ.get(
    "SYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
START = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)  # 10:00 in the bureau (UTC+8)
BACKENDS = ["sqlite", "postgresql"]

_pg_state: dict[str, bool] = {}


def postgres_available() -> bool:
    if "ok" not in _pg_state:
        try:
            engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
            _pg_state["ok"] = True
        except Exception:
            _pg_state["ok"] = False
    return _pg_state["ok"]


def require_postgres() -> None:
    if postgres_available():
        return
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required on CI but cannot be reached")
    pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} cannot be reached (set CI to make this a failure)")


@dataclass
class MovableClock:
    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a new SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'sync.db'}"
        return
    require_postgres()
    schema = "t_" + uuid.uuid4().hex[:16]
    admin = sa.create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class Device:
    """An enrolled device: its id, token and a requests session that sends the token."""

    server: LiveServer
    device_id: str
    token: str
    school_code: str
    http: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def url(self, path: str) -> str:
        return self.server.url + path

    def push(
        self, changes: list[dict[str, Any]], *, key: str | None = None, gzipped: bool = False
    ) -> requests.Response:
        body = json.dumps({"changes": changes}, ensure_ascii=False).encode()
        headers = {
            "Idempotency-Key": key or str(uuid.uuid4()),
            "Content-Type": "application/json; charset=utf-8",
        }
        if gzipped:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return self.http.post(self.url("/api/v1/push"), data=body, headers=headers, timeout=30)

    def push_ok(self, changes: list[dict[str, Any]], **kw: Any) -> list[dict[str, Any]]:
        r = self.push(changes, **kw)
        assert r.status_code == 200, r.text
        results: list[dict[str, Any]] = r.json()["results"]
        return results

    def pull(self, since: int = 0, limit: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"since": since}
        if limit is not None:
            params["limit"] = limit
        r = self.http.get(self.url("/api/v1/pull"), params=params, timeout=30)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def pull_all(self, since: int = 0, limit: int = 500) -> tuple[list[dict[str, Any]], int]:
        changes: list[dict[str, Any]] = []
        cursor = since
        while True:
            page = self.pull(cursor, limit)
            changes.extend(page["changes"])
            cursor = page["cursor"]
            if not page["more"]:
                return changes, cursor


@dataclass
class LiveServer:
    app: Flask
    url: str
    clock: MovableClock
    instance: Path

    def new_school(self, code: str | None = None, name: str = "城关镇中心小学") -> tuple[str, str]:
        """(school code, enrollment code)"""
        code = code or "S" + uuid.uuid4().hex[:6].upper()
        with get_state(self.app).db.Session.begin() as s:
            made = add_school(s, code=code, name=name, now=self.clock())
        return code, made.enrollment_code

    def enroll(self, enrollment_code: str, name: str = "教务处电脑") -> requests.Response:
        return requests.post(
            self.url + "/api/v1/enroll",
            json={"enrollment_code": enrollment_code, "device_name": name, "app_version": "0.1.0"},
            timeout=10,
        )

    def device(self, school_code: str | None = None, name: str = "教务处电脑") -> Device:
        """A device of the given school (a fresh school if none), enrolled through the API."""
        if school_code is None:
            school_code, code = self.new_school()
        else:
            school_code, code = self.new_school(school_code, self.school_name(school_code))
        r = self.enroll(code, name)
        assert r.status_code == 201, r.text
        body = r.json()
        return Device(self, body["device_id"], body["token"], school_code)

    def school_name(self, code: str) -> str:
        with self.session() as s:
            return s.execute(select(M.School.name).where(M.School.code == code)).scalar_one()

    def session(self) -> Session:
        return get_state(self.app).db.Session()

    def count(self, model: Any, *where: Any) -> int:
        with self.session() as s:
            return int(
                s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
            )

    def record(self, record_id: str) -> M.Record | None:
        with self.session() as s:
            return s.get(M.Record, record_id)


class _NoDelayHandler(WSGIRequestHandler):
    """Answers leave at once: without TCP_NODELAY, a small second write waits ~40 ms for a delayed ACK
    (waitress, which `sync-server serve` uses, sets it by default)."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(app: Flask) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_NoDelayHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def make_server_for(tmp_path: Path) -> Iterator[Any]:
    """Start servers on given database URLs (with config overrides); all stopped at the end."""
    started: list[tuple[BaseWSGIServer, threading.Thread, Flask]] = []

    def start(url: str, **config: Any) -> LiveServer:
        clock = config.pop("CLOCK", None) or MovableClock()
        instance = tmp_path / f"instance-{len(started)}"
        app = create_app(
            {
                "INSTANCE_PATH": str(instance),
                "DATABASE_URL": url,
                "SECRET_KEY": "server-tests",
                "CLOCK": clock,
                **config,
            }
        )
        server, thread = serve(app)
        started.append((server, thread, app))
        return LiveServer(app, f"http://127.0.0.1:{server.server_port}", clock, instance)

    yield start
    for server, thread, app in started:
        server.shutdown()
        server.server_close()
        thread.join(5)
        get_state(app).db.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated and with the shipped forms published, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "sync.db"
    db = open_database(f"sqlite:///{path}")
    try:
        prepare_database(db, migrate=True, publish_forms=True, now=START)
    finally:
        db.close()  # the last connection closing checkpoints the WAL into the file
    assert not path.with_name("sync.db-wal").exists()
    return path


@pytest.fixture
def ready_db_url(backend: str, db_url: str, sqlite_template: Path) -> str:
    """Like db_url, but a SQLite database starts as a copy of the migrated template (quicker)."""
    if backend == "sqlite":
        shutil.copyfile(sqlite_template, db_url.removeprefix("sqlite:///"))
    return db_url


@pytest.fixture
def live(ready_db_url: str, make_server_for: Any) -> LiveServer:
    server: LiveServer = make_server_for(ready_db_url)
    return server


@pytest.fixture
def live_sqlite(tmp_path: Path, sqlite_template: Path, make_server_for: Any) -> LiveServer:
    """A server on SQLite only, for what does not depend on the database (request parsing, limits)."""
    path = tmp_path / "only-sqlite.db"
    shutil.copyfile(sqlite_template, path)
    server: LiveServer = make_server_for(f"sqlite:///{path}")
    return server


# -- records ----------------------------------------------------------------------------------------


def change(
    data: dict[str, Any] | None = None,
    *,
    record_id: str | None = None,
    op_id: str | None = None,
    form_id: str = "safety_inspection",
    form_version: str = "2026.1",
    kind: str = "upsert",
    revision: int = 1,
    base: int | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "op_id": op_id or str(uuid.uuid4()),
        "record_id": record_id or str(uuid.uuid4()),
        "form_id": form_id,
        "form_version": form_version,
        "kind": kind,
        "revision": revision,
        "base_server_revision": base,
        "status": "submitted",
        "saved_at": "2026-11-28T01:00:00Z",
    }
    if kind == "upsert":
        out["data"] = inspection() if data is None else data
    return out


def assert_error(r: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """A JSON error body of the agreed shape, from our server."""
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    assert r.headers.get("X-Sync-Server") == "school-sync/1"
    body = r.json()
    err = body["error"]
    assert set(err) == {"code", "message_zh", "message_en", "details"}
    assert err["message_zh"] and err["message_en"]
    if code is not None:
        assert err["code"] == code, err
    return dict(err)


# Browser fixtures for the dashboard (headless Chromium + the live app): see tests/server/browser.py.
from tests.server.browser import _chromium, browser, live_dashboard  # noqa: E402, F401
