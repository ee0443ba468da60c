"""The attachments the unsent changes use are found in their stored JSON text (client.store.outbox
.pending_attachments, issue 14): the same sha256 values as walking the decoded answers (attachment_refs)."""

from __future__ import annotations

import datetime as dt
import json
import string
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from client.store import sync_state as S
from client.store.db import open_store
from client.store.formset import FormSet
from client.store.outbox import _SHA256_VALUE, attachment_refs
from client.store.records import save_record
from tests.support.samples import inspection

HEX = st.text("0123456789abcdef", min_size=63, max_size=65)
TEXTS = st.one_of(
    HEX,
    HEX.map(lambda h: h + "\n"),  # not a sha256 (the walk once took it: re.match with $)
    HEX.map(lambda h: f'"{h}"'),  # a quoted sha inside a longer string: not an attachment
    HEX.map(lambda h: f'\\"{h}\\"'),
    HEX.map(lambda h: h.upper()),
    st.text(string.printable + '照片\\"', max_size=12),
)
VALUES = st.recursive(
    st.one_of(TEXTS, st.integers(), st.none(), st.booleans()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXTS, inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(TEXTS, VALUES, max_size=5))
def test_the_text_search_finds_what_the_walk_finds(data: dict[str, Any]) -> None:
    for text in (
        json.dumps(data),
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
    ):
        assert set(_SHA256_VALUE.findall(text)) == attachment_refs(data)


def test_pending_attachments_of_saved_records(tmp_path: Path, formset: FormSet) -> None:
    store = open_store(tmp_path / "data")
    sha, other = "a" * 64, "b" * 64
    try:
        with store.Session.begin() as s:
            hazard = dict(inspection()["hazards"][0], photo=sha)
            for data in (inspection(hazards=[hazard]), inspection(inspectors=other)):
                save_record(
                    s,
                    form=formset.get("safety_inspection"),
                    data=data,
                    submit=True,
                    today=dt.date(2026, 11, 28),
                    now=dt.datetime(2026, 11, 28, 2, 0),
                )
        with store.Session() as s:
            uploads, users, missing = S.pending_attachments(s)
        assert uploads == [] and set(users) == {sha, other} and missing == {sha, other}
    finally:
        store.close()
