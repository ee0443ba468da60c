"""A bureau server that can be stopped, put back to a backup and started again on the same address, as the
bureau's IT person does it (docs/deployment.md): SQLite with the backup API and `sync-server restore`,
PostgreSQL with pg_dump, pg_restore and `sync-server restore --after-pg-restore`. For restore tests (issue 10
part G) and the model-based convergence test's restore rules."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url
from werkzeug.serving import BaseWSGIServer, make_server

from sync_server import models as M
from sync_server.app import create_app
from sync_server.services.review import return_record
from sync_server.services.schools import add_school
from sync_server.state import get_state

ROOT = Path(__file__).resolve().parents[2]
SERVER_NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)  # as tests/sync/conftest.py


@dataclass
class Bureau:
    backend: str
    db_url: str
    instance: Path
    port: int = 0
    app: Any = None
    server: BaseWSGIServer | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.app = create_app(
            {
                "INSTANCE_PATH": str(self.instance),
                "DATABASE_URL": self.db_url,
                "SECRET_KEY": "restore-tests",
                "CLOCK": lambda: SERVER_NOW,
            }
        )
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            assert self.thread is not None
            self.thread.join(5)
            get_state(self.app).db.close()
            self.server = None

    def session(self) -> Any:
        return get_state(self.app).db.Session()

    def new_code(self, school: str) -> str:
        with get_state(self.app).db.Session.begin() as s:
            return add_school(s, code=school, name="城关镇中心小学", now=SERVER_NOW).enrollment_code

    def records(self, school: str) -> dict[str, M.Record]:
        with self.session() as s:
            rows = s.execute(
                select(M.Record)
                .join(M.School, M.School.id == M.Record.school_id)
                .where(M.School.code == school)
            ).scalars()
            return {r.id: r for r in rows}

    def revisions(self, record_id: str) -> list[M.RecordRevision]:
        """The record's history on the server, oldest first."""
        with self.session() as s:
            return list(
                s.execute(
                    select(M.RecordRevision)
                    .where(M.RecordRevision.record_id == record_id)
                    .order_by(M.RecordRevision.id)
                ).scalars()
            )

    def counter(self) -> int:
        with self.session() as s:
            return int(s.execute(select(M.ChangeCounter.value)).scalar_one())

    def returns(self, record_id: str, comment: str) -> None:
        with self.session() as s, s.begin():
            return_record(s, record_id, {"inspectors": comment}, "王科长", now=SERVER_NOW)

    # -- backup and restore, as the bureau's IT person does them (docs/deployment.md) ----------------

    def backup(self, folder: Path) -> Path:
        if self.backend == "sqlite":
            out = folder / "sync-backup.db"
            source = sqlite3.connect(self.db_url.removeprefix("sqlite:///"))
            target = sqlite3.connect(out)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            return out
        out = folder / "sync-backup.dump"
        schema = _schema(self.db_url)
        subprocess.run(
            [
                "pg_dump",
                "--format=custom",
                f"--schema={schema}",
                f"--file={out}",
                _libpq(self.db_url),
            ],
            check=True,
            capture_output=True,
        )
        return out

    def restore(self, backup: Path) -> subprocess.CompletedProcess[str]:
        """Stop the server, put the backup back, run `sync-server restore`, start the server again."""
        self.stop()
        if self.backend == "sqlite":
            r = sync_server_cli("restore", str(backup), db=self.db_url, instance=self.instance)
        else:
            subprocess.run(
                [
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    f"--dbname={_libpq(self.db_url)}",
                    str(backup),
                ],
                check=True,
                capture_output=True,
            )
            r = sync_server_cli(
                "restore", "--after-pg-restore", db=self.db_url, instance=self.instance
            )
        self.start()
        return r


def _schema(url: str) -> str:
    return url.rsplit("search_path%3D", 1)[1]


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as libpq (pg_dump, pg_restore) takes it."""
    parsed = make_url(url.split("?")[0])
    return f"postgresql://{parsed.username}@{parsed.host}:{parsed.port}/{parsed.database}"


def sync_server_cli(*args: str, db: str, instance: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("SYNC_SERVER_DB", None)
    r = subprocess.run(
        [sys.executable, "-m", "sync_server", *args, "--db", db, "--instance", str(instance)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    return r
