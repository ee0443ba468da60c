"""Sync tests use real parts: the real sync_server create_app() served on 127.0.0.1 (port 0) in a thread, real
SQLite client stores in tmp_path, real sockets (through the fault proxy when a test wants a bad link).

The server is shared by the tests of a session, once on SQLite and once on PostgreSQL (a fresh schema at
SYNC_TEST_PG_URL, default 127.0.0.1:5432/test; skipped when unreachable unless CI is set). Its start migrates
and publishes the shipped forms; each test gets its own school, so tests never see each other's data. Clocks are fixed on both sides; the engine's
sleep only records what it was asked to wait, so retries never slow the suite down.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, make_server

from client.clock import FixedClock
from client.context import ClientContext
from client.store import records as R
from client.store.attachments import add_attachment
from client.store.db import open_store
from client.store.formset import FormSet
from client.store.models import OutboxEntry
from client.sync.engine import SyncEngine
from client.sync.http import RetryPolicy, Timeouts
from sync_server import models as M
from sync_server.app import create_app
from sync_server.services.schools import add_school
from sync_server.state import get_state
from tests.support.samples import inspection  # noqa: F401 - re-exported for the tests

PG_ADMIN_URL = os.environ.get(
    "SYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NOW = dt.datetime(2026, 11, 28, 2, 0)  # naive UTC, as the client store keeps it
TODAY = dt.date(2026, 11, 28)
SERVER_NOW = NOW.replace(tzinfo=dt.UTC)


@dataclass
class LiveServer:
    app: Flask
    url: str
    port: int

    def session(self) -> Session:
        """A write session on the server's database (for checks, and the bureau's side of a test)."""
        return get_state(self.app).db.Session()

    def new_school(self, name: str = "城关镇中心小学", code: str | None = None) -> tuple[str, str]:
        """A fresh school (or a fresh code for school `code`): (school code, enrollment code)."""
        code = code or "S" + uuid.uuid4().hex[:8]
        with get_state(self.app).db.Session.begin() as s:
            made = add_school(s, code=code, name=name, now=SERVER_NOW)
        return code, made.enrollment_code

    def school_records(self, school_code: str) -> list[M.Record]:
        with self.session() as s:
            return list(
                s.execute(
                    select(M.Record)
                    .join(M.School, M.School.id == M.Record.school_id)
                    .where(M.School.code == school_code)
                ).scalars()
            )

    def count(self, model: Any, *where: Any) -> int:
        with self.session() as s:
            return int(
                s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
            )


def _postgres_reachable() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _database(backend: str, folder: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'sync.db'}"
        return
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required on CI but cannot be reached")
        pytest.skip(
            f"PostgreSQL at {PG_ADMIN_URL} cannot be reached (set CI to make this a failure)"
        )
    schema = "sync_" + uuid.uuid4().hex[:16]
    admin = sa.create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The real server on loopback, once per backend for the session (each test uses its own school)."""
    instance = tmp_path_factory.mktemp(f"sync-server-{request.param}")
    with _database(str(request.param), instance) as url:
        app = create_app(
            {
                "INSTANCE_PATH": str(instance),
                "DATABASE_URL": url,
                "SECRET_KEY": "sync-tests",
                "CLOCK": lambda: SERVER_NOW,
            }
        )
        server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield LiveServer(app, f"http://127.0.0.1:{server.server_port}", server.server_port)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)
            get_state(app).db.close()


@pytest.fixture(scope="session")
def formset() -> FormSet:
    return FormSet.shipped()


@dataclass
class Sleeps:
    """The engine's sleep: records each wait instead of waiting."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class Client:
    """One school PC: its store, its engine, and what its HTTP session saw."""

    ctx: ClientContext
    engine: SyncEngine
    http: requests.Session
    sleeps: Sleeps
    responses: list[requests.Response]

    @property
    def Session(self) -> Any:
        return self.ctx.store.Session

    def save(self, data: dict[str, Any], *, form_id: str = "safety_inspection", **kw: Any) -> str:
        with self.Session.begin() as s:
            res = R.save_record(
                s,
                form=self.ctx.forms.get(form_id),
                data=data,
                submit=True,
                today=TODAY,
                now=self.ctx.clock.now(),
                **kw,
            )
        return res.record_id

    def add_photo(self, path: Path) -> str:
        with self.Session.begin() as s:
            return add_attachment(s, self.ctx.store.attachments_dir, path, now=self.ctx.clock.now())

    def unsent(self) -> int:
        with self.Session() as s:
            return int(
                s.execute(
                    select(func.count())
                    .select_from(OutboxEntry)
                    .where(OutboxEntry.sent_at.is_(None))
                ).scalar_one()
            )


ClientFactory = Callable[..., Client]


@pytest.fixture
def make_client(tmp_path: Path, formset: FormSet) -> Iterator[ClientFactory]:
    made: list[Client] = []

    def make(
        name: str = "pc1",
        *,
        attempts: int = 4,
        read_timeout: float = 5.0,
        chunk_size: int = 64 * 1024,
        batch_changes: int = 200,
    ) -> Client:
        forms = FormSet(dict(formset.latest), dict(formset.versions))  # each PC its own copy
        ctx = ClientContext(open_store(tmp_path / name), forms, FixedClock(NOW, TODAY))
        http = requests.Session()
        responses: list[requests.Response] = []
        http.hooks["response"].append(lambda r, *a, **k: responses.append(r))
        sleeps = Sleeps()
        engine = SyncEngine(
            ctx,
            http,
            sleep=sleeps,
            rng=random.Random(7),
            policy=RetryPolicy(attempts=attempts, base=0.5, cap=8.0),
            timeouts=Timeouts(connect=2.0, read=read_timeout),
            chunk_size=chunk_size,
            batch_changes=batch_changes,
        )
        client = Client(ctx, engine, http, sleeps, responses)
        made.append(client)
        return client

    yield make
    for c in made:
        c.http.close()
        c.ctx.close()


def photo_file(folder: Path, size: int, seed: int = 1) -> Path:
    """A 'photo': random bytes (incompressible, like a JPEG)."""
    path = folder / f"photo-{seed}-{size}.jpg"
    path.write_bytes(random.Random(seed).randbytes(size))
    return path
