"""Enrollment can be retried after a lost answer (issue 10, protocol revision 1.4).

Before: the server used the code, the answer was cut on its way back, the PC had no credential and the code was
spent - the school needed a new one from the bureau. Now the client makes an enrollment request id, keeps it in
its store before the first try and sends it; the same code with the same request id again gives the same
device (a fresh token; the lost one stops working), never a second device. A used code with another request
id, or without one (an older client), stays refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

from client.context import ClientContext
from client.store import sync_state as S
from client.store.prefs import get_setting
from client.sync.engine import K_ENROLL_REQUEST, SyncEngine
from client.sync.errors import ErrorKind, SyncError
from sync_server import models as M
from sync_server.errors import ServiceError
from sync_server.services.schools import RETRY_GRACE, enroll, revoke_device
from tests.support.faultproxy import Fault, FaultProxy
from tests.sync.conftest import SERVER_NOW, Client, ClientFactory, LiveServer, inspection

ENROLL = b"POST /api/v1/enroll"
LOST_ANSWER = Fault(cut_down_after=0, trigger=ENROLL)  # the server enrolled; not a byte comes back


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", live_server.port)) as p:
        yield p


def devices(server: LiveServer, school: str) -> list[M.Device]:
    with server.session() as s:
        return list(
            s.execute(select(M.Device).join(M.School).where(M.School.code == school)).scalars()
        )


def token_works(server: LiveServer, token: str) -> bool:
    r = requests.get(
        server.url + "/api/v1/forms", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return r.status_code == 200


def enrollment(client: Client) -> S.Enrollment:
    with client.Session() as s:
        got = S.get_enrollment(s)
    assert got is not None
    return got


def raw_enroll(server: LiveServer, code: str, request_id: str | None = None) -> requests.Response:
    body: dict[str, Any] = {"enrollment_code": code, "device_name": "教务处电脑"}
    if request_id is not None:
        body["request_id"] = request_id
    return requests.post(server.url + "/api/v1/enroll", json=body, timeout=10)


def test_a_lost_answer_then_a_second_try_gives_the_same_device_and_a_token_that_works(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy
):
    school, code = live_server.new_school()
    client = make_client(attempts=1)  # the clerk presses 注册 again, not the engine
    proxy.plan(LOST_ANSWER)
    with pytest.raises(SyncError) as lost:
        client.engine.enroll(proxy.url, code)
    assert lost.value.kind is ErrorKind.NETWORK and proxy.stats.cuts == 1
    [made] = devices(live_server, school)  # the server enrolled the PC: the code is used
    with client.Session() as s:
        assert S.get_enrollment(s) is None  # ... and the PC has no credential

    again = client.engine.enroll(proxy.url, code)

    assert again.device_id == made.id  # the same device, not a second one
    [device] = devices(live_server, school)
    assert device.token_hash == hashlib.sha256(again.device_token.encode()).hexdigest()
    assert device.token_hash != made.token_hash  # the lost token no longer works
    assert token_works(live_server, again.device_token)
    client.save(inspection())
    result = client.engine.sync()
    assert result.complete and result.pushed == 1
    assert len(live_server.school_records(school)) == 1
    with client.Session() as s:
        assert get_setting(s, K_ENROLL_REQUEST) is None  # used up: a later enrollment starts afresh


def test_the_engine_retries_a_lost_answer_by_itself(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy
):
    school, code = live_server.new_school()
    client = make_client(attempts=3)
    proxy.plan(LOST_ANSWER)

    got = client.engine.enroll(proxy.url, code)

    assert proxy.stats.cuts == 1 and len(client.sleeps.waits) == 1
    [device] = devices(live_server, school)
    assert got.device_id == device.id and token_works(live_server, got.device_token)


def test_the_request_id_outlives_a_restart_of_the_program(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy
):
    school, code = live_server.new_school()
    client = make_client(attempts=1)
    proxy.plan(LOST_ANSWER)
    with pytest.raises(SyncError):
        client.engine.enroll(proxy.url, code)
    data_dir = client.ctx.store.data_dir
    client.ctx.close()

    reopened = ClientContext.open(data_dir, clock=client.ctx.clock)
    try:
        got = SyncEngine(reopened, requests.Session(), sleep=client.sleeps).enroll(
            proxy.url,
            code.lower().replace("-", " "),  # typed again, loosely
        )
    finally:
        reopened.close()
    assert [d.id for d in devices(live_server, school)] == [got.device_id]


def test_another_pc_with_the_used_code_is_still_refused(
    make_client: ClientFactory, live_server: LiveServer, proxy: FaultProxy
):
    school, code = live_server.new_school()
    first = make_client("pc1", attempts=1)
    proxy.plan(LOST_ANSWER)
    with pytest.raises(SyncError):
        first.engine.enroll(proxy.url, code)
    other = make_client("pc2", attempts=1)

    with pytest.raises(SyncError) as refused:
        other.engine.enroll(live_server.url, code)

    assert refused.value.kind is ErrorKind.AUTH and refused.value.code == "enrollment_code_used"
    assert len(devices(live_server, school)) == 1
    assert first.engine.enroll(proxy.url, code).device_id == devices(live_server, school)[0].id


def test_an_older_client_without_a_request_id_keeps_todays_behaviour(live_server: LiveServer):
    school, code = live_server.new_school()
    assert raw_enroll(live_server, code).status_code == 201
    second = raw_enroll(live_server, code)
    assert second.status_code == 401
    assert second.json()["error"]["code"] == "enrollment_code_used"
    # A request id sent only now does not claim a device enrolled without one.
    late = raw_enroll(live_server, code, request_id=str(uuid.uuid4()))
    assert late.status_code == 401 and late.json()["error"]["code"] == "enrollment_code_used"
    assert len(devices(live_server, school)) == 1


def test_a_request_id_is_checked_like_every_other_text(live_server: LiveServer):
    _, code = live_server.new_school()
    for bad in ("", "   ", "x" * 101, "a\nb", 42):
        r = requests.post(
            live_server.url + "/api/v1/enroll",
            json={"enrollment_code": code, "device_name": "pc", "request_id": bad},
            timeout=10,
        )
        assert r.status_code == 400, bad
        assert r.json()["error"]["details"] == {"field": "request_id"}
    assert raw_enroll(live_server, code, request_id="r1").status_code == 201  # still unused


def _enroll_at(server: LiveServer, code: str, request_id: str, now: dt.datetime) -> str:
    with server.session() as s, s.begin():
        return enroll(
            s,
            enrollment_code=code,
            device_name="pc",
            app_version="0.1.0",
            request_id=request_id,
            now=now,
        ).device_id


def _refusal(server: LiveServer, code: str, request_id: str, now: dt.datetime) -> str:
    with pytest.raises(ServiceError) as refused:
        _enroll_at(server, code, request_id, now)
    assert refused.value.status == 401
    return refused.value.code


def test_a_retry_is_answered_while_the_code_is_valid_or_a_day_after_its_use(
    live_server: LiveServer,
):
    _, code = live_server.new_school()  # valid for 7 days from SERVER_NOW
    device = _enroll_at(live_server, code, "r1", SERVER_NOW)
    assert _enroll_at(live_server, code, "r1", SERVER_NOW + dt.timedelta(days=6)) == device
    assert _refusal(live_server, code, "r1", SERVER_NOW + dt.timedelta(days=7)) == (
        "enrollment_code_used"
    )
    # Used just before it expired: a day of grace after the use.
    _, late = live_server.new_school()
    used = SERVER_NOW + dt.timedelta(days=6, hours=23)
    device = _enroll_at(live_server, late, "r2", used)
    assert _enroll_at(live_server, late, "r2", used + RETRY_GRACE - dt.timedelta(minutes=1)) == (
        device
    )
    assert _refusal(live_server, late, "r2", used + RETRY_GRACE) == "enrollment_code_used"


def test_a_revoked_device_is_not_brought_back_by_a_retry(live_server: LiveServer):
    _, code = live_server.new_school()
    device = _enroll_at(live_server, code, "r1", SERVER_NOW)
    with live_server.session() as s, s.begin():
        revoke_device(s, device, now=SERVER_NOW)
    assert _refusal(live_server, code, "r1", SERVER_NOW) == "device_revoked"
    with live_server.session() as s:
        assert s.get_one(M.Device, device).revoked_at is not None


def test_retries_at_once_give_one_device_and_other_request_ids_none(live_server: LiveServer):
    school, code = live_server.new_school()
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def send(request_id: str) -> None:
        r = raw_enroll(live_server, code, request_id=request_id)
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=send, args=("same",)) for _ in range(4)]
    threads += [threading.Thread(target=send, args=(f"other-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    [device] = devices(live_server, school)
    won = [r.json() for r in answers if r.status_code == 201]
    lost = [r.json()["error"]["code"] for r in answers if r.status_code != 201]
    assert {a["device_id"] for a in won} == {device.id}
    assert set(lost) <= {"enrollment_code_used"}
    # Either "same" won (four answers name the device; the other ids were refused) or an "other" did.
    assert len(won) in (1, 4) and len(won) + len(lost) == 6
    assert sum(token_works(live_server, a["token"]) for a in won) == 1  # the last token issued
