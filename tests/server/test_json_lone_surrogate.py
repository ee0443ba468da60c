"""A lone surrogate in a value the server writes itself (not from a request: those are refused upstream) -
a file name decoded with surrogateescape, say - must not make the database driver refuse the JSON text
(UnicodeEncodeError, a 500 or a failed import): sync_server.json_text.dumps, also the engines' json_serializer,
escapes such a value (review F5). Real SQLite and PostgreSQL."""

from __future__ import annotations

import json

import sqlalchemy as sa

from sync_server import models as M
from sync_server.app import prepare_database
from sync_server.db import open_database
from sync_server.json_text import dumps
from sync_server.services.common import audit
from tests.server.conftest import START


def test_dumps_escapes_a_value_with_a_lone_surrogate_and_keeps_chinese_otherwise() -> None:
    assert dumps({"a": "张伟"}) == '{"a":"张伟"}'
    odd = {"file": "报告\udcff.xlsx"}
    text = dumps(odd)
    assert text == '{"file":"\\u62a5\\u544a\\udcff.xlsx"}'
    text.encode("utf-8")  # writable
    assert json.loads(text) == odd


def test_an_audit_entry_naming_a_file_with_a_lone_surrogate_is_stored_and_read_back(
    backend: str, ready_db_url: str
) -> None:
    db = open_database(ready_db_url)
    try:
        if backend == "postgresql":
            prepare_database(db, migrate=True, publish_forms=False, now=START)
        details = {"file": "检查表\udcff.xlsx", "school": "城关镇中心小学"}
        with db.Session.begin() as s:
            audit(s, now=START, actor="cli", action="usb_import", details=details)
        with db.Session() as s:
            stored = s.execute(
                sa.select(M.AuditEntry.details).where(M.AuditEntry.action == "usb_import")
            ).scalar_one()
        assert stored == details
    finally:
        db.close()
