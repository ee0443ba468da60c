"""Full-text search over records with SQLite FTS5.

Two indexes share each record's rowid: `record_search` with the trigram tokenizer (any substring of three or
more characters matches) and `record_search_cjk`, holding overlapping pairs of Chinese characters, because
most Chinese words are two characters long and trigrams cannot find them.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def cjk_bigrams(body: str) -> str:
    """'食堂后厨 ok' -> '食堂 堂后 后厨': the text of the pair index."""
    out: list[str] = []
    for run in _CJK_RUN.findall(body):
        if len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return " ".join(out)


def _is_cjk_pair(word: str) -> bool:
    return len(word) == 2 and _CJK_RUN.fullmatch(word) is not None


_ROWID = text("SELECT rowid FROM records WHERE id = :id")
_INSERT = text("INSERT INTO record_search (rowid, body) VALUES (:r, :b)")
_INSERT_CJK = text("INSERT INTO record_search_cjk (rowid, body) VALUES (:r, :p)")


def index_record(session: Session, record_id: str, body: str, *, new: bool = False) -> None:
    """The record's search text, replacing what was indexed for it. new: the record was inserted in this
    transaction, so nothing of its rowid is indexed yet (no DELETE from either index)."""
    rowid = session.execute(_ROWID, {"id": record_id}).scalar_one()
    if not new:
        unindex(session, rowid)
    params = {"r": rowid, "b": body, "p": cjk_bigrams(body)}
    session.execute(_INSERT, params)
    session.execute(_INSERT_CJK, params)


def unindex(conn: Any, rowid: int) -> None:
    conn.execute(text("DELETE FROM record_search WHERE rowid = :r"), {"r": rowid})
    conn.execute(text("DELETE FROM record_search_cjk WHERE rowid = :r"), {"r": rowid})


def match_clause(query: str) -> tuple[str, dict[str, str]]:
    """SQL (a condition on records.rowid) and its parameters for a search of the clerk's words.

    Every word must appear: three or more characters through the trigram index, a two-character Chinese
    word through the pair index, anything shorter by LIKE on the trigram table's text (a scan).
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
        elif _is_cjk_pair(w):
            parts.append(
                f"records.rowid IN (SELECT rowid FROM record_search_cjk WHERE record_search_cjk MATCH :{key})"
            )
            params[key] = f'"{w}"'
        else:
            escaped = w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            parts.append(
                f"records.rowid IN (SELECT rowid FROM record_search WHERE body LIKE :{key} ESCAPE '\\')"
            )
            params[key] = f"%{escaped}%"
    return " AND ".join(parts), params
