"""The client's side of device credentials with a lifetime (issue 12 point 3, protocol revision 1.9), against
the real server on SQLite and PostgreSQL: every sync ends with a next token, kept in the transaction of the
pull page it came with; the old token dies once the new one is used; an answer lost on the wire (a real
proxy cuts it) never locks the PC out; enrolling the PC again revokes the token it held."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from client.store import sync_state as S
from client.sync.errors import ErrorKind, SyncError
from sync_server import models as M
from tests.support.faultproxy import Fault, FaultProxy
from tests.sync.conftest import Client, ClientFactory, LiveServer, inspection

PULL = b"GET /api/v1/pull"


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", live_server.port)) as p:
        yield p


def stored_token(client: Client) -> str:
    with client.Session() as s:
        enrollment = S.get_enrollment(s)
        assert enrollment is not None
        return enrollment.device_token


def status_with(server_url: str, token: str) -> tuple[int, str | None]:
    """What the server answers a pull with this token: (status, error code)."""
    r = requests.get(
        server_url + "/api/v1/pull",
        params={"since": 0},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    code = r.json()["error"]["code"] if r.status_code != 200 else None
    return r.status_code, code


def enrolled(make_client: ClientFactory, server: LiveServer, url: str, **kw: object) -> Client:
    _, code = server.new_school()
    client = make_client(**kw)
    client.engine.enroll(url, code)
    client.http.close()  # the next request opens a new connection (which a planned fault can hit)
    return client


def test_each_sync_rotates_the_token_and_the_old_one_dies_once_the_new_one_is_used(
    make_client: ClientFactory, live_server: LiveServer
):
    client = enrolled(make_client, live_server, live_server.url)
    first = stored_token(client)
    client.save(inspection())

    assert client.engine.sync().complete
    second = stored_token(client)
    assert second != first
    assert status_with(live_server.url, first) == (200, None)  # until the new one is used

    client.save(inspection(inspectors="李四"))
    assert client.engine.sync().complete  # uses the second token: the first dies
    third = stored_token(client)

    assert third not in (first, second)
    assert status_with(live_server.url, first) == (401, "token_superseded")
    assert status_with(live_server.url, third) == (200, None)
    assert client.unsent() == 0


def test_a_lost_rotation_answer_does_not_lock_the_pc_out(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy
):
    client = enrolled(make_client, live_server, proxy.url, attempts=1)
    school_token = stored_token(client)
    client.save(inspection())
    # The server hands a next token in its answer to the pull; the link breaks before it arrives.
    proxy.plan(Fault(cut_down_after=40, trigger=PULL))

    with pytest.raises(SyncError) as lost:
        client.engine.sync()

    assert lost.value.kind is ErrorKind.NETWORK and proxy.stats.cuts == 1
    assert stored_token(client) == school_token  # nothing stored from an answer never read
    with live_server.session() as s:
        device = s.get_one(M.Device, client_device_id(client))
        assert device.next_token_hash is not None  # the lost one, waiting on the server

    result = client.engine.sync()  # the next sync, with the token the PC has

    assert result.complete and client.unsent() == 0
    rotated = stored_token(client)
    assert rotated != school_token
    assert status_with(live_server.url, rotated) == (200, None)
    client.save(inspection(inspectors="王五"))
    assert client.engine.sync().complete  # and the rotated token carries on
    assert status_with(live_server.url, school_token) == (401, "token_superseded")


def test_an_answer_cut_and_retried_within_a_sync_keeps_the_newest_token(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy
):
    client = enrolled(make_client, live_server, proxy.url)
    proxy.plan(Fault(cut_down_after=40, trigger=PULL))

    assert client.engine.sync().complete  # the pull is sent again; its answer has another token

    assert proxy.stats.cuts == 1
    client.save(inspection())
    assert client.engine.sync().complete
    assert status_with(live_server.url, stored_token(client)) == (200, None)


def test_enrolling_the_pc_again_revokes_the_token_it_held(
    make_client: ClientFactory, live_server: LiveServer
):
    school, code = live_server.new_school()
    client = make_client()
    client.engine.enroll(live_server.url, code)
    client.save(inspection())
    assert client.engine.sync().complete
    copied = stored_token(client)  # what a copy of the store (a backup, a stolen disk) holds

    _, fresh = live_server.new_school(code=school)  # the clerk asks the bureau for a new code
    client.engine.enroll(live_server.url, fresh)

    assert status_with(live_server.url, copied) == (401, "token_replaced")
    client.save(inspection(inspectors="赵六"))
    result = client.engine.sync()
    assert result.complete and result.pushed == 1
    assert len(live_server.school_records(school)) == 2
    with live_server.session() as s:
        devices = s.query(M.Device).join(M.School).filter(M.School.code == school).all()
        assert sorted(d.replaced_by is None for d in devices) == [False, True]


def test_a_pc_whose_token_was_superseded_by_a_copy_is_told_to_enroll_again(
    make_client: ClientFactory, live_server: LiveServer
):
    """A copy of the store synced twice elsewhere: the PC's own token is retired. It is told in plain
    words (401 token_superseded), and enrolling again takes the school back from the copy."""
    school, code = live_server.new_school()
    client = make_client()
    client.engine.enroll(live_server.url, code)
    thief_token = stored_token(client)
    for _ in range(2):  # the copy syncs with rotation, as our client does
        r = requests.get(
            live_server.url + "/api/v1/pull",
            headers={"Authorization": f"Bearer {thief_token}", "Sync-Token-Rotation": "1"},
            timeout=10,
        )
        thief_token = r.json()["next_token"]

    with pytest.raises(SyncError) as refused:
        client.engine.sync()

    assert refused.value.kind is ErrorKind.AUTH and refused.value.code == "token_superseded"
    assert "取代" in refused.value.message_zh
    _, fresh = live_server.new_school(code=school)
    client.engine.enroll(live_server.url, fresh)  # names its retired token: the copy's device goes
    assert client.engine.sync().complete
    assert status_with(live_server.url, thief_token) == (401, "token_replaced")


def client_device_id(client: Client) -> str:
    with client.Session() as s:
        enrollment = S.get_enrollment(s)
        assert enrollment is not None
        return enrollment.device_id


def test_the_next_token_is_kept_with_its_page_or_not_at_all(
    make_client: ClientFactory, live_server: LiveServer
):
    """Crash safety: the token is written in the transaction that applies the sync's last pull page. When
    that write fails (a trigger in the real store aborts it, as a crash would cut it), the page is not kept
    either, the PC keeps its old token, and the old token still works."""
    client = enrolled(make_client, live_server, live_server.url)
    old = stored_token(client)
    with client.Session.begin() as s:
        before = S.get_cursor(s)
        s.execute(
            text(
                "CREATE TRIGGER no_token_write BEFORE UPDATE ON settings "
                f"WHEN NEW.key = '{S.K_TOKEN}' BEGIN SELECT RAISE(ABORT, 'cut'); END"
            )
        )

    with pytest.raises(SQLAlchemyError):
        client.engine.sync()

    with client.Session() as s:
        assert S.get_cursor(s) == before  # the page went with the token
    assert stored_token(client) == old
    with client.Session.begin() as s:
        s.execute(text("DROP TRIGGER no_token_write"))
    assert client.engine.sync().complete  # the old token still works; the next one is kept now
    assert stored_token(client) != old
    with client.Session() as s:
        assert S.get_cursor(s) > before
