"""Enrollment: a code is single-use and valid 7 days; the token is kept only as a hash; revoked -> 403."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from sync_server import models as M
from sync_server.services.schools import revoke_device
from sync_server.state import get_state
from tests.server.conftest import LiveServer, assert_error, change


def test_a_code_enrolls_one_device_once(live: LiveServer):
    school, code = live.new_school(name="城关镇中心小学")
    r = live.enroll(code.lower().replace("-", " "))  # typed loosely by a clerk
    assert r.status_code == 201, r.text
    assert r.headers.get("Cache-Control") == "no-store"
    body = r.json()
    assert body["school"] == {"code": school, "name": "城关镇中心小学"}
    assert len(body["token"]) >= 40
    with live.session() as s:
        device = s.get(M.Device, body["device_id"])
        assert device is not None and device.name == "教务处电脑" and device.app_version == "0.1.0"
        # Only hashes are kept.
        assert device.token_hash == hashlib.sha256(body["token"].encode()).hexdigest()
        hashes = s.execute(select(M.EnrollmentCode.code_hash)).scalars().all()
        assert code not in hashes and all(len(h) == 64 for h in hashes)
    assert_error(live.enroll(code), 401, "enrollment_code_used")


def test_a_wrong_code_is_401(live: LiveServer):
    live.new_school()
    assert_error(live.enroll("AAA-BBB-CCC"), 401, "enrollment_code_invalid")


def test_a_code_expires_after_7_days(live: LiveServer):
    _, code = live.new_school()
    live.clock.advance(days=7, seconds=1)
    assert_error(live.enroll(code), 401, "enrollment_code_expired")


def test_a_code_is_good_until_then(live: LiveServer):
    _, code = live.new_school()
    live.clock.advance(days=6, hours=23)
    assert live.enroll(code).status_code == 201


def test_a_fresh_code_replaces_the_unused_one(live: LiveServer):
    school, old = live.new_school()
    _, new = live.new_school(school, live.school_name(school))
    assert_error(live.enroll(old), 401, "enrollment_code_replaced")
    assert live.enroll(new).status_code == 201


def test_enroll_refuses_malformed_bodies(live: LiveServer):
    url = live.url + "/api/v1/enroll"
    import requests

    assert_error(requests.post(url, data=b"{not json", timeout=10), 400, "bad_json")
    err = assert_error(requests.post(url, json={"enrollment_code": "X"}, timeout=10), 400)
    assert err["details"]["field"] == "device_name"
    err = assert_error(
        requests.post(url, json={"enrollment_code": 5, "device_name": "x"}, timeout=10), 400
    )
    assert err["details"]["field"] == "enrollment_code"
    assert_error(requests.post(url, json=[1, 2], timeout=10), 400)


def test_guessing_codes_is_slowed_down_with_429(make_server_for, ready_db_url: str):  # type: ignore[no-untyped-def]
    live = make_server_for(ready_db_url, ENROLL_FREE_FAILURES=3)
    _, code = live.new_school()
    for _ in range(4):  # three free, the fourth makes the address wait
        assert live.enroll("AAA-BBB-CCC").status_code == 401
    r = live.enroll(code)  # even the right code waits now (for a client not naming its school)
    assert_error(r, 429, "too_many_requests")
    assert int(r.headers["Retry-After"]) > 0


def test_a_revoked_device_gets_403_and_unknown_tokens_401(live: LiveServer):
    dev = live.device()
    dev.push_ok([change()])
    with get_state(live.app).db.Session.begin() as s:
        revoke_device(s, dev.device_id, now=live.clock())
    assert_error(dev.push([change()]), 403, "device_revoked")
    assert_error(dev.http.get(dev.url("/api/v1/pull"), timeout=10), 403, "device_revoked")
    dev.http.headers["Authorization"] = "Bearer not-a-token"
    r = dev.http.get(dev.url("/api/v1/forms"), timeout=10)
    assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    del dev.http.headers["Authorization"]
    assert_error(dev.http.get(dev.url("/api/v1/forms"), timeout=10), 401, "unauthorized")


def test_last_seen_is_recorded(live: LiveServer):
    dev = live.device()
    live.clock.advance(hours=3)
    dev.pull()
    with live.session() as s:
        device = s.get(M.Device, dev.device_id)
        assert device is not None and device.last_seen_at == live.clock().replace(tzinfo=None)
