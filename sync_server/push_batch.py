"""One push batch applied under this server's settings: the same call for POST /push (sync_server.api) and a
batch carried on a USB stick (sync_server.usb), so both take a batch exactly alike."""

from __future__ import annotations

from typing import Any

from sync_server.json_text import canonical_json, strict_loads
from sync_server.services import generation
from sync_server.services.common import sha256_hex
from sync_server.services.push import ChangeIn, PushAnswer, run_push
from sync_server.services.schools import DeviceInfo
from sync_server.state import ServerState


def push_batch(
    state: ServerState,
    *,
    device: DeviceInfo,
    key: str,
    body: Any,
    changes: list[ChangeIn],
    healing_into: str | None = None,
    raw: bytes | None = None,
) -> PushAnswer:
    """run_push for the parsed `changes` of `body` (its canonical sha256 binds the Idempotency-Key).
    `healing_into`: the generation the device says it heals into (Sync-Heal, when it is the server's):
    what the batch brought back is counted for the dashboard (not again for a replay). `raw`: the body's
    bytes as received (gunzipped), which the form engine's worker processes read (services.check_pool)."""
    answer = run_push(
        state.db.Session,
        device=device,
        key=key,
        request_sha256=sha256_hex(canonical_json(body)),
        changes=changes,
        clock=state.clock,
        local_offset=state.local_offset,
        forms=state.forms,
        max_change_bytes=int(state.config["MAX_CHANGE_BYTES"]),
        check_pool=state.check_pool,
        raw=raw,
    )
    if healing_into is not None and not answer.replayed:
        generation.count_healing_push(
            state.db.Session,
            generation=healing_into,
            device_id=device.device_id,
            school_id=device.school_id,
            results=strict_loads(answer.body.encode("utf-8")).get("results") or [],
            now=state.now(),
        )
    return answer
