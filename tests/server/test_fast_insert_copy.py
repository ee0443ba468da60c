"""Rows a push inserts go to PostgreSQL by COPY (services.fast_insert, issue 14 goal 3): they are stored
exactly as SQLAlchemy's own INSERT stores them, and a unique violation is the IntegrityError the push's retry
looks for. Real PostgreSQL (a fresh schema); the same rows on SQLite through executemany."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync_server.services.fast_insert import COPY_FROM, Dumped, insert_rows

META = sa.MetaData()
ROWS_TABLE = sa.Table(
    "copy_rows",
    META,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=True),
    sa.Column("flag", sa.Boolean, nullable=True),
    sa.Column("at", sa.DateTime, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("data", sa.JSON, nullable=True),
    sa.Column("select", sa.String(10), nullable=True),  # a reserved word as a column name
)
TWIN = ROWS_TABLE.to_metadata(META, name="copy_rows_twin")

AWKWARD = "制表\t换行\n回车\r反斜杠\\ 引号\"' 逗号, 空白  \\N NULL"


TEXT = json.dumps(
    {"说明": AWKWARD, "数": [1, 2.5, None]}, ensure_ascii=False, separators=(",", ":")
)


def _rows(prefix: str) -> list[dict[str, Any]]:
    at = dt.datetime(2026, 11, 28, 9, 30, 15, 123456)
    return [
        {
            "id": f"{prefix}1",
            "n": 2**62,
            "flag": True,
            "at": at,
            "note": AWKWARD,
            "data": Dumped(TEXT),
            "select": "x",
        },
        {
            "id": f"{prefix}2",
            "n": None,
            "flag": False,
            "at": None,
            "note": "",
            "data": {"a": [1, 2.5, None]},
            "select": None,
        },
        {
            "id": f"{prefix}3",
            "n": -1,
            "flag": None,
            "at": at,
            "note": None,
            "data": None,
            "select": "",
        },
        {
            "id": f"{prefix}4",
            "n": 0,
            "flag": True,
            "at": at,
            "note": "\\.",
            "data": Dumped("{}"),
            "select": "\\",
        },
    ]


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url)
    META.create_all(eng)
    yield eng
    eng.dispose()


def _stored(conn: sa.Connection, table: sa.Table) -> list[tuple[Any, ...]]:
    cols = [c for c in table.c if c.name != "data"]
    rows = conn.execute(
        sa.select(*cols, sa.cast(table.c.data, sa.Text).label("data")).order_by(table.c.id)
    )
    return [(r[0][1:], *r[1:]) for r in rows]  # ids without their prefix


def test_rows_are_stored_as_sqlalchemys_own_insert_stores_them(engine: sa.Engine) -> None:
    assert len(_rows("a")) >= COPY_FROM
    with Session(engine) as session, session.begin():
        insert_rows(session, ROWS_TABLE, _rows("a"))
    plain = [
        {**r, "data": json.loads(r["data"]) if isinstance(r["data"], Dumped) else r["data"]}
        for r in _rows("b")
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(TWIN), plain)
    with engine.connect() as conn:
        ours, theirs = _stored(conn, ROWS_TABLE), _stored(conn, TWIN)
    assert [r[:-1] for r in ours] == [r[:-1] for r in theirs]
    assert [None if r[-1] is None else json.loads(r[-1]) for r in ours] == [
        None if r[-1] is None else json.loads(r[-1]) for r in theirs
    ]
    assert ours[0][-1] == TEXT  # JSON text already encoded is stored as given


def test_a_unique_violation_is_an_integrity_error_and_nothing_of_the_rows_is_kept(
    engine: sa.Engine,
) -> None:
    with Session(engine) as session, session.begin():
        insert_rows(session, ROWS_TABLE, _rows("c")[:1])
    with pytest.raises(IntegrityError), Session(engine) as session, session.begin():
        insert_rows(session, ROWS_TABLE, _rows("c"))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ROWS_TABLE)).scalar_one() == 1
