"""The README's run command: packaging/demo.py sets up a server, a user, an enrolled client and records.

Run headless with --setup-only (set up, print one JSON line, stop the server), twice: the second run reuses the
demo folder and adds nothing.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.encrypted import db_connect

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_demo(folder: Path, *extra: str) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "packaging" / "demo.py"),
            "--demo-dir",
            str(folder),
            "--setup-only",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_demo_sets_up_server_user_client_and_records(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    port = free_port()
    first = run_demo(folder, "--port", str(port))
    assert first["healthz"] == {"status": "ok"}  # the server answered
    assert first["url"] == f"http://127.0.0.1:{port}"
    assert first["username"] == "demo-admin" and len(first["password"]) >= 10
    assert first["client_records"] == {"received": 1, "returned": 1, "draft": 1}

    with db_connect(folder / "client" / "store.db") as db:
        rows = db.execute(
            "SELECT status, data, review_comments FROM records WHERE form_id = 'safety_inspection'"
        ).fetchall()
    hazards = [h for _, data, _ in rows for h in json.loads(data).get("hazards", [])]
    assert {h["status"] for h in hazards} == {"open", "in_progress"}
    assert any("宿舍" in h["location"] for h in hazards)
    returned = [c for status, _, c in rows if status == "returned"]
    assert returned and "请补全姓名" in json.loads(returned[0])["inspectors"]

    with sqlite3.connect(folder / "server" / "sync.db") as db:
        (schools,) = db.execute("SELECT count(*) FROM schools WHERE code = 'DEMO001'").fetchone()
        (records,) = db.execute("SELECT count(*) FROM records").fetchone()
    assert (schools, records) == (1, 2)  # the draft stays on the client

    second = run_demo(folder)  # reuses the folder, the port and the user
    assert second["url"] == first["url"]
    assert second["password"] == first["password"]
    assert second["client_records"] == first["client_records"]
