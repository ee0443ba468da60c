"""The function library: XLSForm/ODK functions, each a plain Python function over evaluated arguments."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Protocol

from forms.expr.values import (
    EPOCH,
    NAN,
    Nodeset,
    parse_date,
    parse_datetime,
    to_bool,
    to_number,
    to_string,
)


class Clock(Protocol):
    today: dt.date
    now: dt.datetime


Impl = Callable[[Clock, list[Any]], Any]


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    min_args: int
    max_args: int | None  # None: any number
    impl: Impl

    def arity_text(self) -> str:
        if self.max_args is None:
            return f"{self.min_args}+"
        if self.max_args == self.min_args:
            return str(self.min_args)
        return f"{self.min_args}-{self.max_args}"


def _items(value: Any) -> list[Any]:
    if isinstance(value, Nodeset):
        return list(value)
    return [value]


def _choices(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)) and not isinstance(value, Nodeset):
        return [to_string(v) for v in value]
    return to_string(value).split()


@lru_cache(maxsize=512)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """The compiled pattern; re.error for any pattern Python cannot compile (including the ones that make
    re raise OverflowError, such as a{99999999999}, or RecursionError, such as thousands of nested groups)."""
    try:
        return re.compile(pattern)
    except (OverflowError, RecursionError) as exc:
        raise re.error(f"pattern too large or too deeply nested: {exc}") from None


def _regex(_: Clock, a: list[Any]) -> bool:
    try:
        return compile_regex(to_string(a[1])).search(to_string(a[0])) is not None
    except re.error:
        return False


def _index(n: float, length: int) -> int:
    """A 0-based string index, truncated and clamped into 0..length (so infinities are fine)."""
    return int(min(max(n, 0.0), float(length)))


def _substr(_: Clock, a: list[Any]) -> str:
    s = to_string(a[0])
    start = to_number(a[1])
    if math.isnan(start):
        return ""
    begin = _index(start, len(s))
    if len(a) > 2:
        end = to_number(a[2])
        if math.isnan(end):
            return ""
        return s[begin : max(_index(end, len(s)), begin)]
    return s[begin:]


# The days since the epoch that a Python date can hold (0001-01-01 .. 9999-12-31).
_MIN_DAYS = (dt.date.min - EPOCH).days
_MAX_DAYS = (dt.date.max - EPOCH).days


def _date(_: Clock, a: list[Any]) -> Any:
    v = a[0]
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        d = parse_date(v.strip())
        if d is not None:
            return d
        t = parse_datetime(v.strip())
        if t is not None:
            return t.date()
        if not v.strip():
            return ""
    n = to_number(v)
    if not _MIN_DAYS <= n < _MAX_DAYS + 1:  # also NaN
        return ""
    return EPOCH + dt.timedelta(days=math.floor(n))


def _int(_: Clock, a: list[Any]) -> float:
    n = to_number(a[0])
    if math.isnan(n) or math.isinf(n):
        return n
    return float(math.trunc(n))


def _round(_: Clock, a: list[Any]) -> float:
    n = to_number(a[0])
    digits = to_number(a[1]) if len(a) > 1 else 0.0
    if math.isnan(n) or math.isinf(n) or math.isnan(digits) or abs(digits) > 15:
        return n if not math.isnan(digits) else NAN
    try:
        quantum = Decimal(1).scaleb(-int(digits))
        return float(Decimal(repr(n)).quantize(quantum, rounding=ROUND_HALF_UP))
    except InvalidOperation:
        return n


def _numbers(args: list[Any]) -> list[float]:
    return [to_number(v) for arg in args for v in _items(arg)]


def _max(_: Clock, a: list[Any]) -> float:
    nums = _numbers(a)
    if not nums or any(math.isnan(n) for n in nums):
        return NAN
    return max(nums)


def _min(_: Clock, a: list[Any]) -> float:
    nums = _numbers(a)
    if not nums or any(math.isnan(n) for n in nums):
        return NAN
    return min(nums)


def _sum(_: Clock, a: list[Any]) -> float:
    nums = _numbers(a)
    try:
        return math.fsum(nums)
    except (OverflowError, ValueError):  # the exact sum leaves the range of a double, or inf + -inf
        return sum(nums)


def _count(_: Clock, a: list[Any]) -> float:
    v = a[0]
    if isinstance(v, Nodeset):
        return float(len(v))
    return 0.0 if v == "" else 1.0


def _concat(_: Clock, a: list[Any]) -> str:
    return "".join(to_string(v) for arg in a for v in _items(arg))


def _join(_: Clock, a: list[Any]) -> str:
    sep = to_string(a[0])
    return sep.join(to_string(v) for arg in a[1:] for v in _items(arg))


def _coalesce(_: Clock, a: list[Any]) -> Any:
    first = a[0]
    return first if to_string(first) != "" else a[1]


def _selected_at(_: Clock, a: list[Any]) -> str:
    items = _choices(a[0])
    n = to_number(a[1])
    if not -1 < n < len(items):  # also NaN and the infinities; truncated toward zero below
        return ""
    return items[int(n)]


def _decimal_time(_: Clock, a: list[Any]) -> float:
    v = a[0]
    if isinstance(v, str):
        from forms.expr.values import parse_time

        t = parse_time(v.strip())
        return to_number(t) if t is not None else NAN
    if isinstance(v, dt.time):
        return to_number(v)
    if isinstance(v, dt.datetime):
        return to_number(v.time())
    return NAN


def _decimal_date_time(_: Clock, a: list[Any]) -> float:
    v = a[0]
    if isinstance(v, str):
        parsed: Any = parse_datetime(v.strip()) or parse_date(v.strip())
        return to_number(parsed) if parsed is not None else NAN
    if isinstance(v, dt.date):
        return to_number(v)
    return NAN


def _rounding(fn: Callable[[float], int], value: Any) -> float:
    n = to_number(value)
    return float(fn(n)) if math.isfinite(n) else n


def _f(name: str, lo: int, hi: int | None, impl: Impl) -> Function:
    return Function(name, lo, hi, impl)


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        _f("selected", 2, 2, lambda _, a: to_string(a[1]) in _choices(a[0])),
        _f("count-selected", 1, 1, lambda _, a: float(len(_choices(a[0])))),
        _f("selected-at", 2, 2, _selected_at),
        _f("string-length", 1, 1, lambda _, a: float(len(to_string(a[0])))),
        _f("normalize-space", 1, 1, lambda _, a: " ".join(to_string(a[0]).split())),
        _f("regex", 2, 2, _regex),
        _f("contains", 2, 2, lambda _, a: to_string(a[1]) in to_string(a[0])),
        _f("starts-with", 2, 2, lambda _, a: to_string(a[0]).startswith(to_string(a[1]))),
        _f("ends-with", 2, 2, lambda _, a: to_string(a[0]).endswith(to_string(a[1]))),
        _f("concat", 1, None, _concat),
        _f("join", 2, None, _join),
        _f("substr", 2, 3, _substr),
        _f("today", 0, 0, lambda c, _: c.today),
        _f("now", 0, 0, lambda c, _: c.now),
        _f("date", 1, 1, _date),
        _f("decimal-date-time", 1, 1, _decimal_date_time),
        _f("decimal-time", 1, 1, _decimal_time),
        _f("int", 1, 1, _int),
        _f("number", 1, 1, lambda _, a: to_number(a[0])),
        _f("string", 1, 1, lambda _, a: to_string(a[0])),
        _f("boolean", 1, 1, lambda _, a: to_bool(a[0])),
        _f("round", 1, 2, _round),
        _f("floor", 1, 1, lambda _, a: _rounding(math.floor, a[0])),
        _f("ceiling", 1, 1, lambda _, a: _rounding(math.ceil, a[0])),
        _f("abs", 1, 1, lambda _, a: abs(to_number(a[0]))),
        _f("if", 3, 3, lambda _, a: a[1] if to_bool(a[0]) else a[2]),
        _f("coalesce", 2, 2, _coalesce),
        _f("count", 1, 1, _count),
        _f("sum", 1, 1, _sum),
        _f("max", 1, None, _max),
        _f("min", 1, None, _min),
        _f("not", 1, 1, lambda _, a: not to_bool(a[0])),
        _f("true", 0, 0, lambda _, a: True),
        _f("false", 0, 0, lambda _, a: False),
    ]
}
