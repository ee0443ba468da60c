"""客户端更新 · client updates (issue 16, docs/updates.md): the published releases and who is offered each
(pilot schools, all, paused, not offered yet), with buttons for admins to add or remove pilot schools, offer a
release to all or pause it (the last two confirmed first); per device the version it runs, its platform, when
it last checked, its update state and failures, as the devices report them at each sync, with what a reported
error means and what to do; and warnings: the repository's signatures expiring or expired, and a
min_client_version that locks PCs out.

Publishing and signing stay on the command line (`sync-server publish-client`), with the offline keys: this
page never signs anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from sync_server import updates as U
from sync_server.dashboard import bp
from sync_server.dashboard.auth import audit, role_required
from sync_server.errors import ServiceError
from sync_server.models import ClientRelease, Device, DeviceUpdate, School
from sync_server.state import get_state
from sync_server.updates_repo import Repository

ACTIONS = {
    "pilot": ("加入试点", "add to the pilot"),
    "remove": ("移出试点", "remove from the pilot"),
    "all": ("发布到全部学校", "offer to all schools"),
    "paused": ("暂停", "pause"),
}


def _repository() -> Repository:
    configured = get_state().config.get("UPDATES_DIR")
    return Repository(
        Path(str(configured)) if configured else Path(current_app.instance_path) / "updates"
    )


@dataclass(frozen=True)
class DeviceRow:
    device: Device
    school: School
    u: DeviceUpdate | None
    running: str | None
    platform: str | None
    newest: str | None  # the newest release offered to its school and platform
    too_old: bool  # below min_client_version: refused at every sync
    explained: tuple[str, str] | None  # what its last error means, what to do
    state: tuple[str, str] | None  # its update state in words (a rollback names both versions)
    note: tuple[str, str]  # beside its version: ("offer"|"retry"|"blocked", version) or ("", "")
    synced: bool  # it has been heard from since it enrolled (a sync, a USB bundle)
    blocked_until: dt.datetime | None = None  # (naive UTC) a version blocked here until then (1.21)


@bp.get("/updates")
@role_required("viewer")
def updates() -> ResponseReturnValue:
    state = get_state()
    minimum = U.min_client_version(state.config)
    with state.db.ReadSession.begin() as s:
        releases = sorted(
            s.execute(select(ClientRelease)).scalars(),
            key=lambda r: (U.version_key(r.version), r.platform),
            reverse=True,
        )
        rows = s.execute(
            select(Device, School, DeviceUpdate)
            .join(School, School.id == Device.school_id)
            .outerjoin(DeviceUpdate, DeviceUpdate.device_id == Device.id)
            .where(Device.revoked_at.is_(None), Device.replaced_by.is_(None))
            .order_by(School.code, Device.name)
        ).all()
        lockout = U.lockout_warning(s, minimum)
        s.expunge_all()
    devices: list[DeviceRow] = []
    for device, school, u in rows:
        running = u.app_version if u else device.app_version
        platform = u.platform if u else None
        newest = (
            U.newest_offered(releases, school_code=school.code, platform=platform)
            if platform
            else None
        )
        too_old = U.below_minimum(running, minimum)
        synced = device.last_seen_at is not None and device.last_seen_at > device.created_at
        devices.append(
            DeviceRow(
                device,
                school,
                u,
                running,
                platform,
                newest,
                too_old,
                U.explain_report(u),
                U.state_text(u) if u else None,
                U.offer_note(u, newest, running),
                synced,
                U.blocked_until(u),
            )
        )
    failing = sum(1 for d in devices if d.u is not None and d.u.state in ("failed", "rolled_back"))
    repo = _repository()
    now = state.now()
    return render_template(
        "updates.html",
        releases=releases,
        devices=devices,
        failing=failing,
        too_old=sum(1 for d in devices if d.too_old),
        # Heard from, never reported: a client from before 1.18 (one enrolled a moment ago has not synced).
        never_reported=sum(1 for d in devices if d.u is None and d.synced),
        stage_label=U.stage_label,
        state_labels=U.STATE_LABELS,
        min_client=minimum,
        lockout=lockout,
        expiries=repo.expiries(now),
        expiry_warnings=U.expiry_warnings(repo, now),
        protocol=U.PROTOCOL,
        max_tries=U.MAX_START_TRIES,
        block_days=U.BLOCK_DAYS,
    )


def _refuse_unconfirmed_pause(s: object, version: str, schools: list[str]) -> None:
    """A removal that empties the pilot pauses the release: confirmed first, as 暂停 is (dashboard.js
    asks and sends confirmed=1; without it nothing changes)."""
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    for release in s.execute(
        select(ClientRelease).where(ClientRelease.version == version)
    ).scalars():
        held = set(release.schools or [])
        if release.stage == "pilot" and held and held <= set(schools):
            raise ServiceError(
                "confirm_pause",
                f"移出 {'、'.join(sorted(held))} 后客户端 {version} 的试点名单为空，等于暂停（不再提供给任何学校）："
                "未改动。请在确认框中确认，或点“暂停”",
                f"removing {', '.join(sorted(held))} empties client {version}'s pilot, which pauses it "
                "(offered to nobody): nothing changed. Confirm it in the dialog, or use pause",
                status=409,
            )


@bp.post("/updates/<version>/stage")
@role_required("admin")
def updates_stage(version: str) -> ResponseReturnValue:
    stage = (request.form.get("stage") or "").strip()
    typed = [c.strip() for c in (request.form.get("schools") or "").replace("，", ",").split(",")]
    typed = [c for c in typed if c]
    state = get_state()
    try:
        with state.db.Session.begin() as s:
            if stage not in ACTIONS:
                U.check_stage(s, stage, typed)  # refused, in both languages
            schools = U.school_codes(s, typed) if stage in ("pilot", "remove") and typed else []
            if stage == "remove" and request.form.get("confirmed") != "1":
                _refuse_unconfirmed_pause(s, version, schools)
            changes = U.set_stage(s, version=version, stage=stage, schools=schools, now=state.now())
            audit("client.rollout", version, {"stage": stage, "schools": schools}, session=s)
            said = []
            for change in changes:
                zh, _en = U.scope_text(change.release)
                said.append(
                    f"客户端 {version}（{'Windows' if change.release.platform == 'windows' else 'Linux'}）"
                    f"现在：{zh}" + (f"。{change.note_zh}" if change.note_zh else "")
                )
    except ServiceError as exc:
        flash(f"{exc.message_zh}（{exc.message_en}）", "error")
    else:
        flash("；".join(said), "ok")
    return redirect(url_for("dashboard.updates"))
