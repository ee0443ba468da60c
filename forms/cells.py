"""Spreadsheet cells we write: text never becomes a formula. The one place both exports, the dashboard's
sheets and the XLSForm writer make their cells.

openpyxl stores any string starting with "=" as a formula, and Excel or WPS may evaluate text starting with
= + - @ tab or CR (CSV/formula injection). Such text is written as an explicit string cell with Excel's quote
prefix, so it is never evaluated, and stays text when a clerk edits the cell in Excel. Characters XML cannot
hold are written with Excel's own _xHHHH_ escape, which xl_unescape reverses on import.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable
from typing import Any, Literal

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.cell.cell import Cell as _XlCell
from openpyxl.styles import Fill, Font

RISKY_START = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL_TEXT = 32767  # Excel's limit
TRUNCATED = "…(已截断)"
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "hh:mm"
TIME_SECONDS_FORMAT = "hh:mm:ss"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

_TIME_RE = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")
# Excel's escape for characters XML cannot hold (and CR): _xHHHH_; a literal _xHHHH_ gets its "_" escaped.
_ESCAPE_RE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ufffe\uffff]")
_UNESCAPE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")

Cell = Any  # a value openpyxl writes as it is (number, date, None, safe text) or a Cell


class CellTooLong(Exception):
    """Text longer than an Excel cell holds, with too_long="raise"."""


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


class SafeCells:
    """Typed values -> cells of one sheet (write-only or not): text never a formula, real dates and times,
    numbers as numbers when Excel holds them exactly.

    too_long: "raise" (CellTooLong) or "truncate" text over MAX_CELL_TEXT. reuse_styled: make one date/time
    cell per number format and reuse it row after row (a write-only sheet writes each row before the next
    is appended); only for a SafeCells that makes one cell per row. escape=False leaves text as it is
    apart from formula safety (the XLSForm writer: ODK tools and openpyxl do not read _xHHHH_ back).
    """

    def __init__(
        self,
        ws: Any,
        *,
        too_long: Literal["raise", "truncate"] = "truncate",
        reuse_styled: bool = False,
        escape: bool = True,
    ) -> None:
        self.ws = ws
        self.too_long = too_long
        self.reuse_styled = reuse_styled
        self.escape = escape
        self._styled: dict[str, _XlCell] = {}

    def text(self, value: str) -> Cell:
        escaped = xl_escape(value) if self.escape else value
        if len(escaped) > MAX_CELL_TEXT:
            if self.too_long == "raise":
                raise CellTooLong
            escaped = escaped[: MAX_CELL_TEXT - len(TRUNCATED)] + TRUNCATED
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
        cell = WriteOnlyCell(self.ws, value=escaped)
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
            cell = WriteOnlyCell(self.ws, value=value)
            cell.number_format = number_format
            return cell
        cell = self._styled.get(number_format)
        if cell is None:
            cell = self._styled[number_format] = WriteOnlyCell(self.ws)
            cell.number_format = number_format
        cell.value = value
        return cell

    def number(self, value: Any) -> Cell:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.any(value)
        if isinstance(value, int):
            # Excel keeps 15 significant digits; longer whole numbers go as text, unchanged.
            return value if abs(value) < 10**15 else self.text(str(value))
        if not math.isfinite(value) or float(f"{value:.15g}") != value:
            return self.text(repr(value))
        return value

    def date(self, value: Any) -> Cell:
        if isinstance(value, str) and len(value) == 10:
            try:
                return self.styled(dt.date.fromisoformat(value), DATE_FORMAT)
            except ValueError:
                pass
        return self.any(value)

    def time(self, value: Any) -> Cell:
        if isinstance(value, str) and _TIME_RE.match(value):
            try:
                t = dt.time.fromisoformat(value)
            except ValueError:
                return self.any(value)
            return self.styled(t, TIME_SECONDS_FORMAT if len(value) > 5 else TIME_FORMAT)
        return self.any(value)

    def datetime(self, value: Any) -> Cell:
        if isinstance(value, str):
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                return self.any(value)
            if moment.tzinfo is None:
                return self.styled(moment.replace(microsecond=0), DATETIME_FORMAT)
        return self.any(value)

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
        if isinstance(value, _XlCell):
            return value
        return self.text(json.dumps(value, ensure_ascii=False, default=str))

    def row(self, values: Iterable[Any]) -> list[Cell]:
        """A row of plain values (or cells made here), each made safe: for ws.append."""
        return [self.any(v) for v in values]
