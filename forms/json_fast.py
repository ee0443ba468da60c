"""JSON read and written with orjson, giving exactly the values and text the standard library gives.

Both sides spend a large share of a sync in JSON (issue 14: the client decoded every change it sends and
encoded it again, the server parsed and wrote each batch): orjson does it several times faster. Where it
would not give the standard library's result, the standard library does the work:
- an integer literal beyond 64 bits comes out of orjson as a float, so a value holding a float of 2^63 or
  more is read again by the standard library (which keeps such integers exact);
- orjson cannot write integers beyond 64 bits, lone surrogates, keys that are not text, nor (with the
  options below) subclasses, dates and dataclasses the standard library writes or refuses its own way.
The texts differ only in floats written with an exponent (orjson 0.00001, the standard library 1e-05).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = [
    "BIG_FLOAT",
    "ORJSON_OPTIONS",
    "canonical_bytes",
    "dumps",
    "dumps_bytes",
    "loads",
    "stdlib_canonical_bytes",
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


def suspicious(value: Any, max_depth: int | None = None) -> bool:
    """True when `value` holds a float of 2^63 or more (maybe an integer literal orjson could not keep) or,
    with `max_depth`, arrays and objects nested deeper than that. Walks only arrays and objects."""
    kind = type(value)
    if kind is not dict and kind is not list:
        return kind is float and abs(value) >= BIG_FLOAT
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
            elif kind is float and abs(v) >= BIG_FLOAT:
                return True
    return False


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
    if suspicious(value):
        return json.loads(data)
    return value


def dumps_bytes(value: Any) -> bytes:
    """Compact JSON as UTF-8, non-ASCII kept as is: json.dumps(value, ensure_ascii=False,
    separators=(",", ":")).encode() (which raises UnicodeEncodeError for a lone surrogate)."""
    try:
        return orjson.dumps(value, option=ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def dumps(value: Any) -> str:
    """dumps_bytes as text; a lone surrogate is kept in the text (json.dumps(ensure_ascii=False) alike)."""
    try:
        return orjson.dumps(value, option=ORJSON_OPTIONS).decode("utf-8")
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def canonical_bytes(value: Any) -> bytes:
    """Keys sorted, compact, UTF-8: the same value always gives the same bytes."""
    try:
        return orjson.dumps(value, option=ORJSON_OPTIONS | orjson.OPT_SORT_KEYS)
    except TypeError:
        return stdlib_canonical_bytes(value)


def stdlib_canonical_bytes(value: Any) -> bytes:
    """canonical_bytes as the standard library writes it (floats with an exponent differ)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
