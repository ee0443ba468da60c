"""How long healing after a restore takes (issue 10 part G), on loopback.

A PC of one school saves N records, half before and half after a backup. Then:
1. server restore: the server's database is put back to the backup (`sync-server restore` on SQLite,
   pg_dump/pg_restore + `--after-pg-restore` on PostgreSQL); the PC's next sync sends the N/2 lost
   records again and reads the school's N records again (compacted). Compared with the sync that first
   sent those N/2, and with a fresh PC pulling the school from 0.
2. PC restore: the PC's store is put back to its own backup (made with the server's); its next sync reads
   back the N/2 records it sent after the backup.

    .venv/bin/python benchmarks/restore_heal_bench.py [--records 2000] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from client.clock import FixedClock  # noqa: E402
from client.context import ClientContext  # noqa: E402
from client.store import records as R  # noqa: E402
from client.store.backup import backup_to, restore_from  # noqa: E402
from client.store.db import open_store  # noqa: E402
from client.store.formset import FormSet  # noqa: E402
from client.sync.engine import SyncEngine  # noqa: E402
from sync_server.app import create_app  # noqa: E402
from sync_server.services.schools import add_school  # noqa: E402
from sync_server.state import get_state  # noqa: E402
from tests.support.samples import inspection  # noqa: E402

NOW = dt.datetime(2026, 11, 28, 2, 0)
TODAY = NOW.date()
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class Server:
    def __init__(self, url: str, instance: Path) -> None:
        self.url_db, self.instance, self.port = url, instance, 0
        self.start()

    def start(self) -> None:
        self.app = create_app(
            {
                "INSTANCE_PATH": str(self.instance),
                "DATABASE_URL": self.url_db,
                "SECRET_KEY": "bench",
                "CLOCK": lambda: NOW.replace(tzinfo=dt.UTC),
            }
        )
        self.http = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self.http.server_port
        self.thread = threading.Thread(target=self.http.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(5)
        get_state(self.app).db.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def code(self, school: str) -> str:
        with get_state(self.app).db.Session.begin() as s:
            return add_school(s, code=school, name="城关镇中心小学", now=NOW).enrollment_code


def libpq(url: str) -> str:
    parsed = sa.engine.make_url(url.split("?")[0])
    return f"postgresql://{parsed.username}@{parsed.host}:{parsed.port}/{parsed.database}"


@contextlib.contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'sync.db'}"
        return
    schema = "bench_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def backup_server(backend: str, url: str, out: Path) -> None:
    if backend == "sqlite":
        src, dst = sqlite3.connect(url.removeprefix("sqlite:///")), sqlite3.connect(out)
        src.backup(dst)
        dst.close()
        src.close()
        return
    schema = url.rsplit("search_path%3D", 1)[1]
    subprocess.run(
        ["pg_dump", "-Fc", f"--schema={schema}", f"--file={out}", libpq(url)], check=True
    )


def restore_server(backend: str, server: Server, backup: Path) -> None:
    server.stop()
    args = [sys.executable, "-m", "sync_server", "restore"]
    if backend == "sqlite":
        args.append(str(backup))
    else:
        subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                f"--dbname={libpq(server.url_db)}",
                str(backup),
            ],
            check=True,
        )
        args.append("--after-pg-restore")
    args += ["--db", server.url_db, "--instance", str(server.instance)]
    subprocess.run(args, check=True, capture_output=True, cwd=ROOT)
    server.start()


def new_pc(folder: Path, forms: FormSet) -> ClientContext:
    own = FormSet(dict(forms.latest), dict(forms.versions))
    return ClientContext(open_store(folder), own, FixedClock(NOW, TODAY))


def engine(ctx: ClientContext, http: requests.Session) -> SyncEngine:
    return SyncEngine(ctx, http, sleep=lambda s: None, rng=random.Random(1))


def save(ctx: ClientContext, n: int, tag: str) -> None:
    form = ctx.forms.get("safety_inspection")
    with ctx.store.Session.begin() as s:
        for i in range(n):
            R.save_record(
                s,
                form=form,
                data=inspection(inspectors=f"{tag}{i}"),
                submit=True,
                today=TODAY,
                now=NOW,
            )


def timed(what: str, fn: Any) -> Any:
    t0 = time.perf_counter()
    result = fn()
    took = time.perf_counter() - t0
    extra = ""
    if hasattr(result, "pushed"):
        extra = f" ({result.pushed} sent, {result.pulled} read"
        if result.healed is not None:
            extra += (
                f", healed: {result.healed.resent} sent again, {result.healed.came_back} came back"
            )
        extra += ")"
    print(f"  {what}: {took:.2f} s{extra}")
    return result


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("client").setLevel(logging.ERROR)
    logging.getLogger("sync_server").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    half = args.records // 2
    forms = FormSet.shipped()
    folder = Path(tempfile.mkdtemp(prefix="heal-bench-"))
    http = requests.Session()
    try:
        with database(args.backend, folder) as url:
            server = Server(url, folder / "instance")
            school = "S" + uuid.uuid4().hex[:6]
            pc = new_pc(folder / "pc", forms)
            engine(pc, http).enroll(server.url, server.code(school), device_name="pc")
            fresh = new_pc(folder / "fresh", forms)  # enrolled before the backup; syncs later
            engine(fresh, http).enroll(server.url, server.code(school), device_name="fresh")
            print(f"{args.records} records, {args.backend}:")
            save(pc, half, "张伟")
            timed(f"first sync of {half} records", lambda: engine(pc, http).sync())
            backup_server(args.backend, url, folder / "server-backup")
            save(pc, args.records - half, "李娜")
            timed(
                f"sync of {args.records - half} records (lost next)",
                lambda: engine(pc, http).sync(),
            )
            timed(
                f"a fresh PC pulls the school's {args.records} records",
                lambda: engine(fresh, http).sync(),
            )
            t0 = time.perf_counter()
            restore_server(args.backend, server, folder / "server-backup")
            print(f"  restore the server + start it: {time.perf_counter() - t0:.2f} s")
            timed("server restore: the PC heals", lambda: engine(pc, http).sync())
            timed("server restore: the fresh PC heals", lambda: engine(fresh, http).sync())
            timed("next sync (nothing to do)", lambda: engine(pc, http).sync())
            pc.close()
            fresh.close()

            other = "S" + uuid.uuid4().hex[:6]
            pc = new_pc(folder / "pc2", forms)
            engine(pc, http).enroll(server.url, server.code(other), device_name="pc2")
            save(pc, half, "王五")
            engine(pc, http).sync()
            backup_to(pc.store, folder / "pc-backup.db")
            save(pc, args.records - half, "赵六")
            engine(pc, http).sync()
            pc.close()
            store = open_store(folder / "pc2")
            restore_from(store, folder / "pc-backup.db")
            pc = new_pc(folder / "pc2", forms)
            timed("PC restore: the PC heals", lambda: engine(pc, http).sync())
            pc.close()
            server.stop()
    finally:
        http.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
