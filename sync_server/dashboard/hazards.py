"""Hazards (隐患, issue 5, item 4): every hazard of every safety inspection with its school, category,
severity, location, deadline and status; open and overdue counts per school; links to the record.
A hazard is overdue when it is not rectified or verified and its deadline is before today (bureau time)."""

from __future__ import annotations

import math

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from forms.model import Choice, FormDef
from sync_server import reporting
from sync_server.dashboard import bp
from sync_server.dashboard.auth import role_required
from sync_server.dashboard.display import Labels
from sync_server.models import School
from sync_server.state import get_state

PAGE_SIZE = 100
SEVERITY_TONES = {"serious": "bad", "major": "warn", "general": ""}
STATUS_TONES = {"open": "bad", "in_progress": "warn", "rectified": "info", "verified": "ok"}


@bp.get("/hazards")
@role_required("viewer")
def hazards() -> ResponseReturnValue:
    args = request.args
    try:
        school_id = int(args["school"]) if args.get("school") else None
        page = max(1, int(args.get("page") or 1))
    except ValueError:
        abort(400)
    status = args.get("status", "").strip()
    severity = args.get("severity", "").strip()
    overdue_only = args.get("overdue") == "1"
    open_only = args.get("open") == "1"
    state = get_state()
    today = state.local_now().date()
    with state.db.ReadSession.begin() as s:
        found = reporting.latest_form(s, reporting.HAZARD_FORM)
        items = reporting.hazards(s, today=today)
        schools = list(
            s.execute(select(School.id, School.code, School.name).order_by(School.code)).all()
        )
    if found is None:
        abort(404)
    form = found[1]
    labels = Labels(form)
    statuses = {
        c.name: labels.list_label("hazard_status", c.name) for c in _choices(form, "hazard_status")
    }
    severities = {c.name: labels.list_label("severity", c.name) for c in _choices(form, "severity")}
    if status and status not in statuses:
        abort(400)
    if severity and severity not in severities:
        abort(400)
    counts = reporting.hazard_counts(items)
    shown = reporting.filter_hazards(
        items,
        school_id=school_id,
        status=status or None,
        severity=severity or None,
        overdue_only=overdue_only,
        open_only=open_only,
    )
    pages = max(1, math.ceil(len(shown) / PAGE_SIZE))
    page = min(page, pages)
    filters = {
        "school": school_id,
        "status": status,
        "severity": severity,
        "overdue": "1" if overdue_only else "",
        "open": "1" if open_only else "",
    }
    return render_template(
        "hazards.html",
        rows=shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        total_shown=len(shown),
        counts=counts,
        total=len(items),
        open_total=sum(1 for h in items if h.open),
        overdue_total=sum(1 for h in items if h.overdue),
        schools=schools,
        statuses=statuses,
        severities=severities,
        categories={
            c.name: labels.list_label("hazard_category", c.name)
            for c in _choices(form, "hazard_category")
        },
        filters=filters,
        args={k: v for k, v in filters.items() if v not in (None, "")},
        page=page,
        pages=pages,
        today=today,
        severity_tones=SEVERITY_TONES,
        status_tones=STATUS_TONES,
    )


def _choices(form: FormDef, list_name: str) -> tuple[Choice, ...]:
    try:
        return form.choice_list(list_name).choices
    except KeyError:
        return ()
