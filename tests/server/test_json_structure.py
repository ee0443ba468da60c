"""strict_loads refuses nesting and lone surrogates exactly as walking the parsed value does (issue 14: it reads
them with orjson and walks only arrays and objects, where walking every value took a fifth of a push)."""

from __future__ import annotations

import json

import pytest

from sync_server.json_text import MAX_JSON_DEPTH, JsonInputError, _check_structure, strict_loads

DEEP = MAX_JSON_DEPTH

TEXTS = [
    "[" * DEEP + "]" * DEEP,
    "[" * (DEEP + 1) + "]" * (DEEP + 1),
    "{" + '"a":' * 0 + '"k":' + "[" * (DEEP - 1) + "]" * (DEEP - 1) + "}",
    '{"k":' + "[" * DEEP + "]" * DEEP + "}",
    json.dumps({"s": "[" * 500, "t": "{{{{" * 100, "list": [[1], [2], {"x": "]]]"}]}),
    json.dumps([{"a": '\\"[[[' * 100}] * 50),
    json.dumps(["x" * 10] * 200 + [[[["deep"]]]]),
    '["\\ud800"]',
    '{"\\udc00": 1}',
    '["\\ud83d\\ude00", "' + "[" * 200 + '"]',
    '["\\\\ud800"]',  # an escaped backslash, then the letters: no surrogate
    '["\\uD83D"]',
    json.dumps([{"r": list(range(100)), "n": [[i] for i in range(100)]}]),
]


def _walked(text: str) -> bool:
    try:
        _check_structure(json.loads(text))
    except JsonInputError:
        return False
    return True


@pytest.mark.parametrize("text", TEXTS)
def test_reading_the_text_refuses_what_walking_the_value_refuses(text: str) -> None:
    try:
        strict_loads(text.encode())
        taken = True
    except JsonInputError:
        taken = False
    assert taken is _walked(text)


def test_the_cases_include_refusals_and_acceptances() -> None:
    outcomes = {_walked(t) for t in TEXTS}
    assert outcomes == {True, False}
