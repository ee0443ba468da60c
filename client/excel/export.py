"""Export a form's records to an .xlsx workbook (the layout is described in client.excel.layout).

The layout and the cells are forms.record_sheets' and forms.safe_workbook's, the same as the bureau's
consolidated export: a streaming writer (xlsxwriter, constant memory) and records read from SQLite in
batches through one plain SELECT (a snapshot read that does not hold the write lock), so memory stays bounded
however many records there are. The workbook is written to a temporary name beside the target and then
renamed into place. What the clerk's file must do besides: read back (client.excel.importer), so choices
whose labels would not read back are written by name and attachments as their sha256.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import uuid
from collections.abc import Generator, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from client.excel.layout import (
    BEIJING,
    LAYOUT_VERSION,
    MAIN_RESERVED,
    META_SHEET,
    REPEAT_RESERVED,
    STATUS,
    STATUS_LABELS,
    UPDATED,
    UUID,
    ExcelError,
    ValueCodec,
    get_form,
)
from client.store.db import Store
from client.store.models import Status
from client.store.records import roster
from forms.cells import MAX_CELL_TEXT, CellTooLong
from forms.model import FormDef, Period
from forms.periods import period_of, period_range
from forms.record_sheets import Fixed, RecordSheets, column_width
from forms.safe_workbook import Column, SafeWorkbook

if TYPE_CHECKING:
    from client.context import ClientContext

log = logging.getLogger(__name__)

BATCH = 500


def _fixed(name: str, labels: dict[str, tuple[str, str]], wanted: float, write: str) -> Fixed:
    label = labels[name][0]
    return Fixed(Column(name, label, column_width(label, wanted)), write)


RECORD_FIXED = [_fixed(UUID, MAIN_RESERVED, 38, "text")]
TRAILING = [_fixed(STATUS, MAIN_RESERVED, 12, "text"), _fixed(UPDATED, MAIN_RESERVED, 20, "stamp")]
ENTRY_FIXED = [_fixed(UUID, REPEAT_RESERVED, 38, "text")]  # then _index (forms.record_sheets)


def _parse_stamp(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).replace(microsecond=0)
        except ValueError:
            return None
    return None


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
    book: SafeWorkbook,
    *,
    period: str | None,
    statuses: Sequence[str],
) -> int:
    sheets = RecordSheets(
        book,
        form,
        codec.labels,
        record_fixed=RECORD_FIXED,
        trailing=TRAILING,
        entry_fixed=ENTRY_FIXED,
        used={META_SHEET},
        files_by_name=False,  # attachments as their sha256: what the import reads back
        datetimes=False,  # a date-time as its ISO text: Excel has no time zones
    )
    count = 0
    with closing(iter_records(ctx.store, form.form_id, period=period, statuses=statuses)) as rows:
        for rid, data, status, updated in rows:

            def too_long(exc: CellTooLong, rid: str = rid) -> ExcelError:
                f = form.field(exc.field) if exc.field else None
                label = (f.label.zh or f.name) if f else ""
                return ExcelError(
                    f"记录 {rid} 的“{label}”超过 Excel 单元格上限（{MAX_CELL_TEXT} 字），无法导出",
                    f"record {rid}: '{exc.field}' is longer than an Excel cell can hold "
                    f"({MAX_CELL_TEXT} characters)",
                )

            shown = updated + BEIJING if updated else None
            sheets.write(
                data,
                (rid,),
                (STATUS_LABELS.get(status, status), shown),
                (rid,),
                on_too_long=too_long,
            )
            count += 1
    book.key_value_sheet(
        META_SHEET,
        [
            ("layout", LAYOUT_VERSION),
            ("form_id", form.form_id),
            ("form_version", form.version),
            ("exported_at", ctx.clock.now().replace(microsecond=0).isoformat()),
            ("records", count),
            *sheets.meta_rows(),
        ],
    )
    return count


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
    book = SafeWorkbook(tmp, too_long="raise")
    try:
        count = _write_workbook(ctx, form, codec, book, period=period, statuses=wanted)
        book.close()
        os.replace(tmp, out)
    except BaseException as exc:
        book.discard()
        if not isinstance(exc, OSError):
            raise
        busy = isinstance(exc, PermissionError)
        raise ExcelError(
            f"无法写入文件 {out}{'（文件可能正在 Excel 中打开）' if busy else ''}：{exc.strerror or exc}",
            f"cannot write {out}{' (is it open in Excel?)' if busy else ''}: {exc.strerror or exc}",
        ) from exc
    log.info("exported %d %s records to %s", count, form_id, out)
    return count
