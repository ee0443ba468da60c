"""The update check that runs after each sync (client/sync/engine.py calls it once per sync, whatever the
sync's outcome: a client the server finds too old is refused the sync but still offered its update)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from client.store import sync_state as S
from client.store.prefs import get_setting
from client.sync.pinning import K_FINGERPRINT
from client.update.install import install_dir

if TYPE_CHECKING:
    from client.sync.engine import SyncEngine

log = logging.getLogger(__name__)


def check_updates(engine: SyncEngine) -> None:
    """Never raises: an update that cannot be checked or fetched must not fail the sync."""
    from client.sync.engine import app_version
    from client.update.channel import check_and_stage  # python-tuf is loaded only when used

    try:
        with engine.ctx.store.Session() as s:
            enrollment = S.get_enrollment(s)
            pin = get_setting(s, K_FINGERPRINT)
        if enrollment is None:
            return
        transport = engine._transport(
            enrollment.server_url, enrollment.device_token, str(pin) if pin else None
        )
        check_and_stage(
            transport, engine.ctx.store.data_dir, running=app_version(), install_dir=install_dir()
        )
    except Exception:
        log.warning("the update check failed", exc_info=True)
