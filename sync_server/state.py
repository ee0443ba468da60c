"""What one app holds: the database, the attachment store, the clock and the throttles (app.extensions)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from sync_server.config import Clock
from sync_server.db import Database
from sync_server.services.attachments import AttachmentStore
from sync_server.services.check_pool import CheckPool
from sync_server.services.forms import FORM_CACHE, FormCache
from sync_server.throttle import EnrollThrottle

EXTENSION = "sync_server"


@dataclass
class ServerState:
    db: Database
    attachments: AttachmentStore
    clock: Clock
    local_offset: dt.timedelta
    config: dict[str, Any]
    enroll_throttle: EnrollThrottle
    forms: FormCache = field(default_factory=lambda: FORM_CACHE)
    # The form engine's worker processes for pushes (services.check_pool): started by `sync-server serve`
    # (SERVE_CHECK_WORKERS); None: pushes are checked in this process.
    check_pool: CheckPool | None = None

    def now(self) -> dt.datetime:
        return self.clock()

    def local_now(self) -> dt.datetime:
        return (self.clock().astimezone(dt.UTC) + self.local_offset).replace(tzinfo=None)


def get_state(app: Flask | None = None) -> ServerState:
    state = (app or current_app).extensions[EXTENSION]
    assert isinstance(state, ServerState)
    return state
