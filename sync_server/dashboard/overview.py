"""The overview (概览, issue 5, item 2): per periodic form and period, which schools reported on time, late or
not at all; the reporting and on-time rates (DHIS2's received / expected); the schools to chase (催报); all
of it exportable as .xlsx. The rules are in sync_server.reporting (due dates: config `report_due`).

It answers "who is late now" (issue 11): each form opens on its latest period whose due date has passed (the
current period one click away), and one list names the schools that owe a report across forms."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, render_template, request, send_file
from flask.typing import ResponseReturnValue
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from forms.cells import DATE_FORMAT, SafeCells
from forms.display import zone_label
from forms.model import Period
from sync_server import reporting
from sync_server.dashboard import bp
from sync_server.dashboard.auth import audit, current_user, role_required
from sync_server.dashboard.params import bad_parameter
from sync_server.services.common import naive_utc
from sync_server.services.generation import RestoreNotice, latest_restore
from sync_server.state import get_state

log = logging.getLogger(__name__)

STATUS_TONES = {reporting.ON_TIME: "ok", reporting.LATE: "warn", reporting.MISSING: "bad"}
STATUS_FILTERS = {"": "全部", **reporting.REPORT_STATUS_LABELS}
OVERDUE_SHEET = "逾期未报（各表）"
# A restore stays on the overview this long (and while devices have not healed).
RESTORE_NOTICE_DAYS = 30


def restore_notice() -> RestoreNotice | None:
    """The newest restore of the database (or rewind), while it matters: what came back since."""
    state = get_state()
    with state.db.ReadSession.begin() as s:
        notice = latest_restore(s)
    if notice is None or not notice.current:
        return None
    recent = naive_utc(state.now()) - notice.started_at < dt.timedelta(days=RESTORE_NOTICE_DAYS)
    return notice if recent or notice.healed < notice.devices else None


def due_rules() -> dict[Period, reporting.DueRule]:
    """The due-date rules, with the instance's `report_due` overrides (bad ones are logged, not fatal)."""
    raw = current_app.config.get("REPORT_DUE")
    if not raw:
        return dict(reporting.DEFAULT_DUE_RULES)
    try:
        return reporting.due_rules(raw if isinstance(raw, Mapping) else {})
    except ValueError as exc:
        log.warning("config report_due ignored: %s", exc)
        return dict(reporting.DEFAULT_DUE_RULES)


def _chosen() -> tuple[str, str]:
    return request.args.get("form", "").strip(), request.args.get("period", "").strip()


@dataclass
class Reports:
    shown: list[reporting.PeriodReport]  # every periodic form (the chosen one at the chosen period)
    chosen: reporting.PeriodReport | None
    choices: dict[str, list[tuple[str, str]]]  # form id -> its periods (key, label), newest first
    current: dict[str, str]  # form id -> the period today falls in
    latest_due: dict[str, str]  # form id -> its latest period past the due date
    overdue: list[reporting.OverdueSchool]  # who is late now, across forms
    nothing_expected: bool  # no past-due report expected any school


def _reports(form_id: str, period: str) -> Reports:
    user = current_user()
    assert user is not None
    state = get_state()
    today = state.local_now().date()
    rules = due_rules()
    with state.db.ReadSession.begin() as s:
        forms = reporting.periodic_forms(s, include_sensitive=user.can_view_sensitive)
        by_id = {form.form_id: form for _fv, form in forms}
        if form_id and form_id not in by_id:
            abort(404)
        focus = form_id or (forms[0][1].form_id if forms else "")
        periods: dict[str, str] = {}
        if focus and period:
            try:
                reporting.parse_period(by_id[focus], period)
            except ValueError:
                example = reporting.current_period(by_id[focus].settings.period, today)
                raise bad_parameter(
                    "period",
                    "报送周期",
                    period,
                    f"应为该表单的报送周期，如“{example}”。",
                    f"it must be a reporting period of this form, like {example!r}",
                ) from None
            periods[focus] = period
        now = reporting.overview(
            s,
            today=today,
            utc_offset=state.local_offset,
            include_sensitive=user.can_view_sensitive,
            rules=rules,
        )
        reports = now
        if focus in periods and any(r.form_id == focus and r.period != period for r in now):
            # Only the chosen form is shown at another period; the others (and 逾期未报) stay as now.
            mine = reporting.period_report(
                s, by_id[focus], period, today=today, utc_offset=state.local_offset, rules=rules
            )
            reports = [mine if r.form_id == focus else r for r in now]
    choices = {
        fid: [
            (k, reporting.period_label(form.settings.period, k))
            for k in reporting.period_choices(form, today, 24)
        ]
        for fid, form in by_id.items()
    }
    for rep in reports:  # a period chosen by URL outside the recent list still shows in its picker
        if rep.period not in dict(choices[rep.form_id]):
            choices[rep.form_id].insert(
                0, (rep.period, reporting.period_label(rep.period_kind, rep.period))
            )
    chosen = next((r for r in reports if r.form_id == focus), None)
    current = {
        fid: key
        for fid, form in by_id.items()
        if (key := reporting.current_period(form.settings.period, today)) is not None
    }
    past_due = [r for r in now if r.past_due]
    return Reports(
        shown=reports,
        chosen=chosen,
        choices=choices,
        current=current,
        latest_due={r.form_id: r.period for r in past_due},
        overdue=reporting.overdue_schools(now),
        nothing_expected=not any(r.expected for r in past_due),
    )


@bp.get("/")
@role_required("viewer")
def overview() -> ResponseReturnValue:
    form_id, period = _chosen()
    status = request.args.get("status", "").strip()
    if status not in STATUS_FILTERS:
        abort(400)
    found = _reports(form_id, period)
    chosen = found.chosen
    rows = []
    if chosen is not None:
        rows = [r for r in chosen.schools if not status or r.status == status]
    return render_template(
        "overview.html",
        reports=found.shown,
        chosen=chosen,
        choices=found.choices,
        current=found.current,
        latest_due=found.latest_due,
        overdue=found.overdue,
        nothing_expected=found.nothing_expected,
        rows=rows,
        status=status,
        status_filters=STATUS_FILTERS,
        tones=STATUS_TONES,
        period_label=reporting.period_label,
        kind_label=reporting.period_kind_label,
        today=get_state().local_now().date(),
        restore=restore_notice(),
    )


_HEAD_FONT = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")


def _sheet(wb: Workbook, title: str, head: Sequence[tuple[str, float]]) -> tuple[Any, SafeCells]:
    ws = wb.create_sheet(title)
    for i, (_text, width) in enumerate(head, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A3"
    return ws, SafeCells(ws)


def _header(ws: Any, labels: list[str]) -> None:
    row = []
    for text in labels:
        cell = WriteOnlyCell(ws, value=text)
        cell.data_type = "s"
        cell.font = _HEAD_FONT
        cell.fill = _HEAD_FILL
        row.append(cell)
    ws.append(row)


def _when(moment: dt.datetime | None, cells: SafeCells) -> Any:
    return (
        None if moment is None else cells.styled(moment.replace(microsecond=0), "yyyy-mm-dd hh:mm")
    )


def report_workbook(
    rep: reporting.PeriodReport,
    overdue: list[reporting.OverdueSchool],
    utc_offset: dt.timedelta,
) -> bytes:
    """The chosen form and period as .xlsx: 报送情况 (every expected school), 催报名单, and 逾期未报（各表）
    (who is late now, across forms). Times in the bureau's local time, the zone named in the headers."""
    wb = Workbook(write_only=True)
    zone = zone_label(utc_offset)
    label = reporting.period_label(rep.period_kind, rep.period)
    rate = "—" if rep.reporting_rate is None else f"{rep.reporting_rate:.1%}"
    on_time = "—" if rep.on_time_rate is None else f"{rep.on_time_rate:.1%}"
    title_line = (
        f"{rep.title} · {label} · 截止 {rep.due:%Y-%m-%d} · 应报 {rep.expected} · 已报 "
        f"{rep.received}（按时 {rep.on_time}，逾期 {rep.late}）· 未报 {rep.missing} · "
        f"报送率 {rate} · 及时率 {on_time}"
    )
    heads = [
        ("学校代码", 12),
        ("学校名称", 30),
        ("报送情况", 10),
        ("记录数", 8),
        (f"首次报送时间（{zone}）", 24),
        (f"最近同步（{zone}）", 24),
    ]
    ws, cells = _sheet(wb, "报送情况", heads)
    ws.append([cells.text(title_line)])
    _header(ws, [h for h, _w in heads])
    for r in rep.schools:
        ws.append(
            [
                cells.text(r.code),
                cells.text(r.name),
                cells.text(r.status_label),
                r.records,
                _when(r.first_received, cells),
                _when(r.last_sync, cells),
            ]
        )
    heads = [("学校代码", 12), ("学校名称", 30), ("已登记电脑", 10), (f"最近同步（{zone}）", 24)]
    chase, cells2 = _sheet(wb, "催报名单", heads)
    if rep.expected:
        note = f"{rep.title} · {label} · 未报 {rep.missing} 所（截止 {rep.due:%Y-%m-%d}）"
    else:
        note = f"{rep.title} · {label} · 本期没有应报的学校"
    chase.append([cells2.text(note)])
    _header(chase, [h for h, _w in heads])
    for r in rep.chase:
        chase.append(
            [cells2.text(r.code), cells2.text(r.name), r.devices, _when(r.last_sync, cells2)]
        )
    heads = [
        ("学校代码", 12),
        ("学校名称", 30),
        ("表单", 28),
        ("报送周期", 16),
        ("截止日期", 12),
        ("已逾期（天）", 12),
        ("已登记电脑", 10),
        (f"最近同步（{zone}）", 24),
    ]
    late, cells3 = _sheet(wb, OVERDUE_SHEET, heads)
    late.append([cells3.text(f"逾期未报：各表最近一个已过截止日期的周期 · {len(overdue)} 所学校")])
    _header(late, [h for h, _w in heads])
    for school in overdue:
        for owed in school.owed:
            late.append(
                [
                    cells3.text(school.code),
                    cells3.text(school.name),
                    cells3.text(owed.title),
                    cells3.text(reporting.period_label(owed.period_kind, owed.period, short=True)),
                    cells3.styled(owed.due, DATE_FORMAT),
                    owed.days_late,
                    school.devices,
                    _when(school.last_sync, cells3),
                ]
            )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@bp.get("/overview.xlsx")
@role_required("viewer")
def overview_export() -> ResponseReturnValue:
    form_id, period = _chosen()
    found = _reports(form_id, period)
    chosen = found.chosen
    if chosen is None:
        abort(404)
    body = report_workbook(chosen, found.overdue, get_state().local_offset)
    audit(
        "overview.export",
        chosen.form_id,
        {"period": chosen.period, "expected": chosen.expected, "missing": chosen.missing},
    )
    name = f"报送情况_{chosen.form_id}_{chosen.period}.xlsx"
    return send_file(
        io.BytesIO(body),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=name,
        max_age=0,
    )
