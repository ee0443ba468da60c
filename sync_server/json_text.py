"""JSON as the server reads and writes it: requests parsed strictly, text written compactly.

Kept apart from services.common (which needs SQLAlchemy) so that the form engine's worker processes
(services.check_pool) parse and write JSON exactly as the serving process does while importing little."""

from __future__ import annotations

import json
import math
import re
from typing import Any

_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def dumps(value: Any) -> str:
    """Compact JSON, Chinese kept as is. A lone surrogate (a file name decoded with surrogateescape, say)
    cannot be written as UTF-8, so a database driver would refuse the text: such a value is written with
    every non-ASCII character escaped instead (the same JSON, readable back alike). The search costs ~2 ns
    a character, well under 1 % of a push."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if _SURROGATE_RE.search(text) is not None:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text


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
    levels deep. JsonInputError otherwise."""
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
    _check_text_structure(text, value)
    return value


# A JSON string literal (in text json.loads took), and the escapes that may write half a surrogate pair.
_JSON_STRING_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS_RE = re.compile(r"[^\[\]{}]+")
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_text_structure(text: str, value: Any) -> None:
    """_check_structure's rules read from the JSON text itself, for a large body in a fraction of the time of
    walking the parsed value (issue 14: the walk was a fifth of a push's time): text decoded from UTF-8
    holds no surrogate, so a string can hold one only through a \\uD800-\\uDFFF escape (if the text has
    anything like one, the value is walked); the nesting is that of the brackets outside strings."""
    if _SURROGATE_ESCAPE_RE.search(text):
        _check_structure(value)
        return
    brackets = _NOT_BRACKETS_RE.sub("", _JSON_STRING_RE.sub("", text))
    if len(brackets) <= 2 * MAX_JSON_DEPTH:
        return
    depth = 0
    for ch in brackets:
        if ch == "[" or ch == "{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise JsonInputError(f"arrays and objects nest deeper than {MAX_JSON_DEPTH} levels")
        else:
            depth -= 1


def canonical_json(value: Any) -> bytes:
    """The same JSON value always gives the same bytes (for request hashes)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
