"""Shared data for the client tests (Excel, CLI, backups): a school's roster and realistic records of every form."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import select

from client.clock import FixedClock
from client.context import ClientContext
from client.store import records as R
from client.store.db import open_store
from client.store.formset import FormSet
from client.store.models import Record

NOW = dt.datetime(2026, 11, 28, 2, 0)
TODAY = dt.date(2026, 11, 28)
FORMS = FormSet.shipped()
DATA_FORMS = [
    "safety_inspection",
    "teacher_ethics",
    "after_school_service",
    "dropout_followup",
    "school_conditions",
]


def sha(text: str) -> str:
    """A content address as image and file answers hold it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_ctx(folder: Path) -> ClientContext:
    return ClientContext(open_store(folder), FORMS, FixedClock(NOW, TODAY))


TEACHERS: list[dict[str, Any]] = [
    {
        "teacher_id": "T001",
        "name": "张伟",
        "gender": "male",
        "subject": "语文",
        "title": "一级教师",
        "active": "yes",
    },
    {
        "teacher_id": "T002",
        "name": "李娜",
        "gender": "female",
        "subject": "数学",
        "title": "二级教师",
        "active": "yes",
    },
    {
        "teacher_id": "T003",
        "name": "王芳",
        "gender": "female",
        "subject": "英语",
        "title": "高级教师",
        "active": "yes",
    },
    # two teachers with the same name: exported as 王芳（T004）
    {
        "teacher_id": "T004",
        "name": "王芳",
        "gender": "female",
        "subject": "音乐",
        "title": "二级教师",
        "active": "yes",
    },
    {"teacher_id": "T005", "name": "刘洋", "gender": "male", "subject": "体育", "active": "no"},
]

RECORDS: dict[str, list[dict[str, Any]]] = {
    "safety_inspection": [
        {
            "inspection_date": "2026-11-20",
            "inspection_type": "monthly",
            "inspectors": "张伟、李娜",
            "areas": ["canteen", "fire_equipment", "electrical"],
            "hazards_found": "yes",
            "hazards": [
                {
                    "category": "fire",
                    "location": "食堂后厨",
                    "description": "灭火器压力不足，两具已过期",
                    "severity": "serious",
                    "photo": sha("photo-1"),
                    "measures": "立即更换灭火器并登记检查",
                    "responsible_person": "王明",
                    "deadline": "2026-11-25",
                    "status": "open",
                },
                {
                    "category": "electrical",
                    "location": "教学楼三楼配电箱",
                    "description": "配电箱门锁损坏，\n线路老化",
                    "severity": "major",
                    "measures": "更换门锁，请电工检修线路",
                    "responsible_person": "李强",
                    "deadline": "2026-12-10",
                    "status": "in_progress",
                },
                {
                    "category": "building",
                    "location": "操场西侧围墙",
                    "description": "围墙局部出现裂缝",
                    "severity": "general",
                    "measures": "设置警示标志并修补",
                    "responsible_person": "赵建国",
                    "deadline": "2026-11-27",
                    "status": "rectified",
                    "rectified_date": "2026-11-26",
                    "rectified_photo": sha("photo-2"),
                },
            ],
            "signed_by": "赵校长",
            "remarks": "本月重点检查食堂和用电安全。\n下次复查：12月5日",
        },
        {
            "inspection_date": "2026-10-15",
            "inspection_type": "special",
            "special_topic": "drowning",
            "inspectors": "陈刚",
            "areas": ["surroundings"],
            "hazards_found": "no",
            "signed_by": "赵校长",
        },
    ],
    "teacher_ethics": [
        {
            "teacher": "T001",
            "record_type": "annual_assessment",
            "record_date": "2026-07-05",
            "assessment_result": "excellent",
            "description": "师德表现突出，获家长一致好评",
            "attachments": [
                {"attachment": sha("assessment.pdf"), "attachment_note": "2025-2026学年师德考核表"},
                {"attachment": sha("vote.xlsx")},
            ],
        },
        {
            "teacher": "T003",
            "record_type": "complaint",
            "record_date": "2026-11-02",
            "complaint_source": "parent",
            "issue_category": "paid_tutoring",
            "description": "家长反映该教师周末组织有偿补课",
            "finding": "substantiated",
            "sanction": "admonition",
            "attachments": [{"attachment": sha("decision.docx"), "attachment_note": "处理决定"}],
        },
        {
            "teacher": "T004",
            "record_type": "commendation",
            "record_date": "2026-09-10",
            "honor_name": "县级优秀班主任",
            "honor_level": "county",
            "description": "教师节表彰",
        },
        {
            "teacher": "T002",
            "record_type": "training",
            "record_date": "2026-09-12",
            "training_hours": 2.5,
            "description": "参加县教育局师德专题培训",
        },
    ],
    "after_school_service": [
        {
            "service_date": "2026-11-27",
            "grade": "g3",
            "class_name": "3班",
            "session": "basic",
            "activity_type": "homework",
            "teachers": ["T001", "T004"],
            "external_provider": "no",
            "enrolled": 45,
            "present": 43,
            "start_time": "16:30",
            "end_time": "17:40",
            "incident": "normal",
        },
        {
            "service_date": "2026-11-26",
            "grade": "g5",
            "session": "extended",
            "activity_type": "arts",
            "activity_name": "剪纸社团",
            "teachers": ["T003"],
            "external_provider": "yes",
            "provider_name": "县文化馆 刘老师",
            "enrolled": 20,
            "present": 20,
            "start_time": "16:30:30",
            "end_time": "18:05",
            "incident": "incident",
            "incident_note": "一名学生手指轻微划伤，已消毒包扎并告知家长",
            "fee_per_student": 1.5,
            "remarks": "家长满意度高",
        },
    ],
    "dropout_followup": [
        {
            "student_name": "马小军",
            "student_no": "G110101201501011234",
            "grade": "g8",
            "risk_type": ["poverty", "left_behind", "aversion"],
            "status": "persuading",
            "contact_date": "2026-11-18",
            "contact_method": "home_visit",
            "measures": "班主任与村干部一起家访，说明义务教育政策，\n约定下周一返校",
            "responsible_teacher": "T005",
            "aid_received": ["living_subsidy", "nutrition"],
        },
        {
            "student_name": "李梅",
            "grade": "g7",
            "risk_type": ["illness"],
            "status": "home_teaching",
            "contact_date": "2026-10-08",
            "contact_method": "phone",
            "measures": "每周送教上门两次",
            "responsible_teacher": "T002",
            "aid_received": ["none"],
        },
    ],
    "school_conditions": [
        {
            "semester": "2026-autumn",
            "classes": 18,
            "students": 820,
            "teachers_count": 52,
            "large_classes": 2,
            "classrooms": 30,
            "classrooms_with_smartboard": 26,
            "network_coverage": "yes",
            "bandwidth_mbps": 300.5,
            "disabled_children_enrolled": 3,
        },
        {
            "semester": "2026-spring",
            "classes": 18,
            "students": 805,
            "teachers_count": 50,
            "large_classes": 0,
            "classrooms": 28,
            "classrooms_with_smartboard": 20,
            "network_coverage": "no",
            "bandwidth_mbps": 100,
            "disabled_children_enrolled": 2,
        },
    ],
}


def save(ctx: ClientContext, form_id: str, data: dict[str, Any], *, submit: bool = True) -> str:
    with ctx.store.Session.begin() as s:
        result = R.save_record(
            s, form=ctx.forms.get(form_id), data=data, submit=submit, today=TODAY, now=NOW
        )
    return result.record_id


def populate(ctx: ClientContext) -> dict[str, list[str]]:
    """The roster and every sample record, submitted; form id -> record ids."""
    ids = {"teachers": [save(ctx, "teachers", t) for t in TEACHERS]}
    for form_id, items in RECORDS.items():
        ids[form_id] = [save(ctx, form_id, item) for item in items]
    return ids


def stored(ctx: ClientContext, form_id: str) -> dict[str, dict[str, Any]]:
    """Record id -> data of the form's live records."""
    with ctx.store.Session() as s:
        rows = s.execute(
            select(Record.id, Record.data).where(
                Record.form_id == form_id, Record.deleted.is_(False)
            )
        ).all()
    return {rid: data for rid, data in rows}


def revisions(ctx: ClientContext, form_id: str) -> dict[str, int]:
    with ctx.store.Session() as s:
        rows = s.execute(select(Record.id, Record.revision).where(Record.form_id == form_id)).all()
    return {rid: rev for rid, rev in rows}
