"""The store side of the sync, on a real SQLite store: pulled pages apply with their cursor or not at all."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from client.clock import FixedClock
from client.context import ClientContext
from client.store import records as R
from client.store import sync_state as S
from client.store.db import open_store
from client.store.formset import FormSet
from client.store.models import OutboxEntry, Record, Revision, Status, SyncRecord
from tests.sync.conftest import NOW, TODAY, inspection


@pytest.fixture
def ctx(tmp_path: Path, formset: FormSet) -> Iterator[ClientContext]:
    c = ClientContext(open_store(tmp_path / "data"), formset, FixedClock(NOW, TODAY))
    yield c
    c.close()


def pulled(record_id: str, revision: int, status: str, **data: object) -> dict[str, object]:
    return {
        "seq": revision,
        "type": "record",
        "record_id": record_id,
        "form_id": "safety_inspection",
        "form_version": "2026.1",
        "server_revision": revision,
        "status": status,
        "review_comments": {"signed_by": "请签字"} if status == "returned" else {},
        "data": inspection(**data),
    }


def apply(ctx: ClientContext, changes: list[dict[str, object]], cursor: int) -> S.PullOutcome:
    with ctx.store.Session.begin() as s:
        return S.apply_pull_page(
            s, formset=ctx.forms, changes=changes, cursor=cursor, definitions={}, now=NOW
        )


def test_a_page_applies_with_its_cursor_and_a_broken_item_becomes_a_problem(ctx: ClientContext):
    """Issue 9: one item that cannot be applied no longer holds back the page or the cursor; it is kept as
    a PULL issue with the item (a failure of the store itself still rolls the page back: test_bad_forms)."""
    good = str(uuid.uuid4())
    broken = {"seq": 2, "type": "record", "record_id": str(uuid.uuid4())}  # no revision
    outcome = apply(ctx, [pulled(good, 1, "received"), broken], cursor=2)
    assert outcome.applied == 1 and len(outcome.problems) == 1
    with ctx.store.Session() as s:
        assert S.get_cursor(s) == 2 and s.get(Record, good).status == Status.RECEIVED
        assert s.get(Record, broken["record_id"]) is None
        (issue,) = S.open_pull_issues(s)
        assert issue.record_id == broken["record_id"] and issue.details["item"] == broken

    outcome = apply(ctx, [pulled(good, 2, "returned")], cursor=7)
    assert outcome.applied == 1
    with ctx.store.Session() as s:
        assert S.get_cursor(s) == 7 and s.get(Record, good).status == Status.RETURNED


def test_a_return_replaces_data_only_when_nothing_is_waiting_to_go(ctx: ClientContext):
    with ctx.store.Session.begin() as s:
        quiet = R.save_record(
            s,
            form=ctx.forms.get("safety_inspection"),
            data=inspection(),
            submit=True,
            today=TODAY,
            now=NOW,
        ).record_id
        busy = R.save_record(
            s,
            form=ctx.forms.get("safety_inspection"),
            data=inspection(),
            submit=True,
            today=TODAY,
            now=NOW,
        ).record_id
        # quiet's change reached the server; busy's did not
        for e in s.execute(select(OutboxEntry).where(OutboxEntry.record_id == quiet)).scalars():
            e.sent_at = NOW

    outcome = apply(
        ctx,
        [
            pulled(quiet, 2, "returned", remarks="教育局补充"),
            pulled(busy, 2, "returned", remarks="教育局补充"),
        ],
        cursor=2,
    )

    assert [c["record_id"] for c in outcome.conflicts] == [busy]
    with ctx.store.Session() as s:
        q, b = s.get(Record, quiet), s.get(Record, busy)
        assert (q.status, q.data["remarks"], q.review_comments) == (
            Status.RETURNED,
            "教育局补充",
            {"signed_by": "请签字"},
        )
        assert [r.revision for r in R.revisions(s, quiet)] == [
            1,
            2,
        ]  # the server's data, a new revision
        assert (b.status, b.data.get("remarks")) == (
            Status.RETURNED,
            None,
        )  # the clerk's data stays
        (issue,) = S.open_issues(s)
        assert (
            issue.kind == "conflict" and issue.details["server"]["data"]["remarks"] == "教育局补充"
        )
        assert (
            s.execute(select(Revision).where(Revision.record_id == busy))
            .scalars()
            .all()[-1]
            .revision
            == 1
        )

    # An older state arriving late changes nothing.
    apply(ctx, [pulled(quiet, 1, "received")], cursor=3)
    with ctx.store.Session() as s:
        assert s.get(Record, quiet).status == Status.RETURNED


def test_keeping_the_servers_version_of_a_conflict_replaces_the_local_one_and_sends_nothing(
    ctx: ClientContext,
):
    with ctx.store.Session.begin() as s:
        rid = R.save_record(
            s,
            form=ctx.forms.get("safety_inspection"),
            data=inspection(remarks="本机改的"),
            submit=True,
            today=TODAY,
            now=NOW,
        ).record_id
    apply(ctx, [pulled(rid, 2, "returned", remarks="教育局改的")], cursor=2)
    with ctx.store.Session() as s:
        (issue,) = S.open_issues(s)

    with ctx.store.Session.begin() as s:
        assert (
            S.resolve_conflict(
                s, forms=ctx.forms, issue_id=issue.id, data=None, today=TODAY, now=NOW
            )
            is None
        )

    with ctx.store.Session() as s:
        record = s.get(Record, rid)
        assert (record.data["remarks"], record.status) == ("教育局改的", Status.RETURNED)
        assert [r.data["remarks"] for r in R.revisions(s, rid)] == ["本机改的", "教育局改的"]
        assert S.pending_count(s) == 0 and S.open_issues(s) == []
        assert s.get(SyncRecord, rid).server_revision == 2
