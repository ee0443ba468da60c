"""The sync over a bad link (the fault proxy in front of the real server) and behind a captive portal."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from client.store import sync_state as S
from client.store.models import Attachment, SyncBatch
from client.store.prefs import set_setting
from client.sync.engine import SyncEngine
from client.sync.errors import ErrorKind, SyncError
from client.sync.state import Phase, SyncProgress
from sync_server import models as M
from sync_server.state import get_state
from tests.support.faultproxy import CaptivePortal, Fault, FaultProxy
from tests.sync.conftest import Client, ClientFactory, LiveServer, inspection, photo_file

PUSH = b"POST /api/v1/push"


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", live_server.port)) as p:
        yield p


def enrolled_via(
    make_client: ClientFactory, server: LiveServer, proxy: FaultProxy, **kw: object
) -> tuple[Client, str]:
    """A client enrolled through the proxy, its kept-alive connections then closed, so the next
    connection it opens is the one a planned fault hits."""
    school_code, code = server.new_school()
    client = make_client(**kw)
    client.engine.enroll(proxy.url, code)
    client.http.close()
    return client, school_code


def push_answers(client: Client) -> list[dict[str, str]]:
    """The headers of every answer to a push our server gave (a cut answer may parse as a stub)."""
    return [
        dict(r.headers)
        for r in client.responses
        if r.request.method == "POST"
        and r.request.path_url.endswith("/push")
        and "X-Sync-Server" in r.headers
    ]


def test_an_answer_cut_mid_response_is_retried_with_the_same_key_and_nothing_doubles(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy
):
    client, school = enrolled_via(make_client, live_server, proxy)
    ids = {client.save(inspection(inspectors=f"检查员{i}")) for i in range(3)}
    proxy.plan(Fault(cut_down_after=40, trigger=PUSH))  # the server commits; its answer is lost

    result = client.engine.sync()

    assert proxy.stats.cuts == 1
    assert len(client.sleeps.waits) == 1  # one retry, after a backoff the engine asked for
    assert result.complete and result.pushed == 3
    records = live_server.school_records(school)
    assert {r.id for r in records} == ids and all(r.server_revision == 1 for r in records)
    assert live_server.count(M.AppliedOp, M.AppliedOp.record_id.in_(ids)) == 3
    answers = push_answers(client)
    assert (
        len(answers) == 1 and answers[0].get("Idempotent-Replayed") == "true"
    )  # the stored answer
    assert client.unsent() == 0


def test_a_push_replayed_after_losing_the_answer_gets_the_stored_answer_even_after_a_restart(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy
):
    client, school = enrolled_via(make_client, live_server, proxy, attempts=1)
    ids = {client.save(inspection(inspectors=f"检查员{i}")) for i in range(2)}
    proxy.plan(Fault(cut_down_after=10, trigger=PUSH, reset=True))
    with pytest.raises(SyncError) as failed:
        client.engine.sync()
    assert failed.value.kind is ErrorKind.NETWORK
    # The server applied the batch; the client knows nothing of it yet but keeps the batch it sent.
    assert {r.id for r in live_server.school_records(school)} == ids
    assert client.unsent() == 2
    with client.Session() as s:
        kept = s.execute(select(SyncBatch)).scalars().all()
        assert len(kept) == 1
        key = kept[0].key
        assert S.sync_status(s).last_problem["kind"] == "network"

    # "Restart": a new engine over the same store sends the kept batch again, same key, same body.
    restarted = SyncEngine(client.ctx, client.http, sleep=client.sleeps)
    result = restarted.sync()

    assert result.complete and result.pushed == 2
    answers = push_answers(client)
    assert answers[-1].get("Idempotent-Replayed") == "true"
    sent_keys = [
        r.request.headers["Idempotency-Key"]
        for r in client.responses
        if r.request.path_url.endswith("/push")
    ]
    assert sent_keys == [key]  # the cut request never got a response object; the replay did
    assert len(live_server.school_records(school)) == 2
    with live_server.session() as s:
        device = s.execute(select(M.Device.id).join(M.School).where(M.School.code == school))
        device_id = device.scalar_one()
    assert live_server.count(M.IdempotencyKey, M.IdempotencyKey.device_id == device_id) == 1
    with client.Session() as s:
        assert s.execute(select(SyncBatch)).first() is None
        assert S.sync_status(s).last_problem is None


def test_a_slow_link_still_completes_and_progress_never_goes_backwards(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy, tmp_path: Path
):
    client, school = enrolled_via(make_client, live_server, proxy, chunk_size=16 * 1024)
    sha = client.add_photo(photo_file(tmp_path, 60_000, seed=3))
    hazard = dict(inspection()["hazards"][0], photo=sha)  # type: ignore[index]
    client.save(inspection(hazards=[hazard]))
    for i in range(10):
        client.save(inspection(inspectors=f"检查员{i}"))
    proxy.default = Fault(bandwidth=48_000, latency=0.02)
    seen: list[SyncProgress] = []

    result = client.engine.sync(progress=seen.append)

    assert result.complete and result.pushed == 11 and result.uploaded == 1
    assert len(live_server.school_records(school)) == 11
    for phase in (Phase.ATTACHMENTS, Phase.PUSH):
        done = [p.done for p in seen if p.phase is phase]
        assert done and done == sorted(done), phase
    assert [p.done for p in seen if p.phase is Phase.ATTACHMENTS][-1] == 60_000


def test_a_black_hole_times_out_as_network_and_nothing_is_marked_sent(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy
):
    client, school = enrolled_via(make_client, live_server, proxy, attempts=2, read_timeout=0.3)
    client.save(inspection())
    client.save(inspection(inspectors="王五"))
    proxy.default = Fault(black_hole=True)

    with pytest.raises(SyncError) as failed:
        client.engine.sync()

    assert failed.value.kind is ErrorKind.NETWORK
    assert "did not answer in time" in failed.value.message_en
    assert client.sleeps.waits and len(client.sleeps.waits) == 1
    assert client.unsent() == 2
    assert live_server.school_records(school) == []
    with client.Session() as s:
        status = S.sync_status(s)
    assert status.pending == 2 and status.last_sync_at is None
    assert status.last_problem is not None and status.last_problem["kind"] == "network"

    proxy.default = Fault()  # the link comes back
    assert client.engine.sync().complete
    assert len(live_server.school_records(school)) == 2


def test_a_captive_portal_page_is_a_network_error_and_nothing_is_marked_sent(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
):
    school, code = live_server.new_school()
    client = make_client(attempts=2)
    client.engine.enroll(live_server.url, code)
    sha = client.add_photo(photo_file(tmp_path, 20_000, seed=5))
    hazard = dict(inspection()["hazards"][0], photo=sha)  # type: ignore[index]
    client.save(inspection(hazards=[hazard]))
    client.save(inspection(inspectors="王五"))

    with CaptivePortal() as portal:
        # The school's gateway now answers for every address: 200 and a login page.
        with client.Session.begin() as s:
            set_setting(s, S.K_SERVER_URL, portal.url)
        with pytest.raises(SyncError) as failed:
            client.engine.sync()
        assert portal.hits >= 1

    assert failed.value.kind is ErrorKind.NETWORK
    assert "login" in failed.value.message_en
    assert client.unsent() == 2
    with client.Session() as s:
        assert s.get(Attachment, sha).uploaded_at is None  # its HEAD 200 was not believed
    assert live_server.school_records(school) == []

    with client.Session.begin() as s:
        set_setting(s, S.K_SERVER_URL, live_server.url)
    result = client.engine.sync()
    assert result.complete and result.uploaded == 1 and result.pushed == 2


def test_an_attachment_upload_cut_midway_resumes_where_the_server_stopped(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy, tmp_path: Path
):
    client, school = enrolled_via(make_client, live_server, proxy, chunk_size=64 * 1024)
    size = 400_000
    source = photo_file(tmp_path, size, seed=9)
    sha = client.add_photo(source)
    hazard = dict(inspection()["hazards"][0], photo=sha)  # type: ignore[index]
    rid = client.save(inspection(hazards=[hazard]))
    # Cut the third chunk's request 30 kB into its bytes: the server holds the first two chunks.
    proxy.plan(Fault(cut_up_after=30_000, trigger=b"Content-Range: bytes 131072-"))

    result = client.engine.sync()

    assert proxy.stats.cuts == 1
    assert result.complete and result.uploaded == 1 and result.pushed == 1
    heads = [
        int(r.headers["Upload-Offset"]) for r in client.responses if r.request.method == "HEAD"
    ]
    # Resumed from what had arrived, not from 0. (The server's HEAD may still count bytes of the cut PUT
    # it has not dropped yet; its 409 then gives the true offset.)
    assert heads[0] == 0 and heads[1] >= 128 * 1024
    stored_bytes = sum(
        len(r.request.body or b"")
        for r in client.responses
        if r.request.method == "PUT" and r.status_code in (200, 201)
    )
    assert stored_bytes == size  # no byte was stored twice
    stored = get_state(live_server.app).attachments
    with live_server.session() as s:
        school_id = s.execute(select(M.School.id).where(M.School.code == school)).scalar_one()
    on_disk = stored.path(school_id, sha).read_bytes()
    assert (
        hashlib.sha256(on_disk).hexdigest()
        == sha
        == hashlib.sha256(source.read_bytes()).hexdigest()
    )
    assert [r.id for r in live_server.school_records(school)] == [rid]
