"""The API fuzzed from its own OpenAPI document (schemathesis, in-process WSGI on the real create_app()).

Requests are generated from /api/v1/openapi.json, valid and invalid ones (schemathesis' positive and negative
modes, its coverage phase's boundary values included), with a device's valid token and without one. Every
answer must be no 5xx and conform to the document: a documented status, content type, headers and body
schema; invalid data must be refused (4xx).

Not checked: that valid data is accepted (positive_data_acceptance). The document states the syntax; some
valid-looking requests are refused for reasons a schema cannot state (an upload's bytes must match its sha256,
op ids must differ within a batch, an Idempotency-Key is used once per body), each documented as a response.

Bounded: a few dozen examples per operation, no deadline; about half a minute for both runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from sync_server.app import create_app
from sync_server.openapi import openapi_document
from sync_server.services.schools import add_school
from sync_server.state import get_state
from tests.server.conftest import (
    BACKENDS,
    PG_ADMIN_URL,
    START,
    MovableClock,
    require_postgres,
    serve,
)

MAX_EXAMPLES = int(os.environ.get("SYNC_FUZZ_EXAMPLES", "30"))  # more for a deeper run by hand


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                # The token is the test's to give or withhold (a generated negation "no Authorization"
                # would be undone by the valid token the first run adds).
                "with-security-parameters": False,
                # OpenAPI does not forbid query parameters it does not list; the server ignores them.
                "allow-extra-parameters": False,
            },
            "checks": {
                "positive_data_acceptance": {"enabled": False},
                # Too many changes in a batch is 413 (documented): a refusal like 400.
                "negative_data_rejection": {
                    "expected-statuses": [
                        "400",
                        "401",
                        "403",
                        "404",
                        "405",
                        "413",
                        "415",
                        "422",
                        "429",
                    ]
                },
            },
        }
    )


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[tuple[Flask, str, str]]:
    """The real app served over loopback (module-wide), with one enrolled device: (app, url, token)."""
    folder = tmp_path_factory.mktemp("openapi-fuzz")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            shutil.copyfile(sqlite_template, folder / "sync.db")
            url = f"sqlite:///{folder / 'sync.db'}"
        else:
            url = stack.enter_context(postgres_schema())
        app = create_app(
            {
                "INSTANCE_PATH": str(folder),
                "DATABASE_URL": url,
                "SECRET_KEY": "openapi-fuzz",
                "CLOCK": MovableClock(),
            }
        )
        stack.callback(lambda: get_state(app).db.close())
        with get_state(app).db.Session.begin() as s:
            code = add_school(s, code="FUZZ", name="模糊测试学校", now=START).enrollment_code
        server, thread = serve(app)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(5)

        stack.callback(stop)
        base = f"http://127.0.0.1:{server.server_port}"
        r = requests.post(
            base + "/api/v1/enroll",
            json={"enrollment_code": code, "device_name": "fuzz"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        yield app, base, r.json()["token"]


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    require_postgres()
    name = "t_" + uuid.uuid4().hex[:16]
    admin = sa.create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


# Generated from the document the server serves (the same function, with this app's default limits;
# test_the_document_is_what_the_server_serves checks that they are equal). schemathesis' lazy
# `from_fixture` loader does not run under pytest 9, so the schema is loaded here and the app passed per call.
schema = schemathesis.openapi.from_dict(openapi_document(), config=_config())

_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_the_document_is_what_the_server_serves(fuzz_server: tuple[Flask, str, str]) -> None:
    _app, base, _token = fuzz_server
    assert requests.get(base + "/api/v1/openapi.json", timeout=10).json() == openapi_document()


@schema.parametrize()
@_SETTINGS
def test_with_a_device_token(case: Any, fuzz_server: tuple[Flask, str, str]) -> None:
    _app, base, token = fuzz_server
    case.call_and_validate(base_url=base, headers={"Authorization": f"Bearer {token}"})


@schema.parametrize()
@_SETTINGS
def test_without_a_valid_token(case: Any, fuzz_server: tuple[Flask, str, str]) -> None:
    _app, base, _token = fuzz_server
    case.call_and_validate(base_url=base)
