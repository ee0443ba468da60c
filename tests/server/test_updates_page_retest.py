"""The 客户端更新 page after the retest of issue 16 (/work/notes/update-retest.md N1, N5, N6), through Flask's
test client on the real create_app() and a fresh SQLite copy:

- N1: a PC whose new version failed its first start names the version that failed and the one it kept,
  offers 可更新到 only a version it will take, and explains the retries as client/update/retry.py makes
  them (tried at the next starts, MAX_START_TRIES in all, then blocked for BLOCK_DAYS, then one more try);
- N5: a PC enrolled a moment ago that has not synced is not counted among those older than updates;
- N6: 移出试点 that empties the pilot is a pause, and is confirmed as 暂停 is.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from client.update.retry import BLOCK_DAYS, MAX_START_TRIES
from sync_server import models as M
from sync_server import updates as U
from sync_server.state import get_state
from tests.server.dashboard_seed import logged_in, school
from tests.support.update_pages import page_row as _row
from tests.support.update_pages import page_text as _text
from tests.support.update_pages import seed_device, seed_release, update_app

NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Any:
    made = update_app(tmp_path, sqlite_template, NOW, LOGIN_FAILURE_DELAY=0)
    yield made
    get_state(made).db.close()


def _device(s: Any, school_row: M.School, name: str, *, synced: bool = True, **report: Any) -> str:
    created = NOW.replace(tzinfo=None) - dt.timedelta(days=3)
    last_seen = created + dt.timedelta(days=1) if synced else created
    return seed_device(
        s, school_row, name, now=NOW, created=created, last_seen=last_seen,
        default_platform="linux", **report,
    )  # fmt: skip


def _release(s: Any, version: str, stage: str, schools: list[str]) -> None:
    seed_release(s, version, "linux", stage, schools, now=NOW)


def test_a_rolled_back_pc_names_the_failed_and_kept_versions_and_its_retries(app: Flask) -> None:
    with get_state(app).db.Session.begin() as s:
        s3 = school(s, "S003")
        # The client's own words (client/update/install.py), at its first and its last try.
        trying = _device(s, s3, "trying", app_version="1.1.0", state="rolled_back",
                         target_version="1.2.0", failures=1,
                         error="1.2.0 failed its first start (exit code 255); 1.1.0 kept; "
                               f"try 1 of {MAX_START_TRIES}")  # fmt: skip
        blocked = _device(s, s3, "blocked", app_version="1.1.0", state="rolled_back",
                          target_version="1.2.0", failures=3,
                          error="1.2.0 failed its first start (exit code 127); 1.1.0 kept; "
                                f"tried {MAX_START_TRIES} times, not tried again")  # fmt: skip
        _release(s, "1.2.0", "pilot", ["S003"])
    page = logged_in(app, "viewer-n1", "viewer").get("/updates").text

    row = _text(_row(page, f'data-device="{blocked}"'))
    assert "已退回 1.2.0" not in row  # 1.2.0 is what failed, not what it went back to
    assert "新版本 1.2.0 启动失败" in row and "仍在用 1.1.0" in row
    assert "可更新到 1.2.0" not in row  # blocked here: it will not take it
    assert f"{BLOCK_DAYS} 天后" in row and "再试一次" in row
    assert "当时可能断网" not in row and "断网、命令写错或服务器拒绝同步不会造成退回" in row
    assert "不会再装这个版本" not in row
    assert "exit code 127" in row  # the raw line stays beside the explanation
    assert "will not take that version again" not in row

    row = _text(_row(page, f'data-device="{trying}"'))
    assert "新版本 1.2.0 启动失败" in row and "仍在用 1.1.0" in row
    assert "可更新到 1.2.0" not in row
    assert "下次启动时再试" in row and f"第 2 次，共 {MAX_START_TRIES} 次" in row
    assert "不会再装这个版本" not in row

    # a newer release offered is taken whatever the block (retry.py: never held back by an older one)
    with get_state(app).db.Session.begin() as s:
        _release(s, "1.3.0", "pilot", ["S003"])
    page = logged_in(app, "viewer-n1b", "viewer").get("/updates").text
    assert "可更新到 1.3.0" in _text(_row(page, f'data-device="{blocked}"'))


def test_a_pc_enrolled_but_not_synced_is_not_counted_as_older_than_updates(app: Flask) -> None:
    with get_state(app).db.Session.begin() as s:
        s1 = school(s, "S001")
        _device(s, s1, "just-enrolled", synced=False)
    page = _text(logged_in(app, "viewer-n5", "viewer").get("/updates").text)
    assert "从未报告更新状态" not in page
    with get_state(app).db.Session.begin() as s:
        _device(s, s.execute(select(M.School)).scalar_one(), "old-pc", synced=True)
    page = _text(logged_in(app, "viewer-n5b", "viewer").get("/updates").text)
    assert "1 台电脑从未报告更新状态" in page


def test_removing_the_last_pilot_schools_is_confirmed_as_a_pause(app: Flask) -> None:
    with get_state(app).db.Session.begin() as s:
        for code in ("S001", "S002"):
            school(s, code)
        _release(s, "0.3.0", "pilot", ["S001", "S002"])
    admin = logged_in(app, "admin-n6", "admin")
    csrf = admin.csrf  # type: ignore[attr-defined]
    row = _row(admin.get("/updates").text, 'data-version="0.3.0"')
    # the page knows the pilot and says what emptying it does (dashboard.js asks before it is sent)
    assert 'data-pilot="S001,S002"' in row
    assert "data-confirm-empty=" in row and "暂停" in row.split("data-confirm-empty=")[1][:200]
    # without that confirmation, the server does not pause it by a removal
    r = admin.post(
        "/updates/0.3.0/stage",
        data={"csrf_token": csrf, "stage": "remove", "schools": "s001,S002"},
    )
    assert r.status_code == 302
    page = admin.get("/updates").text
    assert "试点学校：S001、S002" in _text(_row(page, 'data-version="0.3.0"'))
    assert "等于暂停" in _text(page)
    r = admin.post(
        "/updates/0.3.0/stage",
        data={
            "csrf_token": csrf,
            "stage": "remove",
            "schools": "S001,S002",
            "confirmed": "1",
        },
    )
    page = admin.get("/updates").text
    assert "已暂停" in _text(_row(page, 'data-version="0.3.0"'))
    # removing some of them stays unconfirmed (nothing is paused)
    with get_state(app).db.Session.begin() as s:
        U.set_stage(s, version="0.3.0", stage="pilot", schools=["S001", "S002"], now=NOW)
    r = admin.post(
        "/updates/0.3.0/stage",
        data={"csrf_token": csrf, "stage": "remove", "schools": "S002"},
    )
    assert "试点学校：S001" in _text(_row(admin.get("/updates").text, 'data-version="0.3.0"'))
