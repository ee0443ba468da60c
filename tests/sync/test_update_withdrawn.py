"""A release withdrawn after PCs downloaded it (issue 16, retest #19 "partly fixed"): paused on the server,
or this PC's school taken out of the pilot. A PC that hears so from the server - a pull's answer from a 1.18
server that names no offer for the staged version, confirmed by the update check's explicit `offer` (1.21:
the pull's `Sync-Update-Offer: none` is explicit already, tests/sync/test_update_offer_none.py) - drops
the staged release before it installs; its state and report say so. A `sync` command start asks the server
before it installs (the command talks to the server anyway); a start that hears nothing (offline) installs
what it has. Real server on loopback, real sync engine, real program folders (tests/support/releases.py's
launcher) run as processes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.update.state import load_state, staged_ready, updates_dir
from tests.support.releases import UpdateServer, launcher, live_update_server
from tests.support.releases import device_id as _device_id
from tests.support.releases import enrolled as _enrolled
from tests.support.releases import run_program as _run
from tests.sync.conftest import ClientFactory


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpdateServer]:
    yield from live_update_server(tmp_path_factory)


def checks(client: object, since: int = 0) -> list[object]:
    return [r for r in client.responses[since:] if r.request.path_url == "/api/v1/update/check"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("how", ["pause", "out of the pilot"])
def test_a_staged_release_the_server_no_longer_offers_is_dropped_at_the_next_sync(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path, how: str
) -> None:
    version = "90.0" if how == "pause" else "91.0"
    client, school = _enrolled(make_client, server, f"pc-withdrawn-{version}")
    data = client.ctx.store.data_dir
    server.publish(launcher(tmp_path / "v", version), version, school)
    client.engine.sync()
    assert load_state(data).state == "staged" and staged_ready(data) is not None

    client.engine.sync()  # still offered: kept, nothing more asked
    assert staged_ready(data) is not None

    if how == "pause":
        server.cli("rollout", version, "--pause")
    else:
        other, _ = server.new_school()
        server.cli("rollout", version, "--schools", other)
        server.cli("rollout", version, "--remove-schools", school)
    seen = len(client.responses)
    client.engine.sync()

    # The pull's answer said "no offer" (1.21: Sync-Update-Offer: none): dropped with no request of its own.
    assert checks(client, seen) == []
    assert staged_ready(data) is None and not (updates_dir(data) / "staged").exists()
    state = load_state(data)
    assert state.state == "current" and state.target_version == version
    assert state.failures == 0
    error = state.error or ""
    assert f"{version} withdrawn" in error and "not installed" in error
    client.engine.sync()  # the next pull reports it
    reported = server.device_update(_device_id(client))
    assert reported is not None
    assert (reported.state, reported.target_version) == ("current", version)
    assert "withdrawn" in (reported.last_error or "")
    assert reported.report_fields == {"withdrawn": True}  # 1.21: a field, not only the line

    seen = len(client.responses)
    client.engine.sync()  # nothing staged, nothing offered: no check any more
    assert checks(client, seen) == []


def test_a_sync_command_asks_before_it_installs_and_an_offline_start_installs_what_it_has(
    make_client: ClientFactory,
    server: UpdateServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tester's steps: staged at one `sync`, paused, the next `sync` installed it at its start."""
    from client.update.hook import confirm_before_install

    client, school = _enrolled(make_client, server, "pc-withdrawn-cmd")
    data = client.ctx.store.data_dir
    server.publish(launcher(tmp_path / "v92", "92.0"), "92.0", school)
    server.publish(launcher(tmp_path / "v93", "93.0"), "93.0", school)
    server.cli("rollout", "93.0", "--pause")
    client.engine.sync()  # 92.0 staged
    assert load_state(data).target_version == "92.0" and staged_ready(data) is not None
    client.ctx.close()
    install = launcher(tmp_path / "Program" / "school-client", "1.0.0")
    root = server.instance / "updates" / "metadata"
    (install / "update-root.json").write_bytes((root / "1.root.json").read_bytes())

    server.cli("rollout", "92.0", "--pause")
    done = _run(install, data, "sync")
    assert done.returncode == 0, done.stderr
    assert _run(install, data, "--version").stdout.strip() == "school-client 1.0.0"
    assert staged_ready(data) is None
    state = load_state(data)
    assert (state.state, state.target_version) == ("current", "92.0")
    assert "92.0 withdrawn" in (state.error or "")

    # 93.0 offered and staged; then the server cannot be reached when `sync` starts: installed as it was.
    server.cli("rollout", "93.0", "--schools", school)
    assert _run(install, data, "sync").returncode == 0
    assert (staged_ready(data) or {}).get("version") == "93.0"
    server.cli("rollout", "93.0", "--pause")
    monkeypatch.setenv("SCHOOL_CLIENT_INSTALL_DIR", str(install))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: no answer at all
    monkeypatch.setenv("NO_PROXY", "")
    started = time.monotonic()
    confirm_before_install(data, running="1.0.0")
    assert time.monotonic() - started < 15
    assert (staged_ready(data) or {}).get(
        "version"
    ) == "93.0"  # heard nothing: installs what it has
    assert load_state(data).state == "staged"
