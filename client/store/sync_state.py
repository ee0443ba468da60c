"""What the sync keeps in the local store, as repository functions (they take a Session, never commit).

- Enrollment and progress live in the settings table under "sync.*": the server URL, device token, device id,
  school code and name, the pull cursor, the last successful sync and the last problem (this module).
- sync_records: each record's server revision as last seen (client.store.server_state).
- the outbox and sync_batches: what waits to be pushed, and the batch in flight (client.store.outbox).
- pulled pages and form versions (client.store.pull, client.store.pulled_forms).
- sync_issues: what the clerk must see (client.store.issues), and conflict resolution (client.store.conflicts).

This module re-exports the names of all of these, so `from client.store import sync_state as S` keeps
working for every caller.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from client.store.change_requests import apply_decision, note_change_request, open_requests
from client.store.conflicts import KEPT_LOCAL, KEPT_SERVER, resolve_conflict
from client.store.issues import (
    IssueKind,
    dismiss_issue,
    held_record_ids,
    open_issues,
    raise_issue,
    resolve_issues,
)
from client.store.models import (
    OutboxEntry,
    Record,
    SyncBatch,
    SyncIssue,
)
from client.store.outbox import (
    REJECTED_TEXT,
    PendingChange,
    PushOutcome,
    apply_push_answer,
    attachment_refs,
    current_batch,
    drop_batch,
    mark_uploaded,
    pending_attachments,
    pending_changes,
    reject_unsendable,
    store_batch,
    unsent_entries,
)
from client.store.prefs import get_setting, set_setting
from client.store.pull import (
    K_CURSOR,
    PullOutcome,
    apply_pull_page,
    forms_to_retry,
    get_cursor,
    retry_pull_issues,
    set_cursor,
)
from client.store.pulled_forms import (
    K_WITHDRAWN,
    MAX_FORM_DEFINITION_BYTES,
    RETRY_EVERY_SYNC,
    RETRY_NEW_CLIENT,
    FetchedForm,
    PullItemError,
    UnusableForm,
    UnusableFormError,
    canonical_sha256,
    form_key,
    forms_to_fetch,
    load_stored_forms,
    open_pull_issue,
    open_pull_issues,
    read_form_definition,
    record_key,
    resolve_pull_issue,
    store_form_version,
    withdraw_form_version,
    withdrawn_versions,
)
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

# -- settings ---------------------------------------------------------------------------------------------

K_SERVER_URL = "sync.server_url"
K_TOKEN = "sync.device_token"
K_DEVICE_ID = "sync.device_id"
K_SCHOOL_CODE = "sync.school_code"
K_SCHOOL_NAME = "sync.school_name"
K_LAST_SYNC = "sync.last_sync_at"
K_LAST_ATTEMPT = "sync.last_attempt_at"
K_LAST_PROBLEM = "sync.last_problem"
K_LAST_USB_SYNC = "sync.last_usb_sync_at"  # the last answer imported from a USB stick (issue 13)


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
    requests: int = (
        0  # change requests to accepted records: waiting for the bureau, or declined unread
    )
    last_usb_sync_at: dt.datetime | None = None  # the last bureau answer imported from a USB stick


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


def set_device_token(session: Session, token: str) -> None:
    """The token the server handed at the end of a sync (protocol 1.9): the one used from now on. Called
    in the transaction that applies the pull page it came with."""
    set_setting(session, K_TOKEN, token)


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


def record_attempt(session: Session, *, now: dt.datetime) -> None:
    set_setting(session, K_LAST_ATTEMPT, _iso(now))


def record_success(session: Session, *, now: dt.datetime) -> None:
    set_setting(session, K_LAST_SYNC, _iso(now))
    set_setting(session, K_LAST_PROBLEM, None)


def record_usb_sync(session: Session, *, now: dt.datetime) -> None:
    """A bureau answer was imported from a USB stick (no link to the server proven)."""
    set_setting(session, K_LAST_USB_SYNC, _iso(now))


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
        requests=int(counts.get(IssueKind.REQUEST, 0)),
        last_usb_sync_at=_parse_time(get_setting(session, K_LAST_USB_SYNC)),
    )


__all__ = [
    "KEPT_LOCAL",
    "KEPT_SERVER",
    "K_CURSOR",
    "K_DEVICE_ID",
    "K_LAST_ATTEMPT",
    "K_LAST_PROBLEM",
    "K_LAST_SYNC",
    "K_LAST_USB_SYNC",
    "K_SCHOOL_CODE",
    "K_SCHOOL_NAME",
    "K_SERVER_URL",
    "K_TOKEN",
    "K_WITHDRAWN",
    "MAX_FORM_DEFINITION_BYTES",
    "REJECTED_TEXT",
    "RETRY_EVERY_SYNC",
    "RETRY_NEW_CLIENT",
    "SERVER_STATUS",
    "Enrollment",
    "FetchedForm",
    "IssueKind",
    "PendingChange",
    "PullItemError",
    "PullOutcome",
    "PushOutcome",
    "SyncStatus",
    "UnusableForm",
    "UnusableFormError",
    "any_version",
    "apply_decision",
    "apply_pull_page",
    "apply_push_answer",
    "attachment_refs",
    "canonical_sha256",
    "current_batch",
    "dismiss_issue",
    "drop_batch",
    "form_for",
    "form_key",
    "forms_to_fetch",
    "forms_to_retry",
    "get_cursor",
    "get_enrollment",
    "has_local_records",
    "held_record_ids",
    "load_stored_forms",
    "mark_uploaded",
    "new_revision",
    "note_change_request",
    "open_issues",
    "open_pull_issue",
    "open_pull_issues",
    "open_requests",
    "pending_attachments",
    "pending_changes",
    "pending_count",
    "raise_issue",
    "read_form_definition",
    "record_attempt",
    "record_key",
    "record_problem",
    "record_success",
    "record_usb_sync",
    "refresh_derived",
    "reject_unsendable",
    "resolve_conflict",
    "resolve_issues",
    "resolve_pull_issue",
    "retry_pull_issues",
    "save_enrollment",
    "server_version",
    "set_cursor",
    "set_device_token",
    "set_server_state",
    "store_batch",
    "store_form_version",
    "sync_status",
    "unsent_entries",
    "withdraw_form_version",
    "withdrawn_versions",
]
