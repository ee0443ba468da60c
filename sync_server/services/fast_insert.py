"""Many rows into one table through the driver's executemany, the statement compiled once.

A push inserts a few hundred rows into five tables; through `session.execute(insert(table), rows)` SQLAlchemy
looks its compiled statement up, and builds and type-processes every row's parameters in Python around the
driver's executemany (issue 14: about a fifth of a push's CPU). Here the INSERT is compiled once per database
dialect, table and set of columns (by SQLAlchemy, for that dialect: its casts and parameter style), each
value goes through the column type's own bind processor, exactly as SQLAlchemy would send it, and the rows
go to the driver in one executemany on the session's connection (inside its transaction); on PostgreSQL
(psycopg) three rows or more go by COPY instead (_copy).

`Dumped`: JSON text a caller already encoded (sync_server.json_text.dumps) for a JSON column, sent as it is instead
of encoding the value again (PostgreSQL casts it, `::JSON`; SQLite stores the text).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


class Dumped(str):
    """JSON text, already encoded, for a JSON column."""

    __slots__ = ()


_Processor = Callable[[Any], Any] | None
_Plan = tuple[str, tuple[str, ...], tuple[_Processor, ...], bool]
_PLANS: weakref.WeakKeyDictionary[Dialect, dict[tuple[str, tuple[str, ...]], _Plan]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def _json_passing(process: _Processor) -> _Processor:
    def bind(value: Any) -> Any:
        if isinstance(value, Dumped):
            return str(value)
        return process(value) if process is not None else value

    return bind


def _last_kept(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The processor, keeping its last answer: a batch's rows share one `now` (SQLite formats a datetime
    as text, per row and column, otherwise)."""
    last: list[tuple[Any, Any]] = [(object(), None)]

    def bind(value: Any) -> Any:
        seen, out = last[0]
        if seen is value:
            return out
        out = process(value)
        last[0] = (value, out)
        return out

    return bind


EMPTY_OBJECT = Dumped("{}")


def _plan(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> _Plan:
    with _LOCK:
        plans = _PLANS.setdefault(dialect, {})
        found = plans.get((table.name, keys))
    if found is not None:
        return found
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    order = compiled.positiontup
    positional = order is not None
    names = tuple(order) if order is not None else keys
    if set(names) != set(keys):
        raise ValueError(f"{table.name}: the INSERT binds {names}, not the columns {keys}")
    processors: list[_Processor] = []
    for name in names:
        column_type = table.c[name].type
        process: _Processor = column_type.dialect_impl(dialect).bind_processor(dialect)
        if isinstance(column_type, JSON):
            process = _json_passing(process)
        elif process is not None:
            process = _last_kept(process)
        processors.append(process)
    plan: _Plan = (compiled.string, names, tuple(processors), positional)
    with _LOCK:
        plans[(table.name, keys)] = plan
    return plan


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT the rows (dicts with the same keys, the first row's) in the session's transaction."""
    if not rows:
        return
    conn = session.connection()
    keys = tuple(rows[0])
    sql, names, processors, positional = _plan(conn.dialect, table, keys)
    pairs = tuple(zip(names, processors, strict=True))
    if positional:
        params: list[Any] = [
            tuple(row[n] if p is None else p(row[n]) for n, p in pairs) for row in rows
        ]
    else:
        params = [{n: row[n] if p is None else p(row[n]) for n, p in pairs} for row in rows]
    if (
        len(params) >= COPY_FROM
        and conn.dialect.name == "postgresql"
        and conn.dialect.driver == "psycopg"
    ):
        _copy(conn, table, names, params, positional)
        return
    conn.exec_driver_sql(sql, params)


COPY_FROM = 3  # rows from which PostgreSQL gets them by COPY


def _copy(
    conn: Connection, table: Table, names: tuple[str, ...], params: list[Any], positional: bool
) -> None:
    """The rows by PostgreSQL's `COPY ... FROM STDIN` (psycopg): its executemany sends each row as a Bind and
    Execute of its own, in Python (a tenth of a push's CPU there, issue 14); COPY streams the rows, each value
    through the same psycopg dumper as a bound parameter. The same constraints and triggers apply; an error
    is raised as SQLAlchemy raises the driver's (a unique violation stays an IntegrityError: run_push retries
    on it)."""
    quote = conn.dialect.identifier_preparer
    columns = ", ".join(quote.quote(table.c[n].name) for n in names)
    statement = f"COPY {quote.format_table(table)} ({columns}) FROM STDIN"
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in params:
                copy.write_row(row if positional else [row[n] for n in names])
    except dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc
    finally:
        cursor.close()
