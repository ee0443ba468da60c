"""What one app holds: the database, the attachment store, the clock and the limits (app.extensions)."""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from sync_server.config import Clock
from sync_server.db import Database
from sync_server.services.attachments import AttachmentStore
from sync_server.services.forms import FORM_CACHE, FormCache

EXTENSION = "sync_server"


class FailureLimiter:
    """Counts failures per key (a client address) in a sliding window; used against guessing codes."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._failures: dict[str, collections.deque[float]] = {}

    def _prune(self, key: str, now: float) -> collections.deque[float]:
        q = self._failures.setdefault(key, collections.deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, key: str) -> int | None:
        """Seconds to wait, when the key has used up its failures; else None."""
        now = time.monotonic()
        with self._lock:
            q = self._prune(key, now)
            if len(q) < self.limit:
                if not q:
                    del self._failures[key]
                return None
            return max(1, int(q[0] + self.window - now) + 1)

    def fail(self, key: str) -> None:
        with self._lock:
            self._prune(key, time.monotonic()).append(time.monotonic())


@dataclass
class ServerState:
    db: Database
    attachments: AttachmentStore
    clock: Clock
    local_offset: dt.timedelta
    config: dict[str, Any]
    forms: FormCache = field(default_factory=lambda: FORM_CACHE)
    enroll_failures: FailureLimiter = field(default_factory=lambda: FailureLimiter(20, 600))

    def now(self) -> dt.datetime:
        return self.clock()

    def local_now(self) -> dt.datetime:
        return (self.clock().astimezone(dt.UTC) + self.local_offset).replace(tzinfo=None)


def get_state(app: Flask | None = None) -> ServerState:
    state = (app or current_app).extensions[EXTENSION]
    assert isinstance(state, ServerState)
    return state
