"""Helpers for the bureau-side tests: schools and records written straight into the server database (with
their first revision), so a test controls when the server first received each record."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from sync_server import models as M
from sync_server.app import create_app
from sync_server.state import get_state
from tests.server.conftest import MovableClock
from tests.support.after_school import after_school
from tests.support.samples import inspection

UTC8 = dt.timedelta(hours=8)


def make_app(url: str, instance: Path, clock: MovableClock | None = None, **config: Any) -> Flask:
    return create_app(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": url,
            "SECRET_KEY": "dashboard-tests",
            "CLOCK": clock or MovableClock(),
            **config,
        }
    )


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> dt.datetime:
    """A bureau (UTC+8) wall-clock time, as stored: naive UTC."""
    return dt.datetime(y, m, d, hh, mm) - UTC8


def school(
    session: Session, code: str, name: str | None = None, created: dt.datetime | None = None
) -> M.School:
    row = M.School(
        code=code, name=name or f"{code}学校", created_at=created or dt.datetime(2026, 1, 1)
    )
    session.add(row)
    session.flush()
    return row


def record(
    session: Session,
    school_row: M.School,
    data: dict[str, Any] | None = None,
    *,
    form_id: str = "safety_inspection",
    received: dt.datetime | None = None,
    status: str = M.Status.RECEIVED,
    record_id: str | None = None,
    form_version: str = "2026.1",
) -> M.Record:
    now = received or dt.datetime(2026, 11, 20, 2, 0)
    rid = record_id or str(uuid.uuid4())
    body = inspection() if data is None and form_id == "safety_inspection" else (data or {})
    if form_id == "safety_inspection":
        body = counted(body)
    rec = M.Record(
        id=rid,
        school_id=school_row.id,
        form_id=form_id,
        form_version=form_version,
        status=status,
        server_revision=1,
        created_at=now,
        updated_at=now,
        review_comments={},
        data=body,
    )
    session.add(rec)
    session.flush()
    session.add(
        M.RecordRevision(
            record_id=rid,
            server_revision=1,
            kind="push" if status != M.Status.DELETED else "delete",
            status=status,
            form_version=form_version,
            device_id=None,
            op_id=None,
            actor=None,
            created_at=now,
            review_comments={},
            data=body,
        )
    )
    session.flush()
    return rec


def counted(data: dict[str, Any]) -> dict[str, Any]:
    """An inspection with its calculations filled in, as the server's form engine stores it."""
    hazards = data.get("hazards") if data.get("hazards_found") == "yes" else []
    items = [h for h in hazards or [] if isinstance(h, dict)]
    closed = ("rectified", "verified")
    out = dict(data)
    out["hazards"] = [{**h, "is_open": 0 if h.get("status") in closed else 1} for h in items]
    out["hazard_count"] = len(items)
    out["open_count"] = sum(1 for h in items if h.get("status") not in closed)
    return out


def revise(session: Session, rec: M.Record, data: dict[str, Any], *, at: dt.datetime) -> M.Record:
    """The school pushed a new revision of the record."""
    if rec.form_id == "safety_inspection":
        data = counted(data)
    rec.server_revision += 1
    rec.data = data
    rec.updated_at = at
    rec.status = M.Status.RECEIVED
    session.add(
        M.RecordRevision(
            record_id=rec.id,
            server_revision=rec.server_revision,
            kind="push",
            status=M.Status.RECEIVED,
            form_version=rec.form_version,
            device_id=None,
            op_id=None,
            actor=None,
            created_at=at,
            review_comments={},
            data=data,
        )
    )
    session.flush()
    return rec


def service(day: str, **over: Any) -> dict[str, Any]:
    return after_school(day, class_name="三(2)班", **{"activity_type": "homework", **over})


def conditions(semester: str, **over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "semester": semester,
        "classes": 12,
        "students": 480,
        "teachers_count": 30,
        "large_classes": 1,
        "classrooms": 14,
        "classrooms_with_smartboard": 10,
        "network_coverage": "yes",
    }
    out.update(over)
    return out


def ethics(teacher: str = "T001", **over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "teacher": teacher,
        "record_type": "complaint",
        "record_date": "2026-11-10",
        "complaint_source": "parent",
        "issue_category": "paid_tutoring",
        "description": "家长反映该教师周末有偿补课",
        "finding": "investigating",
    }
    out.update(over)
    return out


def teacher(tid: str, name: str, **over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"teacher_id": tid, "name": name, "gender": "female", "active": "yes"}
    out.update(over)
    return out


# -- staff and a logged-in Flask test client ----------------------------------------------------------

PASSWORD = "Correct-Horse-42"
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def staff(app: Flask, username: str, role: str = "reviewer", *, ethics: bool = False) -> None:
    from sync_server.services.users import add_user

    with get_state(app).db.Session.begin() as s:
        add_user(
            s,
            username=username,
            password=PASSWORD,
            role=role,
            can_view_sensitive=ethics,
            now=get_state(app).now(),
        )


def csrf_of(html: str) -> str:
    m = _CSRF_RE.search(html)
    assert m is not None, "no csrf_token field in the page"
    return m.group(1)


def logged_in(
    app: Flask, username: str, role: str = "reviewer", *, ethics: bool = False
) -> FlaskClient:
    """A test client with a logged-in session of a new staff member."""
    staff(app, username, role, ethics=ethics)
    client = app.test_client()
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 302, r.text
    client.csrf = csrf_of(client.get("/login", follow_redirects=True).text)  # type: ignore[attr-defined]
    return client


# -- a county in late November 2026, for page tests and screenshots -----------------------------------

DEMO_SCHOOLS = (
    ("S001", "城关镇中心小学"),
    ("S002", "河口乡中心小学"),
    ("S003", "石桥镇九年一贯制学校"),
    ("S004", "新华中学"),
    ("S005", "北关小学"),
    ("S006", "东坪乡中心小学"),
    ("S007", "柳树湾村小学"),
    ("S008", "县第二中学"),
    ("S009", "西岭教学点"),
    ("S010", "红星小学"),
)


def demo_hazard(**over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "category": "fire",
        "location": "食堂后厨",
        "description": "灭火器压力不足，两具已过检验期",
        "severity": "general",
        "measures": "更换灭火器并登记检查",
        "responsible_person": "王明",
        "deadline": "2026-11-30",
        "status": "open",
    }
    out.update(over)
    return out


def demo(session: Session) -> dict[str, Any]:
    """Ten schools; November's inspections (on time, late, missing), hazards open, overdue and closed, a
    record revised twice, a teacher roster. Returns {"schools": {code: School}, "revised": record id}."""
    schools = {
        code: school(session, code, name, created=dt.datetime(2026, 2, 20))
        for code, name in DEMO_SCHOOLS
    }
    s = schools
    record(session, s["S001"], teacher("T001", "李娜"), form_id="teachers")
    record(session, s["S001"], teacher("T002", "张伟", gender="male"), form_id="teachers")
    record(
        session,
        s["S001"],
        inspection(
            inspection_date="2026-11-06",
            hazards=[
                demo_hazard(),
                demo_hazard(
                    category="electrical",
                    location="教学楼三楼配电箱",
                    description="配电箱门锁损坏，线路裸露",
                    severity="serious",
                    deadline="2026-11-12",
                    status="rectified",
                    rectified_date="2026-11-10",
                    measures="更换配电箱门锁，整理线路",
                    responsible_person="赵强",
                ),
            ],
        ),
        received=local(2026, 11, 6, 16),
    )
    revised = record(
        session,
        s["S002"],
        inspection(
            inspection_date="2026-11-18",
            inspectors="陈红",
            hazards=[
                demo_hazard(
                    category="building",
                    location="宿舍楼北侧围墙",
                    description="围墙出现裂缝，有倾倒风险",
                    severity="major",
                    deadline="2026-11-25",
                )
            ],
        ),
        received=local(2026, 11, 18, 9),
    )
    revise(
        session,
        revised,
        inspection(
            inspection_date="2026-11-18",
            inspectors="陈红、刘洋",
            hazards=[
                demo_hazard(
                    category="building",
                    location="宿舍楼北侧围墙",
                    description="围墙出现裂缝，有倾倒风险，已设置警戒线",
                    severity="major",
                    deadline="2026-12-05",
                    status="in_progress",
                )
            ],
        ),
        at=local(2026, 11, 20, 15),
    )
    record(
        session,
        s["S003"],
        inspection(
            inspection_date="2026-11-25",
            hazards=[
                demo_hazard(
                    category="traffic",
                    location="校门口",
                    description="上下学时段校门口车辆乱停，无减速带",
                    severity="major",
                    deadline="2026-11-27",
                )
            ],
        ),
        received=local(2026, 11, 25, 11),
    )
    record(
        session,
        s["S004"],
        inspection(inspection_date="2026-11-20", hazards_found="no", hazards=[]),
        received=local(2026, 11, 21, 8),
        status=M.Status.ACCEPTED,
    )
    record(
        session,
        s["S005"],
        inspection(
            inspection_date="2026-11-28",
            hazards=[
                demo_hazard(
                    category="food",
                    location="食堂仓库",
                    description="部分食材未标注进货日期",
                    deadline="2026-12-10",
                ),
                demo_hazard(
                    category="security",
                    location="西侧围栏",
                    description="围栏有缺口，校外人员可进入",
                    severity="major",
                    deadline="2026-12-03",
                ),
            ],
        ),
        received=local(2026, 11, 28, 10),
    )
    # October: every school but S006 and S009; S008 late.
    for code in ("S001", "S002", "S003", "S004", "S005", "S007", "S010"):
        record(
            session,
            s[code],
            inspection(inspection_date="2026-10-15", hazards_found="no", hazards=[]),
            received=local(2026, 10, 16),
            status=M.Status.ACCEPTED,
        )
    record(
        session,
        s["S008"],
        inspection(inspection_date="2026-10-22", hazards_found="no", hazards=[]),
        received=local(2026, 11, 9),
    )
    for code in ("S001", "S002", "S004", "S005", "S008"):
        record(
            session,
            s[code],
            service("2026-11-24", teachers=["T001"] if code == "S001" else []),
            form_id="after_school_service",
            received=local(2026, 11, 24, 18),
        )
    # Week 47 (16-22 November, due the 23rd): all but S006 and S009.
    for code in ("S001", "S002", "S003", "S004", "S005", "S007", "S008", "S010"):
        record(
            session,
            s[code],
            service("2026-11-19", teachers=["T001"] if code == "S001" else []),
            form_id="after_school_service",
            received=local(2026, 11, 19, 18),
        )
    # School conditions: the spring semester's (due 30 May) from all but S009, S007's late; the autumn
    # semester's (due 30 November) from S001 to S008 so far.
    for code in ("S001", "S002", "S003", "S004", "S005", "S006", "S008", "S010"):
        record(
            session,
            s[code],
            conditions("2026-spring"),
            form_id="school_conditions",
            received=local(2026, 4, 10) + dt.timedelta(days=int(code[-1]) * 2),
        )
    record(
        session,
        s["S007"],
        conditions("2026-spring"),
        form_id="school_conditions",
        received=local(2026, 6, 12),
    )
    for code in ("S001", "S002", "S003", "S004", "S005", "S006", "S007", "S008"):
        record(
            session,
            s[code],
            conditions("2026-autumn"),
            form_id="school_conditions",
            received=local(2026, 9, 20) + dt.timedelta(days=int(code[-1]) * 2),
        )
    return {"schools": schools, "revised": revised.id}
