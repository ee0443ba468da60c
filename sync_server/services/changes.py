"""The change sequence and the pull feed.

Every change a device should pull (a record the bureau received, returned or accepted, a record another
device of the school changed, a new form version) is a row of `changes` with a sequence number `seq`.

The numbers come from the one row of `change_counter`, incremented by `UPDATE ... RETURNING` inside the
transaction that writes the changes, as late as possible before its commit:
- PostgreSQL: the UPDATE takes the row's lock until commit, so writers that make changes commit one after
  another in seq order. A reader's snapshot therefore always holds every seq up to the highest it sees; a
  pull never skips a row that commits later with a smaller number (which a SEQUENCE, committing out of order,
  would allow).
- SQLite: writers are serialized by BEGIN IMMEDIATE anyway; the same code gives the same guarantee.
A pull reads the counter, then its rows in one SELECT (a later snapshot, or the same one), and its cursor is
the last row it hands over on a full page, else the counter it read first (protocol 1.14).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BigInteger, Table, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from sync_server.json_text import dumps
from sync_server.models import Change, ChangeCounter, FormVersion, Record, Status
from sync_server.services.common import iso
from sync_server.services.fast_insert import insert_rows


@dataclass(frozen=True, slots=True)
class NewChange:
    school_id: int | None  # None: for every school
    type: str  # record form
    payload: dict[str, Any]
    record_id: str | None = None
    device_id: str | None = None  # the device that made it, so it is not echoed back to it
    # `payload["data"]` as JSON text (sync_server.json_text.dumps), when the push encoded it already: the payload's
    # text is then put together around it instead of encoding the data a second time (payload_text)
    data_text: str | None = None


_CHANGES = cast(Table, Change.__table__)


def current_seq(session: Session) -> int:
    return int(
        session.execute(select(ChangeCounter.value).where(ChangeCounter.id == 1)).scalar_one()
    )


_COUNTER = cast(Table, ChangeCounter.__table__)
# Built once, on the table: an ORM UPDATE ... RETURNING built per call cost a sixth of a push (issue 14).
_ALLOCATE = (
    update(_COUNTER)
    .where(_COUNTER.c.id == 1)
    .values(value=_COUNTER.c.value + bindparam("count", type_=BigInteger))
    .returning(_COUNTER.c.value)
)


def allocate_seqs(session: Session, count: int) -> int:
    """Take `count` numbers from the counter row (locking it until commit); returns the last one."""
    return int(session.execute(_ALLOCATE, {"count": count}).scalar_one())


def write_changes(session: Session, changes: Sequence[NewChange], *, now: dt.datetime) -> int:
    """Give the changes their seq numbers and store them; returns the counter's value after them.

    Call it last in the write transaction: the counter row stays locked from here to the commit (the rows
    are made before the lock is taken).
    """
    if not changes:
        return current_seq(session)
    rows = [
        {
            "seq": 0,
            "school_id": c.school_id,
            "type": c.type,
            "record_id": c.record_id,
            "device_id": c.device_id,
            "created_at": now,
            "payload": payload_text(c),
        }
        for c in changes
    ]
    last = allocate_seqs(session, len(changes))
    for seq, row in enumerate(rows, last - len(rows) + 1):
        row["seq"] = seq
    insert_rows(session, _CHANGES, rows)  # one compiled executemany (services.fast_insert)
    return last


def payload_text(change: NewChange) -> str:
    """dumps(change.payload), the same text; a record's data that was encoded already is not encoded again
    (issue 14: a second encoding of every record a push stores). The data key is followed by `updated_at`
    alone (record_payload's order); any other shape is encoded whole."""
    payload, text = change.payload, change.data_text
    if text is None or payload.get("data") is None:
        return dumps(payload)
    keys = list(payload)
    if keys[-2:] != ["data", "updated_at"] or len(keys) < 3:
        return dumps(payload)
    head = dumps({k: payload[k] for k in keys[:-2]})
    return f'{head[:-1]},"data":{text},"updated_at":{dumps(payload["updated_at"])}}}'


def record_payload(
    *,
    record_id: str,
    form_id: str,
    form_version: str,
    server_revision: int,
    status: str,
    data: dict[str, Any],
    review_comments: dict[str, Any],
    updated_at: dt.datetime,
) -> dict[str, Any]:
    return {
        "type": "record",
        "record_id": record_id,
        "form_id": form_id,
        "form_version": form_version,
        "server_revision": server_revision,
        "status": status,
        "review_comments": review_comments,
        "data": None if status == Status.DELETED else data,
        "updated_at": iso(updated_at),
    }


def record_change(record: Record, *, device_id: str | None = None) -> NewChange:
    return NewChange(
        school_id=record.school_id,
        type="record",
        record_id=record.id,
        device_id=device_id,
        payload=record_payload(
            record_id=record.id,
            form_id=record.form_id,
            form_version=record.form_version,
            server_revision=record.server_revision,
            status=record.status,
            data=record.data,
            review_comments=record.review_comments,
            updated_at=record.updated_at,
        ),
    )


def change_request_change(
    *,
    school_id: int,
    request_id: str,
    record_id: str,
    op_id: str,
    status: str,
    reason: str | None,
    decided_at: dt.datetime,
) -> NewChange:
    """What the bureau decided on a school's change request (protocol revision 1.5)."""
    return NewChange(
        school_id=school_id,
        type="change_request",
        record_id=record_id,
        payload={
            "type": "change_request",
            "request_id": request_id,
            "record_id": record_id,
            "op_id": op_id,
            "request_status": status,
            "reason": reason or "",
            "decided_at": iso(decided_at),
        },
    )


def form_change(fv: FormVersion) -> NewChange:
    return NewChange(
        school_id=None,
        type="form",
        payload={
            "type": "form",
            "form_id": fv.form_id,
            "version": fv.version,
            "sha256": fv.sha256,
            "title_zh": fv.title_zh,
        },
    )


# How far past `since` one pull looks (protocol 1.14): bounds the scan over a device's own echoes, and
# over other schools' changes, when a page finds little to hand over.
SCAN_SPAN = 200_000


@dataclass(frozen=True, slots=True)
class PullPage:
    changes: list[dict[str, Any]]
    cursor: int
    more: bool


def pull(
    session: Session,
    *,
    school_id: int,
    device_id: str,
    since: int,
    limit: int,
    include_own: bool = False,
    compact: bool = False,
) -> PullPage:
    """This school's changes after `since`, in seq order, skipping the asking device's own echoes (unless
    `include_own`: a client rebuilding its store from the server wants them too).

    `compact` (protocol 1.6): a record's change is left out when a later change of the same record exists, so
    a device reading from 0 gets each record's current state once (CouchDB's _changes does the same). Safe
    for the cursor: the later change has a higher number and comes in this page or a later one.

    The device's own echoes are left out by the SELECT itself, so they never fill a page (protocol 1.14):
    one SELECT reads up to limit + 1 of the rows to hand over (the extra one only tells whether there are
    more) with seq in (since, top], top being the change counter read first (at most SCAN_SPAN above since).
    A full page ends at its last row; a page that is not full ends at top - every seq up to top had
    committed before the SELECT's snapshot (the counter row is locked to each writer's commit), so nothing
    below the cursor is left unread, and a page after a push of any size is one round trip.
    """
    counter = current_seq(session)
    top = max(since, min(counter, since + SCAN_SPAN))
    stmt = select(Change.seq, Change.payload).where(
        Change.seq > since,
        Change.seq <= top,
        or_(Change.school_id == school_id, Change.school_id.is_(None)),
    )
    if not include_own:
        stmt = stmt.where(or_(Change.device_id.is_(None), Change.device_id != device_id))
    if compact:
        later = aliased(Change)
        stmt = stmt.where(
            or_(
                Change.type != "record",
                Change.record_id.is_(None),
                ~exists().where(
                    later.record_id == Change.record_id,
                    later.type == "record",
                    later.seq > Change.seq,
                ),
            )
        )
    rows = session.execute(stmt.order_by(Change.seq).limit(limit + 1)).all()
    if len(rows) > limit:
        rows = rows[:limit]
        cursor, more = int(rows[-1][0]), True
    else:
        # Nothing more up to top; past SCAN_SPAN the counter may hold more (seq beyond top).
        cursor, more = top, top < counter
    out: list[dict[str, Any]] = []
    for seq, payload in rows:
        item: dict[str, Any] = {"seq": int(seq)}
        item.update(json.loads(payload))
        out.append(item)
    return PullPage(out, cursor, more)
