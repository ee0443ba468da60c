"""The 待办 queries: returned records, open and overdue hazards, what is due, and the hazard follow-up."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from client.context import ClientContext
from client.store import todo
from client.store.models import OutboxEntry, Record, Status
from client.store.records import StoreError, delete_record, get_record, revisions
from tests.store.todo_data import hazard, inspection, save, set_status

TODAY = dt.date(2026, 11, 28)


def open_list(ctx: ClientContext) -> list[todo.HazardItem]:
    with ctx.store.Session() as s:
        return todo.open_hazards(s, today=ctx.clock.today())


def outbox_revisions(ctx: ClientContext, record_id: str) -> list[int]:
    with ctx.store.Session() as s:
        return [
            e.revision
            for e in s.execute(
                select(OutboxEntry)
                .where(OutboxEntry.record_id == record_id)
                .order_by(OutboxEntry.id)
            ).scalars()
        ]


def two_hazard_inspection(ctx: ClientContext, **kw: object) -> str:
    data = inspection(
        "2026-11-20",
        [
            hazard(
                location="图书室", deadline="2026-11-25", severity="general"
            ),  # overdue by 3 days
            hazard(location="校门口", deadline="2026-12-15", status="in_progress"),
        ],
    )
    return save(ctx, "safety_inspection", data, **kw).record_id  # type: ignore[arg-type]


# -- returned records -------------------------------------------------------------------------------------


def test_returned_records_with_the_bureaus_comment_count(ctx: ClientContext):
    returned = two_hazard_inspection(ctx)
    other = two_hazard_inspection(ctx)
    gone = two_hazard_inspection(ctx)
    set_status(
        ctx,
        returned,
        Status.RETURNED,
        {"inspectors": "请写全名", "hazards": ["照片不清楚", "期限不对"]},
    )
    set_status(ctx, gone, Status.RETURNED, {"signed_by": "?"})
    with ctx.store.Session.begin() as s:
        delete_record(s, gone, now=ctx.clock.now())
    with ctx.store.Session() as s:
        items = todo.returned_records(s)
    assert [i.record_id for i in items] == [returned]
    assert items[0].comment_count == 3
    assert items[0].form_id == "safety_inspection" and items[0].record_date == "2026-11-20"
    assert (
        items[0].summary and "2026-11-20" not in items[0].summary
    )  # the date has a column of its own
    assert other not in [i.record_id for i in items]


def test_count_comments_shapes():
    assert todo.count_comments(None) == 0
    assert todo.count_comments({}) == 0
    assert todo.count_comments({"a": "x", "b": ""}) == 1
    assert todo.count_comments({"a": ["x", "y"], "b": {"c": "z"}}) == 3
    assert todo.count_comments("请修改") == 1


# -- hazards ----------------------------------------------------------------------------------------------


def test_open_and_overdue_hazards_across_inspections(ctx: ClientContext):
    first = two_hazard_inspection(ctx)
    closed = save(
        ctx,
        "safety_inspection",
        inspection(
            "2026-11-02",
            [
                hazard(
                    location="食堂",
                    deadline="2026-11-10",
                    status="rectified",
                    rectified_date="2026-11-08",
                )
            ],
        ),
    ).record_id
    draft = save(
        ctx,
        "safety_inspection",
        inspection("2026-11-26", [hazard(location="宿舍", deadline="2026-11-27")]),
        submit=False,
    ).record_id
    no_hazards = save(ctx, "safety_inspection", inspection("2026-11-03", [])).record_id

    items = open_list(ctx)
    assert {(h.record_id, h.location) for h in items} == {
        (first, "图书室"),
        (first, "校门口"),
        (draft, "宿舍"),  # a hazard written in a draft is real too
    }
    assert closed not in {h.record_id for h in items} and no_hazards not in {
        h.record_id for h in items
    }
    # Overdue first, most overdue first; then the rest by deadline.
    assert [(h.location, h.overdue, h.days_overdue) for h in items] == [
        ("图书室", True, 3),
        ("宿舍", True, 1),
        ("校门口", False, 0),
    ]
    library = items[0]
    assert library.index == 0 and library.status == "open" and library.category == "fire"
    assert library.inspection_date == "2026-11-20" and library.revision == 1
    assert items[2].index == 1 and items[2].status == "in_progress"
    with ctx.store.Session() as s:
        assert [h.location for h in todo.overdue_hazards(s, today=TODAY)] == ["图书室", "宿舍"]
        # The day the deadline falls is not overdue yet.
        assert [h.location for h in todo.overdue_hazards(s, today=dt.date(2026, 11, 25))] == []


def test_deleted_inspections_and_other_forms_are_left_out(ctx: ClientContext):
    rid = two_hazard_inspection(ctx)
    with ctx.store.Session.begin() as s:
        delete_record(s, rid, now=ctx.clock.now())
    assert open_list(ctx) == []


def test_a_draft_that_says_no_hazards_hides_a_leftover_list(ctx: ClientContext):
    data = inspection("2026-11-20", [hazard()])
    data["hazards_found"] = "no"
    save(ctx, "safety_inspection", data, submit=False)
    assert open_list(ctx) == []


# -- hazard follow-up -------------------------------------------------------------------------------------


def follow_up(
    ctx: ClientContext, record_id: str, index: int, status: str, day: dt.date | None, **kw: object
):
    with ctx.store.Session.begin() as s:
        return todo.update_hazard(
            s,
            forms=ctx.forms,
            record_id=record_id,
            index=index,
            status=status,
            rectified_date=day,
            rectified_photo=kw.pop("photo", None),  # type: ignore[arg-type]
            today=ctx.clock.today(),
            now=ctx.clock.now(),
            **kw,  # type: ignore[arg-type]
        )


def test_rectifying_a_hazard_saves_a_new_revision_and_closes_it(ctx: ClientContext):
    rid = two_hazard_inspection(ctx)
    result = follow_up(
        ctx, rid, 0, "rectified", dt.date(2026, 11, 27), photo="ab" * 32, expected_revision=1
    )
    assert result.revision == 2 and result.status == Status.SUBMITTED
    with ctx.store.Session() as s:
        record = get_record(s, rid)
        h = record.data["hazards"][0]
        assert h["status"] == "rectified" and h["rectified_date"] == "2026-11-27"
        assert h["rectified_photo"] == "ab" * 32
        assert record.data["open_count"] == 1 and record.data["hazard_count"] == 2
        assert record.data["hazards"][1]["location"] == "校门口"  # the other hazard untouched
        assert [r.revision for r in revisions(s, rid)] == [1, 2]
        assert revisions(s, rid)[0].data["hazards"][0]["status"] == "open"  # history kept
    assert outbox_revisions(ctx, rid) == [1, 2]
    assert [h.location for h in open_list(ctx)] == ["校门口"]


def test_follow_up_of_a_draft_keeps_it_a_draft(ctx: ClientContext):
    rid = two_hazard_inspection(ctx, submit=False)
    result = follow_up(ctx, rid, 1, "verified", dt.date(2026, 11, 28))
    assert result.status == Status.DRAFT and result.revision == 2
    assert outbox_revisions(ctx, rid) == []
    assert [h.location for h in open_list(ctx)] == ["图书室"]


def test_follow_up_reopens_an_accepted_inspection(ctx: ClientContext):
    rid = two_hazard_inspection(ctx)
    set_status(ctx, rid, Status.ACCEPTED)
    result = follow_up(ctx, rid, 0, "rectified", dt.date(2026, 11, 26))
    assert result.status == Status.SUBMITTED and result.revision == 2
    assert outbox_revisions(ctx, rid) == [1, 2]
    with ctx.store.Session() as s:
        assert s.get(Record, rid).status == Status.SUBMITTED  # type: ignore[union-attr]


def test_back_to_in_progress_clears_the_rectified_answers(ctx: ClientContext):
    rid = two_hazard_inspection(ctx)
    follow_up(ctx, rid, 0, "rectified", dt.date(2026, 11, 27), photo="cd" * 32)
    follow_up(ctx, rid, 0, "in_progress", None)
    with ctx.store.Session() as s:
        h = get_record(s, rid).data["hazards"][0]
    assert h["status"] == "in_progress" and "rectified_date" not in h and "rectified_photo" not in h


@pytest.mark.parametrize(
    ("status", "day", "kw", "message"),
    [
        ("rectified", None, {}, "请填写整改完成日期"),
        ("rectified", dt.date(2026, 11, 29), {}, "不能晚于今天"),
        ("verified", dt.date(2026, 11, 19), {}, "不能早于排查日期"),
        ("fixed", dt.date(2026, 11, 27), {}, "未知的整改状态"),
        ("rectified", dt.date(2026, 11, 27), {"index": 5}, "找不到这条隐患"),
        ("rectified", dt.date(2026, 11, 27), {"expected_revision": 7}, "刚被修改过"),
    ],
)
def test_refused_follow_ups_change_nothing(ctx: ClientContext, status, day, kw, message):
    rid = two_hazard_inspection(ctx)
    index = kw.pop("index", 0)
    with pytest.raises(StoreError) as info:
        follow_up(ctx, rid, index, status, day, **kw)
    assert message in info.value.message_zh
    with ctx.store.Session() as s:
        assert get_record(s, rid).revision == 1
    assert len(open_list(ctx)) == 2


def test_only_inspections_have_hazards(ctx: ClientContext):
    rid = save(ctx, "teachers", {"teacher_id": "T1", "name": "王明", "active": "yes"}).record_id
    with pytest.raises(StoreError):
        follow_up(ctx, rid, 0, "rectified", TODAY)


# -- due this period --------------------------------------------------------------------------------------


def due(ctx: ClientContext) -> dict[str, todo.DueItem]:
    with ctx.store.Session() as s:
        return {d.form_id: d for d in todo.due_this_period(s, ctx.forms.periodic(), today=TODAY)}


def test_due_this_period_per_periodic_form(ctx: ClientContext):
    items = due(ctx)
    assert set(items) == {"safety_inspection", "after_school_service", "school_conditions"}
    monthly = items["safety_inspection"]
    assert (monthly.key, monthly.start, monthly.end) == (
        "2026-11",
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 30),
    )
    assert not monthly.done and monthly.drafts == 0
    assert items["after_school_service"].key == "2026-W48"
    assert items["school_conditions"].key == "2026-autumn"

    save(ctx, "safety_inspection", inspection("2026-10-30", []))  # last month: does not count
    save(ctx, "safety_inspection", inspection("2026-11-05", []), submit=False)
    monthly = due(ctx)["safety_inspection"]
    assert not monthly.done and monthly.drafts == 1

    rid = save(ctx, "safety_inspection", inspection("2026-11-06", [])).record_id
    monthly = due(ctx)["safety_inspection"]
    assert monthly.done and monthly.reported == 1
    with ctx.store.Session.begin() as s:
        delete_record(s, rid, now=ctx.clock.now())
    assert not due(ctx)["safety_inspection"].done
    accepted = save(ctx, "safety_inspection", inspection("2026-11-07", [])).record_id
    set_status(ctx, accepted, Status.ACCEPTED)
    assert due(ctx)["safety_inspection"].reported == 1
