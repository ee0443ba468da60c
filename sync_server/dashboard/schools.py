"""Schools and devices (issue 5, item 5): list them, add a school, issue an enrollment code and print its
slip, revoke a device.

An enrollment code is kept only as a keyed hash, so its text exists once: right after it is issued. It is
held in server memory (SlipStore) under a random id, and only that id rides in the admin's session cookie
(signed, not encrypted: anyone holding the cookie can read it); the slip page of that school shows the code
once and forgets it. After that, or after SLIP_TTL, the slip page offers a fresh code instead. (Memory of
this process: `sync-server serve` is one process; a code issued just before a restart is simply issued
again.)

A device unseen for DEVICE_UNSEEN_DAYS (config.toml `device_unseen_days`, default 30) is flagged on the
page: a computer lost, replaced or carried off whose token still works until the bureau revokes it.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.config import ConfigError, whole_number
from sync_server.dashboard import bp
from sync_server.dashboard.auth import current_user, role_required
from sync_server.errors import ServiceError
from sync_server.models import Device, EnrollmentCode, School
from sync_server.services import schools as schools_service
from sync_server.services.common import iso, naive_utc
from sync_server.state import get_state

log = logging.getLogger(__name__)

SLIP_KEY = "slip"
ONLINE_WITHIN = dt.timedelta(days=7)  # a device seen within this is "active"
UNSEEN_KEY = "DEVICE_UNSEEN_DAYS"
UNSEEN_DEFAULT_DAYS = 30
SLIP_TTL = 30 * 60.0  # seconds an issued code waits in memory for its slip page
SLIP_EXTENSION = "sync_server.slips"


class SlipStore:
    """Freshly issued enrollment codes in server memory, each taken at most once, under a random id."""

    def __init__(self, ttl: float = SLIP_TTL, monotonic: Any = time.monotonic) -> None:
        self.ttl = ttl
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[str, float]] = {}

    def put(self, code: str) -> str:
        slip_id = secrets.token_urlsafe(16)
        with self._lock:
            now = self.monotonic()
            for key in [k for k, (_, t) in self._codes.items() if now - t > self.ttl]:
                del self._codes[key]
            self._codes[slip_id] = (code, now)
        return slip_id

    def take(self, slip_id: str) -> str | None:
        with self._lock:
            kept = self._codes.pop(slip_id, None)
        if kept is None or self.monotonic() - kept[1] > self.ttl:
            return None
        return kept[0]


def slip_store() -> SlipStore:
    store = current_app.extensions.setdefault(SLIP_EXTENSION, SlipStore())
    assert isinstance(store, SlipStore)
    return store


def unseen_after() -> dt.timedelta:
    """DEVICE_UNSEEN_DAYS from the configuration; a bad value is logged and the default used."""
    cfg = current_app.config
    if cfg.get(UNSEEN_KEY) is None:
        return dt.timedelta(days=UNSEEN_DEFAULT_DAYS)
    try:
        return dt.timedelta(days=whole_number(cfg, UNSEEN_KEY, minimum=1))
    except ConfigError as exc:
        log.error("%s; using %d days", exc.message_en, UNSEEN_DEFAULT_DAYS)
        return dt.timedelta(days=UNSEEN_DEFAULT_DAYS)


@dataclass
class CodeState:
    label: str
    tone: str  # ok warn bad (for the badge)


@dataclass
class SchoolRow:
    school: School
    devices: list[Device] = field(default_factory=list)
    code: CodeState | None = None

    @property
    def active_devices(self) -> int:
        return sum(1 for d in self.devices if d.revoked_at is None)


def is_unseen(device: Device, now: dt.datetime, after: dt.timedelta) -> bool:
    """A device that may still sync (not revoked) and has not been seen for `after`."""
    seen = device.last_seen_at or device.created_at
    return device.revoked_at is None and now - seen > after


def _code_state(row: EnrollmentCode | None, now: dt.datetime) -> CodeState:
    if row is None:
        return CodeState("未发放登记码", "")
    if row.used_at is not None:
        return CodeState("登记码已使用", "ok")
    if row.revoked_at is not None:
        return CodeState("登记码已作废", "")
    if row.expires_at <= now:
        return CodeState("登记码已过期", "warn")
    local = row.expires_at + get_state().local_offset
    return CodeState(f"登记码有效至 {local:%m-%d %H:%M}", "info")


def school_rows(session: Session, *, query: str = "") -> list[SchoolRow]:
    stmt = select(School).order_by(School.code)
    if query:
        like = f"%{query}%"
        stmt = stmt.where(School.code.ilike(like) | School.name.ilike(like))
    rows = {s.id: SchoolRow(s) for s in session.execute(stmt).scalars()}
    if not rows:
        return []
    ids = list(rows)
    for device in session.execute(
        select(Device).where(Device.school_id.in_(ids)).order_by(Device.created_at)
    ).scalars():
        rows[device.school_id].devices.append(device)
    latest: dict[int, EnrollmentCode] = {}
    for code in session.execute(
        select(EnrollmentCode)
        .where(EnrollmentCode.school_id.in_(ids))
        .order_by(EnrollmentCode.created_at, EnrollmentCode.id)
    ).scalars():
        latest[code.school_id] = code
    now = naive_utc(get_state().now())
    for sid, row in rows.items():
        row.code = _code_state(latest.get(sid), now)
    return list(rows.values())


@bp.get("/schools")
@role_required("viewer")
def schools() -> ResponseReturnValue:
    query = (request.args.get("q") or "").strip()[:50]
    with get_state().db.ReadSession.begin() as s:
        rows = school_rows(s, query=query)
        return _render(rows, query=query, form={"code": "", "name": ""})


def _render(rows: list[SchoolRow], *, query: str, form: dict[str, str]) -> str:
    now = naive_utc(get_state().now())
    after = unseen_after()
    unseen = [d for r in rows for d in r.devices if is_unseen(d, now, after)]
    return render_template(
        "schools.html",
        rows=rows,
        query=query,
        total_devices=sum(len(r.devices) for r in rows),
        now=now,
        online_within=ONLINE_WITHIN,
        unseen_after=after,
        unseen_ids={d.id for d in unseen},
        form=form,
    )


@bp.post("/schools")
@role_required("admin")
def schools_add() -> ResponseReturnValue:
    code = (request.form.get("code") or "").strip()
    name = (request.form.get("name") or "").strip()
    user = current_user()
    assert user is not None
    state = get_state()
    try:
        with state.db.Session.begin() as s:
            exists = s.execute(select(School.name).where(School.code == code)).scalar_one_or_none()
            if exists is not None:
                raise ServiceError(
                    "school_exists",
                    f"学校代码 {code} 已存在（{exists}）。如需新的登记码，请在列表中点“发放新登记码”。",
                    f"school {code} exists",
                )
            made = schools_service.add_school(
                s,
                code=code,
                name=name,
                now=state.now(),
                days=int(current_app.config["ENROLLMENT_DAYS"]),
                actor=user.username,
                secret=str(current_app.config["SECRET_KEY"]),
            )
    except ServiceError as exc:
        flash(exc.message_zh, "error")
        with state.db.ReadSession.begin() as s:
            return _render(school_rows(s), query="", form={"code": code, "name": name}), 422
    _keep_for_slip(made)
    flash(f"已添加学校“{made.school_name}”，登记码已生成。", "success")
    return redirect(url_for("dashboard.schools_slip", code=made.school_code))


def _keep_for_slip(made: schools_service.SchoolCode) -> None:
    session[SLIP_KEY] = {  # never the code itself: the cookie is signed, not encrypted
        "school": made.school_code,
        "slip": slip_store().put(made.enrollment_code),
        "expires": iso(made.expires_at),
    }


@bp.post("/schools/<code>/enrollment-code")
@role_required("admin")
def schools_new_code(code: str) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    state = get_state()
    with state.db.Session.begin() as s:
        school = s.execute(select(School).where(School.code == code)).scalar_one_or_none()
        if school is None:
            abort(404)
        made = schools_service.add_school(
            s,
            code=school.code,
            name=school.name,
            now=state.now(),
            days=int(current_app.config["ENROLLMENT_DAYS"]),
            actor=user.username,
            secret=str(current_app.config["SECRET_KEY"]),
        )
    _keep_for_slip(made)
    flash(f"已为“{made.school_name}”发放新的登记码，之前未使用的登记码已作废。", "success")
    return redirect(url_for("dashboard.schools_slip", code=made.school_code))


@bp.get("/schools/<code>/slip")
@role_required("admin")
def schools_slip(code: str) -> ResponseReturnValue:
    with get_state().db.ReadSession.begin() as s:
        school = s.execute(select(School).where(School.code == code)).scalar_one_or_none()
        if school is None:
            abort(404)
        name = school.name
    kept = session.get(SLIP_KEY)
    enrollment = None
    expires = None
    if isinstance(kept, dict) and kept.get("school") == code and kept.get("slip"):
        enrollment = slip_store().take(str(kept["slip"]))  # shown once
        session[SLIP_KEY] = {**kept, "slip": None}
        if enrollment and kept.get("expires"):
            moment = dt.datetime.fromisoformat(str(kept["expires"]).removesuffix("Z"))
            expires = moment + get_state().local_offset
    server_url = current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")
    return render_template(
        "schools_slip.html",
        school_code=code,
        school_name=name,
        enrollment_code=enrollment,
        expires=expires,
        server_url=server_url,
        days=int(current_app.config["ENROLLMENT_DAYS"]),
    )


def _device_or_404(s: Session, device_id: str) -> tuple[Device, School]:
    row = s.execute(
        select(Device, School)
        .join(School, School.id == Device.school_id)
        .where(Device.id == device_id)
    ).one_or_none()
    if row is None:
        abort(404)
    return row[0], row[1]


@bp.get("/devices/<device_id>/revoke")
@role_required("admin")
def schools_device_revoke_confirm(device_id: str) -> ResponseReturnValue:
    with get_state().db.ReadSession.begin() as s:
        device, school = _device_or_404(s, device_id)
        return render_template("schools_revoke.html", device=device, school=school)


@bp.post("/devices/<device_id>/revoke")
@role_required("admin")
def schools_device_revoke(device_id: str) -> ResponseReturnValue:
    if request.form.get("confirm") != "yes":
        flash("请勾选确认后再撤销。", "error")
        return redirect(url_for("dashboard.schools_device_revoke_confirm", device_id=device_id))
    user = current_user()
    assert user is not None
    state = get_state()
    with state.db.Session.begin() as s:
        _device_or_404(s, device_id)
        info = schools_service.revoke_device(s, device_id, now=state.now(), actor=user.username)
    flash(
        f"已撤销“{info.school_name}”的设备“{info.name}”。该电脑此后无法同步，如需继续使用，请发放新的登记码重新连接。",
        "success",
    )
    return redirect(url_for("dashboard.schools", _anchor=f"school-{info.school_code}"))
