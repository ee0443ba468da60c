"""Change requests on the dashboard (issue 10): a school's change to a record the bureau had accepted is
shown on the record's page (what it would change) and flagged in the records list; a reviewer accepts it
(the record reopens with the change) or declines it with a reason; a viewer only sees it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from sync_server import models as M
from sync_server.state import get_state
from tests.server.conftest import MovableClock, inspection
from tests.server.dashboard_seed import logged_in, make_app, record, school

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Flask:
    path = tmp_path / "requests.db"
    shutil.copyfile(sqlite_template, path)
    made = make_app(
        f"sqlite:///{path}", tmp_path / "instance", MovableClock(NOW), LOGIN_FAILURE_DELAY=0
    )
    yield made
    get_state(made).db.close()


def requested(app: Flask, rec_id: str, school_id: int, **answers: Any) -> str:
    """A change request as services.push keeps it (a change pushed to the accepted record)."""
    rid = str(uuid.uuid4())
    with get_state(app).db.Session.begin() as s:
        rec = s.get(M.Record, rec_id)
        assert rec is not None
        s.add(
            M.ChangeRequest(
                id=rid,
                record_id=rec_id,
                school_id=school_id,
                op_id=str(uuid.uuid4()),
                device_id=str(uuid.uuid4()),
                kind="upsert",
                form_version=rec.form_version,
                base_server_revision=1,
                server_revision=rec.server_revision,
                status="open",
                created_at=dt.datetime(2026, 11, 27, 8, 0),
                decided_at=None,
                decided_by=None,
                reason=None,
                data={**rec.data, **answers},
            )
        )
    return rid


@pytest.fixture
def accepted(app: Flask) -> dict[str, Any]:
    with get_state(app).db.Session.begin() as s:
        sch = school(s, "S001", "城关镇中心小学")
        rec = record(s, sch, inspection(), status=M.Status.ACCEPTED)
        return {"record": rec.id, "school": sch.id}


def test_a_reviewer_sees_a_change_request_and_accepts_it(app: Flask, accepted: dict[str, Any]):
    rid = accepted["record"]
    request_id = requested(app, rid, accepted["school"], remarks="补报：灭火器已更换")
    viewer = logged_in(app, "viewer1", "viewer")
    page = viewer.get(f"/records/{rid}").get_data(as_text=True)
    assert "学校的修改申请" in page and "补报：灭火器已更换" in page and "待处理" in page
    assert 'id="accept-request-1"' not in page  # a viewer sees it, cannot decide
    assert "修改申请 1 条" in viewer.get("/records").get_data(as_text=True)

    rev = logged_in(app, "rev1", "reviewer")
    assert 'id="accept-request-1"' in rev.get(f"/records/{rid}").get_data(as_text=True)
    r = rev.post(
        f"/records/{rid}/requests/{request_id}/accept",
        data={"csrf_token": rev.csrf},  # type: ignore[attr-defined]
        follow_redirects=True,
    )
    assert r.status_code == 200 and "已同意修改申请" in r.get_data(as_text=True)
    with get_state(app).db.ReadSession() as s:
        rec = s.get(M.Record, rid)
        assert rec is not None and rec.status == "received" and rec.server_revision == 2
        assert rec.data["remarks"] == "补报：灭火器已更换"
        req = s.get(M.ChangeRequest, request_id)
        assert req is not None and req.status == "accepted" and req.decided_by == "rev1"
        pulled = [
            json.loads(c.payload)
            for c in s.execute(select(M.Change).order_by(M.Change.seq)).scalars()
        ]
    assert [c["type"] for c in pulled][-2:] == ["record", "change_request"]
    assert pulled[-1]["request_status"] == "accepted"
    assert "修改申请 1 条" not in rev.get("/records").get_data(as_text=True)
    history = rev.get(f"/records/{rid}").get_data(as_text=True)
    assert "采纳学校的修改申请" in history and "已同意" in history


def test_a_declined_request_needs_a_reason_that_reaches_the_school(
    app: Flask, accepted: dict[str, Any]
):
    rid = accepted["record"]
    request_id = requested(app, rid, accepted["school"], remarks="改一下")
    rev = logged_in(app, "rev1", "reviewer")
    url = f"/records/{rid}/requests/{request_id}/decline"
    elsewhere = f"/records/{uuid.uuid4()}/requests/{request_id}/accept"  # not this record's request
    assert rev.post(elsewhere, data={"csrf_token": rev.csrf}).status_code == 302  # type: ignore[attr-defined]
    with get_state(app).db.ReadSession() as s:
        assert s.get(M.ChangeRequest, request_id).status == "open"  # type: ignore[union-attr]
    r = rev.post(url, data={"csrf_token": rev.csrf, "reason": "  "}, follow_redirects=True)  # type: ignore[attr-defined]
    assert "请写明原因" in r.get_data(as_text=True)
    r = rev.post(
        url,
        data={"csrf_token": rev.csrf, "reason": "以检查当日为准"},  # type: ignore[attr-defined]
        follow_redirects=True,
    )
    page = r.get_data(as_text=True)
    assert "已拒绝修改申请" in page and "拒绝原因：以检查当日为准" in page
    with get_state(app).db.ReadSession() as s:
        rec = s.get(M.Record, rid)
        assert rec is not None and rec.status == "accepted" and "remarks" not in rec.data
        last = s.execute(select(M.Change).order_by(M.Change.seq.desc())).scalars().first()
        assert last is not None and json.loads(last.payload)["reason"] == "以检查当日为准"
    again = rev.post(
        url, data={"csrf_token": rev.csrf, "reason": "再拒一次"}, follow_redirects=True
    )  # type: ignore[attr-defined]
    assert "已经处理过了" in again.get_data(as_text=True)
    viewer = logged_in(app, "viewer1", "viewer")
    assert viewer.post(url, data={"csrf_token": viewer.csrf, "reason": "x"}).status_code == 403  # type: ignore[attr-defined]
