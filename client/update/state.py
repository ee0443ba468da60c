"""What this computer knows about its updates, kept in `<data>/updates/state.json` (not in the store: the
start-up code reads it before the store is opened, and an older or newer version reads it too)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FOLDER = "updates"
STATE_FILE = "state.json"
PENDING_FILE = "pending.json"  # a new version's first start in progress: {"version", "from"}
STARTED_PREFIX = "started-"  # started-<version>: that version's first start went well
READY_FILE = "ready.json"  # in updates/staged/: the verified version unpacked beside it


def platform_name() -> str:
    return "windows" if sys.platform == "win32" else "linux"


def updates_dir(data_dir: Path) -> Path:
    return Path(data_dir) / FOLDER


@dataclass
class UpdateState:
    state: str = "current"  # the words of sync_server/updates.py STATES
    target_version: str | None = None
    failures: int = 0
    error: str | None = None
    blocked: list[str] = field(default_factory=list)  # versions that failed their first start here
    # The report the server last took (on a pull, 1.18) and when (ISO UTC): sent again when it changes
    # or a day has passed.
    last_report: dict[str, Any] | None = None
    reported_at: str | None = None
    # The rolled-back version the clerk has been told of (the status bar says it once: client/ui/status_bar.py).
    rollback_told: str | None = None
    # Failed first starts by version: {"tries": n, "blocked_at": ISO UTC once blocked} (client/update/retry.py).
    start_failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Releases refused once verified (no program at the archive's top): {"version", "sha256", "reason"};
    # that (version, sha256) is not downloaded again (client/update/channel.py).
    refused: list[dict[str, Any]] = field(default_factory=list)
    # The staged version dropped before it installed (the server no longer offered it): reported as
    # `withdrawn` while it is the target (client/update/channel.py withdraw).
    withdrawn: str | None = None

    def report(self, running: str) -> dict[str, Any]:
        report: dict[str, Any] = {
            "app_version": running,
            "platform": platform_name(),
            "state": self.state,
            "target_version": self.target_version,
            "failures": self.failures,
            "error": " ".join((self.error or "").split())[:500] or None,  # one line, as sent
        }
        report.update(self.report_fields(running))
        return report

    def report_fields(self, running: str) -> dict[str, Any]:
        """The report's facts (protocol 1.21) the bureau's dashboard shows without reading the error line:
        of a failed first start of the target (`tries` so far, `max_tries`, `kept_version` - the version
        this computer runs instead -, `blocked_until` when it is not tried again before then, UTC), or of
        a staged target dropped before it installed (`withdrawn`). None of them otherwise (an older server
        ignores them)."""
        from client.update.retry import report_fields  # retry imports this module

        return report_fields(self, running)


def load_state(data_dir: Path) -> UpdateState:
    path = updates_dir(data_dir) / STATE_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        known = {k: raw[k] for k in UpdateState.__dataclass_fields__ if k in raw}
        return UpdateState(**known)
    except FileNotFoundError:
        return UpdateState()
    except (ValueError, TypeError, OSError):
        log.warning("the update state %s cannot be read; starting afresh", path)
        return UpdateState()


def save_state(data_dir: Path, state: UpdateState) -> None:
    write_json(updates_dir(data_dir) / STATE_FILE, asdict(state))


def write_json(path: Path, body: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(body, fh, ensure_ascii=False)
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    with contextlib.suppress(FileNotFoundError, ValueError, OSError):
        return json.loads(path.read_text(encoding="utf-8"))
    return None


def staged_ready(data_dir: Path) -> dict[str, Any] | None:
    """The verified, unpacked version waiting for the next start, if any."""
    ready = read_json(updates_dir(data_dir) / "staged" / READY_FILE)
    return ready if isinstance(ready, dict) and ready.get("version") else None


def update_notice(data_dir: Path, running: str) -> tuple[str, str] | None:
    """What the clerk is to be told of updates: ("rolled_back", version) - it failed its first start and
    `running` was put back, not yet told (first: it may be staged again for another try) - or ("staged",
    version) - a verified version waits for the next start."""
    state = load_state(data_dir)
    failed = state.target_version
    if state.state == "rolled_back" and failed and failed != state.rollback_told:
        return "rolled_back", failed
    ready = staged_ready(data_dir)
    staged = str(ready["version"]) if ready else None
    if staged and staged != running and staged not in state.blocked:
        return "staged", staged
    return None


def note_rollback_told(data_dir: Path, version: str) -> None:
    """The clerk has been told that `version` was rolled back: not said again at later starts."""
    state = load_state(data_dir)
    if state.rollback_told != version:
        state.rollback_told = version
        save_state(data_dir, state)
