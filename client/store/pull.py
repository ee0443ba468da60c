"""The pull side of the sync: pulled pages applied, and the cursor advanced, in the caller's one transaction
(apply_pull_page); each item in a savepoint, so that one item that cannot be applied becomes a PULL issue and
never holds back the rest, nor the cursor.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError
from sqlalchemy.orm import Session

from client.store.change_requests import apply_decision
from client.store.dberrors import DB_ERRORS
from client.store.formset import ROSTER_FORM, FormSet
from client.store.issues import IssueKind, open_issues, raise_conflict
from client.store.models import (
    Record,
    Revision,
    Status,
    SyncIssue,
    SyncRecord,
)
from client.store.outbox import drop_offers, unsent_entries
from client.store.prefs import get_setting, set_setting
from client.store.pulled_forms import (
    RETRY_EVERY_SYNC,
    RETRY_NEW_CLIENT,
    FetchedForm,
    PullItemError,
    UnusableForm,
    UnusableFormError,
    form_key,
    open_pull_issue,
    open_pull_issues,
    record_key,
    resolve_pull_issue,
    store_form_version,
    withdraw_form_version,
)
from client.store.server_state import (
    adopt_server_version,
    any_version,
    form_for,
    insert_from_server,
    server_status_of,
    server_version,
    set_server_state,
)

log = logging.getLogger(__name__)


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


K_CURSOR = "sync.cursor"


def get_cursor(session: Session) -> int:
    return int(get_setting(session, K_CURSOR, 0) or 0)


def set_cursor(session: Session, cursor: int) -> None:
    set_setting(session, K_CURSOR, int(cursor))


@dataclass
class PullOutcome:
    applied: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)  # "form_id version" stored
    # Items not applied, kept as PULL issues; and PULL issues closed (applied on a retry, or withdrawn).
    problems: list[SyncIssue] = field(default_factory=list)
    resolved: int = 0


def _item_error_is_local(exc: BaseException) -> bool:
    """A failure of the store itself (disk full, locked, I/O): not the item's fault - the page stops."""
    return isinstance(
        exc, (OperationalError, InterfaceError, InternalError, MemoryError, *DB_ERRORS)
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
    retry = exc.retry if isinstance(exc, UnusableFormError) else RETRY_EVERY_SYNC
    if kind == "form" and form_id and version:
        key, what = form_key(form_id, version), "form"
    elif record_id:
        key, what = record_key(record_id), "record"
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
    issue = open_pull_issue(session, key)
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
        outcome.resolved += resolve_pull_issue(
            session, record_key(str(change["record_id"])), "applied", now
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
            raise UnusableFormError(fetched, title)
        if fetched is not None:
            store_form_version(session, formset, fetched, now=now)
            outcome.forms.append(f"{form_id} {version}")
            outcome.resolved += resolve_pull_issue(
                session, form_key(form_id, version), "applied", now
            )
    elif kind == "change_request":
        apply_decision(session, change, now=now)
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
                outcome.resolved += resolve_pull_issue(session, str(d["key"]), "withdrawn", now)
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


def _roster_clash(session: Session, record_id: str, data: Mapping[str, Any]) -> Record | None:
    """A live roster entry here, other than `record_id`, with the 工号 in `data`."""
    tid = data.get("teacher_id")
    if not tid:
        return None
    return session.execute(
        select(Record).where(
            Record.form_id == ROSTER_FORM,
            Record.deleted.is_(False),
            Record.id != record_id,
            func.json_extract(Record.data, "$.teacher_id") == tid,
        )
    ).scalar_one_or_none()


def _duplicate(
    session: Session, mine: Record, theirs: Mapping[str, Any], *, now: dt.datetime
) -> dict[str, Any] | None:
    """A roster entry from the server whose 工号 an entry here (`mine`) has: one 工号 is one teacher.
    The entry the server does not hold gives way - a roster_duplicate conflict on it, against the server's
    entry (which is taken in when the clerk chooses: the store holds one live entry per 工号). Of two entries
    the server holds (written before it refused a second), the one with the larger id gives way; when that
    is the server's, it is left out here and the PC that holds it retires it."""
    known = session.get(SyncRecord, mine.id)
    on_server = known is not None and known.server_status != "deleted"
    theirs_id = str(theirs["record_id"])
    if on_server and theirs_id > mine.id:
        log.warning("roster entry %s has the 工号 of %s: left out here", theirs_id, mine.id)
        return None
    tid = mine.data.get("teacher_id")
    raise_conflict(
        session,
        reason="roster_duplicate",
        message_zh=f"另一台电脑已登记工号“{tid}”的教师：同一工号只能有一位教师，请选择保留哪份信息",
        message_en=f"another computer already added the teacher with staff number '{tid}': one "
        "number is one teacher - choose which details to keep",
        server=theirs,
        source="pull",
        now=now,
        record_id=mine.id,
    )
    return {"record_id": mine.id, "op_id": None, "server": dict(theirs)}


def _gone(session: Session, record_id: str, *, now: dt.datetime) -> None:
    """A roster entry deleted on the server is no longer a duplicate of anything."""
    for issue in open_issues(session, kind=IssueKind.CONFLICT):
        if issue.reason == "roster_duplicate" and record_id in (
            issue.record_id,
            (issue.details.get("server") or {}).get("record_id"),
        ):
            issue.resolved_at = now
            issue.resolution = "gone"


def _open_conflict(session: Session, record_id: str) -> SyncIssue | None:
    return next(
        (i for i in open_issues(session, kind=IssueKind.CONFLICT) if i.record_id == record_id),
        None,
    )


_CONFLICT_TEXT = (
    "此记录在服务器上也被修改了，而本机的修改尚未发出；两个版本都已保留，请选择",
    "the record changed on the server while a change made here was not yet sent; both versions are "
    "kept - choose one",
)


def _apply_record(
    session: Session, formset: FormSet, change: Mapping[str, Any], *, now: dt.datetime
) -> dict[str, Any] | None:
    """One pulled record change. Returns a conflict notice when both versions had to be kept.

    With nothing of the record waiting here, the server's state becomes the record's: its data, status and
    comments, or its deletion - and a record deleted here comes back when the server's newer state is live
    (another PC kept it in a conflict). With a change of it waiting to be sent, a different server state is
    a conflict (both kept; the change is held until the clerk chooses), a deletion here included.
    """
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
    view = server_version(change)
    if record is None:
        if deleted:
            _gone(session, rid, now=now)
        if deleted or not isinstance(data, Mapping):
            return None
        version = str(change.get("form_version") or "")
        form = form_for(formset, form_id, version or None) or any_version(formset, form_id)
        if form is None:
            raise PullItemError(
                "unknown_form",
                f"服务器发来一条“{form_id}”表单的记录，本机还没有这个表单；收到表单后会自动补上",
                f"the server sent a record of form '{form_id}', which this computer does not have yet; "
                "it is added once the form arrives",
            )
        if form_id == ROSTER_FORM:
            mine = _roster_clash(session, rid, data)
            if mine is not None:
                return _duplicate(session, mine, {**view, "record_id": rid}, now=now)
        insert_from_server(session, form, rid, view, now=now)
        return None

    notice: dict[str, Any] | None = None
    past = known is not None and (
        srv_rev > known.server_revision
        or (not deleted and isinstance(data, Mapping) and dict(data) == record.data)
    )
    if known is not None and drop_offers(session, rid, past=past, now=now):
        pass  # what this PC offered back after a restore is held by the server: its state applies
    elif unsent_entries(session, rid):
        differs = deleted != record.deleted or (
            not deleted and isinstance(data, Mapping) and dict(data) != record.data
        )
        held = _open_conflict(session, rid)
        if held is not None and held.reason == "roster_duplicate":
            pass  # that conflict is about another entry's 工号: its choice settles this record too
        elif differs or held is not None:
            # A conflict shows the newest server state, even one that now equals this computer's.
            raise_conflict(
                session,
                reason="server_deleted" if deleted else "server_changed",
                message_zh=_CONFLICT_TEXT[0],
                message_en=_CONFLICT_TEXT[1],
                server=view,
                source="pull",
                now=now,
                record_id=rid,
            )
            notice = {"record_id": rid, "op_id": None, "server": view}
        if not deleted and not record.deleted and srv_status in ("returned", "accepted"):
            # A return or an acceptance shows even over an unsent change (the conflict says what to do).
            record.status = server_status_of(srv_status)
            record.review_comments = comments
            record.updated_at = now
        if srv_status == "returned" and not differs and notice is None:
            # The waiting change holds what the server holds, and was made before the return was seen:
            # it goes without answering the return (keep_return), which stays open (docs/protocol.md).
            session.execute(
                update(Revision)
                .where(
                    Revision.record_id == rid,
                    Revision.revision.in_([e.revision for e in unsent_entries(session, rid)]),
                    Revision.deleted.is_(False),
                )
                .values(status=Status.RETURNED)
            )
        set_server_state(session, rid, server_revision=srv_rev, status=srv_status, now=now)
        return notice

    if deleted != record.deleted or (
        not deleted and isinstance(data, Mapping) and dict(data) != record.data
    ):
        adopt_server_version(session, formset, record, view, now=now)
    elif not deleted:
        record.status = server_status_of(srv_status)
        record.review_comments = comments
        record.updated_at = now
    set_server_state(session, rid, server_revision=srv_rev, status=srv_status, now=now)
    if deleted:
        _gone(session, rid, now=now)
    return notice
