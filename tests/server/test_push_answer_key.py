"""A push's answer is stored with its idempotency key as sent (the text put together around the cursor,
made before the change counter is taken): the stored text is the answer
the device got, in the server's JSON form, its cursor the counter after the push's changes. Real SQLite
and PostgreSQL."""

from __future__ import annotations

import json

import sqlalchemy as sa

from sync_server import models as M
from sync_server.json_text import dumps
from tests.server.conftest import LiveServer, change
from tests.support.samples import inspection


def test_the_stored_answer_is_the_answer_sent_and_its_cursor_the_counter(live: LiveServer) -> None:
    device = live.device()
    changes = [change(inspection(inspectors=f"张伟{i}")) for i in range(5)]
    r = device.push(changes, key="answer-key-1")
    assert r.status_code == 200, r.text
    sent = r.content.decode("utf-8")
    body = json.loads(sent)
    assert [x["result"] for x in body["results"]] == ["applied"] * 5
    with live.session() as s:
        stored = s.execute(
            sa.select(M.IdempotencyKey.response, M.IdempotencyKey.status_code).where(
                M.IdempotencyKey.key == "answer-key-1"
            )
        ).one()
        counter = s.execute(sa.select(M.ChangeCounter.value)).scalar_one()
        ids = [c["record_id"] for c in changes]
        seqs = s.execute(sa.select(M.Change.seq).where(M.Change.record_id.in_(ids))).scalars().all()
    assert stored.status_code == 200
    assert stored.response == dumps(body) == sent
    assert body["cursor"] == counter == max(seqs)
    assert sorted(seqs) == list(range(counter - 4, counter + 1))
    again = device.push(changes, key="answer-key-1")
    assert again.content.decode("utf-8") == sent
    assert again.headers.get("Idempotent-Replayed") == "true"
