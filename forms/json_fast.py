"""JSON read and written with orjson, giving exactly the values and text the standard library gives.

Both sides spend a large share of a sync in JSON (issue 14: the client decoded every change it sends and
encoded it again, the server parsed and wrote each batch): orjson does it several times faster. Where it
would not give the standard library's result, the standard library does the work:
- an integer literal beyond 64 bits comes out of orjson as a float, so a value holding a float of 2^63 or
  more is read again by the standard library (which keeps such integers exact);
- orjson cannot write integers beyond 64 bits, lone surrogates, keys that are not text, nor (with the
  options below) subclasses, dates and dataclasses the standard library writes or refuses its own way;
- orjson writes NaN and Infinity as null, and a float under 1e-4 its own way (0.00001, 1.5e-7 against the
  standard library's 1e-05, 1.5e-07): a value holding such a float is written by the standard library.
So the text is the standard library's, byte for byte (a request hash made by either is the same), but for
what the standard library refuses to write: orjson writes an Enum's value and a UUID as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

__all__ = [
    "BIG_FLOAT",
    "ORJSON_OPTIONS",
    "canonical_bytes",
    "dumps",
    "dumps_bytes",
    "loads",
    "suspicious",
]

BIG_FLOAT = float(2**63)

# orjson raises on these (and on integers beyond 64 bits, lone surrogates, keys that are not text): the
# standard library writes them its own way.
ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _any_float(value: Any, test: Callable[[float], bool], max_depth: int | None = None) -> bool:
    """True when a float of `value` passes `test` or, with `max_depth`, arrays and objects nest deeper than
    that. Walks only arrays and objects, without recursion."""
    kind = type(value)
    if kind is not dict and kind is not list:
        return kind is float and test(value)
    limit = max_depth if max_depth is not None else 1 << 30
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for v in item.values() if type(item) is dict else item:
            kind = type(v)
            if kind is dict or kind is list:
                stack.append((v, depth + 1))
            elif kind is float and test(v):
                return True
    return False


def _big(x: float) -> bool:
    return abs(x) >= BIG_FLOAT


def suspicious(value: Any, max_depth: int | None = None) -> bool:
    """True when `value` holds a float of 2^63 or more (maybe an integer literal orjson could not keep) or,
    with `max_depth`, arrays and objects nested deeper than that."""
    return _any_float(value, _big, max_depth)


def loads(data: bytes | bytearray | str) -> Any:
    """json.loads' value for trusted JSON text (what this program wrote). Raises ValueError
    (orjson.JSONDecodeError is one) for text that is not JSON, TypeError for what is not text (as json.loads
    does: SQLAlchemy's SQLite JSON type then takes a number SQLite stored as a number as it is)."""
    if not isinstance(data, str | bytes | bytearray):
        raise TypeError(
            f"the JSON object must be str, bytes or bytearray, not {type(data).__name__}"
        )
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:  # an escaped lone surrogate (json.loads takes it), or not JSON
        return json.loads(data)
    # An integer literal of 2^63 or more has 19 digits or more: text without such a run of digits holds
    # none, and the value is not walked (a tenth of a small push's CPU on the server, walking every record)
    long_run = _LONG_RUN.search(data) if isinstance(data, str) else _LONG_RUN_BYTES.search(data)
    if long_run is not None and suspicious(value):
        return json.loads(data)
    return value


_LONG_RUN = re.compile(r"[0-9]{19}")
_LONG_RUN_BYTES = re.compile(rb"[0-9]{19}")


def _written_apart(x: float) -> bool:
    """A float orjson writes otherwise than the standard library: NaN, +-Infinity, 0 < |x| < 1e-4."""
    a = abs(x)
    return a != a or a == _INF or 0.0 < a < 1e-4


_INF = float("inf")


def _orjson(value: Any, option: int) -> bytes | None:
    """orjson's text when it is the standard library's, else None."""
    try:
        out = orjson.dumps(value, option=option)
    except TypeError:  # orjson.JSONEncodeError is one
        return None
    if (b"null" in out or b"e-" in out or b"0.0" in out) and _any_float(value, _written_apart):
        return None
    return out


def dumps_bytes(value: Any) -> bytes:
    """Compact JSON as UTF-8, non-ASCII kept as is: json.dumps(value, ensure_ascii=False,
    separators=(",", ":")).encode() (which raises UnicodeEncodeError for a lone surrogate)."""
    out = _orjson(value, ORJSON_OPTIONS)
    if out is not None:
        return out
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def dumps(value: Any, *, escape_surrogates: bool = False) -> str:
    """dumps_bytes as text. A lone surrogate is kept in the text (json.dumps(ensure_ascii=False) alike) or,
    with `escape_surrogates`, such a value is written with every non-ASCII character escaped (the same JSON,
    but text UTF-8 can hold: a database driver refuses a lone surrogate). orjson never writes one, so only
    the standard library's text is searched."""
    out = _orjson(value, ORJSON_OPTIONS)
    if out is not None:
        return out.decode("utf-8")
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if escape_surrogates and _SURROGATE_RE.search(text) is not None:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text


def canonical_bytes(value: Any) -> bytes:
    """Keys sorted, compact, UTF-8: the same value always gives the same bytes (json.dumps(value,
    ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(), byte for byte)."""
    out = _orjson(value, ORJSON_OPTIONS | orjson.OPT_SORT_KEYS)
    if out is not None:
        return out
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
