"""Typed results of a sync, and the progress it reports while it runs (for the GUI's progress bar)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Phase(enum.StrEnum):
    ATTACHMENTS = "attachments"
    PUSH = "push"
    PULL = "pull"


@dataclass(frozen=True)
class SyncProgress:
    phase: Phase
    done: int  # attachments: bytes acknowledged; push: changes acknowledged; pull: changes applied
    total: int | None  # None when not known in advance (pull)
    # Attachments: the file going up (its name as the clerk added it), and how many of its bytes the server holds.
    item: str = ""
    item_done: int = 0
    item_total: int = 0


@dataclass(frozen=True)
class Rejection:
    """A change the server refused; its outbox entry stays unsent and a sync issue shows it to the clerk."""

    op_id: str
    record_id: str
    reason: str  # the server's reason (validation, locked, other_school, ...) or our code
    message_zh: str
    message_en: str
    problems: list[dict[str, Any]] = field(
        default_factory=list
    )  # {path, code, message_zh, message_en}


@dataclass(frozen=True)
class ConflictNotice:
    """Both versions of a record are kept; the clerk chooses (see sync_state.resolve_conflict)."""

    record_id: str
    op_id: str | None  # the local change the server did not apply (None: found while pulling)
    server_revision: int
    server_status: str


@dataclass(frozen=True)
class PullProblem:
    """A pulled item this client could not apply (a form version it cannot fetch, read or use; a record of a
    form it does not know; anything that failed while applying one item). It is kept as a sync issue with
    what is needed to try it again, and the sync went on past it (see sync_state.IssueKind.PULL)."""

    issue_id: int
    what: str  # form | record
    reason: str  # form_unavailable, form_too_large, form_refused, unknown_form, apply_failed, ...
    form_id: str
    version: str
    record_id: str | None
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class HealReport:
    """A heal that ended in this sync (client.sync.healing): after the server was restored from a backup
    (server_restored: `resent` changes went again) or this store was (pc_restored); `came_back`: records this
    computer did not have that it read again from the server."""

    kind: str  # server_restored | pc_restored
    resent: int
    came_back: int


@dataclass
class SyncResult:
    pushed: int = 0  # outbox entries our server acknowledged (applied or duplicate)
    # Of those, the ones the server had already: answered `duplicate`, or in a batch whose answer was lost
    # and is now replayed (Idempotent-Replayed) - sent again after an interrupted sync.
    resent: int = 0
    pulled: int = 0  # changes applied from the server
    uploaded: int = 0  # attachments now complete on the server
    forms: list[str] = field(default_factory=list)  # "form_id version" stored this time
    conflicts: list[ConflictNotice] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    problems: list[PullProblem] = field(
        default_factory=list
    )  # pulled items not applied (still open)
    pending: int = 0  # outbox entries still unsent after this sync (held ones included)
    cancelled: bool = False  # stopped early on request; the rest goes next time
    healed: HealReport | None = None  # a heal after a restore ended in this sync

    @property
    def complete(self) -> bool:
        """Everything pending was sent and everything new was pulled and applied."""
        return (
            self.pending == 0
            and not self.rejected
            and not self.conflicts
            and not self.problems
            and not self.cancelled
        )
