"""The bureau's disk is owner-only (issue 12, point 5): sync.db and its -wal/-shm, attachments and unfinished
uploads, logs, restore copies and CLI exports are made 0600 in 0700 folders under a permissive umask, and
files found with wider modes are tightened at start with a line in the log."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sync_server.cli import main
from sync_server.private_files import PrivateRotatingFileHandler, secure_instance
from sync_server.state import get_state
from tests.server.dashboard_seed import make_app

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes (Windows: the folder ACL)")

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_owner_only(*paths: Path) -> None:
    for path in paths:
        want = 0o700 if path.is_dir() else 0o600
        assert mode(path) == want, f"{path}: {oct(mode(path))}, want {oct(want)}"


def assert_tree_owner_only(root: Path) -> int:
    """Every folder and file under root owner-only; how many files."""
    files = 0
    for path in [root, *root.rglob("*")]:
        assert_owner_only(path)
        files += path.is_file()
    return files


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: without the server's own modes every file would be 0666."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@contextlib.contextmanager
def serving(*where: str) -> Iterator[str]:
    """The real `sync-server serve` (with this process's umask) on a free port; its URL."""
    env = dict(os.environ)
    env.pop("SYNC_SERVER_DB", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync_server", "serve", "--port", "0", "--json", *where],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        started: dict[str, Any] = {}
        for _ in range(10):
            line = proc.stdout.readline()
            if line.startswith("{"):
                started = json.loads(line)
                break
        assert "url" in started, proc.stderr.read() if proc.stderr else ""
        yield str(started["url"])
    finally:
        proc.terminate()
        proc.wait(10)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main([*args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    body: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return body


def test_every_server_file_is_owner_only_under_an_open_umask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], open_umask: None
) -> None:
    instance = tmp_path / "bureau" / "instance"  # neither exists yet
    db_file = instance / "sync.db"
    where = ["--db", f"sqlite:///{db_file}", "--instance", str(instance)]
    made = cli(capsys, "add-school", "--code", "S001", "--name", "城关镇中心小学", *where)
    assert_owner_only(instance, db_file)

    with serving(*where) as url:
        r = requests.post(
            url + "/api/v1/enroll",
            json={
                "enrollment_code": made["enrollment_code"],
                "device_name": "教务处电脑",
                "app_version": "0.1.0",
            },
            timeout=10,
        )
        assert r.status_code == 201, r.text
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {r.json()['token']}"
        data = random.Random(5).randbytes(100_000)
        sha = hashlib.sha256(data).hexdigest()
        r = http.put(
            f"{url}/api/v1/attachments/{sha}",
            data=data[:40_000],
            headers={"Content-Range": f"bytes 0-39999/{len(data)}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        partial = list((instance / "attachments").rglob(f"partial/{sha}"))
        assert len(partial) == 1
        assert_owner_only(partial[0], partial[0].parent)
        r = http.put(
            f"{url}/api/v1/attachments/{sha}",
            data=data[40_000:],
            headers={"Content-Range": f"bytes 40000-{len(data) - 1}/{len(data)}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        # While the server runs: the database's companions and the log it writes.
        wal, shm = Path(f"{db_file}-wal"), Path(f"{db_file}-shm")
        log_file = instance / "logs" / "sync-server.log"
        assert wal.exists() and shm.exists() and log_file.exists()
        assert_owner_only(db_file, wal, shm, log_file, log_file.parent, instance / "secret_key")
    assert assert_tree_owner_only(instance / "attachments") == 1
    assert [p.read_bytes() for p in (instance / "attachments").rglob(sha)] == [data]

    # An export the CLI writes.
    out = tmp_path / "exports" / "安全排查.xlsx"
    out.parent.mkdir()
    cli(capsys, "export", "--form", "safety_inspection", str(out), *where)
    assert_owner_only(out)

    # A restore: the restored database and the copy of the replaced one it keeps.
    backup = tmp_path / "backup.db"
    with sqlite3.connect(db_file) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    os.chmod(backup, 0o644)  # the admin's copy: not ours to change
    result = cli(capsys, "restore", str(backup), *where)
    saved = Path(result["saved_as"])
    assert saved.parent == instance / "backups"
    assert_owner_only(saved, saved.parent, db_file)
    assert mode(backup) == 0o644
    assert_tree_owner_only(instance)


def test_serve_tightens_what_it_finds_and_says_so_in_its_log(
    tmp_path: Path, sqlite_template: Path
) -> None:
    instance = tmp_path / "instance"
    (instance / "logs").mkdir(parents=True)
    db_file = instance / "sync.db"
    shutil.copyfile(sqlite_template, db_file)
    log_file = instance / "logs" / "sync-server.log"
    log_file.write_text("an older version's log\n", encoding="utf-8")
    for path in (instance, instance / "logs", db_file, log_file):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    with serving("--db", f"sqlite:///{db_file}", "--instance", str(instance)) as url:
        assert requests.get(url + "/healthz", timeout=10).status_code == 200
        assert_owner_only(instance, instance / "logs", db_file, log_file)
        logged = log_file.read_text(encoding="utf-8")
    assert logged.startswith("an older version's log\n")
    assert f"tightened {db_file} from mode 644 to 600" in logged
    assert f"tightened {log_file} from mode 644 to 600" in logged


def test_a_rotated_log_file_is_owner_only_too(tmp_path: Path, open_umask: None) -> None:
    handler = PrivateRotatingFileHandler(tmp_path / "s.log", maxBytes=200, backupCount=2)
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "x" * 150, None, None)
    try:
        for _ in range(4):
            handler.emit(record)
    finally:
        handler.close()
    logs = sorted(tmp_path.iterdir())
    assert [p.name for p in logs] == ["s.log", "s.log.1", "s.log.2"]
    assert_owner_only(*logs)


def test_world_readable_files_found_at_start_are_tightened_and_logged(
    tmp_path: Path, sqlite_template: Path, caplog: pytest.LogCaptureFixture
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    os.chmod(instance, 0o755)
    db_file = instance / "sync.db"
    shutil.copyfile(sqlite_template, db_file)
    os.chmod(db_file, 0o644)  # as an older version (or a copy by hand) left it
    stored = instance / "attachments" / "1" / "ab"
    stored.mkdir(parents=True)
    (stored / ("ab" + "0" * 62)).write_bytes(b"photo")
    for path in (stored, stored.parent, stored.parent.parent):
        os.chmod(path, 0o755)
    os.chmod(stored / ("ab" + "0" * 62), 0o644)
    (instance / "logs").mkdir(mode=0o755)
    (instance / "logs" / "sync-server.log").write_text("old\n")
    os.chmod(instance / "logs" / "sync-server.log", 0o644)
    (instance / "backups").mkdir(mode=0o755)
    shutil.copyfile(sqlite_template, instance / "backups" / "pre-restore-20261101-000000.db")
    os.chmod(instance / "backups" / "pre-restore-20261101-000000.db", 0o644)
    elsewhere = tmp_path / "files"  # attachments kept outside the instance folder
    elsewhere.mkdir(mode=0o755)
    (elsewhere / "2").mkdir(mode=0o755)

    with caplog.at_level(logging.INFO, logger="sync_server.private_files"):
        app = make_app(f"sqlite:///{db_file}", instance)
        try:
            assert get_state(app).db.ping()
        finally:
            get_state(app).db.close()
        secure_instance(instance, elsewhere)
    assert_tree_owner_only(instance)
    assert_tree_owner_only(elsewhere)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"tightened {db_file} from mode 644 to 600" in logged
    assert f"tightened {elsewhere / '2'} from mode 755 to 700" in logged


def test_a_database_outside_the_instance_is_tightened_and_its_shared_folder_left_alone(
    tmp_path: Path, sqlite_template: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "srv"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    db_file = shared / "sync.db"
    shutil.copyfile(sqlite_template, db_file)
    os.chmod(db_file, 0o664)
    with caplog.at_level(logging.INFO, logger="sync_server.private_files"):
        app = make_app(f"sqlite:///{db_file}", tmp_path / "instance")
        get_state(app).db.close()
    assert mode(db_file) == 0o600
    assert mode(shared) == 0o755  # a folder the server did not make is not its to change
    assert f"tightened {db_file} from mode 664 to 600" in caplog.text
