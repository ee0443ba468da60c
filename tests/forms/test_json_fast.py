"""forms.json_fast gives the standard library's values and text (issue 14: orjson does the work)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forms import json_fast

_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.floats(min_value=-1e-3, max_value=1e-3)
    | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=30,
)


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (1 is not 1.0), key order included."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (a != a and b != b)  # NaN


@settings(max_examples=400, deadline=None)
@given(values)
def test_loads_gives_what_json_loads_gives(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, separators=(",", ":"))):
        assert same(json_fast.loads(text), json.loads(text))
        assert same(json_fast.loads(text.encode()), json.loads(text))


@settings(max_examples=500, deadline=None)
@given(values)
def test_the_text_is_the_standard_librarys_byte_for_byte(value: Any) -> None:
    theirs = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert json_fast.dumps_bytes(value) == theirs
    assert json_fast.dumps(value).encode() == theirs
    assert json_fast.canonical_bytes(value) == (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    )


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        1e-5,
        -1.5e-7,
        1e-9,
        2.5e-10,
        9.99e-5,
        1e-4,
        1e16,
        1e22,
    ],
)
def test_floats_orjson_writes_its_own_way_are_written_as_the_standard_library_does(
    value: float,
) -> None:
    """NaN and Infinity (orjson: null), small floats (orjson: 0.00001, 1.5e-7)."""
    doc = {"x": [value], "y": None}
    assert json_fast.dumps(doc) == json.dumps(doc, separators=(",", ":"))


def test_integers_beyond_64_bits_are_kept_exact() -> None:
    n = 2**64 + 1
    assert json_fast.loads(f'{{"a": [1.5, {n}]}}') == {"a": [1.5, n]}
    assert json_fast.loads(str(-n)) == -n
    assert json_fast.dumps({"a": n}) == f'{{"a":{n}}}'


@pytest.mark.parametrize(
    "n", [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**19, 10**30, -(10**25)]
)
def test_integers_at_the_edge_of_64_bits_are_kept_exact(n: int) -> None:
    """The shortest integer literal orjson cannot keep has 19 digits: text without a run of 19 digits is
    not walked for such floats."""
    for text in (f'{{"a":[{{"b":{n}}}],"c":"{"9" * 25}"}}', f"[{n}, 1.5]"):
        for data in (text, text.encode()):
            assert same(json_fast.loads(data), json.loads(text))
    short = '{"a":1e19,"b":123456789012345678,"c":"12345678901234567890"}'
    assert same(json_fast.loads(short), json.loads(short))


def test_a_lone_surrogate_written_escaped_reads_back() -> None:
    """The server writes a file name decoded with surrogateescape that way (orjson refuses it)."""
    text = json.dumps({"name": "photo\udcff.jpg"})
    assert json_fast.loads(text) == {"name": "photo\udcff.jpg"}


def test_text_that_is_not_json_raises_value_error() -> None:
    with pytest.raises(ValueError):
        json_fast.loads('{"a": ')


@pytest.mark.parametrize("value", [0, 1.5, None])
def test_what_is_not_text_raises_type_error_as_json_loads_does(value: Any) -> None:
    """SQLAlchemy's SQLite JSON type relies on it: a number SQLite stored as a number is taken as is."""
    with pytest.raises(TypeError):
        json.loads(value)
    with pytest.raises(TypeError):
        json_fast.loads(value)


def test_depth_and_large_floats_are_found() -> None:
    deep: Any = []
    for _ in range(10):
        deep = [deep]
    assert json_fast.suspicious(deep, max_depth=10)
    assert not json_fast.suspicious(deep, max_depth=11)
    assert json_fast.suspicious({"x": [{"y": 1e19}]})
    assert not json_fast.suspicious({"x": [{"y": 1e18, "z": "1e30"}]})
