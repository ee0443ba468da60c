"""A change's payload text put together around the record's data as the push encoded it (issue 14, goal 3) is
byte for byte what encoding the whole payload gives, so a pull hands out the same JSON either way."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sync_server.json_text import dumps
from sync_server.services.changes import NewChange, payload_text, record_payload

NOW = dt.datetime(2026, 12, 1, 10, 30, 5)


def _payload(
    data: dict[str, Any], comments: dict[str, Any], status: str = "received"
) -> dict[str, Any]:
    return record_payload(
        record_id="6f1c1f7e-0000-4000-8000-000000000001",
        form_id="safety_inspection",
        form_version="2026.1",
        server_revision=3,
        status=status,
        data=data,
        review_comments=comments,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("data", "comments"),
    [
        ({"school": "第一小学", "hazards": [{"kind": "电", "n": 1.5, "ok": None}]}, {}),
        (
            {"data": None, "updated_at": "x", "q": '"data":null,"updated_at":'},
            {"data": "看\\这里\n"},
        ),
        ({}, {"hazards[0].kind": {"zh": "请核对", "at": "2026-12-01"}}),
        ({"emoji": "\U0001f600", "ctl": "\u2028\x7f", "big": 2**60, "neg": -0.0}, {}),
    ],
)
def test_payload_text_is_the_whole_payload_encoded(
    data: dict[str, Any], comments: dict[str, Any]
) -> None:
    payload = _payload(data, comments)
    change = NewChange(1, "record", payload, record_id="r", device_id="d", data_text=dumps(data))
    assert payload_text(change) == dumps(payload)


def test_without_the_text_or_without_data_the_payload_is_encoded_whole() -> None:
    deleted = _payload({"a": 1}, {}, status="deleted")
    assert deleted["data"] is None
    assert payload_text(NewChange(1, "record", deleted, data_text='{"a":1}')) == dumps(deleted)
    plain = _payload({"a": 1}, {})
    assert payload_text(NewChange(1, "record", plain)) == dumps(plain)
    # another shape (data not followed by updated_at alone): encoded whole, the text not used
    other = {"type": "x", "data": {"a": 1}, "extra": 2}
    assert payload_text(NewChange(None, "x", other, data_text='{"a":2}')) == dumps(other)
