"""Record data is stored as the same JSON text whichever path wrote it (product trial finding 5).

A new record went in through the fast insert as compact JSON with Chinese kept as is; an edited record went
through the ORM's JSON column and came out `{"inspectors": "\\u5f20\\u4f1f..."}`, so a bureau IT person's
plain `LIKE '%张伟%'` on the database found only never-edited records. Every path (new, edit, conflict,
return, accept, delete) must write the one form: sync_server.json_text.dumps.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import sqlalchemy as sa

from sync_server.json_text import dumps
from sync_server.services.review import accept_record, return_record
from sync_server.state import get_state
from tests.server.conftest import LiveServer, change
from tests.support.samples import inspection


def _texts(live: LiveServer, table: str, column: str, record_id: str) -> list[str]:
    key = "id" if table == "records" else "record_id"
    with live.session() as s:
        rows = s.execute(
            sa.text(f"SELECT CAST({column} AS TEXT) FROM {table} WHERE {key} = :r"),
            {"r": record_id},
        ).scalars()
        return [t for t in rows if t is not None]


def _like(live: LiveServer, table: str, column: str, word: str) -> int:
    with live.session() as s:
        return int(
            s.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE CAST({column} AS TEXT) LIKE :w"),
                {"w": f"%{word}%"},
            ).scalar_one()
        )


def test_new_edited_conflicting_returned_and_deleted_records_store_the_same_text(
    live: LiveServer,
) -> None:
    pc1 = live.device()
    pc2 = live.device(pc1.school_code, name="校长室电脑")
    new_id, edited_id, returned_id, deleted_id = (str(uuid.uuid4()) for _ in range(4))
    pc1.push_ok([change(record_id=r) for r in (new_id, edited_id, returned_id, deleted_id)])
    edited = inspection(inspectors="张伟、李娜", remarks="已复查")
    [res] = pc1.push_ok([change(edited, record_id=edited_id, revision=2, base=1)])
    assert res["result"] == "applied"
    # pc2 edited revision 1 offline: a conflict keeps both versions.
    [res] = pc2.push_ok(
        [change(inspection(remarks="二号机改"), record_id=edited_id, revision=2, base=1)]
    )
    assert res["result"] == "conflict"
    now = dt.datetime(2026, 11, 28, 3, 0)
    with get_state(live.app).db.Session.begin() as s:
        return_record(s, returned_id, {"_record": "请补充整改措施"}, "教育局王科长", now=now)
    [res] = pc1.push_ok(
        [change(inspection(remarks="已整改"), record_id=returned_id, revision=2, base=2)]
    )
    assert res["result"] == "applied", res
    with get_state(live.app).db.Session.begin() as s:
        accept_record(s, returned_id, "教育局王科长", now=now)
    [res] = pc1.push_ok([change(record_id=deleted_id, kind="delete", revision=2, base=1)])
    assert res["result"] == "applied", res

    for rid in (new_id, edited_id, returned_id, deleted_id):
        [text] = _texts(live, "records", "data", rid)
        assert "\\u" not in text, (rid, text[:120])
        revisions = _texts(live, "record_revisions", "data", rid)
        assert revisions and all("\\u" not in t for t in revisions), (rid, revisions)
    # The stored text is exactly the compact form a new record gets.
    [text] = _texts(live, "records", "data", edited_id)
    assert text == dumps(json.loads(text)) and json.loads(text)["remarks"] == "已复查"
    for column in ("server_data", "client_data"):
        [text] = _texts(live, "conflicts", column, edited_id)
        assert "\\u" not in text and ", " not in text, text[:120]
    [comments] = _texts(live, "records", "review_comments", returned_id)
    assert "\\u" not in comments
    # What the bureau's IT person types finds every record that holds the name, edited or not.
    assert _like(live, "records", "data", "张伟") == 4
    assert _like(live, "records", "data", "已整改") == 1
    assert _like(live, "conflicts", "client_data", "二号机改") == 1
