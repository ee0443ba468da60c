"""The function library: XLSForm/ODK functions, each a plain Python function over evaluated arguments."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
import random
import re
import secrets
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Protocol

from forms.expr.values import (
    EPOCH,
    NAN,
    Nodeset,
    parse_date,
    parse_datetime,
    parse_time,
    time_fraction,
    to_bool,
    to_number,
    to_string,
)


class Clock(Protocol):
    today: dt.date
    now: dt.datetime
    choice_labels: dict[str, dict[str, str]]  # field name -> choice name -> label (jr:choice-name)

    @property
    def position(self) -> float:  # the 1-based index of the repeat instance (1 outside a repeat)
        ...


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
        # ASCII: \d, \w and \s mean what they mean in the ODK engines (JavaScript, Java), so a
        # full-width digit "１" is not a digit: regex(., '^\d+$') refuses "１２３".
        return re.compile(pattern, re.ASCII)
    except (OverflowError, RecursionError) as exc:
        raise re.error(f"pattern too large or too deeply nested: {exc}") from None


def _regex(_: Clock, a: list[Any]) -> bool:
    try:
        # As ODK Collect (JavaRosa: Java's Pattern.matches): the pattern must match the whole text.
        return compile_regex(to_string(a[1])).fullmatch(to_string(a[0])) is not None
    except re.error:
        return False


def _slice_index(n: float, length: int) -> int:
    """A 0-based index as JavaScript's slice() takes it (negative counts from the end)."""
    n = max(min(n, float(length)), -float(length))
    return int(n)


def _substr(_: Clock, a: list[Any]) -> str:
    """ODK's substr(s, start[, end]): 0-based, end excluded, negative positions from the end."""
    s = to_string(a[0])
    start = to_number(a[1])
    if math.isnan(start):  # as ODK Collect (JavaRosa): a start that is not a number is 0
        start = 0.0
    begin = _slice_index(start, len(s))
    if len(a) > 2:
        end = to_number(a[2])
        if math.isnan(end):
            return ""
        return s[begin : _slice_index(end, len(s))]
    return s[begin:]


# The days since the epoch that a Python date can hold (0001-01-01 .. 9999-12-31).
_MIN_DAYS = (dt.date.min - EPOCH).days
_MAX_DAYS = (dt.date.max - EPOCH).days


_LOOSE_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:T\d{1,2}:\d{2}.*)?", re.ASCII)


def _loose_date(text: str) -> dt.date | None:
    """`2024-3-5` as ODK Collect and Enketo read it (date(concat(...)) of unpadded parts); the day of
    `2024-3-5T08:00:00`."""
    m = _LOOSE_DATE.fullmatch(text)
    if m is None:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _date(_: Clock, a: list[Any]) -> Any:
    v = a[0]
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, Nodeset) and len(v) == 1 and isinstance(v[0], str):
        v = v[0]
    if isinstance(v, str):
        d = parse_date(v.strip()) or _loose_date(v.strip())
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
    """As ODK Collect (JavaRosa): a half goes up, towards +infinity (round(-2.5) is -2, as XPath 1.0), and
    digits that are not a number count as 0."""
    n = to_number(a[0])
    digits = to_number(a[1]) if len(a) > 1 else 0.0
    if math.isnan(digits):
        digits = 0.0
    if math.isnan(n) or math.isinf(n) or abs(digits) > 15:
        return n
    try:
        quantum = Decimal(1).scaleb(-int(digits))
        half = ROUND_HALF_UP if n >= 0 else ROUND_HALF_DOWN
        return float(Decimal(repr(n)).quantize(quantum, rounding=half))
    except InvalidOperation:
        return n


def _numbers(args: list[Any]) -> list[float]:
    """The numbers sum(), min() and max() take. A blank answer is skipped, as ODK Collect (JavaRosa) does:
    sum() of 1, blank, 4 is 5 (XPath 1.0 and the web engines: NaN)."""
    return [to_number(v) for arg in args for v in _items(arg) if not _blank(v)]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


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
    # Also NaN and the infinities, and no choices at all; the index is truncated toward zero below.
    if not items or not -1 < n < len(items):
        return ""
    return items[int(n)]


_ODK_TIME = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?:Z|[+-]\d{2}:\d{2})?", re.ASCII)


def _blank_answer(v: Any) -> bool:
    if isinstance(v, Nodeset) and len(v) == 1:
        v = v[0]
    return _blank(v)


def _decimal_time(_: Clock, a: list[Any]) -> float | str:
    v = a[0]
    if _blank_answer(v):  # as ODK Collect (JavaRosa): nothing in, nothing out (not NaN)
        return ""
    if isinstance(v, Nodeset) and len(v) == 1:
        v = v[0]
    if isinstance(v, str):
        m = _ODK_TIME.fullmatch(v.strip())
        t = parse_time(m[1]) if m is not None else None
        return time_fraction(t) if t is not None else NAN
    if isinstance(v, dt.time):
        return time_fraction(v)
    return NAN


def _decimal_date_time(_: Clock, a: list[Any]) -> float | str:
    v = a[0]
    if _blank_answer(v):  # as ODK Collect (JavaRosa): nothing in, nothing out (not NaN)
        return ""
    if isinstance(v, str):
        text = v.strip()
        parsed: Any = parse_datetime(text) or parse_date(text)
        if parsed is None and "T" not in text:
            parsed = _loose_date(text)
        return to_number(parsed) if parsed is not None else NAN
    if isinstance(v, dt.date):
        return to_number(v)
    return to_number(v)


def _rounding(fn: Callable[[float], int], value: Any) -> float:
    n = to_number(value)
    return float(fn(n)) if math.isfinite(n) else n


# -- more of ODK's function list ---------------------------------------------------------------------


def _num1(fn: Callable[[float], float]) -> Impl:
    def impl(_: Clock, a: list[Any]) -> float:
        try:
            return fn(to_number(a[0]))
        except (ValueError, OverflowError):
            n = to_number(a[0])
            if (fn is math.exp and n > 0) or (fn is _exp10 and n > 0):
                return math.inf
            if fn in (math.log, math.log10) and n == 0:
                return -math.inf
            return NAN

    return impl


def _exp10(n: float) -> float:
    return math.pow(10.0, n)


def _pow(_: Clock, a: list[Any]) -> float:
    x, y = to_number(a[0]), to_number(a[1])
    try:
        return math.pow(x, y)
    except (ValueError, OverflowError):
        if math.isnan(x) or math.isnan(y) or x < 0:
            return NAN
        return math.inf


def _atan2(_: Clock, a: list[Any]) -> float:
    return math.atan2(to_number(a[0]), to_number(a[1]))


def _xpath_round(n: float) -> float:
    """XPath round(): the nearest whole number, halves toward positive infinity."""
    if not math.isfinite(n):
        return n
    return float(math.floor(n + 0.5))


def _substring(_: Clock, a: list[Any]) -> str:
    """XPath 1.0 substring(): 1-based; the characters at positions p with round(start) <= p <
    round(start) + round(length)."""
    s = to_string(a[0])
    start = _xpath_round(to_number(a[1]))
    end = start + _xpath_round(to_number(a[2])) if len(a) > 2 else math.inf
    if math.isnan(start) or math.isnan(end):
        return ""
    return "".join(ch for p, ch in enumerate(s, start=1) if start <= p < end)


def _substring_before(_: Clock, a: list[Any]) -> str:
    s, sep = to_string(a[0]), to_string(a[1])
    i = s.find(sep)
    return "" if i < 0 else s[:i]


def _substring_after(_: Clock, a: list[Any]) -> str:
    s, sep = to_string(a[0]), to_string(a[1])
    i = s.find(sep)
    return "" if i < 0 else s[i + len(sep) :]


def _translate(_: Clock, a: list[Any]) -> str:
    s, src, dst = to_string(a[0]), to_string(a[1]), to_string(a[2])
    table: dict[str, str | None] = {}
    for i, ch in enumerate(src):
        if ch not in table:
            table[ch] = dst[i] if i < len(dst) else None
    return "".join(m for ch in s if (m := table.get(ch, ch)) is not None)


_XPATH_SPACE = re.compile(r"[ \t\r\n]+")


def _normalize_space(_: Clock, a: list[Any]) -> str:
    """XPath whitespace only (space, tab, CR, LF): a full-width space U+3000 is kept, as in ODK."""
    return _XPATH_SPACE.sub(" ", to_string(a[0])).strip(" ")


def _boolean_from_string(_: Clock, a: list[Any]) -> bool:
    return to_string(a[0]) in ("true", "1")


def _count_non_empty(_: Clock, a: list[Any]) -> float:
    return float(sum(1 for v in _items(a[0]) if to_string(v) != ""))


def _checked(a: list[Any]) -> list[Any]:
    return [v for arg in a for v in _items(arg)]


def _within(n: float, lo: float, hi: float) -> bool:
    return (lo < 0 or n >= lo) and (hi < 0 or n <= hi)


def _checklist(_: Clock, a: list[Any]) -> bool:
    yes = sum(1 for v in _checked(a[2:]) if to_bool(v))
    return _within(yes, to_number(a[0]), to_number(a[1]))


def _weighted_checklist(_: Clock, a: list[Any]) -> bool:
    rest = a[2:]
    total = 0.0
    for i in range(0, len(rest) - 1, 2):
        values, weights = _items(rest[i]), _items(rest[i + 1])
        for v, w in zip(values, weights, strict=False):
            if to_bool(v):
                total += to_number(w)
    return _within(total, to_number(a[0]), to_number(a[1]))


_MAX_UUID_LENGTH = 1024


def _uuid(_: Clock, a: list[Any]) -> str:
    if not a:
        return str(uuid.uuid4())
    n = to_number(a[0])
    if not 0 <= n <= _MAX_UUID_LENGTH:  # also NaN; a longer "id" is a mistake, not a need
        return ""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(int(n)))


def _random(_: Clock, a: list[Any]) -> float:
    return secrets.SystemRandom().random()


def _randomize(_: Clock, a: list[Any]) -> Nodeset:
    items = list(_items(a[0]))
    rng = random.Random(to_number(a[1])) if len(a) > 1 else secrets.SystemRandom()
    rng.shuffle(items)
    return Nodeset(items)


_DIGESTS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _digest(_: Clock, a: list[Any]) -> str:
    algorithm = _DIGESTS.get(to_string(a[1]).upper())
    if algorithm is None:
        return ""
    raw = hashlib.new(algorithm, to_string(a[0]).encode("utf-8")).digest()
    encoding = to_string(a[2]).lower() if len(a) > 2 else "base64"
    return raw.hex() if encoding == "hex" else base64.b64encode(raw).decode("ascii")


def _base64_decode(_: Clock, a: list[Any]) -> str:
    try:
        return base64.b64decode(to_string(a[0]), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""


def _as_day(value: Any) -> Any:
    """A value as format-date sees it: a date, a date-time, or days since 1970 (NaN: nothing)."""
    if isinstance(value, Nodeset) and len(value) == 1:
        value = value[0]
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        parsed: Any = parse_datetime(text) or parse_date(text) or _loose_date(text)
        if parsed is not None:
            return parsed
        if not _NUMBER.fullmatch(text):
            return None
    n = to_number(value)
    if not _MIN_DAYS <= n < _MAX_DAYS + 1:
        return None
    return dt.datetime(1970, 1, 1) + dt.timedelta(days=n)


_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _format_date(_: Clock, a: list[Any]) -> str:
    """ODK's format-date / format-date-time: %Y %y %m %n %b %d %e %a, %H %h %M %S %3 (a date has time
    00:00), %% a '%'; any other text is kept as written."""
    value = _as_day(a[0])
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        day, clock = value.date(), value.time()
    else:
        day, clock = value, dt.time(0)
    codes = {
        "Y": f"{day.year:04d}",
        "y": f"{day.year % 100:02d}",
        "m": f"{day.month:02d}",
        "n": str(day.month),
        "b": _MONTHS[day.month - 1],
        "d": f"{day.day:02d}",
        "e": str(day.day),
        "a": _DAYS[day.weekday()],
        "H": f"{clock.hour:02d}",
        "h": str(clock.hour),
        "M": f"{clock.minute:02d}",
        "S": f"{clock.second:02d}",
        "3": f"{clock.microsecond // 1000:03d}",
    }
    codes["%"] = "%"  # as ODK Collect and Enketo
    return re.sub(r"%([YymnbdeaHhMS3%])", lambda m: codes[m.group(1)], to_string(a[1]))


def _choice_name(c: Clock, a: list[Any]) -> str:
    """jr:choice-name(value, '${field}'): the label of a choice of that field's list (the form's default
    language); '' for a value that is not one of its choices."""
    ref = to_string(a[1]).strip()
    m = re.fullmatch(r"\$\{\s*([^}\s]+)\s*\}|(?:.*/)?([^/\s]+)", ref)
    if m is None:
        return ""
    labels = c.choice_labels.get(m.group(1) or m.group(2) or "", {})
    return labels.get(to_string(a[0]), "")


def _indexed_repeat(_: Clock, a: list[Any]) -> Any:
    """indexed-repeat(${field}, ${repeat}, n): the field in the repeat's n-th instance (1-based)."""
    items = _items(a[0])
    n = to_number(a[2])
    if not 1 <= n <= len(items):
        return ""
    return items[int(n) - 1]


def _f(name: str, lo: int, hi: int | None, impl: Impl) -> Function:
    return Function(name, lo, hi, impl)


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        _f("selected", 2, 2, lambda _, a: to_string(a[1]) in _choices(a[0])),
        _f("count-selected", 1, 1, lambda _, a: float(len(_choices(a[0])))),
        _f("selected-at", 2, 2, _selected_at),
        _f("string-length", 1, 1, lambda _, a: float(len(to_string(a[0])))),
        _f("normalize-space", 1, 1, _normalize_space),
        _f("regex", 2, 2, _regex),
        _f("contains", 2, 2, lambda _, a: to_string(a[1]) in to_string(a[0])),
        _f("starts-with", 2, 2, lambda _, a: to_string(a[0]).startswith(to_string(a[1]))),
        _f("ends-with", 2, 2, lambda _, a: to_string(a[0]).endswith(to_string(a[1]))),
        _f("concat", 0, None, _concat),
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
        _f("substring", 2, 3, _substring),
        _f("substring-before", 2, 2, _substring_before),
        _f("substring-after", 2, 2, _substring_after),
        _f("translate", 3, 3, _translate),
        _f("boolean-from-string", 1, 1, _boolean_from_string),
        _f("pow", 2, 2, _pow),
        _f("sqrt", 1, 1, _num1(math.sqrt)),
        _f("exp", 1, 1, _num1(math.exp)),
        _f("exp10", 1, 1, _num1(_exp10)),
        _f("log", 1, 1, _num1(math.log)),
        _f("log10", 1, 1, _num1(math.log10)),
        _f("sin", 1, 1, _num1(math.sin)),
        _f("cos", 1, 1, _num1(math.cos)),
        _f("tan", 1, 1, _num1(math.tan)),
        _f("asin", 1, 1, _num1(math.asin)),
        _f("acos", 1, 1, _num1(math.acos)),
        _f("atan", 1, 1, _num1(math.atan)),
        _f("atan2", 2, 2, _atan2),
        _f("pi", 0, 0, lambda _, a: math.pi),
        _f("format-date", 2, 2, _format_date),
        _f("format-date-time", 2, 2, _format_date),
        _f("date-time", 1, 1, _date),
        _f("count-non-empty", 1, 1, _count_non_empty),
        _f("checklist", 2, None, _checklist),
        _f("weighted-checklist", 2, None, _weighted_checklist),
        _f("once", 1, 1, lambda _, a: a[0]),
        _f("uuid", 0, 1, _uuid),
        _f("random", 0, 0, _random),
        _f("randomize", 1, 2, _randomize),
        _f("digest", 2, 3, _digest),
        _f("base64-decode", 1, 1, _base64_decode),
        _f("jr:choice-name", 2, 2, _choice_name),
        _f("indexed-repeat", 3, 3, _indexed_repeat),
        _f("position", 0, 1, lambda c, _: c.position),
        _f("last", 0, 0, lambda _, a: 1.0),
    ]
}
