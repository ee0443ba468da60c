"""Every answer is JSON from our server: errors have one shape, limits hold with and without Content-Length,
malformed input is a 4xx naming the problem (never a 500), and the OpenAPI document matches the routes."""

from __future__ import annotations

import gzip
import json
import re
import uuid
from typing import Any

import requests

from sync_server.app import create_app
from sync_server.config import DEFAULTS
from sync_server.openapi import openapi_document
from tests.server.conftest import Device, LiveServer, assert_error, change, inspection


def _post(dev: Device, body: bytes, **headers: str) -> requests.Response:
    h = {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
    h.update(headers)
    return dev.http.post(dev.url("/api/v1/push"), data=body, headers=h, timeout=30)


def test_healthz(live_sqlite: LiveServer):
    r = requests.get(live_sqlite.url + "/healthz", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["X-Sync-Server"] == "school-sync/1"


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path):  # type: ignore[no-untyped-def]
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2",
            "AUTO_MIGRATE": False,
            "PUBLISH_SHIPPED_FORMS": False,
        }
    )
    r = app.test_client().get("/healthz")
    assert r.status_code == 503 and r.json is not None
    assert r.json["error"]["code"] == "database_unavailable"


def test_unknown_routes_and_methods_are_json(live_sqlite: LiveServer):
    assert_error(requests.get(live_sqlite.url + "/nothing", timeout=10), 404, "not_found")
    assert_error(
        requests.get(live_sqlite.url + "/api/v1/push", timeout=10), 405, "method_not_allowed"
    )
    r = requests.delete(live_sqlite.url + "/api/v1/enroll", timeout=10)
    assert_error(r, 405)
    assert "POST" in r.headers["Allow"]


def test_malformed_pushes_are_400_naming_the_problem(live_sqlite: LiveServer):
    dev = live_sqlite.device()
    assert_error(_post(dev, b'{"changes": [}'), 400, "bad_json")
    assert_error(_post(dev, b"\xff\xfe\x00garbage"), 400, "bad_json")
    assert_error(_post(dev, b"[" * 100_000 + b"]" * 100_000), 400, "bad_json")
    assert_error(_post(dev, b'{"changes": {}}'), 400, "bad_request")
    assert_error(_post(dev, b"not gzip", **{"Content-Encoding": "gzip"}), 400, "bad_gzip")
    assert_error(_post(dev, b"{}", **{"Content-Encoding": "br"}), 415, "unsupported_encoding")
    cases: list[tuple[str, Any]] = [
        ("op_id", 5),
        ("op_id", "a\x00b"),
        ("form_id", "safety\ninspection"),
        ("revision", 10**20),
        ("base_server_revision", -1),
        ("record_id", "not-a-uuid"),
        ("form_id", None),
        ("kind", "merge"),
        ("revision", "3"),
        ("base_server_revision", True),
        ("data", [1, 2]),
        ("status", 7),
    ]
    for name, value in cases:
        c = change()
        c[name] = value
        err = assert_error(dev.push([c]), 400, "bad_change")
        assert err["details"]["field"] == name and err["details"]["index"] == 0
        assert name in err["message_en"]
    assert_error(dev.push(["x"]), 400, "bad_change")  # type: ignore[list-item]
    r = dev.http.post(dev.url("/api/v1/push"), json={"changes": []}, timeout=10)
    assert_error(r, 400, "missing_idempotency_key")


def test_values_no_database_column_can_hold_are_400(live: LiveServer):
    """On PostgreSQL too: NUL in text and 64-bit-plus integers never reach the database."""
    dev = live.device()
    for name, value in (("op_id", "x\x00"), ("form_version", "2026\x00"), ("revision", 2**40)):
        c = change()
        c[name] = value
        assert_error(dev.push([c]), 400, "bad_change")
    r = requests.post(
        live.url + "/api/v1/enroll",
        json={"enrollment_code": "ABC\x00", "device_name": "x\x00"},
        timeout=10,
    )
    assert_error(r, 400, "bad_request")
    # NUL inside answers is only data: stored (escaped in JSON) or refused by the form engine.
    [res] = dev.push_ok([change(inspection(remarks="a\x00b"))])
    assert res["result"] in ("applied", "rejected")


def test_too_many_changes_is_413(live_sqlite: LiveServer):
    dev = live_sqlite.device()
    most = DEFAULTS["MAX_BATCH_CHANGES"]
    err = assert_error(dev.push([change() for _ in range(most + 1)]), 413, "too_many_changes")
    assert err["details"]["max_changes"] == most


def test_too_many_bytes_is_413_with_and_without_content_length(make_server_for, tmp_path):  # type: ignore[no-untyped-def]
    live = make_server_for(f"sqlite:///{tmp_path / 'limits.db'}", MAX_BATCH_BYTES=50_000)
    dev = live.device()
    big = json.dumps({"changes": [change() for _ in range(80)]}).encode()
    assert len(big) > 50_000
    assert_error(_post(dev, big), 413, "too_large")
    chunks = iter([big[i : i + 8192] for i in range(0, len(big), 8192)])
    assert_error(_post(dev, chunks), 413, "too_large")  # type: ignore[arg-type]
    # A small gzip that inflates past the limit (a "zip bomb") is refused without inflating it all.
    bomb = gzip.compress(b'{"changes": [' + b" " * 10_000_000 + b"]}")
    assert len(bomb) < 50_000
    assert_error(_post(dev, bomb, **{"Content-Encoding": "gzip"}), 413, "too_large")
    # Under the limit it goes through.
    r = dev.push([change() for _ in range(5)])
    assert r.status_code == 200


def test_every_error_shape_has_both_languages(live_sqlite: LiveServer):
    dev = live_sqlite.device()
    seen = set()
    for r in (
        requests.get(live_sqlite.url + "/api/v1/forms", timeout=10),  # 401
        requests.get(live_sqlite.url + "/x", timeout=10),  # 404
        _post(dev, b"{"),  # 400
        dev.push([change() for _ in range(DEFAULTS["MAX_BATCH_CHANGES"] + 1)]),  # 413
    ):
        err = assert_error(r, r.status_code)
        assert re.search(r"[\u4e00-\u9fff]", err["message_zh"])
        seen.add(r.status_code)
    assert seen == {400, 401, 404, 413}


def _route_ops(app: Any) -> set[tuple[str, str]]:
    ops = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"OPTIONS"}:
            if method == "HEAD" and "GET" in rule.methods:
                continue  # Flask answers HEAD for every GET
            ops.add((path, method.lower()))
    return ops


def test_the_openapi_document_lists_exactly_the_routes(live_sqlite: LiveServer):
    r = requests.get(live_sqlite.url + "/api/v1/openapi.json", timeout=10)
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    assert doc == openapi_document()
    documented = {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch", "head"}
    }
    assert documented == _route_ops(live_sqlite.app)
    # Every $ref resolves.
    text = json.dumps(doc)
    for name in re.findall(r'"#/components/schemas/([^"]+)"', text):
        assert name in doc["components"]["schemas"]
