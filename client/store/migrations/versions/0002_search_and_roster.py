"""Full-text search (FTS5 trigram, plus Chinese character pairs) and one roster entry per teacher_id.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from client.store.search import cjk_bigrams

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per record, sharing the record's rowid, so an update replaces its row without a scan.
    op.execute("CREATE VIRTUAL TABLE record_search USING fts5(body, tokenize='trigram')")
    # Records saved before this revision get their text indexed now: the text answers as stored.
    op.execute(
        "INSERT INTO record_search (rowid, body) "
        "SELECT records.rowid, records.summary || ' ' || coalesce("
        "(SELECT group_concat(value, ' ') FROM json_tree(records.data) WHERE type = 'text'), '') "
        "FROM records"
    )
    op.execute("CREATE VIRTUAL TABLE record_search_cjk USING fts5(body, tokenize='unicode61')")
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT rowid, body FROM record_search")).all()
    for rowid, body in rows:
        conn.execute(
            sa.text("INSERT INTO record_search_cjk (rowid, body) VALUES (:r, :b)"),
            {"r": rowid, "b": cjk_bigrams(body)},
        )
    op.execute(
        "CREATE UNIQUE INDEX uq_roster_teacher_id ON records (json_extract(data, '$.teacher_id')) "
        "WHERE form_id = 'teachers' AND deleted = 0"
    )
