"""`school-client sync` says one line about updates when there is something to say (issue 16 retest N9):
a release downloaded (and when it installs), one refused and why, one blocked here; nothing otherwise. The
real command (client.cli.main) against the real server on loopback with its TUF repository.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.cli import main
from client.update.retry import MAX_START_TRIES
from client.update.state import load_state, save_state
from tests.support.releases import UpdateServer, launcher, live_update_server
from tests.support.releases import enrolled as _enrolled
from tests.sync.conftest import ClientFactory


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpdateServer]:
    yield from live_update_server(tmp_path_factory)


def sync(data: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["sync", "--data-dir", str(data)])
    out = capsys.readouterr()
    return code, [line for line in (out.out + out.err).splitlines() if line.startswith("更新")]


def test_the_sync_command_says_what_came_of_an_update(
    make_client: ClientFactory,
    server: UpdateServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCHOOL_CLIENT_UPDATE_MODE", "swap")
    client, school = _enrolled(make_client, server, "pc-line")
    data = client.ctx.store.data_dir
    client.ctx.close()

    assert sync(data, capsys) == (0, [])  # nothing offered: nothing said

    server.publish(launcher(tmp_path / "v60", "60.0"), "60.0", school)
    target = server.instance / "updates" / "targets" / "linux" / "school-client-60.0.tar.gz"
    genuine = target.read_bytes()
    target.write_bytes(genuine[:-8] + bytes(8))  # changed on the server
    code, lines = sync(data, capsys)
    assert code == 0 and len(lines) == 1, lines
    assert lines[0].startswith("更新：新版本 60.0 没能下载或通过核对")
    assert "LengthOrHashMismatch" in lines[0] and "update: version 60.0 could not be" in lines[0]

    target.write_bytes(genuine)
    code, lines = sync(data, capsys)
    assert (code, lines) == (
        0,
        [
            "更新：新版本 60.0 已下载并通过核对，下次启动时安装 / update: version 60.0 has been "
            "downloaded and verified; it installs at the next start"
        ],
    )
    monkeypatch.setenv("SCHOOL_CLIENT_UPDATE_MODE", "runner")  # commands do not install there
    code, lines = sync(data, capsys)
    assert (
        code == 0 and "下次打开程序窗口时安装" in lines[0] and "window is next opened" in lines[0]
    )

    state = load_state(data)  # 60.0 failed its first starts here: blocked
    state.state, state.target_version, state.blocked = "rolled_back", "60.0", ["60.0"]
    blocked_at = dt.datetime.now(dt.UTC).isoformat()
    state.start_failures = {"60.0": {"tries": MAX_START_TRIES, "blocked_at": blocked_at}}
    save_state(data, state)
    code, lines = sync(data, capsys)
    assert code == 0 and len(lines) == 1
    assert (
        "新版本 60.0 在本机没能启动或安装，暂时不再安装" in lines[0]
        and "ask the bureau" in lines[0]
    )


def test_the_line_for_a_first_start_a_rollback_a_withdrawal_and_a_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from client.update.state import PENDING_FILE, READY_FILE, updates_dir, write_json
    from client.update.words import before, update_line

    monkeypatch.setenv("SCHOOL_CLIENT_UPDATE_MODE", "swap")
    data = tmp_path / "data"
    folder = updates_dir(data)
    write_json(folder / PENDING_FILE, {"version": "2.0", "from": "1.0"})
    was = before(data, "2.0")  # the new version's first start
    state = load_state(data)
    state.state, state.target_version = "installed", "2.0"
    save_state(data, state)
    (folder / PENDING_FILE).unlink()
    assert update_line(was, data, "2.0") == (
        "更新：已安装新版本 2.0",
        "update: version 2.0 installed",
        False,
    )
    assert update_line(before(data, "2.0"), data, "2.0") is None  # said once

    (folder / "staged" / "3.0").mkdir(parents=True)  # 3.0 failed its first start, waits for a try
    write_json(folder / "staged" / READY_FILE, {"version": "3.0"})
    state.state, state.target_version = "rolled_back", "3.0"
    state.start_failures = {"3.0": {"tries": 1}}
    save_state(data, state)
    zh, en, problem = update_line(before(data, "2.0"), data, "2.0") or ("", "", False)
    assert problem and "新版本 3.0 启动失败，已退回 2.0" in zh and "try 1 of 3" in en

    was = before(data, "2.0")
    from client.update.channel import withdraw

    withdraw(data, load_state(data), "3.0", None)  # paused on the server
    zh, en, problem = update_line(was, data, "2.0") or ("", "", True)
    assert not problem and "县教育局已撤回新版本 3.0" in zh and "withdrew version 3.0" in en
    assert update_line(before(data, "2.0"), data, "2.0") is None

    state = load_state(data)
    state.state, state.target_version = "downloading", "4.0"
    save_state(data, state)
    zh, en, problem = update_line(before(data, "2.0"), data, "2.0") or ("", "", True)
    assert "正在下载新版本 4.0" in zh and "being downloaded" in en
