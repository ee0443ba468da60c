"""Healing without a person, in the sync: after the bureau's server was restored from a backup (or went back
in time), and after this computer's store was restored from its own backup.

The server's database has a generation (protocol revision 1.6). Every push and pull says which one this
store knows (`Sync-Generation`, "none" before it learned one) and its cursor; a server of another generation
answers 409 `generation_changed` with up to which change number it holds ours (`held_through`). Then, in
one local transaction (client.store.healing.begin_server_heal), the changes it was told applied past that
number become unsent again under their op ids, the cursor goes back to 0, and the sync starts over:
photos, push (the server answers `duplicate` for what it holds, applies what it lost), then the pull reads
the school's records again - with this computer's own (include_own) and each record once (compact) - and
the server's state replaces what the store knew of a record past it. Local work never sent stays as it
is: it is pushed like any other.

A store restored from its own backup (client.store.backup.restore_from marks it) reads again from the
backup's cursor with include_own, so what this computer sent after the backup comes back from the server;
what it never sent is lost with the newer database (which restore_from kept aside).

While a heal runs, pushes and pulls carry `Sync-Heal` (the server counts what came back for the dashboard).
The heal is over when the pull reaches the end; SyncResult.healed says what it did.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from client.store import healing as H
from client.store.db import Store
from client.store.outbox import PushOutcome
from client.store.prefs import get_setting, set_setting
from client.store.pull import get_cursor
from client.sync.errors import ErrorKind, SyncError
from client.sync.http import Answer
from client.sync.state import HealReport, SyncResult

log = logging.getLogger(__name__)

GENERATION_CHANGED = "generation_changed"
MAX_RESTARTS = 2  # heals one sync may begin (a second restore while healing)
_GENERATION_RE = re.compile(r"^[0-9a-f]{32}$")
_PROOF_RE = re.compile(r"^[0-9a-f]{32}$")
# The server's proof of the pull cursor ("cursor:proof", protocol revision 1.8): sent back with that cursor, it
# lets a server that went back in time recognise it as a cursor it handed out.
K_CURSOR_PROOF = "sync.cursor_proof"


class Healer:
    """One sync's part in healing (made by the engine's _Run)."""

    def __init__(self, store: Store, now: Callable[[], dt.datetime], result: SyncResult) -> None:
        self.store = store
        self.now = now
        self.result = result
        self.restarts = 0
        # The generation a heal ended into during this sync: what it offered back goes in the same sync,
        # still counted as healing (Sync-Heal).
        self.healed_into: str | None = None

    def begin(self) -> None:
        """At the start of a sync: a store restored from its own backup starts reading again."""
        with self.store.Session.begin() as s:
            H.begin_pc_heal(s, now=self.now())

    # -- what requests carry --------------------------------------------------------------------------

    def headers(self, *, with_cursor: bool = False) -> dict[str, str]:
        with self.store.Session() as s:
            generation = H.get_generation(s)
            heal = H.current_heal(s)
            cursor = get_cursor(s)
            proof = get_setting(s, K_CURSOR_PROOF)
        out = {"Sync-Generation": generation or "none"}
        if with_cursor:
            out["Sync-Cursor"] = str(cursor)
        proved, _, mac = (proof or "").partition(":")
        if mac and proved == str(cursor):
            out["Sync-Cursor-Proof"] = mac
        if heal is not None and heal.kind == H.HealKind.SERVER_RESTORED and heal.generation:
            out["Sync-Heal"] = heal.generation
        elif heal is None and self.healed_into:
            out["Sync-Heal"] = self.healed_into
        return out

    def pull_params(self) -> dict[str, str]:
        with self.store.Session() as s:
            healing = H.current_heal(s) is not None
        return {"include_own": "true", "compact": "true"} if healing else {}

    # -- a restored server ----------------------------------------------------------------------------

    def restart(self, exc: SyncError) -> bool:
        """The server said (409 generation_changed) it is of another generation, or a pull found this
        store's cursor beyond the server's counter: begin healing, and say the sync should start over."""
        if exc.code != GENERATION_CHANGED or self.restarts >= MAX_RESTARTS:
            return False
        generation = exc.details.get("generation")
        held = exc.details.get("held_through")
        if not isinstance(generation, str) or not _GENERATION_RE.fullmatch(generation):
            return False
        if not isinstance(held, int) or isinstance(held, bool):
            held = None
        with self.store.Session.begin() as s:
            H.begin_server_heal(s, generation=generation, held_through=held, now=self.now())
        self.restarts += 1
        return True

    def acknowledged(
        self,
        s: Session,
        *,
        changes: Sequence[Mapping[str, Any]],
        results: Sequence[Mapping[str, Any]],
        outcome: PushOutcome,
        answer: Answer,
    ) -> None:
        """In the push answer's transaction: keep what it acknowledged, for a later restore."""
        cursor = answer.body.get("cursor") if isinstance(answer.body, Mapping) else None
        ops = [*outcome.acknowledged, *(str(r.get("op_id")) for r in outcome.requests)]
        H.stamp_acks(
            s,
            changes=changes,
            results=results,
            acknowledged=ops,
            seq=cursor if isinstance(cursor, int) else None,
            now=self.now(),
        )
        self._learn(s, answer.headers.get("Sync-Generation"))

    def _learn(self, s: Session, generation: Any) -> None:
        if isinstance(generation, str) and _GENERATION_RE.fullmatch(generation):
            H.learn_generation(s, generation)

    # -- pulls ----------------------------------------------------------------------------------------

    def check_page(self, page: Mapping[str, Any], since: int) -> None:
        """A cursor beyond the server's counter: the server went back without saying so."""
        seq = page.get("server_seq")
        generation = page.get("generation")
        if isinstance(seq, int) and not isinstance(seq, bool) and since > seq:
            raise SyncError(
                ErrorKind.CONFLICT,
                "服务器的变更序号落后于本机（服务器可能已从备份恢复），本机将重新发送并重新读取数据",
                "the server's change counter is behind this computer's cursor (it may have been "
                "restored from a backup); this computer sends again and reads again",
                code=GENERATION_CHANGED,
                details={"generation": generation, "held_through": seq, "server_seq": seq},
            )

    def before_page(self, s: Session, page: Mapping[str, Any]) -> set[str] | None:
        """In the page's transaction, before it is applied: None when not healing."""
        self._learn(s, page.get("generation"))
        proof, cursor = page.get("cursor_proof"), page.get("cursor")
        if isinstance(proof, str) and _PROOF_RE.fullmatch(proof) and isinstance(cursor, int):
            set_setting(s, K_CURSOR_PROOF, f"{cursor}:{proof}")
        if H.current_heal(s) is None:
            return None
        return H.before_heal_page(s, page.get("changes") or [], now=self.now())

    def after_page(self, s: Session, absent: set[str] | None, *, last: bool) -> None:
        """In the page's transaction, after it was applied; the last page ends the heal."""
        if absent is None:
            return
        H.after_heal_page(s, absent)
        if last:
            heal = H.finish_heal(s, now=self.now())
            if heal is not None and heal.kind == H.HealKind.SERVER_RESTORED:
                self.healed_into = heal.generation
            if heal is not None:
                self.result.healed = HealReport(heal.kind, heal.resent, heal.came_back)
