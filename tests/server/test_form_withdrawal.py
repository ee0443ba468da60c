"""Withdrawing a form version (issue 9): `sync-server withdraw-form` and the dashboard action. A withdrawn
version is no longer offered in /api/v1/forms (the previous one is), devices pull a `form_withdrawn` change,
the records made with it stay readable and pushable, and the same number is never published again."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from forms.catalog import DEFINITIONS_DIR
from forms.loader import load_yaml
from sync_server import models as M
from sync_server.errors import ServiceError
from sync_server.services.forms import publish_form, withdraw_form
from tests.server.conftest import START, LiveServer, assert_error, change
from tests.server.test_cli import last_json, one_line_error, run, run_here
from tests.server.test_dashboard_admin import Admin, admin  # noqa: F401 - fixture
from tests.server.test_dashboard_security import session_csrf
from tests.server.test_identifiers import insert_legacy_version, with_version

SAFETY = load_yaml(DEFINITIONS_DIR / "safety_inspection.yaml")


def offered(dev: Any) -> dict[str, str]:
    r = dev.http.get(dev.url("/api/v1/forms"), timeout=10)
    assert r.status_code == 200, r.text
    return {f["form_id"]: f["version"] for f in r.json()["forms"]}


def test_a_withdrawn_version_is_no_longer_offered_but_its_records_still_sync(live: LiveServer):
    dev = live.device()
    _, start = dev.pull_all()
    with live.session() as s, s.begin():
        publish_form(s, with_version(SAFETY, "2026.2"), now=START)
    assert offered(dev)["safety_inspection"] == "2026.2"
    made_with_it = change(form_version="2026.2")
    assert dev.push_ok([made_with_it])[0]["result"] == "applied"

    with live.session() as s, s.begin():
        w = withdraw_form(s, "safety_inspection", "2026.2", now=START, actor="tester")
    assert w.withdrawn and w.current == "2026.1"
    assert offered(dev)["safety_inspection"] == "2026.1"

    changes, _ = dev.pull_all(start)
    kinds = [(c["type"], c.get("version")) for c in changes if c["type"] != "record"]
    assert kinds == [("form", "2026.2"), ("form_withdrawn", "2026.2")]
    withdrawn = changes[-1]
    assert withdrawn["form_id"] == "safety_inspection" and len(withdrawn["sha256"]) == 64
    # Its definition is still served (a device may hold records of it) ...
    r = dev.http.get(dev.url("/api/v1/forms/safety_inspection/2026.2"), timeout=10)
    assert r.status_code == 200
    # ... and a record made with it, changed again, is still taken.
    again = change(form_version="2026.2", record_id=made_with_it["record_id"], base=1, revision=2)
    assert dev.push_ok([again])[0]["result"] == "applied"
    entry = live.count(
        M.AuditEntry,
        M.AuditEntry.action == "form.withdraw",
        M.AuditEntry.object_id == "safety_inspection/2026.2",
    )
    assert entry == 1

    with live.session() as s, s.begin():  # again: nothing changes, no second change for devices
        assert withdraw_form(s, "safety_inspection", "2026.2", now=START).withdrawn is False
    assert live.count(M.Change, M.Change.type == "form_withdrawn") == 1
    with live.session() as s, pytest.raises(ServiceError) as info:
        publish_form(s, with_version(SAFETY, "2026.2"), now=START)
    assert info.value.code == "version_withdrawn" and info.value.status == 409


def test_withdrawing_every_version_leaves_the_form_out(live: LiveServer):
    dev = live.device()
    with live.session() as s, s.begin():
        w = withdraw_form(s, "school_conditions", "2026.1", now=START)
    assert w.current is None
    assert "school_conditions" not in offered(dev)


def test_the_cli_withdraws_a_legacy_version_with_a_slash(live: LiveServer, tmp_path: Path):
    """The `2026/1` that stopped every school: it can now be withdrawn by name, as stored."""
    insert_legacy_version(
        live, with_version(load_yaml(DEFINITIONS_DIR / "teachers.yaml"), "2026/1")
    )
    dev = live.device()
    assert offered(dev)["teachers"] == "2026/1"
    db = str(live.app.config["DATABASE_URL"])
    r = run("withdraw-form", "teachers", "2026/1", "--json", db=db, instance=tmp_path)
    result = last_json(r)
    assert result == {**result, "form_id": "teachers", "version": "2026/1", "withdrawn": True}
    assert result["current"] == "2026.1"
    assert "已撤回" in r.stdout and "2026.1" in r.stdout
    assert offered(dev)["teachers"] == "2026.1"
    served = dev.http.get(dev.url(f"/api/v1/forms/teachers/{quote('2026/1', safe='')}"), timeout=10)
    assert served.status_code == 200


def test_the_cli_refuses_an_unknown_version(
    live: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    db = str(live.app.config["DATABASE_URL"])
    r = run_here(
        capsys, "withdraw-form", "safety_inspection", "1999.9", "--json", db=db,
        instance=tmp_path, check=2,
    )  # fmt: skip
    assert "1999.9" in one_line_error(r)
    assert last_json(r)["error"]["code"] == "unknown_form"
    r = run_here(capsys, "withdraw-form", "safety_inspection", db=db, instance=tmp_path, check=2)
    assert "VERSION" in one_line_error(r)


# -- the dashboard ------------------------------------------------------------------------------------


def test_an_admin_withdraws_a_version_after_confirming(admin: Admin):  # noqa: F811
    c = admin.client()
    with admin.db().Session.begin() as s:
        publish_form(s, with_version(SAFETY, "2026.2"), now=admin.clock())
    listing = c.get("/forms").get_data(as_text=True)
    row = listing[listing.index('id="form-safety_inspection"') :]
    assert "撤回…" in row
    page = c.get("/forms/safety_inspection/2026.2").get_data(as_text=True)
    assert 'id="withdraw"' in page and "改用版本 <strong>2026.1</strong>" in page

    form = {"form_id": "safety_inspection", "version": "2026.2"}
    unconfirmed = c.post("/forms/withdraw", data={"csrf_token": session_csrf(c), **form})
    assert unconfirmed.status_code == 302
    assert "请勾选确认后再撤回" in c.get(unconfirmed.headers["Location"]).get_data(as_text=True)
    with admin.db().ReadSession() as s:
        assert (
            s.execute(
                select(M.FormVersion.withdrawn_at).where(M.FormVersion.version == "2026.2")
            ).scalar_one()
            is None
        )

    no_csrf = c.post("/forms/withdraw", data={**form, "confirm": "yes"})
    assert no_csrf.status_code == 400

    done = c.post("/forms/withdraw", data={"csrf_token": session_csrf(c), **form, "confirm": "yes"})
    assert done.status_code == 302
    listing = c.get(done.headers["Location"]).get_data(as_text=True)
    assert "已撤回“校园安全隐患排查整治记录”（safety_inspection）版本 2026.2" in listing
    assert "改用版本 2026.1" in listing
    row = listing[listing.index('id="form-safety_inspection"') :].split("</tr>")
    assert "已撤回" in row[0] and "2026.2" in row[0]
    assert "当前" in row[1] and "2026.1" in row[1]
    page = c.get("/forms/safety_inspection/2026.2").get_data(as_text=True)
    assert 'id="withdrawn-badge"' in page and 'id="withdraw"' not in page
    with admin.db().ReadSession() as s:
        entry = s.execute(
            select(M.AuditEntry).where(M.AuditEntry.action == "form.withdraw")
        ).scalar_one()
        assert entry.actor == "boss" and entry.object_id == "safety_inspection/2026.2"
        assert entry.details["current"] == "2026.1" and "ip" in entry.details


def test_only_admins_withdraw_and_sensitive_forms_need_the_ethics_permission(
    admin: Admin,  # noqa: F811
):
    viewer = admin.client("viewer")
    assert 'id="withdraw"' not in viewer.get("/forms/safety_inspection/2026.1").get_data(
        as_text=True
    )
    r = viewer.post(
        "/forms/withdraw",
        data={
            "csrf_token": session_csrf(viewer),
            "form_id": "safety_inspection",
            "version": "2026.1",
            "confirm": "yes",
        },
    )
    assert r.status_code == 403
    plain_admin = admin.client("admin")  # an admin without the ethics permission
    r = plain_admin.post(
        "/forms/withdraw",
        data={
            "csrf_token": session_csrf(plain_admin),
            "form_id": "teacher_ethics",
            "version": "2026.1",
            "confirm": "yes",
        },
    )
    assert r.status_code == 403
    missing = admin.post(
        admin.client(), "/forms/withdraw", form_id="nope", version="1", confirm="yes"
    )
    assert missing.status_code == 404
    with admin.db().ReadSession() as s:
        assert (
            s.execute(select(M.FormVersion).where(M.FormVersion.withdrawn_at.is_not(None))).first()
            is None
        )


def test_a_legacy_version_page_and_withdrawal_work_with_its_slash(admin: Admin):  # noqa: F811
    from tests.server.conftest import LiveServer as _Live  # the helper needs only .app

    legacy = with_version(load_yaml(DEFINITIONS_DIR / "teachers.yaml"), "2026/1")
    insert_legacy_version(_Live(admin.app, "", admin.clock, Path()), legacy)
    c = admin.client()
    listing = c.get("/forms").get_data(as_text=True)
    href = re.search(r'href="(/forms/teachers/2026[^"]*1)"', listing)
    assert href, listing
    page = c.get(href.group(1))
    assert page.status_code == 200 and 'value="2026/1"' in page.get_data(as_text=True)
    done = admin.post(c, "/forms/withdraw", form_id="teachers", version="2026/1", confirm="yes")
    assert done.status_code == 302
    with admin.db().ReadSession() as s:
        assert (
            s.execute(
                select(M.FormVersion.withdrawn_at).where(M.FormVersion.version == "2026/1")
            ).scalar_one()
            is not None
        )


def test_the_api_404_for_an_unknown_quoted_version_is_json(live: LiveServer):
    dev = live.device()
    r = dev.http.get(dev.url("/api/v1/forms/safety_inspection/%2E%2E"), timeout=10)
    assert_error(r, 404, "unknown_form")
