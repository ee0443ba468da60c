"""The bureau's form definitions: each loads, a realistic record passes, and every rule of FORMS.md bites.

Records are checked with a fixed TODAY passed to the engine (never the clock) and a small teacher roster.
"""

from __future__ import annotations

import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from forms.engine import Evaluation, ReferenceList, evaluate, new_record
from forms.loader import load_yaml
from forms.model import FieldType, FormDef, Period

TODAY = datetime.date(2026, 11, 28)
DEFINITIONS = Path(__file__).resolve().parents[2] / "forms" / "definitions"
ROSTER = ReferenceList(
    "teachers",
    {"T001": "张丽华", "T002": "王建国", "T003": "李明"},
    inactive=frozenset({"T003"}),  # left the school; old records must still accept the id
)
REFERENCES = {"teachers": ROSTER}
NEW_FORMS = (
    "teacher_ethics",
    "after_school_service",
    "dropout_followup",
    "school_conditions",
    "teachers",
)
ALL_FORMS = ("safety_inspection", *NEW_FORMS)


@cache
def form(form_id: str) -> FormDef:
    return load_yaml(DEFINITIONS / f"{form_id}.yaml")


def run(form_id: str, record: dict[str, Any]) -> Evaluation:
    return evaluate(form(form_id), record, today=TODAY, references=REFERENCES)


def problems(ev: Evaluation) -> set[tuple[str, str]]:
    return {(p.path_str, p.code) for p in ev.problems}


def assert_ok(ev: Evaluation) -> None:
    assert ev.problems == [], [str(p) for p in ev.problems]


# -- every form ------------------------------------------------------------------------------------


@pytest.mark.parametrize("form_id", ALL_FORMS)
def test_form_loads_with_its_own_id(form_id: str) -> None:
    f = form(form_id)
    assert f.form_id == form_id
    assert f.settings.default_language == "zh"
    assert f.languages() == ["zh", "en"]


@pytest.mark.parametrize(
    ("form_id", "period", "period_field", "sensitive"),
    [
        ("safety_inspection", Period.MONTHLY, "inspection_date", False),
        ("teacher_ethics", Period.NONE, None, True),
        ("after_school_service", Period.WEEKLY, "service_date", False),
        ("dropout_followup", Period.NONE, None, True),
        ("school_conditions", Period.SEMESTER, "semester", False),
        ("teachers", Period.NONE, None, False),
    ],
)
def test_settings(form_id: str, period: Period, period_field: str | None, sensitive: bool) -> None:
    s = form(form_id).settings
    assert (s.period, s.period_field, s.sensitive) == (period, period_field, sensitive)
    assert s.title.get("zh", False) and s.title.get("en", False)


@pytest.mark.parametrize("form_id", NEW_FORMS)
def test_labels_and_messages_are_bilingual(form_id: str) -> None:
    f = form(form_id)
    for field in f.all_fields():
        assert set(field.label.languages()) == {"zh", "en"}, field.name
        if field.constraint is not None:
            assert set(field.constraint_message.languages()) == {"zh", "en"}, field.name
        if field.required_message:
            assert set(field.required_message.languages()) == {"zh", "en"}, field.name
    for choice_list in f.choices:
        for choice in choice_list.choices:
            assert set(choice.label.languages()) == {"zh", "en"}, (choice_list.name, choice.name)


def test_roster_selects_point_at_the_teacher_roster() -> None:
    assert form("teacher_ethics").field("teacher").reference == "teachers"
    assert form("dropout_followup").field("responsible_teacher").reference == "teachers"
    teachers = form("after_school_service").field("teachers")
    assert (teachers.type, teachers.reference) == (FieldType.SELECT_MULTIPLE, "teachers")


# -- safety_inspection -----------------------------------------------------------------------------


def hazard(**changes: Any) -> dict[str, Any]:
    item = {
        "category": "electrical",
        "location": "教学楼二楼东侧配电箱",
        "description": "配电箱门锁损坏，线路裸露",
        "severity": "general",
        "photo": "IMG_20261120_0931.jpg",
        "measures": "更换门锁，包扎裸露线路",
        "responsible_person": "赵永强",
        "deadline": "2026-12-05",
        "status": "open",
    }
    item.update(changes)
    return item


def inspection(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "inspection_date": "2026-11-20",
        "inspection_type": "special",
        "special_topic": "fire",
        "inspectors": "刘海涛、陈静",
        "areas": ["teaching_building", "canteen", "fire_equipment"],
        "hazards_found": "yes",
        "hazards": [
            hazard(
                category="fire",
                location="食堂后厨",
                description="灭火器过期",
                severity="serious",
                measures="更换全部过期灭火器",
                deadline="2026-11-27",
            ),
            hazard(
                status="rectified",
                rectified_date="2026-11-22",
                rectified_photo="IMG_20261122_1010.jpg",
            ),
        ],
        "signed_by": "孙校长",
        "remarks": "",
    }
    record.update(changes)
    return record


def test_safety_valid_record_and_counts() -> None:
    ev = run("safety_inspection", inspection())
    assert_ok(ev)
    assert ev.data["hazard_count"] == 2
    assert ev.data["open_count"] == 1
    assert [h["is_open"] for h in ev.data["hazards"]] == [1, 0]


def test_safety_open_count_counts_in_progress_but_not_verified() -> None:
    hazards = [
        hazard(status="in_progress"),
        hazard(status="verified", rectified_date="2026-11-25"),
        hazard(),
    ]
    ev = run("safety_inspection", inspection(hazards=hazards))
    assert_ok(ev)
    assert (ev.data["hazard_count"], ev.data["open_count"]) == (3, 2)


@pytest.mark.parametrize(("deadline", "ok"), [("2026-11-27", True), ("2026-11-28", False)])
def test_safety_serious_hazard_deadline_at_most_7_days(deadline: str, ok: bool) -> None:
    ev = run(
        "safety_inspection", inspection(hazards=[hazard(severity="serious", deadline=deadline)])
    )
    if ok:
        assert_ok(ev)
    else:
        assert problems(ev) == {("hazards[0].deadline", "constraint")}


def test_safety_general_hazard_may_have_a_later_deadline() -> None:
    ev = run("safety_inspection", inspection(hazards=[hazard(deadline="2027-01-31")]))
    assert_ok(ev)


def test_safety_deadline_before_inspection_refused() -> None:
    ev = run("safety_inspection", inspection(hazards=[hazard(deadline="2026-11-19")]))
    assert problems(ev) == {("hazards[0].deadline", "constraint")}


def test_safety_hazards_found_needs_a_hazard() -> None:
    ev = run("safety_inspection", inspection(hazards=[]))
    assert problems(ev) == {("hazards", "repeat_min")}


def test_safety_hazards_cleared_when_none_found() -> None:
    ev = run("safety_inspection", inspection(hazards_found="no"))
    assert_ok(ev)
    assert "hazards" not in ev.data
    assert (ev.data["hazard_count"], ev.data["open_count"]) == (0, 0)


def test_safety_future_inspection_date_refused() -> None:
    ev = run("safety_inspection", inspection(inspection_date="2026-11-29", hazards_found="no"))
    assert problems(ev) == {("inspection_date", "constraint")}


def test_safety_rectified_date_required_when_rectified() -> None:
    ev = run("safety_inspection", inspection(hazards=[hazard(status="rectified")]))
    assert problems(ev) == {("hazards[0].rectified_date", "required")}


def test_safety_rectified_date_cleared_while_open() -> None:
    ev = run("safety_inspection", inspection(hazards=[hazard(rectified_date="2026-11-22")]))
    assert_ok(ev)
    assert "rectified_date" not in ev.data["hazards"][0]


def test_safety_special_topic_only_for_special_inspections() -> None:
    ev = run("safety_inspection", inspection(inspection_type="monthly"))
    assert_ok(ev)
    assert "special_topic" not in ev.data
    ev = run("safety_inspection", inspection(special_topic=None))
    assert problems(ev) == {("special_topic", "required")}


# -- teacher_ethics --------------------------------------------------------------------------------


def ethics(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "teacher": "T002",
        "record_type": "violation",
        "record_date": "2026-10-15",
        "complaint_source": "parent",
        "issue_category": "paid_tutoring",
        "description": "家长反映该教师在校外组织本班学生有偿补课，经学校调查核实。",
        "finding": "substantiated",
        "sanction": "circulated",
        "attachments": [
            {"attachment": "调查报告.pdf", "attachment_note": "学校调查组报告"},
            {"attachment": "处理决定.pdf"},
        ],
    }
    record.update(changes)
    return record


def test_ethics_valid_violation_record() -> None:
    ev = run("teacher_ethics", ethics())
    assert_ok(ev)
    assert ev.data["sanction"] == "circulated"
    assert len(ev.data["attachments"]) == 2


def test_ethics_valid_annual_assessment() -> None:
    record = {
        "teacher": "T001",
        "record_type": "annual_assessment",
        "record_date": "2026-07-05",
        "assessment_result": "excellent",
        "description": "2025—2026学年师德考核，民主测评优秀率98%。",
    }
    assert_ok(run("teacher_ethics", record))


def test_ethics_assessment_result_required_for_annual_assessment() -> None:
    record = {
        "teacher": "T001",
        "record_type": "annual_assessment",
        "record_date": "2026-07-05",
        "description": "年度师德考核",
    }
    assert problems(run("teacher_ethics", record)) == {("assessment_result", "required")}


@pytest.mark.parametrize("finding", ["substantiated", "partly"])
def test_ethics_sanction_required_when_finding_holds(finding: str) -> None:
    ev = run("teacher_ethics", ethics(finding=finding, sanction=None))
    assert problems(ev) == {("sanction", "required")}
    assert ev.relevance[("sanction",)] is True


@pytest.mark.parametrize("finding", ["unsubstantiated", "investigating"])
def test_ethics_sanction_not_asked_otherwise(finding: str) -> None:
    ev = run("teacher_ethics", ethics(finding=finding, sanction="warning"))
    assert_ok(ev)
    assert "sanction" not in ev.data
    assert ev.relevance[("sanction",)] is False
    assert_ok(run("teacher_ethics", ethics(finding=finding, sanction=None)))


def test_ethics_complaint_fields_hidden_for_commendation() -> None:
    record = ethics(
        record_type="commendation",
        honor_name="县级师德标兵",
        honor_level="county",
        description="扎根乡村教学二十年，获评县级师德标兵。",
    )
    ev = run("teacher_ethics", record)
    assert_ok(ev)
    for name in ("complaint_source", "issue_category", "finding", "sanction"):
        assert name not in ev.data
        assert ev.relevance[(name,)] is False
    assert ev.data["honor_level"] == "county"


def test_ethics_commendation_needs_its_honour() -> None:
    record = {
        "teacher": "T001",
        "record_type": "commendation",
        "record_date": "2026-09-10",
        "description": "教师节表彰",
    }
    assert problems(run("teacher_ethics", record)) == {
        ("honor_name", "required"),
        ("honor_level", "required"),
    }


def test_ethics_complaint_needs_source_category_and_finding() -> None:
    record = ethics(
        record_type="complaint",
        complaint_source=None,
        issue_category=None,
        finding=None,
        sanction=None,
    )
    assert problems(run("teacher_ethics", record)) == {
        ("complaint_source", "required"),
        ("issue_category", "required"),
        ("finding", "required"),
    }


def test_ethics_training_hours() -> None:
    record = {
        "teacher": "T003",  # inactive teachers stay valid choices for their records
        "record_type": "training",
        "record_date": "2026-08-20",
        "description": "参加县教育局暑期师德专题培训",
        "training_hours": 12.5,
    }
    ev = run("teacher_ethics", record)
    assert_ok(ev)
    assert ev.data["training_hours"] == 12.5
    assert problems(run("teacher_ethics", {**record, "training_hours": -1})) == {
        ("training_hours", "constraint")
    }
    ev = run("teacher_ethics", {**record, "record_type": "pledge"})
    assert_ok(ev)
    assert "training_hours" not in ev.data


def test_ethics_future_date_and_unknown_teacher_refused() -> None:
    ev = run("teacher_ethics", ethics(record_date="2026-11-29", teacher="T999"))
    assert problems(ev) == {("record_date", "constraint"), ("teacher", "choice")}
    assert_ok(run("teacher_ethics", ethics(record_date="2026-11-28")))


def test_ethics_attachment_entry_needs_a_file() -> None:
    ev = run("teacher_ethics", ethics(attachments=[{"attachment_note": "处理决定"}]))
    assert problems(ev) == {("attachments[0].attachment", "required")}
    ev = run("teacher_ethics", ethics(attachments=[]))
    assert_ok(ev)


# -- after_school_service --------------------------------------------------------------------------


def service(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "service_date": "2026-11-27",
        "grade": "g4",
        "class_name": "4年级2班",
        "session": "extended",
        "activity_type": "arts",
        "activity_name": "剪纸社团",
        "teachers": ["T001", "T002"],
        "external_provider": "yes",
        "provider_name": "县文化馆非遗传承人 周秀兰",
        "enrolled": 45,
        "present": 42,
        "start_time": "16:10",
        "end_time": "17:40",
        "incident": "normal",
        "fee_per_student": 0,
        "remarks": "作品将参加县中小学艺术展",
    }
    record.update(changes)
    return record


def test_service_valid_record_and_calculations() -> None:
    ev = run("after_school_service", service())
    assert_ok(ev)
    assert ev.data["attendance_rate"] == pytest.approx(0.9333)
    assert ev.data["duration_minutes"] == 90
    assert ev.data["teachers"] == ["T001", "T002"]


def test_service_present_more_than_enrolled_refused() -> None:
    ev = run("after_school_service", service(present=46))
    assert problems(ev) == {("present", "constraint")}
    assert_ok(run("after_school_service", service(present=45)))
    assert problems(run("after_school_service", service(present=-1))) == {("present", "constraint")}


def test_service_attendance_rate_empty_when_nobody_enrolled() -> None:
    ev = run("after_school_service", service(enrolled=0, present=0))
    assert_ok(ev)
    assert "attendance_rate" not in ev.data
    assert run("after_school_service", service(present=45)).data["attendance_rate"] == 1


@pytest.mark.parametrize("end_time", ["16:10", "15:50"])
def test_service_end_before_start_refused(end_time: str) -> None:
    ev = run("after_school_service", service(end_time=end_time))
    assert problems(ev) == {("end_time", "constraint")}
    assert "duration_minutes" not in ev.data


def test_service_duration_empty_without_a_time() -> None:
    ev = run("after_school_service", service(start_time=None))
    assert problems(ev) == {("start_time", "required")}
    assert "duration_minutes" not in ev.data


def test_service_teacher_not_in_roster_refused() -> None:
    ev = run("after_school_service", service(teachers=["T001", "T404"]))
    assert problems(ev) == {("teachers", "choice")}
    assert problems(run("after_school_service", service(teachers=[]))) == {("teachers", "required")}
    assert_ok(run("after_school_service", service(teachers="T002 T003")))


def test_service_provider_name_only_with_external_provider() -> None:
    ev = run("after_school_service", service(provider_name=None))
    assert problems(ev) == {("provider_name", "required")}
    ev = run("after_school_service", service(external_provider="no"))
    assert_ok(ev)
    assert "provider_name" not in ev.data


def test_service_incident_needs_a_note() -> None:
    ev = run("after_school_service", service(incident="incident"))
    assert problems(ev) == {("incident_note", "required")}
    note = "一名学生剪纸时划伤手指，校医现场处理，已通知家长。"
    assert_ok(run("after_school_service", service(incident="incident", incident_note=note)))


def test_service_other_rules() -> None:
    ev = run(
        "after_school_service", service(service_date="2026-11-30", grade="g10", fee_per_student=-5)
    )
    assert problems(ev) == {
        ("service_date", "constraint"),
        ("grade", "choice"),
        ("fee_per_student", "constraint"),
    }


def test_service_new_record_defaults() -> None:
    assert new_record(form("after_school_service")) == {
        "external_provider": "no",
        "incident": "normal",
    }


# -- dropout_followup ------------------------------------------------------------------------------


def followup(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "student_name": "马小军",
        "student_no": "G620102201203154321",
        "grade": "g8",
        "risk_type": ["aversion", "left_behind"],
        "status": "persuading",
        "contact_date": "2026-11-21",
        "contact_method": "home_visit",
        "measures": "班主任与村干部一同家访，与祖父母沟通，安排学业帮扶结对。",
        "responsible_teacher": "T002",
        "aid_received": ["living_subsidy", "nutrition"],
    }
    record.update(changes)
    return record


def test_followup_valid_record() -> None:
    ev = run("dropout_followup", followup())
    assert_ok(ev)
    assert ev.data["aid_received"] == ["living_subsidy", "nutrition"]
    assert_ok(run("dropout_followup", followup(student_no=None, aid_received=["none"])))


@pytest.mark.parametrize(
    "student_no", ["G6201 0220", "G620-102", "学籍G620102", "G620102\n", " G620102", "G620102。"]
)
def test_followup_bad_student_no_refused(student_no: str) -> None:
    ev = run("dropout_followup", followup(student_no=student_no))
    assert problems(ev) == {("student_no", "constraint")}


@pytest.mark.parametrize("aid", [["none", "nutrition"], "living_subsidy none"])
def test_followup_none_combined_with_aid_refused(aid: Any) -> None:
    ev = run("dropout_followup", followup(aid_received=aid))
    assert problems(ev) == {("aid_received", "constraint")}


def test_followup_contact_date() -> None:
    assert problems(run("dropout_followup", followup(contact_date="2026-12-01"))) == {
        ("contact_date", "constraint")
    }
    assert problems(run("dropout_followup", followup(contact_date=None))) == {
        ("contact_date", "required")
    }


def test_followup_responsible_teacher_from_roster() -> None:
    ev = run("dropout_followup", followup(responsible_teacher="张老师"))
    assert problems(ev) == {("responsible_teacher", "choice")}


# -- school_conditions -----------------------------------------------------------------------------


def conditions(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "semester": "2026-autumn",
        "classes": 24,
        "students": 1180,
        "teachers_count": 78,
        "large_classes": 3,
        "classrooms": 36,
        "classrooms_with_smartboard": 30,
        "network_coverage": "yes",
        "bandwidth_mbps": 500,
        "disabled_children_enrolled": 6,
    }
    record.update(changes)
    return record


def test_conditions_valid_record_and_rates() -> None:
    ev = run("school_conditions", conditions())
    assert_ok(ev)
    assert ev.data["smartboard_rate"] == pytest.approx(0.8333)
    assert ev.data["large_class_rate"] == pytest.approx(0.125)


def test_conditions_semester_list() -> None:
    names = form("school_conditions").choice_list("semester").names()
    assert names[0] == "2023-spring"
    assert names[-1] == "2027-autumn"
    assert len(names) == 10
    assert problems(run("school_conditions", conditions(semester="2028-spring"))) == {
        ("semester", "choice")
    }


def test_conditions_large_classes_more_than_classes_refused() -> None:
    ev = run("school_conditions", conditions(large_classes=25))
    assert problems(ev) == {("large_classes", "constraint")}
    assert_ok(run("school_conditions", conditions(large_classes=20)))


def test_conditions_large_classes_need_enough_students() -> None:
    # 10 classes of more than 55 need at least 560 students
    ev = run("school_conditions", conditions(students=559, large_classes=10))
    assert problems(ev) == {("large_classes", "constraint")}
    assert_ok(run("school_conditions", conditions(students=560, large_classes=10)))


def test_conditions_smartboards_more_than_classrooms_refused() -> None:
    ev = run("school_conditions", conditions(classrooms_with_smartboard=37))
    assert problems(ev) == {("classrooms_with_smartboard", "constraint")}
    ev = run("school_conditions", conditions(classrooms_with_smartboard=36))
    assert_ok(ev)
    assert ev.data["smartboard_rate"] == 1


def test_conditions_rates_empty_when_nothing_to_divide_by() -> None:
    record = conditions(
        classes=0,
        students=0,
        teachers_count=0,
        large_classes=0,
        classrooms=0,
        classrooms_with_smartboard=0,
        disabled_children_enrolled=0,
    )
    ev = run("school_conditions", record)
    assert_ok(ev)
    assert "smartboard_rate" not in ev.data
    assert "large_class_rate" not in ev.data


@pytest.mark.parametrize(
    "name",
    [
        "classes",
        "students",
        "teachers_count",
        "large_classes",
        "classrooms",
        "classrooms_with_smartboard",
        "bandwidth_mbps",
        "disabled_children_enrolled",
    ],
)
def test_conditions_no_negative_numbers(name: str) -> None:
    record = conditions(large_classes=0, classrooms_with_smartboard=0, disabled_children_enrolled=0)
    record[name] = -1
    found = problems(run("school_conditions", record))
    # a negative total also makes the part that must not exceed it (0 > -1) fail: that is fine
    assert (name, "constraint") in found
    assert {code for _, code in found} == {"constraint"}


def test_conditions_disabled_children_within_students() -> None:
    ev = run("school_conditions", conditions(disabled_children_enrolled=1181))
    assert problems(ev) == {("disabled_children_enrolled", "constraint")}


def test_conditions_counts_must_be_whole_numbers() -> None:
    ev = run("school_conditions", conditions(classes=24.5))
    assert problems(ev) == {("classes", "type")}


# -- teachers (the roster) -------------------------------------------------------------------------


def test_roster_valid_row() -> None:
    row = {
        "teacher_id": "T001",
        "name": "张丽华",
        "gender": "female",
        "subject": "语文",
        "title": "一级教师",
        "active": "yes",
    }
    ev = run("teachers", row)
    assert_ok(ev)
    assert ev.data == row


def test_roster_settings_and_default() -> None:
    s = form("teachers").settings
    assert (s.reference_value, s.reference_label) == ("teacher_id", "name")
    assert new_record(form("teachers")) == {"active": "yes"}


def test_roster_row_rules() -> None:
    ev = run("teachers", {"teacher_id": "T 001", "gender": "男", "active": "no"})
    assert problems(ev) == {
        ("teacher_id", "constraint"),
        ("name", "required"),
        ("gender", "choice"),
    }
