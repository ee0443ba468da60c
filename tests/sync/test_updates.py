"""Client updates and version skew (issue 16, protocol revision 1.18), with real parts: the real server on
loopback (its own, with an update repository signed by `sync-server publish-client`), the real sync engine,
python-tuf's ngclient verifying what it downloads, and for installation two (three) built program folders of
the real app launcher run as processes (`school-client sync`), swapped and rolled back on disk.

Each test takes its own school and its own versions (a pilot release for that school), so the tests share
one server without seeing each other's releases.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from client.sync.errors import SyncError
from client.update.retry import MAX_START_TRIES
from client.update.state import load_state, staged_ready, updates_dir
from sync_server import models as M
from sync_server.cli import main as server_cli
from sync_server.state import get_state
from tests.support.releases import (
    UpdateServer,
    launcher,
    live_update_server,
    served_as_1_17,
)
from tests.support.releases import device_id as _device_id
from tests.support.releases import enrolled as _enrolled
from tests.support.releases import run_program as _run
from tests.support.samples import inspection
from tests.sync.conftest import SERVER_NOW, ClientFactory

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the status bar of the first test


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpdateServer]:
    yield from live_update_server(tmp_path_factory)


def _token(client: Any) -> str:
    from client.store import sync_state as S

    with client.Session() as s:
        enrollment = S.get_enrollment(s)
    assert enrollment is not None
    return enrollment.device_token


def _device_id_of(data: Path) -> str:
    """The device id of the store in `data` (closed by its user: opened here for a moment)."""
    from client.context import ClientContext
    from client.store import sync_state as S

    ctx = ClientContext.open(data)
    try:
        with ctx.store.Session() as s:
            enrollment = S.get_enrollment(s)
    finally:
        ctx.close()
    assert enrollment is not None
    return enrollment.device_id


# -- version skew -----------------------------------------------------------------------------------


def test_a_client_older_than_the_server_accepts_is_told_to_update_and_offered_it(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path, qtbot: Any
) -> None:
    client, school = _enrolled(make_client, server, "old-pc")
    server.publish(launcher(tmp_path / "v99", "99.1"), "99.1", school)
    record = client.save(inspection())
    config = get_state(server.app).config
    config["MIN_CLIENT_VERSION"] = "99.0"  # the real client (0.x, in its User-Agent) is now too old
    try:
        with pytest.raises(SyncError) as caught:
            client.engine.sync()
    finally:
        del config["MIN_CLIENT_VERSION"]
    err = caught.value
    assert (err.status, err.code) == (426, "client_too_old")
    assert err.message_zh.startswith("程序版本过旧，需要更新") and "99.0" in err.message_zh
    assert "too old" in err.message_en
    assert err.details["min_client_version"] == "99.0" and err.details["protocol"] == "1.21"
    # Shown plainly: the status bar shows the stored last problem; the record waits, nothing is lost.
    from client.store import sync_state as S

    with client.Session() as s:
        problem = S.sync_status(s).last_problem
    assert problem is not None and problem["message_zh"] == err.message_zh
    from client.ui.status_bar import StatusBar

    bar = StatusBar()
    qtbot.addWidget(bar)
    with client.Session() as s:
        bar.set_sync_status(S.sync_status(s), now=client.ctx.clock.now(), auto_retry=True)
    assert "服务器拒绝了同步" in bar.sync_label.text()  # a click (or the tooltip) says why, in full
    assert err.message_zh in bar.sync_label.toolTip()
    assert client.unsent() == 1 and server.school_records(school) == []
    # Offered the update: it was downloaded, verified with TUF and staged during that refused sync.
    state = load_state(client.ctx.store.data_dir)
    assert (state.state, state.target_version, state.error) == ("staged", "99.1", None)
    staged = updates_dir(client.ctx.store.data_dir) / "staged" / "99.1"
    assert (staged / "school-client").is_file()
    assert (staged / "school_data-99.1.dist-info" / "METADATA").is_file()
    reported = server.device_update(_device_id(client))
    assert reported is not None and reported.state == "staged" and reported.target_version == "99.1"
    # Once the server accepts it again (or after the update), the record goes.
    assert client.engine.sync().complete and [r.id for r in server.school_records(school)] == [
        record
    ]


def test_a_newer_client_syncs_with_an_older_server_as_before(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    """An older (1.17) server: no Sync-Protocol header and its own 404 for the update routes it lacks."""

    with served_as_1_17(server.app) as old_url:
        school, code = server.new_school()
        client = make_client("new-pc")
        client.engine.enroll(old_url, code)
        client.save(inspection())
        result = client.engine.sync()
    assert result.complete and result.pushed == 1 and len(server.school_records(school)) == 1
    # The report rode on the pull (an older server ignores the header) and no offer came back: the
    # client made no request of its own for updates.
    checks = [r for r in client.responses if r.request.path_url == "/api/v1/update/check"]
    assert checks == []
    pulls = [r for r in client.responses if r.request.path_url.startswith("/api/v1/pull")]
    assert pulls and "Sync-Update-Report" in pulls[0].request.headers
    assert all("Sync-Update-Offer" not in r.headers for r in pulls)
    assert all("Sync-Protocol" not in r.headers for r in client.responses)
    state = load_state(client.ctx.store.data_dir)
    assert (state.state, state.error, state.failures) == ("current", None, 0)


def test_a_sync_with_nothing_offered_makes_no_update_request_and_reports_on_its_pull(
    make_client: ClientFactory, server: UpdateServer
) -> None:
    client, _school = _enrolled(make_client, server, "quiet-pc")
    client.save(inspection())
    assert client.engine.sync().complete
    assert not [r for r in client.responses if "/update/" in r.request.path_url]
    reported = server.device_update(_device_id(client))
    assert reported is not None and (reported.state, reported.platform) == ("current", "linux")
    seen = len(client.responses)
    client.save(inspection(inspectors="王五"))
    assert client.engine.sync().complete
    pulls = [r for r in client.responses[seen:] if r.request.path_url.startswith("/api/v1/pull")]
    # The server took today's report already: the next sync's pull does not carry it again.
    assert pulls and all("Sync-Update-Report" not in r.request.headers for r in pulls)
    assert not [r for r in client.responses[seen:] if "/update/" in r.request.path_url]


def test_every_answer_states_the_protocol_and_the_oldest_client(
    make_client: ClientFactory, server: UpdateServer
) -> None:
    client, _school = _enrolled(make_client, server, "pc")
    config = get_state(server.app).config
    config["MIN_CLIENT_VERSION"] = "0.0.1"
    try:
        client.engine.sync()
    finally:
        del config["MIN_CLIENT_VERSION"]
    pulls = [r for r in client.responses if r.request.path_url.startswith("/api/v1/pull")]
    assert pulls and all(r.headers["Sync-Protocol"] == "1.21" for r in pulls)
    assert all(r.headers["Sync-Min-Client-Version"] == "0.0.1" for r in pulls)


# -- the signed channel -----------------------------------------------------------------------------


def test_a_tampered_archive_or_metadata_is_refused_and_nothing_is_staged(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    client, school = _enrolled(make_client, server, "pc-t")
    server.publish(launcher(tmp_path / "v50", "50.0"), "50.0", school)
    target = server.instance / "updates" / "targets" / "linux" / "school-client-50.0.tar.gz"
    good = target.read_bytes()
    good_sha256 = hashlib.sha256(good).hexdigest()
    target.write_bytes(good[:-8] + bytes(8))  # same length, other bytes: a changed archive
    client.engine.sync()
    data = client.ctx.store.data_dir
    state = load_state(data)
    assert state.state == "failed" and "LengthOrHashMismatch" in (state.error or "")
    assert not (updates_dir(data) / "staged").exists()
    reported = server.device_update(_device_id(client))
    assert reported is not None and reported.failures == 1 and reported.state == "failed"
    target.write_bytes(good)  # the genuine archive again: downloaded afresh and taken
    client.engine.sync()
    assert load_state(data).state == "staged"
    # The metadata changed by hand (a hash replaced, not signed by the targets key): refused too.
    server.publish(launcher(tmp_path / "v51", "51.0"), "51.0", school)
    targets_json = server.instance / "updates" / "metadata" / "targets.json"
    signed = targets_json.read_text(encoding="utf-8")
    try:
        doctored = json.loads(signed)
        entry = doctored["signed"]["targets"]["linux/school-client-51.0.tar.gz"]
        entry["hashes"]["sha256"] = "0" * 64
        doctored["signed"]["version"] += 1
        targets_json.write_text(json.dumps(doctored), encoding="utf-8")
        # snapshot names it (signed directly: refresh-update-metadata refuses what a PC would refuse)
        from sync_server.updates_repo import ONLINE_ROLES, Repository

        repo = Repository(server.instance / "updates")
        repo._resign_online(repo.signers(server.keys, ONLINE_ROLES), now=SERVER_NOW)
        client.engine.sync()
        state = load_state(data)
        assert state.state == "failed" and state.failures == 2
        assert "signature" in (state.error or "").lower() or "Unsigned" in (state.error or "")
        # 50.0 staged is superseded by the 51.0 offered (dropped, not installed: test_update_withdrawn.py).
        assert staged_ready(data) is None and good_sha256
    finally:
        targets_json.write_text(signed, encoding="utf-8")


def test_a_download_goes_on_at_the_next_sync_where_it_stopped(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path, monkeypatch: Any
) -> None:
    from client.update import channel

    client, school = _enrolled(make_client, server, "pc-r")
    folder = launcher(tmp_path / "v60", "60.0")
    (folder / "payload.bin").write_bytes(os.urandom(600_000))  # incompressible: several chunks
    server.publish(folder, "60.0", school)
    archive = server.instance / "updates" / "targets" / "linux" / "school-client-60.0.tar.gz"
    data = client.ctx.store.data_dir
    part = updates_dir(data) / "download" / archive.name
    monkeypatch.setattr(
        channel, "DOWNLOAD_SECONDS", 0.0
    )  # a slow link: this sync's share is used up
    assert client.engine.sync().complete  # the sync itself is not held up
    have = part.stat().st_size
    assert 0 < have < archive.stat().st_size
    assert part.read_bytes() == archive.read_bytes()[:have]
    assert load_state(data).state == "downloading"
    monkeypatch.undo()
    client.engine.sync()
    downloads = [r for r in client.responses if "/targets/" in r.request.path_url]
    assert [r.status_code for r in downloads] == [200, 206]
    assert downloads[1].request.headers["Range"] == f"bytes={have}-"
    assert load_state(data).state == "staged"
    staged = updates_dir(data) / "staged" / "60.0" / "payload.bin"
    assert staged.read_bytes() == (folder / "payload.bin").read_bytes()


def test_a_client_follows_a_rotated_targets_key_through_the_new_root(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    client, school = _enrolled(make_client, server, "pc-k")
    data = client.ctx.store.data_dir
    server.publish(launcher(tmp_path / "v90", "90.0"), "90.0", school)
    client.engine.sync()
    assert load_state(data).state == "staged"
    trusted = json.loads((updates_dir(data) / "tuf" / "root.json").read_text(encoding="utf-8"))
    new = tmp_path / "new-keys"
    assert server_cli(["make-update-keys", "--out", str(new)]) == 0
    server.cli("rotate-update-key", "targets", "--keys", str(server.keys), "--new-keys", str(new))
    shutil.copyfile(new / "targets.key", server.keys / "targets.key")  # the old one is destroyed
    server.publish(launcher(tmp_path / "v91", "91.0"), "91.0", school)
    client.engine.sync()
    state = load_state(data)
    assert (state.state, state.target_version, state.error) == ("staged", "91.0", None)
    now = json.loads((updates_dir(data) / "tuf" / "root.json").read_text(encoding="utf-8"))
    assert now["signed"]["version"] == trusted["signed"]["version"] + 1
    assert now["signed"]["roles"]["targets"] != trusted["signed"]["roles"]["targets"]


def test_a_release_goes_to_pilot_schools_then_all_and_can_be_paused(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    pilot, pilot_school = _enrolled(make_client, server, "pilot-pc")
    other, _ = _enrolled(make_client, server, "other-pc")
    server.publish(launcher(tmp_path / "v70", "70.0"), "70.0", pilot_school)
    server.cli("rollout", "70.0", "--pause")
    offers: dict[str, list[Any]] = {"pilot": [], "other": []}
    tokens = {"pilot": _token(pilot), "other": _token(other)}

    def offered() -> None:
        for name, token in tokens.items():
            r = requests.post(
                f"{server.url}/api/v1/update/check",
                json={"app_version": "1.0", "platform": "linux", "state": "current"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert r.status_code == 200, r.text
            offer = r.json()["offer"]
            offers[name].append(offer and offer["version"])

    offered()  # paused: nobody
    server.cli("rollout", "70.0", "--schools", pilot_school)
    offered()  # the pilot school only
    server.cli("rollout", "70.0", "--pause")
    offered()  # paused again (the pilot PC has it staged already; the other never got it)
    server.cli("rollout", "70.0", "--all")
    try:
        offered()
    finally:
        server.cli("rollout", "70.0", "--pause")  # the other tests' PCs are not offered it
    assert offers == {"pilot": [None, "70.0", None, "70.0"], "other": [None, None, None, "70.0"]}
    reported = server.device_update(_device_id(other))
    assert reported is not None and (reported.app_version, reported.state) == ("1.0", "current")


# -- installing at the next start, rolling back ----------------------------------------------------


@pytest.mark.slow  # nine starts of the program (~50 s on a loaded machine): .ci/run's slow step
@pytest.mark.timeout(600)
def test_v1_installs_v2_at_the_next_start_and_a_v3_that_fails_to_start_is_rolled_back(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    client, school = _enrolled(make_client, server, "pc-i")
    data = client.ctx.store.data_dir
    client.ctx.close()
    install = launcher(tmp_path / "Program" / "school-client", "1.0.0")
    root = server.instance / "updates" / "metadata"
    server.publish(launcher(tmp_path / "v2", "2.0.0"), "2.0.0", school)
    (install / "update-root.json").write_bytes((root / "1.root.json").read_bytes())  # shipped
    ini = f"[server]\nurl = {server.url}\n"  # a preconfigured install
    (install / "school-client.ini").write_text(ini, encoding="utf-8")

    first = _run(install, data, "sync")  # v1 syncs; the update is fetched, verified, staged
    assert first.returncode == 0, first.stderr
    assert load_state(data).state == "staged"
    second = _run(install, data, "sync")  # the next start: v2 put in place, started, kept
    assert second.returncode == 0, second.stderr
    assert _run(install, data, "--version").stdout.strip() == "school-client 2.0.0"
    assert (install.with_name("school-client.previous") / "school_data-1.0.0.dist-info").is_dir()
    assert (install / "update-root.json").is_file()  # kept beside the program
    assert (install / "school-client.ini").read_text(encoding="utf-8") == ini
    state = load_state(data)
    assert (state.state, state.target_version) == ("installed", "2.0.0")
    # What v2's own first sync reported (not "staged": the state said installed once v2 came up).
    reported = server.device_update(_device_id_of(data))
    assert reported is not None
    assert (reported.app_version, reported.state, reported.target_version) == (
        "2.0.0",
        "installed",
        "2.0.0",
    )

    server.publish(launcher(tmp_path / "v3", "3.0.0", broken=True), "3.0.0", school)
    assert _run(install, data, "sync").returncode == 0  # v2 stages v3
    third = _run(install, data, "sync")  # v3 fails its first start: v2 goes on
    assert third.returncode == 0, third.stderr
    assert "error while loading shared libraries" in third.stderr
    assert _run(install, data, "--version").stdout.strip() == "school-client 2.0.0"
    state = load_state(data)
    assert (state.state, state.target_version, state.blocked) == ("rolled_back", "3.0.0", [])
    assert state.failures == 1 and "3.0.0 failed its first start" in (state.error or "")
    assert not install.with_name("school-client.failed").exists()  # kept in staged/ for another try
    for _ in range(MAX_START_TRIES - 1):  # tried at the next starts, then not taken again
        again = _run(install, data, "sync")
        assert again.returncode == 0 and "error while loading shared libraries" in again.stderr
    state = load_state(data)
    assert (state.blocked, state.failures) == (["3.0.0"], MAX_START_TRIES)
    fourth = _run(install, data, "sync")  # v3 is not taken again; the failure reaches the bureau
    assert fourth.returncode == 0 and not (updates_dir(data) / "staged").exists()
    assert "error while loading shared libraries" not in fourth.stderr
    assert _run(install, data, "--version").stdout.strip() == "school-client 2.0.0"
    with server.session() as s:
        rows = s.execute(select(M.DeviceUpdate)).scalars().all()
    mine = [r for r in rows if r.app_version == "2.0.0" and r.target_version == "3.0.0"]
    assert mine and mine[0].state == "rolled_back" and mine[0].failures == MAX_START_TRIES


def test_the_dashboard_shows_each_devices_version_state_and_failures(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    from tests.server.dashboard_seed import logged_in

    client, school = _enrolled(make_client, server, "教务处电脑")
    server.publish(launcher(tmp_path / "v80", "80.0"), "80.0", school)
    r = requests.post(
        f"{server.url}/api/v1/update/check",
        json={
            "app_version": "1.0",
            "platform": "linux",
            "state": "rolled_back",
            "target_version": "79.0",
            "failures": 2,
            "error": "79.0 failed its first start (exit code 127); 1.0 kept <script>",
        },
        headers={"Authorization": f"Bearer {_token(client)}"},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["offer"]["version"] == "80.0"
    viewer = logged_in(server.app, "viewer-u16", "viewer")
    page = viewer.get("/updates")
    assert page.status_code == 200
    text = page.text
    row = text[text.index(f'data-device="{_device_id(client)}"') :].split("</tr>")[0]
    assert (
        "教务处电脑" in row and "新版本 79.0 启动失败，仍在用 1.0" in row  # failed, kept
    )
    assert ">2<" in row and "&lt;script&gt;" in row and "<script>" not in row
    assert 'data-version="80.0" data-stage="pilot"' in text and school in text
    refused = viewer.post(
        "/updates/80.0/stage",
        data={"stage": "all", "csrf_token": viewer.csrf},  # type: ignore[attr-defined]
    )
    assert refused.status_code == 403
    admin = logged_in(server.app, "admin-u16", "admin")
    done = admin.post(
        "/updates/80.0/stage",
        data={"stage": "paused", "csrf_token": admin.csrf},  # type: ignore[attr-defined]
    )
    assert done.status_code == 302
    assert 'data-version="80.0" data-stage="paused"' in admin.get("/updates").text
    with server.session() as s:
        entry = s.execute(
            select(M.AuditEntry).where(
                M.AuditEntry.action == "client.rollout", M.AuditEntry.object_id == "80.0"
            )
        ).scalar_one()  # (the CLI's rollouts of the other tests are audited too)
    assert entry.object_id == "80.0"
