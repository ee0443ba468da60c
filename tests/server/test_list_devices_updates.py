"""`sync-server list-devices` shows each device's program version and update state (issue 16 follow-up 3), from
the reports the 客户端更新 page reads: a 1.21 report's fields, a 1.18-1.20 report's English line, none at all.
The real CLI in this process on SQLite and PostgreSQL, devices enrolled and reporting through the live server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import LiveServer
from tests.server.test_cli import last_json, run_here

UA = {"User-Agent": "school-client/1.1.0"}


def _report(device: Any, **report: Any) -> None:
    body = {"app_version": "1.1.0", "platform": "linux", **report}
    r = device.http.post(device.url("/api/v1/update/check"), json=body, headers=UA, timeout=10)
    assert r.status_code == 200, r.text


def test_list_devices_shows_version_and_update_state(
    ready_db_url: str,
    tmp_path: Path,
    make_server_for: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live: LiveServer = make_server_for(ready_db_url)
    school, _code = live.new_school()
    quiet, trying, blocked, current = (live.device(school, f"电脑{i}") for i in range(4))
    _report(trying, state="rolled_back", target_version="1.2.0", failures=1, tries=1,
            max_tries=3, kept_version="1.1.0", error="启动失败")  # fmt: skip
    _report(blocked, state="rolled_back", target_version="1.2.0", failures=3,
            error="1.2.0 failed its first start (exit code 127); 1.1.0 kept; "
                  "tried 3 times, not tried again")  # fmt: skip
    _report(current, state="current")

    out = run_here(capsys, "list-devices", "--school", school, db=ready_db_url, instance=tmp_path)
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert "版本 version 1.1.0" in lines[current.device_id]
    assert "更新 update: 已是最新 / current" in lines[current.device_id]
    assert "从未报告 / never reported" in lines[quiet.device_id]
    line = lines[trying.device_id]
    assert (
        "新版本 1.2.0 启动失败，仍在用 1.1.0（已试 1 次） / 1.2.0 failed to start; 1.1.0 kept"
        in line
    )
    assert line.index("新版本") < line.index("failed to start")  # Chinese first
    assert "暂停安装" in lines[blocked.device_id] and "not taken" in lines[blocked.device_id]

    listed = last_json(
        run_here(capsys, "list-devices", "--json", db=ready_db_url, instance=tmp_path)
    )
    by_id = {d["device_id"]: d for d in listed["devices"]}
    assert by_id[quiet.device_id]["update"] is None
    assert by_id[trying.device_id]["update"]["tries"] == 1
    assert by_id[trying.device_id]["update"]["blocked"] is False
    assert by_id[blocked.device_id]["update"]["blocked"] is True
    assert by_id[current.device_id]["update"]["state"] == "current"
    assert by_id[current.device_id]["app_version"] == "1.1.0"
