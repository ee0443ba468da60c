"""Push batches as large as the server says (protocol revision 1.20): a server states its batch maximum on
every answer (`Sync-Max-Changes`, `Sync-Max-Batch-Bytes`), a client sends batches of min(its own cap, the
server's), an older server (no header) gets 200 at most, and an older client's batches of 200 are taken by a
newer server as before.

Real servers (sync_server's create_app, SQLite) on 127.0.0.1 port 0, each with its own limits; the "older
server" is the same app with the two 1.20 headers taken off its answers (all a 1.19 server differs in here).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from client.store import sync_state as S
from client.store.models import SyncBatch
from client.store.prefs import get_setting, set_setting
from client.store.records import save_record
from client.sync.engine import (
    K_SERVER_BATCH,
    MAX_BATCH_BYTES_HEADER,
    MAX_CHANGES_HEADER,
    OWN_MAX_BATCH_CHANGES,
    stated_batch_limits,
)
from client.sync.errors import SyncError
from sync_server import models as M
from sync_server.app import create_app
from sync_server.config import DEFAULTS
from sync_server.services.schools import add_school
from sync_server.state import get_state
from tests.support.samples import inspection
from tests.sync.conftest import SERVER_NOW, Client, ClientFactory

Start = Callable[..., Any]
NEW_HEADERS = (MAX_CHANGES_HEADER.lower(), MAX_BATCH_BYTES_HEADER.lower())


class _Older:
    """The app as a server before 1.20 answers: without the batch maximum headers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Start) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if k.lower() not in NEW_HEADERS]
            return start_response(status, kept, exc_info)

        return self.app(environ, start)  # type: ignore[no-any-return]


class Server:
    def __init__(self, app: Any, url: str) -> None:
        self.app = app
        self.url = url

    def enrollment_code(self) -> str:
        with get_state(self.app).db.Session.begin() as s:
            made = add_school(
                s, code="S" + uuid.uuid4().hex[:8], name="城关镇中心小学", now=SERVER_NOW
            )
        return made.enrollment_code

    def token(self) -> str:
        answer = requests.post(
            f"{self.url}/api/v1/enroll",
            json={"enrollment_code": self.enrollment_code(), "device_name": "旧版程序"},
            timeout=10,
        )
        assert answer.status_code in (200, 201), answer.text
        return str(answer.json()["token"])


@contextlib.contextmanager
def serve(folder: Path, *, older: bool = False, **config: Any) -> Iterator[Server]:
    app = create_app(
        {
            "INSTANCE_PATH": str(folder),
            "DATABASE_URL": f"sqlite:///{folder / 'sync.db'}",
            "SECRET_KEY": "batch-tests",
            "CLOCK": lambda: SERVER_NOW,
            **config,
        }
    )
    if older:
        app.wsgi_app = _Older(app.wsgi_app)  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Server(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        get_state(app).db.close()


def push_sizes(client: Client) -> list[tuple[int, int]]:
    """(status, changes in the batch) of each push the client sent."""
    out = []
    for r in client.responses:
        if r.request.method == "POST" and r.request.path_url.endswith("/push"):
            body = r.request.body
            assert isinstance(body, bytes)
            out.append((r.status_code, len(json.loads(gzip.decompress(body))["changes"])))
    return out


def save_many(client: Client, n: int) -> None:
    with client.Session.begin() as s:
        form = client.ctx.forms.get("safety_inspection")
        for i in range(n):
            save_record(
                s,
                form=form,
                data=inspection(inspectors=f"检查员{i}"),
                submit=True,
                today=client.ctx.clock.today(),
                now=client.ctx.clock.now(),
            )


def test_the_server_states_its_maximum_on_every_answer(tmp_path: Path) -> None:
    with serve(tmp_path, MAX_BATCH_CHANGES=750, MAX_BATCH_BYTES=3 * 1024 * 1024) as server:
        token = server.token()
        auth = {"Authorization": f"Bearer {token}"}
        answers = [
            requests.get(f"{server.url}/api/v1/pull", headers=auth, timeout=10),
            requests.get(f"{server.url}/api/v1/forms", headers=auth, timeout=10),
            requests.post(f"{server.url}/api/v1/push", headers=auth, json={}, timeout=10),  # 400
            requests.get(f"{server.url}/api/v1/pull", timeout=10),  # 401
        ]
        assert [a.status_code for a in answers] == [200, 200, 400, 401]
        for a in answers:
            assert a.headers[MAX_CHANGES_HEADER] == "750"
            assert a.headers[MAX_BATCH_BYTES_HEADER] == str(3 * 1024 * 1024)
            assert stated_batch_limits(a.headers) == (750, 3 * 1024 * 1024)


def test_the_default_maximum_is_above_what_older_clients_send() -> None:
    assert DEFAULTS["MAX_BATCH_CHANGES"] > 200
    assert DEFAULTS["MAX_BATCH_CHANGES"] <= OWN_MAX_BATCH_CHANGES


def test_a_client_sends_batches_of_the_smaller_of_its_cap_and_the_servers(
    tmp_path: Path, make_client: ClientFactory
) -> None:
    with serve(tmp_path / "server", MAX_BATCH_CHANGES=30) as server:
        wide = make_client("wide", batch_changes=1000)
        narrow = make_client("narrow", batch_changes=20)
        for client in (wide, narrow):
            client.engine.enroll(server.url, server.enrollment_code())
            with client.Session() as s:  # learned from the enroll answer: the first batch fits too
                assert get_setting(s, K_SERVER_BATCH)["changes"] == 30
            save_many(client, 70)
            result = client.engine.sync()
            assert result.complete and result.pushed == 70
        assert push_sizes(wide) == [(200, 30), (200, 30), (200, 10)]
        assert push_sizes(narrow) == [(200, 20), (200, 20), (200, 20), (200, 10)]


def test_the_first_answer_sets_the_size_of_the_next_batches(
    tmp_path: Path, make_client: ClientFactory
) -> None:
    """A store that knows nothing of the server's maximum (enrolled before 1.20) starts at 200."""
    with serve(tmp_path / "server", MAX_BATCH_CHANGES=300) as server:
        client = make_client(batch_changes=1000)
        client.engine.enroll(server.url, server.enrollment_code())
        with client.Session.begin() as s:
            set_setting(s, K_SERVER_BATCH, None)
        save_many(client, 560)
        assert client.engine.sync().pushed == 560
        # the second batch is chosen while the first is on its way: the first answer sizes the third
        assert push_sizes(client) == [(200, 200), (200, 200), (200, 160)]


def test_an_older_server_gets_batches_of_200(tmp_path: Path, make_client: ClientFactory) -> None:
    with serve(tmp_path / "server", older=True, MAX_BATCH_CHANGES=1000) as server:
        client = make_client(batch_changes=OWN_MAX_BATCH_CHANGES)
        client.engine.enroll(server.url, server.enrollment_code())
        save_many(client, 450)
        result = client.engine.sync()
        assert result.complete and result.pushed == 450
        assert push_sizes(client) == [(200, 200), (200, 200), (200, 50)]
        assert all(MAX_CHANGES_HEADER not in r.headers for r in client.responses)
        with client.Session() as s:
            assert get_setting(s, K_SERVER_BATCH) is None


def test_a_server_that_stops_stating_its_maximum_gets_200_again(
    tmp_path: Path, make_client: ClientFactory
) -> None:
    """The same address served by an older version again (a rollback): the kept maximum is forgotten with
    the first answer, and a server limit below 200 is still met by splitting on its 413."""
    folder = tmp_path / "server"
    client = make_client(batch_changes=OWN_MAX_BATCH_CHANGES)
    with serve(folder, MAX_BATCH_CHANGES=1000) as server:
        client.engine.enroll(server.url, server.enrollment_code())
        url = server.url
    with client.Session() as s:
        assert get_setting(s, K_SERVER_BATCH) == {
            "server_url": url,
            "changes": 1000,
            "bytes": DEFAULTS["MAX_BATCH_BYTES"],
        }
    with serve(folder, older=True, MAX_BATCH_CHANGES=50) as older:
        with client.Session.begin() as s:  # the same server at a new port
            enrollment = S.get_enrollment(s)
            assert enrollment is not None
            S.save_enrollment(s, dataclasses.replace(enrollment, server_url=older.url))
            kept = get_setting(s, K_SERVER_BATCH)
            set_setting(s, K_SERVER_BATCH, {**kept, "server_url": older.url})
        save_many(client, 120)
        result = client.engine.sync()
        assert result.complete and result.pushed == 120
        # 1000 kept: 120 at once -> 413 (max 50) -> 50s; the answers state nothing: 200 from now on.
        assert push_sizes(client) == [(413, 120), (200, 50), (200, 50), (200, 20)]
        with client.Session() as s:
            assert get_setting(s, K_SERVER_BATCH) is None


def test_an_older_client_pushes_its_batches_of_200_as_before(tmp_path: Path) -> None:
    """A 1.19 client's push - at most 200 changes, no new request header - is taken whole by a 1.20 server
    of the default maximum (it reads no answer header it does not know)."""
    with serve(tmp_path) as server:
        token = server.token()
        changes = [
            {
                "op_id": f"old-{i}",
                "record_id": str(uuid.uuid4()),
                "form_id": "safety_inspection",
                "form_version": "2026.1",
                "kind": "upsert",
                "revision": 1,
                "base_server_revision": None,
                "status": "submitted",
                "data": inspection(inspectors=f"检查员{i}"),
                "saved_at": "2026-11-28T02:00:00Z",
            }
            for i in range(200)
        ]
        answer = requests.post(
            f"{server.url}/api/v1/push",
            data=gzip.compress(json.dumps({"changes": changes}).encode()),
            headers={
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": str(uuid.uuid4()),
                "Content-Type": "application/json; charset=utf-8",
                "Content-Encoding": "gzip",
                "User-Agent": "school-client/0.2.0",
            },
            timeout=60,
        )
        assert answer.status_code == 200, answer.text[:300]
        results = answer.json()["results"]
        assert [r["result"] for r in results] == ["applied"] * 200


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({MAX_CHANGES_HEADER: "1000", MAX_BATCH_BYTES_HEADER: "5242880"}, (1000, 5242880)),
        ({MAX_CHANGES_HEADER: " 400 "}, (400, 5 * 1024 * 1024)),
        ({}, None),
        ({MAX_CHANGES_HEADER: "0"}, None),
        ({MAX_CHANGES_HEADER: "-5"}, None),
        ({MAX_CHANGES_HEADER: "1e3"}, None),
        ({MAX_CHANGES_HEADER: "١٠٠"}, None),  # Arabic-Indic digits: isdigit() but not ASCII
        ({MAX_CHANGES_HEADER: "500", MAX_BATCH_BYTES_HEADER: "12"}, None),
    ],
)
def test_a_malformed_statement_is_taken_as_none(
    headers: dict[str, str], expected: tuple[int, int] | None
) -> None:
    assert stated_batch_limits(requests.structures.CaseInsensitiveDict(headers)) == expected


class _LoseSecondPush:
    """The app, but the second push is read and answered 503 without reaching it (an answer that never
    came from our server: the client's sync stops there)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pushes = 0

    def __call__(self, environ: dict[str, Any], start_response: Start) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/api/v1/push":
            self.pushes += 1
            if self.pushes == 2:
                environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"busy"]
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def test_the_batch_chosen_while_one_is_on_its_way_is_kept_and_sent_after_a_failure(
    tmp_path: Path, make_client: ClientFactory
) -> None:
    """The next batch is chosen and stored while one is on its way, without that one's records: a record's
    second change waits for the answer that gives its base. When the sync stops with a batch unanswered,
    both stored batches go again - the same keys and bodies - and every change is applied once."""
    with serve(tmp_path / "server", MAX_BATCH_CHANGES=2) as server:
        lose = _LoseSecondPush(server.app.wsgi_app)
        server.app.wsgi_app = lose
        client = make_client(attempts=1, batch_changes=2)
        client.engine.enroll(server.url, server.enrollment_code())
        first = client.save(inspection(inspectors="检查员甲"))
        client.save(inspection(inspectors="检查员甲（改）"), record_id=first)  # its second change
        others = [client.save(inspection(inspectors=f"检查员{i}")) for i in range(4)]

        with pytest.raises(SyncError):
            client.engine.sync()

        sent = [
            json.loads(gzip.decompress(cast(bytes, r.request.body)))["changes"]
            for r in client.responses
            if r.request.method == "POST" and r.request.path_url.endswith("/push")
        ]
        assert [[c["record_id"] for c in b] for b in sent] == [[first, others[0]], others[1:3]]
        with client.Session() as s:
            stored = {
                b.key: json.loads(b.body)["changes"] for b in s.execute(select(SyncBatch)).scalars()
            }
        assert len(stored) == 2  # the one unanswered, and the one chosen while it was on its way
        (later,) = [b for b in stored.values() if b != sent[1]]
        assert [c["record_id"] for c in later] == [first, others[3]]
        assert later[0]["base_server_revision"] == 1  # from the first answer

        client.responses.clear()
        result = client.engine.sync()
        assert result.complete and result.pushed == 4 and client.unsent() == 0
        again = [r for r in client.responses if r.request.path_url.endswith("/push")]
        assert {r.request.headers["Idempotency-Key"] for r in again} == set(stored)
        with get_state(server.app).db.Session() as s:
            ops = s.execute(select(M.AppliedOp.op_id)).scalars().all()
            assert len(ops) == len(set(ops)) == 6
            revision = s.execute(
                select(M.Record.server_revision).where(M.Record.id == first)
            ).scalar_one()
            assert revision == 2
