"""The per-record peer of issue 14's sync benchmarks: how ODK Central takes submissions, written small.

A minimal Flask app served by waitress (the server this project uses): `POST /submission` takes ONE record
(`{"instance_id": uuid, "form_id", "form_version", "data"}`), validates it with this project's form engine
(forms.engine.evaluate, as our server does), and inserts it into SQLite (WAL, synchronous=FULL, as our server)
with the instance id as a unique key; the same instance id again is answered `duplicate` (Central's 409), so
it is as safe to repeat as ours. One request, one transaction, one record.

    python benchmarks/per_record_peer.py DB_PATH   # prints {"url": ...} and serves until killed
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask, Response, request  # noqa: E402

from forms.catalog import DEFINITIONS_DIR  # noqa: E402
from forms.engine import evaluate  # noqa: E402
from forms.loader import load_yaml  # noqa: E402

SCHEMA = """CREATE TABLE IF NOT EXISTS submissions (
    instance_id TEXT PRIMARY KEY, form_id TEXT NOT NULL, form_version TEXT NOT NULL,
    data TEXT NOT NULL, received_at TEXT NOT NULL)"""


def make_app(db_path: str) -> Flask:
    forms = {
        (f.settings.form_id, f.settings.version): f
        for f in (load_yaml(p) for p in sorted(DEFINITIONS_DIR.glob("*.yaml")))
    }
    local = threading.local()

    def db() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            local.conn = conn
        return conn

    db().execute(SCHEMA)
    app = Flask("per_record_peer")

    def answer(body: dict[str, Any], status: int) -> Response:
        return Response(json.dumps(body), status, mimetype="application/json")

    @app.post("/submission")
    def submission() -> Response:
        sub = request.get_json(force=True)
        form = forms.get((sub.get("form_id"), sub.get("form_version")))
        if form is None:
            return answer({"error": "unknown_form"}, 404)
        today = dt.date.today()
        ev = evaluate(form, sub.get("data"), today=today)
        if ev.problems:
            return answer({"error": "invalid", "problems": [str(p) for p in ev.problems]}, 400)
        conn = db()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO submissions VALUES (?, ?, ?, ?, ?)",
                (
                    sub["instance_id"],
                    sub["form_id"],
                    sub["form_version"],
                    json.dumps(ev.data, ensure_ascii=False),
                    dt.datetime.now(dt.UTC).isoformat(),
                ),
            )
            conn.execute("COMMIT")
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK")
            return answer({"result": "duplicate", "instance_id": sub["instance_id"]}, 409)
        return answer({"result": "applied", "instance_id": sub["instance_id"]}, 201)

    return app


def main() -> None:
    import logging

    from waitress.server import create_server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" under load

    app = make_app(sys.argv[1])
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    # as many connections at once as ours takes in the same run (benchmarks/server_load_bench.py)
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    server = create_server(app, host="127.0.0.1", port=0, threads=threads, connection_limit=limit)
    print(json.dumps({"url": f"http://127.0.0.1:{server.effective_port}"}), flush=True)
    server.run()


if __name__ == "__main__":
    main()
