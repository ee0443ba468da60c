"""Whatever JSON a device sends, the answer is ours and never a 500 (Hypothesis, in-process test client)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_server.app import create_app
from sync_server.services.schools import add_school
from sync_server.state import get_state
from tests.server.conftest import START, MovableClock, change, inspection

# Text with lone surrogates too (json.dumps escapes them as \\ud800) and floats with NaN and infinities
# (json.dumps writes NaN, Infinity): both are refused with 400, once found as 500s.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = [
    "op_id",
    "record_id",
    "form_id",
    "form_version",
    "kind",
    "revision",
    "base_server_revision",
    "data",
]


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[FlaskClient, str]]:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copyfile(sqlite_template, folder / "sync.db")
    app = create_app(
        {
            "INSTANCE_PATH": str(folder),
            "DATABASE_URL": f"sqlite:///{folder / 'sync.db'}",
            "CLOCK": MovableClock(),
        }
    )
    with get_state(app).db.Session.begin() as s:
        code = add_school(s, code="FUZZ", name="模糊测试学校", now=START).enrollment_code
    c = app.test_client()
    r = c.post("/api/v1/enroll", json={"enrollment_code": code, "device_name": "fuzz"})
    assert r.status_code == 201
    yield c, r.json["token"]  # type: ignore[index]
    get_state(app).db.close()


def _push(client: FlaskClient, token: str, body: bytes) -> Any:
    return client.post(
        "/api/v1/push",
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": str(uuid.uuid4()),
            "Content-Type": "application/json",
        },
    )


def _check(r: Any) -> None:
    assert r.status_code < 500, r.data
    assert r.headers["X-Sync-Server"] == "school-sync/1"
    assert r.is_json


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=json_values)
def test_any_json_body(client: tuple[FlaskClient, str], body: Any) -> None:
    c, token = client
    _check(_push(c, token, json.dumps(body).encode()))


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(FIELDS), value=json_values)
def test_any_value_in_any_field(client: tuple[FlaskClient, str], name: str, value: Any) -> None:
    c, token = client
    item = change()
    item[name] = value
    r = _push(c, token, json.dumps({"changes": [item]}).encode())
    _check(r)
    if r.status_code == 200:
        assert r.json["results"][0]["op_id"] == item["op_id"]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(answers=st.dictionaries(st.sampled_from(sorted(inspection())), json_values, max_size=5))
def test_any_answers_are_checked_by_the_engine(
    client: tuple[FlaskClient, str], answers: dict[str, Any]
) -> None:
    c, token = client
    r = _push(c, token, json.dumps({"changes": [change(inspection(**answers))]}).encode())
    _check(r)
    if _not_json_text(answers):
        assert r.status_code == 400 and r.json["error"]["code"] == "bad_json"
        return
    assert r.status_code == 200
    assert r.json["results"][0]["result"] in ("applied", "rejected")


def _not_json_text(value: Any) -> bool:
    """NaN or an infinity (not JSON numbers), or a lone surrogate (not Unicode text)."""
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return True
    return False


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_any_bytes(client: tuple[FlaskClient, str], raw: bytes) -> None:
    c, token = client
    _check(_push(c, token, raw))
