"""Spreadsheet cells we write: text never becomes a formula. The rules every sheet we write follows, in one
place: the record exports (forms.safe_workbook, xlsxwriter), the dashboard's small sheets and the XLSForm
writer (SafeCells below, openpyxl).

A spreadsheet may evaluate text starting with = + - @ tab or CR (CSV/formula injection), and openpyxl stores
any string starting with "=" as a formula. Such text is written as an explicit string cell with Excel's quote
prefix, so it is never evaluated, and stays text when a clerk edits the cell in Excel. Characters XML cannot
hold are written with Excel's own _xHHHH_ escape, which xl_unescape reverses on import. Numbers are numbers
when Excel holds them exactly (else their text); ISO dates and times become real dates and times.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

if (
    TYPE_CHECKING
):  # openpyxl is imported by SafeCells when used: the record exports write without it
    from openpyxl.cell.cell import Cell as _XlCell
    from openpyxl.styles import Fill, Font

RISKY_START = ("=", "+", "-", "@", "\t", "\r")
# The values Excel reads as an error (openpyxl.cell.cell.ERROR_CODES).
ERROR_CODES = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A")
MAX_CELL_TEXT = 32767  # Excel's limit
MAX_EXACT_INT = 10**15  # Excel keeps 15 significant digits; longer whole numbers go as text
TRUNCATED = "…(已截断)"
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "hh:mm"
TIME_SECONDS_FORMAT = "hh:mm:ss"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

TooLong = Literal["raise", "truncate"]

_TIME_RE = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")
# Excel's escape for characters XML cannot hold (and CR): _xHHHH_; a literal _xHHHH_ gets its "_" escaped.
_ESCAPE_RE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ufffe\uffff]")
_UNESCAPE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")

Cell = Any  # a value openpyxl writes as it is (number, date, None, safe text) or a Cell


class CellTooLong(Exception):
    """Text longer than an Excel cell holds, with too_long="raise". `column`: where (0-based), when known;
    `field`: the form field's name, when the text was an answer."""

    def __init__(self, column: int | None = None, field: str | None = None) -> None:
        super().__init__(column, field)
        self.column = column
        self.field = field


def xl_escape(text: str) -> str:
    if "_x" not in text and text.isprintable():
        return text
    return _ESCAPE_RE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def xl_unescape(text: str) -> str:
    if "_x" not in text:
        return text
    return _UNESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text)


def is_risky(text: str) -> bool:
    """Text a spreadsheet could take for a formula or an error value."""
    return text.startswith(RISKY_START) or text in ERROR_CODES


def fit_text(text: str, too_long: TooLong, column: int | None = None) -> str:
    """Text within MAX_CELL_TEXT (as Excel counts, in UTF-16 units): raised (CellTooLong) or truncated."""
    if len(text) <= MAX_CELL_TEXT // 2 or len(text.encode("utf-16-le")) // 2 <= MAX_CELL_TEXT:
        return text
    if too_long == "raise":
        raise CellTooLong(column)
    keep = MAX_CELL_TEXT - len(TRUNCATED)
    while len(text[:keep].encode("utf-16-le")) // 2 > keep:
        keep -= 1
    return text[:keep] + TRUNCATED


def exact_number(value: int | float) -> int | float | str:
    """The number as Excel holds it exactly, else its text (long whole numbers, float noise Excel would
    round away, inf and nan)."""
    if isinstance(value, int):
        return value if abs(value) < MAX_EXACT_INT else str(value)
    if not math.isfinite(value) or float(f"{value:.15g}") != value:
        return repr(value)
    return value


def iso_date(value: str) -> dt.date | None:
    """2026-11-28 as a date (anything else: None)."""
    if len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def iso_time(value: str) -> tuple[dt.time, str] | None:
    """14:05 or 14:05:30 as a time and its number format (anything else: None)."""
    if _TIME_RE.match(value):
        try:
            return dt.time.fromisoformat(value), (
                TIME_SECONDS_FORMAT if len(value) > 5 else TIME_FORMAT
            )
        except ValueError:
            return None
    return None


def naive_datetime(value: str) -> dt.datetime | None:
    """An ISO date-time without a zone, to the second (with a zone, or not one: None; Excel has no zones)."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(microsecond=0) if moment.tzinfo is None else None


def json_text(value: Any) -> str:
    """Whatever else a record holds (a draft may hold anything JSON can), as text."""
    return json.dumps(value, ensure_ascii=False, default=str)


class SafeCells:
    """Typed values -> openpyxl cells of one sheet (write-only or not), by the rules above: for the small
    sheets (the dashboard's overview, the XLSForm writer); the record exports use forms.safe_workbook.

    too_long: "raise" (CellTooLong) or "truncate" text over MAX_CELL_TEXT. reuse_styled: make one date/time
    cell per number format and reuse it row after row (a write-only sheet writes each row before the next
    is appended); only for a SafeCells that makes one cell per row. escape=False leaves text as it is
    apart from formula safety (the XLSForm writer: ODK tools and openpyxl do not read _xHHHH_ back).
    """

    def __init__(
        self,
        ws: Any,
        *,
        too_long: TooLong = "truncate",
        reuse_styled: bool = False,
        escape: bool = True,
    ) -> None:
        self.ws = ws
        self.too_long = too_long
        self.reuse_styled = reuse_styled
        self.escape = escape
        self._styled: dict[str, _XlCell] = {}
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import Cell

        self._new = WriteOnlyCell
        self._cell_type = Cell

    def text(self, value: str) -> Cell:
        escaped = fit_text(xl_escape(value) if self.escape else value, self.too_long)
        if is_risky(value) or is_risky(escaped):
            return self.string(escaped, quote=True)
        return escaped

    def string(
        self,
        escaped: str,
        *,
        quote: bool = False,
        font: Font | None = None,
        fill: Fill | None = None,
    ) -> _XlCell:
        """An explicit string cell (never a formula) of already escaped text, optionally styled."""
        cell = self._new(self.ws, value=escaped)
        cell.data_type = "s"
        if quote:
            cell.quotePrefix = True
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        return cell

    def header(self, text: str, *, font: Font | None = None, fill: Fill | None = None) -> _XlCell:
        """A column title: any text, as a (styled) string cell that is never a formula."""
        escaped = (xl_escape(text) if self.escape else text)[:MAX_CELL_TEXT]
        return self.string(escaped, quote=is_risky(text), font=font, fill=fill)

    def styled(self, value: Any, number_format: str) -> _XlCell:
        if not self.reuse_styled:
            cell = self._new(self.ws, value=value)
            cell.number_format = number_format
            return cell
        cell = self._styled.get(number_format)
        if cell is None:
            cell = self._styled[number_format] = self._new(self.ws)
            cell.number_format = number_format
        cell.value = value
        return cell

    def number(self, value: Any) -> Cell:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.any(value)
        exact = exact_number(value)
        return self.text(exact) if isinstance(exact, str) else exact

    def date(self, value: Any) -> Cell:
        day = iso_date(value) if isinstance(value, str) else None
        return self.any(value) if day is None else self.styled(day, DATE_FORMAT)

    def time(self, value: Any) -> Cell:
        found = iso_time(value) if isinstance(value, str) else None
        return self.any(value) if found is None else self.styled(*found)

    def datetime(self, value: Any) -> Cell:
        moment = naive_datetime(value) if isinstance(value, str) else None
        return self.any(value) if moment is None else self.styled(moment, DATETIME_FORMAT)

    def any(self, value: Any) -> Cell:
        """Whatever a record holds (a draft may hold anything JSON can)."""
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool):
            return self.text("true" if value else "false")
        if isinstance(value, int | float):
            return self.number(value)
        if isinstance(value, dt.datetime | dt.date | dt.time):
            return value
        if isinstance(value, self._cell_type):
            return value
        return self.text(json_text(value))

    def row(self, values: Iterable[Any]) -> list[Cell]:
        """A row of plain values (or cells made here), each made safe: for ws.append."""
        return [self.any(v) for v in values]
