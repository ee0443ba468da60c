"""The local store as the clerk's actions use it: drafts, submits, corrections, tombstones, search."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from client.context import ClientContext
from client.store import records as R
from client.store.models import OutboxEntry, Record, Revision, Status
from tests.store.conftest import NOW, TODAY, inspection
from tests.support.after_school import after_school


def save(ctx: ClientContext, form_id: str, data: dict, **kw: object) -> R.SaveResult:
    with ctx.store.Session.begin() as s:
        return R.save_record(s, form=ctx.forms.get(form_id), data=data, today=TODAY, now=NOW, **kw)  # type: ignore[arg-type]


def outbox(ctx: ClientContext, record_id: str) -> list[OutboxEntry]:
    with ctx.store.Session() as s:
        return list(
            s.execute(select(OutboxEntry).where(OutboxEntry.record_id == record_id)).scalars()
        )


def test_pragmas_are_set(ctx: ClientContext):
    with ctx.store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_draft_is_local_only_and_may_be_incomplete(ctx: ClientContext):
    res = save(ctx, "safety_inspection", {"inspection_date": "2026-11-20", "inspectors": "张伟"})
    assert res.status == Status.DRAFT and res.revision == 1
    assert {p.path_str for p in res.problems} >= {"inspection_type", "signed_by"}
    assert outbox(ctx, res.record_id) == []


def test_submit_writes_revision_and_outbox_together(ctx: ClientContext):
    res = save(ctx, "safety_inspection", inspection(), submit=True)
    assert res.status == Status.SUBMITTED and res.problems == []
    [entry] = outbox(ctx, res.record_id)
    assert entry.revision == 1 and entry.kind == "upsert" and entry.sent_at is None
    with ctx.store.Session() as s:
        rec = R.get_record(s, res.record_id)
        assert rec.data["hazard_count"] == 1 and rec.data["open_count"] == 1
        assert rec.period == "2026-11" and rec.record_date == "2026-11-20"
        assert [r.revision for r in R.revisions(s, res.record_id)] == [1]


def test_invalid_submit_saves_nothing(ctx: ClientContext):
    bad = inspection()
    bad["hazards"][0]["deadline"] = "2026-11-30"  # type: ignore[index]  # serious: more than 7 days
    with pytest.raises(R.ValidationFailed) as info:
        save(ctx, "safety_inspection", bad, submit=True)
    assert info.value.problems[0].path == ("hazards", 0, "deadline")
    assert "hazards[0].deadline" in info.value.message_en
    with ctx.store.Session() as s:
        assert s.execute(select(func.count()).select_from(Record)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(OutboxEntry)).scalar_one() == 0


def test_correction_is_a_new_revision_and_stays_submitted(ctx: ClientContext):
    first = save(ctx, "safety_inspection", inspection(), submit=True)
    fixed = inspection(remarks="已补充")
    second = save(ctx, "safety_inspection", fixed, record_id=first.record_id)  # not asked to submit
    assert second.revision == 2 and second.status == Status.SUBMITTED
    with ctx.store.Session() as s:
        revs = R.revisions(s, first.record_id)
        assert [r.revision for r in revs] == [1, 2]
        assert "remarks" not in revs[0].data and revs[1].data["remarks"] == "已补充"
    assert [e.revision for e in outbox(ctx, first.record_id)] == [1, 2]
    with pytest.raises(R.ValidationFailed):
        save(ctx, "safety_inspection", inspection(signed_by=""), record_id=first.record_id)


def test_accepted_record_is_locked(ctx: ClientContext):
    res = save(ctx, "safety_inspection", inspection(), submit=True)
    with ctx.store.Session.begin() as s:
        s.get(Record, res.record_id).status = Status.ACCEPTED  # type: ignore[union-attr]
    with pytest.raises(R.RecordLocked):
        save(ctx, "safety_inspection", inspection(), record_id=res.record_id)
    with pytest.raises(R.RecordLocked), ctx.store.Session.begin() as s:
        R.delete_record(s, res.record_id, now=NOW)


def test_delete_is_a_tombstone(ctx: ClientContext):
    draft = save(ctx, "safety_inspection", {"inspectors": "张伟"})
    sent = save(ctx, "safety_inspection", inspection(), submit=True)
    with ctx.store.Session.begin() as s:
        R.delete_record(s, draft.record_id, now=NOW)
        R.delete_record(s, sent.record_id, now=NOW)
    with ctx.store.Session() as s:
        assert s.get(Record, draft.record_id).deleted  # type: ignore[union-attr]
        assert R.count_records(s, R.RecordFilter("safety_inspection")) == 0
        assert R.count_records(s, R.RecordFilter("safety_inspection", search="食堂后厨")) == 0
        last = R.revisions(s, sent.record_id)[-1]
        assert last.deleted and last.revision == 2
    assert outbox(ctx, draft.record_id) == []
    assert [e.kind for e in outbox(ctx, sent.record_id)] == ["upsert", "delete"]
    with pytest.raises(R.RecordNotFound), ctx.store.Session() as s:
        R.get_record(s, sent.record_id)


def test_chinese_substring_search(ctx: ClientContext):
    save(ctx, "safety_inspection", inspection(), submit=True)
    other = inspection(inspectors="陈刚")
    other["hazards"][0]["location"] = "教学楼三层"  # type: ignore[index]
    save(ctx, "safety_inspection", other, submit=True)
    with ctx.store.Session() as s:

        def n(q: str) -> int:
            return R.count_records(s, R.RecordFilter("safety_inspection", search=q))

        assert n("食堂后厨") == 1  # 3+ characters: trigram index
        assert n("后厨") == 1  # 2 characters: LIKE fallback on the same table
        assert n("教学楼") == 1
        assert n("消防") == 2  # a choice label (category fire) is searchable
        assert n("赵校长 陈刚") == 1  # every word must match
        assert n('50%_"x') == 0


def test_list_sort_filter_and_counts(ctx: ClientContext):
    for day in ("2026-11-01", "2026-11-15", "2026-10-20"):
        save(
            ctx,
            "safety_inspection",
            inspection(inspection_date=day, hazards_found="no"),
            submit=True,
        )
    save(ctx, "safety_inspection", {"inspection_date": "2026-11-27"})
    with ctx.store.Session() as s:
        flt = R.RecordFilter("safety_inspection")
        rows = R.list_records(s, flt, sort="record_date", descending=False)
        assert [r.record_date for r in rows] == [
            "2026-10-20",
            "2026-11-01",
            "2026-11-15",
            "2026-11-27",
        ]
        only = R.RecordFilter(
            "safety_inspection",
            statuses=(Status.SUBMITTED,),
            date_from="2026-11-01",
            date_to="2026-11-30",
        )
        assert R.count_records(s, only) == 2
        assert len(R.list_records(s, flt, offset=1, limit=2)) == 2
        assert R.status_counts(s)["safety_inspection"] == {"submitted": 3, "draft": 1}
        assert R.pending_outbox(s) == 3


def test_roster_teacher_ids_are_unique(ctx: ClientContext):
    save(ctx, "teachers", {"teacher_id": "T001", "name": "张丽", "active": "yes"}, submit=True)
    with pytest.raises(R.StoreError) as info:
        save(ctx, "teachers", {"teacher_id": "T001", "name": "李强", "active": "yes"}, submit=True)
    assert "T001" in info.value.message_zh
    with ctx.store.Session() as s:
        ref = R.roster(s)
        assert dict(ref.items) == {"T001": "张丽"}


def test_roster_unique_index_holds_even_without_the_check(ctx: ClientContext):
    save(ctx, "teachers", {"teacher_id": "T009", "name": "张丽", "active": "yes"}, submit=True)
    with pytest.raises(Exception, match="UNIQUE"), ctx.store.Session.begin() as s:
        s.execute(
            text(
                "INSERT INTO records (id, form_id, form_version, data, status, revision, summary, created_at, "
                "updated_at, deleted) VALUES ('x', 'teachers', '1', '{\"teacher_id\": \"T009\"}', 'draft', 1, '', "
                "'2026-01-01', '2026-01-01', 0)"
            )
        )


def test_roster_names_shown_and_checked(ctx: ClientContext):
    save(ctx, "teachers", {"teacher_id": "T001", "name": "张丽", "active": "yes"}, submit=True)
    save(ctx, "teachers", {"teacher_id": "T002", "name": "王强", "active": "no"}, submit=True)
    with ctx.store.Session() as s:
        assert R.roster(s).inactive == frozenset({"T002"})
    data = after_school(teachers=["T001", "T002"])
    res = save(ctx, "after_school_service", data, submit=True)
    with ctx.store.Session() as s:
        assert R.count_records(s, R.RecordFilter("after_school_service", search="王强")) == 1
        assert R.get_record(s, res.record_id).data["duration_minutes"] == 90
    with pytest.raises(R.ValidationFailed) as info:
        save(ctx, "after_school_service", {**data, "teachers": ["T404"]}, submit=True)
    assert info.value.problems[0].code == "choice"


def test_new_context_on_same_folder_sees_everything(ctx: ClientContext):
    res = save(ctx, "safety_inspection", inspection(), submit=True)
    data_dir = ctx.store.data_dir
    ctx.close()
    again = ClientContext.open(data_dir)
    try:
        with again.store.Session() as s:
            assert R.get_record(s, res.record_id).data["inspectors"] == "张伟、李娜"
    finally:
        again.close()


def test_revision_rows_are_unique(ctx: ClientContext):
    res = save(ctx, "safety_inspection", inspection(), submit=True)
    with pytest.raises(Exception, match="UNIQUE"), ctx.store.Session.begin() as s:
        s.add(
            Revision(
                record_id=res.record_id,
                revision=1,
                form_version="x",
                data={},
                status="draft",
                deleted=False,
                saved_at=NOW,
            )
        )
