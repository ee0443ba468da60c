"""The update channel's part in a sync (protocol 1.18, docs/updates.md). A sync makes no request of its own
for updates unless there is one to fetch: the first pull carries this computer's update report when it
changed or a day has passed (`Sync-Update-Report`), and the pull's answer names the release this computer is
offered (`Sync-Update-Offer`). Only then - or while a download is under way, or when the server refused the
sync as too old - does the update check run after the sync (client/update/channel.py).

1.21: the pull states the revision this client speaks (`Sync-Protocol: 1.21`), and a 1.21 server answers
`Sync-Update-Offer: none` when it decided that nothing is offered to this computer. A release staged here is
then dropped at once, without asking the update check again (the next pull reports it); a pull answered
without the header (an older server, or one that could not tell) still has the check decide, as before."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from client.store import sync_state as S
from client.store.prefs import get_setting
from client.sync.http import Answer
from client.sync.pinning import K_FINGERPRINT
from client.update.install import install_dir
from client.update.retry import lift_expired
from client.update.state import (
    UpdateState,
    load_state,
    platform_name,
    save_state,
    staged_ready,
)

if TYPE_CHECKING:
    from client.sync.engine import SyncEngine
    from client.sync.errors import SyncError

log = logging.getLogger(__name__)

REPORT_HEADER = "Sync-Update-Report"
OFFER_HEADER = "Sync-Update-Offer"
PLATFORM_HEADER = "Sync-Client-Platform"
PROTOCOL_HEADER = "Sync-Protocol"  # the server's protocol revision (1.18: reads the update report)
CLIENT_PROTOCOL = "1.21"  # stated on a pull: this client reads `Sync-Update-Offer: none`
OFFER_NONE = "none"  # the server decided nothing is offered to this computer (1.21)
REPORT_EVERY = dt.timedelta(days=1)
MAX_REPORT_HEADER = 2000  # the server reads up to 2048 characters


def _now(engine: SyncEngine) -> dt.datetime:
    return engine.ctx.clock.now()


def _due(state: UpdateState, report: dict[str, object], now: dt.datetime) -> bool:
    if state.last_report != report or not state.reported_at:
        return True
    try:
        last = dt.datetime.fromisoformat(state.reported_at)
    except ValueError:
        return True
    return not dt.timedelta(0) <= now - last < REPORT_EVERY  # a clock set back counts as due


def _header(report: dict[str, object]) -> str:
    sent = dict(report)
    text = json.dumps(sent, separators=(",", ":"))  # ASCII: a header carries no raw Chinese
    while len(text) > MAX_REPORT_HEADER and sent.get("error"):
        sent["error"] = str(sent["error"])[: len(str(sent["error"])) // 2] or None
        text = json.dumps(sent, separators=(",", ":"))
    return text


def pull_headers(engine: SyncEngine) -> dict[str, str]:
    """The update report to send along on a pull, when the server has not taken this one today."""
    from client.sync.engine import app_version

    headers = {
        PLATFORM_HEADER: platform_name(),  # which build the offer is for
        PROTOCOL_HEADER: CLIENT_PROTOCOL,  # a 1.21 server may answer "no offer" explicitly
    }
    try:
        state = load_state(engine.ctx.store.data_dir)
        report = state.report(app_version())
        if _due(state, report, _now(engine)):
            headers[REPORT_HEADER] = _header(report)
    except Exception:  # the sync goes on without it
        log.warning("the update report could not be made", exc_info=True)
    return headers


def _takes_reports(answer: Answer) -> bool:
    """Whether the answer's server reads update reports: it states protocol 1.18 or later (an older
    server ignores the header, and must get the report again once it is upgraded)."""
    stated = answer.headers.get(PROTOCOL_HEADER) or ""
    try:
        major, minor = (int(part) for part in stated.strip().split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (1, 18)


def note_pull_answer(engine: SyncEngine, sent: dict[str, str], answer: Answer) -> None:
    """After a pull's answer: the report it carried is taken (when the server reads reports); the release
    offered, if any, is kept for the check after the sync."""
    from client.sync.engine import app_version

    engine.update_offer = answer.headers.get(OFFER_HEADER) or None
    if REPORT_HEADER not in sent or not _takes_reports(answer):
        return
    try:
        data_dir = engine.ctx.store.data_dir
        state = load_state(data_dir)
        state.last_report = state.report(app_version())
        state.reported_at = _now(engine).isoformat()
        save_state(data_dir, state)
    except Exception:
        log.warning("the update state could not be kept", exc_info=True)


def _withdrawn_by_pull(engine: SyncEngine) -> bool:
    """The pull's answer said `Sync-Update-Offer: none` (1.21: the server decided nothing is offered
    here) while a release is staged: it is dropped now, not installed, without another request - the
    server said so explicitly. True when one was dropped."""
    if engine.update_offer != OFFER_NONE:
        return False
    data_dir = engine.ctx.store.data_dir
    state = load_state(data_dir)
    ready = staged_ready(data_dir)
    if state.state == "downloading" or ready is None:
        return False
    from client.update.channel import withdraw

    withdraw(data_dir, state, str(ready["version"]), None)
    engine.update_offer = None
    return True


def _check_wanted(engine: SyncEngine, refused_too_old: bool) -> bool:
    if refused_too_old:
        return True
    state = load_state(engine.ctx.store.data_dir)
    if lift_expired(state, now=dt.datetime.now(dt.UTC)):  # (as install.py's time) tried once more
        save_state(engine.ctx.store.data_dir, state)
    if state.state == "downloading":
        return True  # goes on where it stopped
    offer = engine.update_offer
    said_none = offer == OFFER_NONE  # 1.21: decided, nothing offered
    if said_none:
        offer = None
    ready = staged_ready(engine.ctx.store.data_dir)
    if ready is not None and ready.get("version") != offer:
        # Staged, and the pull did not name it: without an explicit "none" (a pull without the header
        # may come from an older server, or one that could not say) the check's explicit answer decides
        # whether it is withdrawn.
        return not said_none
    if not offer or offer in state.blocked:
        return False
    return not (ready and ready.get("version") == offer)  # staged: installed at the next start


def check_updates(
    engine: SyncEngine, *, refused_too_old: bool = False, refusal: SyncError | None = None
) -> None:
    """Never raises: an update that cannot be checked or fetched must not fail the sync. `refusal`: the
    server's 426 (too old) - checked in any case, and its message then says what came of it here (the
    release this computer will install, or why none), not what the server offers to all schools."""
    try:
        _check(engine, refused_too_old or refusal is not None)
    except Exception:
        log.warning("the update check failed", exc_info=True)
    if refusal is not None:
        try:
            from client.update.too_old import too_old_words

            data_dir = engine.ctx.store.data_dir
            words = too_old_words(refusal.details, load_state(data_dir), data_dir)
            refusal.message_zh, refusal.message_en = words
            refusal.args = (f"{words[0]} / {words[1]}",)
        except Exception:
            log.warning("the refusal's words could not be made", exc_info=True)


def _check(engine: SyncEngine, refused_too_old: bool) -> None:
    if not refused_too_old and _withdrawn_by_pull(engine):
        return  # reported by the next pull (the report changed)
    if not _check_wanted(engine, refused_too_old):
        return
    engine.update_offer = None
    with engine.ctx.store.Session() as s:
        enrollment = S.get_enrollment(s)
        pin = get_setting(s, K_FINGERPRINT)
    if enrollment is None:
        return
    # python-tuf is loaded only when an update is to be checked (not at each sync: ~80 ms and memory)
    from client.sync.engine import app_version
    from client.update.channel import check_and_stage

    transport = engine._transport(
        enrollment.server_url, enrollment.device_token, str(pin) if pin else None
    )
    check_and_stage(
        transport, engine.ctx.store.data_dir, running=app_version(), install_dir=install_dir()
    )


def confirm_before_install(data_dir: Path, *, running: str) -> None:
    """A `sync` command's start with a release staged, which it would install now (swap mode): the server
    is asked first whether it still offers that release (the command talks to it anyway), so that a
    release paused or taken from this school's pilot since it was downloaded is dropped, not installed
    (client/update/channel.py `withdraw`; the sync that follows reports it). A start that hears nothing
    (offline, an older server) installs what it has. Never raises."""
    from client.update.install import update_mode

    ready = staged_ready(data_dir)
    if ready is None or str(ready["version"]) == running:
        return
    if str(ready["version"]) in load_state(data_dir).blocked:
        return  # not installed anyway (install.py removes it)
    if update_mode() != "swap" or install_dir() is None:
        return  # runner mode: commands do not install; a source checkout installs nothing
    try:
        answer = _ask(data_dir, running)
    except Exception:
        log.warning("whether the staged update is still offered could not be asked", exc_info=True)
        return
    if answer is None or answer.status != 200 or not isinstance(answer.body, dict):
        return
    offer = answer.body.get("offer")
    offered = str(offer.get("version")) if isinstance(offer, dict) else None
    if offered != str(ready["version"]):
        from client.update.channel import withdraw

        withdraw(data_dir, load_state(data_dir), str(ready["version"]), offered)


def _ask(data_dir: Path, running: str) -> Answer | None:
    """The update check (this computer's report, answered with its offer), with short timeouts."""
    import requests

    from client.context import ClientContext
    from client.sync.engine import SyncEngine
    from client.sync.http import Timeouts
    from client.update.channel import report_and_offer

    ctx = ClientContext.open(data_dir)
    try:
        with ctx.store.Session() as s:
            enrollment = S.get_enrollment(s)
            pin = get_setting(s, K_FINGERPRINT)
        if enrollment is None:
            return None
        with requests.Session() as http:
            engine = SyncEngine(ctx, http, timeouts=Timeouts(connect=5.0, read=20.0))
            transport = engine._transport(
                enrollment.server_url, enrollment.device_token, str(pin) if pin else None
            )
            return report_and_offer(transport, running, load_state(data_dir))
    finally:
        ctx.close()
