"""What the sync keeps in the local store, as repository functions (they take a Session, never commit).

- Enrollment and progress live in the settings table under "sync.*": the server URL, device token, device id,
  school code and name, the pull cursor, the last successful sync and the last problem.
- sync_records: each record's server revision as last seen (the base of its next push).
- sync_batches: the push batch in flight, so a retry - even after a crash - reuses its Idempotency-Key and body.
- sync_issues: what the clerk must see (a rejected change, a conflict with both versions, an attachment that
  cannot be uploaded, a pulled item this client could not apply - kept with the item, to try again).

Push results: an outbox entry is marked sent only when our server's answer lists its op_id as applied or
duplicate; the record then goes submitted -> received (once nothing else of it waits). A rejected or
conflicting change keeps its entry unsent, the record keeps its status (submitted), and an open sync issue
says why. An older unsent entry of a record (one rejected before) is marked sent - "superseded" - when a newer
change of the same record is applied: the server then holds a newer full state of the record.

Pulled changes are applied, and the cursor advanced, in the caller's one transaction (apply_pull_page);
each item in a savepoint, so that one item that cannot be applied becomes a PULL issue and never holds back
the rest, nor the cursor. Form versions the bureau withdrew are listed under "sync.withdrawn_forms".
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, null, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError
from sqlalchemy.orm import Session

from client.store.formset import ROSTER_FORM, FormSet
from client.store.models import (
    Attachment,
    FormVersion,
    OutboxEntry,
    Record,
    Revision,
    Status,
    SyncBatch,
    SyncIssue,
    SyncRecord,
)
from client.store.prefs import get_setting, set_setting
from client.store.records import (
    RecordLocked,
    RecordNotFound,
    SaveResult,
    StoreError,
    references,
    save_record,
    search_text,
    summarize,
)
from client.store.search import index_record, unindex
from forms.errors import FormDefinitionError
from forms.loader import load_yaml_text
from forms.model import FieldType, FormDef
from forms.periods import record_period

log = logging.getLogger(__name__)

# -- settings ---------------------------------------------------------------------------------------------

K_SERVER_URL = "sync.server_url"
K_TOKEN = "sync.device_token"
K_DEVICE_ID = "sync.device_id"
K_SCHOOL_CODE = "sync.school_code"
K_SCHOOL_NAME = "sync.school_name"
K_CURSOR = "sync.cursor"
K_LAST_SYNC = "sync.last_sync_at"
K_LAST_ATTEMPT = "sync.last_attempt_at"
K_LAST_PROBLEM = "sync.last_problem"


class IssueKind:
    REJECTED = "rejected"  # the server refused the change (validation, locked, too large, ...)
    CONFLICT = "conflict"  # the record changed on the server too: both versions kept
    ATTACHMENT = "attachment"  # a photo or file that cannot be uploaded
    PULL = "pull"  # a pulled item this client could not apply: kept with what is needed to retry it


@dataclass(frozen=True)
class Enrollment:
    server_url: str
    device_token: str
    device_id: str
    school_code: str
    school_name: str


@dataclass(frozen=True)
class SyncStatus:
    """Everything the status bar shows."""

    enrolled: bool
    server_url: str | None
    school_code: str | None
    school_name: str | None
    pending: int  # outbox entries not yet acknowledged by the server
    conflicts: int  # open conflicts (both versions kept, waiting for the clerk)
    rejected: int  # open rejections (the clerk must correct the record)
    attachment_problems: int
    last_sync_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_problem: (
        dict[str, Any] | None
    )  # {kind, message_zh, message_en, status, code, retry_after, at}


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


def _parse_time(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) and value else None


def get_enrollment(session: Session) -> Enrollment | None:
    token = get_setting(session, K_TOKEN)
    url = get_setting(session, K_SERVER_URL)
    if not token or not url:
        return None
    return Enrollment(
        server_url=str(url),
        device_token=str(token),
        device_id=str(get_setting(session, K_DEVICE_ID) or ""),
        school_code=str(get_setting(session, K_SCHOOL_CODE) or ""),
        school_name=str(get_setting(session, K_SCHOOL_NAME) or ""),
    )


def has_local_records(session: Session) -> bool:
    return session.execute(select(Record.id).limit(1)).first() is not None


def save_enrollment(session: Session, enrollment: Enrollment) -> None:
    """Keep the device token and school; a different server or school starts pulling from the beginning.

    The token is kept in the local database (the clerk's PC): the bureau can revoke it at any time.
    """
    before = get_enrollment(session)
    same_source = (
        before is not None
        and before.server_url == enrollment.server_url
        and before.school_code == enrollment.school_code
    )
    set_setting(session, K_SERVER_URL, enrollment.server_url)
    set_setting(session, K_TOKEN, enrollment.device_token)
    set_setting(session, K_DEVICE_ID, enrollment.device_id)
    set_setting(session, K_SCHOOL_CODE, enrollment.school_code)
    set_setting(session, K_SCHOOL_NAME, enrollment.school_name)
    if not same_source:
        set_setting(session, K_CURSOR, 0)
        session.execute(delete(SyncBatch))
    set_setting(session, K_LAST_PROBLEM, None)


def get_cursor(session: Session) -> int:
    return int(get_setting(session, K_CURSOR, 0) or 0)


def set_cursor(session: Session, cursor: int) -> None:
    set_setting(session, K_CURSOR, int(cursor))


def record_attempt(session: Session, *, now: dt.datetime) -> None:
    set_setting(session, K_LAST_ATTEMPT, _iso(now))


def record_success(session: Session, *, now: dt.datetime) -> None:
    set_setting(session, K_LAST_SYNC, _iso(now))
    set_setting(session, K_LAST_PROBLEM, None)


def record_problem(session: Session, problem: Mapping[str, Any], *, now: dt.datetime) -> None:
    set_setting(session, K_LAST_PROBLEM, {**problem, "at": _iso(now)})


def pending_count(session: Session) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.sent_at.is_(None))
        ).scalar_one()
    )


def sync_status(session: Session) -> SyncStatus:
    enrollment = get_enrollment(session)
    counts = dict(
        session.execute(
            select(SyncIssue.kind, func.count())
            .where(SyncIssue.resolved_at.is_(None))
            .group_by(SyncIssue.kind)
        ).all()
    )
    problem = get_setting(session, K_LAST_PROBLEM)
    return SyncStatus(
        enrolled=enrollment is not None,
        server_url=enrollment.server_url if enrollment else None,
        school_code=enrollment.school_code if enrollment else None,
        school_name=enrollment.school_name if enrollment else None,
        pending=pending_count(session),
        conflicts=int(counts.get(IssueKind.CONFLICT, 0)),
        rejected=int(counts.get(IssueKind.REJECTED, 0)),
        attachment_problems=int(counts.get(IssueKind.ATTACHMENT, 0)),
        last_sync_at=_parse_time(get_setting(session, K_LAST_SYNC)),
        last_attempt_at=_parse_time(get_setting(session, K_LAST_ATTEMPT)),
        last_problem=dict(problem) if isinstance(problem, Mapping) else None,
    )


# -- issues -----------------------------------------------------------------------------------------------


def open_issues(session: Session, *, kind: str | None = None) -> list[SyncIssue]:
    q = select(SyncIssue).where(SyncIssue.resolved_at.is_(None))
    if kind is not None:
        q = q.where(SyncIssue.kind == kind)
    return list(session.execute(q.order_by(SyncIssue.id)).scalars())


def _open_issue(
    session: Session, *, kind: str, record_id: str | None = None, op_id: str | None = None
) -> SyncIssue | None:
    q = select(SyncIssue).where(SyncIssue.resolved_at.is_(None), SyncIssue.kind == kind)
    q = q.where(SyncIssue.op_id == op_id) if op_id is not None else q
    q = q.where(SyncIssue.record_id == record_id) if record_id is not None else q
    return session.execute(q.order_by(SyncIssue.id).limit(1)).scalar_one_or_none()


def raise_issue(
    session: Session,
    *,
    kind: str,
    reason: str,
    message_zh: str,
    message_en: str,
    details: Mapping[str, Any],
    now: dt.datetime,
    record_id: str | None = None,
    op_id: str | None = None,
    match_record: bool = False,
) -> SyncIssue:
    """Open an issue, or update the open one for the same op (or record, with match_record)."""
    issue = (
        _open_issue(session, kind=kind, op_id=op_id)
        if op_id is not None and not match_record
        else _open_issue(session, kind=kind, record_id=record_id)
        if match_record and record_id is not None
        else None
    )
    if issue is None:
        issue = SyncIssue(
            kind=kind,
            record_id=record_id,
            op_id=op_id,
            created_at=now,
            resolved_at=None,
            resolution=None,
            reason=reason,
            message_zh=message_zh,
            message_en=message_en,
            details=dict(details),
        )
        session.add(issue)
    else:
        issue.reason = reason
        issue.message_zh = message_zh
        issue.message_en = message_en
        issue.details = {**issue.details, **details}
        issue.op_id = op_id if op_id is not None else issue.op_id
    session.flush()
    return issue


def resolve_issues(
    session: Session,
    *,
    resolution: str,
    now: dt.datetime,
    op_ids: Iterable[str] = (),
    kind: str | None = None,
    record_id: str | None = None,
    sha256: str | None = None,
) -> None:
    ops = set(op_ids)
    for issue in open_issues(session, kind=kind):
        if (
            (ops and issue.op_id in ops)
            or (record_id is not None and issue.record_id == record_id)
            or (sha256 is not None and issue.details.get("sha256") == sha256)
        ):
            issue.resolved_at = now
            issue.resolution = resolution


def held_record_ids(session: Session) -> set[str]:
    """Records whose changes wait for the clerk: an open conflict (pushing again would conflict again)."""
    rows = session.execute(
        select(SyncIssue.record_id).where(
            SyncIssue.resolved_at.is_(None),
            SyncIssue.kind == IssueKind.CONFLICT,
            SyncIssue.record_id.is_not(None),
        )
    ).scalars()
    return {r for r in rows if r}


# -- push -------------------------------------------------------------------------------------------------

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
    return {s for s in _walk_strings(data) if _SHA256.match(s)}


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
        return out


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
        )
        .join(Record, Record.id == OutboxEntry.record_id)
        .join(
            Revision,
            (Revision.record_id == OutboxEntry.record_id)
            & (Revision.revision == OutboxEntry.revision),
        )
        .outerjoin(SyncRecord, SyncRecord.record_id == OutboxEntry.record_id)
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
        for op_id, rid, kind, rev, form_id, form_version, data, saved_at, base in result:
            yield PendingChange(
                op_id=op_id,
                record_id=rid,
                form_id=form_id,
                form_version=form_version,
                kind=kind,
                revision=rev,
                base_server_revision=base,
                data=data,
                saved_at=saved_at,
            )
    finally:
        result.close()


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

    The outbox is scanned by id only (streamed, no JSON), and stops once the batch is full; only the chosen
    changes' data is read.
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
    scan = session.execute(
        select(OutboxEntry.op_id, OutboxEntry.record_id)
        .where(OutboxEntry.sent_at.is_(None))
        .order_by(OutboxEntry.id)
        .execution_options(yield_per=2000)
    )
    try:
        for op_id, record_id in scan:
            if record_id in seen or record_id in skip_records:
                continue
            if op_id in skip_ops or (op_id in rejected and record_id in several):
                continue
            seen.add(record_id)
            chosen.append(op_id)
            if len(chosen) >= limit:
                break
    finally:
        scan.close()
    if not chosen:
        return []
    out: list[PendingChange] = []
    size = 0
    for change in _pending_rows(session, chosen):
        n = len(json.dumps(change.wire(), ensure_ascii=False).encode("utf-8")) + 1
        if out and size + n > max_bytes:
            break
        out.append(change)
        size += n
    return out


def pending_attachments(
    session: Session, *, skip_records: set[str] | frozenset[str] = frozenset()
) -> tuple[list[Attachment], dict[str, set[str]], set[str]]:
    """Attachments the unsent changes use that the server does not have yet.

    Returns (attachments to upload, sha256 -> record ids using it, sha256 values no attachment row has).
    """
    users: dict[str, set[str]] = {}
    for change in _pending_rows(session):
        if change.record_id in skip_records:
            continue
        for sha in attachment_refs(change.data):
            users.setdefault(sha, set()).add(change.record_id)
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


def current_batch(session: Session) -> SyncBatch | None:
    return session.execute(
        select(SyncBatch).order_by(SyncBatch.created_at, SyncBatch.key).limit(1)
    ).scalar_one_or_none()


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


def _set_server_state(
    session: Session, record_id: str, *, server_revision: int, status: str, now: dt.datetime
) -> None:
    row = session.get(SyncRecord, record_id)
    if row is None:
        session.add(
            SyncRecord(
                record_id=record_id,
                server_revision=server_revision,
                server_status=status,
                updated_at=now,
            )
        )
    elif server_revision >= row.server_revision:
        row.server_revision = server_revision
        row.server_status = status
        row.updated_at = now


def _unsent(session: Session, record_id: str) -> list[OutboxEntry]:
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


def apply_push_answer(
    session: Session,
    *,
    batch_key: str,
    changes: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    now: dt.datetime,
) -> PushOutcome:
    """Apply our server's per-change answer to a batch, and forget the batch - in one transaction.

    `changes` are the batch's changes as sent. Only op ids the answer lists are acted on.
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

    to_mark: list[int] = []  # outbox ids now sent (acknowledged, or superseded by a newer change)
    states: dict[str, tuple[int, str]] = {}  # record id -> (server revision, server status)
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
            waiting = unsent.get(record_id, [])
            at = next((i for i, (_, op) in enumerate(waiting) if op == op_id), None)
            if at is not None:
                # Older unsent changes of this record (rejected before) are superseded: the server now
                # holds a newer full state of the record.
                to_mark.extend(entry_id for entry_id, _ in waiting[: at + 1])
                close_issues([op_id], "sent")
                close_issues([op for _, op in waiting[:at]], "superseded")
                unsent[record_id] = waiting[at + 1 :]
            server_revision = result.get("server_revision")
            if isinstance(server_revision, int):
                status = "deleted" if change.get("kind") == "delete" else Status.RECEIVED
                if server_revision >= states.get(record_id, (0, ""))[0]:
                    states[record_id] = (server_revision, status)
            outcome.acknowledged.append(op_id)
        elif kind == "conflict":
            server = dict(result.get("server") or {})
            raise_issue(
                session,
                kind=IssueKind.CONFLICT,
                reason="server_changed",
                message_zh="此记录在服务器上也被修改了（例如教育局退回或另一台电脑修改），两个版本都已保留，请选择",
                message_en="the record changed on the server too (a return, or another computer); both versions are kept - choose one",
                details={"server": server, "local": dict(change), "source": "push"},
                now=now,
                record_id=record_id,
                op_id=op_id,
                match_record=True,
            )
            outcome.conflicts.append({"record_id": record_id, "op_id": op_id, "server": server})
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
    if to_mark:
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id.in_(to_mark))
            .values(sent_at=now)
            .execution_options(synchronize_session=False)
        )
    done = [
        rid for rid in {sent[op]["record_id"] for op in outcome.acknowledged} if not unsent.get(rid)
    ]
    if done:  # an attachment problem of a record the server now holds is over
        session.execute(
            update(SyncIssue)
            .where(
                SyncIssue.kind == IssueKind.ATTACHMENT,
                SyncIssue.resolved_at.is_(None),
                SyncIssue.record_id.in_(done),
            )
            .values(resolved_at=now, resolution="sent")
            .execution_options(synchronize_session=False)
        )
    if done:
        # submitted -> received once nothing of the record waits; the server cleared its comments too.
        session.execute(
            update(Record)
            .where(Record.id.in_(done), Record.status == Status.SUBMITTED)
            .values(status=Status.RECEIVED, review_comments=null())
            .execution_options(synchronize_session=False)
        )
    if states:
        rows = [
            {"record_id": rid, "server_revision": rev, "server_status": st, "updated_at": now}
            for rid, (rev, st) in states.items()
        ]
        ins = sqlite_insert(SyncRecord).values(rows)
        session.execute(
            ins.on_conflict_do_update(
                index_elements=[SyncRecord.record_id],
                set_={
                    "server_revision": ins.excluded.server_revision,
                    "server_status": ins.excluded.server_status,
                    "updated_at": ins.excluded.updated_at,
                },
                where=SyncRecord.server_revision <= ins.excluded.server_revision,
            ).execution_options(synchronize_session=False)
        )
    drop_batch(session, batch_key)
    return outcome


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


# -- pull -------------------------------------------------------------------------------------------------

SERVER_STATUS = {
    "received": Status.RECEIVED,
    "submitted": Status.RECEIVED,
    "returned": Status.RETURNED,
    "accepted": Status.ACCEPTED,
}

K_WITHDRAWN = "sync.withdrawn_forms"  # [[form_id, version], ...] the bureau withdrew
# A form version from the server, as UTF-8 (the shipped ones are under 8 KB).
MAX_FORM_DEFINITION_BYTES = 1024 * 1024
# When a PULL issue's item is tried again: at the end of every sync, or (a form version this program could
# not use: the server's text never changes) once this program was updated.
RETRY_EVERY_SYNC = "every_sync"
RETRY_NEW_CLIENT = "new_client"


@dataclass
class PullOutcome:
    applied: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)  # "form_id version" stored
    # Items not applied, kept as PULL issues; and PULL issues closed (applied on a retry, or withdrawn).
    problems: list[SyncIssue] = field(default_factory=list)
    resolved: int = 0


@dataclass(frozen=True)
class FetchedForm:
    """A form version from the server, read and checked, ready to store."""

    form_id: str
    version: str
    definition: str
    sha256: str
    form: FormDef


@dataclass(frozen=True)
class UnusableForm:
    """A form version this client could not fetch, read or use; `retry` says when it is tried again."""

    form_id: str
    version: str
    sha256: str
    reason: str
    message_zh: str
    message_en: str
    retry: str = RETRY_EVERY_SYNC


class PullItemError(Exception):
    """One pulled item cannot be applied; the sync keeps it as a PULL issue and goes on."""

    def __init__(self, reason: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.reason = reason
        self.message_zh = message_zh
        self.message_en = message_en


def canonical_sha256(form: FormDef) -> str:
    """The server's sha256 of a form version: of its canonical YAML (forms.serialize.to_yaml)."""
    import hashlib

    from forms.serialize import to_yaml

    return hashlib.sha256(to_yaml(form).encode("utf-8")).hexdigest()


def read_form_definition(
    definition: str, *, form_id: str, version: str, sha256: str
) -> FetchedForm | UnusableForm:
    """Check a form version's text as the server sent it (or as stored): its size first (nothing bigger is
    parsed), then the forms loader with its own limits, then that it is the version announced."""
    size = len(definition.encode("utf-8", "surrogatepass"))
    if size > MAX_FORM_DEFINITION_BYTES:
        return UnusableForm(
            form_id,
            version,
            sha256,
            "form_too_large",
            f"定义太大（{size // 1024} KB，最多 {MAX_FORM_DEFINITION_BYTES // 1024} KB）",
            f"its definition is too large ({size // 1024} KB, at most "
            f"{MAX_FORM_DEFINITION_BYTES // 1024} KB)",
            RETRY_NEW_CLIENT,
        )
    try:
        # Published by the server, which checked the identifiers then (an older version may predate them).
        form = load_yaml_text(definition, file=f"{form_id}-{version}.yaml", check_identifiers=False)
    except FormDefinitionError as exc:
        first = exc.errors[0] if exc.errors else None
        return UnusableForm(
            form_id,
            version,
            sha256,
            "form_refused",
            f"本程序读不懂它的定义（{first.location}：{first.message_zh}）"
            if first
            else "本程序读不懂它的定义",
            f"this program cannot read its definition ({first.location}: {first.message_en})"
            if first
            else "this program cannot read its definition",
            RETRY_NEW_CLIENT,
        )
    except (RecursionError, ValueError, TypeError) as exc:
        return UnusableForm(
            form_id,
            version,
            sha256,
            "form_refused",
            f"本程序读不懂它的定义（{type(exc).__name__}）",
            f"this program cannot read its definition ({type(exc).__name__})",
            RETRY_NEW_CLIENT,
        )
    if (form.form_id, form.version) != (form_id, version):
        return UnusableForm(
            form_id,
            version,
            sha256,
            "form_mismatch",
            f"服务器发来的定义是 {form.form_id} 版本 {form.version}，不是所宣布的版本",
            f"the definition sent is {form.form_id} version {form.version}, not the version announced",
        )
    return FetchedForm(form_id, version, definition, sha256, form)


def forms_to_fetch(
    session: Session, formset: FormSet, announced: Iterable[Mapping[str, Any]]
) -> list[tuple[str, str, str]]:
    """(form_id, version, sha256) of announced form versions this client does not hold yet."""
    out: list[tuple[str, str, str]] = []
    for f in announced:
        form_id, version = str(f.get("form_id") or ""), str(f.get("version") or "")
        sha = str(f.get("sha256") or "")
        if not form_id or not version:
            continue  # a malformed item: apply_pull_page keeps it as a problem
        row = session.get(FormVersion, (form_id, version))
        if row is not None and (not sha or row.sha256 == sha):
            continue
        local = formset.versions.get((form_id, version))
        if row is None and local is not None and sha and canonical_sha256(local) == sha:
            continue  # a shipped definition, the same text as the server's
        if (form_id, version, sha) not in out:
            out.append((form_id, version, sha))
    return out


def store_form_version(
    session: Session, formset: FormSet, fetched: FetchedForm, *, now: dt.datetime
) -> FormDef:
    """Keep a published form version (its YAML, already read by read_form_definition) and add it to the
    forms this client knows. Only definitions this client can use are stored: none is re-read in vain at
    every start."""
    row = session.get(FormVersion, (fetched.form_id, fetched.version))
    if row is None:
        session.add(
            FormVersion(
                form_id=fetched.form_id,
                version=fetched.version,
                definition=fetched.definition,
                sha256=fetched.sha256,
                received_at=now,
            )
        )
    else:
        row.definition, row.sha256, row.received_at = fetched.definition, fetched.sha256, now
    session.flush()
    formset.add(fetched.form)
    return fetched.form


def withdrawn_versions(session: Session) -> set[tuple[str, str]]:
    value = get_setting(session, K_WITHDRAWN) or []
    return {(str(p[0]), str(p[1])) for p in value if isinstance(p, list) and len(p) == 2}


def withdraw_form_version(
    session: Session, formset: FormSet, *, form_id: str, version: str, now: dt.datetime
) -> int:
    """The bureau withdrew a version: new records use the newest version left; records made with it stay
    as they are (readable, and they sync). Returns the number of PULL issues it closes (its own)."""
    known = withdrawn_versions(session)
    if (form_id, version) not in known:
        set_setting(session, K_WITHDRAWN, sorted([list(k) for k in known | {(form_id, version)}]))
    formset.withdraw(form_id, version)
    return _resolve_pull_issue(session, _form_key(form_id, version), "withdrawn", now)


def load_stored_forms(session: Session, formset: FormSet) -> int:
    """Add the form versions the bureau published (kept in form_versions) to a FormSet, and take out the
    withdrawn ones; call at start-up. A stored definition that does not load (too large, or kept by an
    older version of this program) is skipped with a warning, never read past the size limit."""
    n = 0
    for row in session.execute(select(FormVersion).order_by(FormVersion.received_at)).scalars():
        read = read_form_definition(
            row.definition, form_id=row.form_id, version=row.version, sha256=row.sha256
        )
        if isinstance(read, UnusableForm):
            log.warning(
                "stored form %s %s does not load: %s", row.form_id, row.version, read.message_en
            )
            continue
        formset.add(read.form)
        n += 1
    for form_id, version in sorted(withdrawn_versions(session)):
        formset.withdraw(form_id, version)
    return n


def _form_key(form_id: str, version: str) -> str:
    return f"form {form_id} {version}"


def _record_key(record_id: str) -> str:
    return f"record {record_id}"


def open_pull_issues(session: Session) -> list[SyncIssue]:
    return open_issues(session, kind=IssueKind.PULL)


def _open_pull_issue(session: Session, key: str) -> SyncIssue | None:
    return next((i for i in open_pull_issues(session) if i.details.get("key") == key), None)


def _resolve_pull_issue(session: Session, key: str, resolution: str, now: dt.datetime) -> int:
    issue = _open_pull_issue(session, key)
    if issue is None:
        return 0
    issue.resolved_at = now
    issue.resolution = resolution
    return 1


def _item_error_is_local(exc: BaseException) -> bool:
    """A failure of the store itself (disk full, locked, I/O): not the item's fault - the page stops."""
    return isinstance(
        exc, OperationalError | InterfaceError | InternalError | MemoryError | sqlite3.Error
    )


def _pull_item_problem(
    session: Session,
    change: Mapping[str, Any],
    exc: BaseException,
    *,
    now: dt.datetime,
    app_version: str,
) -> SyncIssue:
    """Keep a pulled item that could not be applied as an open PULL issue (one per form version, one per
    record: a later failure of the same updates it), with the item itself for the retry."""
    kind = str(change.get("type") or "")
    form_id = str(change.get("form_id") or "")
    version = str(change.get("version") or change.get("form_version") or "")
    record_id = str(change["record_id"]) if kind == "record" and change.get("record_id") else None
    if isinstance(exc, PullItemError):
        reason, zh, en = exc.reason, exc.message_zh, exc.message_en
    else:
        log.error("a pulled %s item could not be applied: %r", kind or "?", exc, exc_info=exc)
        reason = "apply_failed"
        zh = f"服务器发来的一项内容本机无法保存（{type(exc).__name__}）；每次同步时会再试"
        en = f"an item from the server could not be stored here ({type(exc).__name__}); it is tried again at every sync"
    retry = exc.retry if isinstance(exc, _UnusableFormError) else RETRY_EVERY_SYNC
    if kind == "form" and form_id and version:
        key, what = _form_key(form_id, version), "form"
    elif record_id:
        key, what = _record_key(record_id), "record"
    else:
        key, what = f"item {change.get('seq')}", kind or "item"
    item = dict(change)
    details = {
        "key": key,
        "what": what,
        "item": item,
        "form_id": form_id,
        "version": version,
        "sha256": str(change.get("sha256") or ""),
        "retry": retry,
        "app_version": app_version,
        "last_tried_at": _iso(now),
    }
    issue = _open_pull_issue(session, key)
    if issue is None:
        issue = SyncIssue(
            kind=IssueKind.PULL,
            record_id=record_id,
            op_id=None,
            created_at=now,
            resolved_at=None,
            resolution=None,
            reason=reason[:64],
            message_zh=zh,
            message_en=en,
            details={**details, "attempts": 1},
        )
        session.add(issue)
    else:
        issue.reason, issue.message_zh, issue.message_en = reason[:64], zh, en
        issue.details = {**details, "attempts": int(issue.details.get("attempts") or 0) + 1}
    session.flush()
    return issue


class _UnusableFormError(PullItemError):
    def __init__(self, unusable: UnusableForm, title: str) -> None:
        when_zh, when_en = (
            (
                "请把本程序更新到最新版本，或请教育局撤回或改正此版本",
                "update this program, or ask the bureau to withdraw or correct this version",
            )
            if unusable.retry == RETRY_NEW_CLIENT
            else ("每次同步时会再试", "it is tried again at every sync")
        )
        super().__init__(
            unusable.reason,
            f"教育局发布的表单“{title}”版本 {unusable.version} 本机无法使用：{unusable.message_zh}。"
            f"其他表单和记录照常同步；{when_zh}",
            f"form {unusable.form_id} version {unusable.version} from the bureau cannot be used here: "
            f"{unusable.message_en}. Other forms and records sync as usual; {when_en}",
        )
        self.retry = unusable.retry


def _apply_item(
    session: Session,
    formset: FormSet,
    change: Mapping[str, Any],
    definitions: Mapping[tuple[str, str], FetchedForm | UnusableForm],
    outcome: PullOutcome,
    *,
    now: dt.datetime,
) -> None:
    """One pulled item; PullItemError (or anything else) when it cannot be applied."""
    kind = change.get("type")
    if kind == "record":
        conflict = _apply_record(session, formset, change, now=now)
        if conflict is not None:
            outcome.conflicts.append(conflict)
        outcome.resolved += _resolve_pull_issue(
            session, _record_key(str(change["record_id"])), "applied", now
        )
    elif kind == "form":
        form_id, version = change.get("form_id"), change.get("version")
        if (
            not isinstance(form_id, str)
            or not isinstance(version, str)
            or not form_id
            or not version
        ):
            raise PullItemError(
                "malformed",
                "服务器宣布的新表单版本缺少表单编号或版本号",
                "a new form version was announced without a form id or version",
            )
        fetched = definitions.get((form_id, version))
        if isinstance(fetched, UnusableForm):
            title = str(change.get("title_zh") or form_id)
            raise _UnusableFormError(fetched, title)
        if fetched is not None:
            store_form_version(session, formset, fetched, now=now)
            outcome.forms.append(f"{form_id} {version}")
            outcome.resolved += _resolve_pull_issue(
                session, _form_key(form_id, version), "applied", now
            )
    elif kind == "form_withdrawn":
        outcome.resolved += withdraw_form_version(
            session,
            formset,
            form_id=str(change["form_id"]),
            version=str(change["version"]),
            now=now,
        )
    else:
        log.warning("unknown change type %r skipped", kind)


def apply_pull_page(
    session: Session,
    *,
    formset: FormSet,
    changes: Sequence[Mapping[str, Any]],
    cursor: int,
    definitions: Mapping[tuple[str, str], FetchedForm | UnusableForm],
    now: dt.datetime,
    app_version: str = "",
) -> PullOutcome:
    """Apply one pulled page and advance the cursor to `cursor` - all in the caller's one transaction.

    Each item is applied in a savepoint of its own: an item that cannot be applied (a form version in
    `definitions` as UnusableForm, a record of a form this client does not know, anything that raises) is
    rolled back alone and kept as an open PULL issue with what is needed to retry it; the rest of the page
    applies, and the cursor moves past it. A failure of the store itself (disk full, ...) is not an item's
    problem: it propagates, and the caller's transaction rolls back whole.

    `definitions`: (form_id, version) -> the page's new form versions, fetched and read.
    """
    try:  # the usual case, all items fine: one savepoint for the page (one per item costs ~15%)
        outcome = PullOutcome()
        with session.begin_nested():
            for change in changes:
                _apply_item(session, formset, change, definitions, outcome, now=now)
                outcome.applied += 1
    except Exception as exc:
        if _item_error_is_local(exc):
            raise
        outcome = PullOutcome()  # the page again, item by item (applying an item twice is harmless)
        for change in changes:
            try:
                with session.begin_nested():
                    _apply_item(session, formset, change, definitions, outcome, now=now)
            except Exception as item_exc:
                if _item_error_is_local(item_exc):
                    raise
                outcome.problems.append(
                    _pull_item_problem(session, change, item_exc, now=now, app_version=app_version)
                )
                continue
            outcome.applied += 1
    set_cursor(session, cursor)
    return outcome


def forms_to_retry(session: Session, formset: FormSet, *, app_version: str) -> list[SyncIssue]:
    """Open form problems due for another try: those tried at every sync, and those this program could not
    use when it was an older version. A withdrawn version's problem is closed instead."""
    due: list[SyncIssue] = []
    for issue in open_pull_issues(session):
        d = issue.details
        if d.get("what") != "form":
            continue
        if (str(d.get("form_id")), str(d.get("version"))) in formset.withdrawn:
            continue
        if d.get("retry") == RETRY_NEW_CLIENT and d.get("app_version") == app_version:
            continue
        due.append(issue)
    return due


def retry_pull_issues(
    session: Session,
    *,
    formset: FormSet,
    definitions: Mapping[tuple[str, str], FetchedForm | UnusableForm],
    now: dt.datetime,
    app_version: str,
) -> PullOutcome:
    """Try the items of open PULL issues again (forms first: a record may have waited for its form), each
    in a savepoint; the cursor is not touched. `definitions`: the form versions fetched again."""
    outcome = PullOutcome()
    issues = open_pull_issues(session)
    issues.sort(key=lambda i: (i.details.get("what") != "form", i.id))
    for issue in issues:
        d = issue.details
        item = d.get("item")
        if not isinstance(item, Mapping):
            continue
        form_key = (str(d.get("form_id")), str(d.get("version")))
        if d.get("what") == "form":
            if form_key in formset.withdrawn:
                outcome.resolved += _resolve_pull_issue(session, str(d["key"]), "withdrawn", now)
                continue
            if form_key not in definitions:
                continue  # not due (see forms_to_retry)
        if issue.resolved_at is not None:
            continue
        try:
            with session.begin_nested():
                _apply_item(session, formset, item, definitions, outcome, now=now)
        except Exception as exc:
            if _item_error_is_local(exc):
                raise
            outcome.problems.append(
                _pull_item_problem(session, item, exc, now=now, app_version=app_version)
            )
            continue
        outcome.applied += 1
    return outcome


def _form_for(formset: FormSet, form_id: str, version: str | None) -> FormDef | None:
    try:
        return formset.get(form_id, version)
    except KeyError:
        return None


def _any_version(formset: FormSet, form_id: str) -> FormDef | None:
    """A form all of whose versions were withdrawn is still known (its records stay readable)."""
    return next((f for (fid, _), f in formset.versions.items() if fid == form_id), None)


def _refresh_derived(session: Session, record: Record, form: FormDef | None) -> None:
    """Summary, period, date and search text of a record whose data came from the server."""
    if form is None:
        return
    refs = references(session)
    record.summary = summarize(form, record.data, refs)
    record.period = record_period(form, record.data)
    record.record_date = _record_date(form, record.data)
    session.flush()
    index_record(session, record.id, record.summary + " " + search_text(form, record.data, refs))


def _record_date(form: FormDef, data: Mapping[str, Any]) -> str | None:
    name = form.settings.period_field
    if name is None:
        for f in form.all_fields():
            if f.type is FieldType.DATE:
                name = f.name
                break
    value = data.get(name) if name else None
    return value[:10] if isinstance(value, str) and len(value) >= 10 and value[4] == "-" else None


def _new_revision(session: Session, record: Record, *, now: dt.datetime) -> None:
    record.revision += 1
    record.updated_at = now
    session.add(
        Revision(
            record_id=record.id,
            revision=record.revision,
            form_version=record.form_version,
            data=record.data,
            status=record.status,
            deleted=record.deleted,
            saved_at=now,
        )
    )


def _roster_clash(session: Session, record_id: str, data: Mapping[str, Any] | None) -> bool:
    tid = (data or {}).get("teacher_id")
    if not tid:
        return False
    return (
        session.execute(
            select(Record.id).where(
                Record.form_id == ROSTER_FORM,
                Record.deleted.is_(False),
                Record.id != record_id,
                func.json_extract(Record.data, "$.teacher_id") == tid,
            )
        ).first()
        is not None
    )


def _server_version(change: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "server_revision": change.get("server_revision"),
        "status": change.get("status"),
        "form_version": change.get("form_version"),
        "data": change.get("data"),
        "review_comments": change.get("review_comments") or {},
    }


def _apply_record(
    session: Session, formset: FormSet, change: Mapping[str, Any], *, now: dt.datetime
) -> dict[str, Any] | None:
    """One pulled record change. Returns a conflict notice when both versions had to be kept."""
    rid = str(change["record_id"])
    srv_rev = int(change["server_revision"])
    srv_status = str(change.get("status") or "")
    deleted = srv_status == "deleted"
    data = change.get("data")
    comments = change.get("review_comments") or None
    known = session.get(SyncRecord, rid)
    if known is not None and srv_rev < known.server_revision:
        return None  # an older state than one this client already has
    record = session.get(Record, rid)
    form_id = str(change.get("form_id") or "")
    if record is None:
        if deleted or not isinstance(data, Mapping):
            return None
        if form_id == ROSTER_FORM and _roster_clash(session, rid, data):
            raise_issue(
                session,
                kind=IssueKind.CONFLICT,
                reason="roster_duplicate",
                message_zh=f"另一台电脑登记了相同工号的教师“{data.get('teacher_id')}”，请核对名册",
                message_en=f"another computer added a teacher with the same staff number '{data.get('teacher_id')}'; check the roster",
                details={"server": {**_server_version(change), "record_id": rid}, "source": "pull"},
                now=now,
                record_id=rid,
            )
            return {"record_id": rid, "op_id": None, "server": _server_version(change)}
        version = str(change.get("form_version") or "")
        form = _form_for(formset, form_id, version or None) or _any_version(formset, form_id)
        if form is None:
            raise PullItemError(
                "unknown_form",
                f"服务器发来一条“{form_id}”表单的记录，本机还没有这个表单；收到表单后会自动补上",
                f"the server sent a record of form '{form_id}', which this computer does not have yet; "
                "it is added once the form arrives",
            )
        record = Record(
            id=rid,
            form_id=form_id,
            form_version=version or (form.version if form else ""),
            data=dict(data),
            status=SERVER_STATUS.get(srv_status, Status.RECEIVED),
            revision=1,
            period=None,
            record_date=None,
            summary="",
            created_at=now,
            updated_at=now,
            deleted=False,
            review_comments=comments,
        )
        session.add(record)
        session.add(
            Revision(
                record_id=rid,
                revision=1,
                form_version=record.form_version,
                data=record.data,
                status=record.status,
                deleted=False,
                saved_at=now,
            )
        )
        session.flush()
        _refresh_derived(session, record, form)
        _set_server_state(session, rid, server_revision=srv_rev, status=srv_status, now=now)
        return None

    pending = bool(_unsent(session, rid))
    notice: dict[str, Any] | None = None
    if record.deleted:
        # Deleted here: the tombstone is (or was) pushed; the server's later states do not revive it.
        _set_server_state(session, rid, server_revision=srv_rev, status=srv_status, now=now)
        return None
    differs = deleted or (isinstance(data, Mapping) and dict(data) != record.data)
    if pending and differs:
        raise_issue(
            session,
            kind=IssueKind.CONFLICT,
            reason="server_deleted" if deleted else "server_changed",
            message_zh="此记录在服务器上也被修改了，而本机的修改尚未发出；两个版本都已保留，请选择",
            message_en="the record changed on the server while a change made here was not yet sent; both versions are kept - choose one",
            details={"server": _server_version(change), "source": "pull"},
            now=now,
            record_id=rid,
            match_record=True,
        )
        notice = {"record_id": rid, "op_id": None, "server": _server_version(change)}
    elif deleted:
        record.deleted = True
        _new_revision(session, record, now=now)
        rowid = session.execute(
            text("SELECT rowid FROM records WHERE id = :id"), {"id": rid}
        ).scalar_one()
        unindex(session, rowid)
    elif differs and isinstance(data, Mapping):
        record.data = dict(data)
        if change.get("form_version"):
            record.form_version = str(change["form_version"])
        record.status = SERVER_STATUS.get(srv_status, record.status)
        record.review_comments = comments
        _new_revision(session, record, now=now)
        _refresh_derived(session, record, _form_for(formset, record.form_id, record.form_version))
    if not deleted and (srv_status in ("returned", "accepted") or not pending):
        # A return or an acceptance shows even over an unsent change (the conflict says what to do).
        record.status = SERVER_STATUS.get(srv_status, record.status)
        record.review_comments = comments
        record.updated_at = now
    _set_server_state(session, rid, server_revision=srv_rev, status=srv_status, now=now)
    return notice


# -- conflicts --------------------------------------------------------------------------------------------


def resolve_conflict(
    session: Session,
    *,
    forms: FormSet,
    issue_id: int,
    data: Mapping[str, Any] | None,
    today: dt.date,
    now: dt.datetime,
) -> SaveResult | None:
    """The clerk's choice for a conflict: data=None keeps the server's version; otherwise `data` (the local
    version, or a field-by-field merge) is saved as a new revision on top of the server's, and syncs.

    Unsent older changes of the record are marked superseded (the clerk's choice replaces them).
    """
    issue = session.get(SyncIssue, issue_id)
    if issue is None or issue.resolved_at is not None or issue.kind != IssueKind.CONFLICT:
        raise StoreError("没有这个待处理的冲突", f"no open conflict {issue_id}")
    rid = issue.record_id
    record = session.get(Record, rid) if rid else None
    if record is None:
        raise RecordNotFound(str(rid))
    server = dict(issue.details.get("server") or {})
    srv_rev = server.get("server_revision")
    srv_status = str(server.get("status") or Status.RECEIVED)
    if isinstance(srv_rev, int):
        _set_server_state(session, record.id, server_revision=srv_rev, status=srv_status, now=now)
    unsent = _unsent(session, record.id)
    for e in unsent:
        e.sent_at = now
    resolve_issues(session, resolution="superseded", now=now, op_ids=[e.op_id for e in unsent])
    result: SaveResult | None = None
    if data is None:
        resolution = "kept_server"
        server_data = server.get("data")
        if srv_status == "deleted":
            record.deleted = True
            _new_revision(session, record, now=now)
        else:
            if isinstance(server_data, Mapping):
                record.data = dict(server_data)
            record.status = SERVER_STATUS.get(srv_status, Status.RECEIVED)
            record.review_comments = server.get("review_comments") or None
            _new_revision(session, record, now=now)
            _refresh_derived(session, record, _form_for(forms, record.form_id, record.form_version))
    else:
        resolution = "kept_local"
        if record.status == Status.ACCEPTED:
            raise RecordLocked()
        result = save_record(
            session,
            form=forms.get(record.form_id, record.form_version),
            data=data,
            record_id=record.id,
            submit=True,
            today=today,
            now=now,
        )
    issue.resolved_at = now
    issue.resolution = resolution
    return result
