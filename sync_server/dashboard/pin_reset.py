"""重置PIN码 on 学校与设备 (protocol revision 1.11, sync_server.services.pin_reset): staff with admin rights get
a one-day reset code for a device, to read out to the school's clerk who forgot the PIN of the sensitive forms.
The code is shown on the answer page only (never kept in the session cookie) and every issue is audited.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from sync_server.dashboard import bp
from sync_server.dashboard.auth import current_user, role_required
from sync_server.errors import ServiceError
from sync_server.services.pin_reset import issue_reset_code
from sync_server.state import get_state


@bp.post("/devices/<device_id>/pin-reset")
@role_required("admin")
def device_pin_reset(device_id: str) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    state = get_state()
    try:
        with state.db.Session.begin() as s:
            issued = issue_reset_code(
                s,
                secret=str(current_app.config["SECRET_KEY"]),
                device_id=device_id,
                now=state.now(),
                actor=user.username,
            )
    except ServiceError as exc:
        if exc.status == 404:
            abort(404)
        flash(exc.message_zh, "error")
        return redirect(url_for("dashboard.schools"))
    page = render_template("device_pin_reset.html", issued=issued)
    return page, 200, {"Cache-Control": "no-store"}
