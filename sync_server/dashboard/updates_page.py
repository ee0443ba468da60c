"""客户端更新 · client updates (issue 16, docs/updates.md): the published releases and who is offered each
(pilot schools, all, paused), with buttons for admins to widen or pause a release; and per device the version
it runs, when it last checked, its update state and failures, as the devices report them at each sync.

Publishing and signing stay on the command line (`sync-server publish-client`), with the offline keys: this
page never signs anything.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from packaging.version import InvalidVersion, Version
from sqlalchemy import select

from sync_server import updates as U
from sync_server.dashboard import bp
from sync_server.dashboard.auth import audit, role_required
from sync_server.errors import ServiceError
from sync_server.models import ClientRelease, Device, DeviceUpdate, School
from sync_server.state import get_state


def _version_key(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


@bp.get("/updates")
@role_required("viewer")
def updates() -> ResponseReturnValue:
    state = get_state()
    with state.db.ReadSession.begin() as s:
        releases = sorted(
            s.execute(select(ClientRelease)).scalars(),
            key=lambda r: (_version_key(r.version), r.platform),
            reverse=True,
        )
        rows = s.execute(
            select(Device, School, DeviceUpdate)
            .join(School, School.id == Device.school_id)
            .outerjoin(DeviceUpdate, DeviceUpdate.device_id == Device.id)
            .where(Device.revoked_at.is_(None), Device.replaced_by.is_(None))
            .order_by(School.code, Device.name)
        ).all()
        s.expunge_all()
    newest = releases[0].version if releases else None
    failing = sum(1 for _d, _s, u in rows if u is not None and u.failures)
    return render_template(
        "updates.html",
        releases=releases,
        rows=rows,
        newest=newest,
        failing=failing,
        stage_labels=U.STAGE_LABELS,
        state_labels=U.STATE_LABELS,
        min_client=state.config.get("MIN_CLIENT_VERSION"),
        protocol=U.PROTOCOL,
    )


@bp.post("/updates/<version>/stage")
@role_required("admin")
def updates_stage(version: str) -> ResponseReturnValue:
    stage = (request.form.get("stage") or "").strip()
    schools = [c.strip() for c in (request.form.get("schools") or "").replace("，", ",").split(",")]
    state = get_state()
    try:
        with state.db.Session.begin() as s:
            U.set_stage(
                s, version=version, stage=stage, schools=[c for c in schools if c], now=state.now()
            )
            audit("client.rollout", version, {"stage": stage, "schools": schools}, session=s)
    except ServiceError as exc:
        flash(f"{exc.message_zh}（{exc.message_en}）", "error")
    else:
        flash(f"客户端 {version}：{U.STAGE_LABELS.get(stage, stage)}", "ok")
    return redirect(url_for("dashboard.updates"))
