"""A streaming .xlsx writer whose cells follow forms.cells: text never a formula, real dates and times, numbers
as numbers when Excel holds them exactly. Both record exports (the clerk's and the bureau's) write with it.

It is xlsxwriter in constant-memory mode: each sheet's rows go to a temporary file as they are written, so
memory stays flat however many records there are. Chosen on measurements (benchmarks/client_export_bench.py
--writers): on the same cells it writes about 3x faster than openpyxl's write-only mode (with lxml), in less
memory. Only typed writes are used (write_string, write_number, write_datetime): xlsxwriter's write() would
turn "=..." into a formula and URLs into links. xlsxwriter escapes control characters (and a literal _xHHHH_)
itself, the same escape forms.cells.xl_escape makes and xl_unescape reads back.

    book = SafeWorkbook(path)
    sheet = book.add_sheet("记录", [Column("_uuid", "记录编号", 38.0), ...], names_row=True)
    sheet.append(["…", 3, dt.date(2026, 11, 28)])
    book.close()  # or book.discard() on failure: no file, no temporary file left
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from forms.cells import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    MAX_CELL_TEXT,
    TIME_FORMAT,
    TIME_SECONDS_FORMAT,
    TooLong,
    exact_number,
    fit_text,
    is_risky,
    iso_date,
    iso_time,
    json_text,
    naive_datetime,
)

HEADER_FILL = "#DDEBF7"
NAMES_GREY = "#808080"
# What XML cannot hold and xlsxwriter does not escape: non-characters and lone surrogates (U+FFFD instead).
_UNWRITABLE = re.compile("[\ufffe\uffff\ud800-\udfff]")
# The first characters of a formula, an error value, or text xlsxwriter could take for rich-text XML.
_SPECIAL_FIRST = frozenset("=+-@\t\r#<")
_SHORT = MAX_CELL_TEXT // 2  # shorter text always fits (a character is at most two UTF-16 units)

Write = Callable[[int, int, Any], None]  # (row, column, value that is not None)


class _Worksheet(Worksheet):  # type: ignore[misc]
    """xlsxwriter's worksheet with a quicker writer of the cells we write most (text, numbers, dates) into a
    row of the constant-memory stream: the same XML as xlsxwriter's own _write_cell, byte for byte
    (tests/forms/test_safe_workbook.py compares them), in about half the time; any other cell is left to
    xlsxwriter. (Workbook.add_worksheet's worksheet_class is xlsxwriter's way of extending a worksheet.)"""

    _letters: ClassVar[list[str]] = []  # column letters, A B ... (the same for every sheet)

    def _write_cell(self, row: int, col: int, cell: Any) -> None:
        kind = type(cell).__name__
        if kind not in ("String", "Number", "Datetime") or not self.constant_memory:
            super()._write_cell(row, col, cell)
            return
        fmt = cell.format
        if not fmt:
            info = self.row_info.get(row)
            if info is not None and info.row_format:
                fmt = info.row_format
            else:
                column = self.col_info.get(col)
                fmt = column.column_format if column is not None else None
        letters = self._letters
        while len(letters) <= col:
            letters.append(xl_col_to_name(len(letters)))
        ref = (
            f'<c r="{letters[col]}{row + 1}"'
            if fmt is None
            else (f'<c r="{letters[col]}{row + 1}" s="{fmt._get_xf_index()}"')
        )
        if kind != "String":
            self.fh.write(f"{ref}><v>{cell.number:.16G}</v></c>")
            return
        text = cell.string
        if "_x" in text or not text.isprintable():
            text = self._escape_control_characters(text)
        if text.startswith("<r>") and text.endswith("</r>"):
            super()._write_cell(row, col, cell)
            return
        if "&" in text or "<" in text or ">" in text:
            text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
        self.fh.write(f'{ref} t="inlineStr"><is><t{space}>{text}</t></is></c>')


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its machine name (the hidden names row), its Chinese label (the header) and width."""

    name: str
    label: str
    width: float


class SafeSheet:
    """One worksheet. Rows are written top to bottom (constant-memory mode); `row` is the next one (0-based).

    The write methods take (row, column, value) with a value that is not None, and are what a column's writer
    is: `text` for text, `number`, `date`/`time`/`datetime` for ISO text (else as `any`), `stamp` for a
    datetime object, `percent` for a rate, `any` for whatever a record holds."""

    def __init__(self, book: SafeWorkbook, ws: Worksheet, too_long: TooLong) -> None:
        self.book = book
        self.ws = ws
        # The undecorated writers (xlsxwriter's public ones only add A1-notation parsing, a tenth of the
        # time of a cell): row and column are always numbers here.
        self._string = getattr(ws, "_write_string", ws.write_string)
        self._number = getattr(ws, "_write_number", ws.write_number)
        self._datetime_cell = getattr(ws, "_write_datetime", ws.write_datetime)
        self.too_long = too_long
        self.row = 0
        self.title = ws.get_name()
        self._quote = book.format(quote_prefix=True)
        self._date = book.format(num_format=DATE_FORMAT)
        self._datetime = book.format(num_format=DATETIME_FORMAT)
        self._times = {f: book.format(num_format=f) for f in (TIME_FORMAT, TIME_SECONDS_FORMAT)}
        self._percent: dict[str, Format] = {}

    # -- cells ------------------------------------------------------------------------------------------

    def text(self, r: int, c: int, value: str, fmt: Format | None = None) -> None:
        if len(value) > _SHORT:
            value = fit_text(value, self.too_long, c)
        if not value.isprintable():
            value = _UNWRITABLE.sub("\ufffd", value)
        if value[:1] not in _SPECIAL_FIRST:
            self._string(r, c, value, fmt)
        elif is_risky(value):
            self._string(r, c, value, self.book.quoted(fmt) if fmt else self._quote)
        elif value.startswith("<r>") and value.endswith("</r>"):
            # In constant-memory mode xlsxwriter takes such a string for rich text and writes it into the
            # sheet's XML unescaped (an answer could add cells, formulas among them). As three plain runs
            # of a rich string it is escaped like any text, and reads back the same.
            runs = (value[:1], value[1:2], value[2:])
            self.ws.write_rich_string(r, c, *runs, *((fmt,) if fmt else ()))
        else:
            self._string(r, c, value, fmt)

    def number(self, r: int, c: int, value: Any, fmt: Format | None = None) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.any(r, c, value, fmt)
            return
        exact = exact_number(value)
        if isinstance(exact, str):
            self.text(r, c, exact, fmt)
        else:
            self._number(r, c, exact, fmt)

    def date(self, r: int, c: int, value: Any) -> None:
        day = iso_date(value) if isinstance(value, str) else None
        if day is None:
            self.any(r, c, value)
        else:
            self._datetime_cell(r, c, day, self._date)

    def time(self, r: int, c: int, value: Any) -> None:
        found = iso_time(value) if isinstance(value, str) else None
        if found is None:
            self.any(r, c, value)
        else:
            self._datetime_cell(r, c, found[0], self._times[found[1]])

    def datetime(self, r: int, c: int, value: Any) -> None:
        moment = naive_datetime(value) if isinstance(value, str) else None
        if moment is None:
            self.any(r, c, value)
        else:
            self._datetime_cell(r, c, moment, self._datetime)

    def stamp(self, r: int, c: int, value: dt.datetime) -> None:
        """A moment (naive, already in the zone its column names), to the second."""
        self._datetime_cell(r, c, value.replace(microsecond=0), self._datetime)

    def styled(self, r: int, c: int, value: Any, number_format: str) -> None:
        """A number with its own number format (a percentage: 0.0%); anything else as `any`."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            exact = exact_number(value)
            if not isinstance(exact, str):
                fmt = self._percent.get(number_format)
                if fmt is None:
                    fmt = self._percent[number_format] = self.book.format(num_format=number_format)
                self._number(r, c, exact, fmt)
                return
        self.any(r, c, value)

    def any(self, r: int, c: int, value: Any, fmt: Format | None = None) -> None:
        """Whatever a record holds (a draft may hold anything JSON can)."""
        if isinstance(value, str):
            if value:
                self.text(r, c, value, fmt)
        elif isinstance(value, bool):
            self.text(r, c, "true" if value else "false", fmt)
        elif isinstance(value, int | float):
            self.number(r, c, value, fmt)
        elif isinstance(value, dt.datetime):
            self.stamp(r, c, value)
        elif isinstance(value, dt.date):
            self._datetime_cell(r, c, value, self._date)
        elif isinstance(value, dt.time):
            self._datetime_cell(r, c, value, self._times[TIME_SECONDS_FORMAT])
        elif value is not None:
            self.text(r, c, json_text(value), fmt)

    # -- rows -------------------------------------------------------------------------------------------

    def append(self, values: Sequence[Any], *, bold: bool = False) -> None:
        """A row of plain values (None: an empty cell), each written by `any`."""
        r = self.next_row()
        fmt = self.book.format(bold=True) if bold else None
        for c, value in enumerate(values):
            if value is not None:
                self.any(r, c, value, fmt)

    def next_row(self) -> int:
        r = self.row
        self.row += 1
        return r

    def hide(self) -> None:
        self.ws.hide()


class SafeWorkbook:
    """An .xlsx being written to `path` (constant memory). close() writes the file; discard() leaves none."""

    def __init__(self, path: Path, *, too_long: TooLong = "truncate") -> None:
        self.path = Path(path)
        self.too_long = too_long
        self.wb = xlsxwriter.Workbook(str(self.path), {"constant_memory": True})
        self._formats: dict[tuple[tuple[str, Any], ...], Format] = {}
        self.sheets: list[SafeSheet] = []

    def format(self, **props: Any) -> Format:
        key = tuple(sorted(props.items()))
        fmt = self._formats.get(key)
        if fmt is None:
            fmt = self._formats[key] = self.wb.add_format(props)
        return fmt

    def quoted(self, fmt: Format) -> Format:
        """fmt with Excel's quote prefix (text that stays text when edited)."""
        for key, known in self._formats.items():
            if known is fmt:
                return self.format(**dict(key), quote_prefix=True)
        return self.format(quote_prefix=True)

    def add_sheet(
        self,
        title: str,
        columns: Sequence[Column],
        *,
        names_row: bool = False,
        too_long: TooLong | None = None,
    ) -> SafeSheet:
        """A sheet with its header: the labels (bold, shaded), then with names_row the machine names in a
        hidden row; the header rows are frozen."""
        ws = self.wb.add_worksheet(title, worksheet_class=_Worksheet)
        sheet = SafeSheet(self, ws, too_long or self.too_long)
        self.sheets.append(sheet)
        for c, column in enumerate(columns):
            ws.set_column(c, c, column.width)
        ws.freeze_panes(2 if names_row else 1, 0)
        head = self.format(bold=True, bg_color=HEADER_FILL, pattern=1)
        r = sheet.next_row()
        for c, column in enumerate(columns):
            sheet.text(r, c, column.label, head)
        if names_row:
            r = sheet.next_row()
            ws.set_row(r, None, None, {"hidden": True})
            grey = self.format(font_color=NAMES_GREY, font_size=9)
            for c, column in enumerate(columns):
                sheet.text(r, c, column.name, grey)
        return sheet

    def key_value_sheet(self, title: str, rows: Sequence[tuple[str, Any]]) -> SafeSheet:
        """A hidden sheet of key, value rows (the `_meta` sheet), every value made safe."""
        ws = self.wb.add_worksheet(title, worksheet_class=_Worksheet)
        sheet = SafeSheet(self, ws, "truncate")
        self.sheets.append(sheet)
        for row in (("key", "value"), *rows):
            sheet.append(row)
        sheet.hide()
        return sheet

    def close(self) -> None:
        """Write the file (OSError when it cannot be written; the temporary files are removed either way)."""
        try:
            self.wb.close()
        except xlsxwriter.exceptions.FileCreateError as exc:
            cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else None
            raise cause or OSError(str(exc)) from None
        finally:
            self._remove_temporary()

    def discard(self) -> None:
        """Leave nothing behind: no file, no temporary file (after a failure)."""
        self.wb.fileclosed = (
            True  # the workbook is abandoned: its destructor has nothing to warn about
        )
        self._remove_temporary()
        self.path.unlink(missing_ok=True)

    def _remove_temporary(self) -> None:
        for sheet in self.sheets:
            ws = sheet.ws
            fh = getattr(ws, "row_data_fh", None)
            if fh is not None and not fh.closed:
                with contextlib.suppress(OSError):  # its last rows may not fit either (a full disk)
                    fh.close()
            name = getattr(ws, "row_data_filename", None)
            if name:
                Path(name).unlink(missing_ok=True)
