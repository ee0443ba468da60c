"""Full-text search over records (SQLite FTS5 with the trigram tokenizer, so Chinese substrings match)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def index_record(session: Session, record_id: str, body: str) -> None:
    rowid = session.execute(
        text("SELECT rowid FROM records WHERE id = :id"), {"id": record_id}
    ).scalar_one()
    session.execute(text("DELETE FROM record_search WHERE rowid = :r"), {"r": rowid})
    session.execute(
        text("INSERT INTO record_search (rowid, body) VALUES (:r, :b)"), {"r": rowid, "b": body}
    )


def match_clause(query: str) -> tuple[str, dict[str, str]]:
    """SQL (a condition on records.rowid) and its parameters for a search of the clerk's words.

    Every word must appear. Trigram matching needs three characters; shorter words (most Chinese words
    are two) fall back to LIKE on the same table, which scans but stays fast at a school's scale.
    """
    words = [w for w in query.split() if w]
    if not words:
        return "1", {}
    parts: list[str] = []
    params: dict[str, str] = {}
    for i, w in enumerate(words):
        key = f"q{i}"
        if len(w) >= 3:
            parts.append(
                f"records.rowid IN (SELECT rowid FROM record_search WHERE record_search MATCH :{key})"
            )
            params[key] = '"' + w.replace('"', '""') + '"'
        else:
            escaped = w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            parts.append(
                f"records.rowid IN (SELECT rowid FROM record_search WHERE body LIKE :{key} ESCAPE '\\')"
            )
            params[key] = f"%{escaped}%"
    return " AND ".join(parts), params
