"""The update routes and version checks on SQLite and PostgreSQL (issue 16, protocol revision 1.18): who is
offered a release, what a device's report leaves for the dashboard, the 426 for a client that is too old, bad
reports refused in both languages, and the repository's files served with Range."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from sync_server import models as M
from sync_server import updates as U
from sync_server.app import create_app
from sync_server.config import ConfigError
from sync_server.state import get_state
from tests.server.conftest import LiveServer


def _check(device: Any, **report: Any) -> requests.Response:
    body = {"app_version": "1.0", "platform": "windows", "state": "current", **report}
    r: requests.Response = device.http.post(
        f"{device.server.url}/api/v1/update/check", json=body, timeout=10
    )
    return r


def test_offers_follow_the_rollout_and_reports_are_kept(live: LiveServer) -> None:
    pilot, other = live.device(), live.device()
    with get_state(live.app).db.Session.begin() as s:
        for version, stage in (("1.1", "all"), ("1.2", "pilot"), ("1.3", "paused")):
            U.add_release(
                s,
                version=version,
                platform="windows",
                target=f"windows/school-client-{version}.zip",
                stage=stage,
                schools=[pilot.school_code] if stage == "pilot" else [],
                now=live.clock(),
            )
    assert _check(pilot).json()["offer"]["version"] == "1.2"  # its pilot, newer than 1.1 for all
    assert _check(other).json()["offer"]["version"] == "1.1"
    assert _check(other, platform="linux").json()["offer"] is None  # nothing for that platform
    assert _check(pilot, app_version="1.2").json()["offer"] is None  # nothing newer
    r = _check(other, state="rolled_back", target_version="1.1", failures=3, error="exit code 127")
    assert r.status_code == 200 and r.headers["Sync-Protocol"] == U.PROTOCOL
    with live.session() as s:
        row = s.get(M.DeviceUpdate, other.device_id)
        device = s.get(M.Device, other.device_id)
    assert row is not None and device is not None
    assert (row.state, row.target_version, row.failures, row.last_error, row.platform) == (
        "rolled_back",
        "1.1",
        3,
        "exit code 127",
        "windows",
    )
    assert device.app_version == "1.0"


def test_a_client_below_the_minimum_is_refused_426_but_may_update(live: LiveServer) -> None:
    device = live.device()
    get_state(live.app).config["MIN_CLIENT_VERSION"] = "2.0"
    device.http.headers["User-Agent"] = "school-client/1.9.3"
    r = device.http.get(f"{live.url}/api/v1/forms", timeout=10)
    assert r.status_code == 426 and r.headers["Sync-Min-Client-Version"] == "2.0"
    err = r.json()["error"]
    assert err["code"] == "client_too_old" and "程序版本过旧" in err["message_zh"]
    assert "1.9.3" in err["message_en"] and err["details"]["update"] is None
    assert _check(device).status_code == 200  # the update routes stay open to it
    assert _check(device).json()["too_old"] is True
    device.http.headers["User-Agent"] = "school-client/2.0.0"
    assert device.http.get(f"{live.url}/api/v1/forms", timeout=10).status_code == 200
    device.http.headers["User-Agent"] = "curl/8.0"  # not our client: never refused for its version
    assert device.http.get(f"{live.url}/api/v1/forms", timeout=10).status_code == 200


def test_bad_reports_are_refused_in_both_languages(live_sqlite: LiveServer) -> None:
    device = live_sqlite.device()
    for report, field in (
        ({"app_version": "not a version"}, "version"),
        ({"platform": "amiga"}, "platform"),
        ({"state": None}, "state"),
        ({"failures": -1}, "failures"),
        ({"error": "x" * 501}, "error"),
    ):
        r = _check(device, **report)
        assert r.status_code == 400, (report, r.text)
        err = r.json()["error"]
        assert err["message_zh"] and err["message_en"], report
        assert field in (err["message_en"] + str(err["details"])), (report, err)


def test_repository_files_are_served_with_range(live_sqlite: LiveServer) -> None:
    target = live_sqlite.instance / "updates" / "targets" / "linux" / "school-client-9.0.tar.gz"
    target.parent.mkdir(parents=True)
    target.write_bytes(bytes(range(256)) * 40)
    url = f"{live_sqlite.url}/api/v1/update/repo/targets/linux/school-client-9.0.tar.gz"
    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200 and whole.content == target.read_bytes()
    assert "Content-Encoding" not in whole.headers  # never unzipped on the way
    part = requests.get(url, headers={"Range": "bytes=10000-"}, timeout=10)
    assert part.status_code == 206 and part.content == target.read_bytes()[10000:]
    for bad in ("../../sync.db", "metadata/../../secret_key", "other/x"):
        r = requests.get(f"{live_sqlite.url}/api/v1/update/repo/{bad}", timeout=10)
        assert r.status_code == 404 and r.json()["error"]["message_zh"], bad


def test_a_min_client_version_that_is_no_version_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        create_app(
            {
                "INSTANCE_PATH": str(tmp_path),
                "DATABASE_URL": f"sqlite:///{tmp_path / 'sync.db'}",
                "MIN_CLIENT_VERSION": "soon",
            }
        )
    assert caught.value.key == "min_client_version" and "版本号" in caught.value.message_zh
