"""Attachments: HEAD says how much the server holds; PUT appends at that offset; the sha256 is verified."""

from __future__ import annotations

import hashlib
import random

from sync_server import models as M
from tests.server.conftest import Device, LiveServer, assert_error, change, inspection


def _file(size: int, seed: int = 1) -> tuple[bytes, str]:
    data = random.Random(seed).randbytes(size)
    return data, hashlib.sha256(data).hexdigest()


def _put(dev: Device, sha: str, data: bytes, start: int, total: int):  # type: ignore[no-untyped-def]
    end = start + len(data) - 1
    return dev.http.put(
        dev.url(f"/api/v1/attachments/{sha}"),
        data=data,
        headers={"Content-Range": f"bytes {start}-{end}/{total}"},
        timeout=30,
    )


def _head(dev: Device, sha: str):  # type: ignore[no-untyped-def]
    return dev.http.head(dev.url(f"/api/v1/attachments/{sha}"), timeout=10)


def test_an_upload_resumes_from_the_offset_the_server_reports(live: LiveServer):
    dev = live.device()
    data, sha = _file(300_000)
    r = _head(dev, sha)
    assert r.status_code == 404 and r.headers["Upload-Offset"] == "0"
    half = 150_000
    r = _put(dev, sha, data[:half], 0, len(data))
    assert r.status_code == 200, r.text
    assert r.json() == {"sha256": sha, "offset": half, "size": len(data), "complete": False}
    r = _head(dev, sha)  # the link dropped; ask where to go on
    assert r.status_code == 404 and r.headers["Upload-Offset"] == str(half)
    # A chunk from the wrong place is refused with the right offset.
    r = _put(dev, sha, data[1000:2000], 1000, len(data))
    err = assert_error(r, 409, "offset_mismatch")
    assert r.headers["Upload-Offset"] == str(half) and err["details"]["offset"] == half
    r = _put(dev, sha, data[half:], half, len(data))
    assert r.status_code == 201, r.text
    assert r.json()["complete"] is True
    assert _head(dev, sha).status_code == 200
    stored = live.instance / "attachments"
    assert [p.read_bytes() for p in stored.rglob(sha)] == [data]
    assert live.count(M.Attachment, M.Attachment.sha256 == sha, M.Attachment.complete) == 1
    # Sending it again is harmless.
    assert _put(dev, sha, data, 0, len(data)).status_code == 200


def test_a_file_that_does_not_match_its_sha256_is_dropped(live: LiveServer):
    dev = live.device()
    data, sha = _file(50_000)
    bad = bytearray(data)
    bad[-1] ^= 0xFF
    assert _put(dev, sha, bytes(bad[:20_000]), 0, len(data)).status_code == 200
    r = _put(dev, sha, bytes(bad[20_000:]), 20_000, len(data))
    err = assert_error(r, 422, "sha256_mismatch")
    assert err["details"]["expected"] == sha
    r = _head(dev, sha)
    assert r.status_code == 404 and r.headers["Upload-Offset"] == "0"
    assert live.count(M.Attachment, M.Attachment.sha256 == sha) == 0
    assert _put(dev, sha, data, 0, len(data)).status_code == 201  # and the right bytes go in


def test_a_school_cannot_see_another_schools_files(live: LiveServer):
    a, b = live.device(), live.device()
    data, sha = _file(10_000)
    assert _put(b, sha, data, 0, len(data)).status_code == 201
    r = _head(a, sha)
    assert r.status_code == 404 and r.headers["Upload-Offset"] == "0"
    # School A's record cannot lean on school B's photo either.
    hazard = dict(inspection()["hazards"][0], photo=sha)
    [res] = a.push_ok([change(inspection(hazards=[hazard]))])
    assert res["result"] == "rejected" and res["reason"] == "missing_attachments"
    assert res["problems"][0]["path"] == "hazards[0].photo"
    assert res["problems"][0]["code"] == "attachment_missing"
    # Once A uploads it too, the record goes in.
    assert _put(a, sha, data, 0, len(data)).status_code == 201
    [res] = a.push_ok([change(inspection(hazards=[hazard]))])
    assert res["result"] == "applied"


def test_a_record_is_not_taken_before_its_photo_is_complete(live: LiveServer):
    dev = live.device()
    data, sha = _file(20_000)
    _put(dev, sha, data[:5_000], 0, len(data))
    hazard = dict(inspection()["hazards"][0], photo=sha)
    [res] = dev.push_ok([change(inspection(hazards=[hazard]))])
    assert res["reason"] == "missing_attachments"
    [res] = dev.push_ok([change(inspection(hazards=[dict(hazard, photo="photo.jpg")]))])
    assert res["problems"][0]["code"] == "attachment_ref"


def test_upload_limits_and_bad_requests(make_server_for, ready_db_url: str):  # type: ignore[no-untyped-def]
    live = make_server_for(ready_db_url, MAX_ATTACHMENT_BYTES=100_000)
    dev = live.device()
    data, sha = _file(1_000)
    assert_error(_put(dev, sha, data, 0, 200_000), 413, "attachment_too_large")
    assert_error(_put(dev, "not-a-sha", data, 0, len(data)), 400, "bad_sha256")
    r = dev.http.put(
        dev.url(f"/api/v1/attachments/{sha}"),
        data=data,
        headers={"Content-Range": "bytes 0-5/1000"},
        timeout=10,
    )
    assert_error(r, 400, "bad_range")
    r = dev.http.put(
        dev.url(f"/api/v1/attachments/{sha}"),
        data=data,
        headers={"Content-Range": "items 1-2"},
        timeout=10,
    )
    assert_error(r, 400, "bad_range")
    # Without Content-Range the body is the whole file.
    r = dev.http.put(dev.url(f"/api/v1/attachments/{sha}"), data=data, timeout=10)
    assert r.status_code == 201
    # Without Content-Length too (chunked), the range says how much.
    other, other_sha = _file(3_000, seed=2)
    r = dev.http.put(
        dev.url(f"/api/v1/attachments/{other_sha}"),
        data=iter([other[:1000], other[1000:]]),
        headers={"Content-Range": f"bytes 0-2999/{len(other)}"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
