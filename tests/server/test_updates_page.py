"""The 客户端更新 page through Flask's test client on the real create_app() and a fresh SQLite copy (issue 16
trial #7 #9 #10 #11 #14 #16 #17 #18): who is offered each release, said plainly and changed with explicit
actions (the risky ones confirmed), what each PC's reported error means and what to do, the newest version
offered to each PC's school and platform, and warnings about expiring signatures and a min_client_version
that locks PCs out - also logged when the server starts."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from sync_server import models as M
from sync_server.state import get_state
from sync_server.updates_repo import ROLES, Repository, make_keys
from tests.server.dashboard_seed import logged_in, school
from tests.support.update_pages import page_row as _row
from tests.support.update_pages import page_text as _text
from tests.support.update_pages import seed_device, seed_release, update_app

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


def _app(tmp_path: Path, template: Path, **config: Any) -> Flask:
    return update_app(tmp_path, template, NOW, **config)


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Any:
    made = _app(tmp_path, sqlite_template, LOGIN_FAILURE_DELAY=0)
    yield made
    get_state(made).db.close()


def _device(s: Any, school_row: M.School, name: str, **report: Any) -> str:
    return seed_device(s, school_row, name, now=NOW, **report)


def _release(s: Any, version: str, platform: str, stage: str, schools: list[str]) -> None:
    seed_release(s, version, platform, stage, schools, now=NOW)


def _post(c: FlaskClient, version: str, **form: str) -> str:
    r = c.post(f"/updates/{version}/stage", data={"csrf_token": c.csrf, **form})  # type: ignore[attr-defined]
    assert r.status_code == 302
    return c.get("/updates").text


def test_rollout_on_the_page_is_explicit_confirmed_and_audited(app: Flask) -> None:
    with get_state(app).db.Session.begin() as s:
        for code in ("S001", "S002", "S003"):
            school(s, code)
        _release(s, "0.8.0", "windows", "new", [])
    admin = logged_in(app, "admin16", "admin")
    page = admin.get("/updates").text
    row = _row(page, 'data-version="0.8.0"')
    assert "未提供" in row and "已暂停" not in row  # never offered is not "paused"
    assert 'class="row-form all-form"' in row and "data-confirm=" in row.split("all-form")[1]
    assert "dashboard.js" in page  # which asks for the confirmation

    page = _post(admin, "0.8.0", stage="new")  # no action of the page: refused, nothing changed
    assert "“new”无效" in page and 'data-stage="new"' in page
    page = _post(admin, "0.8.0", stage="pilot", schools="")  # empty field: no CLI flags
    assert "请填写试点学校的代码" in page and "--schools" not in page
    page = _post(admin, "0.8.0", stage="pilot", schools="s001, s002")  # any case
    assert "试点学校：S001、S002" in _text(_row(page, 'data-version="0.8.0"'))
    row = _row(page, 'data-version="0.8.0"')
    assert (
        "data-confirm=" in row.split("pause-form")[1] and "S001、S002" in row.split("pause-form")[1]
    )
    page = _post(admin, "0.8.0", stage="remove", schools="S002")
    assert "试点学校：S001" in _text(_row(page, 'data-version="0.8.0"'))
    assert "S002" not in _row(page, 'data-version="0.8.0"').split("<form")[0]
    page = _post(admin, "0.8.0", stage="all")
    row = _row(page, 'data-version="0.8.0"')
    assert 'data-stage="all"' in row and 'value="pilot"' not in row  # not narrowed by a click
    assert "先暂停" in row
    page = _post(admin, "0.8.0", stage="pilot", schools="S003")
    assert "已提供给全部学校" in page and 'data-stage="all"' in _row(page, 'data-version="0.8.0"')
    page = _post(admin, "0.8.0", stage="paused")
    assert "已暂停" in _row(page, 'data-version="0.8.0"')
    with get_state(app).db.ReadSession() as s:
        entries = [
            (e.details["stage"], e.details["schools"])
            for e in s.execute(
                select(M.AuditEntry)
                .where(M.AuditEntry.action == "client.rollout")
                .order_by(M.AuditEntry.id)
            ).scalars()
        ]
    assert entries == [
        ("pilot", ["S001", "S002"]),
        ("remove", ["S002"]),
        ("all", []),
        ("paused", []),
    ]  # the refused ones are not recorded; no [""] for a pause


def test_devices_show_the_newest_release_for_their_platform_and_what_errors_mean(
    app: Flask,
) -> None:
    with get_state(app).db.Session.begin() as s:
        s1, s2 = school(s, "S001"), school(s, "S002")
        linux = _device(s, s1, "linux-pc", app_version="0.1.0", platform="linux")
        win = _device(s, s2, "win-pc", app_version="0.1.0", platform="windows", state="failed",
                      failures=1, error="ExpiredMetadataError: timestamp.json is expired")  # fmt: skip
        old = _device(s, s1, "old-pc")  # synced, never reported: a client from before 1.18
        s.get_one(M.Device, old).last_seen_at = NOW.replace(tzinfo=None) + dt.timedelta(hours=1)
        _release(s, "0.9.0", "windows", "all", [])
        _release(s, "0.2.5", "linux", "paused", [])
        _release(s, "0.3.0", "linux", "pilot", ["S002"])  # another school's pilot
    page = logged_in(app, "viewer16", "viewer").get("/updates").text
    linux_row = _text(_row(page, f'data-device="{linux}"'))
    assert "Linux" in linux_row and "可更新到" not in linux_row  # 0.9.0 is Windows, 0.2.5 paused
    win_row = _text(_row(page, f'data-device="{win}"'))
    assert "可更新到 0.9.0" in win_row
    assert "refresh-update-metadata" in win_row and "更新签名已过期" in win_row
    assert "ExpiredMetadataError" in win_row  # the raw text stays beside it
    assert "1 台电脑的更新失败" in _text(page)
    assert "1 台电脑从未报告更新状态" in _text(page)


def test_expiring_signatures_and_a_locking_minimum_are_warned_on_the_page_and_at_start(
    tmp_path: Path, sqlite_template: Path, caplog: Any
) -> None:
    keys = tmp_path / "keys"
    make_keys(keys)
    repo = Repository(tmp_path / "instance" / "updates")
    signed = NOW - dt.timedelta(days=6)  # snapshot/timestamp: one day left (the server's clock)
    repo._initialize(repo.signers(keys, ROLES), now=signed)
    with caplog.at_level(logging.WARNING, logger="sync_server.updates_api"):
        made = _app(tmp_path, sqlite_template, LOGIN_FAILURE_DELAY=0, MIN_CLIENT_VERSION="0.5.0")
    try:
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert "timestamp" in logged and "将于" in logged and "refresh-update-metadata" in logged
        assert "min_client_version 0.5.0 高于提供给全部学校的最新版本（无）" in logged
        with get_state(made).db.Session.begin() as s:
            _device(s, school(s, "S001"), "pc", app_version="0.4.0", platform="linux")
        page = _text(logged_in(made, "viewer16b", "viewer").get("/updates").text)
        assert "更新签名（timestamp 时间戳）将于" in page and "更新签名有效期至" in page
        assert "min_client_version 0.5.0 高于" in page
        assert "1 台电脑版本过旧（低于 0.5.0），无法同步" in page
        with get_state(made).db.Session.begin() as s:
            _release(s, "0.5.0", "linux", "all", [])
        page = _text(logged_in(made, "viewer16c", "viewer").get("/updates").text)
        assert "高于提供给全部学校" not in page
    finally:
        get_state(made).db.close()
