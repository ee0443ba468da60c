"""Realistic records for the 待办 tests, the main-window tests and the screenshots (no Qt here)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from client.context import ClientContext
from client.store.models import Record
from client.store.records import SaveResult, save_record


def save(
    ctx: ClientContext,
    form_id: str,
    data: dict[str, Any],
    *,
    submit: bool = True,
    record_id: str | None = None,
) -> SaveResult:
    with ctx.store.Session.begin() as s:
        return save_record(
            s,
            form=ctx.forms.get(form_id),
            data=data,
            record_id=record_id,
            submit=submit,
            today=ctx.clock.today(),
            now=ctx.clock.now(),
        )


def set_status(
    ctx: ClientContext, record_id: str, status: str, comments: dict[str, Any] | None = None
) -> None:
    """What a sync does when the bureau returns or accepts a record."""
    with ctx.store.Session.begin() as s:
        values: dict[str, Any] = {"status": status}
        if comments is not None:
            values["review_comments"] = comments
        s.execute(update(Record).where(Record.id == record_id).values(**values))


def hazard(**overrides: Any) -> dict[str, Any]:
    h: dict[str, Any] = {
        "category": "fire",
        "location": "食堂后厨",
        "description": "灭火器压力不足",
        "severity": "general",
        "measures": "更换灭火器",
        "responsible_person": "王明",
        "deadline": "2026-12-10",
        "status": "open",
    }
    h.update(overrides)
    return h


def inspection(
    inspection_date: str, hazards: list[dict[str, Any]], **overrides: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "inspection_date": inspection_date,
        "inspection_type": "monthly",
        "inspectors": "张伟、李娜",
        "areas": ["canteen", "fire_equipment", "teaching_building"],
        "hazards_found": "yes" if hazards else "no",
        "signed_by": "赵建国",
    }
    if hazards:
        record["hazards"] = hazards
    record.update(overrides)
    return record


TEACHERS = [
    ("T001", "王明", "male", "语文", "一级教师"),
    ("T002", "李娜", "female", "数学", "高级教师"),
    ("T003", "张伟", "male", "英语", "二级教师"),
    ("T004", "刘芳", "female", "科学", "一级教师"),
    ("T005", "陈静", "female", "音乐", "二级教师"),
    ("T006", "杨洋", "male", "体育", "一级教师"),
    ("T007", "赵丽", "female", "美术", "二级教师"),
    ("T008", "黄强", "male", "道德与法治", "高级教师"),
]


def teacher(
    tid: str, name: str, gender: str = "male", subject: str = "", title: str = ""
) -> dict[str, Any]:
    return {
        "teacher_id": tid,
        "name": name,
        "gender": gender,
        "subject": subject,
        "title": title,
        "active": "yes",
    }


def add_roster(ctx: ClientContext) -> dict[str, str]:
    """The sample teachers; returns teacher_id -> record id."""
    return {t[0]: save(ctx, "teachers", teacher(*t)).record_id for t in TEACHERS}


ACTIVITIES = [
    ("homework", "作业辅导", "g3", "三(1)班"),
    ("reading", "经典诵读", "g4", "四(2)班"),
    ("sports", "篮球社团", "g5", "五(1)班"),
    ("arts", "剪纸兴趣小组", "g2", "二(1)班"),
    ("science", "科学小实验", "g6", "六(1)班"),
    ("labor", "校园种植劳动", "g4", "四(1)班"),
]


def after_school(day: dt.date, i: int, teachers: list[str]) -> dict[str, Any]:
    kind, name, grade, cls = ACTIVITIES[i % len(ACTIVITIES)]
    enrolled = 38 + i % 9
    return {
        "service_date": day.isoformat(),
        "grade": grade,
        "class_name": cls,
        "session": "basic" if kind == "homework" else "extended",
        "activity_type": kind,
        "activity_name": name,
        "teachers": [teachers[i % len(teachers)]],
        "external_provider": "no",
        "enrolled": enrolled,
        "present": enrolled - i % 4,
        "start_time": "16:10",
        "end_time": "17:30",
        "incident": "normal",
    }


def seed_realistic(ctx: ClientContext) -> dict[str, Any]:
    """A school's month: a roster, inspections with open, overdue and rectified hazards, a returned record,
    a month of after-school sessions. The clock is 2026-11-28."""
    ids: dict[str, Any] = {"roster": add_roster(ctx)}
    october = save(
        ctx,
        "safety_inspection",
        inspection(
            "2026-10-26",
            [
                hazard(
                    category="electrical",
                    location="教学楼三楼东侧配电箱",
                    description="配电箱门锁损坏，线路裸露",
                    severity="major",
                    measures="更换配电箱门锁，整理线路",
                    responsible_person="黄强",
                    deadline="2026-11-10",
                ),
                hazard(
                    category="building",
                    location="学生宿舍二楼走廊",
                    description="走廊应急照明灯不亮",
                    severity="general",
                    measures="更换应急灯电池",
                    responsible_person="杨洋",
                    deadline="2026-11-20",
                    status="in_progress",
                ),
                hazard(
                    category="food",
                    location="食堂操作间",
                    description="留样冰箱温度记录不全",
                    deadline="2026-11-05",
                    status="rectified",
                    rectified_date="2026-11-03",
                ),
            ],
        ),
    )
    november = save(
        ctx,
        "safety_inspection",
        inspection(
            "2026-11-20",
            [
                hazard(
                    category="traffic",
                    location="校门口",
                    description="上下学时段校门口缺少减速标志",
                    severity="major",
                    measures="联系交警设置减速带和警示牌",
                    responsible_person="赵建国",
                    deadline="2026-12-15",
                ),
                hazard(
                    category="fire",
                    location="图书室",
                    description="两具灭火器过期",
                    severity="serious",
                    measures="更换灭火器",
                    responsible_person="王明",
                    deadline="2026-11-27",
                ),
            ],
            inspection_type="special",
            special_topic="fire",
        ),
    )
    ids["inspections"] = [october.record_id, november.record_id]
    teachers = list(ids["roster"])
    sessions = []
    for i in range(30):
        day = dt.date(2026, 11, 2) + dt.timedelta(days=i)
        if day.weekday() >= 5 or day > ctx.clock.today():
            continue
        sessions.append(
            save(ctx, "after_school_service", after_school(day, i, teachers), submit=i % 5 != 3)
        )
    ids["after_school"] = [r.record_id for r in sessions]
    returned = sessions[2].record_id
    set_status(
        ctx,
        returned,
        "returned",
        {"present": "实到人数与签到表不一致，请核对", "activity_name": "请写明具体活动内容"},
    )
    ids["returned"] = returned
    for rid in ids["after_school"][:6]:
        if rid != returned:
            set_status(ctx, rid, "accepted")
    ethics = save(
        ctx,
        "teacher_ethics",
        {
            "teacher": "T002",
            "record_type": "annual_assessment",
            "record_date": "2026-11-15",
            "assessment_result": "excellent",
            "description": "年度师德考核，群众评议优秀",
        },
    )
    ids["ethics"] = ethics.record_id
    return ids
