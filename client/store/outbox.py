"""The push side of the sync: the outbox's unsent changes as batches, the batch in flight (sync_batches, so a
retry - even after a crash - reuses its Idempotency-Key and body), attachments to upload, and our server's
per-change answer.

Push results: an outbox entry is marked sent only when our server's answer lists its op_id as applied or
duplicate; the record then goes submitted -> received (once nothing else of it waits). A rejected or
conflicting change keeps its entry unsent, the record keeps its status (submitted), and an open sync issue
says why. An older unsent entry of a record (one rejected before) is marked sent - "superseded" - when a newer
change of the same record is applied: the server then holds a newer full state of the record.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

from sqlalchemy import Table, Text, bindparam, func, null, select, type_coerce, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from client.store.change_requests import note_change_request
from client.store.formset import FormSet
from client.store.issues import (
    IssueKind,
    open_issues,
    raise_conflict,
    raise_issue,
    resolve_issues,
)
from client.store.models import (
    OFFER,
    RESENT_SEQ,
    Attachment,
    OutboxEntry,
    Record,
    Revision,
    Status,
    SyncAck,
    SyncBatch,
    SyncIssue,
    SyncRecord,
)
from client.store.pulled_forms import load_stored_forms
from client.store.server_state import adopt_server_version, server_status_of, set_server_state
from forms import json_fast

log = logging.getLogger(__name__)

# -- push -------------------------------------------------------------------------------------------------

_SHA256 = re.compile(r"[0-9a-f]{64}")  # the whole string (fullmatch: not one ending in a newline)


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk_strings(v)


def attachment_refs(data: Any) -> set[str]:
    """The sha256 values in a record's answers (image and file answers are the attachment's sha256)."""
    return {s for s in _walk_strings(data) if _SHA256.fullmatch(s)}


@dataclass(frozen=True)
class PendingChange:
    op_id: str
    record_id: str
    form_id: str
    form_version: str
    kind: str
    revision: int
    base_server_revision: int | None
    data: dict[str, Any] | None
    saved_at: dt.datetime
    # Saved as the clerk's choice in a conflict with a return: it does not answer the return (1.5).
    keep_return: bool = False
    # After a restore (1.12): sent again because the restored server lost it; a state offered back.
    resent: bool = False
    offer: bool = False

    def wire(self) -> dict[str, Any]:
        """The change as docs/protocol.md puts it in a push batch."""
        out: dict[str, Any] = {
            "op_id": self.op_id,
            "record_id": self.record_id,
            "form_id": self.form_id,
            "form_version": self.form_version,
            "kind": self.kind,
            "revision": self.revision,
            "base_server_revision": self.base_server_revision,
            "status": Status.SUBMITTED,
            "saved_at": self.saved_at.replace(microsecond=0).isoformat() + "Z",
        }
        if self.kind != "delete":
            out["data"] = self.data
        if self.keep_return:
            out["keep_return"] = True
        if self.resent:
            out["resent"] = True
        if self.offer:
            out["offer"] = True
        return out

    @cached_property
    def wire_bytes(self) -> bytes:
        """The change's JSON as it goes in a push body (encoded once: sized, then sent)."""
        return json_fast.dumps_bytes(self.wire())


def push_body(changes: Sequence[PendingChange]) -> bytes:
    """A push batch's body: {"changes": [...]} compact, UTF-8 - the changes' JSON joined, not encoded again."""
    return b'{"changes":[' + b",".join(c.wire_bytes for c in changes) + b"]}"


def _pending_select() -> Any:
    return (
        select(
            OutboxEntry.op_id,
            OutboxEntry.record_id,
            OutboxEntry.kind,
            OutboxEntry.revision,
            Record.form_id,
            Revision.form_version,
            Revision.data,
            Revision.saved_at,
            SyncRecord.server_revision,
            Revision.status,
            SyncAck.seq,
            SyncAck.server_revision,
        )
        .join(Record, Record.id == OutboxEntry.record_id)
        .join(
            Revision,
            (Revision.record_id == OutboxEntry.record_id)
            & (Revision.revision == OutboxEntry.revision),
        )
        .outerjoin(SyncRecord, SyncRecord.record_id == OutboxEntry.record_id)
        .outerjoin(SyncAck, SyncAck.op_id == OutboxEntry.op_id)
        .where(OutboxEntry.sent_at.is_(None))
        .order_by(OutboxEntry.id)
    )


def _pending_rows(session: Session, op_ids: Sequence[str] | None = None) -> Iterator[PendingChange]:
    """Unsent changes with their revision's data, in outbox order (all, or just `op_ids`), streamed."""
    stmt = _pending_select()
    if op_ids is not None:
        stmt = stmt.where(OutboxEntry.op_id.in_(list(op_ids)))
    result = session.execute(stmt.execution_options(yield_per=500))
    try:
        for (
            op_id,
            rid,
            kind,
            rev,
            form_id,
            form_version,
            data,
            saved_at,
            base,
            status,
            seq,
            made,
        ) in result:
            offer = kind == OFFER
            yield PendingChange(
                op_id=op_id,
                record_id=rid,
                form_id=form_id,
                form_version=form_version,
                kind="upsert" if offer else kind,
                revision=rev,
                base_server_revision=base,
                data=data,
                saved_at=saved_at,
                keep_return=kind == "upsert" and status == Status.RETURNED,
                # A change kept as a change request made no revision: nothing else can hold it.
                resent=seq == RESENT_SEQ and bool(made),
                offer=offer,
            )
    finally:
        result.close()


# The next unsent outbox entries after an id, oldest first (one cached statement, read by ix_outbox_pending).
_UNSENT_PAGE = (
    select(OutboxEntry.id, OutboxEntry.op_id, OutboxEntry.record_id)
    .where(OutboxEntry.sent_at.is_(None), OutboxEntry.id > bindparam("after"))
    .order_by(OutboxEntry.id)
    .limit(bindparam("page"))
)


def pending_changes(
    session: Session,
    *,
    limit: int,
    max_bytes: int,
    skip_ops: set[str] | frozenset[str] = frozenset(),
    skip_records: set[str] | frozenset[str] = frozenset(),
) -> list[PendingChange]:
    """The next batch: the oldest unsent change of each record, in outbox order, at most `limit` changes and
    about `max_bytes` of JSON (always at least one change).

    One change per record per batch: the next one is sent once the answer to this one gave the record's new
    server revision, its base. A change answered this sync (`skip_ops`) or rejected before, when a newer change
    of its record waits, makes way for that newer one (which supersedes it once applied).

    The unsent outbox is read by id a page at a time (ix_outbox_pending: sent_at, id; no JSON) from the
    oldest, and no further than the batch needs; only the chosen changes' data is read.
    """
    rejected = {
        op: rid
        for op, rid in session.execute(
            select(SyncIssue.op_id, SyncIssue.record_id).where(
                SyncIssue.resolved_at.is_(None), SyncIssue.kind == IssueKind.REJECTED
            )
        ).all()
        if op and rid
    }
    several: set[str] = set()
    if rejected:
        several = set(
            session.execute(
                select(OutboxEntry.record_id)
                .where(
                    OutboxEntry.sent_at.is_(None),
                    OutboxEntry.record_id.in_(list(set(rejected.values()))),
                )
                .group_by(OutboxEntry.record_id)
                .having(func.count() > 1)
            ).scalars()
        )
    chosen: list[str] = []
    seen: set[str] = set()
    after = 0
    page = limit + 64
    while len(chosen) < limit:
        rows = session.execute(_UNSENT_PAGE, {"after": after, "page": page}).all()
        for entry_id, op_id, record_id in rows:
            after = entry_id
            if record_id in seen or record_id in skip_records:
                continue
            if op_id in skip_ops or (op_id in rejected and record_id in several):
                continue
            seen.add(record_id)
            chosen.append(op_id)
            if len(chosen) >= limit:
                break
        if len(rows) < page:
            break
        page = min(page * 4, 20_000)  # much was skipped: read on in larger pages
    if not chosen:
        return []
    out: list[PendingChange] = []
    size = 0
    for change in _pending_rows(session, chosen):
        n = len(change.wire_bytes) + 1
        if out and size + n > max_bytes:
            break
        out.append(change)
        size += n
    return out


# The unsent changes' answers as the stored JSON text, not decoded (the attachments' sha256 values are found in
# the text: decoding every pending change's JSON and walking it took ~0.2 s per 5,000 at each sync's start).
_PENDING_DATA_TEXT = (
    select(OutboxEntry.record_id, type_coerce(Revision.data, Text))
    .join(Record, Record.id == OutboxEntry.record_id)
    .join(
        Revision,
        (Revision.record_id == OutboxEntry.record_id) & (Revision.revision == OutboxEntry.revision),
    )
    .where(OutboxEntry.sent_at.is_(None))
)
# A JSON string value that attachment_refs takes (64 lower-case hex digits): its opening quote not escaped (a
# quote inside a string is always preceded by a backslash), and not an object key.
_SHA256_VALUE = re.compile(r'(?<!\\)"([0-9a-f]{64})"(?!\s*:)')


def pending_attachments(
    session: Session, *, skip_records: set[str] | frozenset[str] = frozenset()
) -> tuple[list[Attachment], dict[str, set[str]], set[str]]:
    """Attachments the unsent changes use that the server does not have yet.

    Returns (attachments to upload, sha256 -> record ids using it, sha256 values no attachment row has).
    """
    users: dict[str, set[str]] = {}
    for record_id, raw in session.execute(_PENDING_DATA_TEXT):
        if record_id in skip_records or not raw:
            continue
        for sha in _SHA256_VALUE.findall(raw):
            users.setdefault(sha, set()).add(record_id)
    if not users:
        return [], {}, set()
    rows = list(
        session.execute(select(Attachment).where(Attachment.sha256.in_(list(users)))).scalars()
    )
    known = {a.sha256 for a in rows}
    to_upload = [a for a in rows if a.uploaded_at is None]
    to_upload.sort(key=lambda a: a.created_at)
    return to_upload, users, set(users) - known


def mark_uploaded(session: Session, sha256: str, *, now: dt.datetime) -> None:
    att = session.get(Attachment, sha256)
    if att is not None and att.uploaded_at is None:
        att.uploaded_at = now
    resolve_issues(
        session, resolution="uploaded", now=now, kind=IssueKind.ATTACHMENT, sha256=sha256
    )


def current_batch(session: Session, *, besides: str | None = None) -> SyncBatch | None:
    """The oldest stored batch (but the one named `besides`: a batch on its way)."""
    stmt = select(SyncBatch).order_by(SyncBatch.created_at, SyncBatch.key).limit(1)
    if besides is not None:
        stmt = stmt.where(SyncBatch.key != besides)
    return session.execute(stmt).scalar_one_or_none()


def store_batch(
    session: Session, *, key: str, op_ids: Sequence[str], body: bytes, now: dt.datetime
) -> SyncBatch:
    batch = SyncBatch(key=key, op_ids=list(op_ids), body=body, created_at=now)
    session.add(batch)
    session.flush()
    return batch


def drop_batch(session: Session, key: str) -> None:
    batch = session.get(SyncBatch, key)
    if batch is not None:
        session.delete(batch)


def unsent_entries(session: Session, record_id: str) -> list[OutboxEntry]:
    return list(
        session.execute(
            select(OutboxEntry)
            .where(OutboxEntry.record_id == record_id, OutboxEntry.sent_at.is_(None))
            .order_by(OutboxEntry.id)
        ).scalars()
    )


@dataclass
class PushOutcome:
    acknowledged: list[str] = field(
        default_factory=list
    )  # op ids marked sent (applied or duplicate)
    conflicts: list[dict[str, Any]] = field(default_factory=list)  # {record_id, op_id, server}
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {op_id, record_id, reason, ...}
    unanswered: list[str] = field(default_factory=list)  # op ids the answer did not list
    # Changes kept as change requests (accepted records): {op_id, record_id, id, status}.
    requests: list[dict[str, Any]] = field(default_factory=list)


REJECTED_TEXT = {
    "validation": ("数据未通过服务器检查", "the server's form check refused the data"),
    "locked": (
        "教育局已确认此记录，不能再修改",
        "the bureau has accepted this record; it is locked",
    ),
    "accepted": (
        "教育局已确认此记录，不能再修改",
        "the bureau has accepted this record; it is locked",
    ),
    "other_school": ("此记录属于其他学校", "the record belongs to another school"),
}


def _rejection_text(result: Mapping[str, Any]) -> tuple[str, str]:
    reason = str(result.get("reason") or "rejected")
    zh = str(result.get("message_zh") or "")
    en = str(result.get("message_en") or "")
    problems = result.get("problems") or []
    if not zh and problems and isinstance(problems[0], Mapping):
        first = problems[0]
        zh = f"{first.get('path', '')}：{first.get('message_zh', '')}"
        en = f"{first.get('path', '')}: {first.get('message_en', '')}"
    fallback = REJECTED_TEXT.get(reason, ("服务器拒收了此记录", "the server refused this record"))
    return zh or fallback[0], en or f"{fallback[1]} ({reason})"


_SERVER_STATES = ("received", "returned", "accepted", "deleted")


def _duplicate_teacher(result: Mapping[str, Any]) -> bool:
    server = result.get("server")
    return (
        result.get("reason") == "duplicate_teacher"
        and isinstance(server, Mapping)
        and isinstance(server.get("record_id"), str)
    )


def _take_back(
    session: Session,
    requested: Mapping[str, Mapping[str, Any]],
    unsent: Mapping[str, list[tuple[int, str]]],
    forms: FormSet | None,
    *,
    now: dt.datetime,
) -> None:
    """Records whose change became a change request show the server's (accepted) version again, as on the
    server and the school's other PCs - once nothing else of them waits to be sent."""
    for record_id, server in requested.items():
        record = session.get(Record, record_id)
        if record is None or unsent.get(record_id):
            continue
        if forms is None:
            forms = _stored_forms(session)
        adopt_server_version(session, forms, record, server, now=now)
        set_server_state(
            session,
            record_id,
            server_revision=int(server["server_revision"]),
            status=str(server.get("status") or ""),
            now=now,
        )
    session.flush()


def _stored_forms(session: Session) -> FormSet:
    forms = FormSet.shipped()
    load_stored_forms(session, forms)
    return forms


def push_results(
    answer: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]] | None:
    """The per-change results of a push answer, in the full form whichever form the server sent; None when
    the answer holds neither form.

    Protocol 1.14: a server asked for the compact form answers `compact_results`, one item per change in the
    batch's order, each only what differs from `applied` at (base_server_revision or 0) + 1 with the change's
    `op_id` and `record_id` (null: exactly that); an item with a `result` is that result whole but the two
    ids. An older server answers `results` as before."""
    compact = answer.get("compact_results")
    if compact is None:
        full = answer.get("results")
        if not isinstance(full, list) or not all(isinstance(r, Mapping) for r in full):
            return None
        return [dict(r) for r in full]
    if not isinstance(compact, list) or len(compact) != len(changes):
        return None
    out: list[dict[str, Any]] = []
    for change, item in zip(changes, compact, strict=True):
        if item is not None and not isinstance(item, Mapping):
            return None
        ids = {"op_id": change["op_id"], "record_id": change["record_id"]}
        if item is not None and "result" in item:
            out.append({**ids, **item})
            continue
        base = change.get("base_server_revision")
        status = (
            "deleted"
            if change.get("kind") == "delete"
            else Status.RETURNED
            if change.get("keep_return")
            else Status.RECEIVED
        )
        default = {
            **ids,
            "result": "applied",
            "server_revision": (base if isinstance(base, int) else 0) + 1,
            "status": status,
        }
        out.append({**default, **(item or {})})
    return out


# apply_push_answer's writes: built once, so each answer runs SQLAlchemy's cached compiled statements
# (the sync_records upsert as one executemany, not a multi-row INSERT compiled again per answer).
_OUTBOX = cast(Table, OutboxEntry.__table__)
_RECORDS = cast(Table, Record.__table__)
_ISSUES = cast(Table, SyncIssue.__table__)
_STATES = cast(Table, SyncRecord.__table__)
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(sent_at=bindparam("now"))
)
_ATTACHMENT_ISSUES_SENT = (
    update(_ISSUES)
    .where(
        _ISSUES.c.kind == IssueKind.ATTACHMENT,
        _ISSUES.c.resolved_at.is_(None),
        _ISSUES.c.record_id.in_(bindparam("ids", expanding=True)),
    )
    .values(resolved_at=bindparam("now"), resolution="sent")
)
_KNOWN_REVISIONS = select(_STATES.c.record_id, _STATES.c.server_revision).where(
    _STATES.c.record_id.in_(bindparam("ids", expanding=True))
)
_ANSWERED = (
    _RECORDS.c.id.in_(bindparam("ids", expanding=True)),
    _RECORDS.c.status.in_([Status.SUBMITTED, Status.RETURNED]),
    _RECORDS.c.deleted.is_(False),
)
_RECORDS_RETURNED = update(_RECORDS).where(*_ANSWERED).values(status=bindparam("status"))
_RECORDS_SERVER_STATUS = (
    update(_RECORDS).where(*_ANSWERED).values(status=bindparam("status"), review_comments=null())
)
_RECORDS_RECEIVED = (
    update(_RECORDS)
    .where(
        _RECORDS.c.id.in_(bindparam("ids", expanding=True)), _RECORDS.c.status == Status.SUBMITTED
    )
    .values(status=Status.RECEIVED, review_comments=null())
)


def _upsert_server_state() -> Any:
    ins = sqlite_insert(_STATES)
    return ins.on_conflict_do_update(
        index_elements=[_STATES.c.record_id],
        set_={
            "server_revision": ins.excluded.server_revision,
            "server_status": ins.excluded.server_status,
            "updated_at": ins.excluded.updated_at,
        },
        where=_STATES.c.server_revision <= ins.excluded.server_revision,
    )


_UPSERT_SERVER_STATE = _upsert_server_state()


def apply_push_answer(
    session: Session,
    *,
    batch_key: str,
    changes: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    now: dt.datetime,
    forms: FormSet | None = None,
) -> PushOutcome:
    """Apply our server's per-change answer to a batch, and forget the batch - in one transaction.

    `changes` are the batch's changes as sent. Only op ids the answer lists are acted on.
    A change the server kept as a change request (an accepted record) counts as sent: an open REQUEST issue
    shows it as pending, and the record takes the accepted version back (`forms` refreshes its summary and
    search text; without it the forms are read from the store).
    A second roster entry for a 工号 the school already has is a conflict with that entry (roster_duplicate).
    """
    sent = {str(c["op_id"]): c for c in changes}
    record_ids = list({str(c["record_id"]) for c in changes})
    # What the answer touches, read in two queries; written below in a few set-based statements.
    unsent: dict[str, list[tuple[int, str]]] = {}  # record id -> [(outbox id, op id)], oldest first
    for entry_id, entry_op, entry_record in session.execute(
        select(OutboxEntry.id, OutboxEntry.op_id, OutboxEntry.record_id)
        .where(OutboxEntry.record_id.in_(record_ids), OutboxEntry.sent_at.is_(None))
        .order_by(OutboxEntry.id)
    ):
        unsent.setdefault(entry_record, []).append((entry_id, entry_op))
    issues_by_op: dict[str, list[SyncIssue]] = {}
    for issue in open_issues(session):
        if issue.op_id:
            issues_by_op.setdefault(issue.op_id, []).append(issue)

    def close_issues(op_ids: Iterable[str], resolution: str) -> None:
        for op in op_ids:
            for issue in issues_by_op.pop(op, []):
                issue.resolved_at = now
                issue.resolution = resolution

    def mark_sent(record_id: str, op_id: str) -> None:
        waiting = unsent.get(record_id, [])
        at = next((i for i, (_, op) in enumerate(waiting) if op == op_id), None)
        if at is not None:
            # Older unsent changes of this record (rejected before) are superseded: the server now
            # holds a newer full state of the record.
            to_mark.extend(entry_id for entry_id, _ in waiting[: at + 1])
            close_issues([op_id], "sent")
            close_issues([op for _, op in waiting[:at]], "superseded")
            unsent[record_id] = waiting[at + 1 :]

    requested: dict[str, dict[str, Any]] = {}  # record id -> the server's (accepted) version

    to_mark: list[int] = []  # outbox ids now sent (acknowledged, or superseded by a newer change)
    states: dict[str, tuple[int, str]] = {}  # record id -> (server revision, server status)
    offered: dict[str, tuple[int, str]] = {}  # offers taken (1.12): the state the server answered
    # Changes sent again that the server held already (1.12): the revision each made before the restore,
    # the base of the record's next change sent again.
    superseded: dict[str, int] = {}
    outcome = PushOutcome()
    listed: set[str] = set()
    for result in results:
        op_id = str(result.get("op_id") or "")
        change = sent.get(op_id)
        if change is None:
            log.warning("the server answered for an op id not in the batch: %r", op_id)
            continue
        listed.add(op_id)
        record_id = str(change["record_id"])
        kind = result.get("result")
        if kind in ("applied", "duplicate"):
            mark_sent(record_id, op_id)
            server_revision = result.get("server_revision")
            if isinstance(server_revision, int):
                status = str(result.get("status") or "")
                if status not in _SERVER_STATES:
                    status = (
                        "deleted"
                        if change.get("kind") == "delete"
                        else Status.RETURNED
                        if change.get("keep_return")
                        else Status.RECEIVED
                    )
                if server_revision >= states.get(record_id, (0, ""))[0]:
                    states[record_id] = (server_revision, status)
            if change.get("offer") and isinstance(server_revision, int):
                offered[record_id] = states[record_id]
            outcome.acknowledged.append(op_id)
        elif kind == "superseded":
            # The server holds this change's revision or a later state that includes it (1.12): nothing
            # to apply; the record takes the server's state once nothing else of it waits.
            mark_sent(record_id, op_id)
            server = result.get("server")
            if isinstance(server, Mapping) and isinstance(server.get("server_revision"), int):
                requested[record_id] = dict(server)
            ack = session.get(SyncAck, op_id)
            if ack is not None and ack.server_revision > 0:
                superseded[record_id] = ack.server_revision
            outcome.acknowledged.append(op_id)
        elif kind == "conflict":
            server = dict(result.get("server") or {})
            raise_conflict(
                session,
                reason="server_deleted" if server.get("status") == "deleted" else "server_changed",
                message_zh="此记录在服务器上也被修改了（例如教育局退回或另一台电脑修改），两个版本都已保留，请选择",
                message_en="the record changed on the server too (a return, or another computer); both versions are kept - choose one",
                server=server,
                local=change,
                source="push",
                now=now,
                record_id=record_id,
                op_id=op_id,
            )
            outcome.conflicts.append({"record_id": record_id, "op_id": op_id, "server": server})
        elif kind == "rejected" and _duplicate_teacher(result):
            server = dict(result["server"])
            tid = result.get("teacher_id") or (server.get("data") or {}).get("teacher_id")
            raise_conflict(
                session,
                reason="roster_duplicate",
                message_zh=f"另一台电脑已登记工号“{tid}”的教师：同一工号只能有一位教师，请选择保留哪份信息",
                message_en=f"another computer already added the teacher with staff number '{tid}': one "
                "number is one teacher - choose which details to keep",
                server=server,
                local=change,
                source="push",
                now=now,
                record_id=record_id,
                op_id=op_id,
            )
            outcome.conflicts.append({"record_id": record_id, "op_id": op_id, "server": server})
        elif kind == "rejected" and isinstance(result.get("change_request"), Mapping):
            mark_sent(record_id, op_id)
            note_change_request(
                session,
                record_id=record_id,
                op_id=op_id,
                request=result["change_request"],
                change=change,
                now=now,
            )
            held = result.get("server")
            if isinstance(held, Mapping) and isinstance(held.get("server_revision"), int):
                requested[record_id] = dict(held)
            outcome.requests.append(
                {"op_id": op_id, "record_id": record_id, **dict(result["change_request"])}
            )
        elif kind == "rejected":
            zh, en = _rejection_text(result)
            reason = str(result.get("reason") or "rejected")
            problems = list(result.get("problems") or [])
            raise_issue(
                session,
                kind=IssueKind.REJECTED,
                reason=reason,
                message_zh=zh,
                message_en=en,
                details={"problems": problems, "revision": change.get("revision")},
                now=now,
                record_id=record_id,
                op_id=op_id,
            )
            outcome.rejected.append(
                {
                    "op_id": op_id,
                    "record_id": record_id,
                    "reason": reason,
                    "message_zh": zh,
                    "message_en": en,
                    "problems": problems,
                }
            )
        else:
            log.warning("unknown push result %r for %s; it stays unsent", kind, op_id)
            listed.discard(op_id)
    outcome.unanswered = [op for op in sent if op not in listed]
    _take_back(session, requested, unsent, forms, now=now)
    session.flush()  # the ORM's pending changes first: what follows is plain SQL on the tables
    write = session.connection()
    if to_mark:
        write.execute(_MARK_SENT, {"now": now, "ids": to_mark})
    done = [
        rid for rid in {sent[op]["record_id"] for op in outcome.acknowledged} if not unsent.get(rid)
    ]
    if done:  # an attachment problem of a record the server now holds is over
        write.execute(_ATTACHMENT_ISSUES_SENT, {"now": now, "ids": done})
        # Once nothing of the record waits, it has the status the server gave it: submitted -> received
        # (the server cleared its comments too); a change sent with keep_return keeps the record returned,
        # or - the return answered meanwhile, or lost by a restored server - makes it received like the
        # server's. An answer older than a state already pulled (a replayed or duplicate one) does not
        # undo that state: it only ends `submitted`.
        known = dict(write.execute(_KNOWN_REVISIONS, {"ids": done}).all())
        current = {
            rid
            for rid in done
            if rid in states and states[rid][0] >= known.get(rid, 0) and states[rid][1] != "deleted"
        }
        for status in {states[rid][1] for rid in current}:
            ids = [rid for rid in current if states[rid][1] == status]
            statement = _RECORDS_RETURNED if status == Status.RETURNED else _RECORDS_SERVER_STATUS
            write.execute(statement, {"ids": ids, "status": server_status_of(status)})
        stale = [rid for rid in done if rid not in current]
        if stale:
            write.execute(_RECORDS_RECEIVED, {"ids": stale})
    if states:
        write.execute(
            _UPSERT_SERVER_STATE,
            [
                {"record_id": rid, "server_revision": rev, "server_status": st, "updated_at": now}
                for rid, (rev, st) in states.items()
            ],
        )
    if offered:
        # An offer makes the record what the server answered, whatever this PC knew of it: a return or
        # acceptance the restored server lost is gone (an older server takes it as a new record, at 1).
        for rid, (rev, status) in offered.items():
            session.execute(
                update(SyncRecord)
                .where(SyncRecord.record_id == rid)
                .values(server_revision=rev, server_status=status, updated_at=now)
            )
            if not unsent.get(rid) and status != "deleted":
                session.execute(
                    update(Record)
                    .where(Record.id == rid, Record.deleted.is_(False))
                    .values(status=server_status_of(status), review_comments=null())
                )
    for rid, revision in superseded.items():
        if unsent.get(
            rid
        ):  # the base of the next change sent again (a row the heal removed included)
            ins = sqlite_insert(SyncRecord).values(
                record_id=rid, server_revision=revision, server_status="received", updated_at=now
            )
            session.execute(
                ins.on_conflict_do_update(
                    index_elements=[SyncRecord.record_id],
                    set_={"server_revision": revision, "updated_at": now},
                )
            )
    drop_batch(session, batch_key)
    return outcome


def drop_offers(session: Session, record_id: str, *, past: bool, now: dt.datetime) -> bool:
    """A pulled state past what this PC offers of a record (`past`: a later revision, or the same answers):
    the offer is moot (1.12). True when nothing of the record waits any more (every unsent entry was an
    offer). The same revision with other answers is another history: the offer stays, and the pull shows
    the conflict."""
    waiting = unsent_entries(session, record_id)
    if not waiting or not past or any(e.kind != OFFER for e in waiting):
        return not waiting
    for e in waiting:
        e.sent_at = now
    resolve_issues(session, resolution="superseded", now=now, op_ids=[e.op_id for e in waiting])
    return True


def reject_unsendable(
    session: Session,
    change: Mapping[str, Any],
    *,
    reason: str,
    message_zh: str,
    message_en: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """A change the server refused as a whole request (413/422 for a batch of one): keep it unsent, tell."""
    op_id, record_id = str(change["op_id"]), str(change["record_id"])
    raise_issue(
        session,
        kind=IssueKind.REJECTED,
        reason=reason,
        message_zh=message_zh,
        message_en=message_en,
        details={"problems": [], "revision": change.get("revision")},
        now=now,
        record_id=record_id,
        op_id=op_id,
    )
    return {
        "op_id": op_id,
        "record_id": record_id,
        "reason": reason,
        "message_zh": message_zh,
        "message_en": message_en,
        "problems": [],
    }
