"""The pull side of the sync: pulled pages applied, and the cursor advanced, in the caller's one transaction
(apply_pull_page); each item in a savepoint, so that one item that cannot be applied becomes a PULL issue and
never holds back the rest, nor the cursor.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError
from sqlalchemy.orm import Session

from client.store.formset import ROSTER_FORM, FormSet
from client.store.issues import IssueKind, raise_issue
from client.store.models import (
    Record,
    Revision,
    Status,
    SyncIssue,
    SyncRecord,
)
from client.store.outbox import unsent_entries
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
from client.store.search import unindex
from client.store.server_state import (
    SERVER_STATUS,
    any_version,
    form_for,
    new_revision,
    refresh_derived,
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
                details={"server": {**server_version(change), "record_id": rid}, "source": "pull"},
                now=now,
                record_id=rid,
            )
            return {"record_id": rid, "op_id": None, "server": server_version(change)}
        version = str(change.get("form_version") or "")
        form = form_for(formset, form_id, version or None) or any_version(formset, form_id)
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
        refresh_derived(session, record, form)
        set_server_state(session, rid, server_revision=srv_rev, status=srv_status, now=now)
        return None

    pending = bool(unsent_entries(session, rid))
    notice: dict[str, Any] | None = None
    if record.deleted:
        # Deleted here: the tombstone is (or was) pushed; the server's later states do not revive it.
        set_server_state(session, rid, server_revision=srv_rev, status=srv_status, now=now)
        return None
    differs = deleted or (isinstance(data, Mapping) and dict(data) != record.data)
    if pending and differs:
        raise_issue(
            session,
            kind=IssueKind.CONFLICT,
            reason="server_deleted" if deleted else "server_changed",
            message_zh="此记录在服务器上也被修改了，而本机的修改尚未发出；两个版本都已保留，请选择",
            message_en="the record changed on the server while a change made here was not yet sent; both versions are kept - choose one",
            details={"server": server_version(change), "source": "pull"},
            now=now,
            record_id=rid,
            match_record=True,
        )
        notice = {"record_id": rid, "op_id": None, "server": server_version(change)}
    elif deleted:
        record.deleted = True
        new_revision(session, record, now=now)
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
        new_revision(session, record, now=now)
        refresh_derived(session, record, form_for(formset, record.form_id, record.form_version))
    if not deleted and (srv_status in ("returned", "accepted") or not pending):
        # A return or an acceptance shows even over an unsent change (the conflict says what to do).
        record.status = SERVER_STATUS.get(srv_status, record.status)
        record.review_comments = comments
        record.updated_at = now
    set_server_state(session, rid, server_revision=srv_rev, status=srv_status, now=now)
    return notice
