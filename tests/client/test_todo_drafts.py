"""A deadline the form refuses does not make a draft's hazard overdue (issue 11): typed into a draft that is
not yet submitted (the editor autosaves it), a deadline before the inspection (a slip of the year) or one
that is not a date is shown as needing correction, never counted as an overdue hazard."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.context import ClientContext
from client.store import todo
from tests.client import TODAY, make_ctx, save
from tests.store.todo_data import hazard, inspection


@pytest.fixture
def ctx(tmp_path: Path):
    context = make_ctx(tmp_path / "school")
    yield context
    context.close()


def hazards(ctx: ClientContext) -> list[todo.HazardItem]:
    with ctx.store.Session() as s:
        return todo.open_hazards(s, today=TODAY, forms=ctx.forms)


def test_a_draft_deadline_the_form_refuses_is_not_overdue(ctx: ClientContext):
    save(
        ctx,
        "safety_inspection",
        inspection(
            "2026-11-20",
            [
                hazard(location="食堂", deadline="2025-11-25"),  # the year mistyped
                hazard(location="宿舍", deadline="2026-11-3"),  # still being typed
                hazard(location="图书室", deadline="2026-11-24"),  # a real deadline, passed
            ],
        ),
        submit=False,
    )
    by_place = {h.location: h for h in hazards(ctx)}
    assert not by_place["食堂"].overdue and by_place["食堂"].deadline_invalid
    assert not by_place["宿舍"].overdue and by_place["宿舍"].deadline_invalid
    assert by_place["图书室"].overdue and not by_place["图书室"].deadline_invalid
    assert by_place["图书室"].days_overdue == 4
    with ctx.store.Session() as s:
        overdue = todo.overdue_hazards(s, today=TODAY, forms=ctx.forms)
    assert [h.location for h in overdue] == ["图书室"]


def test_submitted_inspections_are_judged_as_before(ctx: ClientContext):
    save(
        ctx,
        "safety_inspection",
        inspection("2026-11-20", [hazard(location="食堂", deadline="2026-11-25")]),
    )
    [item] = hazards(ctx)
    assert item.overdue and item.days_overdue == 3 and not item.deadline_invalid
