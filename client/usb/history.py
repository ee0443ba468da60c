"""What this computer remembers of its USB syncs (settings table; functions take a Session, never commit).

- the bundles it exported (their ids, the newest EXPORTS_KEPT): an answer names the bundle it answers
  (`in_reply_to`), so an answer to another computer's bundle - a second PC enrolled from the same enrollment
  file shares the device id - is told apart and refused before anything is applied;
- the answers it imported (their ids, the bundles they answer, and the latest exported of those): importing
  one again, or an older one after a newer one, is said as such instead of repeating counts as if
  something happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from client.store.prefs import get_setting, set_setting
from forms import usb_bundle as U

K_EXPORTED = "usb.exported_bundles"
K_IMPORTED = "usb.imported_answers"
K_ANSWERED = "usb.answered_bundles"  # the bundles those answers answer
K_NEWEST_ANSWERED = "usb.newest_answered_bundle"  # the latest exported of them
EXPORTS_KEPT = 200
ANSWERS_KEPT = 200


def _ids(session: Session, key: str) -> list[str]:
    value: Any = get_setting(session, key)
    return [str(v) for v in value] if isinstance(value, list) else []


def remember_export(session: Session, bundle_id: str) -> None:
    kept = [i for i in _ids(session, K_EXPORTED) if i != bundle_id]
    set_setting(session, K_EXPORTED, [*kept, bundle_id][-EXPORTS_KEPT:])


def exported_here(session: Session, bundle_id: str | None) -> bool | None:
    """True when this computer exported the bundle `bundle_id`, False when it did not, None when it cannot
    tell (no export remembered: a store from before this was kept, or restored from an older backup)."""
    exported = _ids(session, K_EXPORTED)
    if not exported:
        return None
    return bundle_id is not None and bundle_id in exported


@dataclass(frozen=True)
class Seen:
    again: bool  # this answer, or another answer to the same bundle, was imported before
    older: bool  # it answers a bundle exported before the one the newest imported answer answers


def seen(session: Session, header: U.Header) -> Seen:
    """How this answer stands to those imported before. Told by the order of this computer's exports, not
    by clocks (the bureau may write two answers in one second, or its clock may be off)."""
    answered = _ids(session, K_ANSWERED)
    again = header.bundle_id in _ids(session, K_IMPORTED) or header.in_reply_to in answered
    exported = _ids(session, K_EXPORTED)
    newest = get_setting(session, K_NEWEST_ANSWERED)
    older = (
        header.in_reply_to in exported
        and newest in exported
        and exported.index(str(header.in_reply_to)) < exported.index(str(newest))
    )
    return Seen(again, older)


def remember_answer(session: Session, header: U.Header) -> None:
    kept = [i for i in _ids(session, K_IMPORTED) if i != header.bundle_id]
    set_setting(session, K_IMPORTED, [*kept, header.bundle_id][-ANSWERS_KEPT:])
    reply = header.in_reply_to
    if reply is None:
        return
    answered = [i for i in _ids(session, K_ANSWERED) if i != reply]
    set_setting(session, K_ANSWERED, [*answered, reply][-ANSWERS_KEPT:])
    exported = _ids(session, K_EXPORTED)
    newest = get_setting(session, K_NEWEST_ANSWERED)
    if newest not in exported or (
        reply in exported and exported.index(reply) > exported.index(str(newest))
    ):
        set_setting(session, K_NEWEST_ANSWERED, reply)
