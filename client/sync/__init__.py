"""Sync with the bureau server: enroll, then sync = upload attachments -> push the outbox -> pull.

No Qt here: the GUI calls SyncEngine from a worker thread and shows its typed results (see engine.py).
"""

from __future__ import annotations

from client.sync.engine import SyncEngine
from client.sync.errors import ErrorKind, SyncError
from client.sync.state import SyncProgress, SyncResult

__all__ = ["ErrorKind", "SyncEngine", "SyncError", "SyncProgress", "SyncResult"]
