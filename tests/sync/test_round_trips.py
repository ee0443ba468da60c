"""Round trips of a sync (issue 14, protocol 1.14): after a push of any size one pull request carries the
rest, and a change of another device that lies among this device's own is never skipped.

Requests are counted at the server: the request lines its werkzeug server logs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from client.store import records as R
from tests.support.samples import inspection
from tests.sync.conftest import TODAY, Client, ClientFactory, LiveServer


@pytest.fixture
def server_requests(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """The request lines the live server logs from now on ("GET /api/v1/pull?since=... HTTP/1.1")."""
    caplog.set_level(logging.INFO, logger="werkzeug")
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if '"' in text:
                lines.append(text.split('"')[1])

    handler = Keep()
    logging.getLogger("werkzeug").addHandler(handler)
    try:
        yield lines
    finally:
        logging.getLogger("werkzeug").removeHandler(handler)


def _pulls(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("GET /api/v1/pull")]


def _pushes(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("POST /api/v1/push")]


def _pair(make_client: ClientFactory, server: LiveServer) -> tuple[Client, Client, str]:
    school, code = server.new_school()
    a = make_client("pc1")
    a.engine.enroll(server.url, code, device_name="教务处电脑")
    _, code2 = server.new_school(code=school)
    b = make_client("pc2")
    b.engine.enroll(server.url, code2, device_name="二号机")
    assert a.engine.sync().complete and b.engine.sync().complete
    return a, b, school


def _save_many(client: Client, n: int, tag: str) -> list[str]:
    """n submitted inspections, saved as the clerk saves them but in one transaction (faster)."""
    form = client.ctx.forms.get("safety_inspection")
    with client.Session.begin() as s:
        return [
            R.save_record(
                s,
                form=form,
                data=inspection(inspectors=f"{tag}{i}"),
                submit=True,
                today=TODAY,
                now=client.ctx.clock.now(),
            ).record_id
            for i in range(n)
        ]


def test_after_a_push_of_2000_records_one_pull_request_ends_the_sync(
    make_client: ClientFactory, live_server: LiveServer, server_requests: list[str]
) -> None:
    a, _b, school = _pair(make_client, live_server)
    _save_many(a, 2000, "检查员")
    server_requests.clear()

    result = a.engine.sync()

    assert result.complete and result.pushed == 2000 and result.pulled == 0
    assert len(_pushes(server_requests)) == 10  # batches of 200
    pushed = [r for r in a.responses if r.request.path_url == "/api/v1/push"]
    assert all(r.json()["compact_results"] == [None] * 200 for r in pushed)  # protocol 1.14
    assert len(_pulls(server_requests)) == 1  # was 2000 / 500 + 1 = 5
    assert len(live_server.school_records(school)) == 2000
    server_requests.clear()
    again = a.engine.sync()
    assert (again.pushed, again.pulled) == (0, 0) and len(_pulls(server_requests)) == 1


def test_another_devices_change_among_our_own_is_pulled_once_in_the_one_pull(
    make_client: ClientFactory, live_server: LiveServer, server_requests: list[str]
) -> None:
    a, b, school = _pair(make_client, live_server)
    mine = _save_many(a, 600, "甲")
    theirs = b.save(inspection(inspectors="乙机检查员"))
    pushes = 0

    def b_syncs_between_our_batches(r: requests.Response, *args: Any, **kw: Any) -> None:
        nonlocal pushes
        if r.request.method == "POST" and r.request.path_url.endswith("/push"):
            pushes += 1
            if pushes == 2:  # B's change takes a seq between our second and third batch
                seen = b.engine.sync()
                assert (seen.pushed, seen.pulled) == (1, 400)  # A's first two batches

    a.http.hooks["response"].append(b_syncs_between_our_batches)
    server_requests.clear()
    a.responses.clear()

    result = a.engine.sync()

    assert result.complete and result.pushed == 600 and pushes == 3
    assert result.pulled == 1
    a_pulls = [r for r in a.responses if r.request.path_url.startswith("/api/v1/pull")]
    assert len(a_pulls) == 1
    assert len(_pulls(server_requests)) == 2  # A's one and B's one (inside A's sync)
    with a.Session() as s:
        from client.store.models import Record

        got = s.get(Record, theirs)
        assert got is not None and got.data["inspectors"] == "乙机检查员"
    a.http.hooks["response"].remove(b_syncs_between_our_batches)
    # B then reads the rest of A's 600, and A has nothing more to read.
    assert b.engine.sync().pulled == 200
    assert a.engine.sync().pulled == 0
    on_server = {r.id for r in live_server.school_records(school)}
    assert on_server == set(mine) | {theirs}


def test_small_pages_hand_over_others_changes_once_in_order_however_own_ones_lie_between(
    make_client: ClientFactory, live_server: LiveServer, server_requests: list[str]
) -> None:
    school, code = live_server.new_school()
    a = make_client("pc1", batch_changes=3)
    a.engine.enroll(live_server.url, code, device_name="教务处电脑")
    _, code2 = live_server.new_school(code=school)
    b = make_client("pc2")
    b.engine.enroll(live_server.url, code2, device_name="二号机")
    assert a.engine.sync().complete and b.engine.sync().complete
    _save_many(a, 12, "甲")
    theirs: list[str] = []

    def b_pushes_two_after_each_of_our_batches(r: requests.Response, *args: Any, **kw: Any) -> None:
        if r.request.method == "POST" and r.request.path_url.endswith("/push"):
            theirs.extend(_save_many(b, 2, f"乙{len(theirs)}-"))
            assert b.engine.sync().pushed == 2

    a.http.hooks["response"].append(b_pushes_two_after_each_of_our_batches)
    a.engine.pull_limit = 3
    a.responses.clear()

    result = a.engine.sync()

    a.http.hooks["response"].remove(b_pushes_two_after_each_of_our_batches)
    assert result.pushed == 12 and len(theirs) == 8
    assert result.pulled == 8
    # B's 8 changes in pages of 3: 3 + 3 + 2 - the last page, not full, ends at the counter.
    pulls = [r for r in a.responses if r.request.path_url.startswith("/api/v1/pull")]
    assert [len(r.json()["changes"]) for r in pulls] == [3, 3, 2]
    assert [r.json()["more"] for r in pulls] == [True, True, False]
    seqs = [c["seq"] for r in pulls for c in r.json()["changes"]]
    assert seqs == sorted(set(seqs))
    with a.Session() as s:
        from client.store.models import Record

        assert all(s.get(Record, rid) is not None for rid in theirs)
    server_requests.clear()
    assert a.engine.sync().pulled == 0 and len(_pulls(server_requests)) == 1


def test_pulling_while_another_device_pushes_reads_each_of_its_changes_exactly_once(
    make_client: ClientFactory, live_server: LiveServer
) -> None:
    """A's pulls race B's pushes (real threads, real server): a page's cursor never passes a change of B
    that A has not read, and A never reads one twice."""
    a, b, _school = _pair(make_client, live_server)
    theirs: list[str] = []
    failures: list[BaseException] = []

    def b_pushes() -> None:
        try:
            for i in range(30):
                theirs.append(b.save(inspection(inspectors=f"乙{i}")))
                assert b.engine.sync().pushed == 1
        except BaseException as exc:
            failures.append(exc)

    _save_many(a, 5, "甲")
    pusher = threading.Thread(target=b_pushes)
    pusher.start()
    pulled = 0
    while pusher.is_alive():
        pulled += a.engine.sync().pulled
    pusher.join()
    pulled += a.engine.sync().pulled
    assert failures == []
    assert pulled == 30  # each of B's changes once: none skipped, none twice
    with a.Session() as s:
        from client.store.models import Record

        assert all(s.get(Record, rid) is not None for rid in theirs)
