"""JSON as the server reads and writes it: requests parsed strictly, text written compactly.

orjson does the work (forms.json_fast; issue 14: parsing, checking and writing JSON with the standard library
took a fifth of the server's time for a push - 43 ms of each 1,000-record batch, ~5 ms with orjson); the
standard library stays for what orjson cannot do exactly and to say what is wrong with a body it refuses.

Kept apart from services.common (which needs SQLAlchemy) so that the form engine's worker processes
(services.check_pool) parse and write JSON exactly as the serving process does while importing little."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from forms import json_fast

_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def dumps(value: Any) -> str:
    """Compact JSON, Chinese kept as is (the standard library's text, forms.json_fast). A lone surrogate (a
    file name decoded with surrogateescape, say) cannot be written as UTF-8, so a database driver would
    refuse the text: such a value is written with every non-ASCII character escaped instead."""
    return json_fast.dumps(value, escape_surrogates=True)


class JsonInputError(ValueError):
    """JSON text the server does not take: malformed, not UTF-8, NaN/Infinity, or a lone surrogate."""


def _refuse_constant(name: str) -> Any:
    raise JsonInputError(f"{name} is not a JSON number (NaN and Infinity are refused)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonInputError(f"the number {text[:40]} is not finite")
    return value


MAX_JSON_DEPTH = 64  # arrays and objects inside each other; a record's repeats need a handful


def _check_structure(value: Any) -> None:
    """No string (or key) with a lone surrogate, nesting at most MAX_JSON_DEPTH; walked without recursion,
    so that nothing after it (the form engine, the database, the dashboard) meets a structure it cannot
    walk."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE_RE.search(item):
                raise JsonInputError(
                    "a string holds a lone surrogate (\\ud800-\\udfff): not Unicode text"
                )
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise JsonInputError(f"arrays and objects nest deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                stack.extend((k, depth) for k in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)


def strict_loads(body: bytes) -> Any:
    """JSON from a request: UTF-8 only, no NaN or Infinity (nor numbers too large for a double), no lone
    surrogates (they cannot be written back as UTF-8, nor stored by PostgreSQL), at most MAX_JSON_DEPTH
    levels deep. JsonInputError otherwise.

    orjson refuses what is not UTF-8, NaN, Infinity, infinite numbers and lone surrogates (escaped or not)
    itself; the depth is checked on the parsed value, walking only its arrays and objects. A body orjson
    refuses, or one with a number too large for a 64-bit integer, is read again by the standard library
    (which says what is wrong, or keeps that integer exact)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _stdlib_strict_loads(body)
    if json_fast.suspicious(value, MAX_JSON_DEPTH):
        return _stdlib_strict_loads(body)
    return value


def _stdlib_strict_loads(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"not UTF-8 text: {exc}") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except JsonInputError:
        raise
    except RecursionError:
        raise JsonInputError(
            f"arrays and objects nest deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    except ValueError as exc:
        raise JsonInputError(str(exc)) from None
    _check_structure(value)
    return value


def canonical_json(value: Any) -> bytes:
    """The same JSON value always gives the same bytes (for request hashes): keys sorted, compact - the
    standard library's bytes, so a hash stored by a server before orjson is this one."""
    return json_fast.canonical_bytes(value)
