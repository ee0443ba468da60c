"""Export -> import of the clerk's own file is an identity (issue 11, item 3): drafts come back as drafts,
unchanged rows stay unchanged (no revision, nothing queued for the bureau, statuses kept), and a refused
row is named by its label, its row and its record's status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from client.context import ClientContext
from client.excel import ImportFailed, export_records, import_file
from client.store.models import OutboxEntry, Record, Status
from tests.client import DATA_FORMS, make_ctx, populate, revisions, save, stored

ALL_FORMS = ["teachers", *DATA_FORMS]
A_DRAFT = {"inspection_date": "2026-11-21", "inspectors": "张伟"}  # most required answers missing


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


def queued(ctx: ClientContext) -> int:
    with ctx.store.Session() as s:
        return int(s.execute(select(func.count()).select_from(OutboxEntry)).scalar_one())


def statuses(ctx: ClientContext, form_id: str) -> dict[str, str]:
    with ctx.store.Session() as s:
        rows = s.execute(select(Record.id, Record.status).where(Record.form_id == form_id)).all()
    return {rid: status for rid, status in rows}


def received(ctx: ClientContext) -> None:
    """What a sync does: every queued change reached the bureau."""
    with ctx.store.Session.begin() as s:
        for record in s.execute(select(Record).where(Record.status == Status.SUBMITTED)).scalars():
            record.status = Status.RECEIVED
        for entry in s.execute(select(OutboxEntry)).scalars():
            entry.sent_at = entry.created_at


def column(ws, name: str) -> int:
    for cell in ws[2]:
        if cell.value == name:
            return int(cell.column)
    raise KeyError(name)


def test_reimporting_an_unchanged_export_changes_nothing(ctx: ClientContext, tmp_path: Path):
    ids = populate(ctx)
    draft = save(ctx, "safety_inspection", A_DRAFT, submit=False)
    received(ctx)  # the bureau has them all
    before = {f: (stored(ctx, f), revisions(ctx, f), statuses(ctx, f)) for f in ALL_FORMS}
    sent = queued(ctx)

    for form_id in ALL_FORMS:
        out = tmp_path / f"{form_id}.xlsx"
        export_records(ctx, form_id, out)
        result = import_file(ctx, form_id, out)
        expected = len(ids[form_id]) + (1 if form_id == "safety_inspection" else 0)
        assert (result.created, result.updated, result.unchanged) == (0, 0, expected), form_id
        assert (stored(ctx, form_id), revisions(ctx, form_id), statuses(ctx, form_id)) == before[
            form_id
        ]
    assert queued(ctx) == sent  # nothing would be sent again
    assert statuses(ctx, "safety_inspection")[draft] == Status.DRAFT


def test_a_draft_is_exported_marked_and_imported_back_as_a_draft(
    ctx: ClientContext, fresh: ClientContext, tmp_path: Path
):
    populate(ctx)
    draft = save(ctx, "safety_inspection", A_DRAFT, submit=False)
    out = tmp_path / "安全.xlsx"
    assert export_records(ctx, "safety_inspection", out) == 3
    ws = load_workbook(out).worksheets[0]
    row = next(r for r in range(3, 6) if ws.cell(r, 1).value == draft)
    assert ws.cell(row, column(ws, "_status")).value == "草稿"

    export_records(ctx, "teachers", tmp_path / "教师.xlsx")
    import_file(fresh, "teachers", tmp_path / "教师.xlsx")
    before = queued(fresh)
    result = import_file(fresh, "safety_inspection", out)
    assert (result.created, result.drafts) == (3, 1)
    assert statuses(fresh, "safety_inspection")[draft] == Status.DRAFT
    assert stored(fresh, "safety_inspection")[draft] == A_DRAFT
    assert queued(fresh) == before + 2  # the submitted two only: a draft is never sent


def test_only_a_changed_row_is_a_new_revision(ctx: ClientContext, tmp_path: Path):
    ids = populate(ctx)
    received(ctx)
    out = tmp_path / "条件.xlsx"
    export_records(ctx, "school_conditions", out)
    wb = load_workbook(out)
    ws = wb.worksheets[0]
    row = next(r for r in range(3, 5) if ws.cell(r, 1).value == ids["school_conditions"][1])
    ws.cell(row, column(ws, "students")).value = 806
    wb.save(out)
    sent = queued(ctx)
    result = import_file(ctx, "school_conditions", out)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    assert revisions(ctx, "school_conditions") == {
        ids["school_conditions"][0]: 1,
        ids["school_conditions"][1]: 2,
    }
    assert statuses(ctx, "school_conditions") == {
        ids["school_conditions"][0]: Status.RECEIVED,
        ids["school_conditions"][1]: Status.SUBMITTED,  # the correction goes to the bureau
    }
    assert queued(ctx) == sent + 1


def test_json_drafts_and_unchanged_records(ctx: ClientContext, tmp_path: Path):
    populate(ctx)
    received(ctx)
    records = [{"_uuid": rid, **data} for rid, data in stored(ctx, "school_conditions").items()]
    records.append({"_status": "draft", "semester": "2027-spring", "classes": 19})
    path = tmp_path / "条件.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    sent = queued(ctx)
    result = import_file(ctx, "school_conditions", path)
    assert (result.created, result.updated, result.unchanged, result.drafts) == (1, 0, 2, 1)
    assert queued(ctx) == sent
    assert sorted(statuses(ctx, "school_conditions").values()) == [
        Status.DRAFT,
        Status.RECEIVED,
        Status.RECEIVED,
    ]


def test_a_refused_row_is_named_by_label_row_and_status(ctx: ClientContext, tmp_path: Path):
    ids = populate(ctx)
    received(ctx)
    out = tmp_path / "安全.xlsx"
    export_records(ctx, "safety_inspection", out)
    wb = load_workbook(out)
    ws = wb.worksheets[0]
    row = next(r for r in range(3, 5) if ws.cell(r, 1).value == ids["safety_inspection"][1])
    ws.cell(row, column(ws, "hazards_found")).value = None
    wb.save(out)
    with pytest.raises(ImportFailed) as caught:
        import_file(ctx, "safety_inspection", out)
    err = caught.value
    assert f"第 {row} 行" in err.message_zh and "“是否发现隐患”" in err.message_zh
    assert "已送达" in err.message_zh  # the record's status
    assert "hazards_found" not in err.message_zh and "hazards_found" not in err.message_en
    assert f"row {row}" in err.message_en and "'Hazards found'" in err.message_en
    assert "received" in err.message_en


def test_json_problems_name_the_labels_of_the_path(fresh: ClientContext, tmp_path: Path):
    from tests.client import RECORDS

    bad = json.loads(json.dumps(RECORDS["safety_inspection"][0]))
    bad["hazards"][1]["deadline"] = "2026-11-01"  # before the inspection
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([bad], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportFailed) as caught:
        import_file(fresh, "safety_inspection", path)
    err = caught.value
    assert "第 1 条记录" in err.message_zh
    assert "“隐患清单”第 2 条的“整改期限”" in err.message_zh
    assert "hazards[1]" not in err.message_zh and "deadline" not in err.message_en.split(":")[0]
    assert "'Hazards' entry 2, 'Deadline'" in err.message_en
