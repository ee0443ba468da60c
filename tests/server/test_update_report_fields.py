"""Protocol revision 1.21 on the server (issue 16 follow-ups), on SQLite and PostgreSQL through the real app on
127.0.0.1 port 0 (tests/server/conftest.py `live`):

- a pull's answer says `Sync-Update-Offer: none` when the server decided nothing is offered to the device -
  only to a client that states `Sync-Protocol: 1.21` or later (a 1.18-1.20 client would take "none" for a
  version), and not when it could not tell (a User-Agent it cannot read, a database error);
- the update report's rollback fields (tries, max_tries, kept_version, blocked_until, withdrawn) are checked
  like the rest of the report (a bad one refused 400 on the check, ignored on a pull) and kept; the
  客户端更新 page shows a rollback from them, and from the English error line of a 1.18-1.20 client.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests
from sqlalchemy import text

from sync_server import models as M
from sync_server import updates as U
from sync_server.state import get_state
from tests.server.conftest import Device, LiveServer
from tests.server.dashboard_seed import logged_in

UA = {"User-Agent": "school-client/1.0.0"}


def _pull(device: Device, **headers: str) -> requests.Response:
    r = device.http.get(
        device.url("/api/v1/pull"),
        params={"since": 0},
        headers={"Sync-Client-Platform": "linux", **UA, **headers},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r


def _check(device: Device, **report: Any) -> requests.Response:
    body = {"app_version": "1.1.0", "platform": "linux", "state": "current", **report}
    r: requests.Response = device.http.post(
        device.url("/api/v1/update/check"), json=body, headers=UA, timeout=10
    )
    return r


def _release(live: LiveServer, version: str, school: str) -> None:
    with get_state(live.app).db.Session.begin() as s:
        U.add_release(
            s, version=version, platform="linux", stage="pilot", schools=[school],
            target=f"linux/school-client-{version}.tar.gz", now=live.clock(),
        )  # fmt: skip


def test_a_pull_says_none_only_to_a_1_21_client_and_only_when_it_decided(live: LiveServer) -> None:
    device = live.device()
    # Decided, nothing offered: "none" to a 1.21 client; a 1.20 client (no Sync-Protocol) gets no header.
    assert _pull(device, **{"Sync-Protocol": "1.21"}).headers["Sync-Update-Offer"] == "none"
    assert _pull(device, **{"Sync-Protocol": "1.30"}).headers["Sync-Update-Offer"] == "none"
    assert "Sync-Update-Offer" not in _pull(device).headers
    assert "Sync-Update-Offer" not in _pull(device, **{"Sync-Protocol": "1.20"}).headers
    assert "Sync-Update-Offer" not in _pull(device, **{"Sync-Protocol": "x"}).headers
    # Could not tell which version it runs: no header at all.
    odd = _pull(device, **{"Sync-Protocol": "1.21", "User-Agent": "school-client/not!a!version"})
    assert "Sync-Update-Offer" not in odd.headers
    # Offered: the version, to old and new clients alike.
    _release(live, "1.2.0", device.school_code)
    assert _pull(device, **{"Sync-Protocol": "1.21"}).headers["Sync-Update-Offer"] == "1.2.0"
    assert _pull(device).headers["Sync-Update-Offer"] == "1.2.0"


def test_a_database_error_while_recording_the_report_says_nothing(live: LiveServer) -> None:
    device = live.device()
    report = json.dumps({"app_version": "1.0.0", "platform": "linux", "state": "current"})
    with get_state(live.app).db.Session.begin() as s:  # a real failure of the report's write
        s.execute(text("ALTER TABLE device_updates RENAME TO device_updates_away"))
    try:
        r = _pull(device, **{"Sync-Protocol": "1.21", "Sync-Update-Report": report})
    finally:
        with get_state(live.app).db.Session.begin() as s:
            s.execute(text("ALTER TABLE device_updates_away RENAME TO device_updates"))
    assert "Sync-Update-Offer" not in r.headers  # the pull itself is answered as ever
    assert "Sync-Update-Offer" in _pull(device, **{"Sync-Protocol": "1.21"}).headers


def _row(live: LiveServer, device: Device) -> M.DeviceUpdate:
    with live.session() as s:
        row = s.get(M.DeviceUpdate, device.device_id)
    assert row is not None
    return row


ROLLED_BACK = {"state": "rolled_back", "target_version": "1.2.0", "failures": 3}


def test_the_rollback_fields_are_kept_and_a_1_20_report_without_them_still_is(
    live: LiveServer,
) -> None:
    device = live.device()
    r = _check(
        device, **ROLLED_BACK, error="出错了", tries=3, max_tries=3, kept_version="1.1.0",
        blocked_until="2026-12-08T10:00:00+08:00", withdrawn=None,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert _row(live, device).report_fields == {
        "tries": 3,
        "max_tries": 3,
        "kept_version": "1.1.0",
        "blocked_until": "2026-12-08T02:00:00+00:00",
    }
    # A 1.20 client's report: no fields (what was stated before is not kept over it).
    r = _check(
        device, **ROLLED_BACK, error="1.2.0 failed its first start (exit code 1); 1.1.0 kept"
    )
    assert r.status_code == 200, r.text
    assert _row(live, device).report_fields is None
    # On a pull too (the report header), with a field.
    withdrawn = {"app_version": "1.1.0", "platform": "linux", "state": "current",
                 "target_version": "1.2.0", "withdrawn": True}  # fmt: skip
    _pull(device, **{"Sync-Update-Report": json.dumps(withdrawn)})
    assert _row(live, device).report_fields == {"withdrawn": True}


@pytest.mark.parametrize(
    ("field", "value"),
    [("tries", -1), ("tries", 101), ("tries", "3"), ("tries", True), ("tries", 2.5),
     ("max_tries", 0), ("kept_version", "not a version"), ("kept_version", "1" * 51),
     ("kept_version", 7), ("blocked_until", "tomorrow"), ("blocked_until", "2026-12-08T10:00:00"),
     ("blocked_until", "2026-12-08T10:00:00+00:00" + " " * 20), ("blocked_until", 1765000000),
     ("withdrawn", "yes"), ("withdrawn", 1),
     ("app_version", "not a version")],  # (on a pull: a 500 before 1.21)
)  # fmt: skip
def test_a_bad_field_is_refused_as_a_bad_report_is(
    live: LiveServer, field: str, value: object
) -> None:
    device = live.device()
    r = _check(device, **ROLLED_BACK, **{field: value})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] in ("bad_request", "bad_version")
    assert error["message_zh"] and error["message_en"]
    assert field in error["message_en"] or error["details"].get("field") == field
    with live.session() as s:
        assert s.get(M.DeviceUpdate, device.device_id) is None  # nothing kept
    # The same report on a pull is not read (logged); the pull is answered as ever.
    bad = {"app_version": "1.1.0", "platform": "linux", **ROLLED_BACK, field: value}
    _pull(device, **{"Sync-Update-Report": json.dumps(bad)})
    with live.session() as s:
        assert s.get(M.DeviceUpdate, device.device_id) is None


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _page_row(live: LiveServer, device: Device, who: str) -> str:
    page = logged_in(live.app, who, "viewer").get("/updates").text
    return _text(page[page.index(f'data-device="{device.device_id}"') :].split("</tr>")[0])


def test_the_dashboard_shows_a_rollback_from_the_fields_and_from_an_older_clients_line(
    live: LiveServer,
) -> None:
    fields, line, blocked, gone = (live.device() for _ in range(4))
    with get_state(live.app).db.Session.begin() as s:
        U.add_release(
            s, version="1.2.0", platform="linux", stage="pilot", target="linux/x-1.2.0.tar.gz",
            schools=[d.school_code for d in (fields, line, blocked, gone)], now=live.clock(),
        )  # fmt: skip
    # 1.21: the facts in fields; the error line says nothing the old parse could read.
    assert _check(fields, **ROLLED_BACK, error="启动失败", tries=1, max_tries=3,
                  kept_version="1.1.0").status_code == 200  # fmt: skip
    # 1.20: only the English line.
    assert _check(line, **ROLLED_BACK, error="1.2.0 failed its first start (exit code 255); "
                  "1.1.0 kept; try 1 of 3").status_code == 200  # fmt: skip
    for d, who in ((fields, "v-fields"), (line, "v-line")):
        row = _page_row(live, d, who)
        assert "新版本 1.2.0 启动失败，仍在用 1.1.0" in row, row
        assert "1.2.0 下次启动时再试" in row and "第 2 次，共 3 次" in row, row
        assert "可更新到 1.2.0" not in row
    # Blocked, until a stated time (shown in Beijing time), with no error line at all.
    assert _check(blocked, **ROLLED_BACK, tries=3, max_tries=3, kept_version="1.1.0",
                  blocked_until="2026-12-08T02:00:00+00:00").status_code == 200  # fmt: skip
    row = _page_row(live, blocked, "v-blocked")
    assert "新版本 1.2.0 启动失败，仍在用 1.1.0" in row
    assert "1.2.0 在这台电脑上暂停安装，到 2026-12-08 10:00" in row, row
    assert "3 次都没能完成第一次启动" in row
    # Withdrawn before it installed (a field), not a rollback.
    assert _check(gone, app_version="1.1.0", state="current", target_version="1.2.0",
                  error="1.2.0 withdrawn: the server no longer offers it", withdrawn=True
                  ).status_code == 200  # fmt: skip
    row = _page_row(live, gone, "v-gone")
    assert "新版本 1.2.0 已撤回" in row and "仍在用 1.1.0" in row, row
