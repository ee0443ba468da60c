"""Excel and JSON in and out: lossless round trips, text that stays text, all-or-nothing imports."""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from client.context import ClientContext
from client.excel import ExcelError, ImportFailed, export_records, import_file
from client.store.models import OutboxEntry, Record, Revision, Status
from client.store.records import roster
from tests.client import (
    DATA_FORMS,
    RECORDS,
    TEACHERS,
    make_ctx,
    populate,
    revisions,
    save,
    sha,
    stored,
)

ALL_FORMS = ["teachers", *DATA_FORMS]


@pytest.fixture
def ctx(tmp_path: Path):
    context = make_ctx(tmp_path / "school")
    yield context
    context.close()


@pytest.fixture
def fresh(tmp_path: Path):
    context = make_ctx(tmp_path / "other")
    yield context
    context.close()


def sheet_xml(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {
            n: z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/")
        }


def count(ctx: ClientContext, model: Any) -> int:
    with ctx.store.Session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def column(ws: Any, name: str) -> int:
    """1-based column of a field, found in the hidden names row."""
    for cell in ws[2]:
        if cell.value == name:
            return int(cell.column)
    raise KeyError(name)


# -- round trips ------------------------------------------------------------------------------------


def test_round_trip_of_every_form_is_lossless(
    ctx: ClientContext, fresh: ClientContext, tmp_path: Path
):
    ids = populate(ctx)
    files = {}
    for form_id in ALL_FORMS:
        files[form_id] = tmp_path / f"{form_id}.xlsx"
        assert export_records(ctx, form_id, files[form_id]) == len(ids[form_id])

    # into a fresh data folder: the roster first, as the other forms refer to it
    for form_id in ALL_FORMS:
        result = import_file(fresh, form_id, files[form_id])
        assert (result.created, result.updated) == (len(ids[form_id]), 0)
        assert stored(fresh, form_id) == stored(ctx, form_id), form_id
    hazards = next(d for d in stored(fresh, "safety_inspection").values() if d.get("hazards"))
    assert [h["location"] for h in hazards["hazards"]] == [
        "食堂后厨",
        "教学楼三楼配电箱",
        "操场西侧围墙",
    ]
    assert hazards["open_count"] == 2  # calculations are worked out again, not read from the sheet

    # into the same folder again: the same records, unchanged (no duplicates, no new revision)
    before = {f: stored(ctx, f) for f in ALL_FORMS}
    for form_id in ALL_FORMS:
        result = import_file(ctx, form_id, files[form_id])
        assert (result.created, result.updated, result.unchanged) == (0, 0, len(ids[form_id]))
        assert sorted(result.record_ids) == sorted(ids[form_id])
        assert stored(ctx, form_id) == before[form_id]
        assert set(revisions(ctx, form_id).values()) == {1}
    assert count(ctx, Record) == sum(len(v) for v in ids.values())


def test_layout_labels_dates_choices_and_repeat_sheets(ctx: ClientContext, tmp_path: Path):
    populate(ctx)
    out = tmp_path / "安全.xlsx"
    export_records(ctx, "safety_inspection", out)
    wb = load_workbook(out)
    assert wb.sheetnames == ["校园安全隐患排查整治记录", "隐患清单", "_meta"]
    main, hazards, meta = wb.worksheets
    assert meta.sheet_state == "hidden"
    assert main.freeze_panes == "A3" and main.row_dimensions[2].hidden
    assert [c.value for c in main[1]][:4] == ["记录编号", "排查日期", "排查类型", "专项内容"]
    assert [c.value for c in main[2]][:3] == ["_uuid", "inspection_date", "inspection_type"]
    assert [c.value for c in main[2]][-2:] == ["_status", "_updated_at"]
    assert main.column_dimensions["A"].width >= 36
    row = next(
        r for r in main.iter_rows(min_row=3) if r[column(main, "hazards_found") - 1].value == "是"
    )
    values = {main.cell(2, c.column).value: c for c in row}
    assert values["inspection_date"].value == dt.datetime(2026, 11, 20)
    assert values["inspection_date"].number_format == "yyyy-mm-dd"
    assert values["inspection_type"].value == "月度排查"
    assert values["areas"].value == "食堂、消防设施、用电线路"
    assert values["hazard_count"].value == 3 and values["_status"].value == "待发送"
    assert [c.value for c in hazards[2]][:3] == ["_uuid", "_index", "category"]
    rows = list(hazards.iter_rows(min_row=3, values_only=True))
    assert [(r[0], r[1]) for r in rows] == [(values["_uuid"].value, i) for i in (1, 2, 3)]
    assert rows[0][2] == "消防" and rows[0][5] == "重大"


def test_roster_names_times_and_numbers(ctx: ClientContext, tmp_path: Path):
    populate(ctx)
    out = tmp_path / "课后.xlsx"
    export_records(ctx, "after_school_service", out)
    ws = load_workbook(out).worksheets[0]
    by_grade = {}
    for row in ws.iter_rows(min_row=3):
        cells = {ws.cell(2, c.column).value: c for c in row}
        by_grade[cells["grade"].value] = cells
    basic = by_grade["三年级"]
    assert (
        basic["teachers"].value == "张伟、王芳（T004）"
    )  # the same name twice: the id tells them apart
    assert (
        basic["start_time"].value == dt.time(16, 30)
        and basic["start_time"].number_format == "hh:mm"
    )
    assert basic["enrolled"].value == 45 and basic["enrolled"].data_type == "n"
    assert by_grade["五年级"]["start_time"].value == dt.time(16, 30, 30)
    assert by_grade["五年级"]["fee_per_student"].value == 1.5


def test_formula_like_text_stays_text(ctx: ClientContext, fresh: ClientContext, tmp_path: Path):
    tricky = {
        "inspectors": '=HYPERLINK("http://x")',
        "signed_by": "+1",
        "remarks": "-2",
    }
    hazard_text = {
        "location": "@a",
        "description": "\tx",
        "measures": "\r回车开头\r\n第二行",
        "responsible_person": "#N/A",
    }
    record = {**RECORDS["safety_inspection"][0], **tricky}
    record["hazards"] = [{**record["hazards"][0], **hazard_text}]
    rid = save(ctx, "safety_inspection", record)
    rid2 = save(
        ctx,
        "safety_inspection",
        {**RECORDS["safety_inspection"][1], "remarks": "_x0041_ 与 \x07 控制符"},
    )
    out = tmp_path / "tricky.xlsx"
    export_records(ctx, "safety_inspection", out)

    for name, xml in sheet_xml(out).items():
        assert not re.search(r"<f[ >]", xml), name  # no formula anywhere
    wb = load_workbook(out)
    main, hazards = wb.worksheets[0], wb.worksheets[1]
    row = next(r for r in main.iter_rows(min_row=3) if r[0].value == rid)
    for name, text in tricky.items():
        cell = row[column(main, name) - 1]
        assert cell.value == text and cell.data_type == "s"
        assert cell.quotePrefix  # Excel keeps it text even when the clerk edits the cell
    entry = next(hazards.iter_rows(min_row=3))
    for name in ("location", "description"):
        cell = entry[column(hazards, name) - 1]
        assert cell.value == hazard_text[name] and cell.data_type == "s"
    assert entry[column(hazards, "responsible_person") - 1].data_type == "s"  # not an error cell

    import_file(fresh, "safety_inspection", out)
    assert stored(fresh, "safety_inspection")[rid] == stored(ctx, "safety_inspection")[rid]
    assert (
        stored(fresh, "safety_inspection")[rid]["hazards"][0]["measures"] == "\r回车开头\r\n第二行"
    )
    assert stored(fresh, "safety_inspection")[rid2]["remarks"] == "_x0041_ 与 \x07 控制符"


def test_export_filters_by_period_and_status(ctx: ClientContext, tmp_path: Path):
    ids = populate(ctx)
    draft = save(
        ctx,
        "safety_inspection",
        {"inspection_date": "2026-11-27", "inspectors": "陈刚"},
        submit=False,
    )
    out = tmp_path / "f.xlsx"
    assert export_records(ctx, "safety_inspection", out, period="2026-11") == 2
    assert export_records(ctx, "safety_inspection", out, statuses=[Status.DRAFT]) == 1
    assert load_workbook(out).worksheets[0].cell(3, 1).value == draft
    assert (
        export_records(ctx, "safety_inspection", out, period="2026-10", statuses=["submitted"]) == 1
    )
    assert load_workbook(out).worksheets[0].cell(3, 1).value in ids["safety_inspection"]
    with pytest.raises(ExcelError, match="2026-11"):
        export_records(ctx, "safety_inspection", out, period="2026年11月")
    with pytest.raises(ExcelError, match="没有填报周期"):
        export_records(ctx, "teacher_ethics", out, period="2026-11")
    with pytest.raises(ExcelError, match="未知的状态"):
        export_records(ctx, "safety_inspection", out, statuses=["done"])
    with pytest.raises(ExcelError, match="没有表单"):
        export_records(ctx, "nope", out)


# -- refusals ---------------------------------------------------------------------------------------


def test_an_invalid_row_aborts_the_whole_import(
    ctx: ClientContext, fresh: ClientContext, tmp_path: Path
):
    populate(ctx)
    out = tmp_path / "安全.xlsx"
    export_records(ctx, "safety_inspection", out)
    wb = load_workbook(out)
    main, hazards = wb.worksheets[0], wb.worksheets[1]
    main.cell(4, column(main, "signed_by")).value = None
    hazards.cell(3, column(hazards, "severity")).value = "特别重大"
    wb.save(out)

    with pytest.raises(ImportFailed) as caught:
        import_file(fresh, "safety_inspection", out)
    err = caught.value
    first_line = f"{err.message_zh} / {err.message_en}"
    assert "\n" not in first_line
    assert "安全.xlsx" in err.message_zh and "第 4 行" in err.message_zh
    assert "“负责人”为必填项" in err.message_zh and "共 2 个问题" in err.message_zh
    assert (
        "row 4" in err.message_en
        and "'Signed by'" in err.message_en
        and "required" in err.message_en
    )
    assert "signed_by" not in err.message_zh + err.message_en  # labels, never machine names
    second = err.problems[1]
    assert (second.sheet, second.row, second.field) == ("隐患清单", 3, "severity")
    assert "特别重大" in second.message_zh
    assert (
        count(fresh, Record) == 0 and count(fresh, Revision) == 0 and count(fresh, OutboxEntry) == 0
    )

    before = revisions(ctx, "safety_inspection")
    with pytest.raises(ImportFailed):
        import_file(ctx, "safety_inspection", out)
    assert revisions(ctx, "safety_inspection") == before


def test_ambiguous_teacher_name_is_an_error(
    ctx: ClientContext, fresh: ClientContext, tmp_path: Path
):
    populate(ctx)
    out = tmp_path / "师德.xlsx"
    export_records(ctx, "teacher_ethics", out)
    roster_file = tmp_path / "名册.xlsx"
    export_records(ctx, "teachers", roster_file)
    wb = load_workbook(out)
    ws = wb.worksheets[0]
    ws.cell(3, column(ws, "teacher")).value = "王芳"
    wb.save(out)
    import_file(fresh, "teachers", roster_file)
    with pytest.raises(ImportFailed) as caught:
        import_file(fresh, "teacher_ethics", out)
    err = caught.value
    assert err.total == 1
    assert (
        "第 3 行" in err.message_zh
        and "“教师”" in err.message_zh
        and "王芳（T003）" in err.message_zh
    )
    assert "'Teacher'" in err.message_en
    assert stored(fresh, "teacher_ethics") == {}


def test_accepted_records_cannot_be_changed_by_an_import(ctx: ClientContext, tmp_path: Path):
    ids = populate(ctx)
    out = tmp_path / "条件.xlsx"
    export_records(ctx, "school_conditions", out)
    with ctx.store.Session.begin() as s:
        s.get(Record, ids["school_conditions"][0]).status = Status.ACCEPTED  # type: ignore[union-attr]
    result = import_file(ctx, "school_conditions", out)  # unchanged: nothing to refuse
    assert (result.updated, result.unchanged) == (0, 2)

    wb = load_workbook(out)
    ws = wb.worksheets[0]
    row = next(r for r in range(3, 5) if ws.cell(r, 1).value == ids["school_conditions"][0])
    ws.cell(row, column(ws, "students")).value = 999
    wb.save(out)
    before = revisions(ctx, "school_conditions")
    with pytest.raises(ImportFailed, match="已确认"):
        import_file(ctx, "school_conditions", out)
    assert revisions(ctx, "school_conditions") == before


def test_unreadable_and_foreign_files_are_refused(ctx: ClientContext, tmp_path: Path):
    populate(ctx)
    bad = tmp_path / "坏.xlsx"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(ExcelError, match="无法读取"):
        import_file(ctx, "safety_inspection", bad)
    other = tmp_path / "other.xlsx"
    export_records(ctx, "school_conditions", other)
    with pytest.raises(ExcelError, match="school_conditions"):
        import_file(ctx, "safety_inspection", other)
    with pytest.raises(ExcelError, match="找不到文件"):
        import_file(ctx, "safety_inspection", tmp_path / "missing.xlsx")
    csv = tmp_path / "a.csv"
    csv.write_text("x", encoding="utf-8")
    with pytest.raises(ExcelError, match=r"\.xlsx 或 \.json"):
        import_file(ctx, "safety_inspection", csv)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"inspectors": "张伟",}]', encoding="utf-8")
    with pytest.raises(ExcelError, match="第 1 行"):
        import_file(ctx, "safety_inspection", broken)


def test_unknown_columns_and_orphan_repeat_rows_are_reported(
    ctx: ClientContext, fresh: ClientContext, tmp_path: Path
):
    populate(ctx)
    out = tmp_path / "安全.xlsx"
    export_records(ctx, "safety_inspection", out)
    wb = load_workbook(out)
    main, hazards = wb.worksheets[0], wb.worksheets[1]
    main.cell(1, 20).value = "我的备注"
    main.cell(3, 20).value = "自己加的列"
    hazards.cell(5, 1).value = "00000000-0000-4000-8000-000000000000"
    wb.save(out)
    with pytest.raises(ImportFailed) as caught:
        import_file(fresh, "safety_inspection", out)
    texts = [p.text_zh for p in caught.value.problems]
    assert any("无法识别的列“我的备注”" in t for t in texts)
    assert any("隐患清单" in t and "第 5 行" in t and "主表中没有" in t for t in texts)
    assert count(fresh, Record) == 0


# -- other layouts and JSON -------------------------------------------------------------------------


def test_a_sheet_with_chinese_labels_only_imports(
    ctx: ClientContext, fresh: ClientContext, tmp_path: Path
):
    """A sheet a clerk retyped: labels in row 1, no hidden names row, no _meta sheet."""
    populate(ctx)
    out = tmp_path / "课后.xlsx"
    export_records(ctx, "teachers", tmp_path / "t.xlsx")
    export_records(ctx, "after_school_service", out)
    src = load_workbook(out).worksheets[0]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for i, row in enumerate(src.iter_rows(values_only=True)):
        if i != 1:  # skip the names row
            ws.append(list(row))
    plain = tmp_path / "手工.xlsx"
    wb.save(plain)
    import_file(fresh, "teachers", tmp_path / "t.xlsx")
    result = import_file(fresh, "after_school_service", plain)
    assert result.created == 2
    assert stored(fresh, "after_school_service") == stored(ctx, "after_school_service")


def test_json_import_accepts_the_conventions(fresh: ClientContext, tmp_path: Path):
    given = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
    safety = [
        {
            "_uuid": given,
            "inspection_date": "2026-11-21",
            "inspection_type": "routine",
            "inspectors": "张伟",
            "areas": "canteen dormitory",  # XLSForm's space-separated select_multiple
            "hazards_found": "yes",
            "hazards": [
                {
                    "category": "food",
                    "location": "食堂仓库",
                    "description": "部分食材未标注进货日期",
                    "severity": "general",
                    "measures": "逐一登记并张贴标签",
                    "responsible_person": "食堂管理员",
                    "deadline": "2026-11-30",
                    "status": "open",
                }
            ],
            "signed_by": "赵校长",
        },
        {
            "inspection_date": "2026-11-22",
            "inspection_type": "pre_holiday",
            "inspectors": "李娜",
            "areas": ["gate"],
            "hazards_found": "no",
            "signed_by": "赵校长",
        },
    ]
    path = tmp_path / "safety.json"
    path.write_text(json.dumps(safety, ensure_ascii=False), encoding="utf-8")
    result = import_file(fresh, "safety_inspection", path)
    assert result.created == 2 and given in result.record_ids
    data = stored(fresh, "safety_inspection")
    assert data[given]["areas"] == ["canteen", "dormitory"]
    assert data[given]["hazard_count"] == 1 and len(data) == 2

    conditions = [
        {
            "semester": "2026-autumn",
            "classes": "18",
            "students": "820",
            "teachers_count": "52",
            "large_classes": "2",
            "classrooms": "30",
            "classrooms_with_smartboard": "26",
            "network_coverage": "yes",
            "bandwidth_mbps": "300.5",
            "disabled_children_enrolled": "3",
        }
    ]
    path = tmp_path / "conditions.json"
    path.write_text(json.dumps(conditions), encoding="utf-8")
    import_file(fresh, "school_conditions", path)
    (record,) = stored(fresh, "school_conditions").values()
    assert record["classes"] == 18 and record["bandwidth_mbps"] == 300.5
    assert record["smartboard_rate"] == round(26 / 30, 4)

    # re-importing the same JSON leaves the record that has an id as it is; a change updates it
    path = tmp_path / "again.json"
    path.write_text(json.dumps(safety[:1], ensure_ascii=False), encoding="utf-8")
    result = import_file(fresh, "safety_inspection", path)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)
    assert revisions(fresh, "safety_inspection")[given] == 1
    safety[0]["inspectors"] = "张伟、李娜、王芳"
    path.write_text(json.dumps(safety[:1], ensure_ascii=False), encoding="utf-8")
    result = import_file(fresh, "safety_inspection", path)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    assert revisions(fresh, "safety_inspection")[given] == 2


def test_json_errors_name_index_and_field(fresh: ClientContext, tmp_path: Path):
    good = dict(RECORDS["safety_inspection"][0])
    bad = json.loads(json.dumps(good))
    bad["hazards"][1]["deadline"] = "2026-11-01"  # before the inspection
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([good, bad, "not a record"], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportFailed) as caught:
        import_file(fresh, "safety_inspection", path)
    err = caught.value
    assert err.total == 2
    assert "第 2 条记录" in err.message_zh and "“隐患清单”第 2 条的“整改期限”" in err.message_zh
    assert "整改期限不能早于排查日期" in err.message_zh
    assert "record 2" in err.message_en and "'Hazards' entry 2, 'Deadline'" in err.message_en
    assert err.problems[0].field == "hazards[1].deadline"  # the machine path, for scripts
    assert err.problems[1].index == 2
    assert count(fresh, Record) == 0


# -- the roster -------------------------------------------------------------------------------------


def test_roster_exports_and_imports_the_same_way(fresh: ClientContext, tmp_path: Path):
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["工号", "姓名", "性别", "任教学科", "职称", "在职"])
    for t in TEACHERS:
        gender = {"male": "男", "female": "女"}[t["gender"]]
        ws.append(
            [
                t["teacher_id"],
                t["name"],
                gender,
                t["subject"],
                t.get("title"),
                "是" if t["active"] == "yes" else "否",
            ]
        )
    hand = tmp_path / "名册.xlsx"
    wb.save(hand)
    assert import_file(fresh, "teachers", hand).created == 5
    with fresh.store.Session() as s:
        ref = roster(s)
    assert ref.items["T003"] == "王芳" and ref.inactive == frozenset({"T005"})
    assert sorted(stored(fresh, "teachers").values(), key=lambda d: d["teacher_id"]) == TEACHERS

    out = tmp_path / "export.xlsx"
    assert export_records(fresh, "teachers", out) == 5
    sheet = load_workbook(out).worksheets[0]
    assert sheet.title == "教师名册"
    assert [c.value for c in sheet[1]][:7] == [
        "记录编号",
        "工号",
        "姓名",
        "性别",
        "任教学科",
        "职称",
        "在职",
    ]
    assert {r[3] for r in sheet.iter_rows(min_row=3, values_only=True)} == {"男", "女"}

    # the hand-made file again (no _uuid): matched by teacher id, never duplicated, unchanged
    result = import_file(fresh, "teachers", hand)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 5)
    assert set(revisions(fresh, "teachers").values()) == {1}
    ws.cell(2, 5).value = "高级教师"  # T001's title changes
    wb.save(hand)
    result = import_file(fresh, "teachers", hand)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 4)
    ws.cell(2, 5).value = TEACHERS[0]["title"]

    ws.append(["T001", "张伟", "男", "语文", None, "是"])
    wb.save(hand)
    with pytest.raises(ImportFailed, match="工号“T001”与第 2 行重复"):
        import_file(fresh, "teachers", hand)


def test_images_and_files_keep_their_content_address(
    ctx: ClientContext, fresh: ClientContext, tmp_path: Path
):
    populate(ctx)
    out = tmp_path / "师德.xlsx"
    export_records(ctx, "teachers", tmp_path / "t.xlsx")
    export_records(ctx, "teacher_ethics", out)
    sheet = load_workbook(out)["附件"]
    assert sha("assessment.pdf") in {r[2] for r in sheet.iter_rows(min_row=3, values_only=True)}
    import_file(fresh, "teachers", tmp_path / "t.xlsx")
    import_file(fresh, "teacher_ethics", out)
    notes = [
        item.get("attachment_note")
        for data in stored(fresh, "teacher_ethics").values()
        for item in data.get("attachments", [])
    ]
    assert sorted(n for n in notes if n) == ["2025-2026学年师德考核表", "处理决定"]


# -- what the shipped forms do not have -------------------------------------------------------------

EDGE_FORM = """
settings:
  form_id: edge_cases
  version: '1'
  title: {zh: '检查/记录[测试]:一个很长很长很长很长很长很长很长很长的表单标题', en: Edge cases}
survey:
  - type: note
    name: intro
    label: {zh: 请如实填写, en: Fill in truthfully}
  - type: group
    name: basics
    label: {zh: 基本情况, en: Basics}
    children:
      - type: datetime
        name: happened_at
        label: {zh: 发生时间, en: When}
      - type: select_multiple tags
        name: tags
        label: {zh: 标签, en: Tags}
      - type: integer
        name: big
        label: {zh: 大数, en: Big number}
      - type: decimal
        name: precise
        label: {zh: 精确数, en: Precise number}
  - type: repeat
    name: rooms
    label: {zh: 房间, en: Rooms}
    children:
      - type: text
        name: room
        label: {zh: 房间号, en: Room}
      - type: repeat
        name: items
        label: {zh: 物品, en: Items}
        children:
          - type: text
            name: item
            label: {zh: 物品名称, en: Item}
          - type: select_one tags
            name: kind
            label: {zh: 类别, en: Kind}
choices:
  tags:
    - {name: a, label: {zh: 甲、乙, en: A}}
    - {name: b, label: {zh: 丙, en: B}}
    - {name: c, label: {zh: 丙, en: C}}
    - {name: d, label: {zh: 丁, en: D}}
"""


def test_groups_notes_datetimes_nested_repeats_and_awkward_labels(tmp_path: Path):
    from client.clock import FixedClock
    from client.store.db import open_store
    from client.store.formset import FormSet
    from forms.loader import load_yaml_text
    from tests.client import NOW, TODAY

    form = load_yaml_text(EDGE_FORM)
    forms = FormSet({form.form_id: form}, {(form.form_id, form.version): form})
    one = ClientContext(open_store(tmp_path / "one"), forms, FixedClock(NOW, TODAY))
    two = ClientContext(open_store(tmp_path / "two"), forms, FixedClock(NOW, TODAY))
    try:
        record = {
            "happened_at": "2026-11-20T08:30:00+08:00",
            "tags": ["a", "c", "d"],
            "big": 12345678901234567,
            "precise": 0.1 + 0.2,
            "rooms": [
                {
                    "room": "101",
                    "items": [{"item": "灭火器", "kind": "b"}, {"item": "电扇", "kind": "a"}],
                },
                {"room": "102"},
                {"room": "103", "items": [{"item": "=1+1", "kind": "d"}]},
            ],
        }
        save(one, "edge_cases", record)
        out = tmp_path / "edge.xlsx"
        export_records(one, "edge_cases", out)
        wb = load_workbook(out)
        titles = [ws.title for ws in wb.worksheets]
        assert titles[1:] == ["房间", "物品", "_meta"]
        assert titles[0].startswith("检查_记录_测试__一个很长") and len(titles[0]) == 31
        main = wb.worksheets[0]
        names = [c.value for c in main[2]]
        assert "intro" not in names and "happened_at" in names  # notes left out, groups flattened
        cells = {n: main.cell(3, i + 1).value for i, n in enumerate(names)}
        assert (
            cells["happened_at"] == "2026-11-20T08:30:00+08:00"
        )  # as text: Excel has no time zones
        assert cells["tags"] == "a、c、丁"  # labels that would not read back are written as names
        assert cells["big"] == "12345678901234567"
        items = list(wb.worksheets[2].iter_rows(min_row=3, values_only=True))
        assert [r[1] for r in items] == ["1.1", "1.2", "3.1"]
        import_file(two, "edge_cases", out)
        assert stored(two, "edge_cases") == stored(one, "edge_cases")
    finally:
        one.close()
        two.close()


def test_text_too_long_for_a_cell_is_refused_and_leaves_no_file(ctx: ClientContext, tmp_path: Path):
    record = {**RECORDS["safety_inspection"][1], "remarks": "长" * 40_000}
    save(ctx, "safety_inspection", record)
    out = tmp_path / "out" / "long.xlsx"
    out.parent.mkdir()
    with pytest.raises(ExcelError, match="32767"):
        export_records(ctx, "safety_inspection", out)
    assert list(out.parent.iterdir()) == []
