"""How often a version that failed its first start here is tried again, and when a block is lifted (issue 16).

A new version that does not come up (it crashed, a library is missing, its store migration failed) is rolled
back; the release waits in `<data>/updates/staged/` and is tried again at the next start, MAX_START_TRIES
starts in all, and only then blocked on this computer. A block is lifted BLOCK_DAYS after it was made, for
one more try (the bureau may have fixed what made it fail here, e.g. a file beside the program); a newer
version offered is never held back by an older one's block. Blocks made by an older client's rule (any
non-zero exit of the first start, once, with no record of its tries) are lifted at once.

Plain functions on UpdateState: read at start-up, so nothing here loads python-tuf.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from client.update.state import UpdateState

MAX_START_TRIES = 3  # failed first starts of one version before it is blocked here
BLOCK_DAYS = 7  # a block is lifted after this many days, for one more try


def start_failed(state: UpdateState, version: str, *, now: dt.datetime) -> bool:
    """One more failed first start of `version`; True when it is blocked now (its MAX_START_TRIES-th)."""
    record = state.start_failures.setdefault(version, {})
    tries = _tries(record) + 1
    record["tries"] = tries
    if tries < MAX_START_TRIES:
        return False
    record["blocked_at"] = now.astimezone(dt.UTC).isoformat()
    if version not in state.blocked:
        state.blocked.append(version)
    return True


def tries_of(state: UpdateState, version: str) -> int:
    return _tries(state.start_failures.get(version) or {})


def lift_expired(state: UpdateState, *, now: dt.datetime) -> list[str]:
    """The blocks lifted now (BLOCK_DAYS old, or of the older rule), removed from `state.blocked`."""
    lifted: list[str] = []
    for version in list(state.blocked):
        record = state.start_failures.get(version)
        if not record or "blocked_at" not in record:  # an older client's block (one failure)
            lifted.append(version)
            continue
        try:
            since = dt.datetime.fromisoformat(str(record["blocked_at"]))
        except ValueError:
            lifted.append(version)
            continue
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        if not dt.timedelta(0) <= now - since < dt.timedelta(days=BLOCK_DAYS):  # or clock set back
            lifted.append(version)
    for version in lifted:
        state.blocked.remove(version)
        record = state.start_failures.setdefault(version, {})
        record.pop("blocked_at", None)
        record.pop("swap_failures", None)  # (install.py: a program folder in use) counted afresh
        record["tries"] = MAX_START_TRIES - 1 if "tries" in record else 0  # one more try
    return lifted


def _tries(record: dict[str, object]) -> int:
    value = record.get("tries", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def report_fields(state: UpdateState, running: str) -> dict[str, Any]:
    """UpdateState.report_fields: the facts of the target's failed first start, or of its withdrawal."""
    target = state.target_version
    if not target:
        return {}
    if state.state == "current" and state.withdrawn == target:
        return {"withdrawn": True}
    record = state.start_failures.get(target)
    if record is None:
        return {}
    given_up = state.state == "failed" and "blocked_at" in record  # install.py _give_up
    if state.state != "rolled_back" and not given_up:
        return {}  # a refused download of a version that failed here before, a retry under way ...
    fields: dict[str, Any] = {
        "tries": _tries(record),
        "max_tries": MAX_START_TRIES,
        "kept_version": running,
    }
    until = _blocked_until(record) if target in state.blocked else None
    if until is not None:
        fields["blocked_until"] = until.isoformat()
    return fields


def _blocked_until(record: dict[str, Any]) -> dt.datetime | None:
    try:
        since = dt.datetime.fromisoformat(str(record["blocked_at"]))
    except (KeyError, ValueError):
        return None
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return (since + dt.timedelta(days=BLOCK_DAYS)).astimezone(dt.UTC)
