"""The server's JSON (sync_server.json_text): orjson on the push path must read, refuse and write exactly what
the standard library did (issue 14), and a key stored by a server before it must still replay."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from sync_server import models as M
from sync_server.json_text import (
    MAX_JSON_DEPTH,
    JsonInputError,
    _check_structure,
    canonical_json,
    dumps,
    strict_loads,
)
from sync_server.state import get_state
from tests.forms.test_json_fast import same
from tests.server.conftest import LiveServer, assert_error, change, inspection

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=-1e-3, max_value=1e-3)
    | _text
)
values = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=30,
)


def _stdlib_reading(body: bytes) -> Any:
    """What the server took before orjson: the standard library, strictly (the reference)."""

    def refuse(name: str) -> Any:
        raise JsonInputError(name)

    def finite(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise JsonInputError(text)
        return value

    try:
        value = json.loads(body.decode("utf-8"), parse_constant=refuse, parse_float=finite)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise JsonInputError(str(exc)) from None
    _check_structure(value)
    return value


@settings(max_examples=300, deadline=None)
@given(values)
def test_a_body_reads_as_the_standard_library_read_it(value: Any) -> None:
    body = json.dumps({"changes": [value]}, ensure_ascii=False).encode()
    assert same(strict_loads(body), _stdlib_reading(body))


def _stdlib_canonical(value: Any) -> bytes:
    """The request hash's text as servers before orjson wrote it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


@settings(max_examples=300, deadline=None)
@given(values)
def test_written_text_reads_back_the_same_value(value: Any) -> None:
    assert same(json.loads(dumps(value)), value)


@settings(max_examples=300, deadline=None)
@given(values)
def test_the_request_hash_is_the_old_one(value: Any) -> None:
    """A key stored by an older server replays here, and one stored here replays on an older server (a
    rollback): both hash the same bytes."""
    assert canonical_json(value) == _stdlib_canonical(value)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": NaN}',
        b'{"a": -Infinity}',
        b"[1e400]",
        b'["\\ud800"]',
        b'{"\\udc00": 1}',
        b'["\xff"]',
        b'["\xed\xa0\x80"]',
        b"\xef\xbb\xbf[1]",
        b"[1,]",
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
        b'{"k":' + b"{" * MAX_JSON_DEPTH + b"}" * MAX_JSON_DEPTH + b"}",
        b"[" * 2000 + b"]" * 2000,
    ],
)
def test_what_the_standard_library_refused_is_refused(body: bytes) -> None:
    with pytest.raises(JsonInputError):
        _stdlib_reading(body)
    with pytest.raises(JsonInputError):
        strict_loads(body)


def test_integers_beyond_64_bits_stay_exact() -> None:
    big = 123456789012345678901234567890
    assert strict_loads(f'{{"n": [{big}, -{big}]}}'.encode()) == {"n": [big, -big]}
    assert dumps({"n": big}) == f'{{"n":{big}}}'


def test_a_lone_surrogate_is_written_escaped() -> None:
    text = dumps({"name": "photo\udcff.jpg"})
    assert text.isascii() and json.loads(text) == {"name": "photo\udcff.jpg"}


def test_a_key_stored_by_a_server_before_orjson_replays(live_sqlite: LiveServer) -> None:
    """An older server hashed the body with the standard library's canonical JSON: a batch it stored,
    sent again to this server (the answer was lost across the update), is replayed, not 422 - also with a
    float orjson alone would write otherwise (0.00001 against 1e-05)."""
    dev = live_sqlite.device()
    changes = [change(), change(inspection(inspector_note_weight=1e-05))]
    body = {"changes": changes}
    key = str(uuid.uuid4())
    first = dev.push(changes, key=key)
    assert first.status_code == 200
    state = get_state(live_sqlite.app)
    with state.db.Session.begin() as s:
        s.execute(
            update(M.IdempotencyKey)
            .where(M.IdempotencyKey.key == key)
            .values(request_sha256=hashlib.sha256(_stdlib_canonical(body)).hexdigest())
        )
    again = dev.push(changes, key=key)
    assert again.status_code == 200 and again.content == first.content
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert_error(dev.push([change()], key=key), 422, "idempotency_key_reused")
