"""`sync-server export`: every school's records of one form in one .xlsx (the bureau's 汇总表).

Layout, as the school client's export plus school columns:
* The record sheet (titled with the form's Chinese title): row 1 the Chinese column labels, row 2 (hidden) the
  machine names; one row per record from row 3: 学校代码, 学校名称, 记录编号 (_uuid), 状态 (_status), then
  the form's answers in form order (helper calculations without a label left out), then 表单版本 and
  最后修改时间（北京时间: the bureau's local time, UTC_OFFSET_HOURS).
* One sheet per repeat group, linked by _uuid: 学校代码, 学校名称, 所属记录编号 (_uuid), 序号 (_index), the
  group's answers.
* A summary sheet (各校汇总), placed first: one row per school with its record count and counts by status
  (and, for one period of a periodic form, whether the school reported on time, late or not at all, with its
  first arrival), then a 合计 row. Without a period every school is listed; with one, the schools expected
  to report for it (sync_server.reporting).
* A hidden `_meta` sheet: form id and version, period, export time, record count.

`--period` (or `period=`) keeps the records whose period field places them in that period, e.g. 2026-11.

Every answer is shown as forms.display shows it to a person: choices as their Chinese labels (several joined
with "、"), roster references as the teacher's name (with the 工号 when two share it), attachments by the
names they had on the school's PC, dates and times as real Excel dates and times, numbers as numbers, and a
calculate with `appearance: percent` as its number with a 0.0% format. Text that a spreadsheet could take
for a formula (starting with = + - @ tab or CR) is written as an explicit string cell with Excel's quote
prefix, so it is never evaluated. The layout and every cell, the _meta sheet's included, are
forms.record_sheets' and forms.safe_workbook's, as in the school client's export. Records are streamed
(xlsxwriter in constant-memory mode, a batched query), and the file is written to a temporary name and
renamed into place.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forms.display import FileNames, Labels, zone_label
from forms.model import FormDef, Period
from forms.periods import period_range
from forms.record_sheets import META_SHEET, UUID, Fixed, RecordSheets, column_width
from forms.safe_workbook import Column, SafeSheet, SafeWorkbook
from sync_server import reporting
from sync_server.errors import ServiceError
from sync_server.models import FormVersion, Record, School, Status
from sync_server.private_files import create_file
from sync_server.services.attachments import file_names as school_file_names
from sync_server.services.common import naive_utc
from sync_server.services.forms import FORM_CACHE, latest_forms
from sync_server.services.roster import all_rosters

log = logging.getLogger(__name__)

SCHOOL_CODE = "_school_code"
SCHOOL_NAME = "_school_name"
STATUS = "_status"
FORM_VERSION = "_form_version"
UPDATED = "_updated_at"
LAYOUT_VERSION = "sync-server-export/1"
BATCH = 500
SUMMARY_TITLE = "各校汇总"
TOTAL_LABEL = "合计"
DEFAULT_UTC_OFFSET = dt.timedelta(hours=8)

RESERVED: dict[str, str] = {
    SCHOOL_CODE: "学校代码",
    SCHOOL_NAME: "学校名称",
    UUID: "记录编号",
    STATUS: "状态",
    FORM_VERSION: "表单版本",
    UPDATED: "最后修改时间",
}
REPEAT_UUID_LABEL = "所属记录编号"


def updated_label(utc_offset: dt.timedelta) -> str:
    """The last-changed column, in the bureau's local time: 最后修改时间（北京时间）."""
    return f"{RESERVED[UPDATED]}（{zone_label(utc_offset)}）"


STATUS_LABELS = {
    Status.RECEIVED: "教育局已收到",
    Status.RETURNED: "已退回",
    Status.ACCEPTED: "已确认",
    Status.DELETED: "已删除",
}


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    form_id: str
    version: str
    records: int
    schools: int
    sheets: list[str]  # the record sheet first, then the repeat groups (the summary is `summary`)
    period: str | None = None
    summary: str = SUMMARY_TITLE
    sensitive: bool = False  # teacher-ethics or dropout records (the audit log says so)


def _fixed(name: str, label: str, wanted: float = 16, write: str = "text") -> Fixed:
    return Fixed(Column(name, label, column_width(label, wanted)), write)


def _columns(utc_offset: dt.timedelta) -> tuple[list[Fixed], list[Fixed], list[Fixed]]:
    """The record sheet's leading and trailing columns, and a repeat sheet's leading ones (before _index)."""
    school = [
        _fixed(SCHOOL_CODE, RESERVED[SCHOOL_CODE]),
        _fixed(SCHOOL_NAME, RESERVED[SCHOOL_NAME]),
    ]
    record = [*school, _fixed(UUID, RESERVED[UUID], 38), _fixed(STATUS, RESERVED[STATUS])]
    trailing = [
        _fixed(FORM_VERSION, RESERVED[FORM_VERSION]),
        _fixed(UPDATED, updated_label(utc_offset), 20, "stamp"),
    ]
    return record, trailing, [*school, _fixed(UUID, REPEAT_UUID_LABEL, 38)]


def _form(session: Session, form_id: str) -> tuple[FormVersion, FormDef]:
    """The form's latest version; when every version was withdrawn, the newest (its records are kept)."""
    forms = latest_forms(session, include_withdrawn=True)
    for fv in forms:
        if fv.form_id == form_id:
            return fv, FORM_CACHE.get(fv)
    known = ", ".join(fv.form_id for fv in forms)
    raise ServiceError(
        "unknown_form",
        f"服务器上没有表单“{form_id}”（已发布：{known}）",
        f"no form '{form_id}' is published (published: {known})",
        status=404,
    )


@dataclass(frozen=True, slots=True)
class _Row:
    id: str
    status: str
    form_version: str
    updated_at: dt.datetime
    data: Any
    school_id: int
    school_code: str
    school_name: str


def _rows(session: Session, form: FormDef, period: str | None) -> Iterator[_Row]:
    """The live records (columns, not ORM objects), read in batches: a server-side cursor on PostgreSQL."""
    stmt = (
        select(
            Record.id,
            Record.status,
            Record.form_version,
            Record.updated_at,
            Record.data,
            School.id,
            School.code,
            School.name,
        )
        .join(School, School.id == Record.school_id)
        .where(Record.form_id == form.form_id, Record.status != Status.DELETED)
        .order_by(School.code, Record.created_at, Record.id)
        .execution_options(yield_per=BATCH)
    )
    if period is not None:
        stmt = stmt.where(reporting.period_condition(form, period))
    for row in session.execute(stmt):
        yield _Row(*row)


@dataclass
class _Tally:
    code: str
    name: str
    by_status: dict[str, int]

    @property
    def records(self) -> int:
        return sum(self.by_status.values())


SUMMARY_STATUSES = (Status.RECEIVED, Status.RETURNED, Status.ACCEPTED)


def _summary_sheet(book: SafeWorkbook, period: str | None, utc_offset: dt.timedelta) -> SafeSheet:
    """The 各校汇总 sheet and its header (made before the record sheets: the first tab; filled after them)."""
    columns: list[tuple[str, float]] = [("学校代码", 12), ("学校名称", 28)]
    if period is not None:
        columns += [("报送情况", 10), (f"首次报送时间（{zone_label(utc_offset)}）", 24)]
    columns += [("记录数", 10), *((STATUS_LABELS[s], 14) for s in SUMMARY_STATUSES)]
    return book.add_sheet(SUMMARY_TITLE, [Column("", text, width) for text, width in columns])


def _fill_summary(
    session: Session,
    sheet: SafeSheet,
    form: FormDef,
    tallies: dict[int, _Tally],
    period: str | None,
    *,
    today: dt.date,
    utc_offset: dt.timedelta,
    rules: Any,
) -> None:
    """Per school its records by status (and, for a period, its reporting status), then a 合计 row."""
    report = None
    if period is not None:
        report = reporting.period_report(
            session, form, period, today=today, utc_offset=utc_offset, rules=rules
        )
    schools: list[tuple[int, str, str, Any]] = []
    if report is not None:
        listed = {r.school_id for r in report.schools}
        schools = [(r.school_id, r.code, r.name, r) for r in report.schools]
        # A school not (yet) expected that still sent records for the period is listed too.
        schools += [(sid, t.code, t.name, None) for sid, t in tallies.items() if sid not in listed]
    else:
        for sid, code, name in session.execute(
            select(School.id, School.code, School.name).order_by(School.code)
        ):
            schools.append((sid, code, name, None))
    schools.sort(key=lambda item: item[1])
    totals = [0] * (1 + len(SUMMARY_STATUSES))
    for sid, code, name, rep in schools:
        tally = tallies.get(sid) or _Tally(code, name, {})
        counts = [tally.records, *(tally.by_status.get(s, 0) for s in SUMMARY_STATUSES)]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        row: list[Any] = [code, name]
        if report is not None:
            row += (
                ["（不在应报范围）", None]
                if rep is None
                else [rep.status_label, rep.first_received]
            )
        sheet.append([*row, *counts])
    total_row: list[Any] = [TOTAL_LABEL, f"{len(schools)} 所学校"]
    if report is not None:
        rate = report.reporting_rate
        on_time = report.on_time_rate
        total_row += [
            "报送率 —"
            if rate is None or on_time is None
            else f"报送率 {rate:.0%}，及时率 {on_time:.0%}",
            None,
        ]
    sheet.append([*total_row, *totals], bold=True)


def _write(
    session: Session,
    book: SafeWorkbook,
    fv: FormVersion,
    form: FormDef,
    now: dt.datetime,
    *,
    period: str | None = None,
    utc_offset: dt.timedelta = DEFAULT_UTC_OFFSET,
    rules: Any = None,
) -> tuple[int, int, list[str]]:
    labels = Labels(form)
    summary = _summary_sheet(book, period, utc_offset)
    record_fixed, trailing, entry_fixed = _columns(utc_offset)
    sheets = RecordSheets(
        book,
        form,
        labels,
        record_fixed=record_fixed,
        trailing=trailing,
        entry_fixed=entry_fixed,
        used={META_SHEET, SUMMARY_TITLE.lower()},
    )
    rosters = all_rosters(session)
    count = 0
    tallies: dict[int, _Tally] = {}
    for rec in _rows(session, form, period):
        tally = tallies.get(rec.school_id)
        if tally is None:
            tally = tallies[rec.school_id] = _Tally(rec.school_code, rec.school_name, {})
            labels.set_roster(rosters.get(rec.school_id))
            labels.files = FileNames(school_file_names(session, rec.school_id))
        tally.by_status[rec.status] = tally.by_status.get(rec.status, 0) + 1
        sheets.write(
            rec.data,
            (rec.school_code, rec.school_name, rec.id, STATUS_LABELS.get(rec.status, rec.status)),
            (rec.form_version, rec.updated_at + utc_offset),
            (rec.school_code, rec.school_name, rec.id),
        )
        count += 1
    today = (naive_utc(now) + utc_offset).date()
    _fill_summary(
        session,
        summary,
        form,
        tallies,
        period,
        today=today,
        utc_offset=utc_offset,
        rules=rules or reporting.DEFAULT_DUE_RULES,
    )
    book.key_value_sheet(
        META_SHEET,
        [
            ("layout", LAYOUT_VERSION),
            ("form_id", fv.form_id),
            ("form_version", fv.version),
            ("period", period or ""),
            ("exported_at", naive_utc(now).replace(microsecond=0).isoformat() + "Z"),
            ("records", count),
            *sheets.meta_rows(),
            ("summary:" + SUMMARY_TITLE, ""),
        ],
    )
    return count, len(tallies), sheets.titles


def cannot_write(path: Path, exc: OSError) -> ServiceError:
    """The file could not be written (a missing or read-only folder, a full disk, open in Excel): 500,
    which the CLI reports as exit 1."""
    reason = exc.strerror or str(exc)
    hint_zh, hint_en = "", ""
    if isinstance(exc, PermissionError):
        hint_zh, hint_en = (
            "（没有写入权限，或文件正在 Excel 中打开）",
            " (no permission, or open in Excel?)",
        )
    elif exc.errno == errno.ENOSPC:
        hint_zh, hint_en = "（磁盘已满）", " (the disk is full)"
    elif isinstance(exc, FileNotFoundError):
        hint_zh, hint_en = "（文件夹不存在）", " (no such folder)"
    return ServiceError(
        "cannot_write",
        f"无法写入文件 {path}{hint_zh}：{reason}",
        f"cannot write {path}{hint_en}: {reason}",
        status=500,
    )


_PERIOD_EXAMPLES = {
    Period.DAILY: "2026-11-28",
    Period.WEEKLY: "2026-W48",
    Period.MONTHLY: "2026-11",
    Period.SEMESTER: "2026-autumn",
    Period.YEARLY: "2026",
}


def check_period(form: FormDef, period: str | None) -> str | None:
    """A period key valid for the form's period kind, else a ServiceError (400)."""
    if period is None or period == "":
        return None
    title = form.title.get("zh") or form.form_id
    if form.settings.period is Period.NONE or form.settings.period_field is None:
        raise ServiceError(
            "bad_period",
            f"表单“{title}”不按周期报送，不能按周期导出",
            f"form '{form.form_id}' has no reporting period",
        )
    kind = form.settings.period
    try:
        period_range(kind, period)
    except ValueError:
        example = _PERIOD_EXAMPLES.get(kind, "")
        raise ServiceError(
            "bad_period",
            f"“{period}”不是有效的报送周期：“{title}”{reporting.period_kind_label(kind)}报送一次，"
            f"周期写作如 {example}",
            f"'{period}' is not a {kind.value} period of '{form.form_id}' (e.g. {example})",
        ) from None
    return period


def export_form(
    ReadSession: sessionmaker[Session],
    form_id: str,
    out_path: Path,
    *,
    now: dt.datetime,
    period: str | None = None,
    utc_offset: dt.timedelta = DEFAULT_UTC_OFFSET,
    due_rules: Any = None,
) -> ExportResult:
    """Write every school's live records of a form (laid out by its latest version) to out_path; with
    `period`, only the records of that period (e.g. "2026-11")."""
    if out_path.suffix.lower() != ".xlsx":
        raise ServiceError(
            "bad_output", "导出文件名应以 .xlsx 结尾", "the output file must end in .xlsx"
        )
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex[:8]}.tmp")
    book = SafeWorkbook(tmp)
    try:
        create_file(tmp)  # owner-only; an unwritable place fails here, before any record is read
        with ReadSession.begin() as session:
            fv, form = _form(session, form_id)
            period = check_period(form, period)
            count, schools, sheets = _write(
                session,
                book,
                fv,
                form,
                now,
                period=period,
                utc_offset=utc_offset,
                rules=due_rules,
            )
        book.close()  # into the owner-only file made above (its mode is kept)
        os.replace(tmp, out_path)
    except BaseException as exc:
        book.discard()
        if isinstance(exc, OSError):
            raise cannot_write(out_path, exc) from None
        raise
    log.info("exported %d %s records of %d schools to %s", count, form_id, schools, out_path)
    return ExportResult(
        out_path,
        fv.form_id,
        fv.version,
        count,
        schools,
        sheets,
        period,
        sensitive=bool(count) and form.settings.sensitive,
    )
