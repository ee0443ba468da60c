"""Every page that shows a sensitive record is in the audit log, list pages included, and the audit log names
sensitive records and their schools only to staff with the ethics permission (issue 12, point 5). Through
the real dashboard over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from sync_server import models as M
from sync_server.state import get_state
from tests.server.conftest import MovableClock, serve
from tests.server.dashboard_seed import (
    PASSWORD,
    csrf_of,
    ethics,
    make_app,
    record,
    school,
    staff,
)
from tests.server.page_text import visible_text

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
SENSITIVE_SCHOOL = ("S077", "柳树湾村小学")
OTHER_SCHOOL = ("S001", "城关镇中心小学")


@dataclass
class Site:
    app: Flask
    url: str
    ethics_id: str  # a teacher-ethics record of SENSITIVE_SCHOOL
    dropout_id: str  # a dropout follow-up of SENSITIVE_SCHOOL
    safety_id: str  # a safety inspection of OTHER_SCHOOL

    def login(self, username: str, role: str, *, ethics: bool = False) -> requests.Session:
        staff(self.app, username, role, ethics=ethics)
        http = requests.Session()
        page = http.get(self.url + "/login", timeout=10)
        r = http.post(
            self.url + "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
            allow_redirects=False,
            timeout=10,
        )
        assert r.status_code == 302, r.text
        return http

    def entries(self, action: str) -> list[M.AuditEntry]:
        with get_state(self.app).db.ReadSession.begin() as s:
            return list(
                s.execute(
                    select(M.AuditEntry)
                    .where(M.AuditEntry.action == action)
                    .order_by(M.AuditEntry.id)
                ).scalars()
            )


@pytest.fixture
def site(ready_db_url: str, tmp_path: Any) -> Iterator[Site]:
    app = make_app(ready_db_url, tmp_path / "instance", MovableClock(NOW), LOGIN_FAILURE_DELAY=0)
    with get_state(app).db.Session.begin() as s:
        hidden = school(s, *SENSITIVE_SCHOOL)
        other = school(s, *OTHER_SCHOOL)
        ethics_id = record(s, hidden, ethics(), form_id="teacher_ethics").id
        dropout_id = record(s, hidden, {}, form_id="dropout_followup").id
        safety_id = record(s, other).id
    server, thread = serve(app)
    try:
        yield Site(app, f"http://127.0.0.1:{server.server_port}", ethics_id, dropout_id, safety_id)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        get_state(app).db.close()


def test_an_unfiltered_list_showing_sensitive_records_is_in_the_audit_log(site: Site) -> None:
    ethics_staff = site.login("ethics1", "reviewer", ethics=True)
    r = ethics_staff.get(site.url + "/records", timeout=10)
    assert r.status_code == 200
    assert site.ethics_id in r.text and site.dropout_id in r.text  # the list links each record
    [entry] = site.entries("records.list_view")
    assert entry.actor == "ethics1" and entry.object_id is None
    assert sorted(entry.details["sensitive_records"]) == sorted([site.ethics_id, site.dropout_id])
    assert entry.details["school_codes"] == [SENSITIVE_SCHOOL[0]]
    assert entry.details["page"] == 1 and entry.details["status"] == ""

    # Filtered to one school, and to a form that is not sensitive: the filter is in the entry.
    with get_state(site.app).db.ReadSession.begin() as s:
        hidden_id = s.execute(
            select(M.School.id).where(M.School.code == SENSITIVE_SCHOOL[0])
        ).scalar_one()
    assert ethics_staff.get(f"{site.url}/records?school={hidden_id}", timeout=10).ok
    assert ethics_staff.get(f"{site.url}/records?form=safety_inspection", timeout=10).ok
    entries = site.entries("records.list_view")
    assert len(entries) == 2  # the safety inspections alone show nothing sensitive
    assert entries[1].details["school_id"] == hidden_id

    # Staff without the permission never see these records: their lists write nothing.
    plain = site.login("plain1", "reviewer")
    r = plain.get(site.url + "/records", timeout=10)
    assert r.status_code == 200 and site.ethics_id not in r.text and site.safety_id in r.text
    assert len(site.entries("records.list_view")) == 2


def test_the_audit_log_names_sensitive_records_only_to_ethics_staff(site: Site) -> None:
    ethics_staff = site.login("ethics1", "reviewer", ethics=True)
    assert ethics_staff.get(site.url + "/records", timeout=10).ok
    assert ethics_staff.get(f"{site.url}/records/{site.ethics_id}", timeout=10).ok
    page = ethics_staff.get(f"{site.url}/records/{site.ethics_id}/return", timeout=10)
    r = ethics_staff.post(
        f"{site.url}/records/{site.ethics_id}/return",
        data={
            "csrf_token": csrf_of(page.text),
            "server_revision": "1",
            "comment:_record": "请补充家长谈话记录",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 302, r.text
    r = ethics_staff.get(site.url + "/export?form=teacher_ethics", timeout=30)
    assert r.status_code == 200
    [export] = site.entries("form.export")
    assert export.details["sensitive"] is True and export.details["records"] == 1

    admin = site.login("admin1", "admin")  # an admin without the ethics permission
    html = admin.get(site.url + "/audit", timeout=10).text
    text = visible_text(html)
    for secret in (site.ethics_id, site.dropout_id, *SENSITIVE_SCHOOL, "请补充家长谈话记录"):
        assert secret not in html, secret
    assert "查看师德与控辍记录列表" in text and "敏感记录 ×2" in text  # the list showed two
    assert "查看记录" in text and "退回记录" in text and "敏感记录 ×1" in text
    assert "含师德与控辍记录：</span>是" in html  # the export

    boss = site.login("boss1", "admin", ethics=True)
    html = boss.get(site.url + "/audit", timeout=10).text
    text = visible_text(html)
    for shown in (site.ethics_id, site.dropout_id, *SENSITIVE_SCHOOL, "请补充家长谈话记录"):
        assert shown in html, shown
    assert "敏感记录 ×" not in text


def test_an_entry_about_a_record_the_server_no_longer_knows_is_masked(site: Site) -> None:
    from sync_server.services.common import audit

    with get_state(site.app).db.Session.begin() as s:
        audit(
            s,
            now=NOW,
            actor="ethics1",
            action="record.view",
            object_id="0f0f0f0f-dead-beef-0000-000000000000",
            details={"school": SENSITIVE_SCHOOL[0]},
        )
        audit(
            s,
            now=NOW,
            actor="rev1",
            action="record.view",
            object_id=site.safety_id,
            details={"form_id": "safety_inspection", "school": OTHER_SCHOOL[0]},
        )
    html = site.login("admin1", "admin").get(site.url + "/audit", timeout=10).text
    assert "0f0f0f0f-dead-beef" not in html and SENSITIVE_SCHOOL[0] not in html
    assert site.safety_id in html and OTHER_SCHOOL[0] in html  # other records as before


def test_the_audit_page_in_a_browser_masks_sensitive_records_for_other_admins(
    browser: Any, live_dashboard: Any
) -> None:
    """Screenshot: docs/screenshots/dashboard_audit_masked.png (WRITE_SCREENSHOTS=1)."""
    from selenium.webdriver.common.by import By

    with get_state(live_dashboard.app).db.Session.begin() as s:
        hidden = school(s, *SENSITIVE_SCHOOL)
        other = school(s, *OTHER_SCHOOL)
        ethics_id = record(s, hidden, ethics(), form_id="teacher_ethics").id
        record(s, hidden, {}, form_id="dropout_followup")
        safety_id = record(s, other).id
    live_dashboard.login(browser, "ethics")
    browser.get(live_dashboard.url + "/records")
    browser.get(f"{live_dashboard.url}/records/{ethics_id}")
    browser.get(f"{live_dashboard.url}/records/{safety_id}")
    browser.find_element(By.ID, "logout").click()
    live_dashboard.add_user("admin2", "admin")  # no ethics permission
    live_dashboard.login(browser, "admin2")
    browser.get(live_dashboard.url + "/audit")
    table = browser.find_element(By.ID, "audit-table").text
    assert "敏感记录 ×2" in table and "敏感记录 ×1" in table
    assert ethics_id not in browser.page_source and SENSITIVE_SCHOOL[1] not in browser.page_source
    live_dashboard.screenshot(browser, "audit_masked")
