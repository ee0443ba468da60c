"""What the client does with what it is offered (issue 16; tester's findings #1, #4, #23 of
/work/notes/update-trial.md), against the real server on loopback with its TUF repository, the real sync
engine and python-tuf's ngclient:

- a verified release without the program at its top (packed one folder too deep) is refused at staging with
  a reason the bureau can act on, reported, and not downloaded again at the next syncs;
- a block is lifted after BLOCK_DAYS, and the version offered again is fetched;
- the update report counts as taken only by a server that reads it (protocol 1.18 or later).

A release that an older server accepted is made here by re-signing the targets metadata with the bureau's
targets key (as `publish-client` did before it checked bundles).
"""

from __future__ import annotations

import datetime as dt
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tuf.api.metadata import Metadata, TargetFile  # type: ignore[attr-defined]

from client.sync.errors import SyncError
from client.update.retry import BLOCK_DAYS, MAX_START_TRIES
from client.update.state import load_state, save_state, updates_dir
from sync_server.state import get_state
from sync_server.updates_repo import load_signer
from tests.support.releases import UpdateServer, launcher, live_update_server, served_as_1_17
from tests.support.releases import device_id as _device_id
from tests.support.releases import enrolled as _enrolled
from tests.sync.conftest import ClientFactory


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpdateServer]:
    """A live server of this module's own."""
    yield from live_update_server(tmp_path_factory)


def too_deep(folder: Path, out: Path) -> Path:
    """`tar czf out school-client`: the program one folder down, as anyone packs an archive by hand."""
    with tarfile.open(out, "w:gz") as tar:
        tar.add(folder, arcname="school-client")
    return out


def publish_as_an_older_server_did(
    server: UpdateServer, tmp_path: Path, version: str, school: str, archive: Path
) -> None:
    """`archive` signed as release `version` for `school` (the server's check at publishing bypassed)."""
    server.publish(launcher(tmp_path / f"good-{version}", version), version, school)
    repo = server.instance / "updates"
    name = f"linux/school-client-{version}.tar.gz"
    (repo / "targets" / name).write_bytes(archive.read_bytes())
    md: Metadata[Any] = Metadata.from_file(str(repo / "metadata" / "targets.json"))
    custom = md.signed.targets[name].unrecognized_fields["custom"]
    target = TargetFile.from_file(name, str(repo / "targets" / name), ["sha256"])
    target.unrecognized_fields["custom"] = custom
    md.signed.targets[name] = target
    md.signed.version += 1
    md.signatures.clear()
    md.sign(load_signer(server.keys, "targets"))
    md.to_file(str(repo / "metadata" / "targets.json"))
    server.cli("refresh-update-metadata", "--keys", str(server.keys))


def blocked_here(data: Path, version: str, ago: dt.timedelta) -> None:
    """`version` failed its first start here MAX_START_TRIES times (rolled back) and was blocked `ago`."""
    state = load_state(data)
    state.state, state.target_version, state.blocked = "rolled_back", version, [version]
    blocked_at = (dt.datetime.now(dt.UTC) - ago).isoformat()
    state.start_failures = {version: {"tries": MAX_START_TRIES, "blocked_at": blocked_at}}
    save_state(data, state)


def downloads(client: Any, since: int = 0) -> list[Any]:
    return [r for r in client.responses[since:] if "/targets/" in r.request.path_url]


def test_a_release_packed_one_folder_too_deep_is_refused_once_and_not_downloaded_again(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    client, school = _enrolled(make_client, server, "pc-deep")
    data = client.ctx.store.data_dir
    archive = too_deep(launcher(tmp_path / "v41", "41.0"), tmp_path / "school-client-41.0.tar.gz")
    publish_as_an_older_server_did(server, tmp_path, "41.0", school, archive)

    client.engine.sync()

    assert len(downloads(client)) == 1
    state = load_state(data)
    assert (state.state, state.target_version, state.failures) == ("failed", "41.0", 1)
    error = state.error or ""
    assert "最上层没有 school-client" in error and "school-client/school-client" in error
    assert "one folder too deep" in error
    assert not (updates_dir(data) / "staged").exists()
    assert not list((updates_dir(data) / "download").glob("*"))  # nothing kept of it
    reported = server.device_update(_device_id(client))
    assert reported is not None and (reported.state, reported.target_version) == ("failed", "41.0")
    assert "最上层没有 school-client" in (reported.last_error or "")

    seen = len(client.responses)
    client.engine.sync()  # offered again: the same bytes are not downloaded again
    client.engine.sync()
    assert downloads(client, seen) == []
    state = load_state(data)
    assert (state.state, state.failures) == ("failed", 1) and state.error == error


def test_a_blocked_version_is_fetched_again_once_its_block_has_expired(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    client, school = _enrolled(make_client, server, "pc-blocked")
    data = client.ctx.store.data_dir
    server.publish(launcher(tmp_path / "v42", "42.0"), "42.0", school)
    blocked_here(data, "42.0", dt.timedelta(days=1))

    client.engine.sync()  # blocked a day ago: not fetched
    assert downloads(client) == [] and load_state(data).state == "rolled_back"

    state = load_state(data)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=BLOCK_DAYS, hours=1)
    state.start_failures["42.0"]["blocked_at"] = old.isoformat()
    save_state(data, state)
    client.engine.sync()  # the block's days are over: fetched, staged, one more try
    state = load_state(data)
    assert (state.state, state.target_version, state.blocked) == ("staged", "42.0", [])
    assert state.start_failures["42.0"]["tries"] == MAX_START_TRIES - 1
    assert len(downloads(client)) == 1


def test_the_report_counts_as_taken_only_by_a_server_that_reads_it(
    make_client: ClientFactory, server: UpdateServer
) -> None:
    """#23: an older (1.17) server ignores the report; once the bureau upgrades it, the next pull carries
    the report again (not a day later)."""

    with served_as_1_17(server.app) as old_url:
        _school, code = server.new_school()
        client = make_client("pc-upgraded-server")
        client.engine.enroll(old_url, code)
        client.engine.sync()
    data = client.ctx.store.data_dir
    assert load_state(data).reported_at is None  # not taken: nobody read it

    from client.store import sync_state as S
    from client.store.prefs import set_setting

    with client.Session.begin() as s:  # the bureau upgraded: the same server, now 1.18
        set_setting(s, S.K_SERVER_URL, server.url)
    seen = len(client.responses)
    client.engine.sync()
    pulls = [r for r in client.responses[seen:] if r.request.path_url.startswith("/api/v1/pull")]
    assert pulls and "Sync-Update-Report" in pulls[0].request.headers
    assert load_state(data).reported_at is not None
    reported = server.device_update(_device_id(client))
    assert reported is not None and reported.state == "current"


def _refused_as_too_old(client: Any, server: UpdateServer, minimum: str) -> SyncError:
    config = get_state(server.app).config
    config["MIN_CLIENT_VERSION"] = minimum
    try:
        with pytest.raises(SyncError) as caught:
            client.engine.sync()
    finally:
        del config["MIN_CLIENT_VERSION"]
    from client.store import sync_state as S

    with client.Session() as s:  # the status bar shows the same words
        problem = S.sync_status(s).last_problem
    assert problem is not None and problem["message_zh"] == caught.value.message_zh
    return caught.value


def test_the_too_old_message_names_the_release_this_pc_installs(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    """#25: the server's 426 names the release offered to all schools (43.0); this PC's school pilots
    44.0, which is what it fetched: the clerk is told 44.0 installs at the next start."""
    client, school = _enrolled(make_client, server, "pc-too-old")
    other, _ = server.new_school()
    server.publish(launcher(tmp_path / "v43", "43.0"), "43.0", other)
    server.publish(launcher(tmp_path / "v44", "44.0"), "44.0", school)
    server.cli("rollout", "43.0", "--all")
    try:
        err = _refused_as_too_old(client, server, "43.0")
    finally:
        server.cli("rollout", "43.0", "--pause")
    assert (err.status, err.code) == (426, "client_too_old")
    assert err.details["update"]["version"] == "43.0"  # what the server named
    state = load_state(client.ctx.store.data_dir)
    assert (state.state, state.target_version) == ("staged", "44.0")
    assert err.message_zh.startswith("程序版本过旧，需要更新：本机是 ")
    assert "新版本 44.0 已下载，下次启动时安装。本机保存的数据不会丢失。" in err.message_zh
    assert "43.0 已可更新" not in err.message_zh
    assert "Version 44.0 has been downloaded; it installs at the next start." in err.message_en


def test_the_too_old_message_never_promises_a_version_this_pc_has_blocked(
    make_client: ClientFactory, server: UpdateServer, tmp_path: Path
) -> None:
    """#1/#25: 46.0 is offered to all, but failed to start here three times (blocked): not 已可更新."""
    client, school = _enrolled(make_client, server, "pc-blocked-old")
    data = client.ctx.store.data_dir
    server.publish(launcher(tmp_path / "v46", "46.0"), "46.0", school)
    blocked_here(data, "46.0", dt.timedelta(0))
    server.cli("rollout", "46.0", "--all")
    try:
        err = _refused_as_too_old(client, server, "46.0")
    finally:
        server.cli("rollout", "46.0", "--pause")
    assert err.details["update"]["version"] == "46.0"
    assert "已可更新" not in err.message_zh and "下次启动时安装" not in err.message_zh
    assert (
        f"新版本 46.0 在本机启动失败过，暂时不再安装（{BLOCK_DAYS} 天后再试一次）" in err.message_zh
    )
    assert "failed to start on this computer" in err.message_en
    assert downloads(client) == []
