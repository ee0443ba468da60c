"""The 客户端更新 page's tests (issue 16): an app on a fresh SQLite copy at a fixed time, devices with their
update reports and releases seeded straight into the database, and the page's rows and text as read back."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

from flask import Flask

from sync_server import models as M
from sync_server import updates as U
from tests.server.conftest import MovableClock
from tests.server.dashboard_seed import make_app


def update_app(tmp_path: Path, template: Path, now: dt.datetime, **config: Any) -> Flask:
    """The real app on a copy of the SQLite template (made once in `tmp_path`), its clock at `now`."""
    path = tmp_path / "updates.db"
    if not path.exists():
        shutil.copyfile(template, path)
    return make_app(f"sqlite:///{path}", tmp_path / "instance", MovableClock(now), **config)


def seed_device(
    s: Any,
    school_row: M.School,
    name: str,
    *,
    now: dt.datetime,
    created: dt.datetime | None = None,
    last_seen: dt.datetime | None = None,
    default_platform: str = "windows",
    **report: Any,
) -> str:
    """A device of `school_row` (created at `now` unless said), and its update report when `report` says
    anything (app_version, platform, state, target_version, failures, error): its id."""
    device = M.Device(
        id=f"dev-{name}", school_id=school_row.id, name=name, token_hash=f"h-{name}",
        created_at=created or now.replace(tzinfo=None), app_version=report.get("app_version", "0.0.9"),
        last_seen_at=last_seen,
    )  # fmt: skip
    s.add(device)
    s.flush()
    if report:
        U.record_report(
            s, device_id=device.id, app_version=report["app_version"],
            platform=report.get("platform", default_platform), state=report.get("state", "current"),
            target_version=report.get("target_version"), failures=report.get("failures", 0),
            error=report.get("error"), now=now,
        )  # fmt: skip
    return device.id


def seed_release(
    s: Any, version: str, platform: str, stage: str, schools: list[str], *, now: dt.datetime
) -> None:
    U.add_release(
        s, version=version, platform=platform, stage=stage, schools=schools, now=now,
        target=f"{platform}/school-client-{version}.{'zip' if platform == 'windows' else 'tar.gz'}",
    )  # fmt: skip


def page_row(html: str, attr: str) -> str:
    """The table row of the page that holds `attr` (from it to the row's end)."""
    return html[html.index(attr) :].split("</tr>")[0]


def page_text(html: str) -> str:
    """The page's words, tags taken out and white space folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
