"""A photo no longer blocks the text, and photos go up over links that drop (issue 10).

Before: every attachment went up before any record was pushed, in 256 KiB chunks. Over 64 kbit/s the first
text record waited 38-64 s behind a 400 KB photo; over a link that dropped every 20 s no 256 KiB chunk (32 s)
ever completed, so nothing at all arrived. Now records without pending attachments are pushed first; photos go
up in chunks sized to the measured link, each resumed from the server's offset; a record that uses a photo is
pushed once its photo is complete (never before); the clerk sees which file and how many of its bytes.

Slow links are scaled down: a byte budget per connection (the proxy cuts it after N bytes up) stands for "the
link drops every 20 s"; one test uses real time, a fast link dropped every second.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from client.store import sync_state as S
from client.sync.errors import ErrorKind, SyncError
from client.sync.state import Phase, SyncProgress
from client.sync.upload import FIRST_CHUNK, MIN_CHUNK, ChunkSizer
from sync_server import models as M
from sync_server.state import get_state
from tests.support.faultproxy import Fault, FaultProxy, PeriodicCuts
from tests.support.served import cli, start_served
from tests.sync.conftest import Client, ClientFactory, LiveServer, inspection, photo_file

PUT = b"PUT /api/v1/attachments"


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", live_server.port)) as p:
        yield p


def enrolled(
    make_client: ClientFactory, server: LiveServer, url: str, **kw: Any
) -> tuple[Client, str]:
    school, code = server.new_school()
    client = make_client(**kw)
    client.engine.enroll(url, code)
    client.http.close()  # the next request opens a new connection (through the proxy's faults)
    return client, school


def with_photo(client: Client, source: Path) -> tuple[str, str]:
    """A record whose hazard has this photo: (record id, the photo's sha256)."""
    sha = client.add_photo(source)
    hazard = dict(inspection()["hazards"][0], photo=sha)  # type: ignore[index]
    return client.save(inspection(hazards=[hazard])), sha


def texts(client: Client, n: int) -> set[str]:
    return {client.save(inspection(inspectors=f"检查员{i}")) for i in range(n)}


def pushed_ids(response: requests.Response) -> set[str]:
    body = response.request.body
    assert isinstance(body, bytes)
    return {c["record_id"] for c in json.loads(gzip.decompress(body))["changes"]}


def on_server(server: LiveServer, school: str) -> set[str]:
    return {r.id for r in server.school_records(school)}


def server_file(server: LiveServer, school: str, sha: str) -> bytes:
    with server.session() as s:
        school_id = s.execute(select(M.School.id).where(M.School.code == school)).scalar_one()
    return get_state(server.app).attachments.path(school_id, sha).read_bytes()


def stored_put_bytes(client: Client) -> int:
    """Bytes of the PUTs the server answered 200/201: each stored once."""
    return sum(
        len(r.request.body or b"")
        for r in client.responses
        if r.request.method == "PUT" and r.status_code in (200, 201)
    )


# -- the order: text first, photos, then the records that use them ---------------------------------------


def test_records_without_photos_are_pushed_before_a_photo_and_its_record_after_it(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
):
    client, school = enrolled(make_client, live_server, live_server.url, chunk_size=None)
    before = texts(client, 2)
    photo_rid, sha = with_photo(client, photo_file(tmp_path, 200_000, seed=11))
    after = texts(client, 1) | {client.save(inspection(inspectors="没有照片"))}

    result = client.engine.sync()

    assert result.complete and result.pushed == 5 and result.uploaded == 1
    calls = [(r.request.method, r.request.path_url, r) for r in client.responses]
    pushes = [i for i, (m, p, _) in enumerate(calls) if m == "POST" and p.endswith("/push")]
    puts = [i for i, (m, _, _) in enumerate(calls) if m == "PUT"]
    assert pushes and puts
    assert pushes[0] < puts[0]  # the text went first ...
    first = pushed_ids(calls[pushes[0]][2])
    assert (
        first == before | after
    )  # ... all of it, and not the record whose photo was not there yet
    photo_push = next(i for i in pushes if photo_rid in pushed_ids(calls[i][2]))
    assert (
        photo_push > puts[-1] and calls[puts[-1]][2].status_code == 201
    )  # after its photo was whole
    assert on_server(live_server, school) == before | after | {photo_rid}
    assert hashlib.sha256(server_file(live_server, school, sha)).hexdigest() == sha


def test_text_records_arrive_although_no_photo_chunk_gets_through(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy, tmp_path: Path
):
    client, school = enrolled(make_client, live_server, proxy.url, attempts=2, chunk_size=None)
    text_ids = texts(client, 3)
    photo_rid, _ = with_photo(client, photo_file(tmp_path, 100_000, seed=12))
    proxy.default = Fault(cut_up_after=2_000, trigger=PUT)  # every upload breaks 2 kB in

    with pytest.raises(SyncError) as failed:
        client.engine.sync()

    assert failed.value.kind is ErrorKind.NETWORK
    assert on_server(live_server, school) == text_ids  # the text arrived; the photo's record waits
    assert client.unsent() == 1

    proxy.default = Fault()  # the link is good again
    result = client.engine.sync()
    assert result.complete and result.uploaded == 1 and result.pushed == 1
    assert on_server(live_server, school) == text_ids | {photo_rid}


# -- chunks sized to the link -----------------------------------------------------------------------------


def test_a_photo_goes_up_over_a_link_that_drops_before_a_256_kib_chunk_could_complete(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy, tmp_path: Path
):
    client, school = enrolled(make_client, live_server, proxy.url, attempts=3)
    text_ids = texts(client, 2)
    size = 400_000
    source = photo_file(tmp_path, size, seed=13)
    photo_rid, sha = with_photo(client, source)
    # A connection carries 48 kB up, then drops (64 kbit/s dropping every 20 s carries about 160 kB, and the
    # old chunks were 256 KiB): scaled down, a link on which no old chunk can ever complete.
    proxy.default = Fault(cut_up_after=48_000)

    client.engine.chunk_size = 256 * 1024  # the old fixed chunks: not one completes
    with pytest.raises(SyncError) as failed:
        client.engine.sync()
    assert failed.value.kind is ErrorKind.NETWORK
    assert stored_put_bytes(client) == 0
    assert on_server(live_server, school) == text_ids  # (the text went first all the same)

    client.engine.chunk_size = None  # sized to the measured link
    cuts_before = proxy.stats.cuts
    result = client.engine.sync()

    assert result.complete and result.uploaded == 1 and result.pushed == 1
    assert proxy.stats.cuts > cuts_before  # the link broke under it, and it went on
    assert stored_put_bytes(client) == size  # every chunk resumed where the server stopped
    assert server_file(live_server, school, sha) == source.read_bytes()
    assert on_server(live_server, school) == text_ids | {photo_rid}


def test_a_photo_goes_up_over_a_fast_link_that_drops_every_second(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy, tmp_path: Path
):
    client, school = enrolled(make_client, live_server, proxy.url, attempts=6, chunk_size=None)
    text_ids = texts(client, 2)
    size = 150_000
    photo_rid, sha = with_photo(client, photo_file(tmp_path, size, seed=14))
    proxy.default = Fault(bandwidth=64_000, latency=0.01)

    with PeriodicCuts(proxy, every=1.0) as cuts:
        result = client.engine.sync()

    assert result.complete and result.uploaded == 1
    assert on_server(live_server, school) == text_ids | {photo_rid}
    # No byte stored twice: the stored chunks the client was told about add up to at most the photo (a
    # chunk stored whose answer the cut lost is not counted here; the client resumed after it, from the
    # server's offset, instead of sending it again). Equality held only when no answer was lost.
    assert stored_put_bytes(client) <= size
    assert hashlib.sha256(server_file(live_server, school, sha)).hexdigest() == sha
    assert cuts.count >= 1


def test_a_chunk_over_the_servers_limit_is_sent_again_smaller(
    make_client: ClientFactory, tmp_path: Path
):
    """A server configured for smaller chunks (`max_upload_chunk_bytes`; its door answers 413 with
    details.max_bytes from the request head): the client follows it. The real `sync-server serve`."""
    limit = 20_000
    served = start_served(
        tmp_path / "instance",
        f"sqlite:///{tmp_path / 'server.db'}",
        config={"max_upload_chunk_bytes": limit},
    )
    try:
        made = cli(served.instance, served.db_url, "add-school", "--code", "S1", "--name", "一小")
        client = make_client(chunk_size=None)
        client.engine.enroll(served.url, made["enrollment_code"])
        size = 120_000
        source = photo_file(tmp_path, size, seed=15)
        _, sha = with_photo(client, source)

        result = client.engine.sync()

        assert result.complete and result.uploaded == 1 and result.pushed == 1
        puts = [r for r in client.responses if r.request.method == "PUT"]
        assert puts[0].status_code == 413 and len(puts[0].request.body or b"") > limit
        assert all(len(r.request.body or b"") <= limit for r in puts[1:])
        assert stored_put_bytes(client) == size
        held = served.instance / "attachments"
        assert [p.read_bytes() for p in held.rglob(sha)] == [source.read_bytes()]
    finally:
        assert "Traceback" not in served.stop()


# -- what the clerk sees --------------------------------------------------------------------------------


def test_progress_names_the_file_and_counts_its_bytes_from_the_servers_offset(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
):
    client, school = enrolled(make_client, live_server, live_server.url, chunk_size=None)
    size = 300_000
    source = tmp_path / "教室后墙裂缝.jpg"
    shutil.copy(photo_file(tmp_path, size, seed=16), source)
    _, sha = with_photo(client, source)
    # An earlier sync sent the first 64 KiB before the link broke.
    with client.Session() as s:
        enrollment = S.get_enrollment(s)
    assert enrollment is not None
    first = source.read_bytes()[: 64 * 1024]
    r = requests.put(
        f"{live_server.url}/api/v1/attachments/{sha}",
        data=first,
        headers={
            "Authorization": f"Bearer {enrollment.device_token}",
            "Content-Range": f"bytes 0-{len(first) - 1}/{size}",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    seen: list[SyncProgress] = []

    result = client.engine.sync(progress=seen.append)

    assert result.complete
    ups = [p for p in seen if p.phase is Phase.ATTACHMENTS]
    assert ups and all(p.item == "教室后墙裂缝.jpg" and p.item_total == size for p in ups)
    offsets = [p.item_done for p in ups]
    assert offsets[0] == 64 * 1024  # resumed: what the server already held counts as done
    assert offsets == sorted(offsets) and offsets[-1] == size
    assert [p.done for p in ups] == offsets and ups[-1].total == size
    assert stored_put_bytes(client) == size - 64 * 1024
    assert on_server(live_server, school)


# -- the chunk sizer alone ------------------------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_sizer_aims_at_a_few_seconds_per_chunk_on_the_measured_link():
    ticks = Ticks()
    sizer = ChunkSizer(monotonic=ticks)
    assert sizer.size == FIRST_CHUNK
    for _ in range(10):  # 64 kbit/s: 8,000 bytes a second
        sizer.arrived(sizer.size, sizer.size / 8_000)
    assert 24_000 <= sizer.size <= 40_000  # about 4 s of the link
    for _ in range(3):  # it drops every 10 s
        ticks.now += 10
        sizer.broke()
    for _ in range(10):
        sizer.arrived(sizer.size, sizer.size / 8_000)
    assert MIN_CHUNK <= sizer.size <= 20_000  # a fifth of that: about 2 s
    sizer = ChunkSizer(monotonic=ticks)
    for _ in range(10):  # 1 MB/s
        sizer.arrived(sizer.size, sizer.size / 1_000_000)
    assert sizer.size == sizer.largest  # the most one PUT may carry, not more
    grown = []
    sizer = ChunkSizer(monotonic=ticks)
    for _ in range(4):
        sizer.arrived(sizer.size, 0.001)
        grown.append(sizer.size)
    assert grown == [2 * FIRST_CHUNK, 4 * FIRST_CHUNK, 8 * FIRST_CHUNK, 16 * FIRST_CHUNK]


def test_the_sizer_shrinks_when_the_link_breaks_and_learns_how_long_it_stays_up():
    ticks = Ticks()
    sizer = ChunkSizer(monotonic=ticks)
    for _ in range(4):  # 100 kB/s, breaking every second
        ticks.now += 1.0
        sizer.broke()
    assert sizer.size == MIN_CHUNK
    for _ in range(10):
        sizer.arrived(sizer.size, sizer.size / 100_000)
    # A chunk takes at most a fifth of the time the link stays up: 0.2 s, 20 kB.
    assert MIN_CHUNK <= sizer.size <= 20_000


def test_the_sizer_keeps_under_the_servers_limit_and_a_fixed_size_stays_fixed():
    sizer = ChunkSizer(monotonic=Ticks())
    sizer.limit(10_000)
    assert sizer.size == 10_000
    sizer.arrived(10_000, 0.001)
    assert sizer.size == 10_000
    fixed = ChunkSizer(fixed=64 * 1024, monotonic=Ticks())
    fixed.arrived(64 * 1024, 0.001)
    fixed.broke()
    assert fixed.size == 64 * 1024


# -- nor does a photo hold back what the bureau sends ---------------------------------------------------


def test_a_photo_that_cannot_go_up_does_not_hold_back_the_pull(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy, tmp_path: Path
):
    """The same defect one step further: when the photo's upload failed, the sync ended before its pull, so
    what the bureau and the school's other PCs sent waited behind the photo too."""
    client, school = enrolled(make_client, live_server, proxy.url, attempts=2, chunk_size=None)
    _, other_code = live_server.new_school(code=school)
    other = make_client("pc2")
    other.engine.enroll(live_server.url, other_code)
    from_other = other.save(inspection(inspectors="另一台电脑"))
    assert other.engine.sync().pushed == 1
    text_id = client.save(inspection(inspectors="本机"))
    with_photo(client, photo_file(tmp_path, 100_000, seed=17))
    proxy.default = Fault(cut_up_after=2_000, trigger=PUT)  # no upload gets through

    with pytest.raises(SyncError) as failed:
        client.engine.sync()

    assert (
        failed.value.kind is ErrorKind.NETWORK
    )  # the clerk is told, and the next sync tries again
    assert failed.value.result.pulled >= 1
    with client.Session() as s:
        assert S.get_cursor(s) > 0
        status = S.sync_status(s)
    assert status.last_problem is not None and status.last_sync_at is None
    from client.store.models import Record

    with client.Session() as s:
        assert s.get(Record, from_other) is not None  # the other PC's record arrived all the same
    assert text_id in on_server(live_server, school)


def test_a_photo_this_pc_does_not_hold_is_looked_for_on_the_server_after_the_text_went(
    make_client: ClientFactory, live_server: LiveServer, tmp_path: Path
):
    """A record can name a photo that is not in this store (made on another PC of the school): it goes once
    the server says it has the photo, and waits as a problem when the server has it neither."""
    client, school = enrolled(make_client, live_server, live_server.url, chunk_size=None)
    _, other_code = live_server.new_school(code=school)
    other = make_client("pc2")
    other.engine.enroll(live_server.url, other_code)
    _, on_the_server = with_photo(other, photo_file(tmp_path, 30_000, seed=18))
    assert other.engine.sync().uploaded == 1
    nowhere = hashlib.sha256(b"a photo on no computer").hexdigest()

    def naming(sha: str) -> str:
        hazard = dict(inspection()["hazards"][0], photo=sha)  # type: ignore[index]
        return client.save(inspection(hazards=[hazard]))

    found, lost = naming(on_the_server), naming(nowhere)
    text_id = client.save(inspection(inspectors="只有文字"))

    result = client.engine.sync()

    pushes = [
        pushed_ids(r)
        for r in client.responses
        if r.request.method == "POST" and r.request.path_url.endswith("/push")
    ]
    assert pushes[0] == {text_id}  # the text did not wait for the server's answer about the photos
    assert {found, text_id} <= on_server(live_server, school) and lost not in on_server(
        live_server, school
    )
    assert [(r.record_id, r.reason) for r in result.rejected] == [(lost, "missing")]
    assert client.unsent() == 1
