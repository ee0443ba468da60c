"""The form engine's check of a push made before its turn at the writer (services.push.precheck, issue 14
goal 3): used only when the transaction finds the very FormDef object it was made with, else the batch
checks the data itself. Real SQLite database with the shipped forms, the real service."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from forms.engine import Evaluation
from sync_server import models as M
from sync_server.json_text import dumps
from sync_server.services import push
from sync_server.services.push import ChangeIn, parse_batch, precheck
from sync_server.state import get_state
from tests.server.conftest import LiveServer, change
from tests.support.samples import inspection


def _apply(live: LiveServer, changes: list[ChangeIn], checked: Any) -> list[dict[str, Any]]:
    dev = live.device()
    state = get_state(live.app)
    now = live.clock()
    local_now = (now + dt.timedelta(hours=8)).replace(tzinfo=None)
    from sync_server.services.schools import device_by_token

    with state.db.Session.begin() as session:
        info = device_by_token(session, dev.token)
        assert info is not None
        batch, results = push.apply_batch(
            session,
            device=info,
            changes=changes,
            now=now,
            today=local_now.date(),
            local_now=local_now,
            forms=state.forms,
            prechecked=checked(changes, local_now),
        )
        batch.finish()
    return results


def _stored(live: LiveServer, record_id: str) -> dict[str, Any]:
    rec = live.record(record_id)
    assert rec is not None
    data: dict[str, Any] = rec.data
    return data


def test_a_precheck_is_used_for_the_same_form_object_and_ignored_for_another(
    live_sqlite: LiveServer,
) -> None:
    live = live_sqlite
    first = parse_batch({"changes": [change(inspection())]}, max_changes=10)
    assert _apply(live, first, lambda c, t: {})[0]["result"] == "applied"  # the form is now known
    form = get_state(live.app).forms.by_version("safety_inspection", "2026.1")
    assert form is not None

    def doctored(form_used: Any) -> Any:
        def make(changes: list[ChangeIn], local_now: dt.datetime) -> Any:
            made = precheck(
                changes,
                today=local_now.date(),
                local_now=local_now,
                forms=get_state(live.app).forms,
            )
            out = {}
            for key, pre in made.items():
                ev = Evaluation({**pre.evaluation.data, "inspectors": "预先检查"}, [])
                out[key] = push._Prechecked(form_used, ev, dumps(ev.data))
            return out

        return make

    # the same FormDef object: its evaluation is what the batch stores
    same = parse_batch({"changes": [change(inspection())]}, max_changes=10)
    assert _apply(live, same, doctored(form))[0]["result"] == "applied"
    assert _stored(live, same[0].record_id)["inspectors"] == "预先检查"

    # another FormDef object (a version published again, another database): the batch checks anew
    other_form = dataclasses.replace(form)
    assert other_form is not form
    other = parse_batch({"changes": [change(inspection())]}, max_changes=10)
    assert _apply(live, other, doctored(other_form))[0]["result"] == "applied"
    assert _stored(live, other[0].record_id)["inspectors"] == "张伟、李娜"


def test_pushes_checked_before_their_turn_store_what_the_engine_says(live: LiveServer) -> None:
    """Through the API on both databases: the second batch of a form is checked before its turn; its
    records are stored coerced exactly as the first batch's, and invalid data is still rejected."""
    dev = live.device()
    batches = []
    for _ in range(2):
        good = change(inspection())
        bad = change(inspection(inspection_date="not a date"))
        batches.append((good, bad))
        results = dev.push_ok([good, bad])
        assert [r["result"] for r in results] == ["applied", "rejected"]
        assert results[1]["reason"] == "invalid"
    (g1, _), (g2, _) = batches
    assert _stored(live, g1["record_id"]) == _stored(live, g2["record_id"])
    assert live.count(M.Record) == 2
    assert uuid.UUID(g2["record_id"])
