"""Compact push answers (issue 14, protocol 1.14): asked with `Sync-Push-Answer: compact`, the answer lists
per change only what differs from `applied` at the next revision, in the batch's order, without the two UUIDs
of each change; without the header (an older client) the answer is the full form, as before."""

from __future__ import annotations

import gzip
import json
import re
import uuid
from typing import Any

import requests

from client.store.outbox import push_results
from tests.server.conftest import Device, LiveServer, change
from tests.support.samples import inspection


def _post(
    dev: Device, changes: list[dict[str, Any]], *, key: str, compact: bool
) -> requests.Response:
    headers = {"Idempotency-Key": key, "Content-Type": "application/json; charset=utf-8"}
    if compact:
        headers["Sync-Push-Answer"] = "compact"
    body = json.dumps({"changes": changes}, ensure_ascii=False).encode()
    r = dev.http.post(dev.url("/api/v1/push"), data=body, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r


def _mixed_batch(dev: Device) -> list[dict[str, Any]]:
    """A batch whose answer holds every common outcome: new, updated, deleted, returned-kept, duplicate,
    conflict, rejected."""
    old = change(inspection(remarks="旧"))
    stale = change(inspection(remarks="会冲突"))
    gone = change(inspection(remarks="将删除"))
    dev.push_ok([old, stale, gone])
    other = dev.server.device(dev.school_code, name="二号机")
    other.push_ok([change(inspection(remarks="别人先改"), record_id=stale["record_id"], base=1)])
    bad = inspection()
    bad["inspectors"] = ""  # required
    return [
        change(inspection(remarks="新")),  # applied at 1
        change(inspection(remarks="改"), record_id=old["record_id"], base=1, revision=2),  # at 2
        change(record_id=gone["record_id"], kind="delete", base=1, revision=2),  # deleted at 2
        old,  # its op id was applied before: duplicate
        change(inspection(remarks="旧底"), record_id=stale["record_id"], base=1, revision=2),
        change(bad),  # rejected invalid
        change(inspection(), form_id="no_such_form"),  # rejected unknown_form
    ]


def test_an_older_client_gets_the_full_answer_and_a_newer_one_the_compact_form_of_the_same(
    live: LiveServer,
) -> None:
    dev = live.device()
    batch = _mixed_batch(dev)
    key = str(uuid.uuid4())

    compact = _post(dev, batch, key=key, compact=True)
    full = _post(dev, batch, key=key, compact=False)  # the same batch again: the stored answer

    assert full.headers["Idempotent-Replayed"] == "true"
    full_body = full.json()
    assert [r["result"] for r in full_body["results"]] == [
        "applied",
        "applied",
        "applied",
        "duplicate",
        "conflict",
        "rejected",
        "rejected",
    ]
    assert all(r["op_id"] == c["op_id"] for r, c in zip(full_body["results"], batch, strict=True))
    body = compact.json()
    assert "results" not in body and body["cursor"] == full_body["cursor"]
    items = body["compact_results"]
    assert items[0] is None and items[1] is None and items[2] is None  # applied as expected
    assert items[3] == {"result": "duplicate", "server_revision": 1, "status": "received"}
    assert items[4]["result"] == "conflict" and items[4]["server"]["data"]["remarks"] == "别人先改"
    assert items[5]["result"] == "rejected" and items[5]["reason"] == "invalid"
    assert not any("op_id" in i or "record_id" in i for i in items if i is not None)
    # The client reads the compact form back into exactly the full one.
    assert push_results(body, batch) == full_body["results"]
    assert push_results(full_body, batch) == full_body["results"]  # an older server's answer


def test_a_replayed_batch_asked_compact_gets_the_same_bytes(live: LiveServer) -> None:
    dev = live.device()
    batch = [change(inspection(remarks=str(i))) for i in range(5)]
    key = str(uuid.uuid4())
    first = _post(dev, batch, key=key, compact=True)
    again = _post(dev, batch, key=key, compact=True)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert first.json()["compact_results"] == [None] * 5


def test_an_applied_change_off_the_default_says_only_what_differs(live: LiveServer) -> None:
    dev = live.device()
    first = change(inspection(remarks="一"))
    dev.push_ok([first])
    # The client lost the answer and made another change on the same base: applied on top, revision 2,
    # though its base says 0 + 1.
    on_top = change(inspection(remarks="二"), record_id=first["record_id"], revision=2)
    r = _post(dev, [on_top], key=str(uuid.uuid4()), compact=True)
    [item] = r.json()["compact_results"]
    assert item == {"server_revision": 2}
    expanded_all = push_results(r.json(), [on_top])
    assert expanded_all is not None
    [expanded] = expanded_all
    assert expanded == {
        "op_id": on_top["op_id"],
        "record_id": on_top["record_id"],
        "result": "applied",
        "server_revision": 2,
        "status": "received",
    }


def test_compact_answers_of_200_new_records_carry_no_uuid_and_shrink_over_20_times(
    live: LiveServer,
) -> None:
    dev = live.device()
    batch = [change(inspection(inspectors=f"检查员{i}")) for i in range(200)]
    key = str(uuid.uuid4())
    compact = _post(dev, batch, key=key, compact=True)
    full = _post(dev, batch, key=key, compact=False)
    assert all(c["op_id"] not in compact.text for c in batch)
    small, big = len(gzip.compress(compact.content, 9)), len(gzip.compress(full.content, 9))
    assert small * 20 < big, (small, big)


def test_another_value_of_the_header_is_refused_before_anything_is_applied(
    live: LiveServer,
) -> None:
    dev = live.device()
    c = change(inspection())
    r = dev.http.post(
        dev.url("/api/v1/push"),
        json={"changes": [c]},
        headers={"Idempotency-Key": str(uuid.uuid4()), "Sync-Push-Answer": "tiny"},
        timeout=30,
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "bad_header" and error["details"] == {"header": "Sync-Push-Answer"}
    assert "Sync-Push-Answer" in error["message_zh"] and "compact or full" in error["message_en"]
    full = dev.http.post(
        dev.url("/api/v1/push"),
        json={"changes": [c]},
        headers={"Idempotency-Key": str(uuid.uuid4()), "Sync-Push-Answer": "full"},
        timeout=30,
    )
    assert full.status_code == 200 and full.json()["results"][0]["result"] == "applied"


def test_op_ids_of_one_prefix_and_a_counter_are_taken_beside_uuids_exactly_once(
    live: LiveServer,
) -> None:
    """Protocol 1.17: a 1.17 client's op ids (client.store.op_ids: a run's prefix, a dash, a counter) and a
    1.16 client's UUIDs in one batch; each applied once, and the same changes in another batch are
    duplicates. The server's rule for op ids is unchanged (any text of 1-64), so an older server takes
    them as this one does."""
    from client.store.op_ids import new_op_id

    dev = live.device()
    batch = [change(op_id=new_op_id()), change(), change(op_id=new_op_id())]
    # Not UUIDs: one 32-hex prefix, a dash and a counter (its length depends on how many ids this process
    # made before, so only the shape is asserted).
    assert all(re.fullmatch(r"[0-9a-f]{32}-[0-9a-f]+", batch[i]["op_id"]) for i in (0, 2))
    assert (
        batch[0]["op_id"][:33] == batch[2]["op_id"][:33] and batch[0]["op_id"] != batch[2]["op_id"]
    )
    first = push_results(_post(dev, batch, key=str(uuid.uuid4()), compact=True).json(), batch)
    assert first is not None and [r["result"] for r in first] == ["applied"] * 3
    again = push_results(_post(dev, batch, key=str(uuid.uuid4()), compact=False).json(), batch)
    assert again is not None and [r["result"] for r in again] == ["duplicate"] * 3
    assert [r["op_id"] for r in again] == [c["op_id"] for c in batch]
