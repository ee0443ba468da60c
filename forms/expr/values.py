"""XPath 1.0 value semantics as ODK applies them: string, number, boolean, dates, node-sets.

An empty answer is the empty string: it equals '' in comparisons and is NaN in arithmetic.
Dates become days since 1970-01-01 when used as numbers, times fractions of a day.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

EPOCH = dt.date(1970, 1, 1)
NAN = float("nan")
# The bureau's zone (China has one offset and no daylight saving): a time answer's string value carries
# it, as ODK Collect stores a time (`08:30:00.000+08:00`).
BUREAU_OFFSET = "+08:00"

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
# A number as text, as ODK Collect (JavaRosa) reads one: XPath's Number production (ASCII digits only) with an
# optional '-'; no '+', no exponent. Not Python's float() syntax, which would also take 'inf', 'nan', 'Infinity',
# '1_000' and non-ASCII digits.
_NUMBER_RE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class Nodeset(tuple[Any, ...]):
    """Answers gathered across repeat instances (or the instances themselves)."""

    __slots__ = ()


def parse_date(text: str) -> dt.date | None:
    if _DATE_RE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None
    return None


def parse_time(text: str) -> dt.time | None:
    if _TIME_RE.match(text):
        try:
            return dt.time.fromisoformat(text if len(text.split(":")[0]) == 2 else "0" + text)
        except ValueError:
            return None
    return None


def parse_datetime(text: str) -> dt.datetime | None:
    if len(text) < 16 or not _DATE_RE.match(text[:10]) or text[10] not in "T ":
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _datetime_days(value: dt.datetime) -> float:
    if value.tzinfo is not None:
        # Local wall-clock time, as the clerk entered it.
        value = value.replace(tzinfo=None)
    delta = value - dt.datetime(1970, 1, 1)
    return delta.total_seconds() / 86400.0


def _time_fraction(value: dt.time) -> float:
    secs = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    return secs / 86400.0


def to_number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # a whole number beyond the range of a double
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER_RE.fullmatch(text):
            return float(text)
        # A date as text is not a number, as in ODK Collect (JavaRosa): number('2024-03-05') is NaN, and so
        # `. > '2024-01-01'` is false; compare a date with date('2024-01-01').
        return NAN
    if isinstance(value, dt.datetime):
        return _datetime_days(value)
    if isinstance(value, dt.date):
        return float((value - EPOCH).days)
    if isinstance(value, dt.time):
        # As in the ODK engines, a time's value is the text `08:30:00.000+08:00`, which is not a number:
        # decimal-time() gives its fraction of a day. Two times still compare (compare()).
        return NAN
    if isinstance(value, Nodeset):
        return to_number(value[0]) if value else NAN
    if isinstance(value, (list, tuple)):
        return NAN
    return NAN


def format_number(value: float) -> str:
    """A number as XPath's string(): no exponent, no trailing '.0'."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    # The shortest digits that read back as the same double, written out without an exponent.
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # more digits than Python will print
            return format_number(to_number(value))
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return time_text(value)
    if isinstance(value, Nodeset):
        return to_string(value[0]) if value else ""
    if isinstance(value, (list, tuple)):
        return " ".join(to_string(v) for v in value)
    if value is None:
        return ""
    return ""


def time_text(value: dt.time) -> str:
    """A time's string value as ODK Collect stores it: `08:30:00.000+08:00`."""
    offset = BUREAU_OFFSET
    if value.tzinfo is not None and (delta := value.utcoffset()) is not None:
        minutes = int(delta.total_seconds()) // 60
        offset = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + offset


def time_fraction(value: dt.time) -> float:
    return _time_fraction(value)


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, float):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return bool(value)
    if isinstance(value, Nodeset):
        # As ODK Collect (JavaRosa): one field is read as its answer (a blank answer is false); several are
        # true (JavaRosa refuses them), none false.
        return to_bool(value[0]) if len(value) == 1 else len(value) > 0
    if isinstance(value, (list, tuple)):
        return len(value) > 0
    return value is not None


def _temporal_pair(a: Any, b: Any) -> tuple[Any, Any] | None:
    """If one side is a date or date-time and the other a string of that kind, both as that kind. (A time
    and a string are not: ODK compares a time's text `08:30:00.000+08:00`, which is not a number.)"""
    for x, y, swap in ((a, b, False), (b, a, True)):
        if isinstance(x, dt.date) and isinstance(y, str):
            if isinstance(x, dt.datetime):
                other: Any = parse_datetime(y) or parse_date(y)
            else:
                other = parse_date(y)
            if other is None:
                return None
            return (other, x) if swap else (x, other)
    return None


def equals(a: Any, b: Any) -> bool:
    """XPath `=`. With a node-set: true if some item equals (a boolean is compared to the set's boolean)."""
    if type(a) is str and type(b) is str:
        return a == b
    if isinstance(a, Nodeset) or isinstance(b, Nodeset):
        if isinstance(a, bool) or isinstance(b, bool):
            return to_bool(a) == to_bool(b)
        return any(equals(x, y) for x, y in _pairs(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return to_bool(a) == to_bool(b)
    if isinstance(a, int | float) or isinstance(b, int | float):
        return to_number(a) == to_number(b)
    if isinstance(a, dt.date | dt.time) or isinstance(b, dt.date | dt.time):
        pair = _temporal_pair(a, b)
        if pair is not None:
            return to_number(pair[0]) == to_number(pair[1])
        if isinstance(a, dt.time) and isinstance(b, dt.time):
            return _time_fraction(a) == _time_fraction(b)
        if type(a) is type(b):
            return to_number(a) == to_number(b)
    return to_string(a) == to_string(b)


def not_equals(a: Any, b: Any) -> bool:
    """XPath `!=`: the negation of `=` except with a node-set, where some item must differ (so an empty
    node-set is neither equal nor unequal to anything)."""
    if isinstance(a, Nodeset) or isinstance(b, Nodeset):
        if isinstance(a, bool) or isinstance(b, bool):
            return to_bool(a) != to_bool(b)
        return any(not equals(x, y) for x, y in _pairs(a, b))
    return not equals(a, b)


def compare(op: str, a: Any, b: Any) -> bool:
    """XPath `<`, `<=`, `>`, `>=` on numbers (dates as days). With a node-set: true if some item satisfies
    it (a boolean is compared to the set's boolean)."""
    kind = type(a)
    if kind is type(b) and (
        kind is float or kind is dt.date
    ):  # two numbers, or two dates (as days)
        return _compare_numbers(op, a, b)
    if isinstance(a, Nodeset) or isinstance(b, Nodeset):
        if isinstance(a, bool) or isinstance(b, bool):
            return _compare_numbers(op, to_number(to_bool(a)), to_number(to_bool(b)))
        return any(compare(op, x, y) for x, y in _pairs(a, b))
    if isinstance(a, dt.time) and isinstance(b, dt.time):
        # Two times compare as times, as in ODK Collect (JavaRosa compares its time values); the web
        # engines compare their texts as numbers (always false). docs/forms.md lists this divergence.
        return _compare_numbers(op, _time_fraction(a), _time_fraction(b))
    return _compare_numbers(op, to_number(a), to_number(b))


def _pairs(a: Any, b: Any) -> Iterator[tuple[Any, Any]]:
    left = a if isinstance(a, Nodeset) else (a,)
    right = b if isinstance(b, Nodeset) else (b,)
    return ((x, y) for x in left for y in right)


def _compare_numbers(op: str, x: float, y: float) -> bool:
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y
