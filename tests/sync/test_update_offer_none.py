"""Protocol revision 1.21 with the real client (issue 16 follow-ups): the real server on 127.0.0.1 port 0 with
a signed repository (tests/support/releases.py), the real sync engine, requests counted.

- A pull's `Sync-Update-Offer: none` is trusted: a release staged here that the server no longer offers is
  dropped after the sync with no update request at all (the next pull reports it). A server that does not
  say `none` (1.20, or one that could not tell) still has the update check decide, as before.
- The report states a failed first start's facts as fields, which the server keeps for the dashboard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.sync.engine import app_version
from client.update.retry import MAX_START_TRIES, start_failed
from client.update.state import load_state, save_state, staged_ready
from tests.server.conftest import serve
from tests.support.releases import UpdateServer, device_id, enrolled, launcher, live_update_server
from tests.sync.conftest import ClientFactory


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpdateServer]:
    yield from live_update_server(tmp_path_factory, name="offer-none")


@pytest.fixture(scope="module")
def without_none(server: UpdateServer) -> Iterator[str]:
    """The same server answering as a 1.20 server does (or a 1.21 one that could not tell): no
    `Sync-Update-Offer: none`; an offered version is still named."""

    def as_1_20(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            kept = [(k, v) for k, v in headers if (k.lower(), v) != ("sync-update-offer", "none")]
            return start_response(status, kept, *exc)

        return server.app(environ, start)

    http, thread = serve(as_1_20)  # type: ignore[arg-type]
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        http.server_close()
        thread.join(5)


def _update_requests(client: Any, since: int) -> list[str]:
    return [
        r.request.path_url for r in client.responses[since:] if "/update/" in r.request.path_url
    ]


def _staged_then_paused(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path, version: str, url: str
) -> Any:
    school, code = server.new_school()
    client = make_client(f"pc-{version}")
    client.engine.enroll(url, code, device_name=f"pc-{version}")
    server.publish(launcher(tmp_path / "v", version), version, school)
    client.engine.sync()
    assert (staged_ready(client.ctx.store.data_dir) or {}).get("version") == version
    server.cli("rollout", version, "--pause")
    return client


def test_a_pull_that_says_none_drops_the_staged_release_without_a_request(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    client = _staged_then_paused(make_client, server, tmp_path, "70.0", server.url)
    data = client.ctx.store.data_dir
    seen = len(client.responses)
    client.engine.sync()
    pulls = [r for r in client.responses[seen:] if r.request.path_url.startswith("/api/v1/pull")]
    assert pulls and pulls[0].request.headers["Sync-Protocol"] == "1.21"
    assert pulls[-1].headers["Sync-Update-Offer"] == "none"
    assert _update_requests(client, seen) == []  # before 1.21: two checks (confirm, then report)
    assert staged_ready(data) is None
    state = load_state(data)
    assert (state.state, state.target_version, state.withdrawn) == ("current", "70.0", "70.0")
    assert state.report(app_version())["withdrawn"] is True

    seen = len(client.responses)
    client.engine.sync()  # the next pull carries the report; still no update request
    assert _update_requests(client, seen) == []
    reported = server.device_update(device_id(client))
    assert reported is not None and reported.report_fields == {"withdrawn": True}
    assert (reported.state, reported.target_version) == ("current", "70.0")


def test_a_server_that_does_not_say_none_has_the_check_decide_as_before(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path, without_none: str
) -> None:
    client = _staged_then_paused(make_client, server, tmp_path, "71.0", without_none)
    data = client.ctx.store.data_dir
    seen = len(client.responses)
    client.engine.sync()
    pulls = [r for r in client.responses[seen:] if r.request.path_url.startswith("/api/v1/pull")]
    assert pulls and all("Sync-Update-Offer" not in r.headers for r in pulls)
    # No explicit answer on the pull: the check confirms the withdrawal, a second one reports it.
    assert _update_requests(client, seen) == ["/api/v1/update/check"] * 2
    assert staged_ready(data) is None and load_state(data).state == "current"
    seen = len(client.responses)
    client.engine.sync()  # nothing staged, nothing offered: no request (as in 1.18-1.20)
    assert _update_requests(client, seen) == []


def test_a_rolled_back_pc_reports_its_tries_and_kept_version_as_fields(
    make_client: ClientFactory, server: UpdateServer
) -> None:
    client, _school = enrolled(make_client, server, "pc-rolled-back")
    data = client.ctx.store.data_dir
    running = app_version()
    # What install.py leaves after a new version's failed first starts (the last one blocks it).
    state = load_state(data)
    state.state, state.target_version, state.failures = "rolled_back", "72.0", 1
    state.error = f"72.0 failed its first start (exit code 1); {running} kept; try 1 of 3"
    start_failed(state, "72.0", now=dt.datetime.now(dt.UTC))
    save_state(data, state)
    client.engine.sync()
    reported = server.device_update(device_id(client))
    assert reported is not None and reported.state == "rolled_back"
    assert reported.report_fields == {
        "tries": 1,
        "max_tries": MAX_START_TRIES,
        "kept_version": running,
    }

    now = dt.datetime.now(dt.UTC)
    state = load_state(data)
    for _ in range(MAX_START_TRIES - 1):
        start_failed(state, "72.0", now=now)
    state.error = "启动失败"  # whatever the line says, the fields carry the facts
    save_state(data, state)
    client.engine.sync()
    reported = server.device_update(device_id(client))
    assert reported is not None and reported.report_fields is not None
    fields = reported.report_fields
    assert (fields["tries"], fields["kept_version"]) == (MAX_START_TRIES, running)
    until = dt.datetime.fromisoformat(fields["blocked_until"])
    assert abs(until - (now + dt.timedelta(days=7))) < dt.timedelta(seconds=5)
