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
prefix, so it is never evaluated: every cell, the _meta sheet's included, is made by forms.cells.SafeCells
(which the dashboard's other sheets import from here). Records are streamed (openpyxl write-only, a batched query), and the file
is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import math
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell as _XlCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forms.cells import DATETIME_FORMAT, Cell, SafeCells
from forms.display import (
    FILE_TYPES,
    FileNames,
    Labels,
    is_empty,
    label_of,
    number_format,
    show_value,
    zone_label,
)
from forms.model import Field, FieldType, FormDef, Period
from forms.periods import period_range
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
UUID = "_uuid"
INDEX = "_index"
STATUS = "_status"
FORM_VERSION = "_form_version"
UPDATED = "_updated_at"
META_SHEET = "_meta"
LAYOUT_VERSION = "sync-server-export/1"
MULTI_SEPARATOR = "、"
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


INDEX_LABEL = "序号"
STATUS_LABELS = {
    Status.RECEIVED: "教育局已收到",
    Status.RETURNED: "已退回",
    Status.ACCEPTED: "已确认",
    Status.DELETED: "已删除",
}

_BAD_TITLE_CHARS = re.compile(r"[\\/?*\[\]:]")
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_NAMES_FONT = Font(color="808080", size=9)


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


def sheet_title(text: str, used: set[str]) -> str:
    base = _BAD_TITLE_CHARS.sub("_", text).strip().strip("'") or "Sheet"
    if base.lower() in ("history", META_SHEET):
        base += "_"
    title = base[:31]
    n = 2
    while title.lower() in used:
        suffix = f"_{n}"
        title = base[: 31 - len(suffix)] + suffix
        n += 1
    used.add(title.lower())
    return title


def _leaves(fields: tuple[Field, ...]) -> Iterator[Field]:
    for f in fields:
        if f.type is FieldType.GROUP:
            yield from _leaves(f.children)
        elif f.type is FieldType.CALCULATE and not f.label.items:
            continue  # a helper calculation nobody is meant to read (e.g. is_open)
        elif f.type not in (FieldType.REPEAT, FieldType.NOTE):
            yield f


def _repeats(fields: tuple[Field, ...]) -> Iterator[Field]:
    for f in fields:
        if f.type is FieldType.GROUP:
            yield from _repeats(f.children)
        elif f.type is FieldType.REPEAT:
            yield f


@dataclass
class _Sheet:
    title: str
    ws: Any
    cells: SafeCells
    fields: tuple[Field, ...]
    convert: list[Callable[[Any], Cell]]
    chain: tuple[str, ...]  # repeat names from the top (empty: the record sheet)


def _converter(f: Field, cells: SafeCells, labels: Labels) -> Callable[[Any], Cell]:
    """An answer -> its cell, shown as forms.display shows it to a person (a percentage stays a number,
    with a percent format)."""
    if f.is_select or f.type in FILE_TYPES:
        return lambda v: None if is_empty(v) else cells.text(show_value(f, v, labels))
    percent = number_format(f)
    if percent is not None:
        return lambda v: _percent_cell(cells, v, percent)
    if f.type in (FieldType.INTEGER, FieldType.DECIMAL):
        return cells.number
    if f.type is FieldType.DATE:
        return cells.date
    if f.type is FieldType.TIME:
        return cells.time
    if f.type is FieldType.DATETIME:
        return cells.datetime
    return cells.any


def _percent_cell(cells: SafeCells, value: Any, fmt: str) -> Cell:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return cells.styled(value, fmt)
    return cells.any(value)


_label = label_of


def _width(label: str, f: Field | None) -> float:
    wanted = 16
    if f is not None:
        wanted = {
            FieldType.DATE: 12,
            FieldType.DATETIME: 20,
            FieldType.INTEGER: 10,
            FieldType.DECIMAL: 10,
            FieldType.SELECT_MULTIPLE: 24,
        }.get(f.type, 16)
        if f.appearance == "multiline":
            wanted = 40
    shown = sum(2 if ord(c) > 0x2E7F else 1 for c in label)
    return float(min(max(shown + 2, wanted), 60))


def _new_sheet(
    wb: Workbook,
    title: str,
    fields: tuple[Field, ...],
    chain: tuple[str, ...],
    labels: Labels,
    utc_offset: dt.timedelta,
) -> _Sheet:
    ws = wb.create_sheet(title)
    cells = SafeCells(ws)
    if chain:
        head = [
            (SCHOOL_CODE, RESERVED[SCHOOL_CODE], None),
            (SCHOOL_NAME, RESERVED[SCHOOL_NAME], None),
            (UUID, REPEAT_UUID_LABEL, None),
            (INDEX, INDEX_LABEL, None),
        ]
        tail: list[tuple[str, str, Field | None]] = []
    else:
        head = [(n, RESERVED[n], None) for n in (SCHOOL_CODE, SCHOOL_NAME, UUID, STATUS)]
        tail = [
            (FORM_VERSION, RESERVED[FORM_VERSION], None),
            (UPDATED, updated_label(utc_offset), None),
        ]
    columns = [*head, *((f.name, _label(f), f) for f in fields), *tail]
    for i, (name, label, f) in enumerate(columns, start=1):
        width = 38.0 if name == UUID else _width(label, f)
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A3"
    ws.row_dimensions[2].hidden = True
    ws.append(
        [cells.header(label, font=_HEADER_FONT, fill=_HEADER_FILL) for _n, label, _f in columns]
    )
    ws.append([cells.header(name, font=_NAMES_FONT) for name, _label, _f in columns])
    return _Sheet(title, ws, cells, fields, [_converter(f, cells, labels) for f in fields], chain)


def _answers(sheet: _Sheet, data: dict[str, Any]) -> list[Cell]:
    out: list[Cell] = []
    for f, convert in zip(sheet.fields, sheet.convert, strict=True):
        value = data.get(f.name)
        out.append(None if value is None else convert(value))
    return out


def _instances(
    data: Any, chain: Sequence[str], index: tuple[int, ...] = ()
) -> Iterator[tuple[tuple[int, ...], dict[str, Any]]]:
    if not isinstance(data, dict):
        return
    items = data.get(chain[0])
    if not isinstance(items, list):
        return
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            continue
        if len(chain) == 1:
            yield (*index, i), item
        else:
            yield from _instances(item, chain[1:], (*index, i))


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


def _summary(
    session: Session,
    wb: Workbook,
    form: FormDef,
    tallies: dict[int, _Tally],
    period: str | None,
    *,
    today: dt.date,
    utc_offset: dt.timedelta,
    rules: Any,
) -> Any:
    """The 各校汇总 sheet: per school its records by status (and, for a period, its reporting status)."""
    ws = wb.create_sheet(SUMMARY_TITLE)
    cells = SafeCells(ws)
    columns: list[tuple[str, float]] = [("学校代码", 12), ("学校名称", 28)]
    report = None
    if period is not None:
        report = reporting.period_report(
            session, form, period, today=today, utc_offset=utc_offset, rules=rules
        )
        columns += [("报送情况", 10), (f"首次报送时间（{zone_label(utc_offset)}）", 24)]
    columns += [("记录数", 10), *((STATUS_LABELS[s], 14) for s in SUMMARY_STATUSES)]
    for i, (_label_text, width) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.append([cells.header(text, font=_HEADER_FONT, fill=_HEADER_FILL) for text, _w in columns])

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
        row: list[Cell] = [cells.text(code), cells.text(name)]
        if report is not None:
            if rep is None:
                row += [cells.text("（不在应报范围）"), None]
            else:
                first = rep.first_received
                row += [
                    cells.text(rep.status_label),
                    None if first is None else cells.styled(first, DATETIME_FORMAT),
                ]
        row += counts
        ws.append(cells.row(row))
    total_row: list[Cell] = [cells.text(TOTAL_LABEL), cells.text(f"{len(schools)} 所学校")]
    if report is not None:
        rate = report.reporting_rate
        on_time = report.on_time_rate
        total_row += [
            cells.text(
                "报送率 —"
                if rate is None or on_time is None
                else f"报送率 {rate:.0%}，及时率 {on_time:.0%}"
            ),
            None,
        ]
    total_row += totals
    bold = []
    for value in cells.row(total_row):
        cell = value if isinstance(value, _XlCell) else WriteOnlyCell(ws, value=value)
        cell.font = _HEADER_FONT
        bold.append(cell)
    ws.append(bold)
    return ws


def _write(
    session: Session,
    wb: Workbook,
    fv: FormVersion,
    form: FormDef,
    now: dt.datetime,
    *,
    period: str | None = None,
    utc_offset: dt.timedelta = DEFAULT_UTC_OFFSET,
    rules: Any = None,
) -> tuple[int, int, list[str]]:
    labels = Labels(form)
    used: set[str] = {META_SHEET, SUMMARY_TITLE.lower()}
    main = _new_sheet(
        wb,
        sheet_title(form.title.get("zh") or form.form_id, used),
        tuple(_leaves(form.fields)),
        (),
        labels,
        utc_offset,
    )
    repeats: list[_Sheet] = []

    def visit(fields: tuple[Field, ...], chain: tuple[str, ...]) -> None:
        for rep in _repeats(fields):
            inner = (*chain, rep.name)
            title = sheet_title(_label(rep), used)
            repeats.append(
                _new_sheet(wb, title, tuple(_leaves(rep.children)), inner, labels, utc_offset)
            )
            visit(rep.children, inner)

    visit(form.fields, ())
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
        code = main.cells.text(rec.school_code)
        name = main.cells.text(rec.school_name)
        data = rec.data if isinstance(rec.data, dict) else {}
        main.ws.append(
            [
                code,
                name,
                main.cells.text(rec.id),
                main.cells.text(STATUS_LABELS.get(rec.status, rec.status)),
                *_answers(main, data),
                main.cells.text(rec.form_version),
                main.cells.styled(
                    (rec.updated_at + utc_offset).replace(microsecond=0), DATETIME_FORMAT
                ),
            ]
        )
        for sheet in repeats:
            for index, item in _instances(data, sheet.chain):
                position: Any = index[0] if len(index) == 1 else ".".join(map(str, index))
                sheet.ws.append(
                    [
                        sheet.cells.text(rec.school_code),
                        sheet.cells.text(rec.school_name),
                        sheet.cells.text(rec.id),
                        sheet.cells.any(position),
                        *_answers(sheet, item),
                    ]
                )
        count += 1
    today = (naive_utc(now) + utc_offset).date()
    summary = _summary(
        session,
        wb,
        form,
        tallies,
        period,
        today=today,
        utc_offset=utc_offset,
        rules=rules or reporting.DEFAULT_DUE_RULES,
    )
    # The summary is the first tab (a write-only workbook writes its sheets in this list's order).
    wb._sheets.remove(summary)
    wb._sheets.insert(0, summary)
    meta = wb.create_sheet(META_SHEET)
    meta.sheet_state = "hidden"
    meta_cells = SafeCells(meta)
    meta_rows: list[list[Any]] = [
        ["key", "value"],
        ["layout", LAYOUT_VERSION],
        ["form_id", fv.form_id],
        ["form_version", fv.version],
        ["period", period or ""],
        ["exported_at", naive_utc(now).replace(microsecond=0).isoformat() + "Z"],
        ["records", count],
        ["sheet:" + main.title, ""],
        *(["sheet:" + sheet.title, ".".join(sheet.chain)] for sheet in repeats),
        ["summary:" + SUMMARY_TITLE, ""],
    ]
    for row in meta_rows:
        meta.append(meta_cells.row(row))
    return count, len(tallies), [main.title, *(s.title for s in repeats)]


def _discard(wb: Workbook, tmp: Path) -> None:
    """Remove what a failed save left: the partial file and each write-only sheet's temporary file.

    A sheet the save did not reach still has its row stream open; left to the garbage collector, lxml
    prints "not in an element" tracebacks over the real error. Each sheet is finished (written to its own
    temporary file, which always works) and that file removed; whatever fails here is only logged."""
    tmp.unlink(missing_ok=True)
    for ws in wb.worksheets:
        writer = getattr(ws, "_writer", None)
        if writer is None:
            continue
        try:
            if not getattr(ws, "closed", True):
                ws.close()
        except Exception:  # a half-written stream: end its generators quietly
            log.debug("could not finish a sheet of a failed export", exc_info=True)
            for stream in (getattr(ws, "_rows", None), getattr(writer, "xf", None)):
                with contextlib.suppress(Exception):
                    if stream is not None:
                        stream.close()
        with contextlib.suppress(OSError, ValueError):
            writer.cleanup()


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


def _stream_error(exc: etree.SerialisationError) -> OSError:
    """lxml's "IO_ENOSPC" as the OSError it stands for."""
    code = getattr(errno, str(exc).removeprefix("IO_"), errno.EIO)
    return OSError(code, os.strerror(code))


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
    wb = Workbook(write_only=True)
    try:
        create_file(tmp)  # owner-only; an unwritable place fails here, before any record is read
        with ReadSession.begin() as session:
            fv, form = _form(session, form_id)
            period = check_period(form, period)
            count, schools, sheets = _write(
                session,
                wb,
                fv,
                form,
                now,
                period=period,
                utc_offset=utc_offset,
                rules=due_rules,
            )
        wb.save(tmp)
        os.replace(tmp, out_path)
    except OSError as exc:
        raise cannot_write(out_path, exc) from None
    except (
        etree.SerialisationError
    ) as exc:  # a sheet's temporary file (in the system's temp folder)
        raise cannot_write(out_path, _stream_error(exc)) from None
    finally:
        _discard(wb, tmp)
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
