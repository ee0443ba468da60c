"""Choosing push batches (client.store.outbox): the unsent outbox read a page at a time by id, past what this
sync skips, one change per record, oldest first; the batch's body is the changes' JSON joined."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.store import records as R
from client.store import sync_state as S
from client.store.outbox import push_body
from tests.support.samples import inspection

NOW = dt.datetime(2026, 11, 28, 2, 0)
TODAY = dt.date(2026, 11, 28)
SAVED = 90  # more than a first page (limit + 64) for the limits below


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from client.clock import FixedClock
    from client.context import ClientContext
    from client.store.db import open_store
    from client.store.formset import FormSet

    folder: Path = tmp_path_factory.mktemp("push-batches")
    c = ClientContext(open_store(folder / "data"), FormSet.shipped(), FixedClock(NOW, TODAY))
    form = c.forms.get("safety_inspection")
    with c.store.Session.begin() as s:
        for i in range(SAVED):
            R.save_record(
                s,
                form=form,
                data=inspection(inspectors=f"检查员{i}"),
                submit=True,
                today=TODAY,
                now=NOW,
            )
    yield c
    c.close()


def _all(ctx: Any) -> list[Any]:
    with ctx.store.Session() as s:
        return S.pending_changes(s, limit=10_000, max_bytes=10**9)


def test_a_batch_reads_on_past_the_changes_this_sync_skips(ctx: Any) -> None:
    everything = _all(ctx)
    assert len(everything) == SAVED
    skipped = {c.op_id for c in everything[:80]}  # past the first page of 5 + 64
    with ctx.store.Session() as s:
        batch = S.pending_changes(s, limit=5, max_bytes=10**9, skip_ops=skipped)
        held = S.pending_changes(
            s, limit=5, max_bytes=10**9, skip_records={c.record_id for c in everything[:-2]}
        )
    assert [c.op_id for c in batch] == [c.op_id for c in everything[80:85]]
    assert [c.op_id for c in held] == [c.op_id for c in everything[-2:]]


def test_one_change_per_record_the_oldest_first(ctx: Any) -> None:
    first = _all(ctx)[0]
    with ctx.store.Session.begin() as s:
        R.save_record(
            s,
            form=ctx.forms.get("safety_inspection"),
            data=inspection(inspectors="改过"),
            submit=True,
            today=TODAY,
            now=NOW,
            record_id=first.record_id,
        )
    with ctx.store.Session() as s:
        batch = S.pending_changes(s, limit=3, max_bytes=10**9)
        later = S.pending_changes(s, limit=SAVED, max_bytes=10**9, skip_ops={first.op_id})
    assert [c.record_id for c in batch].count(first.record_id) == 1
    assert batch[0].op_id == first.op_id
    # A change answered this sync makes way for the record's next one, in outbox order (the newest: last).
    assert later[-1].record_id == first.record_id and later[-1].op_id != first.op_id
    assert len(later) == SAVED


def test_the_body_is_the_changes_json_and_the_size_limit_holds(ctx: Any) -> None:
    changes = _all(ctx)[:4]
    body = push_body(changes)
    assert body == json.dumps(
        {"changes": [c.wire() for c in changes]}, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")
    one = len(changes[0].wire_bytes) + 1
    with ctx.store.Session() as s:
        assert len(S.pending_changes(s, limit=10, max_bytes=one * 2 + 10)) == 2
        assert len(S.pending_changes(s, limit=10, max_bytes=1)) == 1  # always at least one
