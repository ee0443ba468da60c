"""Answers as stored (JSON, or values read from Excel) <-> typed values the engine works with."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from forms.expr.values import Nodeset, parse_date, parse_datetime, parse_time
from forms.model import FieldType

_INT_RE = re.compile(r"^[+-]?\d+(\.0*)?$")

TYPE_WORDS: dict[FieldType, tuple[str, str]] = {
    FieldType.TEXT: ("文字", "text"),
    FieldType.INTEGER: ("整数", "a whole number"),
    FieldType.DECIMAL: ("数字", "a number"),
    FieldType.DATE: ("日期（YYYY-MM-DD）", "a date (YYYY-MM-DD)"),
    FieldType.TIME: ("时间（HH:MM）", "a time (HH:MM)"),
    FieldType.DATETIME: ("带时区的日期时间（ISO 8601）", "a date and time with offset (ISO 8601)"),
    FieldType.SELECT_ONE: ("一个选项", "one choice"),
    FieldType.SELECT_MULTIPLE: ("选项列表", "a list of choices"),
    FieldType.IMAGE: ("图片文件名", "an image file reference"),
    FieldType.FILE: ("文件名", "a file reference"),
    FieldType.REPEAT: ("多条记录的列表", "a list of entries"),
}


class BadValue(Exception):
    """The answer is not of the field's type."""


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def coerce(ftype: FieldType, value: Any) -> Any:
    """A stored answer -> the typed value; BadValue if it cannot be one. Empty stays None."""
    try:
        return _coerce(ftype, value)
    except (OverflowError, ValueError):  # e.g. a whole number too large for a float
        raise BadValue from None


def _coerce(ftype: FieldType, value: Any) -> Any:
    if is_empty(value):
        return None
    if ftype is FieldType.TEXT or ftype in (FieldType.IMAGE, FieldType.FILE):
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return str(int(value)) if float(value).is_integer() else str(value)
        raise BadValue
    if ftype is FieldType.INTEGER:
        if isinstance(value, bool):
            raise BadValue
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT_RE.match(value.strip()):
            return int(value.strip().split(".")[0])
        raise BadValue
    if ftype is FieldType.DECIMAL:
        if isinstance(value, bool):
            raise BadValue
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise BadValue from None
        else:
            raise BadValue
        if not math.isfinite(number):
            raise BadValue
        return number
    if ftype is FieldType.DATE:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str) and (d := parse_date(value.strip())) is not None:
            return d
        raise BadValue
    if ftype is FieldType.TIME:
        if isinstance(value, dt.time):
            return value
        if isinstance(value, str) and (t := parse_time(value.strip())) is not None:
            return t
        raise BadValue
    if ftype is FieldType.DATETIME:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and parsed.tzinfo is not None:
                return parsed
        raise BadValue
    if ftype is FieldType.SELECT_ONE:
        if isinstance(value, str):
            return value.strip() or None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise BadValue
    if ftype is FieldType.SELECT_MULTIPLE:
        if isinstance(value, str):
            items = value.split()
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            items = [v.strip() for v in value]
        else:
            raise BadValue
        return tuple(dict.fromkeys(i for i in items if i)) or None
    return value


def to_json(value: Any) -> Any:
    """A typed or computed value -> its stored JSON form (None: leave the answer out)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        rounded = round(value, 10)
        return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, Nodeset):  # answers gathered from a repeat into a calculate: the first one
        return to_json(value[0]) if value else None
    if isinstance(value, tuple):  # a select_multiple answer
        return [str(v) for v in value]
    if isinstance(value, str | int):
        return value
    return None  # a repeat instance or anything else that is not an answer
