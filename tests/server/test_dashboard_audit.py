"""The audit log reads in Chinese (issue 11, item 7): every action the server writes has a label, details are
named and shown as values (no action keys such as overview.export, no Python dict syntax, no True/None), forms
by their titles, devices by their names, the command line and start-up as such; times in Beijing time."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from sync_server.dashboard.audit_log import ACTION_LABELS
from sync_server.services.common import audit
from sync_server.services.schools import add_school
from sync_server.state import get_state
from tests.server.conftest import MovableClock, serve
from tests.server.dashboard_seed import demo, ethics, logged_in, make_app, record
from tests.server.page_text import visible_text

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
# Actions written with a computed name: record.{kind} (services.review), server.{reason} (generation).
COMPUTED_ACTIONS = {
    "record.return",
    "record.accept",
    "server.created",
    "server.restored",
    "server.rewound",
}


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Flask]:
    path = tmp_path / "audit.db"
    shutil.copyfile(sqlite_template, path)
    made = make_app(
        f"sqlite:///{path}", tmp_path / "instance", MovableClock(NOW), LOGIN_FAILURE_DELAY=0
    )
    yield made
    get_state(made).db.close()


def written_actions() -> set[str]:
    """Every audit action the server's code writes with a literal name."""
    found: set[str] = set()
    patterns = (
        r'action="([a-z_]+\.[a-z_.]+)"',
        r'\baudit\(\s*"([a-z_]+(?:\.[a-z_]+)?)"',
        r'"([a-z_]+\.[a-z_]+)" if created else "([a-z_]+\.[a-z_]+)"',
    )
    for source in (ROOT / "sync_server").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        for pattern in patterns:
            for m in re.finditer(pattern, text):
                found.update(g for g in m.groups() if g)
    return found


def test_every_action_the_server_writes_has_a_chinese_label():
    actions = written_actions() | COMPUTED_ACTIONS
    assert {"overview.export", "form.export", "login.ok", "logout"} <= actions
    missing = sorted(a for a in actions if a not in ACTION_LABELS)
    assert missing == []


def test_the_audit_page_shows_no_machine_names_or_python_reprs(app: Flask):
    state = get_state(app)
    with state.db.Session.begin() as s:
        county = demo(s)
        record(s, county["schools"]["S001"], ethics(), form_id="teacher_ethics")
        made = add_school(s, code="S100", name="城关镇第二小学", now=state.now())
    server, thread = serve(app)
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        r = requests.post(
            url + "/api/v1/enroll",
            json={
                "enrollment_code": made.enrollment_code,
                "device_name": "教务处电脑",
                "app_version": "0.1.0",
            },
            timeout=10,
        )
        assert r.status_code == 201, r.text
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    reviewer = logged_in(app, "rev1", "reviewer", ethics=True)
    assert reviewer.get("/overview.xlsx?form=safety_inspection&period=2026-10").status_code == 200
    assert reviewer.get("/export?form=school_conditions&period=2026-autumn").status_code == 200
    assert reviewer.get("/records?form=teacher_ethics").status_code == 200
    rid = county["revised"]
    r = reviewer.post(
        f"/records/{rid}/return",
        data={
            "csrf_token": reviewer.csrf,  # type: ignore[attr-defined]
            "server_revision": "2",
            "path": ["hazards[0].deadline"],
            "comment:hazards[0].deadline": "整改期限请不要超过一周",
            "comment:_record": "请补充整改照片",
        },
    )
    assert r.status_code == 302
    with state.db.Session.begin() as s:  # an entry from a future version: unknown key, nested value
        audit(
            s,
            now=state.now(),
            actor="cli",
            action="form.export",
            object_id="safety_inspection",
            details={"records": 3, "extra": {"nested": [1, 2], "flag": True}, "empty": None},
        )
        audit(  # sync-server restore, with what it carried over from the database it replaced
            s,
            now=state.now(),
            actor="cli",
            action="server.restored",
            object_id="0123456789abcdef0123456789abcdef",
            details={
                "backup": "/srv/backups/sync-2026-11-27.db",
                "previous_seq": 120,
                "carried_over": {"added": {"schools": 1, "devices": 2}, "updated": {"users": 0}},
            },
        )

    admin = logged_in(app, "boss", "admin")
    html = admin.get("/audit").get_data(as_text=True)
    page = visible_text(html)
    for action in ("overview.export", "form.export", "record.return", "device.enroll"):
        assert action not in page, action
    assert re.search(r"\b[a-z]+\.[a-z_]+\b", page.replace("sync-server", "")) is None, page
    for repr_bit in ("{'", "':", "['", "True", "False", "None", "device:"):
        assert repr_bit not in page, repr_bit
    for machine in ("safety_inspection", "school_conditions", "teacher_ethics", "hazards[0]"):
        assert machine not in page, machine
    assert "导出报送情况" in page and "校园安全隐患排查整治记录" in page
    assert "2026年10月" in page  # the period, as the overview says it
    assert "设备登记" in page and "教务处电脑" in page  # the device by its name
    assert "退回记录" in page and "整改期限请不要超过一周" in page and "请补充整改照片" in page
    assert "查看师德与控辍记录列表" in page
    assert "命令行" in page  # the actor "cli"
    assert "服务器从备份恢复" in page and "新增：学校 1，电脑 2；更新：无" in page
    assert "时间为北京时间" in page
    # Only the entry from a "future version" has details this page does not know.
    assert page.count("技术细节") == 1 and '"nested": [1, 2]' in page
    # The filter names each action in Chinese too.
    options = re.findall(r"<option value=\"([^\"]*)\"[^>]*>([^<]*)</option>", html)
    assert options and all(label and not label.isascii() for _value, label in options)
