"""`sync-server restore` refuses a database a running server holds (issue 10 follow-up): the running server
would keep writing to the replaced file while the devices heal against it, and the restore would be lost.
A second `serve` of the same database is refused too. Both with the real CLI and a real served process."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import requests

from tests.server.test_cli import one_line_error, run
from tests.support.served import start_served


def _sqlite_backup(src: Path, out: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(out) as b:
        a.backup(b)
    a.close()
    b.close()


def test_restore_refuses_a_database_a_running_server_holds(tmp_path: Path, sqlite_template: Path):
    path = tmp_path / "sync.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    backup = tmp_path / "backup.db"
    _sqlite_backup(path, backup)
    instance = tmp_path / "instance"
    served = start_served(instance, url)
    try:
        assert requests.get(served.url + "/healthz", timeout=10).ok
        before = path.read_bytes()
        r = run("restore", str(backup), db=url, instance=instance, check=1)
        error = one_line_error(r)
        assert "同步服务器正在使用数据库" in error and "stop it first" in error
        assert "Traceback" not in r.stderr
        assert path.read_bytes() == before  # nothing replaced
        assert not (instance / "backups").exists() or not list((instance / "backups").iterdir())

        r = run("serve", "--port", "0", db=url, instance=tmp_path / "other", check=1)
        assert "另一个同步服务器正在使用数据库" in one_line_error(r)
        assert requests.get(served.url + "/healthz", timeout=10).ok
    finally:
        served.stop()

    # Stopped: the restore goes through.
    r = run("restore", str(backup), db=url, instance=instance)
    assert "新的服务器代次 / new server generation" in r.stdout
