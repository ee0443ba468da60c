"""Hostile input (issue 9, part C): every malformed API or dashboard input is a 4xx, the push protocol has no
holes, a device cannot fill the server's disk, and the OpenAPI document says what the server does.

Each case here was first seen as a 500, a silently dropped change or an unbounded file on the server; on
SQLite and PostgreSQL (the `backend` parameter)."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from forms.model import Period
from forms.periods import period_range
from sync_server import models as M
from sync_server.state import get_state
from tests.server.conftest import (
    START,
    Device,
    LiveServer,
    MovableClock,
    assert_error,
    change,
    inspection,
)
from tests.server.dashboard_seed import logged_in, make_app

MAX_INT64 = 2**63 - 1


def _post(dev: Device, body: bytes, **headers: str) -> requests.Response:
    h = {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
    h.update(headers)
    return dev.http.post(dev.url("/api/v1/push"), data=body, headers=h, timeout=30)


def _pull(dev: Device, **params: Any) -> requests.Response:
    return dev.http.get(dev.url("/api/v1/pull"), params=params, timeout=30)


# -- numbers and text no database column can hold ------------------------------------------------------


def test_pull_refuses_cursors_beyond_64_bits_and_limits_beyond_the_documented_maximum(
    live: LiveServer,
) -> None:
    dev = live.device()
    for since in (2**63, 2**70, 10**40, -1, ""):
        err = assert_error(_pull(dev, since=since), 400, "bad_parameter")
        assert err["details"]["parameter"] == "since"
    page = dev.pull(MAX_INT64)
    assert (page["changes"], page["cursor"], page["more"]) == ([], MAX_INT64, False)
    for limit in (1001, 2**64, 0):
        err = assert_error(_pull(dev, limit=limit), 400, "bad_parameter")
        assert err["details"] == {
            "parameter": "limit",
            "value": str(limit),
            "minimum": 1,
            "maximum": 1000,
        }
    assert _pull(dev, limit=1000).status_code == 200
    doc = requests.get(live.url + "/api/v1/openapi.json", timeout=10).json()
    params = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/pull"]["get"]["parameters"]}
    assert params["limit"]["maximum"] == 1000 and params["since"]["maximum"] == MAX_INT64


def test_lone_surrogates_are_refused_wherever_json_comes_in(live: LiveServer) -> None:
    dev = live.device()
    escaped = [
        {"changes": [dict(change(), op_id="\ud800")]},
        {"changes": [change(inspection(inspectors="张伟\udfff"))]},
        {"changes": [change(inspection(**{"\ud83d": "a key"}))]},
    ]
    bodies = [json.dumps(b).encode() for b in escaped]  # ASCII with \\ud800 escapes
    bodies.append(b'{"changes": [{"op_id": "\xed\xa0\x80"}]}')  # a surrogate encoded as if UTF-8
    for body in bodies:
        err = assert_error(_post(dev, body), 400, "bad_json")
        assert "surrogate" in err["message_en"] or "UTF-8" in err["message_en"]
    r = requests.post(
        live.url + "/api/v1/enroll",
        data=json.dumps({"enrollment_code": "ABC-DEF-GHJ", "device_name": "电脑\ud800"}),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert_error(r, 400, "bad_json")
    # A proper pair (an emoji, escaped as two surrogates) is ordinary text.
    body = json.dumps({"changes": [change(inspection(inspectors="张伟 \U0001f600"))]}).encode()
    assert b"\\ud83d\\ude00" in body
    r = _post(dev, body)
    assert r.status_code == 200 and r.json()["results"][0]["result"] == "applied", r.text


def test_nan_and_infinity_are_refused(live: LiveServer) -> None:
    dev = live.device()
    for token in ("NaN", "Infinity", "-Infinity", "1e999", "-1e400"):
        body = json.dumps({"changes": [change(inspection(_note="@"))]}).replace('"@"', token)
        err = assert_error(_post(dev, body.encode()), 400, "bad_json")
        assert "NaN" in err["message_en"] or "finite" in err["message_en"]
    body = json.dumps({"changes": [change(inspection(_note="@"))]}).replace('"@"', "1" * 5000)
    assert_error(_post(dev, body.encode()), 400, "bad_json")  # more digits than int() takes
    assert live.count(M.Record) == 0


def test_control_characters_in_urls_are_400_before_any_query(live: LiveServer) -> None:
    """PostgreSQL text cannot hold NUL: a %00 in a path or a query once reached it as a 500."""
    dev = live.device()
    for path in (
        "/api/v1/forms/safety_inspection/2026%00",
        "/api/v1/forms/a%00b/2026.1",
        "/api/v1/forms/a%1Fb/2026.1",
        "/api/v1/pull?include_own=%00",
    ):
        err = assert_error(dev.http.get(dev.url(path), timeout=10), 400, "bad_url")
        assert "control" in err["message_en"]
    client = logged_in(live.app, "admin1", "admin")
    for url in (
        "/records/x%00y",
        "/records/x%00y/return",
        "/audit?action=a%00b",
        "/audit?actor=%00",
        "/schools?q=%00",
        "/schools/x%00/slip",
        "/forms/a%00/b",
        "/records?form=%00",
    ):
        _bad_page(client, url, "控制字符")
    # A form field holding NUL is refused the same way (the page keeps the CSRF rule first).
    r = client.post("/schools", data={"code": "S9", "name": "a\x00b", "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 400 and "控制字符" in r.text


# -- the push protocol ------------------------------------------------------------------------------


def test_two_changes_with_one_op_id_in_a_batch_are_refused_naming_it(live: LiveServer) -> None:
    dev = live.device()
    first, other = change(op_id="op-1"), change(op_id="op-2")
    second = change(inspection(inspectors="另一条记录"), op_id="op-1")
    err = assert_error(dev.push([first, other, second, dict(other)]), 400, "duplicate_op_id")
    assert err["details"]["op_ids"] == ["op-1", "op-2"]
    assert "op-1" in err["message_en"] and "op-1" in err["message_zh"]
    assert live.count(M.Record) == 0 and live.count(M.AppliedOp) == 0
    # Each one alone goes in.
    assert [r["result"] for r in dev.push_ok([first, other])] == ["applied", "applied"]


def test_an_op_id_used_before_for_another_record_is_refused_not_answered_duplicate(
    live: LiveServer,
) -> None:
    dev = live.device()
    first = change(op_id="op-1")
    dev.push_ok([first])
    other = change(inspection(inspectors="另一条记录"), op_id="op-1")
    [res] = dev.push_ok([other])
    assert res["result"] == "rejected" and res["reason"] == "op_id_in_use"
    assert res["record_id"] == other["record_id"]
    assert live.record(other["record_id"]) is None
    [res] = dev.push_ok([first])  # the same operation again is still a duplicate
    assert res["result"] == "duplicate" and res["record_id"] == first["record_id"]


def test_a_delete_is_checked_against_the_records_form_and_school(live: LiveServer) -> None:
    dev, stranger = live.device(), live.device()
    # A record the server never had, of a form it does not know: nothing to tombstone.
    bogus = change(kind="delete", form_id="no_such_form", form_version="1")
    [res] = dev.push_ok([bogus])
    assert res["result"] == "rejected" and res["reason"] == "unknown_form"
    unknown_version = change(kind="delete", form_version="1999.9")
    [res] = dev.push_ok([unknown_version])
    assert res["result"] == "rejected" and res["reason"] == "unknown_form"
    assert live.count(M.Record) == 0
    # Without a version, a known form's tombstone takes its latest version (the dashboard can show it).
    loose = change(kind="delete")
    del loose["form_version"]
    [res] = dev.push_ok([loose])
    assert res["result"] == "applied" and res["status"] == "deleted"
    tomb = live.record(loose["record_id"])
    assert tomb is not None and tomb.form_version == "2026.1" and tomb.data == {}
    # A record the server has: only its own school, and only as the form it is.
    rid = str(uuid.uuid4())
    dev.push_ok([change(record_id=rid)])
    [res] = dev.push_ok([change(record_id=rid, kind="delete", form_id="teachers", base=1)])
    assert res["reason"] == "form_mismatch"
    [res] = stranger.push_ok([change(record_id=rid, kind="delete", base=1)])
    assert res["reason"] == "other_school"
    [res] = dev.push_ok([change(record_id=rid, kind="delete", revision=2, base=1)])
    assert res["result"] == "applied"
    # The bureau can list and open deleted records.
    client = logged_in(live.app, "reviewer1")
    page = client.get("/records?status=deleted")
    assert page.status_code == 200, page.text
    assert rid in page.text and loose["record_id"] in page.text
    assert client.get(f"/records/{rid}").status_code == 200
    assert client.get(f"/records/{loose['record_id']}").status_code == 200


def test_the_dashboard_lists_a_tombstone_whose_form_it_does_not_know(live: LiveServer) -> None:
    """Left by an older server, which took deletes of any form id."""
    dev = live.device()
    rid = str(uuid.uuid4())
    with live.session() as s, s.begin():
        school_id = s.execute(
            select(M.School.id).where(M.School.code == dev.school_code)
        ).scalar_one()
        s.add(
            M.Record(
                id=rid,
                school_id=school_id,
                form_id="gone_form",
                form_version="",
                status=M.Status.DELETED,
                server_revision=1,
                created_at=START.replace(tzinfo=None),
                updated_at=START.replace(tzinfo=None),
                review_comments={},
                data={},
            )
        )
    client = logged_in(live.app, "reviewer1")
    page = client.get("/records?status=deleted")
    assert page.status_code == 200 and "gone_form" in page.text
    detail = client.get(f"/records/{rid}")
    assert detail.status_code == 404 and "gone_form" in detail.text


def test_json_nests_at_most_64_levels_and_the_dashboard_walks_what_it_takes(
    live: LiveServer,
) -> None:
    """Underscore keys are kept as sent: without a limit, as deep as the parser's recursion allowed (which
    depends on the thread's stack), and every later walk of the data risked a RecursionError (a 500)."""
    dev = live.device()
    c = change(inspection(_deep="@"))
    text = json.dumps({"changes": [c]})  # "_deep" is at level 5: body, changes, change, data, value

    def nested(levels: int) -> bytes:
        return text.replace('"@"', "[" * levels + '"end"' + "]" * levels).encode()

    for levels in (61, 5000):
        err = assert_error(_post(dev, nested(levels)), 400, "bad_json")
        assert "nest deeper than 64" in err["message_en"]
    r = _post(dev, nested(60))
    assert r.status_code == 200 and r.json()["results"][0]["result"] == "applied", r.text
    client = logged_in(live.app, "reviewer1")
    assert client.get("/records").status_code == 200
    assert client.get(f"/records/{c['record_id']}").status_code == 200
    r = client.get(f"/records/{c['record_id']}/files/{'0' * 64}")
    assert r.status_code == 404  # no such file, answered as such
    assert client.get("/export?form=safety_inspection").status_code == 200
    r = _pull(dev, include_own="true")
    assert r.status_code == 200 and '"end"' in r.text


def test_gzip_with_anything_after_the_stream_is_refused(live: LiveServer) -> None:
    dev = live.device()
    body = json.dumps({"changes": [change()]}).encode()
    for raw in (gzip.compress(body) + b"junk", gzip.compress(body) + gzip.compress(b"{}")):
        err = assert_error(_post(dev, raw, **{"Content-Encoding": "gzip"}), 400, "bad_gzip")
        assert "after the gzip stream" in err["message_en"]
    assert live.count(M.Record) == 0
    assert _post(dev, gzip.compress(body), **{"Content-Encoding": "gzip"}).status_code == 200


# -- what a device can store ------------------------------------------------------------------------


def test_a_change_on_a_stale_base_is_validated_and_size_limited_like_any_change(
    live: LiveServer,
) -> None:
    dev = live.device()
    other = live.device(dev.school_code, "另一台电脑")
    rid = str(uuid.uuid4())
    dev.push_ok([change(record_id=rid)])
    [res] = other.push_ok(
        [change(inspection(inspectors="王芳"), record_id=rid, revision=2, base=1)]
    )
    assert res["server_revision"] == 2
    stale = {"record_id": rid, "revision": 2, "base": 1}
    # Data the form engine refuses is refused, stale base or not: nothing is kept.
    [res] = dev.push_ok([change(inspection(inspection_date="not a date"), **stale)])
    assert res["result"] == "rejected" and res["reason"] == "invalid"
    # Megabytes of junk (kept verbatim in an underscore key) are refused like any change.
    junk = inspection(_junk="x" * 1_100_000)
    [res] = dev.push_ok([change(junk, **stale)])
    assert res["result"] == "rejected" and res["reason"] == "too_large"
    assert res["max_bytes"] == 1024 * 1024
    [res] = dev.push_ok([change(junk)])  # a new record too
    assert res["result"] == "rejected" and res["reason"] == "too_large"
    assert live.count(M.Conflict) == 0
    # A valid change on a stale base is a conflict, stored as the engine normalizes it.
    [res] = dev.push_ok([change(inspection(inspectors=" 张伟 "), **stale)])
    assert res["result"] == "conflict"
    # A delete on a stale base keeps no client data.
    [res] = dev.push_ok(
        [dict(change(record_id=rid, kind="delete", base=1), data={"x": "y" * 1000})]
    )
    assert res["result"] == "conflict"
    with live.session() as s:
        conflicts = list(s.execute(select(M.Conflict).order_by(M.Conflict.id)).scalars())
    assert [c.kind for c in conflicts] == ["upsert", "delete"]
    assert conflicts[0].client_data is not None and "_junk" not in conflicts[0].client_data
    assert conflicts[1].client_data is None


def _file(size: int, seed: int) -> tuple[bytes, str]:
    data = random.Random(seed).randbytes(size)
    return data, hashlib.sha256(data).hexdigest()


def _put(dev: Device, sha: str, data: bytes, start: int, total: int) -> requests.Response:
    end = start + len(data) - 1
    return dev.http.put(
        dev.url(f"/api/v1/attachments/{sha}"),
        data=data,
        headers={"Content-Range": f"bytes {start}-{end}/{total}"},
        timeout=30,
    )


def _partials(live: LiveServer) -> list[Path]:
    return sorted(p for p in (live.instance / "attachments").glob("*/partial/*") if p.is_file())


def test_a_content_range_with_thousands_of_digits_is_400(live: LiveServer) -> None:
    dev = live.device()
    data, sha = _file(100, 1)
    for header in (f"bytes 0-99/{'9' * 5000}", f"bytes {'1' * 5000}-0/100", "bytes 0-99/1e2"):
        r = dev.http.put(
            dev.url(f"/api/v1/attachments/{sha}"),
            data=data,
            headers={"Content-Range": header},
            timeout=10,
        )
        assert_error(r, 400, "bad_range")
    r = dev.http.put(
        dev.url(f"/api/v1/attachments/{sha}"),
        data=data,
        headers={"Content-Range": f"bytes 0-99/{'9' * 19}"},  # a number, just too large a file
        timeout=10,
    )
    assert_error(r, 413, "attachment_too_large")


def test_partial_uploads_have_a_quota_per_school(make_server_for: Any, ready_db_url: str) -> None:
    live = make_server_for(ready_db_url, MAX_PARTIAL_UPLOADS=3, MAX_PARTIAL_BYTES=100_000)
    dev, neighbour = live.device(), live.device()
    files = [_file(10_000, seed) for seed in range(5)]
    for data, sha in files[:3]:
        assert _put(dev, sha, data[:1000], 0, len(data)).status_code == 200
    data, sha = files[3]
    r = _put(dev, sha, data[:1000], 0, len(data))
    err = assert_error(r, 429, "upload_quota")
    assert err["details"]["max_uploads"] == 3 and err["details"]["uploads"] == 3
    assert int(r.headers["Retry-After"]) > 0
    # Only this school's partial uploads count; a whole file in one request never stays partial.
    assert _put(neighbour, sha, data[:1000], 0, len(data)).status_code == 200
    small, small_sha = files[4]
    assert _put(dev, small_sha, small, 0, len(small)).status_code == 201
    # Finishing one frees its place.
    first, first_sha = files[0]
    assert _put(dev, first_sha, first[1000:], 1000, len(first)).status_code == 201
    assert _put(dev, sha, data[:1000], 0, len(data)).status_code == 200
    # Bytes count too: the sizes the uploads announced.
    big, big_sha = _file(85_000, 9)
    _put(dev, files[1][1], files[1][0][1000:], 1000, 10_000)  # two partials of 10 kB remain
    err = assert_error(_put(dev, big_sha, big[:1000], 0, len(big)), 429, "upload_quota")
    assert err["details"]["max_bytes"] == 100_000
    assert len(_partials(live)) == 3  # dev: files 2 and 3; neighbour: file 3


def test_complete_uploads_have_a_daily_budget_per_school(
    make_server_for: Any, ready_db_url: str
) -> None:
    """Whole files a device uploads (and never uses) fill the disk as surely as unfinished ones: a school
    may add at most MAX_DAILY_UPLOAD_BYTES in 24 hours (what it is uploading counted as announced)."""
    live = make_server_for(ready_db_url, MAX_DAILY_UPLOAD_BYTES=50_000)
    dev, neighbour = live.device(), live.device()
    files = [_file(20_000, seed) for seed in range(4)]
    for data, sha in files[:2]:
        assert _put(dev, sha, data, 0, len(data)).status_code == 201
    data, sha = files[2]
    r = _put(dev, sha, data, 0, len(data))  # 40 kB today + 20 kB > 50 kB
    err = assert_error(r, 429, "upload_quota")
    assert err["details"]["max_daily_bytes"] == 50_000 and err["details"]["daily_bytes"] == 40_000
    assert r.headers["Retry-After"] == str(24 * 3600)
    r = _put(dev, sha, data[:1000], 0, len(data))  # a part counts the whole file it announces
    assert_error(r, 429, "upload_quota")
    assert _put(neighbour, sha, data, 0, len(data)).status_code == 201  # another school
    live.clock.advance(hours=24, seconds=1)
    assert _put(dev, sha, data, 0, len(data)).status_code == 201
    # A file the school already holds is not uploaded again, whatever the budget.
    assert _put(dev, files[0][1], files[0][0], 0, 20_000).status_code == 200


def test_stale_partial_uploads_expire_and_free_the_quota(
    make_server_for: Any, ready_db_url: str
) -> None:
    live = make_server_for(ready_db_url, MAX_PARTIAL_UPLOADS=2, PARTIAL_UPLOAD_TTL_HOURS=24)
    dev = live.device()
    files = [_file(10_000, seed) for seed in range(3)]
    for data, sha in files[:2]:
        assert _put(dev, sha, data[:1000], 0, len(data)).status_code == 200
    data, sha = files[2]
    r = _put(dev, sha, data[:1000], 0, len(data))
    assert_error(r, 429, "upload_quota")
    assert r.headers["Retry-After"] == str(24 * 3600)
    live.clock.advance(hours=23)
    assert _put(dev, files[1][1], files[1][0][1000:2000], 1000, 10_000).status_code == 200
    live.clock.advance(hours=2)  # file 0 untouched for 25 hours, file 1 for 2
    assert _put(dev, sha, data[:1000], 0, len(data)).status_code == 200
    head = dev.http.head(dev.url(f"/api/v1/attachments/{files[0][1]}"), timeout=10)
    assert head.status_code == 404 and head.headers["Upload-Offset"] == "0"
    r = _put(dev, files[0][1], files[0][0][1000:2000], 1000, 10_000)
    assert_error(r, 409, "offset_mismatch")
    assert r.headers["Upload-Offset"] == "0"
    assert live.count(M.Attachment, M.Attachment.sha256 == files[0][1]) == 0
    assert [p.name for p in _partials(live)] == sorted([files[1][1], sha])


def test_the_cli_removes_stale_partial_uploads(
    make_server_for: Any, ready_db_url: str, tmp_path: Path
) -> None:
    live = make_server_for(ready_db_url)
    dev = live.device()
    (part, part_sha), (whole, whole_sha) = _file(10_000, 1), _file(5_000, 2)
    assert _put(dev, part_sha, part[:1000], 0, len(part)).status_code == 200
    assert _put(dev, whole_sha, whole, 0, len(whole)).status_code == 201
    orphan = live.instance / "attachments" / "999" / "partial" / ("0" * 64)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a crash")
    old = (dt.datetime.now() - dt.timedelta(hours=2)).timestamp()
    os.utime(orphan, (old, old))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sync_server",
            "clean-uploads",
            "--db",
            ready_db_url,
            "--instance",
            str(live.instance),
            "--older-than-hours",
            "0",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "removed_uploads": 1,
        "removed_files": 2,
        "removed_bytes": 1000 + 15,
        "removed_usb_files": 0,  # U盘数据's refused files (none here)
        "removed_usb_bytes": 0,
    }
    assert _partials(live) == []
    assert live.count(M.Attachment, M.Attachment.complete.is_(False)) == 0
    head = dev.http.head(dev.url(f"/api/v1/attachments/{whole_sha}"), timeout=10)
    assert head.status_code == 200  # complete files stay
    bad = subprocess.run(
        [sys.executable, "-m", "sync_server", "clean-uploads", "--older-than-hours", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "older-than-hours" in bad.stderr


# -- the OpenAPI document is the truth --------------------------------------------------------------


def test_the_document_states_the_limits_the_server_enforces(
    make_server_for: Any, ready_db_url: str
) -> None:
    live = make_server_for(ready_db_url, PULL_MAX_LIMIT=50, MAX_BATCH_CHANGES=10)
    doc = requests.get(live.url + "/api/v1/openapi.json", timeout=10).json()
    schemas = doc["components"]["schemas"]
    enroll = schemas["EnrollRequest"]["properties"]
    assert enroll["device_name"]["minLength"] == 1 and enroll["device_name"]["maxLength"] == 100
    assert schemas["PushRequest"]["properties"]["changes"]["maxItems"] == 10
    params = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/pull"]["get"]["parameters"]}
    assert params["limit"]["maximum"] == 50
    dev = live.device()
    assert_error(_pull(dev, limit=51), 400, "bad_parameter")
    assert_error(dev.push([change() for _ in range(11)]), 413, "too_many_changes")
    for name in ("", "   ", "\t"):
        r = requests.post(
            live.url + "/api/v1/enroll",
            json={"enrollment_code": "ABC-DEF-GHJ", "device_name": name},
            timeout=10,
        )
        assert_error(r, 400, "bad_request")


# -- the dashboard ----------------------------------------------------------------------------------


@pytest.fixture
def staff_client(ready_db_url: str, tmp_path: Path) -> Iterator[tuple[Flask, FlaskClient]]:
    app = make_app(ready_db_url, tmp_path / "instance", MovableClock(START), LOGIN_FAILURE_DELAY=0)
    yield app, logged_in(app, "admin1", "admin")
    get_state(app).db.close()


def _bad_page(client: FlaskClient, url: str, *words: str) -> None:
    r = client.get(url)
    assert r.status_code == 400, (url, r.status_code)
    assert r.mimetype == "text/html"
    for word in words:
        assert word in r.text, (url, word)


def test_dashboard_numbers_beyond_64_bits_are_a_clear_400_page(
    staff_client: tuple[Flask, FlaskClient],
) -> None:
    _app, client = staff_client
    for value in (str(2**63), str(2**70), "-" + str(2**63 + 1), "abc", "1.5"):
        _bad_page(client, f"/records?school={value}", "school")
        _bad_page(client, f"/audit?before={value}", "before")
    _bad_page(client, f"/records?school={2**31}", "school")  # schools.id is an INTEGER
    assert client.get(f"/records?school={2**31 - 1}").status_code == 200
    assert client.get(f"/records?school=-{2**31}").status_code == 200
    assert client.get(f"/audit?before={MAX_INT64}").status_code == 200  # audit_log.id a BIGINT
    assert client.get(f"/audit?before=-{2**63}").status_code == 200
    assert client.get(f"/records?page={2**70}").status_code == 200  # past the end: the last page


def test_periods_past_the_calendar_are_a_400_page(staff_client: tuple[Flask, FlaskClient]) -> None:
    _app, client = staff_client
    for url in (
        "/?period=9999-W52",
        "/?form=after_school_service&period=9999-W52",
        "/overview.xlsx?form=after_school_service&period=9999-W52",
        "/?form=after_school_service&period=2026-W99",
        "/?form=safety_inspection&period=9999-12",
    ):
        _bad_page(client, url, "period")
    assert client.get("/?form=after_school_service&period=2026-W48").status_code == 200
    r = client.get("/records?form=after_school_service&period=9999-W52", follow_redirects=True)
    assert r.status_code == 200  # the list drops a bad period filter with a warning


def test_period_keys_name_only_dates_the_calendar_holds() -> None:
    for period, key in (
        (Period.WEEKLY, "9999-W52"),
        (Period.DAILY, "9999-12-31"),
        (Period.MONTHLY, "9999-12"),
        (Period.SEMESTER, "9999-autumn"),
        (Period.YEARLY, "9999"),
        (Period.WEEKLY, "0001-W01"),
    ):
        with pytest.raises(ValueError):
            period_range(period, key)
    assert period_range(Period.WEEKLY, "2026-W48") == (dt.date(2026, 11, 23), dt.date(2026, 11, 29))
