"""Sync with the bureau server: enroll, then sync = upload attachments -> push the outbox -> pull.

No Qt here: the GUI calls SyncEngine from a worker thread and shows its typed results (see engine.py).
SyncEngine is imported when first asked for (PEP 562): the window imports the errors and results it shows
without the engine's requests and urllib3, which load with the first sync.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from client.sync.errors import ErrorKind, SyncError
from client.sync.state import SyncProgress, SyncResult

if TYPE_CHECKING:
    from client.sync.engine import SyncEngine

__all__ = ["ErrorKind", "SyncEngine", "SyncError", "SyncProgress", "SyncResult"]


def __getattr__(name: str) -> Any:
    if name == "SyncEngine":
        from client.sync.engine import SyncEngine

        return SyncEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
