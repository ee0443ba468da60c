"""Export a form's records to an .xlsx workbook (the layout is described in client.excel.layout).

openpyxl's write-only mode streams every sheet to a temporary file, and records are read from SQLite in batches
through one plain SELECT (a snapshot read that does not hold the write lock), so memory stays bounded however many
records there are. The workbook is written to a temporary name beside the target and then renamed into place.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from client.excel.layout import (
    BEIJING,
    FIRST_DATA_ROW,
    INDEX,
    LAYOUT_VERSION,
    META_SHEET,
    NAMES_ROW,
    STATUS,
    STATUS_LABELS,
    UPDATED,
    UUID,
    ExcelError,
    SheetSpec,
    ValueCodec,
    display_width,
    get_form,
    sheet_specs,
    sheet_title,
)
from client.store.db import Store
from client.store.models import Status
from client.store.records import roster
from forms.cells import DATETIME_FORMAT, MAX_CELL_TEXT, Cell, CellTooLong, SafeCells
from forms.display import number_format
from forms.model import Field, FieldType, FormDef, Period
from forms.periods import period_of, period_range

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

    from client.context import ClientContext

log = logging.getLogger(__name__)

BATCH = 500

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_NAMES_FONT = Font(color="808080", size=9)


def _column_cells(ws: WriteOnlyWorksheet) -> SafeCells:
    """The cells of one column (one per row: its date or time cell is reused row after row)."""
    return SafeCells(ws, too_long="raise", reuse_styled=True)


def _converter(f: Field, ws: WriteOnlyWorksheet, codec: ValueCodec) -> Callable[[Any], Cell]:
    make = _column_cells(ws)
    t = f.type
    if f.is_select:
        return lambda v: None if v in (None, "", []) else make.text(codec.show_choices(f, v))
    if t in (FieldType.INTEGER, FieldType.DECIMAL):
        return make.number
    if t is FieldType.DATE:
        return make.date
    if t is FieldType.TIME:
        return make.time
    fmt = number_format(f)  # a percentage (forms.display): the number, shown as 93.3% by Excel
    if fmt is not None:
        return lambda v: make.styled(v, fmt) if _is_number(v) else make.any(v)
    return make.any


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _width(spec: SheetSpec, name: str) -> float:
    label = spec.label(name)[0]
    if name == UUID:
        wanted = 38
    elif name == INDEX:
        wanted = 6
    elif name == STATUS:
        wanted = 12
    elif name == UPDATED:
        wanted = 20
    else:
        f = spec.form.field(name)
        wanted = {
            FieldType.DATE: 12,
            FieldType.TIME: 8,
            FieldType.DATETIME: 26,
            FieldType.INTEGER: 10,
            FieldType.DECIMAL: 10,
            FieldType.SELECT_MULTIPLE: 24,
            FieldType.IMAGE: 20,
            FieldType.FILE: 20,
        }.get(f.type, 16)
        if f.appearance == "multiline":
            wanted = 40
    return float(min(max(display_width(label) + 2, wanted), 60))


class _SheetWriter:
    def __init__(self, wb: Workbook, spec: SheetSpec, title: str, codec: ValueCodec) -> None:
        self.spec = spec
        self.title = title
        self.ws: WriteOnlyWorksheet = wb.create_sheet(title)
        self.cells = SafeCells(self.ws, too_long="raise")
        self.status = _column_cells(self.ws)
        self.updated = _column_cells(self.ws)
        self.fields = spec.fields
        self.convert = [_converter(f, self.ws, codec) for f in spec.fields]
        columns = spec.columns
        for i, name in enumerate(columns, start=1):
            self.ws.column_dimensions[get_column_letter(i)].width = _width(spec, name)
        self.ws.freeze_panes = f"A{FIRST_DATA_ROW}"
        self.ws.row_dimensions[NAMES_ROW].hidden = True
        self.ws.append(
            [
                self.cells.header(spec.label(name)[0], font=_HEADER_FONT, fill=_HEADER_FILL)
                for name in columns
            ]
        )
        self.ws.append([self.cells.header(name, font=_NAMES_FONT) for name in columns])

    def answers(self, data: dict[str, Any], record_id: str) -> list[Cell]:
        out: list[Cell] = []
        for f, convert in zip(self.fields, self.convert, strict=True):
            value = data.get(f.name)
            try:
                out.append(None if value is None else convert(value))
            except CellTooLong:
                raise ExcelError(
                    f"记录 {record_id} 的“{f.label.zh or f.name}”超过 Excel 单元格上限（{MAX_CELL_TEXT} 字），无法导出",
                    f"record {record_id}: '{f.name}' is longer than an Excel cell can hold "
                    f"({MAX_CELL_TEXT} characters)",
                ) from None
        return out


def _instances(
    data: Any, chain: Sequence[str], index: tuple[int, ...] = ()
) -> Iterator[tuple[tuple[int, ...], dict[str, Any]]]:
    """(position path from 1, entry) for every entry of the repeat at the end of chain."""
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


def _parse_stamp(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).replace(microsecond=0)
        except ValueError:
            return None
    return None


def _beijing(stamp: dt.datetime) -> dt.datetime:
    """A stored time (naive UTC) as the bureau's wall-clock time, for the labelled column."""
    return stamp.replace(tzinfo=dt.UTC).astimezone(BEIJING).replace(tzinfo=None)


def iter_records(
    store: Store, form_id: str, *, period: str | None, statuses: Sequence[str]
) -> Generator[tuple[str, dict[str, Any], str, dt.datetime | None], None, None]:
    """(id, data, status, updated_at) of the form's live records, oldest first, read in batches.

    A single SELECT on an autocommit connection: SQLite reads it from one snapshot (WAL) without taking the
    write lock, so the clerk can keep saving while a large export runs.
    """
    sql = "SELECT id, data, status, updated_at FROM records WHERE form_id = ? AND deleted = 0"
    params: list[Any] = [form_id]
    if period is not None:
        sql += " AND period = ?"
        params.append(period)
    if statuses:
        sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
        params.extend(statuses)
    sql += " ORDER BY record_date, created_at, id"
    conn = store.engine.raw_connection()
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        while batch := cur.fetchmany(BATCH):
            for rid, data, status, updated in batch:
                value = json.loads(data) if isinstance(data, str | bytes) else data
                yield rid, value if isinstance(value, dict) else {}, status, _parse_stamp(updated)
        cur.close()
    finally:
        conn.close()


def _check_filters(
    form: FormDef, period: str | None, statuses: Sequence[str], today: dt.date
) -> None:
    unknown = [s for s in statuses if s not in Status.ALL]
    if unknown:
        raise ExcelError(
            f"未知的状态“{unknown[0]}”（可用：{'、'.join(Status.ALL)}）",
            f"unknown status '{unknown[0]}' (known: {', '.join(Status.ALL)})",
        )
    if period is None:
        return
    kind = form.settings.period
    if kind is Period.NONE:
        raise ExcelError(
            f"表单“{form.title.zh}”没有填报周期，不能按期间筛选",
            f"form '{form.form_id}' has no reporting period to filter by",
        )
    try:
        period_range(kind, period)
    except ValueError:
        example = period_of(kind, today)
        raise ExcelError(
            f"期间“{period}”的格式不对，应如“{example}”",
            f"'{period}' is not a period of this form; write it like '{example}'",
        ) from None


def _write_workbook(
    ctx: ClientContext,
    form: FormDef,
    codec: ValueCodec,
    wb: Workbook,
    *,
    period: str | None,
    statuses: Sequence[str],
) -> int:
    used: set[str] = {META_SHEET}
    writers = [
        _SheetWriter(wb, spec, sheet_title(spec.title_text, used), codec)
        for spec in sheet_specs(form)
    ]
    main, repeats = writers[0], writers[1:]
    count = 0
    with closing(iter_records(ctx.store, form.form_id, period=period, statuses=statuses)) as rows:
        for rid, data, status, updated in rows:
            cells: list[Cell] = [main.cells.text(rid), *main.answers(data, rid)]
            cells.append(main.status.text(STATUS_LABELS.get(status, status)))
            shown = _beijing(updated) if updated else None
            cells.append(main.updated.styled(shown, DATETIME_FORMAT) if shown else None)
            main.ws.append(cells)
            for rep in repeats:
                for index, item in _instances(data, rep.spec.chain):
                    position: Any = index[0] if len(index) == 1 else ".".join(map(str, index))
                    rep.ws.append(
                        [rep.cells.text(rid), rep.cells.any(position), *rep.answers(item, rid)]
                    )
            count += 1
    meta = wb.create_sheet(META_SHEET)
    meta.sheet_state = "hidden"
    meta_cells = SafeCells(meta, too_long="raise")
    meta_rows: list[list[Any]] = [
        ["key", "value"],
        ["layout", LAYOUT_VERSION],
        ["form_id", form.form_id],
        ["form_version", form.version],
        ["exported_at", ctx.clock.now().replace(microsecond=0).isoformat()],
        ["records", count],
        ["sheet:" + main.title, ""],
        *(["sheet:" + rep.title, ".".join(rep.spec.chain)] for rep in repeats),
    ]
    for row in meta_rows:
        meta.append(meta_cells.row(row))
    return count


def _discard(wb: Workbook, tmp: Path) -> None:
    """Remove what a failed export left behind: the partial file and openpyxl's per-sheet temp files."""
    if tmp.exists():
        tmp.unlink()
    for ws in wb.worksheets:
        if ws.closed:  # saved: openpyxl has already removed its temp file
            continue
        try:
            ws.close()  # ends the sheet's row writer cleanly
            writer = getattr(ws, "_writer", None)
            if writer is not None:
                writer.cleanup()
        except (OSError, ValueError, StopIteration):
            log.debug("could not remove a temporary file of the export", exc_info=True)


def export_records(
    ctx: ClientContext,
    form_id: str,
    out_path: str | os.PathLike[str],
    *,
    period: str | None = None,
    statuses: Sequence[str] | None = None,
) -> int:
    """Write the form's records (optionally one period's, or only some statuses) to out_path (.xlsx).

    Returns the number of records written. Attachments are not copied: image and file answers hold the
    sha256 of a file in the data folder. Raises ExcelError (bilingual) for an unknown form, a bad filter,
    text too long for a cell, or a file that cannot be written.
    """
    form = get_form(ctx.forms, form_id)
    wanted = tuple(statuses or ())
    _check_filters(form, period, wanted, ctx.clock.today())
    with ctx.store.Session() as s:
        codec = ValueCodec(form, roster(s))
    out = Path(out_path)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    wb = Workbook(write_only=True)
    try:
        count = _write_workbook(ctx, form, codec, wb, period=period, statuses=wanted)
        wb.save(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        busy = isinstance(exc, PermissionError)
        raise ExcelError(
            f"无法写入文件 {out}{'（文件可能正在 Excel 中打开）' if busy else ''}：{exc.strerror or exc}",
            f"cannot write {out}{' (is it open in Excel?)' if busy else ''}: {exc.strerror or exc}",
        ) from exc
    finally:
        _discard(wb, tmp)
    log.info("exported %d %s records to %s", count, form_id, out)
    return count
