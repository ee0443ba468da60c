"""Autosave updates the draft in place; a revision is what the clerk saved or submitted (issue 11, item 9:
修订 18-20 after one edit)."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from client.context import ClientContext
from client.store.models import OutboxEntry, Record, Revision, Status
from client.ui.editor import RecordEditor
from client.ui.tasks import TaskManager
from tests.ui.test_editor import click, fill_inspection_top, open_editor, type_into

from .conftest import save


def revision_rows(ctx: ClientContext, record_id: str) -> list[tuple[int, str, dict]]:
    with ctx.store.Session() as s:
        rows = s.execute(
            select(Revision.revision, Revision.status, Revision.data)
            .where(Revision.record_id == record_id)
            .order_by(Revision.revision)
        ).all()
    return [(r, st, dict(d)) for r, st, d in rows]


def record(ctx: ClientContext, record_id: str) -> tuple[int, str, dict]:
    with ctx.store.Session() as s:
        r = s.get(Record, record_id)
        assert r is not None
        return r.revision, r.status, dict(r.data)


def autosave(qtbot: QtBot, editor: RecordEditor) -> None:
    with qtbot.waitSignal(editor.saved, timeout=3000):
        editor._autosave()


@pytest.fixture
def fast_autosave(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RecordEditor, "autosave_ms", 60_000)  # the test says when


def test_autosaves_of_a_new_draft_are_one_revision_until_the_clerk_saves(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager, fast_autosave: None
) -> None:
    editor = open_editor(qtbot, ctx, tasks)
    for text in ("张", "张伟", "张伟、李"):
        type_into(qtbot, editor, "inspectors", text=text)
        autosave(qtbot, editor)
    record_id = editor.record_id()
    assert record_id is not None
    assert [r for r, _, _ in revision_rows(ctx, record_id)] == [1]
    assert record(ctx, record_id)[2]["inspectors"] == "张伟、李"  # nothing typed is lost

    type_into(qtbot, editor, "inspectors", text="张伟、李娜")
    with qtbot.waitSignal(editor.saved, timeout=3000):
        click(qtbot, editor.save_button)  # 保存草稿: what the clerk saved
    rows = revision_rows(ctx, record_id)
    assert [(r, st) for r, st, _ in rows] == [(1, Status.DRAFT)]
    assert rows[0][2]["inspectors"] == "张伟、李娜"

    # Typing after 保存草稿: autosaves make one new revision, leaving the saved one as it was.
    for text in ("赵", "赵校长"):
        type_into(qtbot, editor, "signed_by", text=text)
        autosave(qtbot, editor)
    rows = revision_rows(ctx, record_id)
    assert [r for r, _, _ in rows] == [1, 2]
    assert "signed_by" not in rows[0][2] and rows[1][2]["signed_by"] == "赵校长"
    assert record(ctx, record_id)[0] == 2


def test_one_edit_of_a_saved_draft_is_one_revision(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager, fast_autosave: None
) -> None:
    record_id = save(ctx, "safety_inspection", {"inspectors": "张伟"})
    editor = open_editor(qtbot, ctx, tasks, record_id=record_id)
    for text in ("张伟、", "张伟、李", "张伟、李娜"):
        type_into(qtbot, editor, "inspectors", text=text)
        autosave(qtbot, editor)
    with qtbot.waitSignal(editor.closed, timeout=3000):
        click(qtbot, editor.close_button)
    assert [r for r, _, _ in revision_rows(ctx, record_id)] == [1, 2]
    assert record(ctx, record_id)[:2] == (2, Status.DRAFT)
    assert record(ctx, record_id)[2]["inspectors"] == "张伟、李娜"


def test_submitting_after_autosaves_is_one_new_revision_and_one_change_to_send(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager, fast_autosave: None
) -> None:
    editor = open_editor(qtbot, ctx, tasks)
    fill_inspection_top(qtbot, editor)
    autosave(qtbot, editor)
    editor.set_value(("hazards_found",), "no")
    autosave(qtbot, editor)
    with qtbot.waitSignal(editor.submitted, timeout=3000):
        click(qtbot, editor.submit_button)
    record_id = editor.record_id()
    assert record_id is not None
    assert [(r, st) for r, st, _ in revision_rows(ctx, record_id)] == [
        (1, Status.DRAFT),
        (2, Status.SUBMITTED),
    ]
    with ctx.store.Session() as s:
        queued = s.execute(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.record_id == record_id)
        ).scalar_one()
    assert queued == 1


def test_submitting_a_sent_record_unchanged_sends_nothing_again(
    qtbot: QtBot, ctx: ClientContext, tasks: TaskManager
) -> None:
    from tests.store.todo_data import inspection, set_status

    record_id = save(ctx, "safety_inspection", inspection("2026-11-20", []), submit=True)
    set_status(ctx, record_id, Status.RECEIVED)
    editor = open_editor(qtbot, ctx, tasks, record_id=record_id)
    click(qtbot, editor.submit_button)  # 提交修改 with nothing changed
    tasks.wait()
    assert record(ctx, record_id)[:2] == (1, Status.RECEIVED)
    assert "没有修改" in editor.banner_text()
